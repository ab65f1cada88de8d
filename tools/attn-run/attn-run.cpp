//===- attn-run.cpp - run one attention on NumPy files --------------------===//
//
//   attn-run --q Q.npy --k K.npy --v V.npy --out O.npy [--lse LSE.npy]
//            [--mask M.npy] [--scale S] [--causal top-left|bottom-right]
//            [--window L,R] [--softcap C] [--dtype f32|f16|bf16]
//            [--backend auto|cpu|cuda|reference] [--check] [--repeat N]
//            [--q-tile N] [--k-tile N] [--no-cache]
//
// Exit status: 0 success, 1 --check failed, 2 bad input or any other error
// (one line on stderr; no output file is written by a failed run).
//
//===----------------------------------------------------------------------===//

#include "attn/JIT/HostAttention.h"
#ifdef ATTN_HAVE_GPU_BACKEND
#include "attn/JIT/GpuKernel.h"
#include "attn-rt/Runtime.h"
#endif
#include "attn/Support/CommandLine.h"
#include "attn/Support/Npy.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cmath>

using namespace attn;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;

namespace {

constexpr int kExitCheckFailed = 1;
constexpr int kExitBadInput = 2;

const char *kUsage =
    "usage: attn-run --q Q.npy --k K.npy --v V.npy --out O.npy [--lse LSE.npy]\n"
    "                [--mask M.npy] [--scale S] [--causal top-left|bottom-right]\n"
    "                [--window L,R] [--softcap C] [--dtype f32|f16|bf16]\n"
    "                [--backend auto|cpu|cuda|reference] [--check] [--repeat N]\n"
    "                [--q-tile N] [--k-tile N] [--no-cache]\n"
    "\n"
    "Runs one attention O = softmax(scale·Q·Kᵀ + mask)·V on [B, H, S, D] .npy\n"
    "arrays (float16/32/64). --mask is a bool keep-mask or a float additive\n"
    "bias broadcastable to [B, Hq, Sq, Sk]. --check compares with the fp64\n"
    "reference (FlashAttention's rule); --repeat N prints timing.\n"
    "--backend auto runs on the GPU when a driver, a GPU and support for the\n"
    "problem are there (saying why not otherwise), else on the CPU.\n"
    "GPU kernels are cached in $ATTN_CACHE_DIR (default $XDG_CACHE_HOME/attn\n"
    "or ~/.cache/attn); --no-cache or ATTN_DISABLE_CACHE=1 compiles anew.\n"
    "Exit: 0 ok, 1 check failed, 2 bad input.\n";

struct Options {
  std::string q, k, v, out, lse, mask;
  std::optional<double> scale, softcap;
  AttentionProblem::Causal causal = AttentionProblem::Causal::None;
  int64_t windowLeft = -1, windowRight = -1;
  std::optional<ElementType> dtype;
  std::string backend = "auto";
  bool check = false, noCache = false;
  int64_t repeat = 0;
  int64_t qTile = 64, kTile = 64;
};

Error badFlag(const llvm::Twine &msg) {
  return llvm::createStringError(msg + " (see attn-run --help)");
}

Expected<double> parseDouble(StringRef flag, StringRef text) {
  double v;
  if (text.getAsDouble(v) || !std::isfinite(v))
    return badFlag(flag + " expects a finite number, got '" + text + "'");
  return v;
}

Expected<int64_t> parseInt(StringRef flag, StringRef text) {
  int64_t v;
  if (text.getAsInteger(10, v))
    return badFlag(flag + " expects an integer, got '" + text + "'");
  return v;
}

/// Parses the command line; `help` is set for --help.
Expected<Options> parseArgs(int argc, char **argv, bool &help) {
  Options o;
  llvm::StringMap<std::string *> paths = {
      {"--q", &o.q},   {"--k", &o.k},     {"--v", &o.v},
      {"--out", &o.out}, {"--lse", &o.lse}, {"--mask", &o.mask}};
  auto handle = [&](StringRef flag, std::optional<StringRef> v) -> Error {
    if (flag == "--help")
      help = true;
    if (flag == "--check")
      o.check = true;
    if (flag == "--no-cache")
      o.noCache = true;
    if (!v)
      return Error::success();
    StringRef value = *v;
    if (auto it = paths.find(flag); it != paths.end()) {
      if (value.empty())
        return badFlag(flag + " expects a file name");
      *it->second = value.str();
    } else if (flag == "--scale" || flag == "--softcap") {
      Expected<double> d = parseDouble(flag, value);
      if (!d)
        return d.takeError();
      if (*d <= 0)
        return badFlag(flag + " must be positive, got '" + value + "'");
      (flag == "--scale" ? o.scale : o.softcap) = *d;
    } else if (flag == "--causal") {
      Expected<AttentionProblem::Causal> causal = parseCausalFlag(value);
      if (!causal)
        return badFlag(llvm::toString(causal.takeError()));
      o.causal = *causal;
    } else if (flag == "--window") {
      Expected<std::pair<int64_t, int64_t>> window = parseWindowFlag(value);
      if (!window)
        return badFlag(llvm::toString(window.takeError()));
      std::tie(o.windowLeft, o.windowRight) = *window;
    } else if (flag == "--dtype") {
      o.dtype = parseElementType(value);
      if (!o.dtype)
        return badFlag("--dtype expects f32, f16 or bf16, got '" + value + "'");
    } else if (flag == "--backend") {
      if (value != "auto" && value != "cpu" && value != "cuda" &&
          value != "reference")
        return badFlag("--backend expects auto, cpu, cuda or reference, got '" +
                       value + "'");
      o.backend = value.str();
    } else if (flag == "--repeat" || flag == "--q-tile" || flag == "--k-tile") {
      Expected<int64_t> n = parseInt(flag, value);
      if (!n)
        return n.takeError();
      bool repeat = flag == "--repeat";
      if (*n < (repeat ? 0 : 1))
        return badFlag(flag + " must be " +
                       (repeat ? "non-negative" : "positive") + ", got '" +
                       value + "'");
      (repeat ? o.repeat : flag == "--q-tile" ? o.qTile : o.kTile) = *n;
    } else {
      return badFlag("unknown flag '" + flag + "'");
    }
    return Error::success();
  };
  if (Error e = forEachFlag(argc, argv, {"--check", "--no-cache"}, handle))
    return std::move(e);
  if (help)
    return o;
  for (auto [flag, path] : {std::pair<StringRef, std::string *>{"--q", &o.q},
                            {"--k", &o.k},
                            {"--v", &o.v},
                            {"--out", &o.out}})
    if (path->empty())
      return badFlag("missing required flag " + flag);
  if (o.lse == o.out)
    return badFlag("--out and --lse name the same file '" + o.out + "'");
  return o;
}

/// Reads a rank-4 float array.
Expected<NpyArray> readInput(StringRef path) {
  Expected<NpyArray> a = readNpy(path);
  if (!a)
    return a.takeError();
  if (a->dtype == NpyDType::Bool)
    return llvm::createStringError(path + ": expected a float array, got bool");
  if (a->shape.size() != 4)
    return llvm::createStringError(
        llvm::formatv("{0}: expected a rank-4 [B, H, S, D] array, got rank {1}",
                      path, a->shape.size())
            .str());
  return a;
}

std::array<int64_t, 4> shape4(const NpyArray &a) {
  return {a.shape[0], a.shape[1], a.shape[2], a.shape[3]};
}

/// Builds the problem and its inputs from the options and files.
Expected<HostInputs> loadInputs(const Options &o) {
  Expected<NpyArray> q = readInput(o.q);
  if (!q)
    return q.takeError();
  Expected<NpyArray> k = readInput(o.k);
  if (!k)
    return k.takeError();
  Expected<NpyArray> v = readInput(o.v);
  if (!v)
    return v.takeError();

  HostInputs in;
  AttentionProblem &p = in.problem;
  p.dtype = o.dtype ? *o.dtype
                    : q->dtype == NpyDType::F16 ? ElementType::F16
                                                : ElementType::F32;
  p.q = shape4(*q);
  p.k = shape4(*k);
  p.v = shape4(*v);
  p.scale = o.scale;
  p.causal = o.causal;
  p.windowLeft = o.windowLeft;
  p.windowRight = o.windowRight;
  p.softcap = o.softcap;
  in.q = q->toFloat();
  in.k = k->toFloat();
  in.v = v->toFloat();
  roundInPlace(p.dtype, in.q);
  roundInPlace(p.dtype, in.k);
  roundInPlace(p.dtype, in.v);

  if (!o.mask.empty()) {
    Expected<NpyArray> m = readNpy(o.mask);
    if (!m)
      return m.takeError();
    if (m->shape.size() > 4)
      return llvm::createStringError(
          llvm::formatv("{0}: a mask has at most 4 dims ([B, Hq, Sq, Sk]), "
                        "got {1}",
                        o.mask, m->shape.size())
              .str());
    // NumPy broadcasting: missing leading dims are 1.
    std::array<int64_t, 4> shape = {1, 1, 1, 1};
    std::copy(m->shape.begin(), m->shape.end(),
              shape.begin() + (4 - m->shape.size()));
    p.maskShape = shape;
    p.mask = m->dtype == NpyDType::Bool ? AttentionProblem::Mask::Keep
                                        : AttentionProblem::Mask::Bias;
    in.mask = m->toFloat();
  }
  // One source of truth for validity: the attn.attention verifier.
  Expected<std::string> ir = buildAttentionModuleText(p);
  if (!ir)
    return ir.takeError();
  return in;
}

/// Writes O (and LSE); a failed run leaves no output.
Error writeOutputs(const Options &o, const HostInputs &in,
                   const HostOutputs &out) {
  const AttentionProblem &p = in.problem;
  std::vector<int64_t> oShape = {p.q[0], p.q[1], p.q[2], p.v[3]};
  std::vector<std::pair<std::string, NpyArray>> files = {
      {o.out, NpyArray::fromFloat(oShape, out.o)}};
  if (!o.lse.empty())
    files.push_back(
        {o.lse,
         NpyArray::fromFloat(llvm::ArrayRef(oShape).take_front(3), out.lse)});
  return writeNpyFiles(files);
}

double millisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - start)
      .count();
}

/// Runs the selected backend, timing `repeat` extra runs.
#ifdef ATTN_HAVE_GPU_BACKEND
/// The GPU to run on, or why there is none (no driver, no device, or a
/// problem the GPU backend does not support yet).
Expected<std::pair<const rt::Driver *, rt::DeviceInfo>>
findGpu(const AttentionProblem &problem) {
  auto gpu = findFirstGpu();
  if (!gpu)
    return gpu.takeError();
  std::string reason;
  if (!isGpuSupported(problem, reason))
    return llvm::createStringError(
        "the GPU backend does not support this problem yet: " + reason);
  return gpu;
}

/// Compiles the problem for the GPU and runs it through the runtime.
Expected<HostOutputs> executeGpu(const Options &o, const HostInputs &in,
                                 const rt::Driver &driver,
                                 const rt::DeviceInfo &device,
                                 std::vector<double> &times) {
  auto start = std::chrono::steady_clock::now();
  CacheSource source = CacheSource::Computed;
  Expected<rt::Bundle> bundle = compileGpuBundleCached(
      in.problem, device.getChip(),
      o.noCache ? KernelCache::getDisabled() : KernelCache::getDefault(),
      GpuTileOptions(), &source);
  if (!bundle)
    return bundle.takeError();
  llvm::outs() << llvm::formatv(
      "backend: cuda ({0}, {1}; {2} in {3:F1} ms)\n", device.name,
      device.getChip(),
      source == CacheSource::Computed ? "compiled" : "kernel cache hit",
      millisecondsSince(start));
  return runGpu(driver, *bundle, in, o.repeat, &times);
}
#endif

Expected<HostOutputs> execute(const Options &o, const HostInputs &in) {
  std::vector<double> times;
  Expected<HostOutputs> gpuOut = llvm::createStringError("unused");
  bool onGpu = false;
#ifdef ATTN_HAVE_GPU_BACKEND
  if (o.backend == "cuda" || o.backend == "auto") {
    auto gpu = findGpu(in.problem);
    if (gpu) {
      llvm::consumeError(gpuOut.takeError());
      gpuOut = executeGpu(o, in, *gpu->first, gpu->second, times);
      onGpu = true;
    } else if (o.backend == "cuda") {
      return llvm::createStringError("--backend cuda: " +
                                     llvm::toString(gpu.takeError()));
    } else {
      // auto: say why the CPU runs, never fall back silently.
      llvm::outs() << "backend: auto chose the cpu ("
                   << llvm::toString(gpu.takeError()) << ")\n";
    }
  }
#else
  if (o.backend == "cuda")
    return llvm::createStringError(
        "--backend cuda: this build has no CUDA backend (it was built "
        "without the CUDA toolkit); use --backend cpu or reference");
#endif
  if (!onGpu)
    llvm::consumeError(gpuOut.takeError());
  bool reference = o.backend == "reference";
  std::unique_ptr<CpuKernel> kernel;
  if (!reference && !onGpu) {
    auto start = std::chrono::steady_clock::now();
    CpuCompileOptions options;
    options.qTile = o.qTile;
    options.kTile = o.kTile;
    Expected<std::unique_ptr<CpuKernel>> compiled =
        CpuKernel::compile(in.problem, options);
    if (!compiled)
      return compiled.takeError();
    kernel = std::move(*compiled);
    llvm::outs() << llvm::formatv("backend: cpu (compiled in {0:F1} ms)\n",
                                  millisecondsSince(start));
  } else if (reference) {
    llvm::outs() << "backend: reference (fp64)\n";
  }
  Expected<HostOutputs> out =
      onGpu       ? std::move(gpuOut)
      : reference ? runReference(in)
                  : runCpu(*kernel, in, o.repeat, &times);
  if (!out || o.repeat == 0)
    return out;
  // The reference has no separate kernel: time whole runs.
  for (int64_t i = 0; reference && i < o.repeat; ++i) {
    auto start = std::chrono::steady_clock::now();
    Expected<HostOutputs> again = runReference(in);
    if (!again)
      return again.takeError();
    times.push_back(millisecondsSince(start));
  }
  std::sort(times.begin(), times.end());
  double median = times[times.size() / 2];
  // FLOPs are counted the usual way (dense, halved for causal); a sliding
  // window skips more work than that, so its figure is nominal.
  bool window = in.problem.windowLeft >= 0 || in.problem.windowRight >= 0;
  llvm::outs() << llvm::formatv(
      "time: median {0:F3} ms over {1} runs, {2:F1} GFLOP/s{3}\n", median,
      o.repeat, attentionFlops(in.problem) / (median * 1e6),
      window ? " (nominal: the window skips work the FLOP count includes)"
             : "");
  return out;
}

int fail(const llvm::Twine &msg) {
  return reportError("attn-run", msg, kExitBadInput);
}

} // namespace

int main(int argc, char **argv) {
  bool help = false;
  Expected<Options> options = parseArgs(argc, argv, help);
  if (std::optional<int> status =
          finishParsing(options, help, "attn-run", kUsage, kExitBadInput))
    return *status;
  Expected<HostInputs> inputs = loadInputs(*options);
  if (!inputs)
    return fail(llvm::toString(inputs.takeError()));
  Expected<HostOutputs> outputs = execute(*options, *inputs);
  if (!outputs)
    return fail(llvm::toString(outputs.takeError()));

  if (options->check) {
    Expected<CheckReport> report = checkOutputs(*inputs, *outputs);
    if (!report)
      return fail(llvm::toString(report.takeError()));
    llvm::outs() << formatCheckReport(*report, inputs->problem.dtype);
    if (!report->ok()) {
      llvm::errs() << "attn-run: check failed; no output written\n";
      return kExitCheckFailed;
    }
  }
  if (Error e = writeOutputs(*options, *inputs, *outputs))
    return fail(llvm::toString(std::move(e)));
  return 0;
}
