//===- CommandLine.cpp - strict flag parsing for the attn tools -----------===//

#include "attn/Support/CommandLine.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>

namespace attn {

llvm::Error forEachFlag(
    int argc, char **argv, llvm::ArrayRef<llvm::StringRef> switches,
    llvm::function_ref<llvm::Error(llvm::StringRef,
                                   std::optional<llvm::StringRef>)>
        handle) {
  for (int i = 1; i < argc; ++i) {
    llvm::StringRef arg = argv[i];
    if (arg == "--help" || arg == "-h" || llvm::is_contained(switches, arg)) {
      if (llvm::Error e = handle(arg == "-h" ? "--help" : arg, std::nullopt))
        return e;
      continue;
    }
    auto [flag, inlineValue] = arg.split('=');
    if (llvm::is_contained(switches, flag) || flag == "--help")
      return llvm::createStringError(flag + " takes no value (see --help)");
    if (!flag.starts_with("--"))
      return llvm::createStringError("unexpected argument '" + arg +
                                     "' (see --help)");
    llvm::StringRef value = inlineValue;
    if (!arg.contains('=')) {
      if (i + 1 >= argc)
        return llvm::createStringError(flag + " expects a value (see --help)");
      value = argv[++i];
    }
    if (llvm::Error e = handle(flag, value))
      return e;
  }
  return llvm::Error::success();
}

int reportError(llvm::StringRef tool, const llvm::Twine &msg, int status) {
  std::string line = msg.str();
  std::replace(line.begin(), line.end(), '\n', ' ');
  llvm::errs() << tool << ": error: " << llvm::StringRef(line).rtrim() << "\n";
  return status;
}

} // namespace attn
