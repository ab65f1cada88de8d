//===- Runtime.h - Run prebuilt kernels through the CUDA driver -*- C++ -*-===//
//
// The GPU runtime: it loads cubins (from kernel bundles, see Bundle.h) and
// launches them through the CUDA driver API. It depends on neither LLVM/MLIR
// nor the CUDA toolkit: the driver, libcuda.so.1, is opened with dlopen when
// it is first needed, so a program linked with the runtime starts, and says
// clearly why it cannot run kernels, on machines without a GPU or driver.
//
// Typical use:
//   Result<const Driver *> driver = Driver::get();
//   Result<Context> context = Context::create(**driver, /*ordinal=*/0);
//   Result<Module> module = Module::load(*context, bundle.cubin,
//                                        bundle.metadata.target);
//   Result<Kernel> kernel = module->getKernel(bundle.metadata.kernelName);
//   Result<DeviceBuffer> q = DeviceBuffer::allocate(*context, bytes);
//   ... q->copyFromHost(...), kernel->launch(config, args, *stream) ...
// checking ok() and reporting getMessage() after each step.
//
// Lifetimes: the resource types (Context, Module, DeviceBuffer, Stream,
// Event) are move-only owners that give their resource back to the driver
// when destroyed. Everything created in a context must be destroyed before
// the Context, a Kernel must not outlive its Module, a Driver from
// Driver::load must outlive everything created through it (the one from
// Driver::get lives as long as the process), and every call must run
// on a thread where the context is current (Context::create makes it current
// on the calling thread; Context::makeCurrent on any other).
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_RT_RUNTIME_H
#define ATTN_RT_RUNTIME_H

#include "attn-rt/Status.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

// The driver's opaque handle types, under the names cuda.h gives them, so
// that code which also includes cuda.h can pass handles between the two.
struct CUctx_st;
struct CUmod_st;
struct CUfunc_st;
struct CUstream_st;
struct CUevent_st;

namespace attn::rt {

/// The driver entry points, resolved from libcuda (private to the runtime).
struct DriverApi;

/// A device address: CUDA's CUdeviceptr on 64-bit hosts. Kernels take
/// pointer arguments as one of these.
using DevicePtr = unsigned long long;

/// Grid or block dimensions of a launch.
struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};

/// The dimensions as messages and tools show them: "128 x 1 x 1".
std::string toString(const Dim3 &dims);

/// Everything cuLaunchKernel needs besides the arguments and the stream.
struct LaunchConfig {
  Dim3 grid, block;
  unsigned dynamicSharedMemory = 0; ///< bytes per block
};

/// What the runtime needs to know about a GPU: to check that a kernel fits
/// it and to say which device an error is about.
struct DeviceInfo {
  int ordinal = 0;
  std::string name; ///< e.g. "NVIDIA H100 80GB HBM3"
  int computeCapabilityMajor = 0, computeCapabilityMinor = 0;
  int multiprocessorCount = 0;
  size_t totalMemory = 0; ///< bytes
  /// Shared memory one block may use by default (48 KiB on every chip) and
  /// at most, after a kernel opts in (Kernel::launch does that when asked
  /// for more than the default); static shared memory counts against both.
  int maxSharedMemoryPerBlock = 0, maxSharedMemoryPerBlockOptin = 0;

  /// The chip name compilers use, e.g. "sm_80" for compute capability 8.0.
  std::string getChip() const;
  /// "device 0 (NVIDIA H100 80GB HBM3)", the way error messages name it.
  std::string describe() const;
};

/// Formats a byte count for messages: "512 bytes", "49152 bytes (48.0 KiB)".
std::string formatBytes(uint64_t bytes);

/// The CUDA driver library with its entry points resolved and cuInit done.
///
/// The library is never unloaded: the driver runs threads of its own and
/// releases contexts at exit, so unloading it from a running process is not
/// safe (the CUDA runtime never unloads it either).
class Driver {
public:
  /// The process-wide driver, loaded from getDefaultLibraryPath() on first
  /// use. The outcome (the driver, or why there is none) is kept for the
  /// life of the process and the Driver is never destroyed.
  static Result<const Driver *> get();

  /// Loads the driver library at `libraryPath` (a file name for the dynamic
  /// loader to search, or a path) and initialises it. Errors tell apart: no
  /// library, a library that is not a driver, the CUDA toolkit's stub
  /// library (installed without a driver on build machines), and a driver
  /// that sees no GPU.
  ///
  /// glibc answers later dlopen calls for "libcuda.so.1" with any library
  /// already loaded under that soname, the stub included: load the stub only
  /// in a process that will not need the real driver.
  static Result<std::unique_ptr<Driver>> load(const std::string &libraryPath);

  /// $ATTN_LIBCUDA if set and not empty, else "libcuda.so.1" (the name the
  /// NVIDIA driver installs; the unversioned libcuda.so belongs to the
  /// toolkit or to -dev packages).
  static std::string getDefaultLibraryPath();

  Driver(const Driver &) = delete;
  Driver &operator=(const Driver &) = delete;
  ~Driver();

  const std::string &getLibraryPath() const { return libraryPath; }
  /// The newest CUDA version the driver supports, as 1000 * major + 10 *
  /// minor (12080 for CUDA 12.8).
  int getVersion() const { return version; }

  Result<int> getDeviceCount() const;
  Result<DeviceInfo> getDeviceInfo(int ordinal) const;

  /// The resolved entry points, for the runtime's own classes.
  const DriverApi &getApi() const { return *api; }

private:
  Driver(std::string libraryPath, std::unique_ptr<DriverApi> api, int version);

  std::string libraryPath;
  std::unique_ptr<DriverApi> api;
  int version;
};

namespace detail {
// Deleters that give a resource back to the driver; std::unique_ptr with one
// of them is the move-only owner inside each resource class. Errors while
// releasing are ignored: a destructor has nobody to report them to.
struct PrimaryContextReleaser {
  const DriverApi *api = nullptr;
  int device = 0;
  void operator()(CUctx_st *context) const;
};
struct ModuleUnloader {
  const DriverApi *api = nullptr;
  void operator()(CUmod_st *module) const;
};
/// Device addresses are held as void * (both are 64 bits) so that
/// std::unique_ptr can own them; 0 is never a valid allocation.
struct MemoryFreer {
  const DriverApi *api = nullptr;
  void operator()(void *address) const;
};
struct StreamDestroyer {
  const DriverApi *api = nullptr;
  void operator()(CUstream_st *stream) const;
};
struct EventDestroyer {
  const DriverApi *api = nullptr;
  void operator()(CUevent_st *event) const;
};
} // namespace detail

/// A device's primary context (the one the CUDA runtime API uses too, so
/// buffers can be shared with libraries built on it), retained for the
/// lifetime of this object.
class Context {
public:
  /// Retains device `ordinal`'s primary context and makes it current on the
  /// calling thread.
  static Result<Context> create(const Driver &driver, int ordinal);

  /// Makes the context current on the calling thread.
  Status makeCurrent() const;

  const Driver &getDriver() const { return *driver; }
  const DeviceInfo &getDevice() const { return device; }
  CUctx_st *getHandle() const { return handle.get(); }

private:
  Context(const Driver &driver, DeviceInfo device,
          std::unique_ptr<CUctx_st, detail::PrimaryContextReleaser> handle);

  const Driver *driver;
  DeviceInfo device;
  std::unique_ptr<CUctx_st, detail::PrimaryContextReleaser> handle;
};

/// A stream of work on the device; operations on one stream run in order.
/// It synchronises with the legacy default stream, which the synchronous
/// copies use, so those need no explicit ordering against it.
class Stream {
public:
  static Result<Stream> create(const Context &context);

  /// Waits until all work queued on the stream has finished.
  Status synchronize() const;

  CUstream_st *getHandle() const { return handle.get(); }

private:
  explicit Stream(std::unique_ptr<CUstream_st, detail::StreamDestroyer> handle)
      : handle(std::move(handle)) {}

  std::unique_ptr<CUstream_st, detail::StreamDestroyer> handle;
};

/// A point in a stream, for timing device work without host overhead.
class Event {
public:
  static Result<Event> create(const Context &context);

  /// Marks the current end of `stream`'s queued work.
  Status record(const Stream &stream);
  /// Waits until the work before the recorded point has finished.
  Status synchronize() const;

  /// Device time from `start` to `end` in milliseconds (resolution about
  /// 0.5 us). Both must have been recorded and `end` must have completed.
  static Result<float> getElapsedMs(const Event &start, const Event &end);

private:
  explicit Event(std::unique_ptr<CUevent_st, detail::EventDestroyer> handle)
      : handle(std::move(handle)) {}

  std::unique_ptr<CUevent_st, detail::EventDestroyer> handle;
};

/// An allocation of device memory. Copies check their size against the
/// buffer's, so an error is reported instead of memory being overrun.
class DeviceBuffer {
public:
  /// Allocates `bytes` (> 0) bytes; the contents are undefined.
  static Result<DeviceBuffer> allocate(const Context &context, size_t bytes);

  DevicePtr getAddress() const {
    return reinterpret_cast<uintptr_t>(allocation.get());
  }
  size_t getSize() const { return size; }

  /// Copies `bytes` bytes between host memory and the start of the buffer;
  /// the synchronous versions return when the copy is complete.
  Status copyFromHost(const void *source, size_t bytes);
  Status copyToHost(void *destination, size_t bytes) const;
  Status copyFromHostAsync(const void *source, size_t bytes,
                           const Stream &stream);
  Status copyToHostAsync(void *destination, size_t bytes,
                         const Stream &stream) const;
  /// Sets every byte of the buffer to `value`.
  Status fill(uint8_t value);

private:
  DeviceBuffer(std::unique_ptr<void, detail::MemoryFreer> allocation,
               size_t size)
      : allocation(std::move(allocation)), size(size) {}

  Status checkCopySize(size_t bytes) const;
  const DriverApi &getApi() const { return *allocation.get_deleter().api; }

  std::unique_ptr<void, detail::MemoryFreer> allocation;
  size_t size;
};

/// A kernel in a loaded Module; valid while the Module lives.
class Kernel {
public:
  /// Launches the kernel on `stream`. `args` points to one pointer per
  /// kernel parameter, to the parameter's value (for a buffer: to its
  /// DevicePtr), as cuLaunchKernel expects. More dynamic shared memory than
  /// the default (DeviceInfo::maxSharedMemoryPerBlock) is opted in to first,
  /// up to the device's maximum; asking for more than that is an error that
  /// names the maximum. A grid with a zero dimension (an empty problem)
  /// launches nothing and succeeds.
  Status launch(const LaunchConfig &config, void **args,
                const Stream &stream) const;
  /// The same on a stream the caller owns (e.g. from the CUDA runtime or a
  /// framework); null is the legacy default stream.
  Status launch(const LaunchConfig &config, void **args,
                CUstream_st *stream) const;

  const std::string &getName() const { return name; }

private:
  friend class Module;
  Kernel(const DriverApi &api, CUfunc_st *handle, std::string name,
         DeviceInfo device)
      : api(&api), handle(handle), name(std::move(name)),
        device(std::move(device)) {}

  const DriverApi *api;
  CUfunc_st *handle;
  std::string name;
  DeviceInfo device;
};

/// Device code loaded into a context from a cubin.
class Module {
public:
  /// Loads `cubin` into `context`. `target` is the chip it was compiled for
  /// (e.g. "sm_90a"); it is only used to explain a failure, e.g.
  ///   cuModuleLoadData failed: CUDA_ERROR_NO_BINARY_FOR_GPU (no kernel image
  ///   is available for execution on the device): the cubin was compiled for
  ///   sm_90a but device 0 (NVIDIA A100-SXM4-80GB) is sm_80
  static Result<Module> load(const Context &context,
                             const std::vector<uint8_t> &cubin,
                             const std::string &target);

  /// The kernel (a `.entry` function of the cubin) called `name`.
  Result<Kernel> getKernel(const std::string &name) const;

private:
  Module(std::unique_ptr<CUmod_st, detail::ModuleUnloader> handle,
         DeviceInfo device)
      : handle(std::move(handle)), device(std::move(device)) {}

  std::unique_ptr<CUmod_st, detail::ModuleUnloader> handle;
  DeviceInfo device;
};

} // namespace attn::rt

#endif // ATTN_RT_RUNTIME_H
