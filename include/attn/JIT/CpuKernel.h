//===- CpuKernel.h - JIT-compiled attention on the host CPU -----*- C++ -*-===//
//
// Builds the attn.attention IR of a problem, lowers it with the
// `attn-lower-to-cpu` pipeline and JIT-compiles it with MLIR's
// ExecutionEngine for the host CPU (its name and features queried from
// LLVM). Work items run on all cores through the OpenMP runtime.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_JIT_CPUKERNEL_H
#define ATTN_JIT_CPUKERNEL_H

#include "attn/JIT/KernelCache.h"
#include "attn/Support/Float16.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/OwningOpRef.h"

namespace mlir {
class ExecutionEngine;
class OpPassManager;
} // namespace mlir
namespace llvm::orc {
class LLJIT;
} // namespace llvm::orc

namespace attn {

/// What an attention problem is made of, enough to build its IR.
struct AttentionProblem {
  ElementType dtype = ElementType::F32; ///< storage type of Q, K, V, O
  std::array<int64_t, 4> q{}, k{},
      v{}; ///< [B,Hq,Sq,D], [B,Hkv,Sk,D], [B,Hkv,Sk,Dv]
  enum class Mask { None, Keep, Bias } mask = Mask::None;
  std::array<int64_t, 4> maskShape{1, 1, 1,
                                   1};     ///< broadcastable to [B,Hq,Sq,Sk]
  ElementType biasType = ElementType::F32; ///< element type of a Bias mask
  std::optional<double> scale;             ///< default 1/sqrt(D)
  enum class Causal { None, TopLeft, BottomRight } causal = Causal::None;
  int64_t windowLeft = -1, windowRight = -1; ///< -1 = unbounded
  std::optional<double> softcap;
  /// Compile B, Sq and Sk as dynamic dims (sizes are then taken from the
  /// buffers at launch time and checked there).
  bool dynamicLengths = false;
};

struct CpuCompileOptions {
  int64_t qTile = 64, kTile = 64;
  unsigned numThreads = 0; ///< 0 = all cores
};

/// The buffers of one launch. Q/K/V/O hold `dtype` elements (f16/bf16 as
/// raw 16-bit patterns); a Keep mask holds one byte per element (0 or 1), a
/// Bias mask `biasType` elements; LSE is float. The mask and LSE are dense
/// row-major; Q, K, V and O are too unless strides are given.
struct AttentionBuffers {
  using Strides = std::optional<std::array<int64_t, 4>>;

  const void *q = nullptr, *k = nullptr, *v = nullptr, *mask = nullptr;
  void *o = nullptr;
  float *lse = nullptr;
  /// Actual shapes (must equal the problem's static dims; dynamic ones may
  /// differ when the problem was compiled with dynamicLengths).
  std::array<int64_t, 4> qShape{}, kShape{}, vShape{}, maskShape{1, 1, 1, 1};
  /// Strides in elements, e.g. {S·H·D, D, H·D, 1} for a [B, S, H, D]
  /// buffer: non-negative, and 1 for the head dim (vector loads).
  Strides qStrides, kStrides, vStrides, oStrides;
};

/// Checks `buffers` against `problem`: sizes non-negative, static dims as
/// compiled, dynamic ones consistent, the mask broadcastable, no null
/// pointer to elements, strides valid (see AttentionBuffers). Errors have
/// std::errc::invalid_argument.
llvm::Error checkBuffers(const AttentionProblem &problem,
                         const AttentionBuffers &buffers);

/// Dense row-major strides of `shape`, in elements.
template <size_t N>
std::array<int64_t, N> denseStrides(const std::array<int64_t, N> &shape) {
  std::array<int64_t, N> strides;
  int64_t stride = 1;
  for (size_t i = N; i-- > 0;) {
    strides[i] = stride;
    stride *= shape[i];
  }
  return strides;
}

/// An MLIR context with everything the attn pipelines need; diagnostics
/// print without an IR dump (users get one line).
std::unique_ptr<mlir::MLIRContext> createAttnContext();

/// Collects the diagnostics emitted in a context while it lives, as one line.
class DiagnosticCollector {
public:
  explicit DiagnosticCollector(mlir::MLIRContext &ctx);
  /// "`what`: <diagnostics>" as an error with `code`.
  llvm::Error takeError(llvm::StringRef what,
                        std::error_code code = llvm::inconvertibleErrorCode());

private:
  std::string text;
  mlir::ScopedDiagnosticHandler handler;
};

/// The attn.attention function of `problem` (memref arguments Q, K, V,
/// [mask], O, LSE; C interface), verified: the op verifier's messages come
/// back as one llvm::Error (std::errc::invalid_argument).
llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>>
buildAttentionModule(mlir::MLIRContext &ctx, const AttentionProblem &problem);

/// Every field of `problem`, exactly, as text: problems with equal
/// fingerprints are equal (and build the same IR).
std::string getProblemFingerprint(const AttentionProblem &problem);

/// buildAttentionModule as MLIR text; built once per problem (by
/// fingerprint) in this process and remembered.
llvm::Expected<std::string>
buildAttentionModuleText(const AttentionProblem &problem);

/// The pass pipeline `build` adds to a pass manager, as text (every pass and
/// option), for cache keys. Built once per `name`, which must identify the
/// pipeline and its options: keys are computed on every cached compile,
/// hits included, and a pass manager needs a context.
std::string
getPipelineText(llvm::StringRef name,
                llvm::function_ref<void(mlir::OpPassManager &)> build);

/// The cache key of CpuKernel::compile(problem, options): the compiler id,
/// the host CPU and its features (the code is compiled for them), the
/// attn-lower-to-cpu pipeline as text (tile sizes, threads) and the
/// problem's attn.attention IR.
llvm::Expected<CacheKey> getCpuKernelCacheKey(const AttentionProblem &problem,
                                              const CpuCompileOptions &options);

class CpuKernel {
public:
  ~CpuKernel();
  CpuKernel(CpuKernel &&) = delete;

  /// Builds, verifies, lowers and JIT-compiles `problem`.
  static llvm::Expected<std::unique_ptr<CpuKernel>>
  compile(const AttentionProblem &problem, const CpuCompileOptions &options);

  /// compile() through `cache` (key: getCpuKernelCacheKey): the cached
  /// blob is the kernel's object file, the machine code the ExecutionEngine
  /// made; a kernel compiled before, by this or any process, is that object
  /// linked again by ORC (no MLIR pipeline, no LLVM optimization). `source`,
  /// if given, says where the object came from.
  static llvm::Expected<std::unique_ptr<CpuKernel>>
  compileThrough(const AttentionProblem &problem,
                 const CpuCompileOptions &options, KernelCache &cache,
                 CacheSource *source = nullptr);

  /// compileThrough the default cache, with the finished kernels kept in
  /// memory by key: a problem compiled before in this process is shared
  /// (kernels are immutable and run() may be called from several threads).
  /// `source`, if given, is Memory for a shared kernel.
  static llvm::Expected<std::shared_ptr<const CpuKernel>>
  compileCached(const AttentionProblem &problem,
                const CpuCompileOptions &options,
                CacheSource *source = nullptr);

  /// Runs the kernel on `buffers` (checked first: checkBuffers).
  llvm::Error run(const AttentionBuffers &buffers) const;

  const AttentionProblem &getProblem() const { return problem; }

private:
  CpuKernel(const AttentionProblem &problem);
  /// compile(), also returning the object file when `object` is given.
  static llvm::Expected<std::unique_ptr<CpuKernel>>
  compile(const AttentionProblem &problem, const CpuCompileOptions &options,
          std::string *object);
  /// A kernel from an object file of compile().
  static llvm::Expected<std::unique_ptr<CpuKernel>>
  load(const AttentionProblem &problem, llvm::StringRef object);

  AttentionProblem problem;
  /// Either an ExecutionEngine (compiled here, with its MLIR context) or an
  /// ORC JIT (loaded from an object file) holds the code `entry` points to.
  std::unique_ptr<mlir::MLIRContext> context;
  std::unique_ptr<mlir::ExecutionEngine> engine;
  std::unique_ptr<llvm::orc::LLJIT> jit;
  /// The packed C-interface wrapper: entry(pointers to the descriptors).
  void (*entry)(void **) = nullptr;
};

} // namespace attn

#endif // ATTN_JIT_CPUKERNEL_H
