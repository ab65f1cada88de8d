//===- TiledForm.h - one work item of the tiled online softmax -*- C++ -*-===//
//
// The body of one work item (batch, query head, query tile) of
// FlashAttention-2's tiled online softmax, built once for both backends:
// -attn-tile wraps it in an scf.forall (CPU), -attn-map-to-gpu in a CTA of
// a gpu.func.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_TRANSFORMS_TILEDFORM_H
#define ATTN_TRANSFORMS_TILEDFORM_H

#include "attn/Dialect/Masks.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::attn {

/// The memrefs one attention reads and writes, with its lengths.
struct TiledOperands {
  Value query, key, value, mask; // mask may be null
  Value output, lse;
  Value queryLength, keyLength; // Sq, Sk (index)
};

/// The state buffers of one work item (see the tile ops): the Q tile
/// [D, BM], m and l [BM], acc [Dv, BM] and the score scratch [BN, BM].
struct TileState {
  Value qTile, rowMax, rowSum, acc, scores;
};

/// Emits, at `b`'s insertion point, the online softmax of the work item
/// (`batch`, `head`, query tile `queryTile` of BM rows) of `op`:
///
///   [kLo, kHi) = the key tiles of the causal/window band for its rows
///   attn.tile_init
///   scf.for kt in [kLo, kHi) { attn.tile_update at k_begin = kt·BN }
///   attn.tile_finalize
///
/// With `versionFullTiles`, a tile that the band keeps entirely and that
/// lies inside Sk is updated without `masked` (an scf.if on that test picks
/// one of two updates: code versioning, for the CPU); otherwise every update
/// is `masked` and its lowering may test the same at run time. BM and BN
/// are the state's shapes.
void buildTiledWorkItem(ImplicitLocOpBuilder &b, AttentionOp op,
                        const TiledOperands &operands, const KeyBand &band,
                        Value batch, Value head, Value queryTile,
                        const TileState &state, bool versionFullTiles);

/// The tiled form inside one GPU kernel (-attn-map-to-gpu): one
/// attn.tile_init, then an scf.for over key tiles (no results) whose body
/// holds the one attn.tile_update, then one attn.tile_finalize, in one
/// block and sharing one state.
struct TiledKernel {
  TileInitOp init;
  scf::ForOp loop;
  TileUpdateOp update;
  TileFinalizeOp finalize;
};

/// The tiled form of `kernel`; a null `init` when it has no tile ops;
/// failure (reported) when they are not in that form.
FailureOr<TiledKernel> matchTiledKernel(gpu::GPUFuncOp kernel);

/// Whether every tile of `tileRows` rows of `tensor` (a [B, H, S, D]
/// memref) that starts at `row0` < S is full: S is a static multiple of
/// tileRows and row0 = x · c with c a multiple of tileRows. Code that then
/// drops its row tests relies on -attn-map-to-gpu's bounds: query tiles
/// below ceil(Sq / BM) (the grid), key tiles below the band's kHi
/// ≤ ceil(Sk / BN).
bool isFullTile(Value tensor, Value row0, int64_t tileRows);

/// `body` at `b`'s insertion point under `cond` (an scf.if without results).
void buildIfThen(ImplicitLocOpBuilder &b, Value cond,
                 llvm::function_ref<void()> body);

} // namespace mlir::attn

#endif // ATTN_TRANSFORMS_TILEDFORM_H
