// Cross-attention (text queries over 1000 image tokens): Sq = 77 ≠ Sk = 1000,
// no mask, f32 storage, a value head dim (96) different from the query/key
// head dim (64).
func.func @cross_attention(%q: tensor<2x8x77x64xf32>,
                           %k: tensor<2x8x1000x64xf32>,
                           %v: tensor<2x8x1000x96xf32>)
    -> (tensor<2x8x77x96xf32>, tensor<2x8x77xf32>) {
  %o, %lse = attn.attention %q, %k, %v
      : tensor<2x8x77x64xf32>, tensor<2x8x1000x64xf32>, tensor<2x8x1000x96xf32>
      -> tensor<2x8x77x96xf32>, tensor<2x8x77xf32>
  return %o, %lse : tensor<2x8x77x96xf32>, tensor<2x8x77xf32>
}
