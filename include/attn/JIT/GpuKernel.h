//===- GpuKernel.h - attention on the GPU through kernel bundles -*- C++
//-*-===//
//
// The GPU path of the JIT: compile a problem into a kernel bundle (IR →
// -attn-map-to-gpu → PTX → cubin with ptxas, refusing spills →
// cubin + launch metadata), and run a bundle on host inputs through the
// MLIR-free runtime (runtime/). attn-compile writes bundles ahead of time;
// attn-run --backend cuda compiles and runs in one go.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_JIT_GPUKERNEL_H
#define ATTN_JIT_GPUKERNEL_H

#include "attn-rt/Bundle.h"
#include "attn/JIT/HostAttention.h"
#include "attn/JIT/KernelCache.h"

namespace attn {

/// The driver and device 0, or why there is none (no driver, the driver
/// sees no GPU), as one line.
llvm::Expected<std::pair<const rt::Driver *, rt::DeviceInfo>> findFirstGpu();

/// Whether the GPU backend supports `problem` yet; `reason` says why not.
bool isGpuSupported(const AttentionProblem &problem, std::string &reason);

/// Tile options of a GPU kernel (0 = the chip's tile table) and how its
/// PTX is assembled.
struct GpuTileOptions {
  int64_t blockM = 0; ///< query rows per CTA (64 or 128)
  int64_t blockN = 0; ///< keys per tile (multiple of 16, ≤ 128)
  int64_t stages = 0; ///< K/V shared-memory pipeline stages (1–4)
  /// ptxas --Ofast-compile=min (see AssembleOptions): a faster compile, a
  /// kernel whose speed is not measured yet.
  bool fastAssemble = false;
};

/// Wall time of compileGpuBundle's stages, in milliseconds.
struct GpuCompileTimes {
  double buildIr = 0;    ///< MLIR context and the verified attn.attention
  double lowerToPtx = 0; ///< attn-lower-to-ptx (kernel passes and PTX)
  double assemble = 0;   ///< PTX → cubin (assemblePtx)
};

/// Compiles `problem` for `chip` ("sm_80", "sm_90a", ...) into a bundle;
/// `times`, if given, receives the time of each stage.
llvm::Expected<rt::Bundle> compileGpuBundle(const AttentionProblem &problem,
                                            llvm::StringRef chip,
                                            const GpuTileOptions &tiles = {},
                                            GpuCompileTimes *times = nullptr);

/// The cache key of compileGpuBundle(problem, chip, tiles): the compiler
/// id, the chip, the attn-lower-to-ptx pipeline as text (every pass option:
/// tiles, PTX version, libdevice and toolkit paths), the assembler that
/// makes the cubin (getAssemblerId), and the
/// problem's attn.attention IR.
llvm::Expected<CacheKey> getGpuBundleCacheKey(const AttentionProblem &problem,
                                              llvm::StringRef chip,
                                              const GpuTileOptions &tiles = {});

/// compileGpuBundle through `cache` (the serialized bundle is the cached
/// blob); `source`, if given, says whether it was compiled or found.
llvm::Expected<rt::Bundle>
compileGpuBundleCached(const AttentionProblem &problem, llvm::StringRef chip,
                       KernelCache &cache, const GpuTileOptions &tiles = {},
                       CacheSource *source = nullptr);

/// Runs `bundle` on device 0 of `driver` with `inputs` (which must have the
/// bundle's problem shapes), `repeat` more times for timing (milliseconds
/// appended to `times`, measured with CUDA events).
llvm::Expected<HostOutputs> runGpu(const rt::Driver &driver,
                                   const rt::Bundle &bundle,
                                   const HostInputs &inputs, int64_t repeat = 0,
                                   std::vector<double> *times = nullptr);

} // namespace attn

#endif // ATTN_JIT_GPUKERNEL_H
