//===- PtxAssembler.h - PTX → cubin with ptxas or nvJitLink -----*- C++ -*-===//
//
// Assembles the PTX the GPU pipeline emits into a cubin for one chip (no
// GPU needed) and reports what ptxas says about register use and spills.
// CI assembles every kernel the compiler emits through this and fails on
// errors or spills.
//
// Two assemblers, the same ptxas inside:
//   - the toolkit's ptxas executable (found at configure time), in
//     whole-program mode: what nvcc does without -rdc and what the CUDA
//     driver does with PTX. Used whenever it can be run. It sometimes
//     spills a few bytes where relocatable code does not (e.g. 16 bytes at
//     72 registers for a one-key-tile bf16 kernel with a bias, where
//     nvJitLink uses 94 and none); then nvJitLink's cubin is kept;
//   - nvJitLink, in process, the fallback where there is no ptxas
//     executable (e.g. a pip-installed nvJitLink alone). nvJitLink compiles
//     PTX as relocatable code (ptxas -c), which allocates registers less
//     well: measured on the f16 kernels of attn-bench-compile (sm_80 and
//     sm_90a), 139–155 registers against 128 whole-program at D = 64;
//     174–186 against 158–163 at D = 128 (32-key tiles), 197–210 against
//     167–176 with 64-key tiles (~4% more SASS instructions); the D = 256
//     kernels need 255 registers and spill on sm_80 (~220 and none
//     whole-program). In time, ptxas executes ~15% fewer instructions for
//     the same D = 128 kernel, but a process costs ~14 ms more than a warm
//     nvJitLink (start, page faults, files): PTX → cubin is ~10 ms slower
//     at D = 64 and about as fast at D = 128 (2-core VM).
// `CubinResult::assembler` says which one produced a cubin, and
// getAssemblerId() (part of the kernel cache's keys) which one will.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_TARGET_CUDA_PTXASSEMBLER_H
#define ATTN_TARGET_CUDA_PTXASSEMBLER_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace attn {

struct CubinResult {
  std::vector<char> cubin;
  /// From ptxas' info log (the largest over the kernels of the module).
  int64_t registers = 0;
  int64_t spillStoreBytes = 0, spillLoadBytes = 0;
  std::string infoLog;
  /// "ptxas" (whole program) or "nvJitLink" (relocatable, in process).
  std::string assembler = "nvJitLink";

  bool spills() const { return spillStoreBytes > 0 || spillLoadBytes > 0; }
};

/// How ptxas optimizes.
struct AssembleOptions {
  /// ptxas' `--Ofast-compile=min` (CUDA 12.8+): skips some expensive
  /// optimizations. Measured on the attention kernels (sm_80): PTX → cubin
  /// 30–35% faster, the key loop 1–2% more instructions, the K/V copy
  /// loops not unrolled; its cost in kernel speed is not measured yet.
  bool fastCompile = false;
  /// nvJitLink even where the ptxas executable could be run (tests of the
  /// fallback; a caller that must not start a process).
  bool inProcess = false;
};

/// Assembles `ptx` for `chip` ("sm_80", "sm_86", "sm_89", "sm_90a", ...)
/// with the toolkit's ptxas (then with nvJitLink if ptxas' cubin spills;
/// the cubin that does not is kept), or with nvJitLink alone where ptxas
/// cannot be run or `options.inProcess` asks for it. Errors carry ptxas'
/// error log.
llvm::Expected<CubinResult> assemblePtx(llvm::StringRef ptx,
                                        llvm::StringRef chip,
                                        const AssembleOptions &options = {});

/// What assemblePtx will assemble with, for cache keys: the ptxas
/// executable's path, size and modification time, and the version of the
/// nvJitLink library loaded at run time (which may differ from the headers
/// built against); ", fast-compile" with fastCompile. E.g.
/// "ptxas /usr/local/cuda/bin/ptxas (N bytes, modified T), nvJitLink 13.0
/// if it spills" or "nvJitLink 13.0".
std::string getAssemblerId(const AssembleOptions &options = {});

} // namespace attn

#endif // ATTN_TARGET_CUDA_PTXASSEMBLER_H
