// The dialect side of the installed headers (the TableGen-generated
// AttnOps.h.inc, AttnDialect.h.inc, AttnEnums.h.inc, AttnAttrs.h.inc and
// Passes.h.inc): the IR CpuKernel compiles is parsed back with the attn
// dialects registered and its attn.attention op inspected.

#include "attn/Dialect/Attn.h"
#include "attn/InitAll.h"
#include "attn/JIT/CpuKernel.h"
#include "attn/Transforms/Passes.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <cstdio>

bool checkDialect(const attn::AttentionProblem &problem) {
  llvm::Expected<std::string> text = attn::buildAttentionModuleText(problem);
  if (!text) {
    std::fprintf(stderr, "dialect: %s\n",
                 llvm::toString(text.takeError()).c_str());
    return false;
  }
  mlir::DialectRegistry registry;
  mlir::attn::registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceString<mlir::ModuleOp>(*text, &context);
  if (!module) {
    std::fprintf(stderr, "dialect: the module does not parse back\n");
    return false;
  }
  int count = 0;
  module->walk([&](mlir::attn::AttentionOp op) {
    ++count;
    std::printf("dialect: %s with %u operands, %u results\n",
                op->getName().getStringRef().str().c_str(),
                op->getNumOperands(), op->getNumResults());
  });
  return count == 1;
}
