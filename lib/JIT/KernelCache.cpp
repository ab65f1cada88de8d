//===- KernelCache.cpp - compiled kernels in memory and on disk -----------===//

#include "attn/JIT/KernelCache.h"

#include "CompilerId.inc"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/BLAKE3.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cstdlib>
#include <unistd.h>

using llvm::Error;
using llvm::Expected;
using llvm::StringRef;

namespace attn {

namespace {

constexpr char kMagic[8] = {'A', 'T', 'T', 'N', 'K', 'C', 'E', '\0'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kChecksumBytes = 32;
constexpr StringRef kEntrySuffix = ".attnkc";

llvm::BLAKE3Result<kChecksumBytes> blake3(StringRef bytes) {
  return llvm::BLAKE3::hash(llvm::arrayRefFromStringRef(bytes));
}

template <typename T> void appendLittleEndian(std::string &out, T value) {
  char bytes[sizeof(T)];
  llvm::support::endian::write<T, llvm::endianness::little>(bytes, value);
  out.append(bytes, sizeof(T));
}

/// Reads the environment variable `name`; set-but-empty is "" and unset is
/// std::nullopt (ATTN_CACHE_DIR= means "memory only", not "default").
std::optional<std::string> getEnv(const char *name) {
  if (const char *value = std::getenv(name))
    return std::string(value);
  return std::nullopt;
}

} // namespace

StringRef getCompilerId() {
  static const std::string id = "attn " ATTN_COMPILER_VERSION
                                " (sources " ATTN_COMPILER_SOURCE_HASH
                                ", LLVM " LLVM_VERSION_STRING ")";
  return id;
}

CacheKey::CacheKey(StringRef kind) {
  add("compiler", getCompilerId());
  add("kind", kind);
}

CacheKey &CacheKey::add(StringRef name, StringRef value) {
  text += (name + "[" + llvm::Twine(value.size()) + "]: " + value + "\n").str();
  return *this;
}

std::string CacheKey::getDigest() const {
  return llvm::toHex(blake3(text), /*LowerCase=*/true);
}

StringRef toString(CacheSource source) {
  switch (source) {
  case CacheSource::Memory:
    return "memory";
  case CacheSource::Disk:
    return "disk";
  case CacheSource::Computed:
    return "compiled";
  }
  llvm_unreachable("unknown cache source");
}

KernelCacheOptions KernelCacheOptions::fromEnvironment() {
  KernelCacheOptions o;
  std::optional<std::string> disable = getEnv("ATTN_DISABLE_CACHE");
  if (disable && !disable->empty() && *disable != "0") {
    o.enabled = false;
    return o;
  }
  llvm::SmallString<128> dir;
  if (std::optional<std::string> explicitDir = getEnv("ATTN_CACHE_DIR")) {
    dir = *explicitDir;
  } else if (std::optional<std::string> xdg = getEnv("XDG_CACHE_HOME");
             xdg && !xdg->empty()) {
    llvm::sys::path::append(dir, *xdg, "attn");
  } else if (std::optional<std::string> home = getEnv("HOME");
             home && !home->empty()) {
    llvm::sys::path::append(dir, *home, ".cache", "attn");
  }
  o.directory = dir.str().str();
  return o;
}

//===----------------------------------------------------------------------===//
// Entry files
//===----------------------------------------------------------------------===//

std::string serializeCacheEntry(const CacheKey &key, StringRef payload) {
  std::string bytes(kMagic, sizeof(kMagic));
  appendLittleEndian<uint32_t>(bytes, kFormatVersion);
  appendLittleEndian<uint64_t>(bytes, key.getText().size());
  bytes += key.getText();
  appendLittleEndian<uint64_t>(bytes, payload.size());
  bytes += payload;
  llvm::BLAKE3Result<kChecksumBytes> sum = blake3(bytes);
  bytes.append(sum.begin(), sum.end());
  return bytes;
}

Expected<CacheEntry> parseCacheEntry(StringRef bytes) {
  auto fail = [](const llvm::Twine &what) {
    return llvm::createStringError("invalid cache entry: " + what);
  };
  // Fixed fields: magic, version, two lengths, checksum.
  constexpr size_t kFixed = sizeof(kMagic) + 4 + 8 + 8 + kChecksumBytes;
  if (bytes.size() < kFixed)
    return fail(llvm::Twine(bytes.size()) + " bytes is too short (truncated)");
  if (!bytes.starts_with(StringRef(kMagic, sizeof(kMagic))))
    return fail("bad magic (not a kernel cache entry)");
  const char *p = bytes.data() + sizeof(kMagic);
  using llvm::support::endian::read;
  uint32_t version = read<uint32_t, llvm::endianness::little>(p);
  if (version != kFormatVersion)
    return fail("format version " + llvm::Twine(version) + ", expected " +
                llvm::Twine(kFormatVersion));
  // Lengths are checked against what is left before they are added, so that
  // a corrupt length cannot overflow.
  size_t left = bytes.size() - kFixed;
  uint64_t keySize = read<uint64_t, llvm::endianness::little>(p + 4);
  if (keySize > left)
    return fail("key length " + llvm::Twine(keySize) + " exceeds the file "
                "(truncated or corrupt)");
  size_t keyOffset = sizeof(kMagic) + 4 + 8;
  uint64_t payloadSize = read<uint64_t, llvm::endianness::little>(
      bytes.data() + keyOffset + keySize);
  if (payloadSize != left - keySize)
    return fail("payload length " + llvm::Twine(payloadSize) + ", but " +
                llvm::Twine(left - keySize) +
                " bytes are left (truncated or corrupt)");
  size_t hashed = bytes.size() - kChecksumBytes;
  llvm::BLAKE3Result<kChecksumBytes> sum = blake3(bytes.take_front(hashed));
  if (bytes.drop_front(hashed) != llvm::toStringRef(sum))
    return fail("checksum mismatch (corrupt)");
  CacheEntry entry;
  entry.keyText = bytes.substr(keyOffset, keySize).str();
  entry.payload = bytes.substr(keyOffset + keySize + 8, payloadSize).str();
  return entry;
}

//===----------------------------------------------------------------------===//
// KernelCache
//===----------------------------------------------------------------------===//

KernelCache::KernelCache(KernelCacheOptions options)
    : directory(options.enabled ? options.directory : ""),
      enabled(options.enabled), warnings(options.warnings) {
  if (directory.empty())
    return;
  // 0700: kernels are code this process will run; other users must not be
  // able to plant entries. An existing directory keeps its permissions.
  if (std::error_code ec = llvm::sys::fs::create_directories(
          directory, /*IgnoreExisting=*/true, llvm::sys::fs::owner_all)) {
    warnOnce("cannot create kernel cache directory '" + directory +
             "': " + ec.message());
    directory.clear();
  } else if (!llvm::sys::fs::is_directory(directory)) {
    warnOnce("kernel cache directory '" + directory + "' is not a directory");
    directory.clear();
  }
}

KernelCache::~KernelCache() = default;

KernelCache &KernelCache::getDefault() {
  static KernelCache cache(KernelCacheOptions::fromEnvironment());
  return cache;
}

KernelCache &KernelCache::getDisabled() {
  KernelCacheOptions off;
  off.enabled = false;
  static KernelCache cache(off);
  return cache;
}

void KernelCache::warnOnce(const llvm::Twine &message) {
  std::string text = message.str();
  std::call_once(warned, [&] {
    if (warnings)
      *warnings << "attn: warning: " << text
                << "; caching compiled kernels in memory only (set "
                   "ATTN_CACHE_DIR to a writable directory, or to nothing "
                   "to silence this)\n";
  });
}

std::string KernelCache::getEntryPath(const CacheKey &key) const {
  if (directory.empty())
    return "";
  llvm::SmallString<256> path(directory);
  llvm::sys::path::append(path, key.getDigest() + kEntrySuffix);
  return path.str().str();
}

KernelCacheStats KernelCache::getStats() const {
  KernelCacheStats s;
  s.memoryHits = memoryHits;
  s.diskHits = diskHits;
  s.computed = computed;
  s.invalidEntries = invalidEntries;
  s.writeFailures = writeFailures;
  return s;
}

std::optional<std::string> KernelCache::readEntry(const CacheKey &key,
                                                  StringRef path) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> file =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                  /*RequiresNullTerminator=*/false);
  if (!file)
    return std::nullopt; // not there (yet), or unreadable: a miss
  Expected<CacheEntry> entry = parseCacheEntry((*file)->getBuffer());
  // A valid entry of another key under this name (a copied or renamed file)
  // is as unusable as a corrupt one.
  if (!entry || entry->keyText != key.getText()) {
    llvm::consumeError(entry.takeError());
    ++invalidEntries;
    return std::nullopt;
  }
  return std::move(entry->payload);
}

void KernelCache::writeEntry(const CacheKey &key, StringRef path,
                             StringRef payload) {
  if (!writable)
    return;
  auto failed = [&](const llvm::Twine &why) {
    ++writeFailures;
    writable = false;
    warnOnce("cannot write kernel cache entry '" + path + "': " + why);
  };
  // A unique temporary in the same directory (so the rename is atomic),
  // synced before it is renamed: a crash leaves either the old entry or the
  // complete new one, never a prefix.
  Expected<llvm::sys::fs::TempFile> temp = llvm::sys::fs::TempFile::create(
      path + ".tmp-%%%%%%%%%%%%", llvm::sys::fs::owner_read |
                                     llvm::sys::fs::owner_write);
  if (!temp)
    return failed(llvm::toString(temp.takeError()));
  std::string bytes = serializeCacheEntry(key, payload);
  std::error_code ec;
  {
    llvm::raw_fd_ostream os(temp->FD, /*shouldClose=*/false);
    os << bytes;
    os.flush();
    ec = os.error();
    os.clear_error();
  }
  if (!ec && ::fsync(temp->FD) != 0)
    ec = std::error_code(errno, std::generic_category());
  if (ec) {
    llvm::consumeError(temp->discard());
    return failed(ec.message());
  }
  if (Error e = temp->keep(path))
    return failed(llvm::toString(std::move(e)));
}

Expected<CacheLookup> KernelCache::getOrCompute(
    const CacheKey &key, llvm::function_ref<Expected<std::string>()> compute) {
  if (!enabled) {
    Expected<std::string> bytes = compute();
    if (!bytes)
      return bytes.takeError();
    ++computed;
    return CacheLookup{std::make_shared<const std::string>(std::move(*bytes)),
                       CacheSource::Computed};
  }
  CacheSource source = CacheSource::Memory;
  Expected<std::shared_ptr<const std::string>> bytes = memory.getOrCompute(
      key.getDigest(),
      [&]() -> Expected<std::shared_ptr<const std::string>> {
        std::string path = getEntryPath(key);
        if (!path.empty())
          if (std::optional<std::string> payload = readEntry(key, path)) {
            source = CacheSource::Disk;
            return std::make_shared<const std::string>(std::move(*payload));
          }
        Expected<std::string> computedBytes = compute();
        if (!computedBytes)
          return computedBytes.takeError();
        source = CacheSource::Computed;
        if (!path.empty())
          writeEntry(key, path, *computedBytes);
        return std::make_shared<const std::string>(std::move(*computedBytes));
      });
  if (!bytes)
    return bytes.takeError();
  ++(source == CacheSource::Memory ? memoryHits
     : source == CacheSource::Disk ? diskHits
                                   : computed);
  return CacheLookup{std::move(*bytes), source};
}

} // namespace attn
