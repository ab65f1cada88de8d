//===- GpuKernelConfig.cpp - the GPU kernel's tile table and smem plan ----===//

#include "attn/Transforms/GpuKernelConfig.h"

#include <algorithm>

using namespace mlir::attn::gpu_kernel;

namespace {
constexpr ChipInfo kChips[] = {{"sm_80", 166912, 3},
                               {"sm_86", 101376, 2},
                               {"sm_89", 101376, 2},
                               {"sm_90", 232448, 3},
                               {"sm_90a", 232448, 3}};
} // namespace

const ChipInfo *mlir::attn::gpu_kernel::lookupChip(llvm::StringRef name) {
  for (const ChipInfo &c : kChips)
    if (c.name == name)
      return &c;
  return nullptr;
}

std::string mlir::attn::gpu_kernel::knownChips() {
  std::string known;
  for (const ChipInfo &c : kChips)
    known += (known.empty() ? "" : ", ") + c.name.str();
  return known;
}

TileConfig mlir::attn::gpu_kernel::defaultTiles(const ChipInfo &chip,
                                                int64_t dp, int64_t dvp) {
  if (std::max(dp, dvp) <= 64)
    return {64, 64, chip.smallHeadStages};
  return {64, 32, 2};
}

SharedLayout::SharedLayout(int64_t elementBytes, int64_t dp, int64_t dvp,
                           const TileConfig &tiles) {
  queryInKeyRing = qFragmentsInRegisters(dp, tiles.blockM);
  keyCols = dp + kRowPad;
  valueCols = dvp + kRowPad;
  keyRingRows = tiles.stages * tiles.blockN;
  queryRow0 = (tiles.stages - 1) * tiles.blockN;
  if (queryInKeyRing)
    keyRingRows = std::max(keyRingRows, queryRow0 + tiles.blockM);
  valueRingRows = tiles.stages * tiles.blockN;
  valueOffset = keyRingRows * keyCols * elementBytes;
  int64_t end = valueOffset + valueRingRows * valueCols * elementBytes;
  queryOffset = queryInKeyRing ? queryRow0 * keyCols * elementBytes : end;
  totalBytes =
      queryInKeyRing ? end : end + tiles.blockM * keyCols * elementBytes;
}
