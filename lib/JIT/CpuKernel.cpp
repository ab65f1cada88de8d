//===- CpuKernel.cpp - JIT-compiled attention on the host CPU -------------===//

#include "attn/JIT/CpuKernel.h"
#include "attn/Dialect/Attn.h"
#include "attn/InitAll.h"
#include "attn/Pipelines/Pipelines.h"
#include "attn/Support/Format.h"
#include "attn/Transforms/Utils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/bit.h"
#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/DynamicLibrary.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/TargetParser/Host.h"

#include <mutex>

using namespace mlir;
using llvm::Error;
using llvm::Expected;

namespace attn {

namespace {

Type elementType(OpBuilder &b, ElementType t) {
  switch (t) {
  case ElementType::F32:
    return b.getF32Type();
  case ElementType::F16:
    return b.getF16Type();
  case ElementType::BF16:
    return b.getBF16Type();
  }
  llvm_unreachable("unknown element type");
}

/// Shapes of the problem with B, Sq and Sk dynamic when requested.
struct ProblemShapes {
  SmallVector<int64_t> q, k, v, mask, o, lse;
};

ProblemShapes getShapes(const AttentionProblem &p) {
  ProblemShapes s;
  s.q.assign(p.q.begin(), p.q.end());
  s.k.assign(p.k.begin(), p.k.end());
  s.v.assign(p.v.begin(), p.v.end());
  s.mask.assign(p.maskShape.begin(), p.maskShape.end());
  if (p.dynamicLengths) {
    for (SmallVector<int64_t> *t : {&s.q, &s.k, &s.v}) {
      (*t)[0] = ShapedType::kDynamic;
      (*t)[2] = ShapedType::kDynamic;
    }
    for (int64_t i : {0, 2, 3})
      if (s.mask[i] != 1)
        s.mask[i] = ShapedType::kDynamic;
  }
  s.o = {s.q[0], s.q[1], s.q[2], s.v[3]};
  s.lse = {s.q[0], s.q[1], s.q[2]};
  return s;
}

/// Copies the dense [B, H, S, Dv] `from` into the row-strided `to`, one
/// work item per row. A memref.copy into a non-contiguous buffer would lower
/// to a call into MLIR's runner utilities (an element-by-element loop in a
/// library the JIT does not load); this inner loop is vectorized by LLVM.
void copyRowsOut(OpBuilder &b, Location loc, Value from, Value to) {
  SmallVector<OpFoldResult> rows;
  for (int64_t i = 0; i < 3; ++i)
    rows.push_back(mlir::attn::getDimValue(b, loc, from, i));
  scf::ForallOp::create(
      b, loc, rows, ValueRange{}, std::nullopt,
      [&](OpBuilder &rb, Location rl, ValueRange row) {
        Value c0 = arith::ConstantIndexOp::create(rb, rl, 0);
        Value c1 = arith::ConstantIndexOp::create(rb, rl, 1);
        scf::ForOp::create(
            rb, rl, c0, mlir::attn::getDimValue(rb, rl, from, 3), c1,
            ValueRange{}, [&](OpBuilder &eb, Location el, Value d, ValueRange) {
              SmallVector<Value> at(row.begin(), row.end());
              at.push_back(d);
              Value x = memref::LoadOp::create(eb, el, from, at);
              memref::StoreOp::create(eb, el, x, to, at);
              scf::YieldOp::create(eb, el);
            });
        scf::InParallelOp::create(rb, rl);
      });
}

/// func.func @attention(Q, K, V, [mask], O, LSE) on memrefs, computing with
/// attn.attention on tensors views of them.
OwningOpRef<ModuleOp> buildModule(MLIRContext &ctx, const AttentionProblem &p) {
  OpBuilder b(&ctx);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());

  ProblemShapes s = getShapes(p);
  Type et = elementType(b, p.dtype);
  // Q, K, V and O take any outer strides, with a contiguous head dimension
  // (the layout -attn-tile reads Q, K and V through), so that one kernel
  // serves BHSD, BSHD and padded buffers; the mask and LSE are dense.
  int64_t dyn = ShapedType::kDynamic;
  auto rowStrided = StridedLayoutAttr::get(&ctx, dyn, {dyn, dyn, dyn, 1});
  auto strided = [&](ArrayRef<int64_t> shape) {
    return MemRefType::get(shape, et, rowStrided);
  };
  SmallVector<Type> args = {strided(s.q), strided(s.k), strided(s.v)};
  if (p.mask != AttentionProblem::Mask::None)
    args.push_back(
        MemRefType::get(s.mask, p.mask == AttentionProblem::Mask::Keep
                                    ? b.getI1Type()
                                    : elementType(b, p.biasType)));
  args.push_back(strided(s.o));
  args.push_back(MemRefType::get(s.lse, b.getF32Type()));

  auto func =
      func::FuncOp::create(b, loc, "attention", b.getFunctionType(args, {}));
  func->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  Block *body = func.addEntryBlock();
  b.setInsertionPointToStart(body);
  auto toTensor = [&](Value m) -> Value {
    auto t = cast<MemRefType>(m.getType());
    return bufferization::ToTensorOp::create(
        b, loc, RankedTensorType::get(t.getShape(), t.getElementType()), m,
        /*restrict=*/true);
  };
  unsigned n = body->getNumArguments();
  Value q = toTensor(body->getArgument(0)), k = toTensor(body->getArgument(1)),
        v = toTensor(body->getArgument(2));
  Value mask = p.mask != AttentionProblem::Mask::None
                   ? toTensor(body->getArgument(3))
                   : Value();
  Value oBuf = body->getArgument(n - 2), lseBuf = body->getArgument(n - 1);

  auto attention = mlir::attn::AttentionOp::create(
      b, loc, RankedTensorType::get(s.o, et),
      RankedTensorType::get(s.lse, b.getF32Type()), q, k, v, mask,
      p.scale ? b.getF64FloatAttr(*p.scale) : FloatAttr(),
      p.causal == AttentionProblem::Causal::None
          ? mlir::attn::CausalAlignmentAttr()
          : mlir::attn::CausalAlignmentAttr::get(
                &ctx, p.causal == AttentionProblem::Causal::TopLeft
                          ? mlir::attn::CausalAlignment::TopLeft
                          : mlir::attn::CausalAlignment::BottomRight),
      (p.windowLeft == -1 && p.windowRight == -1)
          ? DenseI64ArrayAttr()
          : b.getDenseI64ArrayAttr({p.windowLeft, p.windowRight}),
      p.softcap ? b.getF64FloatAttr(*p.softcap) : FloatAttr());
  auto lseCopy = bufferization::MaterializeInDestinationOp::create(
      b, loc, attention.getLse(), lseBuf);
  lseCopy.setRestrict(true);
  lseCopy.setWritable(true);
  copyRowsOut(b, loc,
              bufferization::ToBufferOp::create(
                  b, loc, MemRefType::get(s.o, et), attention.getOutput(),
                  /*read_only=*/true),
              oBuf);
  func::ReturnOp::create(b, loc);
  return module;
}

/// The host CPU's features in LLVM's "+avx512f,-amx-tile,..." form.
std::string getHostFeatures() {
  std::string features;
  for (const auto &f : llvm::sys::getHostCPUFeatures())
    features += (features.empty() ? "" : ",") +
                std::string(f.getValue() ? "+" : "-") + f.getKey().str();
  return features;
}

/// Compiles for this machine: its CPU name and features (so AVX-512 is used
/// where present) and 512-bit vectors legal for the register-blocked loops.
Error tuneForHost(llvm::Module *module) {
  std::string cpu = llvm::sys::getHostCPUName().str();
  std::string features = getHostFeatures();
  for (llvm::Function &f : *module) {
    if (f.isDeclaration())
      continue;
    f.addFnAttr("target-cpu", cpu);
    f.addFnAttr("target-features", features);
    f.addFnAttr("prefer-vector-width", "512");
    f.addFnAttr("min-legal-vector-width", "512");
  }
  return Error::success();
}

/// attn-lower-to-cpu with `options` on `pm`.
void addCpuPipeline(OpPassManager &pm, const CpuCompileOptions &options) {
  mlir::attn::CpuPipelineOptions pipeline;
  pipeline.qTile = options.qTile;
  pipeline.kTile = options.kTile;
  pipeline.numThreads = options.numThreads;
  mlir::attn::buildLowerToCpuPipeline(pm, pipeline);
}

} // namespace

DiagnosticCollector::DiagnosticCollector(MLIRContext &ctx)
    : handler(&ctx, [this](Diagnostic &d) {
        // One line per diagnostic, notes folded in ("; note: ...").
        if (!text.empty())
          text += "; ";
        text += d.str();
        for (Diagnostic &note : d.getNotes())
          text += "; note: " + note.str();
        return success();
      }) {}

Error DiagnosticCollector::takeError(llvm::StringRef what,
                                     std::error_code code) {
  return llvm::createStringError(
      code, (what + (text.empty() ? "" : ": " + text)).str());
}

std::unique_ptr<MLIRContext> createAttnContext() {
  DialectRegistry registry;
  mlir::attn::registerAllDialects(registry);
  auto ctx =
      std::make_unique<MLIRContext>(registry, MLIRContext::Threading::DISABLED);
  ctx->loadAllAvailableDialects();
  // Errors go to users as one line: no IR dump attached to them.
  ctx->printOpOnDiagnostic(false);
  return ctx;
}

Expected<OwningOpRef<ModuleOp>>
buildAttentionModule(MLIRContext &ctx, const AttentionProblem &problem) {
  OwningOpRef<ModuleOp> module = buildModule(ctx, problem);
  DiagnosticCollector diags(ctx);
  if (failed(verify(*module)))
    return diags.takeError("invalid attention problem",
                           std::make_error_code(std::errc::invalid_argument));
  return std::move(module);
}

std::string getProblemFingerprint(const AttentionProblem &problem) {
  // A field added to AttentionProblem makes this binding fail to compile
  // until it is added here too.
  const auto &[dtype, q, k, v, mask, maskShape, biasType, scale, causal,
               windowLeft, windowRight, softcap, dynamicLengths] = problem;
  std::string text;
  llvm::raw_string_ostream os(text);
  auto dims = [&](const std::array<int64_t, 4> &shape) {
    for (int64_t d : shape)
      os << d << ',';
    os << ' ';
  };
  auto real = [&](std::optional<double> x) { // exactly: its bits
    if (x)
      os << llvm::bit_cast<uint64_t>(*x);
    os << ' ';
  };
  os << int(dtype) << ' ';
  dims(q);
  dims(k);
  dims(v);
  os << int(mask) << ' ';
  dims(maskShape);
  os << int(biasType) << ' ';
  real(scale);
  os << int(causal) << ' ' << windowLeft << ' ' << windowRight << ' ';
  real(softcap);
  os << dynamicLengths;
  return text;
}

Expected<std::string>
buildAttentionModuleText(const AttentionProblem &problem) {
  // Kernel cache keys contain this text, so every cached compile, hits
  // included, needs it, and building and printing the module takes ~0.1 ms:
  // it is built once per problem in this process (a few KB each, next to
  // the kernel compiled from it), in one context per thread (creating one,
  // with every dialect loaded, takes milliseconds).
  static MemoryCache<std::string> &texts = *new MemoryCache<std::string>();
  Expected<std::shared_ptr<const std::string>> text = texts.getOrCompute(
      getProblemFingerprint(problem),
      [&]() -> Expected<std::shared_ptr<const std::string>> {
        thread_local std::unique_ptr<MLIRContext> ctx = createAttnContext();
        Expected<OwningOpRef<ModuleOp>> module =
            buildAttentionModule(*ctx, problem);
        if (!module)
          return module.takeError();
        auto printed = std::make_shared<std::string>();
        llvm::raw_string_ostream os(*printed);
        (*module)->print(os);
        return printed;
      });
  if (!text)
    return text.takeError();
  return **text;
}

std::string getPipelineText(llvm::StringRef name,
                            llvm::function_ref<void(OpPassManager &)> build) {
  static std::mutex mutex;
  static llvm::StringMap<std::string> texts;
  std::lock_guard<std::mutex> lock(mutex);
  std::string &text = texts[name];
  if (text.empty()) {
    MLIRContext ctx(MLIRContext::Threading::DISABLED);
    PassManager pm(&ctx);
    build(pm);
    llvm::raw_string_ostream os(text);
    pm.printAsTextualPipeline(os);
  }
  return text;
}

Expected<CacheKey> getCpuKernelCacheKey(const AttentionProblem &problem,
                                        const CpuCompileOptions &options) {
  Expected<std::string> spec = buildAttentionModuleText(problem);
  if (!spec)
    return spec.takeError();
  // The host's features do not change while the process runs.
  static const std::string features = getHostFeatures();
  std::string pipeline = getPipelineText(
      llvm::formatv("attn-lower-to-cpu {0} {1} {2}", options.qTile,
                    options.kTile, options.numThreads)
          .str(),
      [&](OpPassManager &pm) { addCpuPipeline(pm, options); });
  CacheKey key("cpu-kernel");
  key.add("host-cpu", llvm::sys::getHostCPUName())
      .add("host-features", features)
      .add("pipeline", pipeline)
      .add("spec", *spec);
  return key;
}

Expected<std::shared_ptr<const CpuKernel>>
CpuKernel::compileCached(const AttentionProblem &problem,
                         const CpuCompileOptions &options,
                         CacheSource *source) {
  // Never destroyed: a kernel's ExecutionEngine must not be torn down during
  // static destruction, after the LLVM and OpenMP state it uses (that
  // crashes at exit); the OS reclaims it.
  static MemoryCache<CpuKernel> &kernels = *new MemoryCache<CpuKernel>();
  Expected<CacheKey> key = getCpuKernelCacheKey(problem, options);
  if (!key)
    return key.takeError();
  bool hit = false;
  CacheSource found = CacheSource::Computed;
  Expected<std::shared_ptr<const CpuKernel>> kernel = kernels.getOrCompute(
      key->getDigest(),
      [&]() -> Expected<std::shared_ptr<const CpuKernel>> {
        return compileThrough(problem, options, KernelCache::getDefault(),
                              &found);
      },
      &hit);
  if (kernel && source)
    *source = hit ? CacheSource::Memory : found;
  return kernel;
}

Expected<std::unique_ptr<CpuKernel>>
CpuKernel::compileThrough(const AttentionProblem &problem,
                          const CpuCompileOptions &options, KernelCache &cache,
                          CacheSource *source) {
  if (!cache.isEnabled()) {
    if (source)
      *source = CacheSource::Computed;
    return compile(problem, options);
  }
  Expected<CacheKey> key = getCpuKernelCacheKey(problem, options);
  if (!key)
    return key.takeError();
  // The kernel compiled for the object, if the cache had none.
  std::unique_ptr<CpuKernel> compiled;
  Expected<CacheLookup> lookup =
      cache.getOrCompute(*key, [&]() -> Expected<std::string> {
        std::string object;
        Expected<std::unique_ptr<CpuKernel>> kernel =
            compile(problem, options, &object);
        if (!kernel)
          return kernel.takeError();
        compiled = std::move(*kernel);
        return object;
      });
  if (!lookup)
    return lookup.takeError();
  if (source)
    *source = lookup->source;
  if (compiled)
    return std::move(compiled);
  return load(problem, *lookup->bytes);
}

namespace {
/// LLVM's host target, for compiling and for linking objects (once).
void initNativeTarget() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
}

/// Makes the OpenMP runtime's symbols visible to code JIT-linked into this
/// process, or says why it cannot.
Error loadOpenMPRuntime() {
  if (!llvm::sys::fs::exists(ATTN_OPENMP_LIBRARY))
    return llvm::createStringError(
        "OpenMP runtime not found at '" ATTN_OPENMP_LIBRARY
        "' (install libomp-22-dev)");
  std::string error;
  if (llvm::sys::DynamicLibrary::LoadLibraryPermanently(ATTN_OPENMP_LIBRARY,
                                                        &error))
    return llvm::createStringError("cannot load the OpenMP runtime '" +
                                   llvm::Twine(ATTN_OPENMP_LIBRARY) +
                                   "': " + error);
  return Error::success();
}

/// The kernel's C interface; the ExecutionEngine adds a packed wrapper,
/// "_mlir_" + kEntry, that takes pointers to the arguments.
constexpr llvm::StringLiteral kEntry = "_mlir_ciface_attention";
} // namespace

Expected<std::unique_ptr<CpuKernel>>
CpuKernel::load(const AttentionProblem &problem, llvm::StringRef object) {
  initNativeTarget();
  if (Error e = loadOpenMPRuntime())
    return std::move(e);
  auto host = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!host)
    return host.takeError();
  auto jit = llvm::orc::LLJITBuilder()
                 .setJITTargetMachineBuilder(std::move(*host))
                 .create();
  if (!jit)
    return jit.takeError();
  // Calls into libc, libm and the OpenMP runtime resolve in this process.
  auto process = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      (*jit)->getDataLayout().getGlobalPrefix());
  if (!process)
    return process.takeError();
  (*jit)->getMainJITDylib().addGenerator(std::move(*process));
  if (Error e = (*jit)->addObjectFile(
          llvm::MemoryBuffer::getMemBufferCopy(object, "attn-cpu-kernel.o")))
    return std::move(e);
  auto symbol = (*jit)->lookup(("_mlir_" + kEntry).str());
  if (!symbol)
    return symbol.takeError();
  std::unique_ptr<CpuKernel> kernel(new CpuKernel(problem));
  kernel->entry = symbol->toPtr<void (*)(void **)>();
  kernel->jit = std::move(*jit);
  return std::move(kernel);
}

CpuKernel::CpuKernel(const AttentionProblem &problem) : problem(problem) {}
CpuKernel::~CpuKernel() = default;

Expected<std::unique_ptr<CpuKernel>>
CpuKernel::compile(const AttentionProblem &problem,
                   const CpuCompileOptions &options) {
  return compile(problem, options, nullptr);
}

Expected<std::unique_ptr<CpuKernel>>
CpuKernel::compile(const AttentionProblem &problem,
                   const CpuCompileOptions &options, std::string *object) {
  initNativeTarget();

  std::unique_ptr<CpuKernel> kernel(new CpuKernel(problem));
  kernel->context = createAttnContext();
  MLIRContext &ctx = *kernel->context;
  Expected<OwningOpRef<ModuleOp>> built = buildAttentionModule(ctx, problem);
  if (!built)
    return built.takeError();
  OwningOpRef<ModuleOp> module = std::move(*built);

  {
    DiagnosticCollector diags(ctx);
    PassManager pm(&ctx);
    addCpuPipeline(pm, options);
    // Verified once at the end rather than after each pass (about half of
    // the pipeline's time, ~40 ms); attn-opt and the lit tests verify after
    // every pass. Invalid IR stops here, before the LLVM translation.
    pm.enableVerifier(false);
    if (failed(pm.run(*module)) || failed(mlir::verify(*module)))
      return diags.takeError("attn-lower-to-cpu failed");
  }

  if (Error e = loadOpenMPRuntime())
    return std::move(e);
  llvm::StringRef libs[] = {ATTN_OPENMP_LIBRARY};
  auto tm = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!tm)
    return tm.takeError();
  auto machine = tm->createTargetMachine();
  if (!machine)
    return machine.takeError();
  auto optimize = makeOptimizingTransformer(3, 0, machine->get());
  auto transformer = [&](llvm::Module *m) -> Error {
    if (Error e = tuneForHost(m))
      return e;
    return optimize(m);
  };
  ExecutionEngineOptions engineOptions;
  engineOptions.transformer = transformer;
  engineOptions.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Aggressive;
  engineOptions.sharedLibPaths = libs;
  engineOptions.enableObjectDump = object != nullptr;
  {
    DiagnosticCollector diags(ctx);
    auto engine = ExecutionEngine::create(*module, engineOptions);
    if (!engine)
      return engine.takeError();
    kernel->engine = std::move(*engine);
  }
  auto entry = kernel->engine->lookupPacked(kEntry);
  if (!entry)
    return entry.takeError();
  kernel->entry = *entry;
  if (object) {
    // The ExecutionEngine hands its object out only as a file.
    llvm::SmallString<128> path;
    if (std::error_code ec =
            llvm::sys::fs::createTemporaryFile("attn-cpu-kernel", "o", path))
      return llvm::createStringError("cannot create a temporary file: " +
                                     ec.message());
    llvm::FileRemover remove(path);
    kernel->engine->dumpToObjectFile(path);
    auto bytes = llvm::MemoryBuffer::getFile(path);
    if (!bytes || (*bytes)->getBufferSize() == 0)
      return llvm::createStringError(
          "the ExecutionEngine wrote no object file for the CPU kernel");
    *object = (*bytes)->getBuffer().str();
  }
  return std::move(kernel);
}

namespace {
/// The memref descriptor of the C interface for a rank-N buffer.
template <size_t N> struct Descriptor {
  void *allocated;
  void *aligned;
  int64_t offset;
  int64_t sizes[N];
  int64_t strides[N];
};

template <size_t N>
Descriptor<N> describe(const void *data, const std::array<int64_t, N> &shape,
                       const std::array<int64_t, N> &strides) {
  Descriptor<N> d;
  d.allocated = d.aligned = const_cast<void *>(data);
  d.offset = 0;
  for (size_t i = 0; i < N; ++i) {
    d.sizes[i] = shape[i];
    d.strides[i] = strides[i];
  }
  return d;
}

/// The strides of a row-strided operand: `given` or dense, checked.
Expected<std::array<int64_t, 4>>
rowStrides(llvm::StringRef name, const std::array<int64_t, 4> &shape,
           const AttentionBuffers::Strides &given) {
  if (!given)
    return denseStrides(shape);
  for (size_t i = 0; i < 4; ++i)
    if ((*given)[i] < 0)
      return llvm::createStringError(
          std::errc::invalid_argument,
          "%s stride %lld (dim %zu) must be non-negative", name.str().c_str(),
          static_cast<long long>((*given)[i]), i);
  if ((*given)[3] != 1)
    return llvm::createStringError(
        std::errc::invalid_argument,
        "%s strides %s: the head dim must be contiguous (stride 1)",
        name.str().c_str(), formatShape(*given).c_str());
  return *given;
}

/// The checked strides of Q, K, V and O, in that order.
Expected<std::array<std::array<int64_t, 4>, 4>>
allRowStrides(const AttentionBuffers &buf) {
  const std::array<int64_t, 4> &qs = buf.qShape, &vs = buf.vShape;
  std::array<int64_t, 4> oShape = {qs[0], qs[1], qs[2], vs[3]};
  std::array<std::array<int64_t, 4>, 4> strides;
  for (auto [i, name, shape, given] : {std::tuple{0, "Q", &qs, &buf.qStrides},
                                       {1, "K", &buf.kShape, &buf.kStrides},
                                       {2, "V", &vs, &buf.vStrides},
                                       {3, "O", &oShape, &buf.oStrides}}) {
    Expected<std::array<int64_t, 4>> checked = rowStrides(name, *shape, *given);
    if (!checked)
      return checked.takeError();
    strides[i] = *checked;
  }
  return strides;
}

} // namespace

Error checkBuffers(const AttentionProblem &problem,
                   const AttentionBuffers &buf) {
  // 1. The buffers must match the compiled shapes (dynamic dims: agree
  //    among themselves).
  ProblemShapes s = getShapes(problem);
  auto check = [&](llvm::StringRef name, llvm::ArrayRef<int64_t> compiled,
                   llvm::ArrayRef<int64_t> actual) -> Error {
    if (llvm::any_of(actual, [](int64_t d) { return d < 0; }))
      return llvm::createStringError(
          std::errc::invalid_argument, "%s has a negative size in shape %s",
          name.str().c_str(), formatShape(actual).c_str());
    for (size_t i = 0; i < compiled.size(); ++i)
      if (!ShapedType::isDynamic(compiled[i]) && compiled[i] != actual[i])
        return llvm::createStringError(
            std::errc::invalid_argument,
            "%s has shape %s but the kernel was compiled for %s",
            name.str().c_str(), formatShape(actual).c_str(),
            formatShape(compiled).c_str());
    return Error::success();
  };
  bool hasMask = problem.mask != AttentionProblem::Mask::None;
  if (Error e = check("Q", s.q, buf.qShape))
    return e;
  if (Error e = check("K", s.k, buf.kShape))
    return e;
  if (Error e = check("V", s.v, buf.vShape))
    return e;
  if (hasMask)
    if (Error e = check("mask", s.mask, buf.maskShape))
      return e;
  const auto &qs = buf.qShape, &ks = buf.kShape, &vs = buf.vShape;
  if (ks[0] != qs[0] || vs[0] != qs[0] || vs[2] != ks[2])
    return llvm::createStringError(
        std::errc::invalid_argument, "inconsistent shapes: Q %s, K %s, V %s",
        formatShape(qs).c_str(), formatShape(ks).c_str(),
        formatShape(vs).c_str());
  std::array<int64_t, 4> full = {qs[0], qs[1], qs[2], ks[2]};
  for (int i = 0; hasMask && i < 4; ++i)
    if (buf.maskShape[i] != 1 && buf.maskShape[i] != full[i])
      return llvm::createStringError(
          std::errc::invalid_argument, "mask shape %s does not broadcast to %s",
          formatShape(buf.maskShape).c_str(), formatShape(full).c_str());

  // 2. Pointers: empty buffers may be null (e.g. K and V when Sk = 0).
  std::array<int64_t, 4> oShape = {qs[0], qs[1], qs[2], vs[3]};
  for (auto [name, data, shape] :
       {std::tuple<const char *, const void *, llvm::ArrayRef<int64_t>>{
            "Q", buf.q, qs},
        {"K", buf.k, ks},
        {"V", buf.v, vs},
        {"O", buf.o, oShape},
        {"LSE", buf.lse, llvm::ArrayRef(oShape).take_front(3)},
        {"mask", buf.mask, buf.maskShape}}) {
    if (!hasMask && llvm::StringRef(name) == "mask")
      continue;
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    if (!data && n > 0)
      return llvm::createStringError(
          std::errc::invalid_argument,
          "the %s buffer is null but has %lld elements (shape %s)", name,
          static_cast<long long>(n), formatShape(shape).c_str());
  }

  // 3. Strides.
  return allRowStrides(buf).takeError();
}

Error CpuKernel::run(const AttentionBuffers &buf) const {
  if (Error e = checkBuffers(problem, buf))
    return e;

  // Call the C interface through the packed wrapper.
  Expected<std::array<std::array<int64_t, 4>, 4>> strides = allRowStrides(buf);
  if (!strides)
    return strides.takeError();
  const auto &qs = buf.qShape;
  std::array<int64_t, 4> oShape = {qs[0], qs[1], qs[2], buf.vShape[3]};
  std::array<int64_t, 3> lseShape = {qs[0], qs[1], qs[2]};
  Descriptor<4> dq = describe(buf.q, qs, (*strides)[0]),
                dk = describe(buf.k, buf.kShape, (*strides)[1]),
                dv = describe(buf.v, buf.vShape, (*strides)[2]),
                dm = describe(buf.mask, buf.maskShape,
                              denseStrides(buf.maskShape)),
                dout = describe(buf.o, oShape, (*strides)[3]);
  Descriptor<3> dlse = describe(buf.lse, lseShape, denseStrides(lseShape));
  SmallVector<void *> descs = {&dq, &dk, &dv};
  if (problem.mask != AttentionProblem::Mask::None)
    descs.push_back(&dm);
  descs.push_back(&dout);
  descs.push_back(&dlse);
  SmallVector<void *> args;
  for (void *&d : descs)
    args.push_back(&d);
  entry(args.data());
  return Error::success();
}

} // namespace attn
