//===- TestBundles.h - Bundles, scratch directories, tool runs --*- C++ -*-===//

#ifndef ATTN_UNITTESTS_RUNTIME_TESTBUNDLES_H
#define ATTN_UNITTESTS_RUNTIME_TESTBUNDLES_H

#include "attn-rt/Bundle.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <sys/wait.h>
#include <vector>

namespace attn::rt::test {

/// A bundle like the compiler writes for a GQA prefill (the cubin is a
/// stand-in: bundles do not look inside it).
inline Bundle makeTestBundle() {
  Bundle bundle;
  BundleMetadata &m = bundle.metadata;
  m.kernelName = "attn_fwd";
  m.target = "sm_80";
  m.dtype = ScalarType::F16;
  m.launch.grid = {8, 16, 2};
  m.launch.block = {128, 1, 1};
  m.launch.dynamicSharedMemory = 49152;
  m.problem = {{"batch", 2},    {"q_heads", 16},  {"kv_heads", 4},
               {"q_len", 1024}, {"kv_len", 1024}, {"head_dim", 128}};
  m.args = {{"q", ArgKind::Pointer, ScalarType::F16, {2, 16, 1024, 128}},
            {"k", ArgKind::Pointer, ScalarType::F16, {2, 4, 1024, 128}},
            {"v", ArgKind::Pointer, ScalarType::F16, {2, 4, 1024, 128}},
            {"o", ArgKind::Pointer, ScalarType::F32, {2, 16, 1024, 128}},
            {"lse", ArgKind::Pointer, ScalarType::F32, {2, 16, 1024}},
            {"scale", ArgKind::F32, ScalarType::F32, {}},
            {"kv_len_arg", ArgKind::I32, ScalarType::F32, {}}};
  m.options = {{"q_tile", 128}, {"k_tile", 64}, {"stages", 2}};
  m.semantics = {{"scale", 0.08838834764831845}, {"causal", 2}};
  m.compilerName = "attn";
  m.compilerVersion = "0.1";
  m.created = "2025-11-25T12:00:00Z";
  // An ELF header, then every byte value (NUL included).
  bundle.cubin = {0x7f, 'E', 'L', 'F'};
  for (int i = 0; i < 256; ++i)
    bundle.cubin.push_back(static_cast<uint8_t>(i));
  return bundle;
}

/// A fresh directory under $TMPDIR (or /tmp), removed with its contents.
class TempDir {
public:
  TempDir() {
    const char *tmp = std::getenv("TMPDIR");
    std::string pattern =
        std::string(tmp && *tmp ? tmp : "/tmp") + "/attn-rt-test-XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (mkdtemp(buffer.data()))
      path = buffer.data();
    EXPECT_FALSE(path.empty()) << "cannot create a directory " << pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }

  const std::string &getPath() const { return path; }
  std::string file(const std::string &name) const { return path + "/" + name; }
  /// The names of the directory's entries, sorted.
  std::vector<std::string> list() const {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto &entry : std::filesystem::directory_iterator(path, ec))
      names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

private:
  std::string path;
};

struct ToolRun {
  int exitCode = -1;
  std::string output; ///< stdout and stderr
};

/// Runs `command` through the shell, as a user would run a tool.
inline ToolRun runCommand(const std::string &command) {
  ToolRun run;
  FILE *pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) {
    ADD_FAILURE() << "cannot run " << command;
    return run;
  }
  char buffer[4096];
  size_t count;
  while ((count = fread(buffer, 1, sizeof(buffer), pipe)) > 0)
    run.output.append(buffer, count);
  int status = pclose(pipe);
  if (WIFEXITED(status))
    run.exitCode = WEXITSTATUS(status);
  return run;
}

inline bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

} // namespace attn::rt::test

#endif // ATTN_UNITTESTS_RUNTIME_TESTBUNDLES_H
