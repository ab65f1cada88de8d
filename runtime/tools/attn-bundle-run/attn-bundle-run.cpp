//===- attn-bundle-run.cpp - run an attention kernel bundle on the GPU ----===//
//
//   attn-bundle-run K.attnb [--q Q.npy --k K.npy --v V.npy [--mask M.npy]]
//                   [--random SEED] [--out O.npy] [--lse LSE.npy] [--check]
//                   [--repeat N]
//
// Runs a bundle written by attn-compile on GPU 0 through the runtime, with
// inputs from .npy files or N(0, 1) from a seed, and checks O and LSE
// against the fp64 reference with the semantics the bundle records. It is
// the runner for GPU machines without LLVM/MLIR: the binary needs only the C
// and C++ libraries and, at run time, the NVIDIA driver (see CMakeLists.txt).
//
// The kernel's parameters come from the metadata's argument list, by name:
// pointers q, k, v, an optional mask, o, lse (shapes and element types as
// stored) and scalars sq, sk (taken from the shapes of q and k).
//
// Exit status: 0 success, 1 --check failed, 2 bad input, invalid bundle or
// CUDA error (one line on stderr; a failed run writes no output file).
//
//===----------------------------------------------------------------------===//

#include "attn/Reference/Reference.h"
#include "attn/Support/CommandLine.h"
#include "attn/Support/Format.h"
#include "attn/Support/Npy.h"

#include "attn-rt/Bundle.h"
#include "attn-rt/Runtime.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

using namespace attn;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;

namespace {

constexpr int kExitCheckFailed = 1;
constexpr int kExitBadInput = 2;

const char *kUsage =
    "usage: attn-bundle-run K.attnb [--q Q.npy --k K.npy --v V.npy\n"
    "                       [--mask M.npy]] [--random SEED] [--out O.npy]\n"
    "                       [--lse LSE.npy] [--check] [--repeat N]\n"
    "\n"
    "Runs an attention kernel bundle (attn-compile) on GPU 0 with inputs\n"
    "from .npy files (float16/32/64, rounded to the bundle's dtype, shapes\n"
    "as compiled) or N(0, 1) from SEED. --check compares O and LSE with the\n"
    "fp64 reference (FlashAttention's rule) using the semantics stored in\n"
    "the bundle; --repeat N prints the median kernel time and TFLOP/s.\n"
    "O and LSE are written as float32. Exit: 0 ok, 1 check failed, 2 error.\n";

struct Options {
  std::string bundle, q, k, v, mask, out, lse;
  std::optional<uint64_t> seed;
  bool check = false;
  int64_t repeat = 0;
};

Error badFlag(const llvm::Twine &msg) {
  return llvm::createStringError(msg + " (see attn-bundle-run --help)");
}

/// Parses the command line; `help` is set for --help. The bundle comes
/// first, so that the flags can be parsed by the tools' common parser.
Expected<Options> parseArgs(int argc, char **argv, bool &help) {
  Options o;
  if (argc < 2)
    return badFlag("missing the bundle");
  StringRef first = argv[1];
  if (first == "--help" || first == "-h") {
    help = true;
    return o;
  }
  if (first.starts_with("-"))
    return badFlag("the bundle must come first, got '" + first + "'");
  o.bundle = first.str();
  llvm::StringMap<std::string *> paths = {
      {"--q", &o.q},       {"--k", &o.k},     {"--v", &o.v},
      {"--mask", &o.mask}, {"--out", &o.out}, {"--lse", &o.lse}};
  auto handle = [&](StringRef flag, std::optional<StringRef> v) -> Error {
    if (flag == "--help")
      help = true;
    if (flag == "--check")
      o.check = true;
    if (!v)
      return Error::success();
    StringRef value = *v;
    if (auto it = paths.find(flag); it != paths.end()) {
      if (value.empty())
        return badFlag(flag + " expects a file name");
      *it->second = value.str();
    } else if (flag == "--random") {
      uint64_t seed;
      if (value.getAsInteger(10, seed))
        return badFlag("--random expects a non-negative integer seed, got '" +
                       value + "'");
      o.seed = seed;
    } else if (flag == "--repeat") {
      if (value.getAsInteger(10, o.repeat) || o.repeat < 0)
        return badFlag("--repeat expects a non-negative integer, got '" +
                       value + "'");
    } else {
      return badFlag("unknown flag '" + flag + "'");
    }
    return Error::success();
  };
  // forEachFlag starts at argv[1]: hand it the arguments after the bundle.
  if (Error e = forEachFlag(argc - 1, argv + 1, {"--check"}, handle))
    return std::move(e);
  bool anyFile = !o.q.empty() || !o.k.empty() || !o.v.empty();
  if (help)
    return o;
  if (anyFile && o.seed)
    return badFlag("--random and --q/--k/--v exclude each other");
  if (!o.seed && (o.q.empty() || o.k.empty() || o.v.empty()))
    return badFlag("give --q, --k and --v, or --random SEED");
  if (o.seed && !o.mask.empty())
    return badFlag("--mask goes with --q/--k/--v (--random draws the mask)");
  if (!o.lse.empty() && o.lse == o.out)
    return badFlag("--out and --lse name the same file '" + o.out + "'");
  return o;
}

//===----------------------------------------------------------------------===//
// The bundle's kernel arguments
//===----------------------------------------------------------------------===//

/// One pointer argument and its host values: inputs rounded to the element
/// type, outputs as read back.
struct Tensor {
  const rt::KernelArg *arg = nullptr;
  std::vector<float> values;

  int64_t numElements() const {
    int64_t n = 1;
    for (int64_t d : arg->shape)
      n *= d;
    return n;
  }
  /// Bytes of an output (f32, f16 or bf16) on the device.
  size_t outputBytes() const {
    return numElements() * (arg->elementType == rt::ScalarType::F32 ? 4 : 2);
  }
  /// The values as the reference takes them.
  HostTensor toHost() const {
    return {arg->shape, std::vector<double>(values.begin(), values.end())};
  }
};

std::optional<ElementType> toElementType(rt::ScalarType type) {
  switch (type) {
  case rt::ScalarType::F16:
    return ElementType::F16;
  case rt::ScalarType::BF16:
    return ElementType::BF16;
  case rt::ScalarType::F32:
    return ElementType::F32;
  default:
    return std::nullopt;
  }
}

/// The element bytes of a tensor as the kernel reads them: an i8 keep-mask
/// as 0/1 bytes, floats in their storage type.
std::vector<uint8_t> toBytes(const Tensor &t) {
  if (t.arg->elementType == rt::ScalarType::I8) {
    std::vector<uint8_t> bytes(t.values.size());
    std::transform(t.values.begin(), t.values.end(), bytes.begin(),
                   [](float x) { return x != 0.0f; });
    return bytes;
  }
  return toStorage(*toElementType(t.arg->elementType), t.values);
}

/// The attention the bundle computes: its tensors by name and the dtype.
struct Attention {
  ElementType dtype = ElementType::F16;
  llvm::StringMap<Tensor> tensors; ///< q, k, v, [mask], o, lse
  /// The semantics recorded in the bundle; none for older bundles.
  std::optional<AttentionConfig> config;

  const std::vector<int64_t> &shape(StringRef name) const {
    return tensors.find(name)->second.arg->shape;
  }
  bool hasMask() const { return tensors.count("mask"); }
};

Error invalidBundle(const Options &o, const llvm::Twine &msg) {
  return llvm::createStringError(o.bundle + ": " + msg);
}

/// AttentionConfig from the bundle's "semantics" (see Bundle.h).
Expected<std::optional<AttentionConfig>>
readSemantics(const Options &o, const rt::BundleMetadata &m) {
  if (m.semantics.empty())
    return std::nullopt;
  double values[5];
  const char *names[5] = {"scale", "causal", "window_left", "window_right",
                          "softcap"};
  for (int i = 0; i < 5; ++i) {
    auto it = m.semantics.find(names[i]);
    if (it == m.semantics.end())
      return invalidBundle(o,
                           llvm::Twine("semantics has no '") + names[i] + "'");
    values[i] = it->second;
  }
  auto [scale, causal, left, right, softcap] = values;
  auto isIntegerIn = [](double x, double lo, double hi) {
    return x >= lo && x <= hi && x == std::floor(x);
  };
  if (!isIntegerIn(causal, 0, 2) || !isIntegerIn(left, -1, 1e15) ||
      !isIntegerIn(right, -1, 1e15) || softcap < 0) {
    char text[256];
    std::snprintf(text, sizeof(text),
                  "semantics has causal %g, window %g,%g, softcap %g "
                  "(expected causal 0, 1 or 2, windows >= -1, softcap >= 0)",
                  causal, left, right, softcap);
    return invalidBundle(o, text);
  }
  AttentionConfig c;
  c.scale = scale;
  c.causal = causal == 0   ? CausalKind::None
             : causal == 1 ? CausalKind::TopLeft
                           : CausalKind::BottomRight;
  c.windowLeft = int64_t(left);
  c.windowRight = int64_t(right);
  c.softcap = softcap;
  return std::optional<AttentionConfig>(c);
}

/// Reads the kernel ABI from the metadata's argument list and checks that
/// it is the attention kernel's: the tensors' element types and the shapes
/// of O and LSE (the reference checks Q, K, V and the mask against each
/// other when it runs).
Expected<Attention> readAttention(const Options &o,
                                  const rt::BundleMetadata &m) {
  Attention a;
  std::optional<ElementType> dtype = toElementType(m.dtype);
  if (!dtype)
    return invalidBundle(o, llvm::Twine("dtype ") + rt::toString(m.dtype) +
                                " is not f16, bf16 or f32");
  a.dtype = *dtype;
  for (const rt::KernelArg &arg : m.args) {
    bool pointer = arg.kind == rt::ArgKind::Pointer;
    bool known = pointer
                     ? llvm::is_contained({"q", "k", "v", "mask", "o", "lse"},
                                          StringRef(arg.name))
                     : (arg.name == "sq" || arg.name == "sk") &&
                           (arg.kind == rt::ArgKind::I64 ||
                            arg.kind == rt::ArgKind::I32);
    if (!known)
      return invalidBundle(o, "unknown kernel argument '" + arg.name + "' (" +
                                  rt::toString(arg.kind) +
                                  "): not an attention kernel of this runner");
    if (!pointer)
      continue;
    rt::ScalarType want = arg.name == "lse" ? rt::ScalarType::F32 : m.dtype;
    bool ok = arg.name == "mask" ? (arg.elementType == rt::ScalarType::I8 ||
                                    toElementType(arg.elementType))
                                 : arg.elementType == want;
    if (!ok)
      return invalidBundle(o, "argument '" + arg.name + "' has element type " +
                                  rt::toString(arg.elementType) +
                                  ", expected " +
                                  (arg.name == "mask" ? "i8, f16, bf16 or f32"
                                                      : rt::toString(want)));
    a.tensors[arg.name].arg = &arg;
  }
  for (const char *name : {"q", "k", "v", "o", "lse"})
    if (!a.tensors.count(name))
      return invalidBundle(o, llvm::Twine("has no kernel argument '") + name +
                                  "'");
  for (const char *name : {"q", "k", "v"})
    if (a.shape(name).size() != 4)
      return invalidBundle(o, llvm::Twine("argument '") + name +
                                  "' has shape " + formatShape(a.shape(name)) +
                                  ", expected rank 4");
  const std::vector<int64_t> &q = a.shape("q");
  std::vector<int64_t> oShape = {q[0], q[1], q[2], a.shape("v")[3]};
  std::vector<int64_t> lseShape = {q[0], q[1], q[2]};
  for (auto [name, want] :
       {std::pair<StringRef, const std::vector<int64_t> &>{"o", oShape},
        {"lse", lseShape}})
    if (a.shape(name) != want)
      return invalidBundle(o, "argument '" + name + "' has shape " +
                                  formatShape(a.shape(name)) + ", expected " +
                                  formatShape(want));
  Expected<std::optional<AttentionConfig>> config = readSemantics(o, m);
  if (!config)
    return config.takeError();
  a.config = *config;
  return a;
}

//===----------------------------------------------------------------------===//
// Inputs
//===----------------------------------------------------------------------===//

/// Reads the values of input `name` from `path`; the array must have the
/// compiled shape exactly.
Error readInput(Tensor &t, StringRef name, const std::string &path) {
  Expected<NpyArray> a = readNpy(path);
  if (!a)
    return a.takeError();
  bool keepMask = t.arg->elementType == rt::ScalarType::I8;
  if (a->dtype == NpyDType::Bool && !keepMask)
    return llvm::createStringError(path + ": expected a float array for " +
                                   name + ", got bool");
  if (a->shape != t.arg->shape)
    return llvm::createStringError(
        "--" + name + " " + path + " has shape " + formatShape(a->shape) +
        " but the bundle's " + name + " is " + formatShape(t.arg->shape));
  t.values = a->toFloat();
  return Error::success();
}

/// N(0, 1) values for q, k, v and a bias; for a keep-mask, 1 with
/// probability 3/4 (so that some rows lose all their keys when Sk is small).
void drawInput(Tensor &t, std::mt19937_64 &rng) {
  std::normal_distribution<float> normal;
  std::bernoulli_distribution keep(0.75);
  bool keepMask = t.arg->elementType == rt::ScalarType::I8;
  t.values.resize(t.numElements());
  for (float &x : t.values)
    x = keepMask ? float(keep(rng)) : normal(rng);
}

Error loadInputs(const Options &o, Attention &a) {
  if (!o.seed && a.hasMask() && o.mask.empty())
    return badFlag("the bundle takes a mask: give --mask M.npy");
  if (!o.mask.empty() && !a.hasMask())
    return badFlag("--mask given, but the bundle takes no mask");
  std::mt19937_64 rng(o.seed.value_or(0));
  const std::pair<StringRef, const std::string *> inputs[] = {
      {"q", &o.q}, {"k", &o.k}, {"v", &o.v}, {"mask", &o.mask}};
  for (auto [name, path] : inputs) {
    auto it = a.tensors.find(name);
    if (it == a.tensors.end())
      continue;
    Tensor &t = it->second;
    if (!o.seed) {
      if (Error e = readInput(t, name, *path))
        return e;
    } else {
      drawInput(t, rng);
    }
    // What the kernel will see: values rounded to the element type.
    if (std::optional<ElementType> type = toElementType(t.arg->elementType))
      t.values = fromStorage(*type, toStorage(*type, t.values));
  }
  return Error::success();
}

//===----------------------------------------------------------------------===//
// The run
//===----------------------------------------------------------------------===//

Error cudaError(const rt::Status &status) {
  return llvm::createStringError(status.getMessage());
}

/// Launches the kernel once for the outputs, then `repeat` more times
/// between events (no host synchronisation in between), appending each
/// launch's milliseconds to `times`. Fills the outputs' values.
Error runOnGpu(const rt::Bundle &bundle, Attention &a, int64_t repeat,
               std::vector<double> &times) {
  const rt::BundleMetadata &m = bundle.metadata;
  rt::Result<const rt::Driver *> driver = rt::Driver::get();
  if (!driver.ok())
    return cudaError(driver.getStatus());
  rt::Result<rt::Context> ctx = rt::Context::create(**driver, 0);
  if (!ctx.ok())
    return cudaError(ctx.getStatus());
  llvm::outs() << "running on " << ctx->getDevice().describe() << ", "
               << ctx->getDevice().getChip() << "\n";
  rt::Result<rt::Module> module =
      rt::Module::load(*ctx, bundle.cubin, m.target);
  if (!module.ok())
    return cudaError(module.getStatus());
  rt::Result<rt::Kernel> kernel = module->getKernel(m.kernelName);
  if (!kernel.ok())
    return cudaError(kernel.getStatus());
  rt::Result<rt::Stream> stream = rt::Stream::create(*ctx);
  if (!stream.ok())
    return cudaError(stream.getStatus());

  // One buffer per pointer argument (at least one byte: empty tensors are
  // legal); the outputs start as all-ones bytes, NaN in every float type,
  // so that elements the kernel never writes fail --check.
  std::vector<rt::DeviceBuffer> buffers;
  std::vector<rt::DevicePtr> pointers;
  std::vector<int64_t> scalars64;
  std::vector<int32_t> scalars32;
  pointers.reserve(m.args.size());
  scalars64.reserve(m.args.size());
  scalars32.reserve(m.args.size());
  std::vector<void *> params;
  for (const rt::KernelArg &arg : m.args) {
    if (arg.kind != rt::ArgKind::Pointer) {
      int64_t value = a.shape(arg.name == "sq" ? "q" : "k")[2];
      if (arg.kind == rt::ArgKind::I64)
        params.push_back(&scalars64.emplace_back(value));
      else
        params.push_back(&scalars32.emplace_back(int32_t(value)));
      continue;
    }
    const Tensor &t = a.tensors.find(arg.name)->second;
    bool output = arg.name == "o" || arg.name == "lse";
    std::vector<uint8_t> bytes = output ? std::vector<uint8_t>() : toBytes(t);
    rt::Result<rt::DeviceBuffer> buffer = rt::DeviceBuffer::allocate(
        *ctx, std::max<size_t>(output ? t.outputBytes() : bytes.size(), 1));
    if (!buffer.ok())
      return cudaError(buffer.getStatus());
    rt::Status s = output ? buffer->fill(0xff)
                   : bytes.empty()
                       ? rt::Status()
                       : buffer->copyFromHost(bytes.data(), bytes.size());
    if (!s.ok())
      return cudaError(s);
    params.push_back(&pointers.emplace_back(buffer->getAddress()));
    buffers.push_back(std::move(*buffer));
  }

  // Launch 0 gives the outputs (and warms up); launch i > 0 runs between
  // events 2i - 2 and 2i - 1.
  std::vector<rt::Event> events;
  for (int64_t i = 0; i < 2 * repeat; ++i) {
    rt::Result<rt::Event> event = rt::Event::create(*ctx);
    if (!event.ok())
      return cudaError(event.getStatus());
    events.push_back(std::move(*event));
  }
  for (int64_t i = 0; i <= repeat; ++i) {
    if (i > 0)
      if (rt::Status s = events[2 * i - 2].record(*stream); !s.ok())
        return cudaError(s);
    if (rt::Status s = kernel->launch(m.launch, params.data(), *stream);
        !s.ok())
      return cudaError(s);
    if (i > 0)
      if (rt::Status s = events[2 * i - 1].record(*stream); !s.ok())
        return cudaError(s);
  }
  if (rt::Status s = stream->synchronize(); !s.ok())
    return cudaError(s);
  for (int64_t i = 0; i < repeat; ++i) {
    rt::Result<float> ms =
        rt::Event::getElapsedMs(events[2 * i], events[2 * i + 1]);
    if (!ms.ok())
      return cudaError(ms.getStatus());
    times.push_back(*ms);
  }

  // Outputs back to the host.
  for (size_t i = 0, b = 0; i < m.args.size(); ++i) {
    const rt::KernelArg &arg = m.args[i];
    if (arg.kind != rt::ArgKind::Pointer)
      continue;
    rt::DeviceBuffer &buffer = buffers[b++];
    if (arg.name != "o" && arg.name != "lse")
      continue;
    Tensor &t = a.tensors.find(arg.name)->second;
    std::vector<uint8_t> bytes(t.outputBytes());
    if (!bytes.empty())
      if (rt::Status s = buffer.copyToHost(bytes.data(), bytes.size()); !s.ok())
        return cudaError(s);
    t.values = fromStorage(*toElementType(arg.elementType), bytes);
  }
  return Error::success();
}

/// Compares O and LSE with the reference (a.config is set); prints the
/// report.
Expected<bool> check(const Attention &a) {
  MaskOperand mask;
  if (a.hasMask()) {
    const Tensor &m = a.tensors.find("mask")->second;
    mask = {m.arg->elementType == rt::ScalarType::I8 ? MaskKind::Keep
                                                     : MaskKind::Bias,
            m.toHost()};
  }
  const Tensor &out = a.tensors.find("o")->second,
               &lse = a.tensors.find("lse")->second;
  Expected<CheckReport> report =
      checkAttention(a.dtype, a.tensors.find("q")->second.toHost(),
                     a.tensors.find("k")->second.toHost(),
                     a.tensors.find("v")->second.toHost(), mask, *a.config,
                     out.toHost().data, lse.toHost().data);
  if (!report)
    return report.takeError();
  llvm::outs() << formatCheckReport(*report, a.dtype);
  return report->ok();
}

void printTime(const Attention &a, std::vector<double> times) {
  std::sort(times.begin(), times.end());
  double median = times[times.size() / 2];
  const std::vector<int64_t> &q = a.shape("q");
  // FLOPs as benchmarks count them: Q·Kᵀ and P·V, halved for causal (a
  // window skips more, so its figure is nominal).
  double flops = 2.0 * double(q[0]) * q[1] * q[2] * a.shape("k")[2] *
                 (q[3] + a.shape("v")[3]);
  if (a.config && a.config->causal != CausalKind::None)
    flops /= 2;
  bool window =
      a.config && (a.config->windowLeft >= 0 || a.config->windowRight >= 0);
  llvm::outs() << llvm::formatv(
      "time: median {0:F3} ms over {1} runs, {2:F1} TFLOP/s{3}\n", median,
      times.size(), flops / (median * 1e9),
      window ? " (nominal: the window skips work the FLOP count includes)"
             : "");
}

Error writeOutputs(const Options &o, const Attention &a) {
  std::vector<std::pair<std::string, NpyArray>> files;
  for (auto [name, path] :
       {std::pair<StringRef, const std::string &>{"o", o.out}, {"lse", o.lse}})
    if (!path.empty()) {
      const Tensor &t = a.tensors.find(name)->second;
      files.push_back({path, NpyArray::fromFloat(t.arg->shape, t.values)});
    }
  return writeNpyFiles(files);
}

int fail(const llvm::Twine &msg) {
  return reportError("attn-bundle-run", msg, kExitBadInput);
}

} // namespace

int main(int argc, char **argv) {
  bool help = false;
  Expected<Options> options = parseArgs(argc, argv, help);
  if (std::optional<int> status =
          finishParsing(options, help, "attn-bundle-run", kUsage, kExitBadInput))
    return *status;
  rt::Result<rt::Bundle> bundle = rt::readBundle(options->bundle);
  if (!bundle.ok())
    return fail(bundle.getMessage());
  Expected<Attention> attention = readAttention(*options, bundle->metadata);
  if (!attention)
    return fail(llvm::toString(attention.takeError()));
  if (options->check && !attention->config)
    return fail(options->bundle +
                ": --check needs the semantics the bundle records, and it "
                "has none (written by an older attn-compile): compile it "
                "again");
  if (Error e = loadInputs(*options, *attention))
    return fail(llvm::toString(std::move(e)));
  std::vector<double> times;
  if (Error e = runOnGpu(*bundle, *attention, options->repeat, times))
    return fail(llvm::toString(std::move(e)));
  if (!times.empty())
    printTime(*attention, times);
  if (options->check) {
    Expected<bool> ok = check(*attention);
    if (!ok)
      return fail(llvm::toString(ok.takeError()));
    if (!*ok) {
      llvm::errs() << "attn-bundle-run: check failed; no output written\n";
      return kExitCheckFailed;
    }
  }
  if (Error e = writeOutputs(*options, *attention))
    return fail(llvm::toString(std::move(e)));
  return 0;
}
