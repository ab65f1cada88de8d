//===- attn-compile.cpp - compile one attention into a GPU kernel bundle --===//
//
//   attn-compile --shape B,Hq,Hkv,Sq,Sk,D,Dv [--dtype f16|bf16] [--scale S]
//                [--causal top-left|bottom-right] [--window L,R]
//                [--softcap C] [--mask keep|f32|f16|bf16]
//                [--mask-shape B,Hq,Sq,Sk] [--block-m 64|128] [--block-n N]
//                [--stages N] [--no-cache]
//                [--chip sm_80|sm_86|sm_89|sm_90|sm_90a] --out KERNEL.attnb
//
// Ahead-of-time path of the GPU backend: builds the attn.attention of the
// problem (verified like attn-run's), lowers it with attn-lower-to-ptx,
// assembles the PTX into a cubin with ptxas (refusing spills) and writes
// a kernel bundle (cubin + launch metadata) that the MLIR-free runtime — or
// any CUDA driver client — can launch on a machine without LLVM/MLIR.
// Compiled bundles are kept in the kernel cache (KernelCache: $ATTN_CACHE_DIR,
// else $XDG_CACHE_HOME/attn or ~/.cache/attn); --no-cache compiles anew and
// stores nothing.
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
    "usage: attn-compile --shape B,Hq,Hkv,Sq,Sk,D,Dv [--dtype f16|bf16]\n"
    "                    [--scale S] [--causal top-left|bottom-right]\n"
    "                    [--window L,R] [--softcap C]\n"
    "                    [--mask keep|f32|f16|bf16] [--mask-shape B,Hq,Sq,Sk]\n"
    "                    [--block-m 64|128] [--block-n N] [--stages N]\n"
    "                    [--chip sm_80] [--fast-assemble] [--no-cache]\n"
    "                    --out KERNEL.attnb\n"
    "\n"
    "Compiles one attention to a tensor-core kernel and writes a kernel\n"
    "bundle (cubin + launch metadata) for the runtime. --mask adds a mask\n"
    "operand: a keep mask (one byte 0/1 per element) or an additive bias of\n"
    "that type, of shape --mask-shape (each dim 1 or the full size; default\n"
    "the full [B, Hq, Sq, Sk]). --block-m/--block-n/--stages override the\n"
    "chip's tile table. --fast-assemble runs ptxas with --Ofast-compile=min\n"
    "(PTX -> cubin ~1/3 faster; the kernel's speed on a GPU is not measured\n"
    "yet). Exit: 0 ok, 2 error.\n"
    "Kernels are cached in $ATTN_CACHE_DIR (default $XDG_CACHE_HOME/attn or\n"
    "~/.cache/attn; empty: no disk cache); --no-cache or ATTN_DISABLE_CACHE=1\n"
    "compiles anew.\n";

constexpr int kExitError = 2;

struct Options {
  AttentionProblem problem;
  std::string chip = "sm_80", out;
  bool haveShape = false, haveMaskShape = false;
  bool noCache = false;
  GpuTileOptions tiles;
};

/// Parses a comma-separated list of `n` non-negative integers.
Expected<llvm::SmallVector<int64_t>> parseInts(StringRef flag, StringRef value,
                                               size_t n, StringRef names) {
  llvm::SmallVector<StringRef> parts;
  value.split(parts, ',');
  llvm::SmallVector<int64_t> ints(parts.size());
  bool ok = parts.size() == n;
  for (size_t i = 0; ok && i < n; ++i)
    ok = !parts[i].getAsInteger(10, ints[i]) && ints[i] >= 0;
  if (!ok)
    return llvm::createStringError(
        flag + " expects " + names + " (" + llvm::Twine(n) +
        " non-negative integers), got '" + value + "'");
  return ints;
}

Expected<Options> parseArgs(int argc, char **argv, bool &help) {
  Options o;
  o.problem.dtype = ElementType::F16;
  auto handle = [&](StringRef flag, std::optional<StringRef> v) -> Error {
    if (flag == "--help")
      help = true;
    if (flag == "--no-cache")
      o.noCache = true;
    if (flag == "--fast-assemble")
      o.tiles.fastAssemble = true;
    if (!v)
      return Error::success();
    StringRef value = *v;
    if (flag == "--shape") {
      Expected<llvm::SmallVector<int64_t>> d =
          parseInts(flag, value, 7, "B,Hq,Hkv,Sq,Sk,D,Dv");
      if (!d)
        return d.takeError();
      o.problem.q = {(*d)[0], (*d)[1], (*d)[3], (*d)[5]};
      o.problem.k = {(*d)[0], (*d)[2], (*d)[4], (*d)[5]};
      o.problem.v = {(*d)[0], (*d)[2], (*d)[4], (*d)[6]};
      o.haveShape = true;
    } else if (flag == "--mask-shape") {
      Expected<llvm::SmallVector<int64_t>> d =
          parseInts(flag, value, 4, "B,Hq,Sq,Sk");
      if (!d)
        return d.takeError();
      std::copy(d->begin(), d->end(), o.problem.maskShape.begin());
      o.haveMaskShape = true;
    } else if (flag == "--mask") {
      if (value == "keep") {
        o.problem.mask = AttentionProblem::Mask::Keep;
      } else if (std::optional<ElementType> t = parseElementType(value)) {
        o.problem.mask = AttentionProblem::Mask::Bias;
        o.problem.biasType = *t;
      } else {
        return llvm::createStringError(
            "--mask expects keep, f32, f16 or bf16, got '" + value + "'");
      }
    } else if (flag == "--softcap") {
      double c;
      if (value.getAsDouble(c) || !(c > 0))
        return llvm::createStringError("--softcap expects a positive number, "
                                       "got '" +
                                       value + "'");
      o.problem.softcap = c;
    } else if (flag == "--block-m" || flag == "--block-n" ||
               flag == "--stages") {
      int64_t n;
      if (value.getAsInteger(10, n) || n <= 0)
        return llvm::createStringError(flag +
                                       " expects a positive integer, "
                                       "got '" +
                                       value + "'");
      (flag == "--block-m"   ? o.tiles.blockM
       : flag == "--block-n" ? o.tiles.blockN
                             : o.tiles.stages) = n;
    } else if (flag == "--dtype") {
      std::optional<ElementType> t = parseElementType(value);
      if (!t)
        return llvm::createStringError("--dtype expects f16 or bf16, got '" +
                                       value + "'");
      o.problem.dtype = *t;
    } else if (flag == "--scale") {
      double s;
      if (value.getAsDouble(s) || !(s > 0))
        return llvm::createStringError("--scale expects a positive number, "
                                       "got '" +
                                       value + "'");
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
  if (Error e = forEachFlag(argc, argv, {"--no-cache", "--fast-assemble"}, handle))
    return std::move(e);
  if (!help && (!o.haveShape || o.out.empty()))
    return llvm::createStringError("--shape and --out are required (see "
                                   "--help)");
  if (o.haveMaskShape && o.problem.mask == AttentionProblem::Mask::None)
    return llvm::createStringError("--mask-shape needs --mask");
  if (!o.haveMaskShape)
    o.problem.maskShape = {o.problem.q[0], o.problem.q[1], o.problem.q[2],
                           o.problem.k[2]};
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
  KernelCache &cache =
      options->noCache ? KernelCache::getDisabled() : KernelCache::getDefault();
  CacheSource source = CacheSource::Computed;
  Expected<rt::Bundle> bundle = compileGpuBundleCached(
      options->problem, options->chip, cache, options->tiles, &source);
  if (!bundle)
    return reportError("attn-compile", llvm::toString(bundle.takeError()),
                       kExitError);
  rt::Status status = rt::writeBundle(options->out, *bundle);
  if (!status.ok())
    return reportError("attn-compile", status.getMessage(), kExitError);
  llvm::outs() << "attn-compile: wrote " << options->out << " ("
               << bundle->metadata.kernelName << " for "
               << bundle->metadata.target << ", " << bundle->cubin.size()
               << " bytes of cubin)\n";
  llvm::outs() << "attn-compile: kernel cache: ";
  if (!cache.isEnabled())
    llvm::outs() << "off\n";
  else if (cache.getDirectory().empty())
    llvm::outs() << "memory only\n";
  else if (source == CacheSource::Disk)
    llvm::outs() << "hit, " << cache.getDirectory() << "\n";
  else if (cache.getStats().writeFailures)
    llvm::outs() << "miss, not stored (see the warning)\n";
  else
    llvm::outs() << "miss, stored in " << cache.getDirectory() << "\n";
  return 0;
}
