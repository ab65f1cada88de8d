// Round trip of every attn op through the custom assembly format, and through
// the generic form (which checks that properties survive the round trip).
// RUN: attn-opt %s | attn-opt | FileCheck %s --enable-var-scope
// RUN: attn-opt %s --mlir-print-op-generic | attn-opt | FileCheck %s --enable-var-scope

//===----------------------------------------------------------------------===//
// attn.attention
//===----------------------------------------------------------------------===//

// Multi-head attention (Hq == Hkv), no attributes: scale defaults to 1/sqrt(D)
// and is not materialized as an attribute.
// CHECK-LABEL: func.func @mha_f32_default_scale(
// CHECK-SAME:      %[[Q:[^:]+]]: tensor<1x4x128x64xf32>, %[[K:[^:]+]]: tensor<1x4x128x64xf32>, %[[V:[^:]+]]: tensor<1x4x128x64xf32>)
// CHECK-NEXT:    %[[O:[^,]+]], %[[LSE:[^ ]+]] = attn.attention %[[Q]], %[[K]], %[[V]] : tensor<1x4x128x64xf32>, tensor<1x4x128x64xf32>, tensor<1x4x128x64xf32> -> tensor<1x4x128x64xf32>, tensor<1x4x128xf32>{{$}}
// CHECK-NEXT:    return %[[O]], %[[LSE]] : tensor<1x4x128x64xf32>, tensor<1x4x128xf32>
func.func @mha_f32_default_scale(%q: tensor<1x4x128x64xf32>, %k: tensor<1x4x128x64xf32>, %v: tensor<1x4x128x64xf32>) -> (tensor<1x4x128x64xf32>, tensor<1x4x128xf32>) {
  %o, %lse = attn.attention %q, %k, %v : tensor<1x4x128x64xf32>, tensor<1x4x128x64xf32>, tensor<1x4x128x64xf32> -> tensor<1x4x128x64xf32>, tensor<1x4x128xf32>
  return %o, %lse : tensor<1x4x128x64xf32>, tensor<1x4x128xf32>
}

// Multi-query decoding step (Hkv == 1, Sq == 1) against a KV cache.
// CHECK-LABEL: func.func @mqa_decode_f16(
// CHECK-SAME:      %[[Q:[^:]+]]: tensor<4x8x1x128xf16>, %[[K:[^:]+]]: tensor<4x1x4096x128xf16>, %[[V:[^:]+]]: tensor<4x1x4096x128xf16>)
// CHECK-NEXT:    %[[O:[^,]+]], %[[LSE:[^ ]+]] = attn.attention %[[Q]], %[[K]], %[[V]] {causal = #attn.causal<bottom_right>} : tensor<4x8x1x128xf16>, tensor<4x1x4096x128xf16>, tensor<4x1x4096x128xf16> -> tensor<4x8x1x128xf16>, tensor<4x8x1xf32>
// CHECK-NEXT:    return %[[O]], %[[LSE]]
func.func @mqa_decode_f16(%q: tensor<4x8x1x128xf16>, %k: tensor<4x1x4096x128xf16>, %v: tensor<4x1x4096x128xf16>) -> (tensor<4x8x1x128xf16>, tensor<4x8x1xf32>) {
  %o, %lse = attn.attention %q, %k, %v {causal = #attn.causal<bottom_right>} : tensor<4x8x1x128xf16>, tensor<4x1x4096x128xf16>, tensor<4x1x4096x128xf16> -> tensor<4x8x1x128xf16>, tensor<4x8x1xf32>
  return %o, %lse : tensor<4x8x1x128xf16>, tensor<4x8x1xf32>
}

// Grouped-query attention (8 query heads over 2 KV heads), chunked prefill
// with Sq < Sk and the causal diagonal anchored bottom-right.
// CHECK-LABEL: func.func @gqa_causal_bottom_right(
// CHECK-SAME:      %[[Q:[^:]+]]: tensor<1x8x1024x128xf16>, %[[K:[^:]+]]: tensor<1x2x2048x128xf16>, %[[V:[^:]+]]: tensor<1x2x2048x128xf16>)
// CHECK-NEXT:    %[[O:[^,]+]], %[[LSE:[^ ]+]] = attn.attention %[[Q]], %[[K]], %[[V]] {causal = #attn.causal<bottom_right>} : tensor<1x8x1024x128xf16>, tensor<1x2x2048x128xf16>, tensor<1x2x2048x128xf16> -> tensor<1x8x1024x128xf16>, tensor<1x8x1024xf32>
// CHECK-NEXT:    return %[[O]], %[[LSE]]
func.func @gqa_causal_bottom_right(%q: tensor<1x8x1024x128xf16>, %k: tensor<1x2x2048x128xf16>, %v: tensor<1x2x2048x128xf16>) -> (tensor<1x8x1024x128xf16>, tensor<1x8x1024xf32>) {
  %o, %lse = attn.attention %q, %k, %v {causal = #attn.causal<bottom_right>} : tensor<1x8x1024x128xf16>, tensor<1x2x2048x128xf16>, tensor<1x2x2048x128xf16> -> tensor<1x8x1024x128xf16>, tensor<1x8x1024xf32>
  return %o, %lse : tensor<1x8x1024x128xf16>, tensor<1x8x1024xf32>
}

// GQA with group size 3 in bf16, causal diagonal anchored top-left (PyTorch's
// is_causal=True).
// CHECK-LABEL: func.func @gqa_causal_top_left_bf16(
// CHECK-SAME:      %[[Q:[^:]+]]: tensor<2x12x256x64xbf16>, %[[K:[^:]+]]: tensor<2x4x512x64xbf16>, %[[V:[^:]+]]: tensor<2x4x512x64xbf16>)
// CHECK-NEXT:    %[[O:[^,]+]], %[[LSE:[^ ]+]] = attn.attention %[[Q]], %[[K]], %[[V]] {causal = #attn.causal<top_left>} : tensor<2x12x256x64xbf16>, tensor<2x4x512x64xbf16>, tensor<2x4x512x64xbf16> -> tensor<2x12x256x64xbf16>, tensor<2x12x256xf32>
// CHECK-NEXT:    return %[[O]], %[[LSE]]
func.func @gqa_causal_top_left_bf16(%q: tensor<2x12x256x64xbf16>, %k: tensor<2x4x512x64xbf16>, %v: tensor<2x4x512x64xbf16>) -> (tensor<2x12x256x64xbf16>, tensor<2x12x256xf32>) {
  %o, %lse = attn.attention %q, %k, %v {causal = #attn.causal<top_left>} : tensor<2x12x256x64xbf16>, tensor<2x4x512x64xbf16>, tensor<2x4x512x64xbf16> -> tensor<2x12x256x64xbf16>, tensor<2x12x256xf32>
  return %o, %lse : tensor<2x12x256x64xbf16>, tensor<2x12x256xf32>
}

// D != Dv (MLA-style: D = 192, Dv = 128); the output takes Dv.
// CHECK-LABEL: func.func @mla_value_dim_differs(
// CHECK-SAME:      %[[Q:[^:]+]]: tensor<1x16x64x192xbf16>, %[[K:[^:]+]]: tensor<1x16x64x192xbf16>, %[[V:[^:]+]]: tensor<1x16x64x128xbf16>)
// CHECK-NEXT:    %[[O:[^,]+]], %[[LSE:[^ ]+]] = attn.attention %[[Q]], %[[K]], %[[V]] : tensor<1x16x64x192xbf16>, tensor<1x16x64x192xbf16>, tensor<1x16x64x128xbf16> -> tensor<1x16x64x128xbf16>, tensor<1x16x64xf32>{{$}}
// CHECK-NEXT:    return %[[O]], %[[LSE]]
func.func @mla_value_dim_differs(%q: tensor<1x16x64x192xbf16>, %k: tensor<1x16x64x192xbf16>, %v: tensor<1x16x64x128xbf16>) -> (tensor<1x16x64x128xbf16>, tensor<1x16x64xf32>) {
  %o, %lse = attn.attention %q, %k, %v : tensor<1x16x64x192xbf16>, tensor<1x16x64x192xbf16>, tensor<1x16x64x128xbf16> -> tensor<1x16x64x128xbf16>, tensor<1x16x64xf32>
  return %o, %lse : tensor<1x16x64x128xbf16>, tensor<1x16x64xf32>
}

// The head-dim limits: D = 256 (the maximum) and Dv = 1 (the minimum).
// CHECK-LABEL: func.func @max_head_dim_256_min_value_dim_1(
// CHECK:         attn.attention {{.*}} : tensor<1x1x8x256xf32>, tensor<1x1x8x256xf32>, tensor<1x1x8x1xf32> -> tensor<1x1x8x1xf32>, tensor<1x1x8xf32>
func.func @max_head_dim_256_min_value_dim_1(%q: tensor<1x1x8x256xf32>, %k: tensor<1x1x8x256xf32>, %v: tensor<1x1x8x1xf32>) -> (tensor<1x1x8x1xf32>, tensor<1x1x8xf32>) {
  %o, %lse = attn.attention %q, %k, %v : tensor<1x1x8x256xf32>, tensor<1x1x8x256xf32>, tensor<1x1x8x1xf32> -> tensor<1x1x8x1xf32>, tensor<1x1x8xf32>
  return %o, %lse : tensor<1x1x8x1xf32>, tensor<1x1x8xf32>
}

// Causal sliding window (Mistral-style): 256 keys to the left, none right.
// CHECK-LABEL: func.func @causal_sliding_window(
// CHECK:         attn.attention %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}} {causal = #attn.causal<bottom_right>, window = array<i64: 256, 0>} : tensor<1x4x512x64xf16>
func.func @causal_sliding_window(%q: tensor<1x4x512x64xf16>, %k: tensor<1x4x512x64xf16>, %v: tensor<1x4x512x64xf16>) -> (tensor<1x4x512x64xf16>, tensor<1x4x512xf32>) {
  %o, %lse = attn.attention %q, %k, %v {causal = #attn.causal<bottom_right>, window = array<i64: 256, 0>} : tensor<1x4x512x64xf16>, tensor<1x4x512x64xf16>, tensor<1x4x512x64xf16> -> tensor<1x4x512x64xf16>, tensor<1x4x512xf32>
  return %o, %lse : tensor<1x4x512x64xf16>, tensor<1x4x512xf32>
}

// A window without causal mask, unbounded on the left (-1) and 16 keys to the
// right of the bottom-right diagonal.
// CHECK-LABEL: func.func @window_unbounded_left_only(
// CHECK:         attn.attention %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}} {window = array<i64: -1, 16>} : tensor<1x4x100x32xf32>, tensor<1x4x300x32xf32>, tensor<1x4x300x32xf32> -> tensor<1x4x100x32xf32>, tensor<1x4x100xf32>
func.func @window_unbounded_left_only(%q: tensor<1x4x100x32xf32>, %k: tensor<1x4x300x32xf32>, %v: tensor<1x4x300x32xf32>) -> (tensor<1x4x100x32xf32>, tensor<1x4x100xf32>) {
  %o, %lse = attn.attention %q, %k, %v {window = array<i64: -1, 16>} : tensor<1x4x100x32xf32>, tensor<1x4x300x32xf32>, tensor<1x4x300x32xf32> -> tensor<1x4x100x32xf32>, tensor<1x4x100xf32>
  return %o, %lse : tensor<1x4x100x32xf32>, tensor<1x4x100xf32>
}

// Explicit scale and a soft-cap (Gemma-2-style), both f64.
// CHECK-LABEL: func.func @softcap_and_explicit_scale(
// CHECK:         attn.attention %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}} {scale = 6.250000e-02 : f64, softcap = 5.000000e+01 : f64} : tensor<1x8x128x128xbf16>
func.func @softcap_and_explicit_scale(%q: tensor<1x8x128x128xbf16>, %k: tensor<1x8x128x128xbf16>, %v: tensor<1x8x128x128xbf16>) -> (tensor<1x8x128x128xbf16>, tensor<1x8x128xf32>) {
  %o, %lse = attn.attention %q, %k, %v {scale = 0.0625 : f64, softcap = 50.0 : f64} : tensor<1x8x128x128xbf16>, tensor<1x8x128x128xbf16>, tensor<1x8x128x128xbf16> -> tensor<1x8x128x128xbf16>, tensor<1x8x128xf32>
  return %o, %lse : tensor<1x8x128x128xbf16>, tensor<1x8x128xf32>
}

// A keep mask (i1) broadcast over batch and heads, Sq != Sk, D != Dv.
// CHECK-LABEL: func.func @bool_mask_broadcast_batch_and_heads(
// CHECK-SAME:      %[[Q:[^:]+]]: tensor<2x4x7x64xf32>, %[[K:[^:]+]]: tensor<2x4x9x64xf32>, %[[V:[^:]+]]: tensor<2x4x9x32xf32>, %[[M:[^:]+]]: tensor<1x1x7x9xi1>)
// CHECK-NEXT:    %[[O:[^,]+]], %[[LSE:[^ ]+]] = attn.attention %[[Q]], %[[K]], %[[V]] mask(%[[M]] : tensor<1x1x7x9xi1>) : tensor<2x4x7x64xf32>, tensor<2x4x9x64xf32>, tensor<2x4x9x32xf32> -> tensor<2x4x7x32xf32>, tensor<2x4x7xf32>{{$}}
// CHECK-NEXT:    return %[[O]], %[[LSE]]
func.func @bool_mask_broadcast_batch_and_heads(%q: tensor<2x4x7x64xf32>, %k: tensor<2x4x9x64xf32>, %v: tensor<2x4x9x32xf32>, %m: tensor<1x1x7x9xi1>) -> (tensor<2x4x7x32xf32>, tensor<2x4x7xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(%m : tensor<1x1x7x9xi1>) : tensor<2x4x7x64xf32>, tensor<2x4x9x64xf32>, tensor<2x4x9x32xf32> -> tensor<2x4x7x32xf32>, tensor<2x4x7xf32>
  return %o, %lse : tensor<2x4x7x32xf32>, tensor<2x4x7xf32>
}

// An additive f32 bias broadcast over queries, combined with a causal mask.
// CHECK-LABEL: func.func @float_bias_broadcast_queries_causal(
// CHECK-SAME:      %[[Q:[^:]+]]: tensor<2x4x7x64xf32>, %[[K:[^:]+]]: tensor<2x4x9x64xf32>, %[[V:[^:]+]]: tensor<2x4x9x64xf32>, %[[B:[^:]+]]: tensor<2x4x1x9xf32>)
// CHECK-NEXT:    attn.attention %[[Q]], %[[K]], %[[V]] mask(%[[B]] : tensor<2x4x1x9xf32>) {causal = #attn.causal<top_left>} : tensor<2x4x7x64xf32>
func.func @float_bias_broadcast_queries_causal(%q: tensor<2x4x7x64xf32>, %k: tensor<2x4x9x64xf32>, %v: tensor<2x4x9x64xf32>, %bias: tensor<2x4x1x9xf32>) -> (tensor<2x4x7x64xf32>, tensor<2x4x7xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(%bias : tensor<2x4x1x9xf32>) {causal = #attn.causal<top_left>} : tensor<2x4x7x64xf32>, tensor<2x4x9x64xf32>, tensor<2x4x9x64xf32> -> tensor<2x4x7x64xf32>, tensor<2x4x7xf32>
  return %o, %lse : tensor<2x4x7x64xf32>, tensor<2x4x7xf32>
}

// A per-head f16 bias (ALiBi-like) on bf16 storage: the bias type may differ
// from the storage type.
// CHECK-LABEL: func.func @f16_bias_on_bf16_per_head(
// CHECK:         attn.attention %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}} mask(%{{[^ ]+}} : tensor<1x8x16x16xf16>) : tensor<1x8x16x64xbf16>, tensor<1x8x16x64xbf16>, tensor<1x8x16x64xbf16> -> tensor<1x8x16x64xbf16>, tensor<1x8x16xf32>
func.func @f16_bias_on_bf16_per_head(%q: tensor<1x8x16x64xbf16>, %k: tensor<1x8x16x64xbf16>, %v: tensor<1x8x16x64xbf16>, %bias: tensor<1x8x16x16xf16>) -> (tensor<1x8x16x64xbf16>, tensor<1x8x16xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(%bias : tensor<1x8x16x16xf16>) : tensor<1x8x16x64xbf16>, tensor<1x8x16x64xbf16>, tensor<1x8x16x64xbf16> -> tensor<1x8x16x64xbf16>, tensor<1x8x16xf32>
  return %o, %lse : tensor<1x8x16x64xbf16>, tensor<1x8x16xf32>
}

// Dynamic B, Sq and Sk everywhere (including the mask), with every attribute
// that matters for the band: causal plus a left-bounded window.
// CHECK-LABEL: func.func @dynamic_batch_and_lengths_gqa(
// CHECK-SAME:      %[[Q:[^:]+]]: tensor<?x8x?x64xf16>, %[[K:[^:]+]]: tensor<?x2x?x64xf16>, %[[V:[^:]+]]: tensor<?x2x?x64xf16>, %[[M:[^:]+]]: tensor<?x1x?x?xi1>)
// CHECK-NEXT:    %[[O:[^,]+]], %[[LSE:[^ ]+]] = attn.attention %[[Q]], %[[K]], %[[V]] mask(%[[M]] : tensor<?x1x?x?xi1>) {causal = #attn.causal<bottom_right>, window = array<i64: 128, -1>} : tensor<?x8x?x64xf16>, tensor<?x2x?x64xf16>, tensor<?x2x?x64xf16> -> tensor<?x8x?x64xf16>, tensor<?x8x?xf32>
// CHECK-NEXT:    return %[[O]], %[[LSE]] : tensor<?x8x?x64xf16>, tensor<?x8x?xf32>
func.func @dynamic_batch_and_lengths_gqa(%q: tensor<?x8x?x64xf16>, %k: tensor<?x2x?x64xf16>, %v: tensor<?x2x?x64xf16>, %m: tensor<?x1x?x?xi1>) -> (tensor<?x8x?x64xf16>, tensor<?x8x?xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(%m : tensor<?x1x?x?xi1>) {causal = #attn.causal<bottom_right>, window = array<i64: 128, -1>} : tensor<?x8x?x64xf16>, tensor<?x2x?x64xf16>, tensor<?x2x?x64xf16> -> tensor<?x8x?x64xf16>, tensor<?x8x?xf32>
  return %o, %lse : tensor<?x8x?x64xf16>, tensor<?x8x?xf32>
}

// Dynamic lengths with a mask whose static dims are checked against the
// static dims of Q/K only where both are known (5 vs ? for Sq).
// CHECK-LABEL: func.func @dynamic_lengths_static_mask_dims_softcap(
// CHECK:         attn.attention %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}} mask(%{{[^ ]+}} : tensor<3x1x5x?xf32>) {softcap = 3.000000e+01 : f64} : tensor<3x4x?x32xf32>, tensor<3x4x?x32xf32>, tensor<3x4x?x16xf32> -> tensor<3x4x?x16xf32>, tensor<3x4x?xf32>
func.func @dynamic_lengths_static_mask_dims_softcap(%q: tensor<3x4x?x32xf32>, %k: tensor<3x4x?x32xf32>, %v: tensor<3x4x?x16xf32>, %bias: tensor<3x1x5x?xf32>) -> (tensor<3x4x?x16xf32>, tensor<3x4x?xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(%bias : tensor<3x1x5x?xf32>) {softcap = 30.0 : f64} : tensor<3x4x?x32xf32>, tensor<3x4x?x32xf32>, tensor<3x4x?x16xf32> -> tensor<3x4x?x16xf32>, tensor<3x4x?xf32>
  return %o, %lse : tensor<3x4x?x16xf32>, tensor<3x4x?xf32>
}

//===----------------------------------------------------------------------===//
// Tile ops
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @tile_init_f16(
// CHECK-SAME:      %[[Q:[^:]+]]: memref<1x8x?x64xf16>, %[[B:[^:]+]]: index, %[[H:[^:]+]]: index, %[[Q0:[^:]+]]: index, %[[QT:[^:]+]]: memref<64x64xf32>, %[[M:[^:]+]]: memref<64xf32>, %[[L:[^:]+]]: memref<64xf32>, %[[ACC:[^:]+]]: memref<32x64xf32>)
// CHECK-NEXT:    attn.tile_init %[[Q]][%[[B]], %[[H]], %[[Q0]]] into %[[QT]] state(%[[M]], %[[L]], %[[ACC]]) {q_scale = 0.18033688011112042 : f64} : memref<1x8x?x64xf16>, memref<64x64xf32>, memref<64xf32>, memref<32x64xf32>
func.func @tile_init_f16(%q: memref<1x8x?x64xf16>, %b: index, %h: index, %q0: index, %qt: memref<64x64xf32>, %m: memref<64xf32>, %l: memref<64xf32>, %acc: memref<32x64xf32>) {
  attn.tile_init %q[%b, %h, %q0] into %qt state(%m, %l, %acc) {q_scale = 0.18033688011112042 : f64} : memref<1x8x?x64xf16>, memref<64x64xf32>, memref<64xf32>, memref<32x64xf32>
  return
}

// A tile update without `masked` (a full tile): causal is carried along but
// the unit attribute is absent.
// CHECK-LABEL: func.func @tile_update_unmasked_bf16(
// CHECK-SAME:      %[[QT:[^:]+]]: memref<64x16xf32>, %[[K:[^:]+]]: memref<1x2x?x64xbf16>, %[[V:[^:]+]]: memref<1x2x?x32xbf16>, %[[S:[^:]+]]: memref<32x16xf32>, %[[M:[^:]+]]: memref<16xf32>, %[[L:[^:]+]]: memref<16xf32>, %[[ACC:[^:]+]]: memref<32x16xf32>, %[[B:[^:]+]]: index, %[[H:[^:]+]]: index, %[[HKV:[^:]+]]: index, %[[Q0:[^:]+]]: index, %[[K0:[^:]+]]: index, %[[SQ:[^:]+]]: index)
// CHECK-NEXT:    attn.tile_update %[[QT]], %[[K]], %[[V]] scratch %[[S]] state(%[[M]], %[[L]], %[[ACC]]) at(%[[B]], %[[H]], %[[HKV]], %[[Q0]], %[[K0]]) query_length %[[SQ]] {causal = #attn.causal<bottom_right>} : memref<64x16xf32>, memref<1x2x?x64xbf16>, memref<1x2x?x32xbf16>, memref<32x16xf32>, memref<16xf32>, memref<32x16xf32>
func.func @tile_update_unmasked_bf16(%qt: memref<64x16xf32>, %k: memref<1x2x?x64xbf16>, %v: memref<1x2x?x32xbf16>, %s: memref<32x16xf32>, %m: memref<16xf32>, %l: memref<16xf32>, %acc: memref<32x16xf32>, %b: index, %h: index, %hkv: index, %q0: index, %k0: index, %sq: index) {
  attn.tile_update %qt, %k, %v scratch %s state(%m, %l, %acc) at(%b, %h, %hkv, %q0, %k0) query_length %sq {causal = #attn.causal<bottom_right>} : memref<64x16xf32>, memref<1x2x?x64xbf16>, memref<1x2x?x32xbf16>, memref<32x16xf32>, memref<16xf32>, memref<32x16xf32>
  return
}

// A masked (diagonal) tile with a top-left causal mask and a window.
// CHECK-LABEL: func.func @tile_update_masked_causal_window(
// CHECK:         attn.tile_update %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}} scratch %{{[^ ]+}} state({{[^)]+}}) at({{[^)]+}}) query_length %{{[^ ]+}} {causal = #attn.causal<top_left>, masked, window = array<i64: 32, 0>} : memref<64x64xf32>, memref<1x2x?x64xf16>, memref<1x2x?x64xf16>, memref<64x64xf32>, memref<64xf32>, memref<64x64xf32>
func.func @tile_update_masked_causal_window(%qt: memref<64x64xf32>, %k: memref<1x2x?x64xf16>, %v: memref<1x2x?x64xf16>, %s: memref<64x64xf32>, %m: memref<64xf32>, %l: memref<64xf32>, %acc: memref<64x64xf32>, %b: index, %h: index, %hkv: index, %q0: index, %k0: index, %sq: index) {
  attn.tile_update %qt, %k, %v scratch %s state(%m, %l, %acc) at(%b, %h, %hkv, %q0, %k0) query_length %sq {causal = #attn.causal<top_left>, masked, window = array<i64: 32, 0>} : memref<64x64xf32>, memref<1x2x?x64xf16>, memref<1x2x?x64xf16>, memref<64x64xf32>, memref<64xf32>, memref<64x64xf32>
  return
}

// The optional mask operand (i1, broadcast, dynamic) on a masked tile with
// dynamic batch and key length.
// CHECK-LABEL: func.func @tile_update_bool_mask_operand(
// CHECK-SAME:      %[[QT:[^:]+]]: memref<32x32xf32>, %[[K:[^:]+]]: memref<?x4x?x32xf32>, %[[V:[^:]+]]: memref<?x4x?x32xf32>, %[[MASK:[^:]+]]: memref<1x1x?x?xi1>, %[[S:[^:]+]]: memref<64x32xf32>
// CHECK-NEXT:    attn.tile_update %[[QT]], %[[K]], %[[V]] mask(%[[MASK]] : memref<1x1x?x?xi1>) scratch %[[S]] state({{[^)]+}}) at({{[^)]+}}) query_length %{{[^ ]+}} {masked} : memref<32x32xf32>, memref<?x4x?x32xf32>, memref<?x4x?x32xf32>, memref<64x32xf32>, memref<32xf32>, memref<32x32xf32>
func.func @tile_update_bool_mask_operand(%qt: memref<32x32xf32>, %k: memref<?x4x?x32xf32>, %v: memref<?x4x?x32xf32>, %mask: memref<1x1x?x?xi1>, %s: memref<64x32xf32>, %m: memref<32xf32>, %l: memref<32xf32>, %acc: memref<32x32xf32>, %b: index, %h: index, %hkv: index, %q0: index, %k0: index, %sq: index) {
  attn.tile_update %qt, %k, %v mask(%mask : memref<1x1x?x?xi1>) scratch %s state(%m, %l, %acc) at(%b, %h, %hkv, %q0, %k0) query_length %sq {masked} : memref<32x32xf32>, memref<?x4x?x32xf32>, memref<?x4x?x32xf32>, memref<64x32xf32>, memref<32xf32>, memref<32x32xf32>
  return
}

// A float bias mask operand together with the soft-cap (D = 32 != Dv = 16).
// CHECK-LABEL: func.func @tile_update_float_bias_softcap(
// CHECK:         attn.tile_update %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}} mask(%{{[^ ]+}} : memref<2x4x1x128xf32>) scratch %{{[^ ]+}} state({{[^)]+}}) at({{[^)]+}}) query_length %{{[^ ]+}} {masked, softcap = 3.000000e+01 : f64} : memref<32x32xf32>, memref<2x4x128x32xf32>, memref<2x4x128x16xf32>, memref<64x32xf32>, memref<32xf32>, memref<16x32xf32>
func.func @tile_update_float_bias_softcap(%qt: memref<32x32xf32>, %k: memref<2x4x128x32xf32>, %v: memref<2x4x128x16xf32>, %bias: memref<2x4x1x128xf32>, %s: memref<64x32xf32>, %m: memref<32xf32>, %l: memref<32xf32>, %acc: memref<16x32xf32>, %b: index, %h: index, %hkv: index, %q0: index, %k0: index, %sq: index) {
  attn.tile_update %qt, %k, %v mask(%bias : memref<2x4x1x128xf32>) scratch %s state(%m, %l, %acc) at(%b, %h, %hkv, %q0, %k0) query_length %sq {masked, softcap = 30.0 : f64} : memref<32x32xf32>, memref<2x4x128x32xf32>, memref<2x4x128x16xf32>, memref<64x32xf32>, memref<32xf32>, memref<16x32xf32>
  return
}

// CHECK-LABEL: func.func @tile_finalize_f16(
// CHECK-SAME:      %[[M:[^:]+]]: memref<64xf32>, %[[L:[^:]+]]: memref<64xf32>, %[[ACC:[^:]+]]: memref<64x64xf32>, %[[O:[^:]+]]: memref<1x8x?x64xf16>, %[[LSE:[^:]+]]: memref<1x8x?xf32>, %[[B:[^:]+]]: index, %[[H:[^:]+]]: index, %[[Q0:[^:]+]]: index)
// CHECK-NEXT:    attn.tile_finalize state(%[[M]], %[[L]], %[[ACC]]) into %[[O]], %[[LSE]] at(%[[B]], %[[H]], %[[Q0]]) : memref<64xf32>, memref<64x64xf32>, memref<1x8x?x64xf16>, memref<1x8x?xf32>
func.func @tile_finalize_f16(%m: memref<64xf32>, %l: memref<64xf32>, %acc: memref<64x64xf32>, %o: memref<1x8x?x64xf16>, %lse: memref<1x8x?xf32>, %b: index, %h: index, %q0: index) {
  attn.tile_finalize state(%m, %l, %acc) into %o, %lse at(%b, %h, %q0) : memref<64xf32>, memref<64x64xf32>, memref<1x8x?x64xf16>, memref<1x8x?xf32>
  return
}

// Staged tiles (-attn-stage-shared-memory): workgroup-memory copies of the
// Q tile and of the key tile's K and V rows, rows padded past the head dim.
// CHECK-LABEL: func.func @tiles_staged(
// CHECK:         attn.tile_init %{{.+}}[%{{.+}}, %{{.+}}, %{{.+}}] staged(%{{.+}} : memref<64x72xf16, #gpu.address_space<workgroup>>) into
// CHECK:         attn.tile_update %{{.+}}, %{{.+}}, %{{.+}} staged(%{{.+}}, %{{.+}} : memref<32x72xf16, #gpu.address_space<workgroup>>, memref<32x40xf16, #gpu.address_space<workgroup>>) scratch
func.func @tiles_staged(%q: memref<?x8x?x64xf16>, %k: memref<?x2x?x64xf16>, %v: memref<?x2x?x32xf16>, %qs: memref<64x72xf16, #gpu.address_space<workgroup>>, %ks: memref<32x72xf16, #gpu.address_space<workgroup>>, %vs: memref<32x40xf16, #gpu.address_space<workgroup>>, %qt: memref<64x64xf32>, %s: memref<32x64xf32>, %m: memref<64xf32>, %acc: memref<32x64xf32>, %i: index) {
  attn.tile_init %q[%i, %i, %i] staged(%qs : memref<64x72xf16, #gpu.address_space<workgroup>>) into %qt state(%m, %m, %acc) {q_scale = 0.125 : f64} : memref<?x8x?x64xf16>, memref<64x64xf32>, memref<64xf32>, memref<32x64xf32>
  attn.tile_update %qt, %k, %v staged(%ks, %vs : memref<32x72xf16, #gpu.address_space<workgroup>>, memref<32x40xf16, #gpu.address_space<workgroup>>) scratch %s state(%m, %m, %acc) at(%i, %i, %i, %i, %i) query_length %i {masked} : memref<64x64xf32>, memref<?x2x?x64xf16>, memref<?x2x?x32xf16>, memref<32x64xf32>, memref<64xf32>, memref<32x64xf32>
  return
}
