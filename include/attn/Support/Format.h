//===- Format.h - formatting shapes in messages -----------------*- C++ -*-===//

#ifndef ATTN_SUPPORT_FORMAT_H
#define ATTN_SUPPORT_FORMAT_H

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <string>

namespace attn {

/// "[2, 8, ?, 64]": a shape as the attn tools print it in messages; negative
/// sizes (MLIR's dynamic size) print as '?'.
std::string formatShape(llvm::ArrayRef<int64_t> shape);

} // namespace attn

#endif // ATTN_SUPPORT_FORMAT_H
