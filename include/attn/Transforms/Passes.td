//===- Passes.td - attn transformation passes ---------------*- tablegen -*-===//

#ifndef ATTN_TRANSFORMS_PASSES_TD
#define ATTN_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def AttnDumpPtx : Pass<"attn-dump-ptx", "::mlir::ModuleOp"> {
  let summary = "Print the PTX of every gpu.binary (format=isa) to stdout";
  let description = [{
    Prints the assembly of each object of each `gpu.binary` in the module,
    preceded by a `// attn-dump-ptx: @<binary> <target>` line, so that
    `attn-opt x.mlir -attn-lower-to-ptx='chip=sm_80' -attn-dump-ptx` shows the
    PTX the compiler emits. The module is left unchanged.
  }];
}

def AttnEmitGpuKernel : Pass<"attn-emit-gpu-kernel", "::mlir::ModuleOp"> {
  let summary = "Emit each attn.attention function as a tensor-core GPU kernel";
  let description = [{
    Replaces every function that computes one `attn.attention` by a
    `gpu.func` kernel (same name) in `gpu.module @attn_kernels`, written as
    FlashAttention-2's forward pass for sm_80-class tensor cores: a CTA of
    4 warps per (query tile of `block-m` = 64 or 128 rows, head, batch),
    each warp owning one or two 16-row MMA tiles; Q fragments loaded once
    with `ldmatrix` (kept in registers while they take at most 32 registers
    a thread), K/V tiles streamed
    through a `stages`-deep ring of shared-memory buffers filled by 16-byte
    `cp.async` copies (the next tiles are in flight while one is computed),
    `S = Q·Kᵀ` and `O += P·V` with `mma.sync.m16n8k16` (f16 or bf16, f32
    accumulation; P stays in registers), the online softmax on the
    accumulator fragments with quad shuffles, and only the key tiles of the
    causal/window band (the KeyBand of the CPU tiling). Scale, soft-cap and
    the mask operand (i1 keep mask or additive bias) apply to every tile;
    the band and Sk-tail predicates only to tiles they cut.

    Kernel ABI: `(Q, K, V, [mask], O, LSE: !llvm.ptr, Sq, Sk: i64)` on dense
    `[B, H, S, D]` buffers (LSE f32; the mask dense in its own broadcast
    shape, one byte 0/1 per element for i1; a dynamic mask dim is taken to be
    the full size), grid `(ceil(Sq/block-m), Hq, B)`,
    128 threads, dynamic shared memory `attn.dynamic_shared_memory` bytes.
    The kernel also carries `attn.query_tile_rows` (the grid's x divisor),
    `attn.key_tile_cols` and `attn.stages`.

    Tile sizes default from a per-chip table (64 query rows; 64-key tiles,
    32 when D or Dv > 128; 3 stages for D ≤ 64 on sm_80/sm_90, else 2) that
    the GPU benchmarks are to tune; a configuration
    that needs more shared memory than the chip gives one CTA is an error.
    Shared-memory rows are padded by 8 halves (conflict-free `ldmatrix`).
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::gpu::GPUDialect",
    "::mlir::LLVM::LLVMDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect", "::mlir::NVVM::NVVMDialect",
    "::mlir::nvgpu::NVGPUDialect", "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect"
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
      writes O and LSE.

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
