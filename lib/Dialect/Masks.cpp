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

std::pair<Value, Value> KeyBand::keyTileRange(OpBuilder &b, Location loc,
                                              Value q0, Value qLast, Value sk,
                                              Value tile) const {
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  // Kept keys lie in [q0 + lo, qLast + hi] ∩ [0, Sk).
  Value kStart = zero, kEnd = sk;
  if (lo)
    kStart = arith::MaxSIOp::create(b, loc, zero,
                                    arith::AddIOp::create(b, loc, q0, *lo));
  if (hi)
    kEnd = arith::MinSIOp::create(
        b, loc, sk,
        arith::AddIOp::create(b, loc,
                              arith::AddIOp::create(b, loc, qLast, *hi), one));
  Value kLo = arith::DivUIOp::create(b, loc, kStart, tile);
  Value nonEmpty =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, kEnd, kStart);
  Value kHi = arith::SelectOp::create(
      b, loc, nonEmpty, arith::CeilDivSIOp::create(b, loc, kEnd, tile), kLo);
  return {kLo, kHi};
}
