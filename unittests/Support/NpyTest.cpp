//===- NpyTest.cpp - Tests for the .npy reader and writer -----------------===//

#include "attn/Support/Npy.h"

#include "attn/Support/Float16.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <string>

using namespace attn;
using namespace llvm;

namespace {

/// Builds a .npy file from a header dict, padding it like numpy does.
std::string makeNpy(StringRef dict, StringRef data, unsigned major = 1) {
  size_t preamble = major == 1 ? 10 : 12;
  std::string header = dict.str();
  size_t total = preamble + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string bytes("\x93NUMPY", 6);
  bytes += static_cast<char>(major);
  bytes += '\0';
  char len[4];
  if (major == 1) {
    support::endian::write16le(len, static_cast<uint16_t>(header.size()));
    bytes.append(len, 2);
  } else {
    support::endian::write32le(len, static_cast<uint32_t>(header.size()));
    bytes.append(len, 4);
  }
  return bytes + header + data.str();
}

std::string f32Bytes(std::initializer_list<float> values) {
  std::string result;
  for (float v : values) {
    char buf[4];
    support::endian::write32le(buf, bit_cast<uint32_t>(v));
    result.append(buf, 4);
  }
  return result;
}

/// Expects `result` to fail with a message containing `substring`.
template <typename T>
void expectError(Expected<T> result, StringRef substring) {
  ASSERT_FALSE(static_cast<bool>(result))
      << "expected error: " << substring.str();
  std::string message = toString(result.takeError());
  EXPECT_NE(message.find(substring.str()), std::string::npos)
      << "message: " << message << "\nexpected to contain: " << substring.str();
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

class NpyFileTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(sys::fs::createUniqueDirectory("attn-npy-test", dir));
  }
  void TearDown() override { sys::fs::remove_directories(dir); }

  std::string path(StringRef name) {
    SmallString<128> p(dir);
    sys::path::append(p, name);
    return std::string(p.str());
  }

  std::vector<std::string> listDir() {
    std::vector<std::string> names;
    std::error_code ec;
    for (sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
         it.increment(ec))
      names.push_back(sys::path::filename(it->path()).str());
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string readAll(StringRef p) {
    auto buf = MemoryBuffer::getFile(p, false, false);
    if (!buf)
      return "";
    return (*buf)->getBuffer().str();
  }

  void writeRaw(StringRef p, StringRef bytes) {
    std::error_code ec;
    raw_fd_ostream os(p, ec);
    ASSERT_FALSE(ec);
    os << bytes;
  }

  SmallString<128> dir;
};

NpyArray makeArray(NpyDType dtype, std::vector<int64_t> shape) {
  NpyArray array;
  array.dtype = dtype;
  array.shape = shape;
  int64_t n = array.numElements();
  int64_t size = getElementSize(dtype);
  array.data.resize(n * size);
  for (int64_t i = 0; i < n; ++i) {
    uint8_t *p = array.data.data() + i * size;
    double value = (i % 7) - 2.5 + i * 0.125;
    switch (dtype) {
    case NpyDType::Bool:
      *p = i % 3 == 0;
      break;
    case NpyDType::F16:
      support::endian::write16le(p, floatToHalf(static_cast<float>(value)));
      break;
    case NpyDType::F32:
      support::endian::write32le(p, bit_cast<uint32_t>(float(value)));
      break;
    case NpyDType::F64:
      support::endian::write64le(p, bit_cast<uint64_t>(value));
      break;
    }
  }
  return array;
}

TEST_F(NpyFileTest, RoundTripAllDTypesAndShapes) {
  std::vector<std::vector<int64_t>> shapes = {{}, {0}, {3}, {2, 3, 4, 5}};
  for (NpyDType dtype :
       {NpyDType::Bool, NpyDType::F16, NpyDType::F32, NpyDType::F64}) {
    for (const auto &shape : shapes) {
      NpyArray array = makeArray(dtype, shape);
      std::string p = path("a.npy");
      ASSERT_FALSE(errorToBool(writeNpy(p, array)));
      // Data starts at a multiple of 64 like numpy's files.
      std::string bytes = readAll(p);
      ASSERT_GE(bytes.size(), 10u);
      size_t dataStart = 10 + support::endian::read16le(bytes.data() + 8);
      EXPECT_EQ(dataStart % 64, 0u);
      EXPECT_EQ(bytes[dataStart - 1], '\n');

      Expected<NpyArray> back = readNpy(p);
      ASSERT_TRUE(static_cast<bool>(back)) << toString(back.takeError());
      EXPECT_EQ(back->dtype, dtype);
      EXPECT_EQ(back->shape, shape);
      EXPECT_EQ(back->data, array.data);
      EXPECT_EQ(back->numElements(), array.numElements());
      EXPECT_EQ(back->toDouble(), array.toDouble());
    }
  }
}

TEST(NpyTest, ConversionsAndFromFloat) {
  NpyArray a = NpyArray::fromFloat({2, 2}, {1.0f, -2.5f, 0.0f, 3.25f});
  EXPECT_EQ(a.dtype, NpyDType::F32);
  EXPECT_EQ(a.data.size(), 16u);
  EXPECT_EQ(a.toFloat(), (std::vector<float>{1.0f, -2.5f, 0.0f, 3.25f}));
  EXPECT_EQ(a.toDouble(), (std::vector<double>{1.0, -2.5, 0.0, 3.25}));

  NpyArray scalar = NpyArray::fromFloat({}, {7.0f});
  EXPECT_EQ(scalar.numElements(), 1);
  EXPECT_EQ(NpyArray::fromFloat({0, 4}, {}).numElements(), 0);

  NpyArray b = makeArray(NpyDType::Bool, {4});
  EXPECT_EQ(b.toDouble(), (std::vector<double>{1, 0, 0, 1}));
  b.data[1] = 7; // Any nonzero byte is true.
  EXPECT_EQ(b.toDouble()[1], 1.0);

  NpyArray h = makeArray(NpyDType::F16, {2});
  EXPECT_EQ(h.toFloat(), (std::vector<float>{-2.5f, -1.375f}));

  EXPECT_EQ(toString(NpyDType::Bool), "bool");
  EXPECT_EQ(toString(NpyDType::F16), "float16");
  EXPECT_EQ(toString(NpyDType::F32), "float32");
  EXPECT_EQ(toString(NpyDType::F64), "float64");
}

// Bytes produced by numpy 2.4: np.save(f, np.arange(6, dtype='<f4')
// .reshape(2, 3)) and friends.
TEST(NpyTest, ReadsNumpyFiles) {
  std::string pad(58, ' ');
  std::string f32 = std::string("\x93NUMPY\x01\x00v\x00", 10) +
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)"
                    ", }" +
                    pad + "\n" + f32Bytes({0, 1, 2, 3, 4, 5});
  ASSERT_EQ(f32.size(), 152u);
  Expected<NpyArray> a = parseNpy(f32, "a.npy");
  ASSERT_TRUE(static_cast<bool>(a)) << toString(a.takeError());
  EXPECT_EQ(a->dtype, NpyDType::F32);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a->toFloat(), (std::vector<float>{0, 1, 2, 3, 4, 5}));

  std::string f8 = std::string("\x93NUMPY\x01\x00v\x00", 10) +
                   "{'descr': '<f8', 'fortran_order': False, 'shape': (), }" +
                   std::string(62, ' ') + "\n" +
                   std::string("\x00\x00\x00\x00\x00\x00\xf8?", 8);
  Expected<NpyArray> s = parseNpy(f8, "s.npy");
  ASSERT_TRUE(static_cast<bool>(s)) << toString(s.takeError());
  EXPECT_EQ(s->dtype, NpyDType::F64);
  EXPECT_TRUE(s->shape.empty());
  EXPECT_EQ(s->toDouble(), std::vector<double>{1.5});

  std::string b1 = std::string("\x93NUMPY\x01\x00v\x00", 10) +
                   "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }" +
                   std::string(60, ' ') + "\n" + std::string("\x01\x00\x01", 3);
  Expected<NpyArray> b = parseNpy(b1, "b.npy");
  ASSERT_TRUE(static_cast<bool>(b)) << toString(b.takeError());
  EXPECT_EQ(b->dtype, NpyDType::Bool);
  EXPECT_EQ(b->toDouble(), (std::vector<double>{1, 0, 1}));

  std::string f2 = std::string("\x93NUMPY\x01\x00v\x00", 10) +
                   "{'descr': '<f2', 'fortran_order': False, 'shape': (5,), }" +
                   std::string(60, ' ') + "\n";
  for (uint16_t bits : {0x3c00, 0x4000, 0x4200, 0x4400, 0x4500}) {
    f2 += static_cast<char>(bits & 0xff); // "\x00<\x00@..." in numpy's repr
    f2 += static_cast<char>(bits >> 8);
  }
  ASSERT_EQ(f2.size(), 138u);
  Expected<NpyArray> h = parseNpy(f2, "h.npy");
  ASSERT_TRUE(static_cast<bool>(h)) << toString(h.takeError());
  EXPECT_EQ(h->dtype, NpyDType::F16);
  EXPECT_EQ(h->toFloat(), (std::vector<float>{1, 2, 3, 4, 5}));
}

TEST_F(NpyFileTest, WritesNumpyIdenticalBytes) {
  std::string p = path("w.npy");
  ASSERT_FALSE(errorToBool(
      writeNpy(p, NpyArray::fromFloat({2, 3}, {0, 1, 2, 3, 4, 5}))));
  std::string bytes = readAll(p);
  ASSERT_EQ(bytes.size(), 152u);
  EXPECT_EQ(bytes.substr(0, 10), std::string("\x93NUMPY\x01\x00v\x00", 10));
  EXPECT_EQ(bytes.substr(10, 59),
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
  EXPECT_EQ(bytes.substr(69, 58), std::string(58, ' '));
  EXPECT_EQ(bytes[127], '\n');
  EXPECT_EQ(bytes.substr(128), f32Bytes({0, 1, 2, 3, 4, 5}));

  NpyArray v = makeArray(NpyDType::F64, {5});
  ASSERT_FALSE(errorToBool(writeNpy(p, v)));
  EXPECT_NE(readAll(p).find("'shape': (5,), }"), std::string::npos);
  NpyArray sc = makeArray(NpyDType::Bool, {});
  ASSERT_FALSE(errorToBool(writeNpy(p, sc)));
  EXPECT_NE(readAll(p).find("'descr': '|b1'"), std::string::npos);
  EXPECT_NE(readAll(p).find("'shape': (), }"), std::string::npos);
}

TEST(NpyTest, HeaderVariants) {
  std::string data = f32Bytes({1, 2});
  // Keys in any order, extra spaces, no trailing comma, double quotes.
  for (StringRef dict :
       {"{'shape': (2,), 'fortran_order': False, 'descr': '<f4'}",
        "{ 'fortran_order' : False , 'descr' : '<f4' , 'shape' : ( 2 , ) , }",
        "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }",
        "{'descr':'<f4','fortran_order':False,'shape':(1,2)}"}) {
    Expected<NpyArray> a = parseNpy(makeNpy(dict, data), "x.npy");
    ASSERT_TRUE(static_cast<bool>(a))
        << dict.str() << ": " << toString(a.takeError());
    EXPECT_EQ(a->numElements(), 2) << dict.str();
    EXPECT_EQ(a->toFloat(), (std::vector<float>{1, 2}));
  }
  // Versions 2.0 and 3.0 have a 32-bit header length.
  for (unsigned major : {2u, 3u}) {
    Expected<NpyArray> a = parseNpy(
        makeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
                data, major),
        "v.npy");
    ASSERT_TRUE(static_cast<bool>(a)) << toString(a.takeError());
    EXPECT_EQ(a->shape, std::vector<int64_t>{2});
  }
  // Scalar and empty shapes.
  Expected<NpyArray> s =
      parseNpy(makeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': ()}",
                       f32Bytes({3})),
               "s.npy");
  ASSERT_TRUE(static_cast<bool>(s)) << toString(s.takeError());
  EXPECT_TRUE(s->shape.empty());
  EXPECT_EQ(s->toFloat(), std::vector<float>{3});
  Expected<NpyArray> e = parseNpy(
      makeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 0, 1)}",
              ""),
      "e.npy");
  ASSERT_TRUE(static_cast<bool>(e)) << toString(e.takeError());
  EXPECT_EQ(e->numElements(), 0);
}

TEST(NpyTest, Errors) {
  std::string data = f32Bytes({1, 2, 3, 4, 5, 6});
  auto parse = [](StringRef dict, StringRef bytes) {
    return parseNpy(makeNpy(dict, bytes), "Q.npy");
  };
  expectError(parseNpy("hello world, not numpy", "Q.npy"),
              "Q.npy: not a .npy file (bad magic)");
  expectError(parseNpy("", "Q.npy"), "Q.npy: not a .npy file (bad magic)");
  expectError(parseNpy(StringRef("\x93NUMPY", 6), "Q.npy"),
              "Q.npy: truncated header");
  expectError(parseNpy(StringRef("\x93NUMPY\x01\x00", 8), "Q.npy"),
              "Q.npy: truncated header");
  expectError(
      parseNpy(StringRef("\x93NUMPY\x01\x00\x76\x00{'de", 14), "Q.npy"),
      "Q.npy: truncated header: header length is 118 bytes, file has 4");
  expectError(parseNpy(StringRef("\x93NUMPY\x04\x00\x00\x00", 10), "Q.npy"),
              "Q.npy: unsupported .npy format version 4.0");

  expectError(
      parse("{'descr': '<i4', 'fortran_order': False, 'shape': (6,)}", data),
      "Q.npy: unsupported dtype '<i4' (expected float16, float32, "
      "float64 or bool)");
  expectError(
      parse("{'descr': '|u1', 'fortran_order': False, 'shape': (6,)}", data),
      "Q.npy: unsupported dtype '|u1'");
  expectError(
      parse("{'descr': '<c8', 'fortran_order': False, 'shape': (3,)}", data),
      "Q.npy: unsupported dtype '<c8'");
  expectError(
      parse("{'descr': '>f4', 'fortran_order': False, 'shape': (6,)}", data),
      "Q.npy: big-endian dtype '>f4' is not supported");
  expectError(parse("{'descr': [('a', '<f4')], 'fortran_order': False, "
                    "'shape': (6,)}",
                    data),
              "Q.npy: unsupported dtype: structured arrays");
  expectError(
      parse("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3)}", data),
      "Q.npy: Fortran-order arrays are not supported");
  expectError(
      parse("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}",
            StringRef(data).drop_back(4)),
      "Q.npy: truncated data: header says 2x3 float32 (24 bytes), file has 20");
  expectError(
      parse("{'descr': '<f4', 'fortran_order': False, 'shape': ()}", ""),
      "Q.npy: truncated data: header says scalar float32 (4 bytes), "
      "file has 0");
  expectError(
      parse("{'descr': '<f4', 'fortran_order': False, 'shape': (5,)}", data),
      "Q.npy: trailing data: header says 5 float32 (20 bytes), file "
      "has 24");

  // Malformed headers.
  for (StringRef dict :
       {"", "not a dict", "{'descr': '<f4', 'fortran_order': False}",
        "{'descr': '<f4', 'shape': (6,)}",
        "{'fortran_order': False, "
        "'shape': (6,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (6,)",
        "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (6,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': [6]}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}",
        "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, "
        "'shape': (6,)}",
        "{'descr': '<f4' 'fortran_order': False, 'shape': (6,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (6, x)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} junk",
        "{'descr: '<f4', 'fortran_order': False, 'shape': (6,)}"})
    expectError(parse(dict, data), "Q.npy: malformed header: ");

  // Negative, absurd and overflowing dimensions.
  expectError(
      parse("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", data),
      "Q.npy: malformed header: negative dimension");
  expectError(parse("{'descr': '<f4', 'fortran_order': False, 'shape': "
                    "(99999999999999999999999,)}",
                    data),
              "Q.npy: malformed header: dimension too large");
  expectError(parse("{'descr': '<f4', 'fortran_order': False, 'shape': "
                    "(281474976710656, 281474976710656)}",
                    data),
              "Q.npy: shape 281474976710656x281474976710656 overflows the "
              "element count");
  expectError(parse("{'descr': '<f8', 'fortran_order': False, 'shape': "
                    "(2305843009213693952,)}",
                    data),
              "Q.npy: malformed header: dimension too large");
  expectError(parse("{'descr': '<f8', 'fortran_order': False, 'shape': "
                    "(281474976710656,8192)}",
                    data),
              "Q.npy: shape 281474976710656x8192 overflows the byte count");
  std::string manyDims = "(";
  for (int i = 0; i < 65; ++i)
    manyDims += "1, ";
  manyDims += ")";
  expectError(parse("{'descr': '<f4', 'fortran_order': False, 'shape': " +
                        manyDims + "}",
                    data),
              "Q.npy: malformed header: more than 64 dimensions");
  expectError(parse("{'descr': '<f4', 'fortran_order': False, 'shape': "
                    "(1000000, 1000000)}",
                    data),
              "Q.npy: truncated data: header says 1000000x1000000 float32 "
              "(4000000000000 bytes), file has 24");
}

TEST_F(NpyFileTest, ReadErrorsNameTheFile) {
  std::string missing = path("Q.npy");
  Expected<NpyArray> r = readNpy(missing);
  expectError(std::move(r),
              "cannot open '" + missing + "': No such file or directory");

  std::string bad = path("bad.npy");
  writeRaw(bad, "garbage");
  expectError(readNpy(bad), bad + ": not a .npy file (bad magic)");
}

TEST_F(NpyFileTest, AtomicWrite) {
  std::string p = path("out.npy");
  NpyArray a = NpyArray::fromFloat({2}, {1, 2});
  ASSERT_FALSE(errorToBool(writeNpy(p, a)));
  EXPECT_EQ(listDir(), std::vector<std::string>{"out.npy"});

  // Overwriting replaces the file and leaves no temporary behind.
  NpyArray b = NpyArray::fromFloat({3}, {4, 5, 6});
  ASSERT_FALSE(errorToBool(writeNpy(p, b)));
  EXPECT_EQ(listDir(), std::vector<std::string>{"out.npy"});
  Expected<NpyArray> back = readNpy(p);
  ASSERT_TRUE(static_cast<bool>(back)) << toString(back.takeError());
  EXPECT_EQ(back->toFloat(), (std::vector<float>{4, 5, 6}));

  // A missing directory is an error and creates nothing.
  std::string nested = path("no/such/dir/x.npy");
  Error err = writeNpy(nested, a);
  ASSERT_TRUE(static_cast<bool>(err));
  std::string message = toString(std::move(err));
  EXPECT_NE(message.find("cannot write '" + nested + "'"), std::string::npos)
      << message;
  EXPECT_FALSE(sys::fs::exists(nested));
  EXPECT_EQ(listDir(), std::vector<std::string>{"out.npy"});

  // Inconsistent arrays are rejected before touching the file system, and the
  // existing file stays intact.
  NpyArray broken = a;
  broken.shape = {3};
  Error err2 = writeNpy(p, broken);
  ASSERT_TRUE(static_cast<bool>(err2));
  EXPECT_NE(
      toString(std::move(err2)).find("needs 12 bytes of data, array has 8"),
      std::string::npos);
  EXPECT_EQ(listDir(), std::vector<std::string>{"out.npy"});
  back = readNpy(p);
  ASSERT_TRUE(static_cast<bool>(back)) << toString(back.takeError());
  EXPECT_EQ(back->toFloat(), (std::vector<float>{4, 5, 6}));

  // Shapes numpy cannot represent are rejected.
  NpyArray tooManyDims;
  tooManyDims.shape.assign(65, 1);
  tooManyDims.data.assign(4, 0);
  Error err4 = writeNpy(p, tooManyDims);
  ASSERT_TRUE(static_cast<bool>(err4));
  EXPECT_NE(toString(std::move(err4)).find("cannot write an array of rank 65"),
            std::string::npos);
  NpyArray negative;
  negative.shape = {-1};
  Error err5 = writeNpy(p, negative);
  ASSERT_TRUE(static_cast<bool>(err5));
  EXPECT_NE(toString(std::move(err5)).find("with dimension -1"),
            std::string::npos);
  NpyArray rank64;
  rank64.shape.assign(64, 1);
  rank64.shape[10] = 281474976710656; // 2^48.
  rank64.shape[20] = 0;
  ASSERT_FALSE(errorToBool(writeNpy(p, rank64)));
  back = readNpy(p);
  ASSERT_TRUE(static_cast<bool>(back)) << toString(back.takeError());
  EXPECT_EQ(back->shape, rank64.shape);

  // A path that is a directory cannot be replaced; the temporary is removed.
  ASSERT_FALSE(sys::fs::create_directory(path("sub.npy")));
  Error err3 = writeNpy(path("sub.npy"), a);
  ASSERT_TRUE(static_cast<bool>(err3));
  consumeError(std::move(err3));
  EXPECT_EQ(listDir(), (std::vector<std::string>{"out.npy", "sub.npy"}));
}

} // namespace
