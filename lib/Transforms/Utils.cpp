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

Value mlir::attn::getLinearIndex(OpBuilder &b, Location loc, Value memref,
                                 ValueRange indices) {
  int64_t rank = cast<MemRefType>(memref.getType()).getRank();
  Value linear = indices.front();
  for (int64_t i = 1; i < rank; ++i) {
    linear =
        arith::MulIOp::create(b, loc, linear, getDimValue(b, loc, memref, i));
    if (i < static_cast<int64_t>(indices.size()))
      linear = arith::AddIOp::create(b, loc, linear, indices[i]);
  }
  return linear;
}

Value mlir::attn::getFlatView(OpBuilder &b, Value memref) {
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointAfterValue(memref);
  Location loc = memref.getLoc();
  auto type = cast<MemRefType>(memref.getType());
  Value size = getDimValue(b, loc, memref, 0);
  for (int64_t i = 1; i < type.getRank(); ++i)
    size = arith::MulIOp::create(b, loc, size, getDimValue(b, loc, memref, i));
  auto flatType =
      MemRefType::get({ShapedType::kDynamic}, type.getElementType(),
                      MemRefLayoutAttrInterface(), type.getMemorySpace());
  return memref::ReinterpretCastOp::create(
      b, loc, flatType, memref,
      /*offset=*/b.getIndexAttr(0), ArrayRef<OpFoldResult>{size},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
}
