//===- Masks.h - causal/window masks as a key band --------------*- C++ -*-===//
//
// The causal and sliding-window masks of attn.attention all keep, for query
// row i, a contiguous band of keys
//
//     i + lo ≤ j ≤ i + hi        (either side may be unbounded)
//
// whose offsets are affine in the diagonal offset Sk − Sq. The tiling pass
// uses the band to classify key tiles (empty / full / partial) and the
// backends use it as the element predicate of partial tiles, so both read
// the mask semantics from this one place.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_MASKS_H
#define ATTN_DIALECT_MASKS_H

#include "attn/Dialect/Attn.h"
#include "mlir/IR/Builders.h"

#include <optional>

namespace mlir::attn {

struct KeyBand {
  /// Offsets of the band (index values); std::nullopt = unbounded side.
  std::optional<Value> lo, hi;

  /// Builds the band of `causal` and `window = (left, right)` for a problem
  /// with `sq` queries and `sk` keys (index values).
  static KeyBand build(OpBuilder &b, Location loc,
                       std::optional<CausalAlignment> causal,
                       int64_t windowLeft, int64_t windowRight, Value sq,
                       Value sk);

  /// True when the band keeps every key.
  bool isUnbounded() const { return !lo && !hi; }
};

/// Window bounds of an optional `window` attribute (-1 = unbounded).
std::pair<int64_t, int64_t> getWindowBounds(std::optional<ArrayRef<int64_t>> w);

} // namespace mlir::attn

#endif // ATTN_DIALECT_MASKS_H
