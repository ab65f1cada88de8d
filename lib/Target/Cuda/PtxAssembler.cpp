//===- PtxAssembler.cpp - PTX → cubin with ptxas or nvJitLink -------------===//

#include "attn/Target/Cuda/PtxAssembler.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/Regex.h"

#include <nvJitLink.h>

using llvm::Error;
using llvm::Expected;
using llvm::StringRef;

namespace attn {

namespace {

/// Owns an nvJitLink handle.
class Linker {
public:
  ~Linker() {
    if (handle)
      nvJitLinkDestroy(&handle);
  }
  nvJitLinkHandle handle = nullptr;

  std::string errorLog() const { return log(/*info=*/false); }
  std::string infoLog() const { return log(/*info=*/true); }

private:
  std::string log(bool info) const {
    size_t size = 0;
    if ((info ? nvJitLinkGetInfoLogSize(handle, &size)
              : nvJitLinkGetErrorLogSize(handle, &size)) != NVJITLINK_SUCCESS ||
        size == 0)
      return "";
    std::string text(size, '\0');
    if ((info ? nvJitLinkGetInfoLog(handle, text.data())
              : nvJitLinkGetErrorLog(handle, text.data())) != NVJITLINK_SUCCESS)
      return "";
    return StringRef(text.c_str()).trim().str();
  }
};

Error linkError(const llvm::Twine &what, nvJitLinkResult result,
                StringRef log) {
  std::string text = ("nvJitLink: " + what + " failed (error " +
                      llvm::Twine(int(result)) + ")")
                         .str();
  if (!log.empty())
    text += ": " + log.str();
  return llvm::createStringError(text);
}

/// Reads "Used N registers" and "N bytes spill stores, M bytes spill loads"
/// from ptxas' verbose output (one set per kernel; keep the worst).
void parseInfoLog(CubinResult &r) {
  llvm::Regex regs("Used ([0-9]+) registers");
  llvm::Regex spill("([0-9]+) bytes spill stores, ([0-9]+) bytes spill loads");
  llvm::SmallVector<StringRef> lines;
  StringRef(r.infoLog).split(lines, '\n');
  for (StringRef line : lines) {
    llvm::SmallVector<StringRef, 3> m;
    int64_t v = 0, w = 0;
    if (regs.match(line, &m) && !m[1].getAsInteger(10, v))
      r.registers = std::max(r.registers, v);
    if (spill.match(line, &m) && !m[1].getAsInteger(10, v) &&
        !m[2].getAsInteger(10, w)) {
      r.spillStoreBytes = std::max(r.spillStoreBytes, v);
      r.spillLoadBytes = std::max(r.spillLoadBytes, w);
    }
  }
}

/// ptxas' option for AssembleOptions::fastCompile.
constexpr llvm::StringLiteral kFastCompile = "--Ofast-compile=min";

/// Assembles `ptx` with the toolkit's ptxas in whole-program mode.
Expected<CubinResult> assembleWithPtxas(StringRef ptxas, StringRef ptx,
                                        StringRef chip, bool fastCompile) {
  llvm::SmallString<128> in, out, log;
  for (auto [path, suffix] : {std::pair{&in, "ptx"}, std::pair{&out, "cubin"},
                              std::pair{&log, "log"}})
    if (std::error_code ec =
            llvm::sys::fs::createTemporaryFile("attn", suffix, *path)) {
      llvm::SmallString<128> dir;
      llvm::sys::path::system_temp_directory(/*ErasedOnReboot=*/true, dir);
      return llvm::createStringError(
          "ptxas: cannot create a temporary file in " + dir + ": " +
          ec.message() + " (set TMPDIR to a writable directory)");
    }
  llvm::FileRemover removeIn(in), removeOut(out), removeLog(log);
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(in, ec);
    if (ec)
      return llvm::createStringError("ptxas: cannot write " + in + ": " +
                                     ec.message());
    os << ptx;
  }
  std::string arch = ("-arch=" + chip).str();
  llvm::SmallVector<StringRef> args = {ptxas, arch, "-v", in, "-o", out};
  if (fastCompile)
    args.push_back(kFastCompile);
  std::optional<StringRef> redirects[] = {std::nullopt, StringRef(log),
                                          StringRef(log)};
  std::string message;
  int rc = llvm::sys::ExecuteAndWait(ptxas, args, std::nullopt, redirects,
                                     /*SecondsToWait=*/0, /*MemoryLimit=*/0,
                                     &message);
  auto logText = llvm::MemoryBuffer::getFile(log);
  CubinResult result;
  result.assembler = "ptxas";
  result.infoLog = logText ? (*logText)->getBuffer().trim().str() : "";
  if (rc != 0)
    return llvm::createStringError(
        "ptxas (" + ptxas + ") failed for " + chip + ": " +
        (result.infoLog.empty() ? message : result.infoLog));
  auto cubin = llvm::MemoryBuffer::getFile(out);
  if (!cubin)
    return llvm::createStringError("ptxas: cannot read " + out + ": " +
                                   cubin.getError().message());
  StringRef bytes = (*cubin)->getBuffer();
  result.cubin.assign(bytes.begin(), bytes.end());
  parseInfoLog(result);
  return result;
}

/// Assembles `ptx` in process with nvJitLink (relocatable code).
Expected<CubinResult> assembleWithNvJitLink(StringRef ptx, StringRef chip,
                                            bool fastCompile) {
  std::string arch = ("-arch=" + chip).str();
  std::string fast = ("-Xptxas=" + kFastCompile).str();
  llvm::SmallVector<const char *> options = {arch.c_str(), "-verbose"};
  if (fastCompile)
    options.push_back(fast.c_str());
  Linker linker;
  if (nvJitLinkResult r =
          nvJitLinkCreate(&linker.handle, options.size(), options.data()))
    return linkError("create for " + chip, r, "");
  // nvJitLink reads the PTX as a NUL-terminated string.
  std::string text = ptx.str();
  if (nvJitLinkResult r =
          nvJitLinkAddData(linker.handle, NVJITLINK_INPUT_PTX, text.c_str(),
                           text.size() + 1, "attn.ptx"))
    return linkError("assembling the PTX for " + chip, r, linker.errorLog());
  if (nvJitLinkResult r = nvJitLinkComplete(linker.handle))
    return linkError("linking for " + chip, r, linker.errorLog());

  CubinResult result;
  size_t size = 0;
  if (nvJitLinkResult r = nvJitLinkGetLinkedCubinSize(linker.handle, &size))
    return linkError("querying the cubin size", r, linker.errorLog());
  result.cubin.resize(size);
  if (nvJitLinkResult r =
          nvJitLinkGetLinkedCubin(linker.handle, result.cubin.data()))
    return linkError("reading the cubin", r, linker.errorLog());
  result.infoLog = linker.infoLog();
  parseInfoLog(result);
  return result;
}

/// The toolkit's ptxas found at configure time, if it can still be run,
/// and what identifies that build of it for cache keys: its path, size and
/// modification time (a toolkit updated in place changes them). Looked up
/// once per process; both empty without it.
struct Ptxas {
  std::string path, id;
};
const Ptxas &wholeProgramPtxas() {
  static const Ptxas ptxas = [] {
    StringRef path = ATTN_PTXAS;
    llvm::sys::fs::file_status status;
    if (path.empty() || !llvm::sys::fs::can_execute(path) ||
        llvm::sys::fs::status(path, status))
      return Ptxas();
    return Ptxas{path.str(),
                 llvm::formatv("ptxas {0} ({1} bytes, modified {2})", path,
                               status.getSize(),
                               status.getLastModificationTime()
                                   .time_since_epoch()
                                   .count())
                     .str()};
  }();
  return ptxas;
}

} // namespace

Expected<CubinResult> assemblePtx(StringRef ptx, StringRef chip,
                                  const AssembleOptions &assemble) {
  if (!chip.starts_with("sm_") || chip.size() < 5)
    return llvm::createStringError("invalid chip '" + chip +
                                   "' (expected e.g. sm_80 or sm_90a)");
  const Ptxas &ptxas = wholeProgramPtxas();
  if (ptxas.path.empty() || assemble.inProcess)
    return assembleWithNvJitLink(ptx, chip, assemble.fastCompile);
  Expected<CubinResult> whole =
      assembleWithPtxas(ptxas.path, ptx, chip, assemble.fastCompile);
  if (!whole || !whole->spills())
    return whole;
  // Whole-program ptxas spilled (see the header): keep nvJitLink's cubin
  // if it does not.
  Expected<CubinResult> relocatable =
      assembleWithNvJitLink(ptx, chip, assemble.fastCompile);
  if (relocatable && !relocatable->spills())
    return relocatable;
  llvm::consumeError(relocatable.takeError());
  return whole;
}

std::string getAssemblerId(const AssembleOptions &options) {
  const Ptxas &ptxas = wholeProgramPtxas();
  unsigned major = 0, minor = 0;
  std::string nvJitLink =
      "nvJitLink " + (nvJitLinkVersion(&major, &minor) == NVJITLINK_SUCCESS
                          ? std::to_string(major) + "." + std::to_string(minor)
                          : std::string("unknown"));
  std::string id = ptxas.path.empty() || options.inProcess
                       ? nvJitLink
                       : ptxas.id + ", " + nvJitLink + " if it spills";
  return id + (options.fastCompile ? ", fast-compile" : "");
}

} // namespace attn
