//===- Attn.h - the attn dialect --------------------------------*- C++ -*-===//

#ifndef ATTN_DIALECT_ATTN_H
#define ATTN_DIALECT_ATTN_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "attn/Dialect/AttnDialect.h.inc"
#include "attn/Dialect/AttnEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "attn/Dialect/AttnAttrs.h.inc"

#define GET_OP_CLASSES
#include "attn/Dialect/AttnOps.h.inc"

namespace mlir::attn {
/// Scores are kept in log2 units (scaled by log2(e)) so that exp2 replaces
/// exp; ln(2) converts back.
constexpr double kLog2e = 1.4426950408889634;
constexpr double kLn2 = 0.6931471805599453;

/// Optional f64 attributes (scale, softcap) as doubles.
inline std::optional<double> toDouble(std::optional<llvm::APFloat> f) {
  if (!f)
    return std::nullopt;
  return f->convertToDouble();
}
} // namespace mlir::attn

#endif // ATTN_DIALECT_ATTN_H
