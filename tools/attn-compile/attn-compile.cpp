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

#include "attn/JIT/GpuKernel.h"
#include "attn/Support/CommandLine.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/raw_ostream.h"

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
      Expected<AttentionProblem::Causal> causal = parseCausalFlag(value);
      if (!causal)
        return causal.takeError();
      o.problem.causal = *causal;
    } else if (flag == "--window") {
      Expected<std::pair<int64_t, int64_t>> window = parseWindowFlag(value);
      if (!window)
        return window.takeError();
      std::tie(o.problem.windowLeft, o.problem.windowRight) = *window;
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
  Expected<rt::Bundle> bundle =
      compileGpuBundle(options->problem, options->chip);
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
