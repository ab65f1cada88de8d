//===- InitAll.h - register everything attn tools need ----------*- C++ -*-===//
//
// One registration entry point shared by attn-opt, attn-run and the JIT.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_INITALL_H
#define ATTN_INITALL_H

#include "mlir/IR/DialectRegistry.h"

namespace mlir::attn {

/// The attn dialect, the upstream dialects its pipelines produce, their
/// bufferization and ConvertToLLVM interfaces and LLVM IR translations.
void registerAllDialects(DialectRegistry &registry);

/// attn passes and named pipelines.
void registerAllPasses();

} // namespace mlir::attn

#endif // ATTN_INITALL_H
