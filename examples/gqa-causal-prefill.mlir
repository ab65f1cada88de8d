// Grouped-query causal prefill (Llama-style): 8 query heads share 2 KV heads,
// 1024 tokens, head dim 128, bf16 storage with f32 accumulation.
//
//   attn-opt gqa-causal-prefill.mlir -attn-tile            # the tiled form
//   attn-opt gqa-causal-prefill.mlir -attn-lower-to-cpu    # LLVM dialect
func.func @gqa_causal_prefill(%q: tensor<1x8x1024x128xbf16>,
                              %k: tensor<1x2x1024x128xbf16>,
                              %v: tensor<1x2x1024x128xbf16>)
    -> (tensor<1x8x1024x128xbf16>, tensor<1x8x1024xf32>) {
  %o, %lse = attn.attention %q, %k, %v {causal = #attn.causal<bottom_right>}
      : tensor<1x8x1024x128xbf16>, tensor<1x2x1024x128xbf16>,
        tensor<1x2x1024x128xbf16>
      -> tensor<1x8x1024x128xbf16>, tensor<1x8x1024xf32>
  return %o, %lse : tensor<1x8x1024x128xbf16>, tensor<1x8x1024xf32>
}
