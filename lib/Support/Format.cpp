//===- Format.cpp - formatting shapes in messages -------------------------===//

#include "attn/Support/Format.h"

std::string attn::formatShape(llvm::ArrayRef<int64_t> shape) {
  std::string result = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      result += ", ";
    result += shape[i] < 0 ? "?" : std::to_string(shape[i]);
  }
  return result + "]";
}
