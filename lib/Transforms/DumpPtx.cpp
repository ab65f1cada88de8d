//===- DumpPtx.cpp - print the PTX of gpu.binary ops ----------------------===//
//
// Implements -attn-dump-ptx.
//
//===----------------------------------------------------------------------===//

#include "attn/Transforms/Passes.h"

#include "llvm/Support/raw_ostream.h"

#define DEBUG_TYPE "attn-dump-ptx"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNDUMPPTX
#include "attn/Transforms/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;

namespace {

struct AttnDumpPtxPass : mlir::attn::impl::AttnDumpPtxBase<AttnDumpPtxPass> {
  void runOnOperation() override {
    getOperation().walk([&](gpu::BinaryOp binary) {
      for (Attribute a : binary.getObjects()) {
        auto object = cast<gpu::ObjectAttr>(a);
        llvm::outs() << "// attn-dump-ptx: @" << binary.getName() << " "
                     << object.getTarget() << "\n"
                     << object.getObject().getValue() << "\n";
      }
    });
    markAllAnalysesPreserved();
  }
};

} // namespace
