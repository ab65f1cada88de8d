//===- Compiler.h - attn as a library: specs in, kernels out ----*- C++ -*-===//
//
// The embedding API. A program describes an attention at run time, compiles
// it for the host CPU or a CUDA chip, and launches the kernel on its own
// buffers:
//
//   attn::AttentionSpec spec;
//   spec.dtype = attn::ElementType::F16;
//   spec.numQueryHeads = 32, spec.numKvHeads = 8;      // GQA
//   spec.headDim = spec.valueHeadDim = 128;
//   spec.causal = attn::AttentionProblem::Causal::BottomRight;
//   attn::Compiler compiler;
//   llvm::Expected<std::shared_ptr<const attn::Kernel>> kernel =
//       compiler.compile(spec);                        // batch, Sq, Sk dynamic
//   attn::LaunchArgs args;
//   args.q = q, args.k = k, args.v = v, args.o = o, args.lse = lse;
//   args.batch = 2, args.querySeqLen = 100, args.keySeqLen = 300;
//   args.qStrides = {{S * H * D, D, H * D, 1}};        // a [B, S, H, D] buffer
//   if (llvm::Error e = (*kernel)->launch(args)) ...
//
// A spec is checked by building its attn.attention IR and running the
// dialect verifier (its messages are the errors); the kernel is then made by
// the same named pipelines attn-opt runs (attn-lower-to-cpu, or the GPU
// kernel emitter and attn-lower-to-ptx). Errors are one line a user can act
// on, with std::errc::invalid_argument for a bad spec or bad launch
// arguments, std::errc::not_supported for what a target cannot do yet, and
// other codes for failures (the C API maps them to its status codes).
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_JIT_COMPILER_H
#define ATTN_JIT_COMPILER_H

#include "attn/JIT/CpuKernel.h"
#include "attn/JIT/GpuKernel.h"

namespace attn {

/// A size (batch, Sq, Sk, or a full-size mask dim) given only at launch.
constexpr int64_t kDynamicSize = -1;

/// What to compute, and for which target. The logical layout is always
/// Q [B, Hq, Sq, D], K [B, Hkv, Sk, D], V [B, Hkv, Sk, Dv], O [B, Hq, Sq, Dv],
/// LSE [B, Hq, Sq]; buffers may store them in other orders (strides).
struct AttentionSpec {
  ElementType dtype = ElementType::F32;      ///< storage type of Q, K, V and O
  int64_t numQueryHeads = 1, numKvHeads = 1; ///< Hq, Hkv: Hq % Hkv == 0
  int64_t headDim = 64, valueHeadDim = 64;   ///< D, Dv
  /// B, Sq, Sk: kDynamicSize (taken from the launch) or the only size the
  /// kernel accepts. CUDA kernels are compiled for static sizes.
  int64_t batch = kDynamicSize, querySeqLen = kDynamicSize,
          keySeqLen = kDynamicSize;
  /// Keep: bool mask (one byte, 0 or 1, per element); Bias: additive bias of
  /// `biasType`. Its dense buffer has the shape `maskShape`, broadcastable to
  /// [B, Hq, Sq, Sk]: each dim 1, or the full size (kDynamicSize where that
  /// size is dynamic).
  AttentionProblem::Mask mask = AttentionProblem::Mask::None;
  std::array<int64_t, 4> maskShape{1, 1, 1, 1};
  ElementType biasType = ElementType::F32;
  std::optional<double> scale; ///< default 1/sqrt(D)
  AttentionProblem::Causal causal = AttentionProblem::Causal::None;
  int64_t windowLeft = -1, windowRight = -1; ///< -1 = unbounded
  std::optional<double> softcap;
  /// "cpu" (this machine) or a CUDA chip: "sm_80", "sm_90a", ...
  std::string target = "cpu";
  /// CPU tile sizes (rows of Q and K per step); see attn-lower-to-cpu.
  int64_t qTile = 64, kTile = 64;
  /// CUDA tile sizes and pipeline stages (0 = the chip's tile table); see
  /// attn-compile --block-m/--block-n/--stages.
  GpuTileOptions gpuTiles;
};

/// One launch. Pointers are host memory for a CPU kernel and device memory
/// (CUdeviceptr values) for a CUDA kernel; a buffer may be null only when it
/// has no elements. Strides count elements; without them the buffer is
/// dense [B, H, S, D]. CPU kernels take any non-negative strides with a
/// contiguous head dim; CUDA kernels only dense buffers so far.
struct LaunchArgs {
  const void *q = nullptr, *k = nullptr, *v = nullptr;
  const void *mask = nullptr; ///< dense, of the spec's mask shape
  void *o = nullptr;
  float *lse = nullptr; ///< dense [B, Hq, Sq], natural log
  /// Must equal the spec's sizes where those are static.
  int64_t batch = 0, querySeqLen = 0, keySeqLen = 0;
  AttentionBuffers::Strides qStrides, kStrides, vStrides, oStrides;
  /// CUDA: the CUstream to launch on (null: the legacy default stream) and
  /// the device whose primary context it belongs to. Ignored on the CPU.
  void *stream = nullptr;
  int device = 0;
};

/// A compiled attention. Immutable and thread-safe: launches from several
/// threads may share one (each CPU launch uses all cores, or the spec's
/// threads).
class Kernel {
public:
  ~Kernel();
  Kernel(const Kernel &) = delete;
  Kernel &operator=(const Kernel &) = delete;

  const AttentionSpec &getSpec() const { return spec; }
  /// The CUDA kernel's bundle (cubin + launch metadata, as attn-compile
  /// writes it); null for a CPU kernel.
  const rt::Bundle *getBundle() const;

  /// Runs the attention on `args` (checked first) and, on the CPU, returns
  /// when it is done; a CUDA launch is queued on `args.stream`.
  llvm::Error launch(const LaunchArgs &args) const;

private:
  friend class Compiler;
  struct Gpu;
  Kernel(AttentionSpec spec, AttentionProblem problem);

  /// The buffers of `args` in the form checkBuffers checks (sizes from the
  /// spec and the launch), after the checks only the spec can make.
  llvm::Expected<AttentionBuffers> toBuffers(const LaunchArgs &args) const;
  llvm::Error launchGpu(const AttentionBuffers &buffers,
                        const LaunchArgs &args) const;

  AttentionSpec spec;
  AttentionProblem problem;
  std::unique_ptr<CpuKernel> cpu;
  std::unique_ptr<Gpu> gpu;
};

/// How a Compiler's kernels run on the host, and where they are cached.
struct CompilerOptions {
  /// CPU kernels' worker threads; 0 = all cores.
  unsigned numThreads = 0;
  /// The kernel cache: null = KernelCache::getDefault() (in memory, and on
  /// disk under $ATTN_CACHE_DIR or $XDG_CACHE_HOME/attn; see
  /// KernelCache.h); &KernelCache::getDisabled() compiles every time.
  KernelCache *cache = nullptr;
};

/// Compiles specs into kernels. Stateless apart from its options: compile
/// may be called from several threads at once (each compile has its own
/// MLIR context). With a cache, a spec compiled before in this process
/// returns the same Kernel (found by the key of the code it compiles to:
/// KernelCache.h), and a kernel compiled by any process before comes from
/// the disk layer (a CUDA bundle, or a CPU kernel's object file).
class Compiler {
public:
  explicit Compiler(CompilerOptions options = {}) : options(options) {}

  /// Validates `spec` and compiles it (tens to hundreds of milliseconds;
  /// a few microseconds when this process compiled it before, under a
  /// millisecond from the disk cache). Kernels are shared pointers: a cached
  /// one is handed to every caller.
  llvm::Expected<std::shared_ptr<const Kernel>>
  compile(const AttentionSpec &spec) const;

  const CompilerOptions &getOptions() const { return options; }

private:
  /// The one place kernels are made (their code through `cache`);
  /// compile() looks finished kernels up in memory first.
  llvm::Expected<std::shared_ptr<const Kernel>>
  build(const AttentionSpec &spec, const AttentionProblem &problem,
        KernelCache &cache) const;
  CpuCompileOptions getCpuOptions(const AttentionSpec &spec) const;

  CompilerOptions options;
};

/// The AttentionProblem `spec` describes (dynamic sizes become
/// dynamicLengths), after the checks the IR cannot express: sizes that are
/// neither non-negative nor kDynamicSize, and unknown targets.
llvm::Expected<AttentionProblem> toProblem(const AttentionSpec &spec);

} // namespace attn

#endif // ATTN_JIT_COMPILER_H
