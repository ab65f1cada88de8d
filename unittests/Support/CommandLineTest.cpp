//===- CommandLineTest.cpp - forEachFlag ----------------------------------===//

#include "attn/Support/CommandLine.h"

#include "gtest/gtest.h"

#include <string>
#include <vector>

using namespace attn;

namespace {

/// Runs forEachFlag on `args` (argv[0] is added) and records "flag=value"
/// or "flag" per call; returns the error text, empty on success.
std::string parse(std::vector<std::string> args,
                  std::vector<std::string> &seen) {
  std::vector<char *> argv = {const_cast<char *>("tool")};
  for (std::string &a : args)
    argv.push_back(a.data());
  llvm::Error e = forEachFlag(
      int(argv.size()), argv.data(), {"--check"},
      [&](llvm::StringRef flag,
          std::optional<llvm::StringRef> value) -> llvm::Error {
        if (flag == "--fail")
          return llvm::createStringError("handler rejected " + *value);
        seen.push_back(value ? (flag + "=" + *value).str() : flag.str());
        return llvm::Error::success();
      });
  return e ? llvm::toString(std::move(e)) : "";
}

TEST(CommandLine, ValuesSwitchesAndHelp) {
  std::vector<std::string> seen;
  EXPECT_EQ(parse({"--q", "a.npy", "--check", "--scale=0.5", "-h", "--x="},
                  seen),
            "");
  EXPECT_EQ(seen, (std::vector<std::string>{"--q=a.npy", "--check",
                                            "--scale=0.5", "--help", "--x="}));
}

TEST(CommandLine, Errors) {
  std::vector<std::string> seen;
  EXPECT_EQ(parse({"--q"}, seen), "--q expects a value (see --help)");
  EXPECT_EQ(parse({"stray"}, seen), "unexpected argument 'stray' (see --help)");
  EXPECT_EQ(parse({"--check=1"}, seen), "--check takes no value (see --help)");
  EXPECT_EQ(parse({"--q", "a", "--fail", "now", "--k", "b"}, seen),
            "handler rejected now");
  // Parsing stopped at the failing flag.
  EXPECT_EQ(seen, (std::vector<std::string>{"--q=a"}));
}

} // namespace
