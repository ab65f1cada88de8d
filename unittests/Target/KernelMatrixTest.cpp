//===- KernelMatrixTest.cpp - every GPU kernel the compiler emits assembles -===//
//
// Compiles a matrix of attention kernels with attn-lower-to-ptx and
// assembles each PTX with ptxas (nvJitLink, in process): any assembler error
// or register spill fails the test. The matrix: head dims 64, 96, 128 and 59
// (padded), GQA 8/2, masks none / bottom-right causal / sliding window, on
// sm_80 and sm_90a; D = 256 on sm_90a only: on sm_80 nvJitLink's
// relocatable compilation spills ~120 bytes (the standalone ptxas, whole
// program, fits the same PTX in ~210 registers). Open work: a D = 256
// schedule with fewer live registers (e.g. Dv split over two warps).
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

constexpr int64_t kHeadDims[] = {64, 96, 128, 59};
constexpr const char *kMasks[] = {"none", "causal", "window"};
constexpr const char *kChips[] = {"sm_80", "sm_90a"};

using Config = std::tuple<int64_t, const char *, const char *>;

std::string attentionSource(int64_t d, llvm::StringRef mask) {
  std::string attrs;
  if (mask == "causal")
    attrs = "{causal = #attn.causal<bottom_right>}";
  if (mask == "window")
    attrs = "{causal = #attn.causal<bottom_right>, window = array<i64: 256, 0>}";
  return llvm::formatv(
      "func.func @attn(%q: tensor<?x8x?x{0}xf16>, %k: tensor<?x2x?x{0}xf16>, "
      "%v: tensor<?x2x?x{0}xf16>) -> (tensor<?x8x?x{0}xf16>, "
      "tensor<?x8x?xf32>) {{\n"
      "  %o, %lse = attn.attention %q, %k, %v {1} : tensor<?x8x?x{0}xf16>, "
      "tensor<?x2x?x{0}xf16>, tensor<?x2x?x{0}xf16> -> tensor<?x8x?x{0}xf16>, "
      "tensor<?x8x?xf32>\n"
      "  return %o, %lse : tensor<?x8x?x{0}xf16>, tensor<?x8x?xf32>\n}\n",
      d, attrs);
}

class KernelMatrix : public ::testing::TestWithParam<Config> {};

TEST_P(KernelMatrix, AssemblesWithoutSpills) {
  auto [d, mask, chip] = GetParam();
  DialectRegistry registry;
  mlir::attn::registerAllDialects(registry);
  MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();
  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(attentionSource(d, mask), &ctx);
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
  return llvm::formatv("D{0}_{1}_{2}", std::get<0>(info.param),
                       std::get<1>(info.param), std::get<2>(info.param))
      .str();
}

INSTANTIATE_TEST_SUITE_P(F16, KernelMatrix,
                         ::testing::Combine(::testing::ValuesIn(kHeadDims),
                                            ::testing::ValuesIn(kMasks),
                                            ::testing::ValuesIn(kChips)),
                         configName);
INSTANTIATE_TEST_SUITE_P(F16Hopper, KernelMatrix,
                         ::testing::Combine(::testing::Values(int64_t(256)),
                                            ::testing::ValuesIn(kMasks),
                                            ::testing::Values("sm_90a")),
                         configName);

} // namespace
