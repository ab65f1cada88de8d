//===- Driver.cpp - Loading the CUDA driver and querying devices ----------===//

#include "DriverApi.h"

#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <iterator>

namespace attn::rt {

Status callError(const DriverApi &api, CUresult result, const char *call,
                 const std::string &detail) {
  std::string message = std::string(call) + " failed: ";
  // The stub library fails these lookups too; the number still identifies
  // the error.
  const char *name = nullptr, *description = nullptr;
  if (api.cuGetErrorName(result, &name) == cuda::CUDA_SUCCESS && name)
    message += name;
  else
    message += "CUDA error " + std::to_string(result);
  if (api.cuGetErrorString(result, &description) == cuda::CUDA_SUCCESS &&
      description)
    message += std::string(" (") + description + ")";
  if (!detail.empty())
    message += ": " + detail;
  return Status::error(message);
}

Result<CUdevice> getDeviceHandle(const DriverApi &api, int ordinal) {
  CUdevice device = 0;
  if (CUresult result = api.cuDeviceGet(&device, ordinal))
    return callError(api, result, "cuDeviceGet",
                     "device " + std::to_string(ordinal));
  return device;
}

std::string formatBytes(uint64_t bytes) {
  std::string text = std::to_string(bytes) + " bytes";
  if (bytes < 1024)
    return text;
  static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  for (; value >= 1024 && unit + 1 < std::size(units); ++unit)
    value /= 1024;
  char scaled[32];
  std::snprintf(scaled, sizeof(scaled), " (%.1f %s)", value, units[unit]);
  return text + scaled;
}

std::string toString(const Dim3 &dims) {
  return std::to_string(dims.x) + " x " + std::to_string(dims.y) + " x " +
         std::to_string(dims.z);
}

std::string DeviceInfo::getChip() const {
  return "sm_" + std::to_string(computeCapabilityMajor) +
         std::to_string(computeCapabilityMinor);
}

std::string DeviceInfo::describe() const {
  return "device " + std::to_string(ordinal) + " (" + name + ")";
}

/// Sets `function` to `symbol` in `library`, or to `fallback` when the
/// library does not export `symbol`; returns whether one was found.
template <typename Function>
static bool resolve(void *library, const char *symbol, const char *fallback,
                    Function *&function) {
  void *address = dlsym(library, symbol);
  if (!address && fallback)
    address = dlsym(library, fallback);
  function = reinterpret_cast<Function *>(address);
  return address != nullptr;
}

Driver::Driver(std::string libraryPath, std::unique_ptr<DriverApi> api,
               int version)
    : libraryPath(std::move(libraryPath)), api(std::move(api)),
      version(version) {}

Driver::~Driver() = default;

std::string Driver::getDefaultLibraryPath() {
  const char *path = std::getenv("ATTN_LIBCUDA");
  return path && *path ? path : "libcuda.so.1";
}

Result<const Driver *> Driver::get() {
  // Created on first use (thread-safely, as a function-local static) and
  // never destroyed, so that resources other static objects still hold at
  // exit can be released through it.
  static const auto *const loaded =
      new Result<std::unique_ptr<Driver>>(load(getDefaultLibraryPath()));
  if (!loaded->ok())
    return loaded->getStatus();
  return (**loaded).get();
}

Result<std::unique_ptr<Driver>> Driver::load(const std::string &libraryPath) {
  // RTLD_LOCAL keeps the driver's symbols out of the global scope, where
  // they could satisfy other libraries' references to the CUDA API.
  void *library = dlopen(libraryPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    const char *reason = dlerror();
    return Status::error("no NVIDIA driver: cannot load " + libraryPath + " (" +
                         (reason ? reason : "unknown reason") + ")");
  }

  auto api = std::make_unique<DriverApi>();
#define ATTN_RESOLVE_ENTRY_POINT(member, symbol, fallback, ...)                \
  if (!resolve(library, symbol, fallback, api->member))                        \
    return Status::error("no usable NVIDIA driver: " + libraryPath +           \
                         " does not export " symbol                            \
                         " (it is not libcuda, or a driver older than this "   \
                         "runtime supports)");
  ATTN_CUDA_ENTRY_POINTS(ATTN_RESOLVE_ENTRY_POINT)
#undef ATTN_RESOLVE_ENTRY_POINT

  if (CUresult result = api->cuInit(0)) {
    // Build machines often have the toolkit, whose stub libcuda lets
    // programs link, but no driver.
    if (result == cuda::CUDA_ERROR_STUB_LIBRARY)
      return Status::error(libraryPath +
                           " is the CUDA toolkit's stub, not a driver: no "
                           "NVIDIA driver is installed (cuInit returned "
                           "CUDA_ERROR_STUB_LIBRARY)");
    if (result == cuda::CUDA_ERROR_NO_DEVICE)
      return callError(*api, result, "cuInit",
                       "the NVIDIA driver sees no GPU (check nvidia-smi and "
                       "CUDA_VISIBLE_DEVICES)");
    return callError(*api, result, "cuInit",
                     "the NVIDIA driver is installed but cannot start (run "
                     "nvidia-smi to see why)");
  }
  int version = 0;
  if (CUresult result = api->cuDriverGetVersion(&version))
    return callError(*api, result, "cuDriverGetVersion");
  return std::unique_ptr<Driver>(
      new Driver(libraryPath, std::move(api), version));
}

Result<int> Driver::getDeviceCount() const {
  int count = 0;
  if (CUresult result = api->cuDeviceGetCount(&count))
    return callError(*api, result, "cuDeviceGetCount");
  return count;
}

Result<DeviceInfo> Driver::getDeviceInfo(int ordinal) const {
  Result<CUdevice> device = getDeviceHandle(*api, ordinal);
  if (!device.ok())
    return device.getStatus();
  DeviceInfo info;
  info.ordinal = ordinal;
  std::string context = "device " + std::to_string(ordinal);

  char name[256] = {};
  if (CUresult result = api->cuDeviceGetName(name, sizeof(name), *device))
    return callError(*api, result, "cuDeviceGetName", context);
  info.name = name;
  if (CUresult result = api->cuDeviceTotalMem(&info.totalMemory, *device))
    return callError(*api, result, "cuDeviceTotalMem", context);

  const struct {
    int *value;
    int attribute;
  } attributes[] = {
      {&info.computeCapabilityMajor,
       cuda::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR},
      {&info.computeCapabilityMinor,
       cuda::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR},
      {&info.multiprocessorCount,
       cuda::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT},
      {&info.maxSharedMemoryPerBlock,
       cuda::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK},
      {&info.maxSharedMemoryPerBlockOptin,
       cuda::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN},
  };
  for (const auto &[value, attribute] : attributes)
    if (CUresult result = api->cuDeviceGetAttribute(value, attribute, *device))
      return callError(*api, result, "cuDeviceGetAttribute",
                       context + ", attribute " + std::to_string(attribute));
  return info;
}

} // namespace attn::rt
