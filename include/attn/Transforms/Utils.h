//===- Utils.h - helpers shared by the attn passes --------------*- C++ -*-===//

#ifndef ATTN_TRANSFORMS_UTILS_H
#define ATTN_TRANSFORMS_UTILS_H

#include "mlir/IR/Builders.h"

namespace mlir::attn {

/// Size of dim `i` of `memref` as an index value: a constant when static,
/// memref.dim otherwise.
Value getDimValue(OpBuilder &b, Location loc, Value memref, int64_t i);

/// The row-major linear index of `memref`'s element [i0, …, ik, 0, …, 0]
/// (`indices` are the leading k + 1 of them), in Horner form
/// ((i0·n1 + i1)·n2 + …)·…: the partial sum of loop-invariant leading
/// indices is itself loop-invariant, which keeps GPU address arithmetic to
/// one add per access.
Value getLinearIndex(OpBuilder &b, Location loc, Value memref,
                     ValueRange indices);

/// `memref` (identity layout) as a 1-D memref of all its elements, created
/// right after `memref` is defined (one view serves every access). A
/// memref.reinterpret_cast, which the LLVM lowering takes directly (a
/// collapse_shape would need -expand-strided-metadata over the whole
/// unrolled kernel).
Value getFlatView(OpBuilder &b, Value memref);

} // namespace mlir::attn

#endif // ATTN_TRANSFORMS_UTILS_H
