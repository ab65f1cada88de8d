//===- Resources.cpp - Contexts, modules, kernels, memory, streams, events ===//

#include "DriverApi.h"

#include <algorithm>
#include <cctype>
#include <iterator>

namespace attn::rt {

namespace detail {
void PrimaryContextReleaser::operator()(CUctx_st *) const {
  (void)api->cuDevicePrimaryCtxRelease(device);
}
void ModuleUnloader::operator()(CUmod_st *module) const {
  (void)api->cuModuleUnload(module);
}
void MemoryFreer::operator()(void *address) const {
  (void)api->cuMemFree(reinterpret_cast<uintptr_t>(address));
}
void StreamDestroyer::operator()(CUstream_st *stream) const {
  (void)api->cuStreamDestroy(stream);
}
void EventDestroyer::operator()(CUevent_st *event) const {
  (void)api->cuEventDestroy(event);
}
} // namespace detail

//===----------------------------------------------------------------------===//
// Context
//===----------------------------------------------------------------------===//

Context::Context(
    const Driver &driver, DeviceInfo device,
    std::unique_ptr<CUctx_st, detail::PrimaryContextReleaser> handle)
    : driver(&driver), device(std::move(device)), handle(std::move(handle)) {}

Result<Context> Context::create(const Driver &driver, int ordinal) {
  const DriverApi &api = driver.getApi();
  Result<DeviceInfo> info = driver.getDeviceInfo(ordinal);
  if (!info.ok())
    return info.getStatus();
  Result<CUdevice> device = getDeviceHandle(api, ordinal);
  if (!device.ok())
    return device.getStatus();
  CUcontext handle = nullptr;
  if (CUresult result = api.cuDevicePrimaryCtxRetain(&handle, *device))
    return callError(api, result, "cuDevicePrimaryCtxRetain", info->describe());
  Context context(driver, std::move(*info),
                  {handle, detail::PrimaryContextReleaser{&api, *device}});
  if (Status status = context.makeCurrent(); !status.ok())
    return status;
  return context;
}

Status Context::makeCurrent() const {
  const DriverApi &api = driver->getApi();
  if (CUresult result = api.cuCtxSetCurrent(handle.get()))
    return callError(api, result, "cuCtxSetCurrent", device.describe());
  return Status();
}

//===----------------------------------------------------------------------===//
// Stream and Event
//===----------------------------------------------------------------------===//

Result<Stream> Stream::create(const Context &context) {
  const DriverApi &api = context.getDriver().getApi();
  CUstream handle = nullptr;
  // Flags 0 (CU_STREAM_DEFAULT): synchronise with the legacy default stream.
  if (CUresult result = api.cuStreamCreate(&handle, 0))
    return callError(api, result, "cuStreamCreate",
                     context.getDevice().describe());
  return Stream({handle, detail::StreamDestroyer{&api}});
}

Status Stream::synchronize() const {
  const DriverApi &api = *handle.get_deleter().api;
  if (CUresult result = api.cuStreamSynchronize(handle.get()))
    return callError(api, result, "cuStreamSynchronize");
  return Status();
}

Result<Event> Event::create(const Context &context) {
  const DriverApi &api = context.getDriver().getApi();
  CUevent handle = nullptr;
  // Flags 0 (CU_EVENT_DEFAULT): timing enabled, the host waits by spinning.
  if (CUresult result = api.cuEventCreate(&handle, 0))
    return callError(api, result, "cuEventCreate",
                     context.getDevice().describe());
  return Event({handle, detail::EventDestroyer{&api}});
}

Status Event::record(const Stream &stream) {
  const DriverApi &api = *handle.get_deleter().api;
  if (CUresult result = api.cuEventRecord(handle.get(), stream.getHandle()))
    return callError(api, result, "cuEventRecord");
  return Status();
}

Status Event::synchronize() const {
  const DriverApi &api = *handle.get_deleter().api;
  if (CUresult result = api.cuEventSynchronize(handle.get()))
    return callError(api, result, "cuEventSynchronize");
  return Status();
}

Result<float> Event::getElapsedMs(const Event &start, const Event &end) {
  const DriverApi &api = *start.handle.get_deleter().api;
  float milliseconds = 0;
  if (CUresult result = api.cuEventElapsedTime(
          &milliseconds, start.handle.get(), end.handle.get()))
    return callError(api, result, "cuEventElapsedTime");
  return milliseconds;
}

//===----------------------------------------------------------------------===//
// DeviceBuffer
//===----------------------------------------------------------------------===//

Result<DeviceBuffer> DeviceBuffer::allocate(const Context &context,
                                            size_t bytes) {
  const DriverApi &api = context.getDriver().getApi();
  const DeviceInfo &device = context.getDevice();
  if (bytes == 0)
    return Status::error("cannot allocate an empty device buffer on " +
                         device.describe());
  CUdeviceptr address = 0;
  if (CUresult result = api.cuMemAlloc(&address, bytes)) {
    std::string detail =
        "cannot allocate " + formatBytes(bytes) + " on " + device.describe();
    size_t free = 0, total = 0;
    if (result == cuda::CUDA_ERROR_OUT_OF_MEMORY &&
        api.cuMemGetInfo(&free, &total) == cuda::CUDA_SUCCESS)
      detail += ", which has " + formatBytes(free) + " of " +
                formatBytes(total) + " free";
    return callError(api, result, "cuMemAlloc", detail);
  }
  return DeviceBuffer(
      {reinterpret_cast<void *>(address), detail::MemoryFreer{&api}}, bytes);
}

Status DeviceBuffer::checkCopySize(size_t bytes) const {
  if (bytes > size)
    return Status::error("cannot copy " + formatBytes(bytes) + " to or from " +
                         "a device buffer of " + formatBytes(size));
  return Status();
}

Status DeviceBuffer::copyFromHost(const void *source, size_t bytes) {
  if (Status status = checkCopySize(bytes); !status.ok())
    return status;
  if (CUresult result = getApi().cuMemcpyHtoD(getAddress(), source, bytes))
    return callError(getApi(), result, "cuMemcpyHtoD");
  return Status();
}

Status DeviceBuffer::copyToHost(void *destination, size_t bytes) const {
  if (Status status = checkCopySize(bytes); !status.ok())
    return status;
  if (CUresult result = getApi().cuMemcpyDtoH(destination, getAddress(), bytes))
    return callError(getApi(), result, "cuMemcpyDtoH");
  return Status();
}

Status DeviceBuffer::copyFromHostAsync(const void *source, size_t bytes,
                                       const Stream &stream) {
  if (Status status = checkCopySize(bytes); !status.ok())
    return status;
  if (CUresult result = getApi().cuMemcpyHtoDAsync(getAddress(), source, bytes,
                                                   stream.getHandle()))
    return callError(getApi(), result, "cuMemcpyHtoDAsync");
  return Status();
}

Status DeviceBuffer::copyToHostAsync(void *destination, size_t bytes,
                                     const Stream &stream) const {
  if (Status status = checkCopySize(bytes); !status.ok())
    return status;
  if (CUresult result = getApi().cuMemcpyDtoHAsync(destination, getAddress(),
                                                   bytes, stream.getHandle()))
    return callError(getApi(), result, "cuMemcpyDtoHAsync");
  return Status();
}

Status DeviceBuffer::fill(uint8_t value) {
  if (CUresult result = getApi().cuMemsetD8(getAddress(), value, size))
    return callError(getApi(), result, "cuMemsetD8");
  return Status();
}

//===----------------------------------------------------------------------===//
// Module and Kernel
//===----------------------------------------------------------------------===//

/// Why a cubin compiled for `target` has no code for `device`.
static std::string explainNoBinary(const std::string &target,
                                   const DeviceInfo &device) {
  // An arch-specific target (sm_90a) runs only on its own chip (sm_90).
  std::string family = target;
  while (!family.empty() &&
         std::isalpha(static_cast<unsigned char>(family.back())))
    family.pop_back();
  std::string compiled = "the cubin was compiled for " + target;
  if (family != device.getChip())
    return compiled + " but " + device.describe() + " is " + device.getChip();
  return compiled + ", which " + device.describe() +
         " is: the driver is probably older than the CUDA toolkit that "
         "compiled it";
}

Result<Module> Module::load(const Context &context,
                            const std::vector<uint8_t> &cubin,
                            const std::string &target) {
  const DriverApi &api = context.getDriver().getApi();
  const DeviceInfo &device = context.getDevice();
  // Anything but an ELF image the driver would take for PTX text and read up
  // to a NUL, past the end of `cubin`.
  static const uint8_t elfMagic[] = {0x7f, 'E', 'L', 'F'};
  if (cubin.size() < sizeof(elfMagic) ||
      !std::equal(std::begin(elfMagic), std::end(elfMagic), cubin.begin()))
    return Status::error("cannot load " + formatBytes(cubin.size()) + " on " +
                         device.describe() + ": not a cubin (no ELF header)");
  CUmodule handle = nullptr;
  if (CUresult result = api.cuModuleLoadData(&handle, cubin.data()))
    return callError(api, result, "cuModuleLoadData",
                     result == cuda::CUDA_ERROR_NO_BINARY_FOR_GPU
                         ? explainNoBinary(target, device)
                         : "loading a cubin for " + target + " on " +
                               device.describe());
  return Module({handle, detail::ModuleUnloader{&api}}, device);
}

Result<Kernel> Module::getKernel(const std::string &name) const {
  const DriverApi &api = *handle.get_deleter().api;
  CUfunction function = nullptr;
  if (CUresult result =
          api.cuModuleGetFunction(&function, handle.get(), name.c_str()))
    return callError(api, result, "cuModuleGetFunction",
                     "kernel '" + name + "'");
  return Kernel(api, function, name, device);
}

Status Kernel::launch(const LaunchConfig &config, void **args,
                      const Stream &stream) const {
  return launch(config, args, stream.getHandle());
}

Status Kernel::launch(const LaunchConfig &config, void **args,
                      CUstream_st *stream) const {
  const Dim3 &grid = config.grid, &block = config.block;
  if (grid.x == 0 || grid.y == 0 || grid.z == 0)
    return Status();
  // Opting in on every such launch, as FlashAttention does, rather than once
  // per kernel: the limit belongs to the function, which other Kernel
  // objects for it may have lowered since.
  if (config.dynamicSharedMemory >
      static_cast<unsigned>(device.maxSharedMemoryPerBlock)) {
    std::string request = "kernel '" + name + "' asks for " +
                          formatBytes(config.dynamicSharedMemory) +
                          " of dynamic shared memory per block but " +
                          device.describe() + " allows at most " +
                          formatBytes(device.maxSharedMemoryPerBlockOptin);
    if (config.dynamicSharedMemory >
        static_cast<unsigned>(device.maxSharedMemoryPerBlockOptin))
      return Status::error(request);
    if (CUresult result = api->cuFuncSetAttribute(
            handle, cuda::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
            static_cast<int>(config.dynamicSharedMemory)))
      return callError(*api, result, "cuFuncSetAttribute",
                       request + ", including its static shared memory");
  }
  if (CUresult result = api->cuLaunchKernel(
          handle, grid.x, grid.y, grid.z, block.x, block.y, block.z,
          config.dynamicSharedMemory, stream, args, nullptr))
    return callError(*api, result, "cuLaunchKernel",
                     "kernel '" + name + "' with grid " +
                         toString(config.grid) + ", block " +
                         toString(config.block) + ", " +
                         formatBytes(config.dynamicSharedMemory) +
                         " of dynamic shared memory, on " + device.describe());
  return Status();
}

} // namespace attn::rt
