//===- KernelMatrixTest.cpp - every kernel the compiler emits assembles ---===//
//
// Compiles a matrix of attention kernels with attn-lower-to-ptx and
// assembles each PTX as the JIT does (assemblePtx): any assembler error
// or register spill fails the test. The matrix: f16 and bf16 × head dims 64,
// 96, 128, 256 and 59 (padded) × GQA 8/2 × masks (none, bottom-right causal,
// sliding window, an i1 keep mask broadcast over heads, an f32 bias with a
// soft-cap) × sm_80 and sm_90a, each with the chip's default tiles.
//
//===----------------------------------------------------------------------===//

#include "attn/InitAll.h"
#include "attn/Pipelines/Pipelines.h"
#include "attn/Target/Cuda/PtxAssembler.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FormatVariadic.h"

#include "gtest/gtest.h"

#include <tuple>

using namespace mlir;

namespace {

constexpr const char *kTypes[] = {"f16", "bf16"};
constexpr int64_t kHeadDims[] = {64, 96, 128, 256, 59};
constexpr const char *kMasks[] = {"none", "causal", "window", "keep",
                                  "bias_softcap"};
constexpr const char *kChips[] = {"sm_80", "sm_90a"};

using Config = std::tuple<const char *, int64_t, const char *, const char *>;

std::string attentionSource(llvm::StringRef type, int64_t d,
                            llvm::StringRef mask) {
  std::string attrs, maskOperand, maskArg;
  if (mask == "causal")
    attrs = "{causal = #attn.causal<bottom_right>}";
  if (mask == "window")
    attrs =
        "{causal = #attn.causal<bottom_right>, window = array<i64: 256, 0>}";
  if (mask == "keep" || mask == "bias_softcap") {
    std::string maskType =
        mask == "keep" ? "tensor<?x1x?x?xi1>" : "tensor<?x8x?x?xf32>";
    maskArg = ", %m: " + maskType;
    maskOperand = " mask(%m : " + maskType + ")";
    if (mask == "bias_softcap")
      attrs = "{softcap = 30.0}";
  }
  return llvm::formatv(
      "func.func @attn(%q: tensor<?x8x?x{0}x{1}>, %k: tensor<?x2x?x{0}x{1}>, "
      "%v: tensor<?x2x?x{0}x{1}>{3}) -> (tensor<?x8x?x{0}x{1}>, "
      "tensor<?x8x?xf32>) {{\n"
      "  %o, %lse = attn.attention %q, %k, %v{4} {2} : "
      "tensor<?x8x?x{0}x{1}>, tensor<?x2x?x{0}x{1}>, tensor<?x2x?x{0}x{1}> "
      "-> tensor<?x8x?x{0}x{1}>, tensor<?x8x?xf32>\n"
      "  return %o, %lse : tensor<?x8x?x{0}x{1}>, tensor<?x8x?xf32>\n}\n",
      d, type, attrs, maskArg, maskOperand);
}

class KernelMatrix : public ::testing::TestWithParam<Config> {};

TEST_P(KernelMatrix, AssemblesWithoutSpills) {
  auto [type, d, mask, chip] = GetParam();
  DialectRegistry registry;
  mlir::attn::registerAllDialects(registry);
  MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();
  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(attentionSource(type, d, mask), &ctx);
  ASSERT_TRUE(module);
  PassManager pm(&ctx);
  mlir::attn::PtxPipelineOptions options;
  options.chip = chip;
  mlir::attn::buildLowerToPtxPipeline(pm, options);
  ASSERT_TRUE(succeeded(pm.run(*module)));

  int kernels = 0;
  module->walk([&](gpu::BinaryOp binary) {
    for (Attribute a : binary.getObjects()) {
      llvm::StringRef ptx = cast<gpu::ObjectAttr>(a).getObject().getValue();
      auto cubin = ::attn::assemblePtx(ptx, chip);
      ASSERT_TRUE(!!cubin) << llvm::toString(cubin.takeError());
      EXPECT_FALSE(cubin->spills()) << cubin->infoLog;
      EXPECT_GT(cubin->registers, 0);
      EXPECT_LE(cubin->registers, 255);
      ++kernels;
    }
  });
  EXPECT_EQ(kernels, 1);
}

std::string configName(const ::testing::TestParamInfo<Config> &info) {
  return llvm::formatv("{0}_D{1}_{2}_{3}", std::get<0>(info.param),
                       std::get<1>(info.param), std::get<2>(info.param),
                       std::get<3>(info.param))
      .str();
}

INSTANTIATE_TEST_SUITE_P(Kernels, KernelMatrix,
                         ::testing::Combine(::testing::ValuesIn(kTypes),
                                            ::testing::ValuesIn(kHeadDims),
                                            ::testing::ValuesIn(kMasks),
                                            ::testing::ValuesIn(kChips)),
                         configName);

} // namespace
