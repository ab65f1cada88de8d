//===- KernelCacheTest.cpp - the kernel cache, alone and under stress -----===//
//
// The cache is tested with a cheap "compile" (a payload derived from the
// key), so that the behaviour tests and the stress test run in seconds; with
// the GPU compiler built, a last round caches real kernel bundles.
//
// The stress test runs 16 threads in this process and 8 child processes
// (this test binary again, running KernelCacheStressWorker.Run with
// ATTN_STRESS_DIR set), each with 16 threads, all on one cache directory.
//
//===----------------------------------------------------------------------===//

#include "TestProblems.h"
#include "attn/JIT/CpuKernel.h"
#include "attn/JIT/KernelCache.h"
#ifdef ATTN_HAVE_GPU_JIT
#include "attn/JIT/GpuKernel.h"
#include "attn/Target/Cuda/PtxAssembler.h"
#endif

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/BLAKE3.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>
#include <cstdlib>
#include <fstream>
#include <thread>

extern char **environ;

using namespace attn;
using llvm::Expected;
using llvm::StringRef;

namespace {

/// A fresh directory, removed with everything in it at the end of the test.
class TempDir {
public:
  TempDir() {
    std::error_code ec =
        llvm::sys::fs::createUniqueDirectory("attn-cache-test", path);
    EXPECT_FALSE(ec) << ec.message();
  }
  ~TempDir() { llvm::sys::fs::remove_directories(path); }
  std::string sub(StringRef name) const { return (path + "/" + name).str(); }
  std::string str() const { return path.str().str(); }

private:
  llvm::SmallString<128> path;
};

CacheKey makeKey(int i) {
  CacheKey key("test");
  key.add("index", std::to_string(i));
  return key;
}

/// The cheap compile: 1 KiB to 256 KiB derived from the key, so that a
/// payload can be checked against its key and large entries widen the
/// window in which a non-atomic write would be seen half-written.
std::string payloadFor(const CacheKey &key) {
  std::string digest = key.getDigest();
  size_t size = 1024 << (digest[0] % 9);
  std::string payload;
  while (payload.size() < size)
    payload += digest;
  payload.resize(size);
  return payload;
}

/// getOrCompute with the cheap compile, counting the compiles.
Expected<CacheLookup> lookup(KernelCache &cache, const CacheKey &key,
                             std::atomic<int> *compiles = nullptr) {
  return cache.getOrCompute(key, [&]() -> Expected<std::string> {
    if (compiles)
      ++*compiles;
    return payloadFor(key);
  });
}

KernelCacheOptions onDisk(const std::string &dir, llvm::raw_ostream *warnings =
                                                      nullptr) {
  KernelCacheOptions o;
  o.directory = dir;
  o.warnings = warnings;
  return o;
}

std::string readFile(StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  EXPECT_TRUE(bool(buffer)) << path.str();
  return buffer ? (*buffer)->getBuffer().str() : "";
}

void writeFile(StringRef path, StringRef bytes) {
  std::ofstream(path.str(), std::ios::binary | std::ios::trunc) << bytes.str();
}

//===----------------------------------------------------------------------===//
// Keys and entry files
//===----------------------------------------------------------------------===//

TEST(CacheKey, AnyFieldChangeChangesTheDigest) {
  CacheKey base("cuda-bundle");
  base.add("chip", "sm_80").add("spec", "module {}");
  std::string digest = base.getDigest();
  EXPECT_EQ(digest.size(), 64u);
  EXPECT_EQ(digest, CacheKey(base).getDigest());

  CacheKey chip("cuda-bundle");
  chip.add("chip", "sm_90a").add("spec", "module {}");
  CacheKey kind("cpu-object");
  kind.add("chip", "sm_80").add("spec", "module {}");
  CacheKey spec("cuda-bundle");
  spec.add("chip", "sm_80").add("spec", "module { }");
  // Fields are length-prefixed: moving text across a field boundary
  // changes the key.
  CacheKey shifted("cuda-bundle");
  shifted.add("chip", "sm_80\nspec[9]: module {}").add("spec", "");
  for (const CacheKey *other : {&chip, &kind, &spec, &shifted})
    EXPECT_NE(other->getDigest(), digest) << other->getText();
  // The compiler id (version and source hash) is part of every key.
  EXPECT_NE(base.getText().find(getCompilerId().str()), std::string::npos);
}

TEST(CacheEntry, RoundTrips) {
  CacheKey key = makeKey(1);
  std::string payload("payload\0bytes", 13); // binary: NULs included
  Expected<CacheEntry> entry =
      parseCacheEntry(serializeCacheEntry(key, payload));
  ASSERT_TRUE(bool(entry)) << llvm::toString(entry.takeError());
  EXPECT_EQ(entry->keyText, key.getText());
  EXPECT_EQ(entry->payload, payload);
}

TEST(CacheEntry, EveryTruncationAndEveryByteFlipIsRejected) {
  std::string bytes = serializeCacheEntry(makeKey(2), "some payload");
  for (size_t size = 0; size < bytes.size(); ++size)
    EXPECT_FALSE(bool(parseCacheEntry(StringRef(bytes).take_front(size))))
        << "truncated to " << size;
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string flipped = bytes;
    flipped[i] ^= 0x20;
    Expected<CacheEntry> entry = parseCacheEntry(flipped);
    EXPECT_FALSE(bool(entry)) << "byte " << i << " flipped";
    llvm::consumeError(entry.takeError());
  }
  Expected<CacheEntry> extra = parseCacheEntry(bytes + "x");
  ASSERT_FALSE(bool(extra));
  EXPECT_EQ(llvm::toString(extra.takeError()),
            "invalid cache entry: payload length 12, but 13 bytes are left "
            "(truncated or corrupt)");
}

//===----------------------------------------------------------------------===//
// Behaviour
//===----------------------------------------------------------------------===//

TEST(KernelCache, MemoryHitDoesNotCompile) {
  KernelCache cache(onDisk(""));
  std::atomic<int> compiles{0};
  Expected<CacheLookup> first = lookup(cache, makeKey(1), &compiles);
  Expected<CacheLookup> second = lookup(cache, makeKey(1), &compiles);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->source, CacheSource::Computed);
  EXPECT_EQ(second->source, CacheSource::Memory);
  EXPECT_EQ(first->bytes, second->bytes); // the same shared bytes
  EXPECT_EQ(compiles, 1);
  EXPECT_EQ(cache.getStats().memoryHits, 1u);
}

TEST(KernelCache, DiskHitInAnotherCacheDoesNotCompile) {
  TempDir dir;
  std::string cacheDir = dir.sub("a/b"); // created with its parents
  std::atomic<int> compiles{0};
  {
    KernelCache writer(onDisk(cacheDir));
    ASSERT_TRUE(bool(lookup(writer, makeKey(1), &compiles)));
  }
  KernelCache reader(onDisk(cacheDir));
  Expected<CacheLookup> hit = lookup(reader, makeKey(1), &compiles);
  ASSERT_TRUE(bool(hit));
  EXPECT_EQ(hit->source, CacheSource::Disk);
  EXPECT_EQ(*hit->bytes, payloadFor(makeKey(1)));
  EXPECT_EQ(compiles, 1);
  // Another key is a miss.
  Expected<CacheLookup> miss = lookup(reader, makeKey(2), &compiles);
  ASSERT_TRUE(bool(miss));
  EXPECT_EQ(miss->source, CacheSource::Computed);
  EXPECT_EQ(compiles, 2);

  // The directory is private to its owner; no temporaries are left.
  llvm::sys::fs::file_status status;
  ASSERT_FALSE(llvm::sys::fs::status(cacheDir, status));
  EXPECT_EQ(status.permissions(), llvm::sys::fs::owner_all);
  std::error_code ec;
  int files = 0;
  for (llvm::sys::fs::directory_iterator it(cacheDir, ec), end;
       !ec && it != end; it.increment(ec)) {
    EXPECT_EQ(llvm::sys::path::extension(it->path()), ".attnkc") << it->path();
    ++files;
  }
  EXPECT_EQ(files, 2);
}

/// Corrupt, truncated and foreign entries are recompiled, never returned,
/// and replaced by a valid entry.
TEST(KernelCache, InvalidEntriesAreRecompiledAndReplaced) {
  TempDir dir;
  CacheKey key = makeKey(3);
  std::string path = KernelCache(onDisk(dir.str())).getEntryPath(key);
  std::string valid = serializeCacheEntry(key, payloadFor(key));
  std::string flipped = valid;
  flipped[valid.size() / 2] ^= 1;
  std::string corruptions[] = {
      valid.substr(0, valid.size() - 1),                   // truncated
      flipped,                                             // bit flip
      "",                                                  // empty
      serializeCacheEntry(makeKey(4), payloadFor(makeKey(4))), // other key
  };
  for (const std::string &bad : corruptions) {
    writeFile(path, bad);
    KernelCache cache(onDisk(dir.str()));
    std::atomic<int> compiles{0};
    Expected<CacheLookup> found = lookup(cache, key, &compiles);
    ASSERT_TRUE(bool(found));
    EXPECT_EQ(found->source, CacheSource::Computed);
    EXPECT_EQ(*found->bytes, payloadFor(key));
    EXPECT_EQ(compiles, 1);
    EXPECT_EQ(cache.getStats().invalidEntries, 1u);
    EXPECT_EQ(readFile(path), valid);
  }
}

TEST(KernelCache, ErrorsAreReturnedAndNotCached) {
  KernelCache cache(onDisk(""));
  int calls = 0;
  auto failing = [&]() -> Expected<std::string> {
    ++calls;
    return llvm::createStringError("ptxas: out of registers");
  };
  for (int i = 0; i < 2; ++i) {
    Expected<CacheLookup> found = cache.getOrCompute(makeKey(1), failing);
    ASSERT_FALSE(bool(found));
    EXPECT_EQ(llvm::toString(found.takeError()), "ptxas: out of registers");
  }
  EXPECT_EQ(calls, 2);
}

TEST(KernelCache, DisabledComputesEveryTime) {
  TempDir dir;
  KernelCacheOptions o = onDisk(dir.str());
  o.enabled = false;
  KernelCache cache(o);
  std::atomic<int> compiles{0};
  for (int i = 0; i < 2; ++i) {
    Expected<CacheLookup> found = lookup(cache, makeKey(1), &compiles);
    ASSERT_TRUE(bool(found));
    EXPECT_EQ(found->source, CacheSource::Computed);
  }
  EXPECT_EQ(compiles, 2);
  EXPECT_EQ(cache.getEntryPath(makeKey(1)), "");
}

/// A directory that cannot be created: one warning, then memory only.
TEST(KernelCache, UncreatableDirectoryFallsBackToMemory) {
  TempDir dir;
  writeFile(dir.sub("file"), "not a directory");
  std::string warnings;
  llvm::raw_string_ostream os(warnings);
  KernelCache cache(onDisk(dir.sub("file/cache"), &os));
  EXPECT_EQ(cache.getDirectory(), "");
  EXPECT_EQ(warnings,
            "attn: warning: cannot create kernel cache directory '" +
                dir.sub("file/cache") +
                "': Not a directory; caching compiled kernels in memory only "
                "(set ATTN_CACHE_DIR to a writable directory, or to nothing "
                "to silence this)\n");
  std::atomic<int> compiles{0};
  ASSERT_TRUE(bool(lookup(cache, makeKey(1), &compiles)));
  Expected<CacheLookup> again = lookup(cache, makeKey(1), &compiles);
  ASSERT_TRUE(bool(again));
  EXPECT_EQ(again->source, CacheSource::Memory);
  EXPECT_EQ(compiles, 1);
}

/// A directory that exists but takes no files: lookups still succeed, one
/// warning for all failed writes. /proc/self is used because file
/// permissions do not stop root (CI runs as root), while procfs refuses new
/// files to everyone.
TEST(KernelCache, ReadOnlyDirectoryWarnsOnceAndKeepsCompiling) {
  std::string warnings;
  llvm::raw_string_ostream os(warnings);
  KernelCache cache(onDisk("/proc/self", &os));
  ASSERT_EQ(cache.getDirectory(), "/proc/self");
  std::atomic<int> compiles{0};
  for (int i : {1, 1, 2}) {
    Expected<CacheLookup> found = lookup(cache, makeKey(i), &compiles);
    ASSERT_TRUE(bool(found)) << llvm::toString(found.takeError());
    EXPECT_EQ(*found->bytes, payloadFor(makeKey(i)));
  }
  EXPECT_EQ(compiles, 2);
  EXPECT_EQ(cache.getStats().memoryHits, 1u);
  EXPECT_EQ(cache.getStats().writeFailures, 1u); // then it stops trying
  EXPECT_EQ(std::count(warnings.begin(), warnings.end(), '\n'), 1);
  EXPECT_NE(warnings.find("attn: warning: cannot write kernel cache entry "
                          "'/proc/self/"),
            std::string::npos)
      << warnings;
}

TEST(KernelCache, EnvironmentPicksTheDirectory) {
  auto options = [](const char *disable, const char *dir, const char *xdg,
                    const char *home) {
    auto set = [](const char *name, const char *value) {
      if (value)
        setenv(name, value, 1);
      else
        unsetenv(name);
    };
    set("ATTN_DISABLE_CACHE", disable);
    set("ATTN_CACHE_DIR", dir);
    set("XDG_CACHE_HOME", xdg);
    set("HOME", home);
    return KernelCacheOptions::fromEnvironment();
  };
  EXPECT_EQ(options(nullptr, "/d", "/x", "/h").directory, "/d");
  EXPECT_EQ(options(nullptr, nullptr, "/x", "/h").directory, "/x/attn");
  EXPECT_EQ(options(nullptr, nullptr, "", "/h").directory, "/h/.cache/attn");
  EXPECT_EQ(options(nullptr, nullptr, nullptr, nullptr).directory, "");
  KernelCacheOptions memoryOnly = options(nullptr, "", "/x", "/h");
  EXPECT_TRUE(memoryOnly.enabled);
  EXPECT_EQ(memoryOnly.directory, "");
  EXPECT_FALSE(options("1", "/d", "/x", "/h").enabled);
  EXPECT_TRUE(options("0", "/d", "/x", "/h").enabled);
}

//===----------------------------------------------------------------------===//
// Stress: threads and processes on one directory
//===----------------------------------------------------------------------===//

constexpr int kThreads = 16, kProcesses = 8, kKeys = 24, kRounds = 4;

/// 16 threads look up kKeys overlapping keys kRounds times, each starting at
/// another key, in three ways: a quarter share one cache (in-process
/// deduplication), a quarter have their own, half use a new cache for every
/// lookup (so they read the files again and again while others write them).
/// With `clean`, one more thread keeps deleting entries, as a user clearing
/// the cache during compiles would, so that entries are written again while
/// being read. Returns the number of errors: failed lookups, wrong payloads,
/// invalid entries seen, failed writes.
int hammer(const std::string &dir, bool clean) {
  std::atomic<int> errors{0};
  std::atomic<bool> done{false};
  auto countProblems = [&](const KernelCache &cache) {
    KernelCacheStats stats = cache.getStats();
    errors += int(stats.invalidEntries + stats.writeFailures);
  };
  KernelCache shared(onDisk(dir));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      KernelCache own(onDisk(dir));
      for (int i = 0; i < kKeys * kRounds; ++i) {
        std::optional<KernelCache> fresh;
        KernelCache *cache = t % 4 == 0 ? &shared : t % 4 == 1 ? &own : nullptr;
        if (!cache)
          cache = &fresh.emplace(onDisk(dir));
        CacheKey key = makeKey((i + t * 5) % kKeys);
        Expected<CacheLookup> found = lookup(*cache, key);
        if (!found) {
          llvm::errs() << llvm::toString(found.takeError()) << "\n";
          ++errors;
        } else if (*found->bytes != payloadFor(key)) {
          ++errors;
        }
        if (fresh)
          countProblems(*fresh);
      }
      countProblems(own);
    });
  std::thread cleaner;
  if (clean)
    cleaner = std::thread([&] {
      KernelCache paths(onDisk(dir));
      for (int i = 0; !done; i = (i + 7) % kKeys) {
        llvm::sys::fs::remove(paths.getEntryPath(makeKey(i)));
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    });
  for (std::thread &t : threads)
    t.join();
  done = true;
  if (cleaner.joinable())
    cleaner.join();
  countProblems(shared);
  return errors;
}

/// Every file in `dir` is a valid entry whose name is its key's digest.
void expectOnlyValidEntries(const std::string &dir, int expectedEntries,
                            bool exact = true) {
  std::error_code ec;
  int entries = 0;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    std::string bytes = readFile(it->path());
    Expected<CacheEntry> entry = parseCacheEntry(bytes);
    ASSERT_TRUE(bool(entry))
        << it->path() << ": " << llvm::toString(entry.takeError());
    std::string digest = llvm::toHex(
        llvm::BLAKE3::hash(llvm::arrayRefFromStringRef(entry->keyText)),
        /*LowerCase=*/true);
    EXPECT_EQ(llvm::sys::path::filename(it->path()), digest + ".attnkc");
    ++entries;
  }
  EXPECT_FALSE(ec) << ec.message();
  if (exact)
    EXPECT_EQ(entries, expectedEntries);
  else
    EXPECT_LE(entries, expectedEntries);
}

/// The child side of the stress test (skipped when run on its own).
TEST(KernelCacheStressWorker, Run) {
  const char *dir = std::getenv("ATTN_STRESS_DIR");
  if (!dir)
    GTEST_SKIP() << "run by KernelCacheStress.ThreadsAndProcesses";
  EXPECT_EQ(hammer(dir, /*clean=*/false), 0);
}

TEST(KernelCacheStress, ThreadsAndProcesses) {
  TempDir dir;
  std::string cacheDir = dir.sub("cache");
  std::string self = llvm::sys::fs::getMainExecutable(
      nullptr, reinterpret_cast<void *>(&payloadFor));
  ASSERT_FALSE(self.empty());
  std::vector<StringRef> args = {self, "--gtest_filter=KernelCacheStressWorker.Run"};
  std::vector<std::string> envStorage;
  for (char **e = environ; *e; ++e)
    envStorage.push_back(*e);
  envStorage.push_back("ATTN_STRESS_DIR=" + cacheDir);
  std::vector<StringRef> env(envStorage.begin(), envStorage.end());
  std::vector<llvm::sys::ProcessInfo> children;
  for (int p = 0; p < kProcesses; ++p) {
    std::string error;
    children.push_back(llvm::sys::ExecuteNoWait(
        self, args, env, /*Redirects=*/{}, /*MemoryLimit=*/0, &error));
    ASSERT_NE(children.back().Pid, 0) << error;
  }
  EXPECT_EQ(hammer(cacheDir, /*clean=*/true), 0);
  for (llvm::sys::ProcessInfo &child : children) {
    std::string error;
    llvm::sys::ProcessInfo done =
        llvm::sys::Wait(child, /*SecondsToWait=*/std::nullopt, &error);
    EXPECT_EQ(done.ReturnCode, 0) << "a worker process failed: " << error;
  }
  // The cleaner may have deleted the last copy of some keys.
  expectOnlyValidEntries(cacheDir, kKeys, /*exact=*/false);
}

//===----------------------------------------------------------------------===//
// CPU kernels (in memory)
//===----------------------------------------------------------------------===//

AttentionProblem smallCpuProblem() {
  AttentionProblem p;
  p.q = {1, 2, 5, 16};
  p.k = p.v = {1, 1, 7, 16};
  return p;
}

TEST(CpuKernelCache, KeyCoversHostOptionsAndProblem) {
  AttentionProblem p = smallCpuProblem();
  CpuCompileOptions options, otherTile;
  otherTile.qTile = 32;
  AttentionProblem causal = p;
  causal.causal = AttentionProblem::Causal::TopLeft;
  Expected<CacheKey> key = getCpuKernelCacheKey(p, options);
  Expected<CacheKey> again = getCpuKernelCacheKey(p, options);
  Expected<CacheKey> tile = getCpuKernelCacheKey(p, otherTile);
  Expected<CacheKey> other = getCpuKernelCacheKey(causal, options);
  ASSERT_TRUE(key && again && tile && other);
  EXPECT_EQ(key->getDigest(), again->getDigest());
  EXPECT_NE(key->getDigest(), tile->getDigest());
  EXPECT_NE(key->getDigest(), other->getDigest());
  for (const char *part : {"host-cpu[", "host-features[", "attn-tile{"})
    EXPECT_NE(key->getText().find(part), std::string::npos)
        << part << " in " << key->getText();
}

// Keys hold the problem's IR text, remembered per problem fingerprint: a
// field the fingerprint missed would hand one problem another's text.
TEST(CpuKernelCache, ModuleTextIsEachProblemsAfterAnyFieldChange) {
  using Change = void (*)(AttentionProblem &);
  const Change changes[] = {
      [](AttentionProblem &) {},
      [](AttentionProblem &p) { p.dtype = ElementType::F16; },
      [](AttentionProblem &p) { p.q[2] = 6; },
      [](AttentionProblem &p) { p.q[1] = 1; },
      [](AttentionProblem &p) { p.k[2] = p.v[2] = 8; },
      [](AttentionProblem &p) { p.v[3] = 8; },
      [](AttentionProblem &p) {
        p.mask = AttentionProblem::Mask::Keep;
        p.maskShape = {1, 1, 5, 7};
      },
      [](AttentionProblem &p) {
        p.mask = AttentionProblem::Mask::Keep;
        p.maskShape = {1, 1, 1, 7};
      },
      [](AttentionProblem &p) {
        p.mask = AttentionProblem::Mask::Bias;
        p.maskShape = {1, 1, 1, 7};
      },
      [](AttentionProblem &p) {
        p.mask = AttentionProblem::Mask::Bias;
        p.maskShape = {1, 1, 1, 7};
        p.biasType = ElementType::F16;
      },
      [](AttentionProblem &p) { p.scale = 0.25; }, // = 1/sqrt(D), explicit
      [](AttentionProblem &p) { p.scale = 0.5; },
      [](AttentionProblem &p) { p.causal = AttentionProblem::Causal::TopLeft; },
      [](AttentionProblem &p) {
        p.causal = AttentionProblem::Causal::BottomRight;
      },
      [](AttentionProblem &p) { p.windowLeft = 2; },
      [](AttentionProblem &p) { p.windowRight = 1; },
      [](AttentionProblem &p) { p.softcap = 30.0; },
      [](AttentionProblem &p) { p.dynamicLengths = true; },
  };
  std::unique_ptr<mlir::MLIRContext> ctx = createAttnContext();
  std::vector<std::string> fingerprints;
  for (size_t i = 0; i < std::size(changes); ++i) {
    AttentionProblem p = smallCpuProblem();
    changes[i](p);
    std::string fingerprint = getProblemFingerprint(p);
    EXPECT_FALSE(llvm::is_contained(fingerprints, fingerprint))
        << "change " << i << ": " << fingerprint;
    fingerprints.push_back(fingerprint);
    Expected<mlir::OwningOpRef<mlir::ModuleOp>> module =
        buildAttentionModule(*ctx, p);
    ASSERT_TRUE(bool(module)) << "change " << i << ": "
                              << llvm::toString(module.takeError());
    std::string fresh;
    llvm::raw_string_ostream os(fresh);
    (**module)->print(os);
    for (int pass = 0; pass < 2; ++pass) { // built, then remembered
      Expected<std::string> text = buildAttentionModuleText(p);
      ASSERT_TRUE(bool(text)) << llvm::toString(text.takeError());
      EXPECT_EQ(*text, fresh) << "change " << i << ", pass " << pass;
    }
  }
}

TEST(CpuKernelCache, SecondCompileIsSharedFromMemory) {
  AttentionProblem p = smallCpuProblem();
  p.windowLeft = 3; // a problem no other test compiles
  CacheSource first = CacheSource::Memory, second = CacheSource::Computed;
  Expected<std::shared_ptr<const CpuKernel>> a =
      CpuKernel::compileCached(p, CpuCompileOptions(), &first);
  Expected<std::shared_ptr<const CpuKernel>> b =
      CpuKernel::compileCached(p, CpuCompileOptions(), &second);
  ASSERT_TRUE(a && b);
  // Compiled, or linked from an earlier run's object file on disk.
  EXPECT_NE(first, CacheSource::Memory);
  EXPECT_EQ(second, CacheSource::Memory);
  EXPECT_EQ(a->get(), b->get());
  // Compile errors come back and are not cached.
  AttentionProblem bad = p;
  bad.q[1] = 3; // Hq must be a multiple of Hkv
  bad.k[1] = bad.v[1] = 2;
  for (int i = 0; i < 2; ++i) {
    Expected<std::shared_ptr<const CpuKernel>> failed =
        CpuKernel::compileCached(bad, CpuCompileOptions());
    ASSERT_FALSE(bool(failed));
    EXPECT_NE(llvm::toString(failed.takeError()).find("multiple"),
              std::string::npos);
  }
}

/// The CPU kernel's object file goes to the disk layer; a new cache on the
/// same directory (as another process would see it) links that object
/// instead of compiling, and the loaded kernel computes the same outputs,
/// within FlashAttention's rule of the fp64 reference.
TEST(CpuKernelCache, ObjectFilesComeBackFromDisk) {
  TempDir dir;
  AttentionProblem p = smallCpuProblem();
  p.dtype = ElementType::BF16;
  p.causal = AttentionProblem::Causal::BottomRight;
  HostInputs in = test::makeInputs(p, 7);
  std::vector<HostOutputs> outputs;
  for (CacheSource expected : {CacheSource::Computed, CacheSource::Disk}) {
    KernelCache cache(onDisk(dir.str()));
    CacheSource source = CacheSource::Memory;
    Expected<std::unique_ptr<CpuKernel>> kernel =
        CpuKernel::compileThrough(p, CpuCompileOptions(), cache, &source);
    ASSERT_TRUE(!!kernel) << llvm::toString(kernel.takeError());
    EXPECT_EQ(source, expected);
    Expected<HostOutputs> out = runCpu(**kernel, in);
    ASSERT_TRUE(!!out) << llvm::toString(out.takeError());
    Expected<CheckReport> report = checkOutputs(in, *out);
    ASSERT_TRUE(!!report) << llvm::toString(report.takeError());
    EXPECT_TRUE(report->ok());
    outputs.push_back(std::move(*out));
  }
  // The same machine code: bit-identical outputs.
  EXPECT_EQ(outputs[0].o, outputs[1].o);
  EXPECT_EQ(outputs[0].lse, outputs[1].lse);
}

#ifdef ATTN_HAVE_GPU_JIT
//===----------------------------------------------------------------------===//
// Real kernel bundles
//===----------------------------------------------------------------------===//

std::vector<AttentionProblem> smallGpuProblems() {
  AttentionProblem a;
  a.dtype = ElementType::F16;
  a.q = {1, 2, 17, 64};
  a.k = {1, 1, 33, 64};
  a.v = {1, 1, 33, 64};
  AttentionProblem causal = a;
  causal.causal = AttentionProblem::Causal::BottomRight;
  AttentionProblem wide = a;
  wide.q[3] = wide.k[3] = wide.v[3] = 128;
  return {a, causal, wide};
}

TEST(GpuBundleCache, KeyCoversChipTilesAndProblem) {
  AttentionProblem p = smallGpuProblems()[0];
  Expected<CacheKey> sm80 = getGpuBundleCacheKey(p, "sm_80");
  Expected<CacheKey> sm90 = getGpuBundleCacheKey(p, "sm_90a");
  AttentionProblem scaled = p;
  scaled.scale = 0.5;
  Expected<CacheKey> other = getGpuBundleCacheKey(scaled, "sm_80");
  Expected<CacheKey> again = getGpuBundleCacheKey(p, "sm_80");
  GpuTileOptions tiles;
  tiles.blockM = 128;
  Expected<CacheKey> tiled = getGpuBundleCacheKey(p, "sm_80", tiles);
  GpuTileOptions fast;
  fast.fastAssemble = true;
  Expected<CacheKey> fastKey = getGpuBundleCacheKey(p, "sm_80", fast);
  ASSERT_TRUE(sm80 && sm90 && other && again && tiled && fastKey);
  EXPECT_NE(sm80->getDigest(), fastKey->getDigest());
  EXPECT_EQ(sm80->getDigest(), again->getDigest());
  EXPECT_NE(sm80->getDigest(), sm90->getDigest());
  EXPECT_NE(sm80->getDigest(), other->getDigest());
  EXPECT_NE(sm80->getDigest(), tiled->getDigest());
  // The pipeline's passes with their options, and the assembler, are in
  // the key.
  std::string assembler = getAssemblerId();
  for (const char *part :
       {"attn-map-to-gpu", "attn-lower-tiles-to-mma", "attn-serialize-to-ptx",
        "nvvm-attach-target{", "chip=sm_80", "assembler[", assembler.c_str()})
    EXPECT_NE(sm80->getText().find(part), std::string::npos)
        << part << " in " << sm80->getText();
}

/// Threads and processes compiling a few real bundles into one directory:
/// every result is the bundle a direct compile gives.
TEST(GpuBundleCache, ConcurrentCompilesShareValidBundles) {
  TempDir dir;
  std::vector<AttentionProblem> problems = smallGpuProblems();
  std::vector<std::string> expected;
  for (const AttentionProblem &p : problems) {
    Expected<rt::Bundle> bundle = compileGpuBundle(p, "sm_80");
    ASSERT_TRUE(bool(bundle)) << llvm::toString(bundle.takeError());
    expected.push_back(std::string(bundle->cubin.begin(), bundle->cubin.end()));
  }
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      KernelCache cache(onDisk(dir.str()));
      for (size_t i = 0; i < problems.size(); ++i) {
        size_t which = (i + t) % problems.size();
        Expected<rt::Bundle> bundle =
            compileGpuBundleCached(problems[which], "sm_80", cache);
        if (!bundle) {
          llvm::errs() << llvm::toString(bundle.takeError()) << "\n";
          ++errors;
        } else if (std::string(bundle->cubin.begin(), bundle->cubin.end()) !=
                   expected[which]) {
          ++errors;
        }
      }
      errors += int(cache.getStats().invalidEntries);
    });
  for (std::thread &t : threads)
    t.join();
  EXPECT_EQ(errors, 0);
  expectOnlyValidEntries(dir.str(), int(problems.size()));

  // A new cache (another process, say) finds them on disk.
  KernelCache fresh(onDisk(dir.str()));
  CacheSource source = CacheSource::Computed;
  Expected<rt::Bundle> bundle = compileGpuBundleCached(
      problems[0], "sm_80", fresh, GpuTileOptions(), &source);
  ASSERT_TRUE(bool(bundle)) << llvm::toString(bundle.takeError());
  EXPECT_EQ(source, CacheSource::Disk);
  EXPECT_EQ(bundle->metadata.target, "sm_80");
}
#endif

} // namespace
