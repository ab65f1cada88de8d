//===- attn-bundle-info.cpp - Show kernel bundles and CUDA devices --------===//
//
//   attn-bundle-info [--devices] [BUNDLE...]
//
// Prints the launch metadata of each kernel bundle and, with --devices, the
// CUDA driver and the devices it sees. It links only the runtime, so it runs
// (and says why it cannot see a GPU) on machines without LLVM or CUDA.
//
// Exit status: 0 success; 2 for a bad command line, an unreadable or invalid
// bundle, or (with --devices) no usable driver, each reported in one line on
// stderr.
//
//===----------------------------------------------------------------------===//

#include "attn-rt/Bundle.h"
#include "attn-rt/Runtime.h"

#include <cstdio>
#include <string>
#include <vector>

using namespace attn::rt;

static const char *const kUsage =
    "usage: attn-bundle-info [--devices] [BUNDLE...]\n"
    "Prints the launch metadata of each kernel bundle and, with --devices,\n"
    "the CUDA driver and devices of this machine.\n";

static void printRow(const char *label, const std::string &value) {
  std::printf("  %-22s %s\n", label, value.c_str());
}

static std::string formatValue(int64_t value) { return std::to_string(value); }
static std::string formatValue(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.9g", value);
  return text;
}

/// "batch=2 heads=16", or "(none)".
template <typename T>
static std::string formatNamedValues(const std::map<std::string, T> &m) {
  std::string text;
  for (const auto &[name, value] : m)
    text += (text.empty() ? "" : " ") + name + "=" + formatValue(value);
  return text.empty() ? "(none)" : text;
}

static std::string formatShape(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

static void printBundle(const std::string &path, const Bundle &bundle) {
  const BundleMetadata &metadata = bundle.metadata;
  std::printf("%s\n", path.c_str());
  printRow("kernel", metadata.kernelName);
  printRow("target", metadata.target);
  printRow("dtype", toString(metadata.dtype));
  printRow("grid", toString(metadata.launch.grid));
  printRow("block", toString(metadata.launch.block));
  printRow("dynamic shared memory",
           formatBytes(metadata.launch.dynamicSharedMemory));
  printRow("problem", formatNamedValues(metadata.problem));
  printRow("options", formatNamedValues(metadata.options));
  printRow("semantics", formatNamedValues(metadata.semantics));
  printRow("cubin", formatBytes(bundle.cubin.size()));
  printRow("compiler", metadata.compilerName + " " + metadata.compilerVersion);
  printRow("created", metadata.created);
  printRow("args", metadata.args.empty() ? "(none)" : "");
  for (const KernelArg &arg : metadata.args) {
    std::string kind = toString(arg.kind);
    if (arg.kind == ArgKind::Pointer)
      kind += std::string(" ") + toString(arg.elementType) + " " +
              formatShape(arg.shape);
    std::printf("    %-20s %s\n", arg.name.c_str(), kind.c_str());
  }
}

/// Prints the driver and its devices; returns false after reporting why
/// there are none to print.
static bool printDevices() {
  Result<const Driver *> driver = Driver::get();
  if (!driver.ok()) {
    std::fprintf(stderr, "attn-bundle-info: %s\n", driver.getMessage().c_str());
    return false;
  }
  int version = (*driver)->getVersion();
  std::printf("driver %s (CUDA %d.%d)\n", (*driver)->getLibraryPath().c_str(),
              version / 1000, version % 1000 / 10);
  Result<int> count = (*driver)->getDeviceCount();
  if (!count.ok()) {
    std::fprintf(stderr, "attn-bundle-info: %s\n", count.getMessage().c_str());
    return false;
  }
  for (int ordinal = 0; ordinal < *count; ++ordinal) {
    Result<DeviceInfo> info = (*driver)->getDeviceInfo(ordinal);
    if (!info.ok()) {
      std::fprintf(stderr, "attn-bundle-info: %s\n", info.getMessage().c_str());
      return false;
    }
    std::printf("%s\n", info->describe().c_str());
    printRow("chip", info->getChip());
    printRow("multiprocessors", std::to_string(info->multiprocessorCount));
    printRow("memory", formatBytes(info->totalMemory));
    printRow("shared memory/block",
             formatBytes(info->maxSharedMemoryPerBlock) + ", opt-in " +
                 formatBytes(info->maxSharedMemoryPerBlockOptin));
  }
  return true;
}

int main(int argc, char **argv) {
  bool devices = false;
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (arg == "--devices")
      devices = true;
    else if (!arg.empty() && arg[0] == '-') {
      std::fprintf(stderr, "attn-bundle-info: unknown option '%s'\n%s",
                   arg.c_str(), kUsage);
      return 2;
    } else
      paths.push_back(arg);
  }
  if (!devices && paths.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }

  bool ok = true;
  for (const std::string &path : paths) {
    Result<Bundle> bundle = readBundle(path);
    if (!bundle.ok()) {
      std::fprintf(stderr, "attn-bundle-info: %s\n",
                   bundle.getMessage().c_str());
      ok = false;
      continue;
    }
    printBundle(path, *bundle);
  }
  if (devices && !printDevices())
    ok = false;
  return ok ? 0 : 2;
}
