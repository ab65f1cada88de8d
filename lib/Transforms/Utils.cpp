//===- Utils.cpp - helpers shared by the attn passes ----------------------===//

#include "attn/Transforms/Utils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;

Value mlir::attn::getDimValue(OpBuilder &b, Location loc, Value memref,
                              int64_t i) {
  int64_t d = cast<MemRefType>(memref.getType()).getShape()[i];
  if (!ShapedType::isDynamic(d))
    return arith::ConstantIndexOp::create(b, loc, d);
  return memref::DimOp::create(b, loc, memref, i);
}
