//===- CommandLine.h - strict flag parsing for the attn tools ---*- C++ -*-===//
//
// The tools take GNU-style flags: `--flag VALUE`, `--flag=VALUE`, and bare
// switches. Unlike llvm::cl, errors come back as an llvm::Error (the tools
// turn them into one line and exit status 2) and LLVM's own options do not
// leak into --help.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_SUPPORT_COMMANDLINE_H
#define ATTN_SUPPORT_COMMANDLINE_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>

namespace attn {

/// Calls `handle(flag, value)` for every flag of argv[1..argc): `value` is
/// std::nullopt for the `switches` (and --help/-h, passed as "--help"),
/// the next argument or the text after '=' for the others. Stops at the
/// first error, from the command line (a stray argument, a missing value) or
/// from `handle`.
llvm::Error forEachFlag(
    int argc, char **argv, llvm::ArrayRef<llvm::StringRef> switches,
    llvm::function_ref<llvm::Error(llvm::StringRef flag,
                                   std::optional<llvm::StringRef> value)>
        handle);

/// Prints "`tool`: error: `msg`" on stderr as exactly one line (messages
/// that span lines are joined) and returns `status`, the exit status.
int reportError(llvm::StringRef tool, const llvm::Twine &msg, int status);

/// The tools' main() after parsing: a parse error is printed as one line
/// and gives `errorStatus`; --help prints `usage` and gives 0; std::nullopt
/// means go on with `options`.
template <typename Options>
std::optional<int> finishParsing(llvm::Expected<Options> &options, bool help,
                                 llvm::StringRef tool, llvm::StringRef usage,
                                 int errorStatus) {
  if (!options)
    return reportError(tool, llvm::toString(options.takeError()), errorStatus);
  if (help) {
    llvm::outs() << usage;
    return 0;
  }
  return std::nullopt;
}

} // namespace attn

#endif // ATTN_SUPPORT_COMMANDLINE_H
