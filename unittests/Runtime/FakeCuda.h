//===- FakeCuda.h - A stand-in CUDA driver for the runtime's tests -*- C++ -*-//
//
// libAttnFakeCuda.so exports the driver entry points the runtime resolves,
// so that CI, which has no GPU, runs the runtime's resource code (contexts,
// modules, kernels, memory, streams, events) and checks its error messages.
// It plays a driver with one device, "Fake GPU", of compute capability 8.0
// with an A100's limits, whose device memory is host memory:
//   - cuMemAlloc fails with CUDA_ERROR_OUT_OF_MEMORY above 1 GiB;
//   - cuModuleLoadData accepts an image that starts with "\177ELFsm_80"
//     (9 bytes or more) and answers any other with
//     CUDA_ERROR_NO_BINARY_FOR_GPU; the module has one kernel, "attn_fwd";
//   - cuEventElapsedTime reports 1.5 ms, or CUDA_ERROR_NOT_READY (600, a
//     code its cuGetErrorName does not know) unless both events were
//     recorded. Like drivers before CUDA 12.8 it exports no
//     cuEventElapsedTime_v2.
// fakeCudaState() shows what the fake saw and sets what cuInit returns;
// with $ATTN_FAKE_CUDA_LAUNCH_LOG set, each launch also appends a line
// "grid X Y Z block X Y Z shared BYTES" to that file (for tools run in a
// child process).
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_UNITTESTS_RUNTIME_FAKECUDA_H
#define ATTN_UNITTESTS_RUNTIME_FAKECUDA_H

struct FakeCudaState {
  int initResult = 0; ///< what cuInit returns
  int liveContexts = 0, liveModules = 0, liveAllocations = 0, liveStreams = 0,
      liveEvents = 0;
  /// CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES of "attn_fwd" and how
  /// often it was set.
  int dynamicSharedMemoryLimit = 48 * 1024, attributeCalls = 0;
  /// The last launch; its first argument read as a device pointer.
  int launches = 0;
  unsigned grid[3] = {}, block[3] = {}, sharedMemory = 0;
  unsigned long long firstArgument = 0;
  void *stream = nullptr;
};

extern "C" FakeCudaState *fakeCudaState();

#endif // ATTN_UNITTESTS_RUNTIME_FAKECUDA_H
