//===- HostAttention.h - run and check attention on host arrays -*- C++ -*-===//
//
// The glue shared by attn-run, the numerical sweep and the benchmarks:
// host float arrays in, the CPU kernel or the fp64 reference run on them,
// outputs checked against the reference with FlashAttention's rule
//
//     max|out − ref| ≤ 2 · max|naive_same_precision − ref| + floor.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_JIT_HOSTATTENTION_H
#define ATTN_JIT_HOSTATTENTION_H

#include "attn/JIT/CpuKernel.h"
#include "attn/Reference/Reference.h"

#include <vector>

namespace attn {

/// One attention problem with its inputs as floats. Q, K and V hold values
/// already representable in `problem.dtype`; `mask` holds 0/1 for a Keep
/// mask or the additive bias (kept in f32).
struct HostInputs {
  AttentionProblem problem;
  std::vector<float> q, k, v, mask;
};

struct HostOutputs {
  std::vector<float> o;   ///< [B, Hq, Sq, Dv]
  std::vector<float> lse; ///< [B, Hq, Sq]
};

/// The mask operand's storage bytes: one byte 0/1 per element for a Keep
/// mask, `biasType` elements for a Bias; empty without a mask.
std::vector<uint8_t> maskStorage(const HostInputs &inputs);

/// Rounds every value of `values` to `type` in place.
void roundInPlace(ElementType type, std::vector<float> &values);

/// Runs `kernel` on `inputs` (converted to the storage type once), then
/// `repeat` more times, appending the kernel time of each of those runs in
/// milliseconds to `times` when given.
llvm::Expected<HostOutputs> runCpu(const CpuKernel &kernel,
                                   const HostInputs &inputs,
                                   int64_t repeat = 0,
                                   std::vector<double> *times = nullptr);

/// The fp64 reference on `inputs` (outputs rounded to f32).
llvm::Expected<HostOutputs> runReference(const HostInputs &inputs);

/// Compares `outputs` with the fp64 reference and the naive same-precision
/// implementation on the same inputs.
llvm::Expected<CheckReport> checkOutputs(const HostInputs &inputs,
                                         const HostOutputs &outputs);

/// The values of the attn tools' --causal (top-left | bottom-right) and
/// --window (L,R with integers >= -1) flags.
llvm::Expected<AttentionProblem::Causal> parseCausalFlag(llvm::StringRef value);
llvm::Expected<std::pair<int64_t, int64_t>>
parseWindowFlag(llvm::StringRef value);

/// FLOPs of the problem as benchmarks count them: 2·B·Hq·Sq·Sk·(D + Dv)
/// (4·B·Hq·Sq·Sk·D when Dv = D), halved for causal masks.
double attentionFlops(const AttentionProblem &problem);

} // namespace attn

#endif // ATTN_JIT_HOSTATTENTION_H
