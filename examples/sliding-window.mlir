// Sliding-window attention (Mistral-style): every query sees the 256 keys
// before it and itself; 2048 tokens, MQA-free MHA with 4 heads, f16 storage.
// Key tiles entirely outside the window are never visited.
func.func @sliding_window(%q: tensor<1x4x2048x64xf16>,
                          %k: tensor<1x4x2048x64xf16>,
                          %v: tensor<1x4x2048x64xf16>)
    -> (tensor<1x4x2048x64xf16>, tensor<1x4x2048xf32>) {
  %o, %lse = attn.attention %q, %k, %v
      {causal = #attn.causal<bottom_right>, window = array<i64: 256, 0>}
      : tensor<1x4x2048x64xf16>, tensor<1x4x2048x64xf16>, tensor<1x4x2048x64xf16>
      -> tensor<1x4x2048x64xf16>, tensor<1x4x2048xf32>
  return %o, %lse : tensor<1x4x2048x64xf16>, tensor<1x4x2048xf32>
}
