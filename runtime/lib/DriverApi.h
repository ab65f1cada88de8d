//===- DriverApi.h - The CUDA driver entry points the runtime uses -*- C++ -*-//
//
// Declared here instead of taken from cuda.h so that the runtime builds on
// machines without the CUDA toolkit. Types, values and signatures are those
// of cuda.h (CUDA 13). The driver keeps its ABI stable by never changing an
// exported symbol: a changed signature or behaviour gets a new `_vN` symbol,
// which cuda.h selects with macros (`#define cuMemAlloc cuMemAlloc_v2`). So
// this list names the symbols cuda.h selects, and each signature is the one
// of that symbol.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_RT_LIB_DRIVERAPI_H
#define ATTN_RT_LIB_DRIVERAPI_H

#include "attn-rt/Runtime.h"

#include <type_traits>

namespace attn::rt {

using CUresult = int; // cuda.h's enum cudaError_enum, which fits an int
using CUdevice = int;
using CUdeviceptr = DevicePtr;
using CUcontext = CUctx_st *;
using CUmodule = CUmod_st *;
using CUfunction = CUfunc_st *;
using CUstream = CUstream_st *;
using CUevent = CUevent_st *;

namespace cuda {
/// The CUresult values the runtime tells apart.
enum : CUresult {
  CUDA_SUCCESS = 0,
  CUDA_ERROR_OUT_OF_MEMORY = 2,
  CUDA_ERROR_STUB_LIBRARY = 34,
  CUDA_ERROR_NO_DEVICE = 100,
  CUDA_ERROR_NO_BINARY_FOR_GPU = 209,
};
/// CUdevice_attribute values.
enum : int {
  CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK = 8,
  CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
  CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97,
};
/// CUfunction_attribute values.
enum : int { CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8 };
} // namespace cuda

// X(member, symbol, fallback symbol or nullptr, signature): the fallback is
// tried when the driver does not export `symbol`; it must have the same
// signature. cuEventElapsedTime_v2 appeared in CUDA 12.8 (driver r570);
// older drivers, still common on GPU servers, have only cuEventElapsedTime,
// with the same signature.
#define ATTN_CUDA_ENTRY_POINTS(X)                                              \
  X(cuInit, "cuInit", nullptr, CUresult(unsigned))                             \
  X(cuDriverGetVersion, "cuDriverGetVersion", nullptr, CUresult(int *))        \
  X(cuGetErrorName, "cuGetErrorName", nullptr,                                 \
    CUresult(CUresult, const char **))                                         \
  X(cuGetErrorString, "cuGetErrorString", nullptr,                             \
    CUresult(CUresult, const char **))                                         \
  X(cuDeviceGetCount, "cuDeviceGetCount", nullptr, CUresult(int *))            \
  X(cuDeviceGet, "cuDeviceGet", nullptr, CUresult(CUdevice *, int))            \
  X(cuDeviceGetName, "cuDeviceGetName", nullptr,                               \
    CUresult(char *, int, CUdevice))                                           \
  X(cuDeviceGetAttribute, "cuDeviceGetAttribute", nullptr,                     \
    CUresult(int *, int, CUdevice))                                            \
  X(cuDeviceTotalMem, "cuDeviceTotalMem_v2", nullptr,                          \
    CUresult(size_t *, CUdevice))                                              \
  X(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", nullptr,             \
    CUresult(CUcontext *, CUdevice))                                           \
  X(cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", nullptr,        \
    CUresult(CUdevice))                                                        \
  X(cuCtxSetCurrent, "cuCtxSetCurrent", nullptr, CUresult(CUcontext))          \
  X(cuModuleLoadData, "cuModuleLoadData", nullptr,                             \
    CUresult(CUmodule *, const void *))                                        \
  X(cuModuleUnload, "cuModuleUnload", nullptr, CUresult(CUmodule))             \
  X(cuModuleGetFunction, "cuModuleGetFunction", nullptr,                       \
    CUresult(CUfunction *, CUmodule, const char *))                            \
  X(cuFuncSetAttribute, "cuFuncSetAttribute", nullptr,                         \
    CUresult(CUfunction, int, int))                                            \
  X(cuMemGetInfo, "cuMemGetInfo_v2", nullptr, CUresult(size_t *, size_t *))    \
  X(cuMemAlloc, "cuMemAlloc_v2", nullptr, CUresult(CUdeviceptr *, size_t))     \
  X(cuMemFree, "cuMemFree_v2", nullptr, CUresult(CUdeviceptr))                 \
  X(cuMemcpyHtoD, "cuMemcpyHtoD_v2", nullptr,                                  \
    CUresult(CUdeviceptr, const void *, size_t))                               \
  X(cuMemcpyDtoH, "cuMemcpyDtoH_v2", nullptr,                                  \
    CUresult(void *, CUdeviceptr, size_t))                                     \
  X(cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2", nullptr,                        \
    CUresult(CUdeviceptr, const void *, size_t, CUstream))                     \
  X(cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2", nullptr,                        \
    CUresult(void *, CUdeviceptr, size_t, CUstream))                           \
  X(cuMemsetD8, "cuMemsetD8_v2", nullptr,                                      \
    CUresult(CUdeviceptr, unsigned char, size_t))                              \
  X(cuStreamCreate, "cuStreamCreate", nullptr, CUresult(CUstream *, unsigned)) \
  X(cuStreamDestroy, "cuStreamDestroy_v2", nullptr, CUresult(CUstream))        \
  X(cuStreamSynchronize, "cuStreamSynchronize", nullptr, CUresult(CUstream))   \
  X(cuEventCreate, "cuEventCreate", nullptr, CUresult(CUevent *, unsigned))    \
  X(cuEventRecord, "cuEventRecord", nullptr, CUresult(CUevent, CUstream))      \
  X(cuEventSynchronize, "cuEventSynchronize", nullptr, CUresult(CUevent))      \
  X(cuEventElapsedTime, "cuEventElapsedTime_v2", "cuEventElapsedTime",         \
    CUresult(float *, CUevent, CUevent))                                       \
  X(cuEventDestroy, "cuEventDestroy_v2", nullptr, CUresult(CUevent))           \
  X(cuLaunchKernel, "cuLaunchKernel", nullptr,                                 \
    CUresult(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,     \
             unsigned, unsigned, CUstream, void **, void **))

struct DriverApi {
#define ATTN_DECLARE_ENTRY_POINT(member, symbol, fallback, ...)                \
  std::add_pointer_t<__VA_ARGS__> member = nullptr;
  ATTN_CUDA_ENTRY_POINTS(ATTN_DECLARE_ENTRY_POINT)
#undef ATTN_DECLARE_ENTRY_POINT
};

/// The error for a failed driver call:
///   "<call> failed: <CUDA_ERROR_NAME> (<description>)[: <detail>]".
Status callError(const DriverApi &api, CUresult result, const char *call,
                 const std::string &detail = "");

/// The driver's handle for device `ordinal`.
Result<CUdevice> getDeviceHandle(const DriverApi &api, int ordinal);

} // namespace attn::rt

#endif // ATTN_RT_LIB_DRIVERAPI_H
