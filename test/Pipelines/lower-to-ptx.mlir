// -attn-lower-to-ptx: attn.attention → tensor-core kernel → PTX
// (-attn-dump-ptx prints it). The instructions that matter: mma.sync
// m16n8k16 f16/bf16→f32, ldmatrix (x4 for Q, x2 for K, x2.trans for V), quad
// shuffles, barriers, the cp.async ring (16-byte copies, wait_group
// stages − 1), ex2.approx.ftz for exp2, lg2.approx for the LSE's log and
// rcp.approx for 1 / l (emitted directly, not libdevice calls or IEEE
// division), and no local-memory (spill) traffic.
//
// RUN: attn-opt %s -attn-lower-to-ptx='chip=sm_80' -attn-dump-ptx -o /dev/null | FileCheck %s --check-prefixes=CHECK,SM80
// RUN: attn-opt %s -attn-lower-to-ptx='chip=sm_90a' -attn-dump-ptx -o /dev/null | FileCheck %s --check-prefixes=CHECK,SM90
// RUN: attn-opt %s -attn-lower-to-ptx='chip=sm_80' -attn-dump-ptx -o /dev/null | FileCheck %s --check-prefix=NOLOCAL

// The target: PTX ISA 8.0 and libdevice linked by path.
// CHECK:       // attn-dump-ptx: @attn_kernels #nvvm.target<chip = "{{sm_80|sm_90a}}", features = "+ptx80", link = ["{{.*}}libdevice.10.bc"]>
// SM80:        .target sm_80
// SM90:        .target sm_90a
// CHECK:       .visible .entry gqa_window_d128(
// CHECK-DAG:   ldmatrix.sync.aligned.m8n8.x4.shared.b16
// CHECK-DAG:   ldmatrix.sync.aligned.m8n8.x2.shared.b16
// CHECK-DAG:   ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16
// CHECK-DAG:   mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// CHECK-DAG:   shfl.sync.bfly.b32
// CHECK-DAG:   bar.sync
// 16-byte asynchronous copies past L1 (.cg), zero-filled outside the
// problem (src size).
// CHECK-DAG:   cp.async.cg.shared.global [%{{.+}}], [%{{.+}}], 16, %r{{[0-9]+}};
// Two stages (the table for D = 128): one group may stay in flight.
// CHECK-DAG:   cp.async.wait_group 1;
// O leaves as 32-bit pairs of halves.
// CHECK-DAG:   st.global.b32
// CHECK-DAG:   ex2.approx.ftz.f32
// CHECK-DAG:   lg2.approx.f32
// CHECK-DAG:   rcp.approx.ftz.f32
// CHECK:       ret;

// bf16 with an additive f32 bias and a soft-cap (tanh from libdevice), on
// the table's 3 stages for D = 64 on sm_80 (the kernels come in source
// order).
// CHECK:       .visible .entry bf16_bias_softcap_d64(
// CHECK-DAG:   mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// CHECK-DAG:   cp.async.wait_group 2;
// The bias: f32 loads.
// CHECK-DAG:   ld.global.b32
// CHECK:       ret;

// Static lengths Sq = Sk = 1024, multiples of the tiles: the kernel reads no
// length argument (params 5 and 6), and its copies have neither a source
// size (no zero fill) nor a per-copy address computation (immediate
// offsets).
// CHECK:       .visible .entry static_causal_d64(
// CHECK-NOT:   {{\[}}static_causal_d64_param_{{5|6}}]
// CHECK-NOT:   cp.async.cg.shared.global [%{{.+}}], [%{{.+}}], 16, %r
// CHECK:       cp.async.cg.shared.global [%{{.+}}], [%[[P:rd[0-9]+]]], 16;
// CHECK-NEXT:  cp.async.cg.shared.global [%{{.+}}], [%[[P]]+2048], 16;
// CHECK-NEXT:  cp.async.cg.shared.global [%{{.+}}], [%[[P]]+4096], 16;
// CHECK-NOT:   cp.async.cg.shared.global [%{{.+}}], [%{{.+}}], 16, %r
// CHECK:       ret;

// Static, not multiples of the tiles (D = 59, Sq = 113, Sk = 203, a keep
// mask): the LLVM pipeline's second instcombine does not reach a fixpoint
// in one iteration here, which its textual default's check turned into a
// process abort.
// CHECK:       .visible .entry static_keep_d59(
// CHECK:       ret;

// No local memory (spills or stack arrays) anywhere in the kernel, and no
// calls: libdevice's tanh is inlined.
// NOLOCAL-NOT: {{\.local|call}}
func.func @gqa_window_d128(%q: tensor<?x8x?x128xf16>, %k: tensor<?x2x?x128xf16>, %v: tensor<?x2x?x128xf16>) -> (tensor<?x8x?x128xf16>, tensor<?x8x?xf32>) {
  %o, %lse = attn.attention %q, %k, %v {causal = #attn.causal<bottom_right>, window = array<i64: 256, 0>} : tensor<?x8x?x128xf16>, tensor<?x2x?x128xf16>, tensor<?x2x?x128xf16> -> tensor<?x8x?x128xf16>, tensor<?x8x?xf32>
  return %o, %lse : tensor<?x8x?x128xf16>, tensor<?x8x?xf32>
}

func.func @bf16_bias_softcap_d64(%q: tensor<?x4x?x64xbf16>, %k: tensor<?x4x?x64xbf16>, %v: tensor<?x4x?x64xbf16>, %m: tensor<?x4x?x?xf32>) -> (tensor<?x4x?x64xbf16>, tensor<?x4x?xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(%m : tensor<?x4x?x?xf32>) {softcap = 50.0} : tensor<?x4x?x64xbf16>, tensor<?x4x?x64xbf16>, tensor<?x4x?x64xbf16> -> tensor<?x4x?x64xbf16>, tensor<?x4x?xf32>
  return %o, %lse : tensor<?x4x?x64xbf16>, tensor<?x4x?xf32>
}

func.func @static_causal_d64(%q: tensor<1x8x1024x64xf16>, %k: tensor<1x8x1024x64xf16>, %v: tensor<1x8x1024x64xf16>) -> (tensor<1x8x1024x64xf16>, tensor<1x8x1024xf32>) {
  %o, %lse = attn.attention %q, %k, %v {causal = #attn.causal<top_left>} : tensor<1x8x1024x64xf16>, tensor<1x8x1024x64xf16>, tensor<1x8x1024x64xf16> -> tensor<1x8x1024x64xf16>, tensor<1x8x1024xf32>
  return %o, %lse : tensor<1x8x1024x64xf16>, tensor<1x8x1024xf32>
}

func.func @static_keep_d59(%q: tensor<1x8x113x59xf16>, %k: tensor<1x2x203x59xf16>, %v: tensor<1x2x203x59xf16>, %m: tensor<1x1x113x203xi1>) -> (tensor<1x8x113x59xf16>, tensor<1x8x113xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(%m : tensor<1x1x113x203xi1>) : tensor<1x8x113x59xf16>, tensor<1x2x203x59xf16>, tensor<1x2x203x59xf16> -> tensor<1x8x113x59xf16>, tensor<1x8x113xf32>
  return %o, %lse : tensor<1x8x113x59xf16>, tensor<1x8x113xf32>
}
