//===- Masks.cpp - causal/window masks as a key band ----------------------===//

#include "attn/Dialect/Masks.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;
using namespace mlir::attn;

std::pair<int64_t, int64_t>
mlir::attn::getWindowBounds(std::optional<ArrayRef<int64_t>> w) {
  if (!w)
    return {-1, -1};
  return {(*w)[0], (*w)[1]};
}

KeyBand KeyBand::build(OpBuilder &b, Location loc,
                       std::optional<CausalAlignment> causal,
                       int64_t windowLeft, int64_t windowRight, Value sq,
                       Value sk) {
  KeyBand band;
  auto cst = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  // The bottom-right diagonal is j = i + (Sk − Sq); windows are relative to
  // it whatever the causal alignment (FlashAttention's convention).
  Value diag;
  auto getDiag = [&]() {
    if (!diag)
      diag = arith::SubIOp::create(b, loc, sk, sq);
    return diag;
  };
  auto tighten = [&](std::optional<Value> &bound, Value v, bool isUpper) {
    if (!bound) {
      bound = v;
      return;
    }
    bound = isUpper ? arith::MinSIOp::create(b, loc, *bound, v).getResult()
                    : arith::MaxSIOp::create(b, loc, *bound, v).getResult();
  };
  if (causal == CausalAlignment::TopLeft)
    tighten(band.hi, cst(0), /*isUpper=*/true);
  if (causal == CausalAlignment::BottomRight)
    tighten(band.hi, getDiag(), /*isUpper=*/true);
  if (windowRight >= 0)
    tighten(band.hi, arith::AddIOp::create(b, loc, getDiag(), cst(windowRight)),
            /*isUpper=*/true);
  if (windowLeft >= 0)
    tighten(band.lo, arith::SubIOp::create(b, loc, getDiag(), cst(windowLeft)),
            /*isUpper=*/false);
  return band;
}
