//===- AttnAttrs.td - attn dialect attributes ---------------*- tablegen -*-===//

#ifndef ATTN_ATTRS_TD
#define ATTN_ATTRS_TD

include "AttnDialect.td"
include "mlir/IR/EnumAttr.td"

def Attn_CausalTopLeft : I32EnumAttrCase<"TopLeft", 0, "top_left">;
def Attn_CausalBottomRight : I32EnumAttrCase<"BottomRight", 1, "bottom_right">;

def Attn_CausalAlignment : I32EnumAttr<"CausalAlignment",
    "alignment of the causal diagonal",
    [Attn_CausalTopLeft, Attn_CausalBottomRight]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::attn";
}

def Attn_CausalAttr : EnumAttr<Attn_Dialect, Attn_CausalAlignment, "causal"> {
  let summary = "Causal mask with an explicit diagonal alignment";
  let description = [{
    Selects which diagonal a causal mask is anchored to when Sq ≠ Sk
    (query i, key j, 0-based):

    * `top_left`: key j is visible to query i iff `j ≤ i` (PyTorch's
      `is_causal=True`);
    * `bottom_right`: key j is visible iff `j ≤ i + Sk − Sq`, i.e. the last
      query sees every key (FlashAttention ≥ 2.1, decoding with a KV cache).

    Example: `causal = #attn.causal<bottom_right>`
  }];
  let assemblyFormat = "`<` $value `>`";
}

#endif // ATTN_ATTRS_TD
