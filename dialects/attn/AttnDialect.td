//===- AttnDialect.td - the attn dialect --------------------*- tablegen -*-===//
//
// The `attn` dialect describes attention computations at two levels:
//   1. `attn.attention`: the semantic op (tensors, masks, grouping, scale);
//   2. the tiled online-softmax form (`attn.tile_*` ops on memrefs) that
//      `-attn-tile` produces and the backends lower further.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_TD
#define ATTN_DIALECT_TD

include "mlir/IR/OpBase.td"

def Attn_Dialect : Dialect {
  let name = "attn";
  let cppNamespace = "::mlir::attn";
  let summary = "Attention computations and their tiled online-softmax form";
  let description = [{
    The `attn` dialect is the front door of the attn compiler. A computation
    starts as one `attn.attention` op, which carries everything that changes
    the result: Q/K/V with their shapes and element types, the softmax scale,
    the causal alignment, a sliding window, a logit soft-cap and an optional
    mask operand (boolean keep-mask or additive bias). Head grouping
    (MHA/MQA/GQA) is implied by the head counts of Q and K/V.

    `-attn-tile` rewrites the op into FlashAttention-2's tiled online-softmax
    form: a parallel grid of work items (batch, query head, query tile), each
    iterating over the key tiles that its masks leave non-empty with the
    running row maximum `m`, running sum `l` and output accumulator `acc`.
    The `attn.tile_*` ops name the three phases of one work item (init, one
    key-tile update, finalize); backends lower them to vector code (CPU) or
    to tensor-core code (GPU).
  }];
  let useDefaultAttributePrinterParser = 1;
}

class Attn_Op<string mnemonic, list<Trait> traits = []>
    : Op<Attn_Dialect, mnemonic, traits>;

#endif // ATTN_DIALECT_TD
