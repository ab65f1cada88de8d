//===- CpuKernel.cpp - JIT-compiled attention on the host CPU -------------===//

#include "attn/JIT/CpuKernel.h"
#include "attn/Dialect/Attn.h"
#include "attn/InitAll.h"
#include "attn/Pipelines/Pipelines.h"
#include "attn/Support/Format.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
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

/// func.func @attention(Q, K, V, [mask], O, LSE) on memrefs, computing with
/// attn.attention on tensors views of them.
OwningOpRef<ModuleOp> buildModule(MLIRContext &ctx,
                                  const AttentionProblem &p) {
  OpBuilder b(&ctx);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());

  ProblemShapes s = getShapes(p);
  Type et = elementType(b, p.dtype);
  SmallVector<Type> args = {MemRefType::get(s.q, et), MemRefType::get(s.k, et),
                            MemRefType::get(s.v, et)};
  if (p.mask != AttentionProblem::Mask::None)
    args.push_back(MemRefType::get(s.mask, p.mask == AttentionProblem::Mask::Keep
                                               ? b.getI1Type()
                                               : elementType(b, p.biasType)));
  args.push_back(MemRefType::get(s.o, et));
  args.push_back(MemRefType::get(s.lse, b.getF32Type()));

  auto func = func::FuncOp::create(b, loc, "attention",
                                   b.getFunctionType(args, {}));
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
  Value buffers[] = {oBuf, lseBuf};
  for (auto [result, buffer] : llvm::zip(attention->getResults(), buffers)) {
    auto m = bufferization::MaterializeInDestinationOp::create(b, loc, result,
                                                               buffer);
    m.setRestrict(true);
    m.setWritable(true);
  }
  func::ReturnOp::create(b, loc);
  return module;
}

/// Compiles for this machine: its CPU name and features (so AVX-512 is used
/// where present) and 512-bit vectors legal for the register-blocked loops.
Error tuneForHost(llvm::Module *module) {
  std::string cpu = llvm::sys::getHostCPUName().str();
  std::string features;
  for (const auto &f : llvm::sys::getHostCPUFeatures())
    features += (features.empty() ? "" : ",") +
                std::string(f.getValue() ? "+" : "-") + f.getKey().str();
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

Error DiagnosticCollector::takeError(llvm::StringRef what) {
  return llvm::createStringError(
      (what + (text.empty() ? "" : ": " + text)).str());
}

std::unique_ptr<MLIRContext> createAttnContext() {
  DialectRegistry registry;
  mlir::attn::registerAllDialects(registry);
  auto ctx = std::make_unique<MLIRContext>(registry,
                                           MLIRContext::Threading::DISABLED);
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
    return diags.takeError("invalid attention problem");
  return std::move(module);
}

Expected<std::string> buildAttentionModuleText(const AttentionProblem &problem) {
  std::unique_ptr<MLIRContext> ctx = createAttnContext();
  Expected<OwningOpRef<ModuleOp>> module = buildAttentionModule(*ctx, problem);
  if (!module)
    return module.takeError();
  std::string text;
  llvm::raw_string_ostream os(text);
  (*module)->print(os);
  return text;
}

CpuKernel::CpuKernel(const AttentionProblem &problem) : problem(problem) {}
CpuKernel::~CpuKernel() = default;

Expected<std::unique_ptr<CpuKernel>>
CpuKernel::compile(const AttentionProblem &problem,
                   const CpuCompileOptions &options) {
  static std::once_flag initTarget;
  std::call_once(initTarget, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });

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
    mlir::attn::CpuPipelineOptions pipeline;
    pipeline.qTile = options.qTile;
    pipeline.kTile = options.kTile;
    pipeline.numThreads = options.numThreads;
    mlir::attn::buildLowerToCpuPipeline(pm, pipeline);
    if (failed(pm.run(*module)))
      return diags.takeError("attn-lower-to-cpu failed");
  }

  if (!llvm::sys::fs::exists(ATTN_OPENMP_LIBRARY))
    return llvm::createStringError(
        "OpenMP runtime not found at '" ATTN_OPENMP_LIBRARY
        "' (install libomp-22-dev)");
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
  {
    DiagnosticCollector diags(ctx);
    auto engine = ExecutionEngine::create(*module, engineOptions);
    if (!engine)
      return engine.takeError();
    kernel->engine = std::move(*engine);
  }
  return std::move(kernel);
}

namespace {
/// The memref descriptor of the C interface for a rank-N buffer.
template <int N>
struct Descriptor {
  void *allocated;
  void *aligned;
  int64_t offset;
  int64_t sizes[N];
  int64_t strides[N];
};

template <int N>
Descriptor<N> describe(const void *data, llvm::ArrayRef<int64_t> shape) {
  Descriptor<N> d;
  d.allocated = d.aligned = const_cast<void *>(data);
  d.offset = 0;
  int64_t stride = 1;
  for (int i = N - 1; i >= 0; --i) {
    d.sizes[i] = shape[i];
    d.strides[i] = stride;
    stride *= shape[i];
  }
  return d;
}

} // namespace

Error CpuKernel::run(const AttentionBuffers &buf) const {
  // 1. The buffers must match the compiled shapes (dynamic dims: agree
  //    among themselves).
  ProblemShapes s = getShapes(problem);
  auto check = [&](llvm::StringRef name, llvm::ArrayRef<int64_t> compiled,
                   llvm::ArrayRef<int64_t> actual) -> Error {
    for (size_t i = 0; i < compiled.size(); ++i)
      if (!ShapedType::isDynamic(compiled[i]) && compiled[i] != actual[i])
        return llvm::createStringError(
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
        "inconsistent shapes: Q %s, K %s, V %s", formatShape(qs).c_str(),
        formatShape(ks).c_str(), formatShape(vs).c_str());
  std::array<int64_t, 4> full = {qs[0], qs[1], qs[2], ks[2]};
  for (int i = 0; hasMask && i < 4; ++i)
    if (buf.maskShape[i] != 1 && buf.maskShape[i] != full[i])
      return llvm::createStringError(
          "mask shape %s does not broadcast to %s",
          formatShape(buf.maskShape).c_str(), formatShape(full).c_str());
  // Empty buffers may be null (e.g. K and V when Sk = 0).
  auto missing = [](const void *p, llvm::ArrayRef<int64_t> shape) {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return !p && n > 0;
  };
  std::array<int64_t, 4> oShape = {qs[0], qs[1], qs[2], vs[3]};
  if (missing(buf.q, qs) || missing(buf.k, ks) || missing(buf.v, vs) ||
      missing(buf.o, oShape) || missing(buf.lse, llvm::ArrayRef(oShape).take_front(3)) ||
      (hasMask && missing(buf.mask, buf.maskShape)))
    return llvm::createStringError("null buffer passed to the attention kernel");

  // 2. Call the C interface through the packed wrapper.
  Descriptor<4> dq = describe<4>(buf.q, qs), dk = describe<4>(buf.k, ks),
                dv = describe<4>(buf.v, vs),
                dm = describe<4>(buf.mask, buf.maskShape),
                dout = describe<4>(buf.o, oShape);
  Descriptor<3> dlse = describe<3>(buf.lse, llvm::ArrayRef(oShape).take_front(3));
  SmallVector<void *> descs = {&dq, &dk, &dv};
  if (hasMask)
    descs.push_back(&dm);
  descs.push_back(&dout);
  descs.push_back(&dlse);
  SmallVector<void *> args;
  for (void *&d : descs)
    args.push_back(&d);
  return engine->invokePacked("_mlir_ciface_attention", args);
}

} // namespace attn
