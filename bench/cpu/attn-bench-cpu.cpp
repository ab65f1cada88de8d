//===- attn-bench-cpu.cpp - throughput of the CPU backend -----------------===//
//
//   attn-bench-cpu [--dtype f32|f16|bf16] [--repeat N] [--shapes all|quick]
//                  [--markdown]
//
// Measures the CPU backend (CpuKernel, all cores through OpenMP) on prefill
// attention shapes and prints one table row per shape next to two peers
// measured in the same run:
//
//  * Shapes: B=1, Hq=Hkv=8, Sq=Sk=S in {1024, 4096} (--shapes quick: 1024
//    only), D=Dv in {64, 128}, without mask and with a top-left causal mask.
//    Inputs are N(0,1) from a fixed seed, rounded to the storage type.
//  * Compile time: wall time of CpuKernel::compile (build IR, lower, JIT).
//  * Kernel time: median of --repeat timed launches (default 5) after one
//    untimed warm-up launch (runCpu); host-side conversions are not timed.
//  * GFLOP/s: attentionFlops (4·B·H·Sq·Sk·D, halved for causal) / time.
//  * Fraction of peak: the machine's FP32 peak is measured with a loop of
//    independent vector FMAs on every core (AVX-512 where available).
//  * vs sgemm: the ratio to an OpenBLAS cblas_sgemm of 2048×2048×2048 on all
//    cores (median of 5, after a warm-up call), what a tuned library gets;
//    without OpenBLAS at configure time it is n/a.
//  * Reference: the fp64 referenceAttention is single-threaded and too slow
//    for H=8, so it runs once on one head (H=1, same S, D and mask) made of
//    the last head of the inputs; its GFLOP/s counts the FLOPs of that head.
//  * Check: the last head of the kernel's output (O and LSE) is compared with
//    that reference by checkOutputs (FlashAttention's rule). A shape that
//    fails prints FAILED and no timing, and the program then exits with 1.
//
// Any error (bad flag, compile or launch failure) prints one line on stderr
// and exits with 1.
//
//===----------------------------------------------------------------------===//

#include "attn/JIT/HostAttention.h"
#include "attn/Support/CommandLine.h"
#include "../BenchSupport.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#ifdef ATTN_BENCH_HAVE_OPENBLAS
#include <cblas.h>
#endif

using namespace attn;
using namespace attn::bench;
using llvm::Expected;
using llvm::StringRef;

namespace {

const char *kUsage =
    "usage: attn-bench-cpu [--dtype f32|f16|bf16] [--repeat N]\n"
    "                      [--shapes all|quick] [--markdown]\n"
    "\n"
    "Benchmarks the CPU backend on prefill attention (B=1, H=8, S in\n"
    "{1024, 4096}, D in {64, 128}, causal and not) next to the machine's FP32\n"
    "peak (OpenBLAS sgemm) and the fp64 reference on one head.\n";

struct Options {
  ElementType dtype = ElementType::F32;
  int64_t repeat = 5;
  bool quick = false;
  bool markdown = false;
};

/// Parses the command line; `help` is set for --help.
Expected<Options> parseArgs(int argc, char **argv, bool &help) {
  Options o;
  auto handle = [&](StringRef flag, std::optional<StringRef> v) -> llvm::Error {
    if (flag == "--help")
      help = true;
    if (flag == "--markdown")
      o.markdown = true;
    if (!v)
      return llvm::Error::success();
    StringRef value = *v;
    if (flag == "--dtype") {
      std::optional<ElementType> type = parseElementType(value);
      if (!type)
        return llvm::createStringError(
            "--dtype expects f32, f16 or bf16, got '" + value + "'");
      o.dtype = *type;
    } else if (flag == "--repeat") {
      if (value.getAsInteger(10, o.repeat) || o.repeat < 1)
        return llvm::createStringError(
            "--repeat expects a positive integer, got '" + value + "'");
    } else if (flag == "--shapes") {
      if (value != "all" && value != "quick")
        return llvm::createStringError("--shapes expects all or quick, got '" +
                                       value + "'");
      o.quick = value == "quick";
    } else {
      return llvm::createStringError("unknown flag '" + flag +
                                     "' (see --help)");
    }
    return llvm::Error::success();
  };
  if (llvm::Error e = forEachFlag(argc, argv, {"--markdown"}, handle))
    return std::move(e);
  return o;
}

/// FP32 FMA throughput of all cores: each thread runs 12 independent chains
/// of vector FMAs (enough to cover the FMA latency) on the widest vectors
/// the CPU has. This is the hardware ceiling every kernel is measured
/// against.
typedef float Vec16 __attribute__((vector_size(64)));
typedef float Vec8 __attribute__((vector_size(32)));
constexpr int kFmaChains = 12;

// Inlined into the target-specific wrappers below so that it is compiled
// with their ISA.
template <typename Vec>
__attribute__((always_inline)) inline double fmaChains(int64_t iterations) {
  constexpr int lanes = sizeof(Vec) / sizeof(float);
  Vec acc[kFmaChains], m, a;
  for (int i = 0; i < lanes; ++i) {
    m[i] = 0.999f;
    a[i] = 0.001f;
  }
  for (Vec &v : acc)
    v = a;
  for (int64_t it = 0; it < iterations; ++it)
    for (Vec &v : acc)
      v = v * m + a; // contracted to one FMA (-ffp-contract=fast)
  double sink = 0;
  for (Vec &v : acc)
    sink += v[0];
  return sink;
}

__attribute__((target("avx512f,fma"))) double fmaLoop512(int64_t n) {
  return fmaChains<Vec16>(n);
}
__attribute__((target("avx2,fma"))) double fmaLoop256(int64_t n) {
  return fmaChains<Vec8>(n);
}

/// GFLOP/s of the FMA loop on all cores, and the ISA it ran with.
std::pair<double, StringRef> measureFmaPeak() {
  bool avx512 = __builtin_cpu_supports("avx512f");
  int lanes = avx512 ? 16 : 8;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  constexpr int64_t iterations = 20'000'000;
  std::vector<double> times;
  for (int rep = 0; rep < 3; ++rep) {
    auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    std::vector<double> sinks(threads);
    for (unsigned t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        sinks[t] = avx512 ? fmaLoop512(iterations) : fmaLoop256(iterations);
      });
    for (std::thread &th : pool)
      th.join();
    times.push_back(millisecondsSince(start));
  }
  double flops = 2.0 * lanes * kFmaChains * double(iterations) *
                 threads;
  return {flops / (median(times) * 1e6), avx512 ? "AVX-512" : "AVX2"};
}

/// The throughput of an SGEMM, the best a tuned BLAS gets out of the machine.
struct Peak {
  std::optional<double> gflops; ///< unknown without OpenBLAS
  std::string description;      ///< how it was measured, or why not
};

Peak measurePeak() {
#ifdef ATTN_BENCH_HAVE_OPENBLAS
  constexpr int n = 2048;
  openblas_set_num_threads(
      int(std::max(1u, std::thread::hardware_concurrency())));
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> a(size_t(n) * n), b(size_t(n) * n), c(size_t(n) * n);
  for (float &x : a)
    x = dist(rng);
  for (float &x : b)
    x = dist(rng);
  std::vector<double> times;
  for (int i = 0; i <= 5; ++i) {
    auto start = std::chrono::steady_clock::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f,
                a.data(), n, b.data(), n, 0.0f, c.data(), n);
    if (i > 0) // the first call is a warm-up
      times.push_back(millisecondsSince(start));
  }
  double gflops = 2.0 * n * n * n / (median(times) * 1e6);
  return {gflops,
          llvm::formatv("OpenBLAS sgemm {0}x{0}x{0}, {1} threads, core {2}", n,
                        openblas_get_num_threads(), openblas_get_corename())};
#else
  return {std::nullopt, "OpenBLAS was not found at configure time"};
#endif
}

/// One benchmarked shape.
struct Shape {
  int64_t seqLen, headDim;
  bool causal;
};

struct Row {
  std::string shape;
  double compileMs = 0, kernelMs = 0, gflops = 0, referenceGflops = 0;
  bool ok = false;
};

constexpr int64_t kHeads = 8;

std::vector<float> randomNormal(std::mt19937 &rng, size_t size,
                                ElementType type) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> values(size);
  for (float &x : values)
    x = dist(rng);
  roundInPlace(type, values);
  return values;
}

/// Elements [head * size, (head + 1) * size) of `values`.
std::vector<float> headSlice(const std::vector<float> &values, int64_t head,
                             int64_t size) {
  return std::vector<float>(values.begin() + head * size,
                            values.begin() + (head + 1) * size);
}

Expected<Row> benchmark(const Shape &shape, const Options &options) {
  int64_t s = shape.seqLen, d = shape.headDim;
  HostInputs in;
  AttentionProblem &p = in.problem;
  p.dtype = options.dtype;
  p.q = p.k = p.v = {1, kHeads, s, d};
  p.causal = shape.causal ? AttentionProblem::Causal::TopLeft
                          : AttentionProblem::Causal::None;
  std::mt19937 rng(42);
  size_t size = size_t(kHeads) * s * d;
  in.q = randomNormal(rng, size, p.dtype);
  in.k = randomNormal(rng, size, p.dtype);
  in.v = randomNormal(rng, size, p.dtype);

  Row row;
  row.shape =
      llvm::formatv("S={0} D={1}{2}", s, d, shape.causal ? " causal" : "");
  auto start = std::chrono::steady_clock::now();
  Expected<std::unique_ptr<CpuKernel>> kernel =
      CpuKernel::compile(p, CpuCompileOptions());
  if (!kernel)
    return kernel.takeError();
  row.compileMs = millisecondsSince(start);

  std::vector<double> times;
  Expected<HostOutputs> out = runCpu(**kernel, in, options.repeat, &times);
  if (!out)
    return out.takeError();
  row.kernelMs = median(times);
  row.gflops = attentionFlops(p) / (row.kernelMs * 1e6);

  // The reference, and the check, on the last head alone.
  int64_t head = kHeads - 1;
  HostInputs one;
  one.problem = p;
  one.problem.q = one.problem.k = one.problem.v = {1, 1, s, d};
  one.q = headSlice(in.q, head, s * d);
  one.k = headSlice(in.k, head, s * d);
  one.v = headSlice(in.v, head, s * d);
  start = std::chrono::steady_clock::now();
  Expected<HostOutputs> reference = runReference(one);
  if (!reference)
    return reference.takeError();
  row.referenceGflops =
      attentionFlops(one.problem) / (millisecondsSince(start) * 1e6);

  HostOutputs kernelHead{headSlice(out->o, head, s * d),
                         headSlice(out->lse, head, s)};
  Expected<CheckReport> report = checkOutputs(one, kernelHead);
  if (!report)
    return report.takeError();
  row.ok = report->ok();
  return row;
}

/// Prints the table header and rows, as text or markdown.
class TablePrinter {
public:
  TablePrinter(llvm::raw_ostream &os, bool markdown, double fmaPeak,
               std::optional<double> sgemm)
      : os(os), markdown(markdown), fmaPeak(fmaPeak), sgemm(sgemm) {}

  void header() {
    if (markdown) {
      os << "| shape | compile (ms) | kernel (ms) | GFLOP/s | of FMA peak | "
            "vs sgemm | reference GFLOP/s (1 head) | check |\n"
         << "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n";
    } else {
      os << llvm::formatv(
          "{0,-20} {1,12} {2,12} {3,9} {4,12} {5,9} {6,14} {7,6}\n", "shape",
          "compile ms", "kernel ms", "GFLOP/s", "of FMA peak", "vs sgemm",
          "ref GFLOP/s", "check");
    }
    os.flush();
  }

  void row(const Row &r) {
    // A wrong kernel gets no timing.
    std::string kernelMs = "-", gflops = "-", fraction = "-", vsSgemm = "-";
    if (r.ok) {
      kernelMs = llvm::formatv("{0:F2}", r.kernelMs);
      gflops = llvm::formatv("{0:F1}", r.gflops);
      fraction = llvm::formatv("{0:F1}%", 100 * r.gflops / fmaPeak);
      vsSgemm = sgemm ? llvm::formatv("{0:F2}x", r.gflops / *sgemm).str()
                      : "n/a";
    }
    std::string compileMs = llvm::formatv("{0:F0}", r.compileMs);
    std::string refGflops = llvm::formatv("{0:F2}", r.referenceGflops);
    StringRef check = r.ok ? "ok" : "FAILED";
    if (markdown)
      os << llvm::formatv(
          "| {0} | {1} | {2} | {3} | {4} | {5} | {6} | {7} |\n", r.shape,
          compileMs, kernelMs, gflops, fraction, vsSgemm, refGflops, check);
    else
      os << llvm::formatv(
          "{0,-20} {1,12} {2,12} {3,9} {4,12} {5,9} {6,14} {7,6}\n", r.shape,
          compileMs, kernelMs, gflops, fraction, vsSgemm, refGflops, check);
    os.flush();
  }

private:
  llvm::raw_ostream &os;
  bool markdown;
  double fmaPeak;
  std::optional<double> sgemm;
};

int fail(const llvm::Twine &msg) {
  return reportError("attn-bench-cpu", msg, 1);
}

} // namespace

int main(int argc, char **argv) {
  bool help = false;
  Expected<Options> options = parseArgs(argc, argv, help);
  if (std::optional<int> status =
          finishParsing(options, help, "attn-bench-cpu", kUsage, 1))
    return *status;

  llvm::raw_ostream &os = llvm::outs();
  // Markdown puts the preamble lines in a list so that they paste as such.
  StringRef bullet = options->markdown ? "- " : "";
  os << llvm::formatv("{0}attn-bench-cpu: CPU backend, B=1 Hq=Hkv={1}, dtype "
                      "{2}, median of {3} runs; reference = fp64 "
                      "referenceAttention on one head (H=1), one thread, run "
                      "once\n",
                      bullet, kHeads, toString(options->dtype),
                      options->repeat);
  os << llvm::formatv("{0}host: {1}, {2} cores, {3}\n", bullet,
                      llvm::sys::getHostCPUName(),
                      std::thread::hardware_concurrency(), currentDate());
  os.flush();
  auto [fmaPeak, isa] = measureFmaPeak();
  os << llvm::formatv("{0}FMA peak ({1} FMA loop, {2} threads): {3:F1} "
                      "GFLOP/s\n",
                      bullet, isa, std::thread::hardware_concurrency(),
                      fmaPeak);
  Peak peak = measurePeak();
  if (peak.gflops)
    os << llvm::formatv("{0}sgemm ({1}): {2:F1} GFLOP/s\n", bullet,
                        peak.description, *peak.gflops);
  else
    os << llvm::formatv("{0}sgemm: unknown ({1})\n", bullet,
                        peak.description);
  if (options->markdown)
    os << "\n";

  llvm::SmallVector<Shape> shapes;
  for (int64_t s : {1024, 4096}) {
    if (options->quick && s != 1024)
      continue;
    for (int64_t d : {64, 128})
      for (bool causal : {false, true})
        shapes.push_back({s, d, causal});
  }

  TablePrinter table(os, options->markdown, fmaPeak, peak.gflops);
  table.header();
  bool allOk = true;
  for (const Shape &shape : shapes) {
    Expected<Row> row = benchmark(shape, *options);
    if (!row)
      return fail(llvm::toString(row.takeError()));
    table.row(*row);
    allOk &= row->ok;
  }
  if (!allOk)
    return fail("the kernel's output failed the check against the reference");
  return 0;
}
