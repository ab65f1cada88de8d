//===- Masks.cpp - causal/window masks as a key band ----------------------===//

#include "attn/Dialect/Masks.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;
using namespace mlir::attn;

KeyBand KeyBand::build(OpBuilder &b, Location loc, CausalAlignmentAttr causal,
                       DenseI64ArrayAttr window, Value sq, Value sk) {
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
  int64_t left = window ? window[0] : -1, right = window ? window[1] : -1;
  if (causal && causal.getValue() == CausalAlignment::TopLeft)
    tighten(band.hi, cst(0), /*isUpper=*/true);
  if (causal && causal.getValue() == CausalAlignment::BottomRight)
    tighten(band.hi, getDiag(), /*isUpper=*/true);
  if (right >= 0)
    tighten(band.hi, arith::AddIOp::create(b, loc, getDiag(), cst(right)),
            /*isUpper=*/true);
  if (left >= 0)
    tighten(band.lo, arith::SubIOp::create(b, loc, getDiag(), cst(left)),
            /*isUpper=*/false);
  // Clamp into [−Sq, Sk] (see the header).
  Value negSq;
  for (std::optional<Value> *bound : {&band.lo, &band.hi}) {
    if (!*bound)
      continue;
    if (!negSq)
      negSq = arith::SubIOp::create(b, loc, cst(0), sq);
    *bound = arith::MinSIOp::create(
        b, loc, arith::MaxSIOp::create(b, loc, **bound, negSq), sk);
  }
  return band;
}
