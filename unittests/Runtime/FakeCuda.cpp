//===- FakeCuda.cpp - A stand-in CUDA driver for the runtime's tests ------===//
//
// Signatures are the driver's (see runtime/lib/DriverApi.h) with handles as
// void * and CUresult as int, which the ABI passes identically.
//
//===----------------------------------------------------------------------===//

#include "FakeCuda.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

FakeCudaState state;

// CUresult values (cuda.h).
enum : int {
  kSuccess = 0,
  kInvalidValue = 1,
  kOutOfMemory = 2,
  kInvalidDevice = 101,
  kNoBinaryForGpu = 209,
  kNotFound = 500,
  kNotReady = 600,
};

const struct {
  int code;
  const char *name, *description;
} kErrors[] = {
    {kSuccess, "CUDA_SUCCESS", "no error"},
    {kInvalidValue, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {kOutOfMemory, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {100, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {kInvalidDevice, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {kNoBinaryForGpu, "CUDA_ERROR_NO_BINARY_FOR_GPU",
     "no kernel image is available for execution on the device"},
    {kNotFound, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
};

int describe(int code, const char **text, bool name) {
  for (const auto &error : kErrors)
    if (error.code == code) {
      *text = name ? error.name : error.description;
      return kSuccess;
    }
  return kInvalidValue;
}

constexpr size_t kMaxAllocation = size_t(1) << 30;
constexpr int kMaxSharedMemoryOptin = 166912;
int contextToken, kernelToken;
struct FakeEvent {
  bool recorded = false;
};

} // namespace

extern "C" {

FakeCudaState *fakeCudaState() { return &state; }

int cuInit(unsigned) { return state.initResult; }
int cuDriverGetVersion(int *version) {
  *version = 12080;
  return kSuccess;
}
int cuGetErrorName(int error, const char **name) {
  return describe(error, name, true);
}
int cuGetErrorString(int error, const char **description) {
  return describe(error, description, false);
}

int cuDeviceGetCount(int *count) {
  *count = 1;
  return kSuccess;
}
int cuDeviceGet(int *device, int ordinal) {
  if (ordinal != 0)
    return kInvalidDevice;
  *device = 0;
  return kSuccess;
}
int cuDeviceGetName(char *name, int length, int) {
  std::snprintf(name, size_t(length), "Fake GPU");
  return kSuccess;
}
int cuDeviceGetAttribute(int *value, int attribute, int) {
  switch (attribute) {
  case 8: // MAX_SHARED_MEMORY_PER_BLOCK
    *value = 48 * 1024;
    return kSuccess;
  case 16: // MULTIPROCESSOR_COUNT
    *value = 108;
    return kSuccess;
  case 75: // COMPUTE_CAPABILITY_MAJOR
    *value = 8;
    return kSuccess;
  case 76: // COMPUTE_CAPABILITY_MINOR
    *value = 0;
    return kSuccess;
  case 97: // MAX_SHARED_MEMORY_PER_BLOCK_OPTIN
    *value = kMaxSharedMemoryOptin;
    return kSuccess;
  }
  return kInvalidValue;
}
int cuDeviceTotalMem_v2(size_t *bytes, int) {
  *bytes = size_t(80) << 30;
  return kSuccess;
}

int cuDevicePrimaryCtxRetain(void **context, int) {
  *context = &contextToken;
  ++state.liveContexts;
  return kSuccess;
}
int cuDevicePrimaryCtxRelease_v2(int) {
  --state.liveContexts;
  return kSuccess;
}
int cuCtxSetCurrent(void *) { return kSuccess; }

int cuModuleLoadData(void **module, const void *image) {
  if (std::memcmp(image, "\177ELFsm_80", 9) != 0)
    return kNoBinaryForGpu;
  *module = new int;
  ++state.liveModules;
  return kSuccess;
}
int cuModuleUnload(void *module) {
  delete static_cast<int *>(module);
  --state.liveModules;
  return kSuccess;
}
int cuModuleGetFunction(void **function, void *, const char *name) {
  if (std::strcmp(name, "attn_fwd") != 0)
    return kNotFound;
  *function = &kernelToken;
  return kSuccess;
}
int cuFuncSetAttribute(void *, int attribute, int value) {
  ++state.attributeCalls;
  if (attribute != 8 || value > kMaxSharedMemoryOptin)
    return kInvalidValue;
  state.dynamicSharedMemoryLimit = value;
  return kSuccess;
}

int cuMemGetInfo_v2(size_t *free, size_t *total) {
  *free = size_t(512) << 20;
  *total = size_t(80) << 30;
  return kSuccess;
}
int cuMemAlloc_v2(unsigned long long *address, size_t bytes) {
  if (bytes > kMaxAllocation)
    return kOutOfMemory;
  *address = reinterpret_cast<uintptr_t>(std::malloc(bytes));
  ++state.liveAllocations;
  return kSuccess;
}
int cuMemFree_v2(unsigned long long address) {
  std::free(reinterpret_cast<void *>(address));
  --state.liveAllocations;
  return kSuccess;
}
int cuMemcpyHtoD_v2(unsigned long long destination, const void *source,
                    size_t bytes) {
  std::memcpy(reinterpret_cast<void *>(destination), source, bytes);
  return kSuccess;
}
int cuMemcpyDtoH_v2(void *destination, unsigned long long source,
                    size_t bytes) {
  std::memcpy(destination, reinterpret_cast<void *>(source), bytes);
  return kSuccess;
}
int cuMemcpyHtoDAsync_v2(unsigned long long destination, const void *source,
                         size_t bytes, void *) {
  return cuMemcpyHtoD_v2(destination, source, bytes);
}
int cuMemcpyDtoHAsync_v2(void *destination, unsigned long long source,
                         size_t bytes, void *) {
  return cuMemcpyDtoH_v2(destination, source, bytes);
}
int cuMemsetD8_v2(unsigned long long destination, unsigned char value,
                  size_t bytes) {
  std::memset(reinterpret_cast<void *>(destination), value, bytes);
  return kSuccess;
}

int cuStreamCreate(void **stream, unsigned) {
  *stream = new int;
  ++state.liveStreams;
  return kSuccess;
}
int cuStreamDestroy_v2(void *stream) {
  delete static_cast<int *>(stream);
  --state.liveStreams;
  return kSuccess;
}
int cuStreamSynchronize(void *) { return kSuccess; }

int cuEventCreate(void **event, unsigned) {
  *event = new FakeEvent;
  ++state.liveEvents;
  return kSuccess;
}
int cuEventRecord(void *event, void *) {
  static_cast<FakeEvent *>(event)->recorded = true;
  return kSuccess;
}
int cuEventSynchronize(void *) { return kSuccess; }
int cuEventElapsedTime(float *milliseconds, void *start, void *end) {
  if (!static_cast<FakeEvent *>(start)->recorded ||
      !static_cast<FakeEvent *>(end)->recorded)
    return kNotReady;
  *milliseconds = 1.5f;
  return kSuccess;
}
int cuEventDestroy_v2(void *event) {
  delete static_cast<FakeEvent *>(event);
  --state.liveEvents;
  return kSuccess;
}

int cuLaunchKernel(void *, unsigned gridX, unsigned gridY, unsigned gridZ,
                   unsigned blockX, unsigned blockY, unsigned blockZ,
                   unsigned sharedMemory, void *stream, void **arguments,
                   void **) {
  if (sharedMemory > unsigned(state.dynamicSharedMemoryLimit))
    return kInvalidValue;
  ++state.launches;
  unsigned grid[3] = {gridX, gridY, gridZ}, block[3] = {blockX, blockY, blockZ};
  std::memcpy(state.grid, grid, sizeof(grid));
  std::memcpy(state.block, block, sizeof(block));
  state.sharedMemory = sharedMemory;
  state.stream = stream;
  std::memcpy(&state.firstArgument, arguments[0], sizeof(state.firstArgument));
  // A tool run in a child process has no fakeCudaState() to show the test.
  if (const char *log = std::getenv("ATTN_FAKE_CUDA_LAUNCH_LOG"))
    if (FILE *file = std::fopen(log, "a")) {
      std::fprintf(file, "grid %u %u %u block %u %u %u shared %u\n", gridX,
                   gridY, gridZ, blockX, blockY, blockZ, sharedMemory);
      std::fclose(file);
    }
  return kSuccess;
}

} // extern "C"
