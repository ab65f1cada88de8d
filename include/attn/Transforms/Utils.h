//===- Utils.h - helpers shared by the attn passes --------------*- C++ -*-===//

#ifndef ATTN_TRANSFORMS_UTILS_H
#define ATTN_TRANSFORMS_UTILS_H

#include "mlir/IR/Builders.h"

namespace mlir::attn {

/// Size of dim `i` of `memref` as an index value: a constant when static,
/// memref.dim otherwise.
Value getDimValue(OpBuilder &b, Location loc, Value memref, int64_t i);

} // namespace mlir::attn

#endif // ATTN_TRANSFORMS_UTILS_H
