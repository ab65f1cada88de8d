//===- attn-bench-compile.cpp - where compile time goes -------------------===//
//
//   attn-bench-compile [--repeat N] [--markdown]
//
// Times the GPU compiler on typical specs (f16, B=1 H=8 S=1024, D 64/128,
// causal or not, for sm_80 and sm_90a) stage by stage, and the kernel cache:
//
//  * spec → IR: MLIR context and the verified attn.attention module;
//  * IR → PTX: the attn-lower-to-ptx pipeline (kernel passes, NVVM, PTX);
//  * PTX → cubin: the toolkit's ptxas (whole program), or nvJitLink in
//    process without it (attn::assemblePtx);
//  * fast: PTX → cubin and spec → cubin again with ptxas
//    --Ofast-compile=min (GpuTileOptions::fastAssemble), measured in the
//    same runs, alternating with the default;
//  * (CPU time): the CPU time of spec → cubin, the process's and its
//    ptxas child's, which, unlike wall time, does not grow when other work
//    shares the cores;
//  * key: the cache key of a problem seen before (its IR text remembered,
//    the pipeline text, BLAKE3);
//  * memory hit: KernelCache::getOrCompute of a cached key (no key, no
//    bundle parsing), averaged over 1000 lookups;
//  * disk hit: the same in a new KernelCache (read, verify the checksum and
//    key, keep in memory);
//  * cached compile: compileGpuBundleCached with the bundle in memory (key +
//    memory hit + parsing the bundle);
//  * compile() hit: Compiler::compile of the spec when its kernel is in
//    memory (validation, key, lookup), averaged over 1000 calls: what a
//    repeated compile costs a user of the embedding API.
//
// The CPU backend's spec → machine code (CpuKernel::compile, the
// ExecutionEngine JIT) is timed on one f32 spec, then compiling it again
// through the in-memory CpuKernel::compileCached, and from the disk layer
// (CpuKernel::compileThrough a new KernelCache on the benchmark's
// directory: read and verify the object file, link it with ORC).
// Every figure is the median of --repeat runs (default 5) after one warm-up
// compile. Errors print one line and exit 1.
//
//===----------------------------------------------------------------------===//

#include "../BenchSupport.h"
#include "attn/JIT/Compiler.h"
#include "attn/JIT/CpuKernel.h"
#include "attn/JIT/GpuKernel.h"
#include "attn/JIT/KernelCache.h"
#include "attn/Support/CommandLine.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include <sys/resource.h>

using namespace attn;
using namespace attn::bench;
using llvm::Expected;
using llvm::StringRef;

namespace {

const char *kUsage =
    "usage: attn-bench-compile [--repeat N] [--markdown]\n"
    "\n"
    "Times spec -> IR -> PTX -> cubin and kernel cache hits (memory, disk)\n"
    "on typical GPU specs, and the CPU backend's compile.\n";

struct Options {
  int64_t repeat = 5;
  bool markdown = false;
};

Expected<Options> parseArgs(int argc, char **argv, bool &help) {
  Options o;
  auto handle = [&](StringRef flag, std::optional<StringRef> v) -> llvm::Error {
    if (flag == "--help")
      help = true;
    if (flag == "--markdown")
      o.markdown = true;
    if (!v)
      return llvm::Error::success();
    if (flag == "--repeat") {
      if (v->getAsInteger(10, o.repeat) || o.repeat < 1)
        return llvm::createStringError(
            "--repeat expects a positive integer, got '" + *v + "'");
      return llvm::Error::success();
    }
    return llvm::createStringError("unknown flag '" + flag + "' (see --help)");
  };
  if (llvm::Error e = forEachFlag(argc, argv, {"--markdown"}, handle))
    return std::move(e);
  return o;
}

using Clock = std::chrono::steady_clock;

/// The median over `repeat` runs of `body`, which returns its time or an
/// error.
Expected<double> medianOf(int64_t repeat,
                          llvm::function_ref<Expected<double>()> body) {
  std::vector<double> times;
  for (int64_t i = 0; i < repeat; ++i) {
    Expected<double> t = body();
    if (!t)
      return t.takeError();
    times.push_back(*t);
  }
  return median(times);
}

struct Spec {
  std::string name;
  AttentionProblem problem;
};

AttentionProblem prefill(ElementType dtype, int64_t d, bool causal) {
  AttentionProblem p;
  p.dtype = dtype;
  p.q = p.k = p.v = {1, 8, 1024, d};
  if (causal)
    p.causal = AttentionProblem::Causal::TopLeft;
  return p;
}

std::vector<Spec> gpuSpecs() {
  std::vector<Spec> specs;
  for (int64_t d : {64, 128})
    for (bool causal : {false, true})
      specs.push_back(
          {llvm::formatv("f16 D={0}{1}", d, causal ? " causal" : ""),
           prefill(ElementType::F16, d, causal)});
  return specs;
}

struct GpuRow {
  GpuCompileTimes stages; ///< medians
  /// spec → cubin: wall time, and the CPU time with ptxas' (what the compile
  /// itself costs when other work shares the cores).
  double total = 0, totalCpu = 0;
  double fastAssemble = 0, fastTotal = 0; ///< with fastAssemble
  double keyUs = 0, memoryHitUs = 0, diskHit = 0, cachedCompile = 0;
  double compileHitUs = 0;
};

/// CPU time in ms (user + system) of this process and of its children
/// that have been waited for (ptxas).
double cpuMs() {
  double ms = 0;
  for (int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
    rusage usage{};
    getrusage(who, &usage);
    for (const timeval &t : {usage.ru_utime, usage.ru_stime})
      ms += 1e3 * double(t.tv_sec) + 1e-3 * double(t.tv_usec);
  }
  return ms;
}

llvm::Error unexpected(StringRef what) {
  return llvm::createStringError(("unexpected " + what).str());
}

/// A kernel cache on `dir` (memory and disk).
KernelCacheOptions onDisk(StringRef dir) {
  KernelCacheOptions options;
  options.directory = dir.str();
  return options;
}

Expected<GpuRow> measureGpu(const AttentionProblem &p, StringRef chip,
                            StringRef cacheDir, int64_t repeat) {
  GpuRow row;
  std::vector<GpuCompileTimes> stages;
  std::vector<double> totals, cpuTotals, fastAssembles, fastTotals;
  GpuTileOptions fast;
  fast.fastAssemble = true;
  for (int64_t i = 0; i <= repeat; ++i) { // run 0 warms up
    GpuCompileTimes t, f;
    auto start = Clock::now();
    double cpuStart = cpuMs();
    Expected<rt::Bundle> bundle =
        compileGpuBundle(p, chip, GpuTileOptions(), &t);
    if (!bundle)
      return bundle.takeError();
    double total = millisecondsSince(start);
    double cpu = cpuMs() - cpuStart;
    start = Clock::now();
    if (Expected<rt::Bundle> b = compileGpuBundle(p, chip, fast, &f); !b)
      return b.takeError();
    if (i > 0) {
      totals.push_back(total);
      cpuTotals.push_back(cpu);
      stages.push_back(t);
      fastTotals.push_back(millisecondsSince(start));
      fastAssembles.push_back(f.assemble);
    }
  }
  auto stageMedian = [&](double GpuCompileTimes::*field) {
    std::vector<double> v;
    for (const GpuCompileTimes &t : stages)
      v.push_back(t.*field);
    return median(v);
  };
  row.stages.buildIr = stageMedian(&GpuCompileTimes::buildIr);
  row.stages.lowerToPtx = stageMedian(&GpuCompileTimes::lowerToPtx);
  row.stages.assemble = stageMedian(&GpuCompileTimes::assemble);
  row.total = median(totals);
  row.totalCpu = median(cpuTotals);
  row.fastAssemble = median(fastAssembles);
  row.fastTotal = median(fastTotals);

  Expected<CacheKey> key = getGpuBundleCacheKey(p, chip);
  if (!key)
    return key.takeError();
  Expected<double> keyMs = medianOf(repeat, [&]() -> Expected<double> {
    auto start = Clock::now();
    Expected<CacheKey> k = getGpuBundleCacheKey(p, chip);
    if (!k)
      return k.takeError();
    return millisecondsSince(start);
  });
  if (!keyMs)
    return keyMs.takeError();
  row.keyUs = *keyMs * 1000;

  // Fill the disk and a memory layer, then time hits; a lookup that would
  // compile is an error here.
  KernelCache cache(onDisk(cacheDir));
  if (Expected<rt::Bundle> b = compileGpuBundleCached(p, chip, cache); !b)
    return b.takeError();
  auto notCached = []() -> Expected<std::string> {
    return unexpected("cache miss");
  };
  constexpr int kLookups = 1000;
  Expected<double> memoryMs = medianOf(repeat, [&]() -> Expected<double> {
    auto start = Clock::now();
    for (int i = 0; i < kLookups; ++i)
      if (Expected<CacheLookup> hit = cache.getOrCompute(*key, notCached); !hit)
        return hit.takeError();
    return millisecondsSince(start) / kLookups;
  });
  if (!memoryMs)
    return memoryMs.takeError();
  row.memoryHitUs = *memoryMs * 1000;
  Expected<double> diskMs = medianOf(repeat, [&]() -> Expected<double> {
    auto start = Clock::now();
    KernelCache fresh(onDisk(cacheDir));
    Expected<CacheLookup> hit = fresh.getOrCompute(*key, notCached);
    if (!hit)
      return hit.takeError();
    if (hit->source != CacheSource::Disk)
      return unexpected("cache source");
    return millisecondsSince(start);
  });
  if (!diskMs)
    return diskMs.takeError();
  row.diskHit = *diskMs;
  Expected<double> cachedMs = medianOf(repeat, [&]() -> Expected<double> {
    auto start = Clock::now();
    CacheSource source;
    if (Expected<rt::Bundle> b =
            compileGpuBundleCached(p, chip, cache, GpuTileOptions(), &source);
        !b)
      return b.takeError();
    if (source != CacheSource::Memory)
      return unexpected("cache source");
    return millisecondsSince(start);
  });
  if (!cachedMs)
    return cachedMs.takeError();
  row.cachedCompile = *cachedMs;

  // The embedding API on the same cache: one compile fills its kernel
  // memory, then every call is a hit.
  AttentionSpec spec;
  spec.dtype = p.dtype;
  spec.numQueryHeads = p.q[1];
  spec.numKvHeads = p.k[1];
  spec.headDim = p.q[3];
  spec.valueHeadDim = p.v[3];
  spec.batch = p.q[0];
  spec.querySeqLen = p.q[2];
  spec.keySeqLen = p.k[2];
  spec.causal = p.causal;
  spec.target = chip.str();
  Compiler compiler(CompilerOptions{/*numThreads=*/0, &cache});
  Expected<std::shared_ptr<const Kernel>> first = compiler.compile(spec);
  if (!first)
    return first.takeError();
  Expected<double> hitMs = medianOf(repeat, [&]() -> Expected<double> {
    auto start = Clock::now();
    for (int i = 0; i < kLookups; ++i) {
      Expected<std::shared_ptr<const Kernel>> k = compiler.compile(spec);
      if (!k)
        return k.takeError();
      if (k->get() != first->get())
        return unexpected("kernel (not the cached one)");
    }
    return millisecondsSince(start) / kLookups;
  });
  if (!hitMs)
    return hitMs.takeError();
  row.compileHitUs = *hitMs * 1000;
  return row;
}

/// One table row: the same cells as text columns or markdown.
void printRow(llvm::raw_ostream &os, bool markdown,
              llvm::ArrayRef<std::string> cells) {
  static const int kWidths[] = {-18, -7, 9, 8, 11, 12, 11,
                                16, 17, 7, 11, 9, 15, 14};
  for (size_t i = 0; i < cells.size(); ++i) {
    if (markdown) {
      os << "| " << cells[i] << " ";
      continue;
    }
    int w = kWidths[i];
    if (i)
      os << " ";
    if (w < 0)
      os << llvm::left_justify(cells[i], -w);
    else
      os << llvm::right_justify(cells[i], w);
  }
  os << (markdown ? "|\n" : "\n");
  os.flush();
}

std::string ms(double v) { return llvm::formatv("{0:F1}", v); }

int fail(const llvm::Twine &msg) {
  return reportError("attn-bench-compile", msg, 1);
}

} // namespace

int main(int argc, char **argv) {
  bool help = false;
  Expected<Options> options = parseArgs(argc, argv, help);
  if (std::optional<int> status =
          finishParsing(options, help, "attn-bench-compile", kUsage, 1))
    return *status;
  llvm::raw_ostream &os = llvm::outs();
  bool md = options->markdown;
  StringRef bullet = md ? "- " : "";
  os << llvm::formatv("{0}attn-bench-compile: B=1 H=8 S=1024, median of {1} "
                      "runs after a warm-up; wall times in ms unless marked; "
                      "(CPU time) = CPU time of spec->cubin (process + ptxas)\n",
                      bullet, options->repeat);
  os << llvm::formatv("{0}host: {1}, {2} cores, {3}; {4}\n", bullet,
                      llvm::sys::getHostCPUName(),
                      std::thread::hardware_concurrency(), currentDate(),
                      getCompilerId());
  if (md)
    os << "\n";

  llvm::SmallString<128> cacheDir;
  if (std::error_code ec =
          llvm::sys::fs::createUniqueDirectory("attn-bench-cache", cacheDir))
    return fail("cannot create a temporary cache directory: " + ec.message());
  llvm::scope_exit removeCache(
      [&] { llvm::sys::fs::remove_directories(cacheDir); });

  printRow(os, md,
           {"spec", "chip", "spec->IR", "IR->PTX", "PTX->cubin", "spec->cubin",
            "(CPU time)", "fast PTX->cubin", "fast spec->cubin", "key",
            "memory hit", "disk hit", "cached compile", "compile() hit"});
  if (md)
    printRow(os, md,
             {"---", "---", "---:", "---:", "---:", "---:", "---:", "---:",
              "---:", "---:", "---:", "---:", "---:", "---:"});
  for (StringRef chip : {"sm_80", "sm_90a"})
    for (const Spec &spec : gpuSpecs()) {
      Expected<GpuRow> r =
          measureGpu(spec.problem, chip, cacheDir, options->repeat);
      if (!r)
        return fail(spec.name + " " + chip + ": " +
                    llvm::toString(r.takeError()));
      printRow(os, md,
               {spec.name, chip.str(), ms(r->stages.buildIr),
                ms(r->stages.lowerToPtx), ms(r->stages.assemble), ms(r->total),
                ms(r->totalCpu), ms(r->fastAssemble), ms(r->fastTotal),
                llvm::formatv("{0:F0} us", r->keyUs),
                llvm::formatv("{0:F1} us", r->memoryHitUs),
                llvm::formatv("{0:F2}", r->diskHit),
                llvm::formatv("{0:F2}", r->cachedCompile),
                llvm::formatv("{0:F1} us", r->compileHitUs)});
    }

  // The CPU backend: spec → IR → LLVM → machine code in one call.
  AttentionProblem cpu = prefill(ElementType::F32, 128, /*causal=*/true);
  Expected<double> cpuMs = medianOf(options->repeat, [&]() -> Expected<double> {
    auto start = Clock::now();
    Expected<std::unique_ptr<CpuKernel>> kernel =
        CpuKernel::compile(cpu, CpuCompileOptions());
    if (!kernel)
      return kernel.takeError();
    return millisecondsSince(start);
  });
  if (!cpuMs)
    return fail("f32 D=128 causal cpu: " + llvm::toString(cpuMs.takeError()));
  // Compiled again through the in-memory cache (key + hit).
  if (auto warm = CpuKernel::compileCached(cpu, CpuCompileOptions()); !warm)
    return fail("f32 D=128 causal cpu: " + llvm::toString(warm.takeError()));
  Expected<double> cachedMs =
      medianOf(options->repeat, [&]() -> Expected<double> {
        auto start = Clock::now();
        CacheSource source;
        if (auto kernel =
                CpuKernel::compileCached(cpu, CpuCompileOptions(), &source);
            !kernel)
          return kernel.takeError();
        if (source != CacheSource::Memory)
          return unexpected("cache source");
        return millisecondsSince(start);
      });
  if (!cachedMs)
    return fail("f32 D=128 causal cpu: " +
                llvm::toString(cachedMs.takeError()));
  // From the disk layer, as a new process would find it.
  {
    KernelCache fill(onDisk(cacheDir));
    if (auto warm = CpuKernel::compileThrough(cpu, CpuCompileOptions(), fill);
        !warm)
      return fail("f32 D=128 causal cpu: " + llvm::toString(warm.takeError()));
  }
  Expected<double> diskMs =
      medianOf(options->repeat, [&]() -> Expected<double> {
        KernelCache fresh(onDisk(cacheDir));
        auto start = Clock::now();
        CacheSource source;
        if (auto kernel = CpuKernel::compileThrough(cpu, CpuCompileOptions(),
                                                    fresh, &source);
            !kernel)
          return kernel.takeError();
        if (source != CacheSource::Disk)
          return unexpected("cache source");
        return millisecondsSince(start);
      });
  if (!diskMs)
    return fail("f32 D=128 causal cpu: " + llvm::toString(diskMs.takeError()));
  os << llvm::formatv("\n{0}cpu: f32 D=128 causal, spec -> JIT machine code "
                      "(CpuKernel::compile): {1} ms; cached compile "
                      "(CpuKernel::compileCached, in memory): {2:F3} ms; from "
                      "the disk layer (key, read, ORC link): {3:F2} ms\n",
                      bullet, ms(*cpuMs), *cachedMs, *diskMs);
  return 0;
}
