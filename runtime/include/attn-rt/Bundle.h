//===- Bundle.h - Kernel bundles: a cubin and how to launch it --*- C++ -*-===//
//
// A kernel bundle is the one file the compiler hands to the runtime: the
// cubin of a kernel and everything needed to launch it, so that a machine
// with only the runtime and a driver can run it. Bundles are conventionally
// named *.attnb.
//
// File format, version 1 (integers little-endian):
//   offset     size  field
//   0          8     magic "ATTNBNDL"
//   8          4     format version, uint32
//   12         8     metadata length M, uint64
//   20         M     metadata: a JSON object (below)
//   20+M       8     cubin length C, uint64
//   28+M       C     cubin
//   28+M+C     8     checksum: FNV-1a 64 of bytes [0, 28+M+C)
// Nothing follows the checksum. The version changes when a reader of the old
// version would misread a new file; readers reject newer versions.
//
// Metadata, every field required; readers ignore fields they do not know,
// so a field that launching can do without is added without a new version:
//   {
//     "kernel": "attn_fwd",             .entry name in the cubin
//     "target": "sm_80",                chip the cubin was compiled for
//     "dtype": "f16",                   storage type of Q, K, V and O
//     "grid": [8, 16, 2],               launch geometry for `problem` (a 0:
//                                       empty problem, nothing to launch)
//     "block": [128, 1, 1],
//     "dynamic_shared_memory": 49152,   bytes per block
//     "problem": {"batch": 2, ...},     sizes the kernel was compiled for
//     "args": [                         kernel parameters, in order
//       {"name": "q", "kind": "pointer", "element_type": "f16",
//        "shape": [2, 16, 1024, 128]},  dense row-major tensor pointed to
//       {"name": "scale", "kind": "f32"}
//     ],
//     "options": {"q_tile": 128, "k_tile": 64, "stages": 2},
//     "semantics": {"scale": 0.125, "causal": 2,     what the kernel computes
//                   "window_left": -1, ...},         beyond the shapes
//     "compiler": {"name": "attn", "version": "0.1"},
//     "created": "2025-11-25T12:00:00Z"
//   }
// "semantics" (numbers) is the one optional field: bundles written before
// it existed have none. For attention it holds the resolved softmax "scale",
// "causal" (0 none, 1 top-left, 2 bottom-right), "window_left" and
// "window_right" (-1 unbounded) and "softcap" (0 none), with the meanings of
// attn's reference (include/attn/Reference/Reference.h), so that a runner
// can check a kernel's results without being told them again.
// Names (kernel, arguments, problem sizes, options) are C identifiers;
// other strings are non-empty printable ASCII.
//
// Reading validates everything (magic, version, lengths, checksum, JSON
// syntax, fields and their types, value ranges) and reports the first
// problem in one line that names the file, e.g.
//   k.attnb: checksum mismatch (stored 0x..., computed 0x...): the file is
//   corrupt
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_RT_BUNDLE_H
#define ATTN_RT_BUNDLE_H

#include "attn-rt/Runtime.h"
#include "attn-rt/Status.h"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace attn::rt {

/// The bundle format version this runtime writes and the newest it reads.
constexpr uint32_t kBundleFormatVersion = 1;

/// Element types of tensors and kernels.
enum class ScalarType { I8, I32, I64, F16, BF16, F32, F64 };
/// How a kernel parameter is passed.
enum class ArgKind { Pointer, I32, I64, F32 };

/// The metadata spelling: "i8", "f16", "bf16", ...
const char *toString(ScalarType type);
/// The metadata spelling: "pointer", "i32", "i64", "f32".
const char *toString(ArgKind kind);

/// One kernel parameter.
struct KernelArg {
  std::string name;
  ArgKind kind = ArgKind::Pointer;
  /// Pointers only: the tensor pointed to, dense and row-major.
  ScalarType elementType = ScalarType::F32;
  std::vector<int64_t> shape;
};

/// What the runtime needs to launch a bundle's kernel, and what a person
/// needs to know where it came from.
struct BundleMetadata {
  std::string kernelName;
  std::string target; ///< e.g. "sm_80", "sm_90a"
  ScalarType dtype = ScalarType::F16;
  /// The launch for `problem`: the grid is stored rather than derived, so
  /// the runtime needs no knowledge of how the compiler tiles.
  LaunchConfig launch;
  std::map<std::string, int64_t> problem;
  std::vector<KernelArg> args;
  std::map<std::string, int64_t> options; ///< tile sizes, stages, ...
  /// What the kernel computes beyond the shapes (scale, masks); empty for
  /// bundles written before the field existed.
  std::map<std::string, double> semantics;
  std::string compilerName, compilerVersion;
  std::string created; ///< ISO 8601, UTC
};

struct Bundle {
  BundleMetadata metadata;
  std::vector<uint8_t> cubin;
};

/// The file contents for `bundle`, after checking that a reader will accept
/// it (so every written bundle can be read back).
Result<std::string> serializeBundle(const Bundle &bundle);
/// Writes `bundle` to `path` atomically: the bytes go to "<path>.tmp.<pid>",
/// which is synced and renamed over `path`; on failure the temporary is
/// removed and `path` is left as it was.
Status writeBundle(const std::string &path, const Bundle &bundle);

/// Parses and validates the contents of a bundle file; `nameForErrors`
/// (usually the path) starts every error message.
Result<Bundle> parseBundle(std::string_view bytes,
                           const std::string &nameForErrors);
/// Reads and parses the bundle at `path`.
Result<Bundle> readBundle(const std::string &path);

/// A bundle's kernel, loaded and ready to launch, with what keeps it valid:
/// the device's primary context and the module (destroyed after the
/// kernel, in reverse order of the members).
struct LoadedBundle {
  Context context;
  Module module;
  Kernel kernel;

  /// Loads `bundle` on device `ordinal` of `driver` (its context is then
  /// current on the calling thread).
  static Result<LoadedBundle> load(const Driver &driver, int ordinal,
                                   const Bundle &bundle);
};

} // namespace attn::rt

#endif // ATTN_RT_BUNDLE_H
