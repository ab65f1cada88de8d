//===- Passes.td - attn transformation passes ---------------*- tablegen -*-===//

#ifndef ATTN_TRANSFORMS_PASSES_TD
#define ATTN_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def AttnConvertKernelsToNvvm : Pass<"attn-convert-kernels-to-nvvm",
                                    "::mlir::gpu::GPUModuleOp"> {
  let summary = "Convert attn's GPU kernels to the LLVM and NVVM dialects in one conversion";
  let description = [{
    Does to the kernels of `-attn-lower-tiles-to-mma` what
    `-convert-nvgpu-to-nvvm`, `-convert-scf-to-cf`, `-convert-gpu-to-nvvm`
    and `-convert-nvvm-to-llvm` do in sequence, with the same upstream
    patterns in one dialect conversion (one walk of the unrolled kernel
    instead of five, the first a greedy rewrite of all of it). For the ops
    attn's kernels contain, the result is the four passes'. NVVM ops stay,
    except those written as inline PTX; `gpu.module` stays for
    `-attn-serialize-to-ptx`. An op the patterns do not cover (ops of other
    dialects, and what `-convert-gpu-to-nvvm`'s greedy rewrite handles:
    `gpu.global_id`, 64-bit shuffles, n-D `vector.from_elements`) is an
    error. Unrealized casts are left for `-reconcile-unrealized-casts`.

    ```mlir
    gpu.func @k(%m: memref<?xf32>) kernel {
      %t = gpu.thread_id x
      %c0 = arith.constant 0.0 : f32
      memref.store %c0, %m[%t] : memref<?xf32>
      gpu.return
    }
    // -attn-convert-kernels-to-nvvm →
    llvm.func @k(%p0: !llvm.ptr, %p1: !llvm.ptr, %o: i64, %s: i64, %st: i64)
        attributes {gpu.kernel, nvvm.kernel} {
      %t = nvvm.read.ptx.sreg.tid.x : i32
      ...
      llvm.store %c0, %gep : f32, !llvm.ptr
      llvm.return
    }
    ```
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect",
                           "::mlir::NVVM::NVVMDialect",
                           "::mlir::cf::ControlFlowDialect"];
}

def AttnDumpPtx : Pass<"attn-dump-ptx", "::mlir::ModuleOp"> {
  let summary = "Print the PTX of every gpu.binary (format=isa) to stdout";
  let description = [{
    Prints the assembly of each object of each `gpu.binary` in the module,
    preceded by a `// attn-dump-ptx: @<binary> <target>` line, so that
    `attn-opt x.mlir -attn-lower-to-ptx='chip=sm_80' -attn-dump-ptx` shows the
    PTX the compiler emits. The module is left unchanged.
  }];
}

def AttnLowerTilesToMma : Pass<"attn-lower-tiles-to-mma", "::mlir::ModuleOp"> {
  let summary = "Lower staged tile ops in GPU kernels to tensor-core warp code";
  let description = [{
    In each kernel of `-attn-map-to-gpu` whose tiles
    `-attn-stage-shared-memory` has staged, lowers the tile ops to
    FlashAttention-2's warp-level code for sm_80-class tensor cores and
    replaces their memref state by registers carried through the key loop.
    Warp w owns query rows `BM/4·w + [0, BM/4)`: one (BM = 64) or two
    (BM = 128) 16-row MMA tiles.

    * `attn.tile_init`: Q fragments by `ldmatrix.x4` from the staged Q
      tile, kept in registers while they take at most 32 registers a thread
      (else reloaded from the staged tile per key tile); m = −inf, l = 0,
      O = 0.
    * `attn.tile_update`: `S = Q·Kᵀ` with `mma.sync.m16n8k16` (f16 or bf16,
      f32 accumulation; K fragments by `ldmatrix.x2`, each shared by the
      warp's m-tiles); scale and soft-cap; the mask operand (i1 keep or
      additive bias) on every tile; for `masked` updates the band and
      Sk-tail predicates (no tail when Sk is a static multiple of the key
      tile), only when a CTA-uniform run-time test finds the tile cut by
      them; the online softmax on the accumulator fragments
      (row max and sum over each quad with `shfl.xor` 1 and 2, `exp2` as
      `ex2.approx.ftz`; scores and maxima in log2 units, log2(e) folded into
      the scale, unless the mask operand is an additive bias, whose
      `finfo.min` padding would overflow); `O = α·O + P·V` with P's
      accumulators repacked as A fragments (P stays in registers) and V
      fragments by `ldmatrix.x2.trans`.
    * `attn.tile_finalize`: `O · (1 / l)` (`rcp.approx`: l ≥ 1 once a key
      is kept) and `LSE = m + ln l` (`(m + log2 l)·ln 2` in log2 units),
      each row's stores under one branch on the row being inside Sq, a
      column test only on an 8-column tile that reaches past Dv (O as
      32-bit pairs when Dv is even); rows without any kept key get O = 0
      and LSE = −inf.

    Head dims are padded to 16 internally (zero-filled staged columns);
    query tiles of 64 or 128 rows and key tiles of a multiple of 16 up to
    128 keys are accepted.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::gpu::GPUDialect",
    "::mlir::LLVM::LLVMDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect", "::mlir::NVVM::NVVMDialect",
    "::mlir::nvgpu::NVGPUDialect", "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect"
  ];
}

def AttnLowerTilesToVector : Pass<"attn-lower-tiles-to-vector"> {
  let summary = "Lower the attn.tile_* ops to scf/vector/memref code for the CPU";
  let description = [{
    Expands each tile op of the tiled online-softmax form into explicit
    loops over `vector<Wxf32>` registers (W = `vector-width`, 16 fills an
    AVX-512 register):

    * `attn.tile_init` packs the query tile transposed and pre-scaled;
    * `attn.tile_update` computes `Sᵀ = K·Q_tile` and `acc += Vᵀ·P` as
      register-blocked outer products (broadcast one K/V element, multiply a
      vector of queries): f32 K/V tiles are read in place, f16/bf16 tiles
      are first converted once into f32 staging buffers; the online softmax
      runs on rows of `Sᵀ`, where every row reduction is an element-wise
      max/add across vectors;
    * `attn.tile_finalize` divides by `l`, rounds to the storage type and
      writes O and LSE; bf16 is rounded in integer code (to nearest even),
      as hosts without native bf16 conversions would call `__truncsfbf2`,
      which the JIT cannot resolve.

    Element masks (causal/window/tail predicates and the mask operand) are
    only emitted for tile updates marked `masked`. The tanh and log the pass
    emits are expanded into polynomials (other math ops are left alone).
    A work item whose stack scratch (the tile pass's buffers plus the
    staging) exceeds 2 MiB is rejected: work items run on OpenMP threads.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect"
  ];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"16",
           "f32 lanes per vector register; the query tile must be a multiple">
  ];
}

def AttnMapToGpu : Pass<"attn-map-to-gpu", "::mlir::ModuleOp"> {
  let summary = "Map attn.attention functions onto GPU kernels running the tiled online softmax";
  let description = [{
    Replaces every function that computes one `attn.attention` by a
    `gpu.func` kernel (same name) in `gpu.module @attn_kernels` whose CTA
    runs one work item of the tiled online-softmax form (the same
    `attn.tile_init` / key loop of `attn.tile_update` / `attn.tile_finalize`
    as `-attn-tile` builds for the CPU): grid `(ceil(Sq/block-m), Hq, B)`,
    block `(x, y, z)` = (query tile, query head, batch), 128 threads (4
    warps) executing the tile ops collectively, the key loop over the
    causal/window band's key tiles inside the CTA, and GQA by index (query
    head h reads KV head `h / (Hq / Hkv)`, no K/V copies). Every update is
    `masked`: its lowering tests at run time whether the band or Sk cuts
    the tile. The state buffers are placeholders for the register fragments
    of `-attn-lower-tiles-to-mma`.

    Kernel ABI: `(Q, K, V, [mask], O, LSE: !llvm.ptr, Sq, Sk: i64)` on dense
    `[B, H, S, D]` buffers (LSE f32; the mask dense in its own broadcast
    shape, one byte 0/1 per element for i1; a dynamic mask dim is taken to be
    the full size); each pointer is viewed as a memref with B = the grid's z
    size. A size the op's types fix (B, Sq, Sk) is a constant of the kernel
    and of its memref types, the `Sq`/`Sk` argument then unused (callers
    pass it equal): LLVM folds the tail tests of tiles that are full, e.g.
    `-attn-stage-shared-memory` copies them without row tests. The kernel
    records its plan as attributes:
    `attn.query_tile_rows` (the grid's x divisor), `attn.key_tile_cols`,
    `attn.stages` and `attn.dynamic_shared_memory` (the bytes of the
    shared-memory layout `-attn-stage-shared-memory` builds).

    Tile sizes default from a per-chip table (64 query rows; 64-key tiles,
    32 when D or Dv > 128; 3 stages for D ≤ 64 on sm_80/sm_90, else 2); a
    configuration that needs more shared memory than the chip gives one CTA
    is an error. Operands must be f16 or bf16 (tensor cores).
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::gpu::GPUDialect",
    "::mlir::LLVM::LLVMDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect"
  ];
  let options = [
    Option<"chip", "chip", "std::string", /*default=*/"\"sm_80\"",
           "target GPU (sm_80, sm_86, sm_89, sm_90, sm_90a): the tile table "
           "and the shared-memory limit">,
    Option<"blockM", "block-m", "int64_t", /*default=*/"0",
           "query rows per CTA: 64 or 128 (16 or 32 rows per warp, the K/V "
           "fragments shared by both halves) (0 = the chip's table)">,
    Option<"blockN", "block-n", "int64_t", /*default=*/"0",
           "keys per tile, a multiple of 16 up to 128 (0 = the chip's table)">,
    Option<"stages", "stages", "int64_t", /*default=*/"0",
           "K/V shared-memory buffers in the cp.async ring, 1 to 4 (0 = the "
           "chip's table)">
  ];
}

def AttnSerializeToPtx : Pass<"attn-serialize-to-ptx", "::mlir::ModuleOp"> {
  let summary = "Serialize NVVM gpu.modules to PTX with attn's LLVM pipeline";
  let description = [{
    Replaces every `gpu.module` with `#nvvm.target`s (kernels in the LLVM
    and NVVM dialects) by a `gpu.binary` holding their PTX, like
    `gpu-module-to-binary{format=isa}` and through the NVVM target's own
    serializer (translation, linking of the target's `link` libraries, NVPTX
    code generation), with one difference: at `O` ≥ 1 LLVM runs a short
    pipeline of the passes these kernels need instead of its O2 (libdevice's
    reflect queries and inlining, thread-id ranges, instcombine/early-cse/
    simplifycfg, correlated propagation, LICM, loop canonicalization and full
    unrolling of constant-trip loops). The kernels arrive unrolled from attn's
    passes; on 1024 of them the key loops keep every memory, MMA and float
    instruction of O2's, ptxas emits 5% fewer instructions, and the
    optimization takes half the time (it was the largest share of spec →
    PTX). The target's pipeline-start passes run first, as at O2 (nvvm-reflect
    answers libdevice's queries for the target's chip). The target's
    libraries are linked only when the module declares a function or
    variable it does not define. NVPTX's code generation runs without its
    straight-line strength reduction (`slsr`) and n-ary reassociation
    passes: on these kernels they cost 12–13% of spec → PTX at D = 128 and
    leave the PTX unchanged for D = 64, 128 and 256. LLVM's
    `-opt-bisect-limit=-1` lists the code generation passes that run.

    ```mlir
    gpu.module @attn_kernels [#nvvm.target<chip = "sm_80", features = "+ptx80">] {
      llvm.func @k() attributes {gpu.kernel, nvvm.kernel} { llvm.return }
    }
    // -attn-serialize-to-ptx →
    gpu.binary @attn_kernels  [#gpu.object<#nvvm.target<...>, assembly = "...">]
    ```
  }];
  let options = [
    Option<"toolkit", "toolkit", "std::string", /*default=*/"\"\"",
           "CUDA toolkit directory (libdevice when a target links it by name)">
  ];
}

def AttnStageSharedMemory : Pass<"attn-stage-shared-memory", "::mlir::ModuleOp"> {
  let summary = "Stage the Q/K/V tiles of GPU kernels through a cp.async ring in shared memory";
  let description = [{
    In each kernel of `-attn-map-to-gpu` (one carrying `attn.stages`),
    copies the tiles the tile ops read from global into shared memory ahead
    of use and gives them to the ops as `staged` operands:

    1. before `attn.tile_init`: the Q tile (one `cp.async` group), then the
       first `stages − 1` key tiles of the band (K and V, one group per
       tile), `cp.async.wait_group(stages − 1)` (the Q group is then done)
       and a barrier;
    2. in the key loop, iteration kt: tile `kt + stages − 1` into the stage
       iteration `kt − 1` released (one group per iteration, empty past the
       band), `wait_group(stages − 1)` and a barrier, the update reads stage
       `(kt − kLo) mod stages`, and a barrier after it (that stage is refilled
       by a later iteration).

    Copies are 16-byte `cp.async.cg` (L2 only: each tile is read once per
    CTA) with zero fill outside the tile (rows past Sq/Sk, columns past the
    head dim up to its multiple of 16); rows whose length is not a multiple
    of 8 elements (e.g. D = 59) are copied element by element. When the
    tile's 16-byte chunks split evenly among the 128 threads (D = 64, 128,
    256), the copies are unrolled: each thread copies one chunk column of
    rows `tid / chunks + j·(128 / chunks)` at a constant offset from the
    thread's first element, each guarded by a compare with a constant, and
    K and V rows alternate when they have one width; otherwise they are a
    loop over `tid, tid + 128, …`. Tiles that are always full (a static
    length that is a multiple of the tile, e.g. Sk = 1024 with 64-key
    tiles) are copied without row tests: this relies on
    `-attn-map-to-gpu`'s bounds (query tiles below the grid's
    `ceil(Sq / block-m)`, key tiles below the band's end, at most
    `ceil(Sk / block-n)`). The stage index is
    computed in 32 bits. Shared rows
    are padded by 8 halves so that `ldmatrix` is free of bank conflicts. The
    Q tile lives in the K ring's last stage when its fragments then move to
    registers (a barrier after `attn.tile_init` releases it), otherwise in
    its own tile. The layout must add up to the kernel's
    `attn.dynamic_shared_memory`.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::gpu::GPUDialect",
    "::mlir::memref::MemRefDialect", "::mlir::NVVM::NVVMDialect",
    "::mlir::nvgpu::NVGPUDialect", "::mlir::scf::SCFDialect"
  ];
}

def AttnTile : Pass<"attn-tile"> {
  let summary = "Tile attn.attention into FlashAttention-2's online-softmax form";
  let description = [{
    Rewrites every `attn.attention` into a parallel grid of work items
    `scf.forall (b, h, query tile)` whose body runs the online softmax over
    key tiles with `attn.tile_init`, `attn.tile_update` and
    `attn.tile_finalize`:

    1. the causal/window band gives each query tile the key-tile range
       `[kLo, kHi)` outside of which every key is masked, so those tiles are
       never visited;
    2. inside the range, tiles that the band keeps entirely and that lie
       inside `Sk` are updated without an element predicate; the others
       (diagonal and tail tiles, and every tile when there is a mask
       operand) are updated with `masked`;
    3. query head `h` reads KV head `h / (Hq / Hkv)` (no K/V copies for
       GQA/MQA).

    Tensor operands are accessed through `bufferization.to_buffer`; O and LSE
    are fresh buffers returned through `bufferization.to_tensor`, so the
    function is ready for one-shot bufferization. When `B`, `Sq` or `Sk` are
    dynamic, run-time assertions check that the operands agree.

    The query tile shrinks to the query length (rounded up to the vector
    width) when that is static and smaller, so decoding (`Sq = 1`) does not
    pay for a full tile, and the key tile to a static key length. Both tile
    options must be at most 4096.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::cf::ControlFlowDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect"
  ];
  let options = [
    Option<"qTile", "q-tile", "int64_t", /*default=*/"64",
           "query rows per work item (BM)">,
    Option<"kTile", "k-tile", "int64_t", /*default=*/"64",
           "keys per online-softmax step (BN)">,
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"16",
           "granularity the query tile is rounded to">
  ];
}

#endif // ATTN_TRANSFORMS_PASSES_TD
