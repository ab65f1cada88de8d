//===- Reference.h - Reference attention implementations --------*- C++ -*-===//
//
// Host implementations of attention used to check compiled kernels:
//
//  * referenceAttention: exact math in double precision (the "ground truth");
//  * naiveAttention: the same math as a naive framework implementation in a
//    given storage type would do it (float32 arithmetic, rounding to the
//    storage type at the usual points), used for FlashAttention's error rule
//    (checkAgainstReference).
//
// Shapes
//   Q [B, Hq, Sq, D], K [B, Hkv, Sk, D], V [B, Hkv, Sk, Dv]; Hkv >= 1 and
//   Hq % Hkv == 0. Query head h reads KV head h / (Hq / Hkv) (grouped-query
//   attention). Outputs: O [B, Hq, Sq, Dv], LSE [B, Hq, Sq].
//   An optional mask is rank 4 and broadcasts to [B, Hq, Sq, Sk]: each of its
//   dimensions is either 1 or the full size.
//
// Semantics, for query row i and key column j of one (batch, head):
//   s_ij = scale * (q_i . k_j)
//   if softcap > 0:       s_ij = softcap * tanh(s_ij / softcap)
//   if the mask is Bias:  s_ij += bias_ij  (broadcast)
//   Element (i, j) is kept iff all of the following hold:
//     causal TopLeft:      j <= i
//     causal BottomRight:  j <= i + Sk - Sq
//     windowLeft >= 0:     j >= i + Sk - Sq - windowLeft
//     windowRight >= 0:    j <= i + Sk - Sq + windowRight
//     Keep mask:           mask_ij != 0
//   The window is relative to the bottom-right diagonal (FlashAttention's
//   convention) whatever the causal alignment. A bias of -inf also removes an
//   element (it contributes exp(-inf) = 0).
//   O_i   = sum_j softmax_j(s_i) v_j   over kept j
//   LSE_i = log(sum_j exp(s_ij))        over kept j (natural log)
//   A row with no kept element, or whose kept scores are all -inf, gives
//   O_i = 0 and LSE_i = -inf (never NaN); in particular Sk == 0 does.
//   The softmax subtracts the row maximum before exponentiating.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_REFERENCE_REFERENCE_H
#define ATTN_REFERENCE_REFERENCE_H

#include "attn/Support/Float16.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace attn {

enum class CausalKind { None, TopLeft, BottomRight };

struct AttentionConfig {
  /// Softmax scale, already resolved (callers pass 1/sqrt(D) by default).
  /// Must be finite.
  double scale = 1.0;
  CausalKind causal = CausalKind::None;
  /// Sliding window sizes, relative to the bottom-right diagonal; -1 means
  /// unbounded. Values below -1 are rejected.
  int64_t windowLeft = -1, windowRight = -1;
  /// tanh soft-capping of the scores; 0 means none. Must be >= 0.
  double softcap = 0.0;
};

/// Dense row-major tensor of doubles.
struct HostTensor {
  std::vector<int64_t> shape;
  std::vector<double> data;
};

/// How a mask operand is interpreted. Keep: a nonzero value keeps the
/// element. Bias: the value is added to the score.
enum class MaskKind { None, Keep, Bias };

/// A mask operand, rank 4, broadcasting to [B, Hq, Sq, Sk]. `values` is
/// ignored when `kind` is None.
struct MaskOperand {
  MaskKind kind = MaskKind::None;
  HostTensor values;
};

/// The causal / window part of the keep predicate for element (i, j) of an
/// sq x sk score matrix (see the semantics above; masks are not included).
bool isKept(const AttentionConfig &cfg, int64_t i, int64_t j, int64_t sq,
            int64_t sk);

/// Attention in double precision. Validates all shapes and the config and
/// returns an error naming the offending operand and values, e.g.
/// "K has batch 3 but Q has batch 2". On success `o` and `lse` are resized
/// and overwritten.
llvm::Error referenceAttention(const HostTensor &q, const HostTensor &k,
                               const HostTensor &v, const MaskOperand &mask,
                               const AttentionConfig &cfg, HostTensor &o,
                               HostTensor &lse);

/// The same math as a naive framework implementation with storage type `t`:
/// inputs (Q, K, V, bias) are rounded to `t`, then in float32
///   S = round_t(scale * (q . k))        (float32 accumulation)
///   S = round_t(softcap * tanh(S / softcap))       if softcap > 0
///   S = round_t(S + bias)                          if the mask is Bias
///   masked elements removed as in referenceAttention
///   P = round_t(exp(S - max) / sum)     (softmax in float32)
///   O = round_t(sum_j P_j v_j)          (float32 accumulation)
///   LSE = max + log(sum)                (float32, not rounded)
/// For t = F32 nothing is rounded (plain float arithmetic). Results are
/// returned as doubles with the same shapes and errors as referenceAttention.
llvm::Error naiveAttention(ElementType t, const HostTensor &q,
                           const HostTensor &k, const HostTensor &v,
                           const MaskOperand &mask, const AttentionConfig &cfg,
                           HostTensor &o, HostTensor &lse);

/// Result of FlashAttention's error rule.
struct ErrorCheck {
  double maxErr;   ///< max |out - ref|
  double naiveErr; ///< max |naive - ref|
  double bound;    ///< 2 * naiveErr + floor
  bool ok;         ///< maxErr <= bound
};

/// FlashAttention's rule: max|out - ref| <= 2 * max|naive - ref| + floor.
/// A bound that is not finite (the naive implementation overflowed) fails.
/// Equal values (including equal infinities, e.g. LSE = -inf on fully masked
/// rows) have error 0, and so do two NaNs; a NaN or infinity against a
/// different value is an infinite error. Mismatched lengths give
/// maxErr = naiveErr = bound = +inf and ok = false.
ErrorCheck checkAgainstReference(llvm::ArrayRef<double> out,
                                 llvm::ArrayRef<double> ref,
                                 llvm::ArrayRef<double> naive, double floor);

/// The rule on both outputs of one attention.
struct CheckReport {
  ErrorCheck o, lse;
  bool ok() const { return o.ok && lse.ok; }
};

/// The report as the tools print it, one line per output:
///   check O: max|out-ref| = 1.22E-04, bound 4.88E-04 (2 x naive f16
///   1.94E-04 + floor 1E-04): ok
/// (each on one line; FAILED instead of ok when the rule fails).
std::string formatCheckReport(const CheckReport &report, ElementType t);

/// Absolute error floor of the rule for a storage type: 1e-5 (f32), 1e-4
/// (f16), 1e-3 (bf16).
double errorFloor(ElementType type);

/// Checks a kernel's outputs `o` [B, Hq, Sq, Dv] and `lse` [B, Hq, Sq],
/// computed in storage type `t` from the given inputs, against
/// referenceAttention with naiveAttention(t) setting the bound. Errors are
/// those of referenceAttention (invalid shapes or config).
llvm::Expected<CheckReport>
checkAttention(ElementType t, const HostTensor &q, const HostTensor &k,
               const HostTensor &v, const MaskOperand &mask,
               const AttentionConfig &cfg, llvm::ArrayRef<double> o,
               llvm::ArrayRef<double> lse);

} // namespace attn

#endif // ATTN_REFERENCE_REFERENCE_H
