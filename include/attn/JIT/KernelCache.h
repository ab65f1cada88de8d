//===- KernelCache.h - compiled kernels in memory and on disk ---*- C++ -*-===//
//
// Compiling an attention takes tens to hundreds of milliseconds; the same
// problem compiled again (another call, another process, another run of a
// tool) should cost a lookup. KernelCache stores compiled code as byte blobs
// (a serialized GPU kernel bundle, a CPU kernel's object file) under a
// CacheKey, in two layers:
//
//  * memory (MemoryCache, also used for finished kernel objects):
//    thread-safe; concurrent requests for one key in one process compile it
//    once, the others wait and share the result;
//  * disk: one file per key in the cache directory (created 0700), written
//    to a unique temporary file in the same directory, synced and renamed
//    into place, so that no reader — thread or process — ever sees a partial
//    entry. Processes compiling the same key race harmlessly: each renames a
//    complete entry over the other.
//
// A key is a readable text of everything that changes the code (compiler
// version and a hash of its sources, LLVM version, target, pipeline options,
// relevant environment, the attn.attention IR of the problem); its BLAKE3
// digest names the entry file. An entry file stores the full key text, the
// payload and a BLAKE3 checksum; a reader that finds a wrong magic, version,
// length, checksum or key treats the entry as a miss, recompiles and
// replaces it: a corrupt entry is never used.
//
// The disk layer never fails a compile: a directory that cannot be created
// or written to prints one warning line (once per cache) and the cache goes
// on in memory only (entries already on disk are still read). There is no
// size limit or eviction yet: entries stay until the directory is removed.
//
// Entry file format, version 1 (integers little-endian):
//   offset     size  field
//   0          8     magic "ATTNKCE\0"
//   8          4     format version, uint32
//   12         8     key text length K, uint64
//   20         K     key text
//   20+K       8     payload length P, uint64
//   28+K       P     payload
//   28+K+P     32    checksum: BLAKE3 of bytes [0, 28+K+P)
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_JIT_KERNELCACHE_H
#define ATTN_JIT_KERNELCACHE_H

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace attn {

/// The version of the compiler as cache keys see it: "attn 0.1.0 (sources
/// <hash>, LLVM 22.x.y)". The source hash covers lib/, include/ and
/// dialects/, so a rebuilt compiler with a changed emitter or pass never
/// reuses kernels of the old one, even at the same version number.
llvm::StringRef getCompilerId();

/// Everything that changes compiled code, as "name: value" fields.
class CacheKey {
public:
  /// A key that starts with the compiler id and `kind` (e.g. "cuda-bundle").
  explicit CacheKey(llvm::StringRef kind);

  /// Appends one field. Values may span lines: each field is written with
  /// its length, so no two different field lists give the same text.
  CacheKey &add(llvm::StringRef name, llvm::StringRef value);

  const std::string &getText() const { return text; }
  /// BLAKE3 of the text, 64 lowercase hex digits.
  std::string getDigest() const;

private:
  std::string text;
};

/// Values computed once per key in this process: concurrent requests for a
/// key wait for the first and share its value; errors are returned, not
/// kept (the next request computes again). Keys are CacheKey digests.
template <typename T> class MemoryCache {
public:
  using Compute =
      llvm::function_ref<llvm::Expected<std::shared_ptr<const T>>()>;

  /// The value of `digest`, computed by `compute` if there is none yet;
  /// `hit`, if given, says whether there was.
  llvm::Expected<std::shared_ptr<const T>>
  getOrCompute(llvm::StringRef digest, Compute compute, bool *hit = nullptr) {
    std::shared_ptr<Slot> slot;
    {
      std::lock_guard<std::mutex> lock(mutex);
      std::shared_ptr<Slot> &entry = slots[digest];
      if (!entry)
        entry = std::make_shared<Slot>();
      slot = entry;
    }
    // Held while computing: other threads asking for this key wait here
    // instead of computing it again; other keys are not blocked.
    std::lock_guard<std::mutex> lock(slot->mutex);
    if (hit)
      *hit = bool(slot->value);
    if (!slot->value) {
      llvm::Expected<std::shared_ptr<const T>> value = compute();
      if (!value)
        return value.takeError();
      slot->value = std::move(*value);
    }
    return slot->value;
  }

private:
  struct Slot {
    std::mutex mutex;
    std::shared_ptr<const T> value;
  };
  std::mutex mutex; ///< guards `slots` (not the slots' contents)
  llvm::StringMap<std::shared_ptr<Slot>> slots;
};

/// Where getOrCompute found its result.
enum class CacheSource { Memory, Disk, Computed };
llvm::StringRef toString(CacheSource source);

struct CacheLookup {
  std::shared_ptr<const std::string> bytes;
  CacheSource source = CacheSource::Computed;
};

struct KernelCacheOptions {
  /// Directory of the disk layer; empty: memory only.
  std::string directory;
  /// false: no caching at all (every lookup computes).
  bool enabled = true;
  /// Where the one-line warning about an unusable directory goes.
  llvm::raw_ostream *warnings = &llvm::errs();

  /// The configuration from the environment:
  ///  * ATTN_DISABLE_CACHE=1 (any value but empty or 0): disabled;
  ///  * ATTN_CACHE_DIR=DIR: DIR; set but empty: memory only;
  ///  * else $XDG_CACHE_HOME/attn, else $HOME/.cache/attn, else memory only.
  static KernelCacheOptions fromEnvironment();
};

/// Counters since the cache was created.
struct KernelCacheStats {
  uint64_t memoryHits = 0, diskHits = 0, computed = 0;
  /// Entry files that failed validation (and were recompiled).
  uint64_t invalidEntries = 0;
  /// Entries that could not be written (the disk layer then stops writing).
  uint64_t writeFailures = 0;
};

/// A validated entry file.
struct CacheEntry {
  std::string keyText, payload;
};

/// The bytes of an entry file for `key` and `payload`.
std::string serializeCacheEntry(const CacheKey &key, llvm::StringRef payload);
/// Parses and validates (magic, version, lengths, checksum) an entry file;
/// the error says what is wrong in one line.
llvm::Expected<CacheEntry> parseCacheEntry(llvm::StringRef bytes);

class KernelCache {
public:
  explicit KernelCache(KernelCacheOptions options);
  ~KernelCache();

  /// The process-wide cache configured by KernelCacheOptions::fromEnvironment
  /// (created on first use).
  static KernelCache &getDefault();
  /// A process-wide cache that caches nothing (for --no-cache).
  static KernelCache &getDisabled();

  /// The bytes for `key`: from memory, else from a valid disk entry, else
  /// from `compute` (then kept in memory and written to disk). Concurrent
  /// calls with one key in this process run `compute` once. Only `compute`'s
  /// errors are returned (and are not cached); disk problems never fail a
  /// lookup.
  llvm::Expected<CacheLookup>
  getOrCompute(const CacheKey &key,
               llvm::function_ref<llvm::Expected<std::string>()> compute);

  /// The entry file of `key` (whether or not it exists); empty without a
  /// disk layer.
  std::string getEntryPath(const CacheKey &key) const;
  /// The disk layer's directory; empty when in memory only.
  llvm::StringRef getDirectory() const { return directory; }
  bool isEnabled() const { return enabled; }
  KernelCacheStats getStats() const;

private:
  std::optional<std::string> readEntry(const CacheKey &key,
                                       llvm::StringRef path);
  void writeEntry(const CacheKey &key, llvm::StringRef path,
                  llvm::StringRef payload);
  void warnOnce(const llvm::Twine &message);

  std::string directory;
  bool enabled;
  llvm::raw_ostream *warnings;
  /// Cleared after the first failed write: the directory is not writable.
  std::atomic<bool> writable{true};
  std::once_flag warned;

  MemoryCache<std::string> memory;
  std::atomic<uint64_t> memoryHits{0}, diskHits{0}, computed{0},
      invalidEntries{0}, writeFailures{0};
};

} // namespace attn

#endif // ATTN_JIT_KERNELCACHE_H
