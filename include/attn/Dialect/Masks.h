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
  /// Bounded offsets are clamped into [−Sq, Sk]: a band wider than that
  /// keeps the same keys, and the clamp keeps every index computed from
  /// them (i + lo, j − hi, ...) within ±(Sq + Sk).
  std::optional<Value> lo, hi;

  /// Builds the band of the `causal` and `window` attributes of an
  /// attn.attention or attn.tile_update for a problem with `sq` queries and
  /// `sk` keys (index values).
  static KeyBand build(OpBuilder &b, Location loc, CausalAlignmentAttr causal,
                       DenseI64ArrayAttr window, Value sq, Value sk);

  /// The key tiles [kLo, kHi) of `tile` keys that hold a kept key for some
  /// query row in [q0, qLast]; every key outside them is masked for all of
  /// these rows (an empty range when no key is kept).
  std::pair<Value, Value> keyTileRange(OpBuilder &b, Location loc, Value q0,
                                       Value qLast, Value sk,
                                       Value tile) const;
};

/// Largest window entry the dialect accepts (windows are key counts).
constexpr int64_t kMaxWindow = (int64_t(1) << 31) - 1;

} // namespace mlir::attn

#endif // ATTN_DIALECT_MASKS_H
