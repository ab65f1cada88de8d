//===- Npy.h - NumPy .npy reader and writer ---------------------*- C++ -*-===//
//
// Reads and writes NumPy .npy files (format versions 1.0, 2.0 and 3.0),
// restricted to little-endian, C-order arrays of four element types:
// bool ('|b1'), float16 ('<f2'), float32 ('<f4') and float64 ('<f8').
//
// Files are written in format version 1.0 with the data aligned to 64 bytes,
// like numpy.save (for the usual shapes the bytes are identical), so np.load
// reads them. Like numpy, at most 64 dimensions are supported and each
// dimension must be at most 2^48.
//
// Every error is a single line that names the file, e.g.
//   Q.npy: unsupported dtype '<i4' (expected float16, float32, float64 or
//   bool)
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_SUPPORT_NPY_H
#define ATTN_SUPPORT_NPY_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace attn {

/// Element types supported in .npy files.
enum class NpyDType {
  Bool, ///< '|b1', one byte, 0 or 1
  F16,  ///< '<f2'
  F32,  ///< '<f4'
  F64   ///< '<f8'
};

/// An n-dimensional array as stored in a .npy file.
struct NpyArray {
  NpyDType dtype = NpyDType::F32;
  /// Dimensions; empty for a 0-d (scalar) array.
  std::vector<int64_t> shape;
  /// Raw little-endian element bytes in C (row-major) order.
  std::vector<uint8_t> data;

  /// Product of the dimensions (1 for a scalar).
  int64_t numElements() const;
  /// Element values converted to double (bool gives 0 or 1).
  std::vector<double> toDouble() const;
  /// Element values converted to float (float64 is rounded to nearest).
  std::vector<float> toFloat() const;
  /// Builds a float32 array; values.size() must equal the shape's product.
  static NpyArray fromFloat(llvm::ArrayRef<int64_t> shape,
                            llvm::ArrayRef<float> values);
};

/// Returns the size in bytes of one element of `dtype`.
int64_t getElementSize(NpyDType dtype);
/// Returns the numpy name: "bool", "float16", "float32" or "float64".
llvm::StringRef toString(NpyDType dtype);

/// Parses the contents of a .npy file. `nameForErrors` prefixes every error
/// message. Trailing bytes after the array data are an error.
llvm::Expected<NpyArray> parseNpy(llvm::StringRef bytes,
                                  llvm::StringRef nameForErrors);
/// Reads and parses the .npy file at `path`.
llvm::Expected<NpyArray> readNpy(llvm::StringRef path);
/// Writes `array` to `path` atomically: the bytes go to "<path>.tmp.<pid>",
/// which is then renamed over `path`; on any failure the temporary is removed
/// and `path` is left untouched.
llvm::Error writeNpy(llvm::StringRef path, const NpyArray &array);
/// Writes several arrays, each to its path, so that a failure while writing
/// leaves every path untouched: all go to "<path>.partial.<pid>" first and
/// are renamed into place once all are written (a tool's outputs appear
/// together or not at all).
llvm::Error
writeNpyFiles(llvm::ArrayRef<std::pair<std::string, NpyArray>> files);

} // namespace attn

#endif // ATTN_SUPPORT_NPY_H
