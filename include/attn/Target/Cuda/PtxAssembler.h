//===- PtxAssembler.h - PTX → cubin in process with nvJitLink ---*- C++ -*-===//
//
// Assembles the PTX the GPU pipeline emits into a cubin for one chip,
// in-process through the CUDA toolkit's nvJitLink (no GPU needed), and
// reports what ptxas says about register use and spills. CI assembles every
// kernel the compiler emits through this and fails on errors or spills.
//
// nvJitLink compiles PTX as relocatable code (ptxas -c), which allocates
// registers less well than a whole-program compile: the D = 256 kernels
// need 255 registers and spill there, but ~220 and none whole-program. When
// nvJitLink's cubin spills and the toolkit's ptxas executable was found at
// configure time, the PTX is assembled again by it in whole-program mode
// (what the CUDA driver does with PTX) and the better result is kept;
// `assembler` says which one produced the cubin.
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
  /// "nvJitLink" or "ptxas" (whole program, after nvJitLink spilled).
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
};

/// Assembles `ptx` for `chip` ("sm_80", "sm_86", "sm_89", "sm_90a", ...).
/// Errors carry ptxas' error log.
llvm::Expected<CubinResult> assemblePtx(llvm::StringRef ptx,
                                        llvm::StringRef chip,
                                        const AssembleOptions &options = {});

/// What assembles PTX, for cache keys: the version of the nvJitLink library
/// loaded at run time (which may differ from the headers built against) and
/// the ptxas used when it spills and the options, e.g. "nvJitLink 13.0,
/// ptxas /usr/local/cuda/bin/ptxas" (", fast-compile" with fastCompile).
std::string getAssemblerId(const AssembleOptions &options = {});

} // namespace attn

#endif // ATTN_TARGET_CUDA_PTXASSEMBLER_H
