//===- Compiler.cpp - attn as a library: specs in, kernels out -----------===//

#include "attn/JIT/Compiler.h"
#include "attn-rt/Bundle.h"
#include "attn-rt/Runtime.h"
#include "attn/Support/Format.h"

#include "llvm/ADT/StringExtras.h"

#include <mutex>

using llvm::Error;
using llvm::Expected;

namespace attn {

namespace {

Error invalidArgument(const llvm::Twine &message) {
  return llvm::createStringError(
      std::make_error_code(std::errc::invalid_argument), message);
}

Error notSupported(const llvm::Twine &message) {
  return llvm::createStringError(std::make_error_code(std::errc::not_supported),
                                 message);
}

/// A CUDA chip name as ptxas takes it: sm_<digits>[a|f].
bool isCudaChip(llvm::StringRef target) {
  if (!target.consume_front("sm_"))
    return false;
  target.consume_back("a") || target.consume_back("f");
  return !target.empty() && llvm::all_of(target, llvm::isDigit);
}

} // namespace

Expected<AttentionProblem> toProblem(const AttentionSpec &spec) {
  if (spec.target != "cpu" && !isCudaChip(spec.target))
    return invalidArgument("unknown target '" + spec.target +
                           "': use \"cpu\" or a CUDA chip such as \"sm_80\" "
                           "or \"sm_90a\"");
  // MLIR shapes cannot even hold these; everything else about sizes is the
  // verifier's to say.
  for (auto [name, size] :
       {std::pair<const char *, int64_t>{"numQueryHeads", spec.numQueryHeads},
        {"numKvHeads", spec.numKvHeads},
        {"headDim", spec.headDim},
        {"valueHeadDim", spec.valueHeadDim}})
    if (size < 0)
      return invalidArgument(llvm::Twine(name) + " must not be negative, got " +
                             llvm::Twine(size));
  for (auto [name, size] :
       {std::pair<const char *, int64_t>{"batch", spec.batch},
        {"querySeqLen", spec.querySeqLen},
        {"keySeqLen", spec.keySeqLen}})
    if (size < 0 && size != kDynamicSize)
      return invalidArgument(llvm::Twine(name) +
                             " must be >= 0 or kDynamicSize (-1), got " +
                             llvm::Twine(size));

  AttentionProblem p;
  p.dtype = spec.dtype;
  bool dynamic = spec.batch == kDynamicSize ||
                 spec.querySeqLen == kDynamicSize ||
                 spec.keySeqLen == kDynamicSize;
  // With dynamicLengths the IR takes B, Sq and Sk from the buffers; the
  // static ones among them are checked at launch. 1 stands in for the
  // dynamic ones (any size the verifier accepts would do).
  auto size = [](int64_t s) { return s == kDynamicSize ? 1 : s; };
  int64_t b = size(spec.batch), sq = size(spec.querySeqLen),
          sk = size(spec.keySeqLen);
  p.q = {b, spec.numQueryHeads, sq, spec.headDim};
  p.k = {b, spec.numKvHeads, sk, spec.headDim};
  p.v = {b, spec.numKvHeads, sk, spec.valueHeadDim};
  p.dynamicLengths = dynamic;
  p.mask = spec.mask;
  p.biasType = spec.biasType;
  std::array<int64_t, 4> full = {spec.batch, spec.numQueryHeads,
                                 spec.querySeqLen, spec.keySeqLen};
  for (int i = 0; i < 4; ++i) {
    int64_t d = spec.maskShape[i];
    if (d < 0 && d != kDynamicSize)
      return invalidArgument("maskShape[" + llvm::Twine(i) +
                             "] must be >= 0 or kDynamicSize (-1), got " +
                             llvm::Twine(d));
    // A full-size mask dim: static when the size is, and then never 1 in
    // the IR, so that it is not read as a broadcast.
    if (d == kDynamicSize)
      d = full[i] == kDynamicSize ? mlir::ShapedType::kDynamic : full[i];
    p.maskShape[i] = d;
  }
  p.scale = spec.scale;
  p.causal = spec.causal;
  p.windowLeft = spec.windowLeft;
  p.windowRight = spec.windowRight;
  p.softcap = spec.softcap;
  return p;
}

/// What a CUDA kernel needs besides its spec: the bundle, and the kernel
/// loaded from it on first launch (into the launch device's primary
/// context, which the CUDA runtime and frameworks share).
struct Kernel::Gpu {
  rt::Bundle bundle;
  std::mutex mutex; ///< guards `loaded`
  std::optional<rt::LoadedBundle> loaded;

  /// The loaded kernel, its context current on the calling thread.
  Expected<const rt::LoadedBundle *> load(int device);
};

Expected<const rt::LoadedBundle *> Kernel::Gpu::load(int device) {
  auto fail = [](const rt::Status &s) {
    return llvm::createStringError(s.getMessage());
  };
  std::lock_guard<std::mutex> lock(mutex);
  if (loaded) {
    if (loaded->context.getDevice().ordinal != device)
      return invalidArgument(
          "the kernel is loaded on " + loaded->context.getDevice().describe() +
          "; compile it again to launch it on device " + llvm::Twine(device));
    if (rt::Status s = loaded->context.makeCurrent(); !s.ok())
      return fail(s);
    return &*loaded;
  }
  rt::Result<const rt::Driver *> driver = rt::Driver::get();
  if (!driver.ok())
    return fail(driver.getStatus());
  rt::Result<rt::LoadedBundle> load =
      rt::LoadedBundle::load(**driver, device, bundle);
  if (!load.ok())
    return fail(load.getStatus());
  loaded.emplace(std::move(*load));
  return &*loaded;
}

Kernel::Kernel(AttentionSpec spec, AttentionProblem problem)
    : spec(std::move(spec)), problem(std::move(problem)) {}
Kernel::~Kernel() = default;

const rt::Bundle *Kernel::getBundle() const {
  return gpu ? &gpu->bundle : nullptr;
}

Expected<AttentionBuffers> Kernel::toBuffers(const LaunchArgs &args) const {
  for (auto [name, compiled, given] :
       {std::tuple<const char *, int64_t, int64_t>{"batch", spec.batch,
                                                   args.batch},
        {"querySeqLen", spec.querySeqLen, args.querySeqLen},
        {"keySeqLen", spec.keySeqLen, args.keySeqLen}}) {
    if (given < 0)
      return invalidArgument(llvm::Twine(name) + " must be >= 0, got " +
                             llvm::Twine(given));
    if (compiled != kDynamicSize && given != compiled)
      return invalidArgument(llvm::Twine(name) + " is " + llvm::Twine(given) +
                             " but the kernel was compiled for " +
                             llvm::Twine(compiled) +
                             " (compile with kDynamicSize to choose it at "
                             "launch)");
  }
  bool hasMask = spec.mask != AttentionProblem::Mask::None;
  if (args.mask && !hasMask)
    return invalidArgument(
        "a mask buffer was given but the kernel was compiled without a mask");

  AttentionBuffers b;
  b.q = args.q, b.k = args.k, b.v = args.v, b.mask = args.mask;
  b.o = args.o, b.lse = args.lse;
  b.qShape = {args.batch, spec.numQueryHeads, args.querySeqLen, spec.headDim};
  b.kShape = {args.batch, spec.numKvHeads, args.keySeqLen, spec.headDim};
  b.vShape = {args.batch, spec.numKvHeads, args.keySeqLen, spec.valueHeadDim};
  std::array<int64_t, 4> full = {args.batch, spec.numQueryHeads,
                                 args.querySeqLen, args.keySeqLen};
  for (int i = 0; hasMask && i < 4; ++i)
    b.maskShape[i] =
        spec.maskShape[i] == kDynamicSize ? full[i] : spec.maskShape[i];
  b.qStrides = args.qStrides, b.kStrides = args.kStrides;
  b.vStrides = args.vStrides, b.oStrides = args.oStrides;
  return b;
}

Error Kernel::launch(const LaunchArgs &args) const {
  Expected<AttentionBuffers> buffers = toBuffers(args);
  if (!buffers)
    return buffers.takeError();
  if (cpu)
    return cpu->run(*buffers);
  if (Error e = checkBuffers(problem, *buffers))
    return e;
  return launchGpu(*buffers, args);
}

Error Kernel::launchGpu(const AttentionBuffers &b,
                        const LaunchArgs &args) const {
  // The GPU kernel indexes dense [B, H, S, D] buffers so far.
  const std::array<int64_t, 4> &qs = b.qShape;
  std::array<int64_t, 4> oShape = {qs[0], qs[1], qs[2], b.vShape[3]};
  for (auto [name, shape, given] : {std::tuple{"Q", &qs, &b.qStrides},
                                    {"K", &b.kShape, &b.kStrides},
                                    {"V", &b.vShape, &b.vStrides},
                                    {"O", &oShape, &b.oStrides}})
    if (*given && **given != denseStrides(*shape))
      return notSupported(llvm::Twine("CUDA kernels take dense [B, H, S, D] "
                                      "buffers so far: ") +
                          name + " strides " + formatShape(**given) +
                          " differ from " + formatShape(denseStrides(*shape)));

  Expected<const rt::LoadedBundle *> loaded = gpu->load(args.device);
  if (!loaded)
    return loaded.takeError();
  // Parameters in the order of the bundle's metadata, which the kernel
  // emitter owns: buffers by name, then the sequence lengths.
  const rt::BundleMetadata &m = gpu->bundle.metadata;
  std::vector<rt::DevicePtr> pointers;
  std::vector<int64_t> values;
  // Reserved up front: `params` points into both.
  pointers.reserve(m.args.size());
  values.reserve(m.args.size());
  const std::pair<llvm::StringRef, const void *> buffers[] = {
      {"q", b.q},       {"k", b.k}, {"v", b.v},
      {"mask", b.mask}, {"o", b.o}, {"lse", b.lse}};
  const std::pair<llvm::StringRef, int64_t> sizes[] = {{"sq", qs[2]},
                                                       {"sk", b.kShape[2]}};
  std::vector<void *> params;
  for (const rt::KernelArg &a : m.args) {
    auto named = [&](const auto &entry) { return entry.first == a.name; };
    const auto *buffer = llvm::find_if(buffers, named);
    const auto *size = llvm::find_if(sizes, named);
    if (buffer != std::end(buffers) && a.kind == rt::ArgKind::Pointer) {
      pointers.push_back(reinterpret_cast<uintptr_t>(buffer->second));
      params.push_back(&pointers.back());
    } else if (size != std::end(sizes) && a.kind == rt::ArgKind::I64) {
      values.push_back(size->second);
      params.push_back(&values.back());
    } else {
      return llvm::createStringError(
          "the kernel takes a parameter '" + a.name +
          "' that this launcher does not know (bundle from a newer attn?)");
    }
  }
  if (rt::Status s = (*loaded)->kernel.launch(
          m.launch, params.data(), static_cast<CUstream_st *>(args.stream));
      !s.ok())
    return llvm::createStringError(s.getMessage());
  return Error::success();
}

CpuCompileOptions Compiler::getCpuOptions(const AttentionSpec &spec) const {
  CpuCompileOptions cpu;
  cpu.qTile = spec.qTile;
  cpu.kTile = spec.kTile;
  cpu.numThreads = options.numThreads;
  return cpu;
}

Expected<std::shared_ptr<const Kernel>>
Compiler::compile(const AttentionSpec &spec) const {
  Expected<AttentionProblem> problem = toProblem(spec);
  if (!problem)
    return problem.takeError();
  KernelCache &cache =
      options.cache ? *options.cache : KernelCache::getDefault();
  if (!cache.isEnabled())
    return build(spec, *problem, cache);
  // Finished kernels by the key of their code. Never destroyed: a CPU
  // kernel's ExecutionEngine must not be torn down during static
  // destruction (see CpuKernel::compileCached).
  static MemoryCache<Kernel> &kernels = *new MemoryCache<Kernel>();
#ifdef ATTN_HAVE_GPU_JIT
  Expected<CacheKey> key =
      spec.target == "cpu"
          ? getCpuKernelCacheKey(*problem, getCpuOptions(spec))
          : getGpuBundleCacheKey(*problem, spec.target, spec.gpuTiles);
#else
  if (spec.target != "cpu")
    return build(spec, *problem, cache); // says why it cannot
  Expected<CacheKey> key = getCpuKernelCacheKey(*problem, getCpuOptions(spec));
#endif
  if (!key)
    return key.takeError();
  return kernels.getOrCompute(key->getDigest(),
                              [&] { return build(spec, *problem, cache); });
}

Expected<std::shared_ptr<const Kernel>>
Compiler::build(const AttentionSpec &spec, const AttentionProblem &problem,
                KernelCache &cache) const {
  std::shared_ptr<Kernel> kernel(new Kernel(spec, problem));
  if (spec.target == "cpu") {
    Expected<std::unique_ptr<CpuKernel>> compiled =
        CpuKernel::compileThrough(problem, getCpuOptions(spec), cache);
    if (!compiled)
      return compiled.takeError();
    kernel->cpu = std::move(*compiled);
    return kernel;
  }
#ifdef ATTN_HAVE_GPU_JIT
  std::string reason;
  if (!isGpuSupported(problem, reason))
    return notSupported("the CUDA backend does not support this spec yet: " +
                        reason);
  Expected<rt::Bundle> bundle =
      compileGpuBundleCached(problem, spec.target, cache, spec.gpuTiles);
  if (!bundle)
    return bundle.takeError();
  kernel->gpu = std::make_unique<Kernel::Gpu>();
  kernel->gpu->bundle = std::move(*bundle);
  return kernel;
#else
  (void)cache;
  return notSupported("target '" + spec.target +
                      "': this attn was built without the CUDA toolkit "
                      "(nvJitLink), so it compiles for \"cpu\" only");
#endif
}

} // namespace attn
