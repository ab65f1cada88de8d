// -attn-lower-to-cpu: attn.attention (tensors) all the way down to the LLVM
// dialect, with the work items on an OpenMP worksharing loop by default.
//
// RUN: attn-opt %s -attn-lower-to-cpu | FileCheck %s --enable-var-scope
// RUN: attn-opt %s -attn-lower-to-cpu | FileCheck %s --check-prefix=ONLY-LLVM
// RUN: attn-opt %s -attn-lower-to-cpu='num-threads=1' | FileCheck %s --check-prefix=SERIAL
// RUN: attn-opt %s -attn-lower-to-cpu='num-threads=1' | FileCheck %s --check-prefix=ONLY-LLVM
// RUN: attn-opt %s -attn-lower-to-cpu='q-tile=32 k-tile=32' | FileCheck %s --check-prefix=ONLY-LLVM

// Nothing but the llvm and omp dialects is left: none of the dialects that
// the pipeline goes through,
// ONLY-LLVM-NOT: attn.
// ONLY-LLVM-NOT: bufferization.
// ONLY-LLVM-NOT: scf.
// ONLY-LLVM-NOT: memref.
// ONLY-LLVM-NOT: vector.
// ONLY-LLVM-NOT: arith.
// ONLY-LLVM-NOT: math.
// ONLY-LLVM-NOT: cf.
// ONLY-LLVM-NOT: affine.
// ONLY-LLVM-NOT: func.
// ONLY-LLVM-NOT: unrealized_conversion_cast
// and no operation of any other dialect: an op name (at the start of a line,
// possibly after its results and a quote of the generic form) whose dialect
// prefix is neither `llvm` nor `omp`.
// ONLY-LLVM-NOT: {{^ *(%[^=]+= )?"?([a-km-np-z][a-z0-9_]*|l|l[a-km-z0-9_][a-z0-9_]*|ll|ll[a-uw-z0-9_][a-z0-9_]*|llv|llv[a-ln-z0-9_][a-z0-9_]*|llvm[a-z0-9_]+|o|o[a-ln-z0-9_][a-z0-9_]*|om|om[a-oq-z0-9_][a-z0-9_]*|omp[a-z0-9_]+)\.[a-z]}}

// Static GQA with a bottom-right causal mask: B = 2, Hq = 8, Hkv = 2,
// Sq = 100, Sk = 300, D = Dv = 64.
// CHECK-LABEL: llvm.func @gqa_causal_bottom_right(
// O and LSE are heap buffers returned to the caller.
// CHECK:         llvm.call @malloc(
// CHECK:         llvm.call @malloc(
// The (b, h, query tile) work items: one collapsed 3-D worksharing loop in a
// parallel region.
// CHECK:         omp.parallel {
// CHECK-NEXT:      omp.wsloop {
// CHECK-NEXT:        omp.loop_nest (%{{[^,]+}}, %{{[^,]+}}, %{{[^)]+}}) : i64 = ({{.*}}) to ({{.*}}) step ({{.*}}) collapse(3) {
// Each work item's state lives on the stack, freed at the end of the item.
// CHECK-NEXT:          llvm.intr.stacksave : !llvm.ptr
// CHECK:               llvm.alloca
// The register-blocked outer products on 16 lanes.
// CHECK:               llvm.intr.fmuladd({{.*}}) : (vector<16xf32>, vector<16xf32>, vector<16xf32>) -> vector<16xf32>
// The exp2 polynomial: 2^n from the exponent bits.
// CHECK:               llvm.shl {{.*}} : vector<16xi32>
// CHECK:               llvm.bitcast {{.*}} : vector<16xi32> to vector<16xf32>
// O is rounded once to f16.
// CHECK:               llvm.fptrunc {{.*}} : f32 to f16
// CHECK:               llvm.intr.stackrestore
// CHECK:               omp.yield
// CHECK:             omp.terminator
// CHECK:         llvm.return
// With num-threads=1 the same worksharing loop runs on one thread, still
// freeing each work item's stack allocations.
// SERIAL-LABEL:  llvm.func @gqa_causal_bottom_right(
// SERIAL:          %[[ONE:.+]] = llvm.mlir.constant(1 : i32) : i32
// SERIAL:          omp.parallel num_threads(%[[ONE]] : i32) {
// SERIAL:            llvm.intr.stacksave
// SERIAL:            llvm.alloca
// SERIAL:            llvm.intr.fmuladd({{.*}}) : (vector<16xf32>, vector<16xf32>, vector<16xf32>) -> vector<16xf32>
// SERIAL:            llvm.intr.stackrestore
// SERIAL:          llvm.return
func.func @gqa_causal_bottom_right(%q: tensor<2x8x100x64xf16>, %k: tensor<2x2x300x64xf16>, %v: tensor<2x2x300x64xf16>) -> (tensor<2x8x100x64xf16>, tensor<2x8x100xf32>) {
  %o, %lse = attn.attention %q, %k, %v {causal = #attn.causal<bottom_right>} : tensor<2x8x100x64xf16>, tensor<2x2x300x64xf16>, tensor<2x2x300x64xf16> -> tensor<2x8x100x64xf16>, tensor<2x8x100xf32>
  return %o, %lse : tensor<2x8x100x64xf16>, tensor<2x8x100xf32>
}

// Dynamic B, Sq and Sk with an i1 mask, a window and a soft-cap: the
// run-time shape checks become calls to puts + abort.
// CHECK-LABEL: llvm.func @dynamic_mqa_mask_window_softcap(
// CHECK:         omp.parallel {
// CHECK-NEXT:      omp.wsloop {
// CHECK-NEXT:        omp.loop_nest {{.*}} collapse(3) {
// The i1 mask is loaded element by element.
// CHECK:               llvm.load {{.*}} : !llvm.ptr -> i1
// CHECK:               omp.yield
// CHECK:         llvm.return
// CHECK:         llvm.call @puts(
// CHECK-NEXT:    llvm.call @abort()
// CHECK-NEXT:    llvm.unreachable
// SERIAL-LABEL:  llvm.func @dynamic_mqa_mask_window_softcap(
// SERIAL:          omp.parallel num_threads(%{{.+}} : i32) {
// SERIAL:            llvm.load {{.*}} : !llvm.ptr -> i1
// SERIAL:          llvm.return
// SERIAL:          llvm.call @abort()
func.func @dynamic_mqa_mask_window_softcap(%q: tensor<?x8x?x64xbf16>, %k: tensor<?x1x?x64xbf16>, %v: tensor<?x1x?x32xbf16>, %m: tensor<?x1x?x?xi1>) -> (tensor<?x8x?x32xbf16>, tensor<?x8x?xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(%m : tensor<?x1x?x?xi1>) {window = array<i64: 64, 0>, softcap = 30.0 : f64} : tensor<?x8x?x64xbf16>, tensor<?x1x?x64xbf16>, tensor<?x1x?x32xbf16> -> tensor<?x8x?x32xbf16>, tensor<?x8x?xf32>
  return %o, %lse : tensor<?x8x?x32xbf16>, tensor<?x8x?xf32>
}
