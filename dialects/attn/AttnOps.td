//===- AttnOps.td - attn dialect operations -----------------*- tablegen -*-===//

#ifndef ATTN_OPS_TD
#define ATTN_OPS_TD

include "AttnDialect.td"
include "AttnAttrs.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/OpBase.td"

//===----------------------------------------------------------------------===//
// attn.attention: the semantic op
//===----------------------------------------------------------------------===//

def Attn_AttentionOp : Attn_Op<"attention", [Pure]> {
  let summary = "Scaled dot-product attention with masks and head grouping";
  let description = [{
    Computes, for every batch b, query head h and query row i,

    ```
    s_ij  = scale · (Q[b,h,i,:] · K[b,g(h),j,:])       g(h) = h / (Hq / Hkv)
    s_ij  = softcap · tanh(s_ij / softcap)             if `softcap` is set
    s_ij  = s_ij + bias[b,h,i,j]                       if the mask is a float bias
    O[b,h,i,:]   = Σ_j softmax_j(s_i)_j · V[b,g(h),j,:]  over the kept keys j
    LSE[b,h,i]   = log Σ_j exp(s_ij)                     (natural log, f32)
    ```

    Operands and results (`B` batch, `Hq`/`Hkv` query/key-value heads,
    `Sq`/`Sk` query/key lengths, `D` the Q·K head dim, `Dv` the V head dim):

    | value  | shape               | element type                      |
    |--------|---------------------|-----------------------------------|
    | query  | `[B, Hq, Sq, D]`    | f32, f16 or bf16                  |
    | key    | `[B, Hkv, Sk, D]`   | same as query                     |
    | value  | `[B, Hkv, Sk, Dv]`  | same as query                     |
    | mask   | `[B|1, Hq|1, Sq|1, Sk|1]` | i1 (true = keep) or float (additive bias) |
    | output | `[B, Hq, Sq, Dv]`   | same as query                     |
    | lse    | `[B, Hq, Sq]`       | f32                               |

    Grouping is implied by the head counts: `Hq == Hkv` is multi-head
    attention, `Hkv == 1` multi-query, anything else grouped-query
    attention; `Hq` must be a multiple of `Hkv`. `D` and `Dv` may differ
    (MLA) and are at most 256. `B`, `Sq` and `Sk` may be dynamic (`?`); their
    agreement between operands is then checked at run time. Heads and head
    dims are static.

    Key j is kept for query i when every present mask keeps it:

    * `causal = #attn.causal<top_left>`: `j ≤ i`;
    * `causal = #attn.causal<bottom_right>`: `j ≤ i + Sk − Sq`;
    * `window = array<i64: L, R>` (FlashAttention's convention, relative to
      the bottom-right diagonal, `-1` = unbounded):
      `i + Sk − Sq − L ≤ j ≤ i + Sk − Sq + R`;
    * an `i1` mask operand: `mask[b,h,i,j]` (broadcast over size-1 dims);
    * a float mask operand adds its value; `-inf` removes the key.

    Attributes: `scale` (f64, > 0, default `1/sqrt(D)`), `causal`, `window`
    (two entries in [−1, 2³¹ − 1]), `softcap` (f64, > 0). The kernels fold
    `scale` (or `scale / softcap`) and `softcap` into f32 constants, which
    must be finite normal f32 numbers. Computation is in f32 whatever
    the storage type; the output is rounded once to the storage type. A query
    row with no kept key yields `O = 0` and `LSE = −inf` (never NaN); `Sk = 0`
    is such a case for every row.

    Example (grouped-query causal prefill, 8 query heads sharing 2 KV heads):

    ```mlir
    %o, %lse = attn.attention %q, %k, %v
        {causal = #attn.causal<bottom_right>, window = array<i64: 256, 0>}
        : tensor<1x8x1024x128xf16>, tensor<1x2x1024x128xf16>,
          tensor<1x2x1024x128xf16> -> tensor<1x8x1024x128xf16>, tensor<1x8x1024xf32>
    ```

    With an additive bias broadcast over batch and heads:

    ```mlir
    %o, %lse = attn.attention %q, %k, %v mask(%bias : tensor<1x1x7x9xf32>)
        : tensor<2x4x7x64xf32>, tensor<2x4x9x64xf32>, tensor<2x4x9x32xf32>
        -> tensor<2x4x7x32xf32>, tensor<2x4x7xf32>
    ```
  }];

  let arguments = (ins
    AnyRankedTensor:$query,
    AnyRankedTensor:$key,
    AnyRankedTensor:$value,
    Optional<AnyRankedTensor>:$mask,
    OptionalAttr<F64Attr>:$scale,
    OptionalAttr<Attn_CausalAttr>:$causal,
    OptionalAttr<DenseI64ArrayAttr>:$window,
    OptionalAttr<F64Attr>:$softcap
  );
  let results = (outs AnyRankedTensor:$output, AnyRankedTensor:$lse);

  let assemblyFormat = [{
    $query `,` $key `,` $value (`mask` `(` $mask^ `:` type($mask) `)`)?
    attr-dict `:` type($query) `,` type($key) `,` type($value)
    `->` type($output) `,` type($lse)
  }];

  let extraClassDeclaration = [{
    /// The softmax scale: the `scale` attribute, or 1/sqrt(D) when absent.
    double getEffectiveScale();
    /// Number of query heads that share one key/value head (Hq / Hkv).
    int64_t getGroupSize();
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// The tiled online-softmax form
//===----------------------------------------------------------------------===//

class Attn_TileOp<string mnemonic, list<Trait> traits = []>
    : Attn_Op<mnemonic, traits> {
  code commonTileDescription = [{
    The tile ops work on one work item: batch `b`, query head `h`, and the
    query tile of `BM` rows starting at `q_begin` (rows past `Sq` are
    padding that is computed but never stored). They share the state of
    FlashAttention-2's online softmax; scores are in natural units and
    `exp(x)` is computed as `exp2(x·log2(e))`:

    * `q_tile : memref<D x BM x f32>` — the query tile, transposed and
      pre-multiplied by `q_scale`;
    * `row_max : memref<BM x f32>` — `m`, the running row maximum of the
      scores;
    * `row_sum : memref<BM x f32>` — `l`, the running sum of
      `exp(s − m)`;
    * `acc : memref<Dv x BM x f32>` — the unnormalized output, transposed.

    Queries are the fastest-varying dimension of every state buffer, so a
    vector of queries is one contiguous load and row reductions are
    element-wise.

    In a GPU kernel (`-attn-map-to-gpu`) the tile ops are collective: every
    thread of the CTA executes them with the same operands, and the state
    buffers are per-work-item placeholders that `-attn-lower-tiles-to-mma`
    replaces by register fragments distributed over the warps. There the
    Q, K and V tiles may also be *staged*: `-attn-stage-shared-memory`
    copies them into workgroup memory ahead of use and names the copies as
    `staged` operands (rank-2 `[rows, ≥ D]` tiles: row `r` holds row
    `q_begin + r` or `k_begin + r` of Q, K or V, zero past the sequence
    end). A staged tile is only a copy, so a lowering may read either it or
    the global operand; the global operands still give the shapes (`Sq`,
    `Sk`, `D`).
  }];
}

def Attn_TileInitOp : Attn_TileOp<"tile_init", [
    AllTypesMatch<["row_max", "row_sum"]>]> {
  let summary = "Load one query tile and reset the online-softmax state";
  let description = commonTileDescription # [{

    Step 1 of the online softmax: `q_tile[d][r] = q_scale · Q[b, h,
    q_begin + r, d]` (0 for rows past `Sq`), `m = −inf`, `l = 0`,
    `acc = 0`.

    `q_scale` is `scale`, or `scale / softcap` when a soft-cap is applied by
    `attn.tile_update`.

    Example:

    ```mlir
    attn.tile_init %q[%b, %h, %q0] into %qt state(%m, %l, %acc)
        {q_scale = 0.125 : f64}
        : memref<1x8x?x64xf16>, memref<64x64xf32>, memref<64xf32>, memref<64x64xf32>
    // With the query tile staged in workgroup memory:
    attn.tile_init %q[%b, %h, %q0] staged(%qs : memref<64x72xf16, #gpu.address_space<workgroup>>)
        into %qt state(%m, %l, %acc) {q_scale = 0.125 : f64}
        : memref<?x8x?x64xf16>, memref<64x64xf32>, memref<64xf32>, memref<64x64xf32>
    ```
  }];
  let arguments = (ins
    Arg<AnyMemRef, "Q [B, Hq, Sq, D]", [MemRead]>:$query,
    Index:$batch, Index:$head, Index:$q_begin,
    Arg<Optional<AnyMemRef>, "staged query tile [BM, >= D]", [MemRead]>:$staged_query,
    Arg<MemRefRankOf<[F32], [2]>, "", [MemWrite]>:$q_tile,
    Arg<MemRefRankOf<[F32], [1]>, "", [MemWrite]>:$row_max,
    Arg<MemRefRankOf<[F32], [1]>, "", [MemWrite]>:$row_sum,
    Arg<MemRefRankOf<[F32], [2]>, "", [MemWrite]>:$acc,
    F64Attr:$q_scale
  );
  let assemblyFormat = [{
    $query `[` $batch `,` $head `,` $q_begin `]`
    (`staged` `(` $staged_query^ `:` type($staged_query) `)`)? `into` $q_tile
    `state` `(` $row_max `,` $row_sum `,` $acc `)` attr-dict `:`
    type($query) `,` type($q_tile) `,` type($row_max) `,` type($acc)
  }];
  let hasVerifier = 1;
}

def Attn_TileUpdateOp : Attn_TileOp<"tile_update", [
    AllTypesMatch<["row_max", "row_sum"]>, AttrSizedOperandSegments]> {
  let summary = "One key/value tile of FlashAttention-2's online softmax";
  let description = commonTileDescription # [{

    For the key tile `[k_begin, k_begin + BN)` of KV head `kv_head`
    (`BN` is the leading dim of the `scores` scratch buffer; `query_length`
    is Sq, which places the causal/window diagonal):

    1. `S[j][r] = Σ_d K[b, kv_head, k_begin + j, d] · q_tile[d][r]`;
    2. with `softcap = c`: `S = c · tanh(S)` (Q was pre-scaled by
       `scale / c`);
    3. masked tiles only (`masked` present): keys past `Sk` and keys that
       `causal`/`window` remove for row `q_begin + r` become `−inf`; the
       `mask` operand, if any, removes keys (i1) or adds its bias (float);
    4. `m' = max(m, rowmax(S))`;
    5. `P = exp2((S − m')·log2(e))`, `α = exp2((m − m')·log2(e))`,
       `l = α·l + rowsum(P)` (subtracting first keeps huge finite scores,
       e.g. from a `finfo.min` bias, exact);
    6. `acc = α·acc + Vᵀ·P`, `m = m'`.

    A mask operand requires `masked`.

    A row whose scores are all `−inf` keeps `m = −inf`; the update then uses
    0 in place of `m'` so that no `−inf − (−inf)` is ever formed.
    `-attn-tile` omits `masked` on tiles that the causal/window masks keep
    entirely and that lie inside `Sk`, so those tiles pay for no predicate.

    Example:

    ```mlir
    attn.tile_update %qt, %k, %v scratch %s state(%m, %l, %acc)
        at(%b, %h, %hkv, %q0, %k0) query_length %sq {causal = #attn.causal<bottom_right>, masked}
        : memref<64x64xf32>, memref<1x2x?x64xf16>, memref<1x2x?x64xf16>,
          memref<64x64xf32>, memref<64xf32>, memref<64x64xf32>
    // With the key and value tiles staged in workgroup memory:
    attn.tile_update %qt, %k, %v staged(%ks, %vs : memref<64x72xf16, #gpu.address_space<workgroup>>,
        memref<64x72xf16, #gpu.address_space<workgroup>>) scratch %s state(%m, %l, %acc)
        at(%b, %h, %hkv, %q0, %k0) query_length %sq {masked}
        : memref<64x64xf32>, memref<?x2x?x64xf16>, memref<?x2x?x64xf16>,
          memref<64x64xf32>, memref<64xf32>, memref<64x64xf32>
    ```
  }];
  let arguments = (ins
    Arg<MemRefRankOf<[F32], [2]>, "", [MemRead]>:$q_tile,
    Arg<AnyMemRef, "K [B, Hkv, Sk, D]", [MemRead]>:$key,
    Arg<AnyMemRef, "V [B, Hkv, Sk, Dv]", [MemRead]>:$value,
    Arg<Optional<AnyMemRef>, "mask", [MemRead]>:$mask,
    Arg<Optional<AnyMemRef>, "staged key tile [BN, >= D]", [MemRead]>:$staged_key,
    Arg<Optional<AnyMemRef>, "staged value tile [BN, >= Dv]", [MemRead]>:$staged_value,
    Arg<MemRefRankOf<[F32], [2]>, "", [MemRead, MemWrite]>:$scores,
    Arg<MemRefRankOf<[F32], [1]>, "", [MemRead, MemWrite]>:$row_max,
    Arg<MemRefRankOf<[F32], [1]>, "", [MemRead, MemWrite]>:$row_sum,
    Arg<MemRefRankOf<[F32], [2]>, "", [MemRead, MemWrite]>:$acc,
    Index:$batch, Index:$head, Index:$kv_head, Index:$q_begin, Index:$k_begin,
    Index:$query_length,
    OptionalAttr<Attn_CausalAttr>:$causal,
    OptionalAttr<DenseI64ArrayAttr>:$window,
    OptionalAttr<F64Attr>:$softcap,
    UnitAttr:$masked
  );
  let assemblyFormat = [{
    $q_tile `,` $key `,` $value (`mask` `(` $mask^ `:` type($mask) `)`)?
    (`staged` `(` $staged_key^ `,` $staged_value `:` type($staged_key) `,`
      type($staged_value) `)`)?
    `scratch` $scores `state` `(` $row_max `,` $row_sum `,` $acc `)`
    `at` `(` $batch `,` $head `,` $kv_head `,` $q_begin `,` $k_begin `)`
    `query_length` $query_length attr-dict `:` type($q_tile) `,` type($key) `,` type($value) `,`
    type($scores) `,` type($row_max) `,` type($acc)
  }];
  let hasVerifier = 1;
}

def Attn_TileFinalizeOp : Attn_TileOp<"tile_finalize", [
    AllTypesMatch<["row_max", "row_sum"]>]> {
  let summary = "Normalize one query tile and store O and LSE";
  let description = commonTileDescription # [{

    For every row `r` of the tile that lies inside `Sq`:
    `O[b, h, q_begin + r, :] = l > 0 ? acc[:, r] / l : 0` rounded once to
    O's element type, and `LSE[b, h, q_begin + r] = l > 0 ? m + ln(l) :
    −inf` (natural log).

    Example:

    ```mlir
    attn.tile_finalize state(%m, %l, %acc) into %o, %lse at(%b, %h, %q0)
        : memref<64xf32>, memref<64x64xf32>, memref<1x8x?x64xf16>, memref<1x8x?xf32>
    ```
  }];
  let arguments = (ins
    Arg<MemRefRankOf<[F32], [1]>, "", [MemRead]>:$row_max,
    Arg<MemRefRankOf<[F32], [1]>, "", [MemRead]>:$row_sum,
    Arg<MemRefRankOf<[F32], [2]>, "", [MemRead]>:$acc,
    Arg<AnyMemRef, "O [B, Hq, Sq, Dv]", [MemWrite]>:$output,
    Arg<AnyMemRef, "LSE [B, Hq, Sq]", [MemWrite]>:$lse,
    Index:$batch, Index:$head, Index:$q_begin
  );
  let assemblyFormat = [{
    `state` `(` $row_max `,` $row_sum `,` $acc `)` `into` $output `,` $lse
    `at` `(` $batch `,` $head `,` $q_begin `)` attr-dict `:`
    type($row_max) `,` type($acc) `,` type($output) `,` type($lse)
  }];
  let hasVerifier = 1;
}

#endif // ATTN_OPS_TD
