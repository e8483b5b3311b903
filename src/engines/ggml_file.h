// The "ggml" model container that whisper.cpp's Whisper and Parakeet loaders read (little-endian):
// a magic number, model-specific headers, then tensors to the end of the file, each as int32
// n_dims, int32 name length, int32 ggml type, n_dims int32 dims (fastest first), the name and the
// raw data. Shared by whisper_model_file.h and parakeet_model_file.h: tensor types and sizes,
// a bounds-checked header reader, and a writer of random tensor data. Independent of whisper.cpp.
//
// Not thread-safe objects; each reader or writer belongs to one caller.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"

namespace podfleet::ggml_file {

inline constexpr uint32_t kMagic = 0x67676d6c;  // "ggml"
inline constexpr uint32_t kGgufMagic = 0x46554747;
inline constexpr int32_t kQuantVersionFactor = 1000;
inline constexpr int32_t kQuantVersion = 2;  // GGML_QNT_VERSION of ggml 0.15

// A ggml tensor type: its id in files, elements per block and bytes per block.
struct GgmlType {
  std::string_view name;
  int32_t id;
  int32_t block;
  int32_t block_bytes;
};
inline constexpr GgmlType kF32{"f32", 0, 1, 4};
inline constexpr GgmlType kF16{"f16", 1, 1, 2};
inline constexpr GgmlType kI32{"i32", 26, 1, 4};
const GgmlType* TypeById(int32_t id);
const GgmlType* TypeByName(std::string_view name);

// A file's ftype (ggml_ftype) and the tensor type of its big matrices.
struct FileType {
  int32_t ftype;
  std::string_view weights;
};
const FileType* FileTypeById(int32_t ftype);  // without the quantization version
const FileType* FileTypeByWeights(std::string_view weights);

struct TensorSpec {
  std::string name;
  std::array<int64_t, 4> ne{1, 1, 1, 1};
  int n_dims = 1;
  const GgmlType* type = &kF32;

  int64_t elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  int64_t bytes() const { return elements() / type->block * type->block_bytes; }
};
TensorSpec Spec(std::string name, const GgmlType& type, std::initializer_list<int64_t> dims);

// ---- writing ----------------------------------------------------------------------------------

// xorshift64*: fast and reproducible; quality is beside the point.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint64_t Next();
  float Uniform(float scale);  // in [-scale, scale)

 private:
  uint64_t state_;
};

class Writer {
 public:
  explicit Writer(const std::filesystem::path& path) : out_(path, std::ios::binary) {}
  bool ok() const { return static_cast<bool>(out_); }
  template <typename T>
  void Put(T v) {
    out_.write(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void Bytes(const void* data, size_t n) {
    out_.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
  }
  bool Close() {
    out_.close();
    return !out_.fail();
  }

 private:
  std::ofstream out_;
};

// Writes one tensor: its header and random data of magnitude `scale` (scale < 0: all ones, for
// norm weights and variances). Quantized tensors get random quants behind a small block scale.
void WriteRandomTensor(Writer& w, const TensorSpec& t, float scale, Random& rng);

// The type of the big matrices a writer puts in a file of weight type `weights`, and the file's
// ftype field for it. kInvalidArgument for a type the writers do not produce (f32, f16, q4_0,
// q4_1, q5_0, q5_1 and q8_0 only).
struct WeightChoice {
  const GgmlType* type;
  int32_t ftype;
};
Result<WeightChoice> WeightsForWriting(std::string_view weights);

// Closes `w`; on failure removes the partial file (kUnavailable). Returns the file size.
Result<int64_t> Finish(Writer& w, const std::filesystem::path& path);

// ---- reading ----------------------------------------------------------------------------------

// Reads headers front to back. The first read past the end records a "truncated" error (kept:
// later reads return zeros), so callers check failed() once per group of reads.
class Reader {
 public:
  Reader(const std::filesystem::path& path, int64_t size)
      : in_(path, std::ios::binary), size_(size) {}
  bool ok() const { return static_cast<bool>(in_); }
  int64_t pos() const { return pos_; }
  int64_t left() const { return size_ - pos_; }
  bool failed() const { return !error_.message.empty(); }
  std::unexpected<Error> error() const { return std::unexpected(error_); }

  template <typename T>
  T Get(std::string_view what) {
    T v{};
    if (Reserve(sizeof v, what)) in_.read(reinterpret_cast<char*>(&v), sizeof v);
    return v;
  }
  std::string String(size_t n, std::string_view what);
  void Skip(int64_t n, std::string_view what);

 private:
  bool Reserve(int64_t n, std::string_view what);

  std::ifstream in_;
  const int64_t size_;
  int64_t pos_ = 0;
  Error error_{Code::kCorruption, ""};
};

// Opens a model file for inspection and reads its magic number. kNotFound: no such file;
// kInvalidArgument: another magic ("not a ggml `kind` model", naming a GGUF file as such).
Result<std::unique_ptr<Reader>> OpenModel(const std::filesystem::path& path, std::string_view kind);

// The type of the big matrices of a file whose header says `ftype` (the quantization version
// included). kCorruption for an unknown one.
Result<const GgmlType*> WeightsOfFile(int32_t ftype);

// `e` with the file's path in front of its message.
std::unexpected<Error> InFile(const std::filesystem::path& path, const Error& e);

// Reads one tensor header and skips its data, checking it against `expected` (by name) and
// removing it from there. kCorruption: unknown or repeated name, wrong shape or type, truncated.
Result<void> ReadTensor(Reader& r, std::map<std::string, TensorSpec>& expected);

// Reads tensors to the end of the file; kCorruption when one is bad or any expected is missing.
// Returns how many were read.
Result<int> ReadAllTensors(Reader& r, std::map<std::string, TensorSpec> expected);

}  // namespace podfleet::ggml_file
