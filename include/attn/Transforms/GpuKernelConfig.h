//===- GpuKernelConfig.h - the GPU kernel shape its passes share -*- C++ -*-===//
//
// What -attn-map-to-gpu, -attn-stage-shared-memory and
// -attn-lower-tiles-to-mma must agree on: the CTA (4 warps, one or two
// 16-row MMA tiles per warp), the per-chip tile table, whether the Q
// fragments live in registers, and the shared-memory plan (padded rows, the
// K and V rings, where the Q tile is staged).
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_TRANSFORMS_GPUKERNELCONFIG_H
#define ATTN_TRANSFORMS_GPUKERNELCONFIG_H

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>

namespace mlir::attn::gpu_kernel {

/// 4 warps per CTA; warp w owns the query rows [BM/4·w, BM/4·(w + 1)) of
/// the tile, one (BM = 64) or two (BM = 128) 16-row MMA tiles.
constexpr int64_t kWarps = 4;
constexpr int64_t kThreads = 32 * kWarps;

/// Shared-memory rows are padded by 8 halves (16 bytes): with a row stride
/// that is an odd number of 16-byte chunks modulo 8, the 8 row addresses of
/// one ldmatrix phase fall into 8 different bank groups (no conflicts), and
/// every row still starts 16-byte aligned as ldmatrix requires. An XOR
/// swizzle (chunk c of row r at c ^ (r mod 8)) is conflict-free without the
/// 6–12% of padding, but its per-lane addresses are loop-invariant and not
/// affine, so LLVM hoists one register per distinct ldmatrix address out of
/// the key loop: measured +32 registers at D = 64, +77 at D = 128 (sm_80,
/// whole-program ptxas). Padding keeps every address base + immediate.
constexpr int64_t kRowPad = 8;

inline int64_t roundUp(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

/// What the kernel shape depends on per chip: the opt-in shared-memory limit
/// of one CTA and the pipeline depth for head dims ≤ 64 (deeper rings pay
/// off where a tile is cheap to compute and shared memory is plentiful).
struct ChipInfo {
  llvm::StringLiteral name;
  int64_t maxSharedBytes;
  int64_t smallHeadStages;
};

/// The chip named `name`, or null.
const ChipInfo *lookupChip(llvm::StringRef name);
/// "sm_80, sm_86, ..." for error messages.
std::string knownChips();

/// Query rows per CTA, keys per tile and cp.async ring depth.
struct TileConfig {
  int64_t blockM, blockN, stages;
};

/// The tile table for `chip` and the head dims padded to 16 (`dp`, `dvp`):
/// 64 query rows; 64-key tiles with the chip's ring depth while D and Dv
/// are ≤ 64, else 32-key tiles and 2 stages. Measured at D = 128 (f16,
/// sm_80 and sm_90a, whole-program ptxas) against 64-key tiles: the
/// unrolled key loop has 64 MMAs per warp instead of 128, ptxas takes a
/// third less time (spec → cubin ~180 → ~130 ms on a 2-core VM), 158–163
/// registers instead of 167–176 and 42.5 KB of shared memory instead of
/// 68 KB: 3 CTAs per SM on both chips instead of 2 (sm_80: shared memory;
/// sm_90 causal: registers). The K/V traffic per MMA is the same; the
/// online softmax rescales O once per 32 keys instead of 64. Neither tile
/// has been timed on a GPU yet: scripts/gpu-pack.sh's tune/ set has both.
TileConfig defaultTiles(const ChipInfo &chip, int64_t dp, int64_t dvp);

/// Q fragments stay in registers while a warp's take at most 32 registers
/// per thread (D ≤ 128 with one m-tile, D ≤ 64 with two); beyond that they
/// would not fit next to the O accumulators, so Q keeps its own
/// shared-memory tile and its fragments are reloaded per key tile.
inline bool qFragmentsInRegisters(int64_t dp, int64_t blockM) {
  return dp * (blockM / (16 * kWarps)) <= 128;
}

/// The dynamic shared memory of one CTA: a `stages`-deep ring of K tiles
/// (rows padded to dp + kRowPad elements), then the ring of V tiles. The Q
/// tile is staged once: in the last stage of the K ring when its fragments
/// then move to registers (that stage is not in use before the key loop;
/// the ring is lengthened to BM rows there if needed), otherwise in its own
/// tile after the V ring.
struct SharedLayout {
  SharedLayout(int64_t elementBytes, int64_t dp, int64_t dvp,
               const TileConfig &tiles);
  int64_t keyRingRows, keyCols, valueRingRows, valueCols;
  int64_t valueOffset, queryOffset, queryRow0; // bytes; rows in the K ring
  bool queryInKeyRing;
  int64_t totalBytes;
};

} // namespace mlir::attn::gpu_kernel

#endif // ATTN_TRANSFORMS_GPUKERNELCONFIG_H
