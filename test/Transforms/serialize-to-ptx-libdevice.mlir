// -attn-serialize-to-ptx with the toolkit's libdevice (linked because the
// kernels declare its functions): its __nvvm_reflect queries are answered
// for the target's chip, and its functions are inlined.
//
// REQUIRES: libdevice
// RUN: attn-opt %s -attn-serialize-to-ptx='toolkit=%cuda_toolkit' -attn-dump-ptx -o /dev/null | FileCheck %s

// __nv_fast_tanhf asks __CUDA_ARCH: on sm_80 (≥ 7.5) it is the single
// tanh.approx instruction, not the generic exp2-based path.
// CHECK:       .target sm_80
// CHECK-LABEL: .visible .entry fast_tanh(
// CHECK-NOT:   call
// CHECK-NOT:   ex2
// CHECK:       tanh.approx.f32
// CHECK-NOT:   ex2
// CHECK:       ret;
// libdevice's reflect strings and unused functions are dropped.
// CHECK-NOT:   __CUDA
// CHECK-NOT:   .func
module attributes {gpu.container_module} {
  gpu.module @kernels [#nvvm.target<chip = "sm_80", features = "+ptx80">] {
    llvm.func @__nv_fast_tanhf(f32) -> f32
    llvm.func @fast_tanh(%p: !llvm.ptr<1>) attributes {gpu.kernel, nvvm.kernel} {
      %x = llvm.load %p : !llvm.ptr<1> -> f32
      %y = llvm.call @__nv_fast_tanhf(%x) : (f32) -> f32
      llvm.store %y, %p : f32, !llvm.ptr<1>
      llvm.return
    }
  }
}
