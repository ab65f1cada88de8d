//===- attn-compile.cpp - compile one attention into a GPU kernel bundle --===//
//
//   attn-compile --shape B,Hq,Hkv,Sq,Sk,D,Dv [--dtype f16] [--scale S]
//                [--causal top-left|bottom-right] [--window L,R]
//                [--chip sm_80|sm_86|sm_89|sm_90a] --out KERNEL.attnb
//
// Ahead-of-time path of the GPU backend: builds the attn.attention of the
// problem (verified like attn-run's), lowers it with attn-lower-to-ptx,
// assembles the PTX into a cubin with nvJitLink (refusing spills) and writes
// a kernel bundle (cubin + launch metadata) that the MLIR-free runtime — or
// any CUDA driver client — can launch on a machine without LLVM/MLIR.
// Exit status 0 on success, 2 with a one-line message otherwise.
//
//===----------------------------------------------------------------------===//

#include "attn/InitAll.h"
#include "attn/JIT/CpuKernel.h"
#include "attn/Pipelines/Pipelines.h"
#include "attn/Support/CommandLine.h"
#include "attn/Target/Cuda/PtxAssembler.h"
#include "attn/Transforms/Passes.h"
#include "attn-rt/Bundle.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <ctime>

using namespace attn;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;

namespace {

const char *kUsage =
    "usage: attn-compile --shape B,Hq,Hkv,Sq,Sk,D,Dv [--dtype f16]\n"
    "                    [--scale S] [--causal top-left|bottom-right]\n"
    "                    [--window L,R] [--chip sm_80] --out KERNEL.attnb\n"
    "\n"
    "Compiles one attention to a tensor-core kernel and writes a kernel\n"
    "bundle (cubin + launch metadata) for the runtime. Exit: 0 ok, 2 error.\n";

constexpr int kExitError = 2;

struct Options {
  AttentionProblem problem;
  std::string chip = "sm_80", out;
  bool haveShape = false;
};

Expected<Options> parseArgs(int argc, char **argv, bool &help) {
  Options o;
  o.problem.dtype = ElementType::F16;
  auto handle = [&](StringRef flag, std::optional<StringRef> v) -> Error {
    if (flag == "--help")
      help = true;
    if (!v)
      return Error::success();
    StringRef value = *v;
    if (flag == "--shape") {
      llvm::SmallVector<StringRef> parts;
      value.split(parts, ',');
      int64_t d[7];
      if (parts.size() != 7)
        return llvm::createStringError(
            "--shape expects B,Hq,Hkv,Sq,Sk,D,Dv, got '" + value + "'");
      for (int i = 0; i < 7; ++i)
        if (parts[i].getAsInteger(10, d[i]) || d[i] < 0)
          return llvm::createStringError(
              "--shape expects 7 non-negative integers, got '" + value + "'");
      o.problem.q = {d[0], d[1], d[3], d[5]};
      o.problem.k = {d[0], d[2], d[4], d[5]};
      o.problem.v = {d[0], d[2], d[4], d[6]};
      o.haveShape = true;
    } else if (flag == "--dtype") {
      std::optional<ElementType> t = parseElementType(value);
      if (!t)
        return llvm::createStringError("--dtype expects f16, got '" + value +
                                       "'");
      o.problem.dtype = *t;
    } else if (flag == "--scale") {
      double s;
      if (value.getAsDouble(s) || !(s > 0))
        return llvm::createStringError("--scale expects a positive number, "
                                       "got '" + value + "'");
      o.problem.scale = s;
    } else if (flag == "--causal") {
      if (value == "top-left")
        o.problem.causal = AttentionProblem::Causal::TopLeft;
      else if (value == "bottom-right")
        o.problem.causal = AttentionProblem::Causal::BottomRight;
      else
        return llvm::createStringError(
            "--causal expects top-left or bottom-right, got '" + value + "'");
    } else if (flag == "--window") {
      auto [l, r] = value.split(',');
      if (l.getAsInteger(10, o.problem.windowLeft) ||
          r.getAsInteger(10, o.problem.windowRight))
        return llvm::createStringError("--window expects L,R, got '" + value +
                                       "'");
    } else if (flag == "--chip") {
      o.chip = value.str();
    } else if (flag == "--out") {
      o.out = value.str();
    } else {
      return llvm::createStringError("unknown flag '" + flag +
                                     "' (see --help)");
    }
    return Error::success();
  };
  if (Error e = forEachFlag(argc, argv, {}, handle))
    return std::move(e);
  if (!help && (!o.haveShape || o.out.empty()))
    return llvm::createStringError("--shape and --out are required (see "
                                   "--help)");
  return o;
}

rt::ScalarType scalarType(ElementType t) {
  switch (t) {
  case ElementType::F16:
    return rt::ScalarType::F16;
  case ElementType::BF16:
    return rt::ScalarType::BF16;
  case ElementType::F32:
    return rt::ScalarType::F32;
  }
  llvm_unreachable("unknown element type");
}

std::string utcNow() {
  std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

/// IR → kernel → PTX → cubin → bundle.
Expected<rt::Bundle> compileBundle(const Options &o) {
  const AttentionProblem &p = o.problem;
  Expected<std::string> text = buildAttentionModuleText(p);
  if (!text)
    return text.takeError();
  mlir::DialectRegistry registry;
  mlir::attn::registerAllDialects(registry);
  mlir::MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();
  ctx.printOpOnDiagnostic(false);
  std::string diagnostics;
  mlir::ScopedDiagnosticHandler handler(&ctx, [&](mlir::Diagnostic &d) {
    diagnostics += (diagnostics.empty() ? "" : "; ") + d.str();
    return mlir::success();
  });
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceString<mlir::ModuleOp>(*text, &ctx);
  if (!module)
    return llvm::createStringError("cannot parse the attention IR: " +
                                   diagnostics);

  // 1. The kernel, and its launch attributes before they are serialized.
  mlir::PassManager emit(&ctx);
  emit.addPass(mlir::attn::createAttnEmitGpuKernel());
  if (mlir::failed(emit.run(*module)))
    return llvm::createStringError(diagnostics);
  rt::Bundle bundle;
  rt::BundleMetadata &m = bundle.metadata;
  module->walk([&](mlir::gpu::GPUFuncOp f) {
    m.kernelName = f.getName().str();
    if (auto bytes = f->getAttrOfType<mlir::IntegerAttr>(
            "attn.dynamic_shared_memory"))
      m.launch.dynamicSharedMemory = unsigned(bytes.getInt());
    if (std::optional<llvm::ArrayRef<int32_t>> block = f.getKnownBlockSize())
      m.launch.block = {unsigned((*block)[0]), unsigned((*block)[1]),
                        unsigned((*block)[2])};
  });

  // 2. PTX, then a cubin without spills.
  mlir::PassManager lower(&ctx);
  mlir::attn::PtxPipelineOptions options;
  options.chip = o.chip;
  mlir::attn::buildGpuKernelsToPtxPipeline(lower, options);
  if (mlir::failed(lower.run(*module)))
    return llvm::createStringError("attn-lower-to-ptx failed: " + diagnostics);
  std::string ptx;
  module->walk([&](mlir::gpu::BinaryOp binary) {
    for (mlir::Attribute a : binary.getObjects())
      ptx = mlir::cast<mlir::gpu::ObjectAttr>(a).getObject().getValue().str();
  });
  Expected<CubinResult> cubin = assemblePtx(ptx, o.chip);
  if (!cubin)
    return cubin.takeError();
  if (cubin->spills())
    return llvm::createStringError(
        "the kernel spills registers on " + o.chip + " (" +
        llvm::Twine(cubin->spillStoreBytes) +
        " bytes of spill stores); not writing a slow kernel");
  bundle.cubin.assign(cubin->cubin.begin(), cubin->cubin.end());

  // 3. Launch metadata: one CTA per (64-row query tile, head, batch).
  m.target = o.chip;
  m.dtype = scalarType(p.dtype);
  m.launch.grid = {unsigned((p.q[2] + 63) / 64), unsigned(p.q[1]),
                   unsigned(p.q[0])};
  m.problem = {{"B", p.q[0]},  {"Hq", p.q[1]}, {"Hkv", p.k[1]},
               {"Sq", p.q[2]}, {"Sk", p.k[2]}, {"D", p.q[3]},
               {"Dv", p.v[3]}};
  auto tensor = [&](const char *name, rt::ScalarType t,
                    std::vector<int64_t> shape) {
    rt::KernelArg a;
    a.name = name;
    a.kind = rt::ArgKind::Pointer;
    a.elementType = t;
    a.shape = std::move(shape);
    return a;
  };
  rt::ScalarType et = m.dtype;
  m.args = {tensor("q", et, {p.q.begin(), p.q.end()}),
            tensor("k", et, {p.k.begin(), p.k.end()}),
            tensor("v", et, {p.v.begin(), p.v.end()}),
            tensor("o", et, {p.q[0], p.q[1], p.q[2], p.v[3]}),
            tensor("lse", rt::ScalarType::F32, {p.q[0], p.q[1], p.q[2]})};
  for (const char *name : {"sq", "sk"}) {
    rt::KernelArg a;
    a.name = name;
    a.kind = rt::ArgKind::I64;
    m.args.push_back(a);
  }
  m.options = {{"q_tile", 64}, {"warps", 4}};
  m.compilerName = "attn-compile";
  m.compilerVersion = "0.1.0";
  m.created = utcNow();
  return bundle;
}

} // namespace

int main(int argc, char **argv) {
  bool help = false;
  Expected<Options> options = parseArgs(argc, argv, help);
  if (!options)
    return reportError("attn-compile", llvm::toString(options.takeError()),
                       kExitError);
  if (help) {
    llvm::outs() << kUsage;
    return 0;
  }
  Expected<rt::Bundle> bundle = compileBundle(*options);
  if (!bundle)
    return reportError("attn-compile", llvm::toString(bundle.takeError()),
                       kExitError);
  rt::Status status = rt::writeBundle(options->out, *bundle);
  if (!status.ok())
    return reportError("attn-compile", status.getMessage(), kExitError);
  llvm::outs() << "attn-compile: wrote " << options->out << " ("
               << bundle->metadata.kernelName << " for "
               << bundle->metadata.target << ", "
               << bundle->cubin.size() << " bytes of cubin)\n";
  return 0;
}
