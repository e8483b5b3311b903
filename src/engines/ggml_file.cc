#include "engines/ggml_file.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>
#include <vector>

namespace podfleet::ggml_file {
namespace {

constexpr GgmlType kTypes[] = {
    kF32,
    kF16,
    {"q4_0", 2, 32, 18},
    {"q4_1", 3, 32, 20},
    {"q5_0", 6, 32, 22},
    {"q5_1", 7, 32, 24},
    {"q8_0", 8, 32, 34},
    {"q2_k", 10, 256, 84},
    {"q3_k", 11, 256, 110},
    {"q4_k", 12, 256, 144},
    {"q5_k", 13, 256, 176},
    {"q6_k", 14, 256, 210},
    kI32,
};

constexpr FileType kFileTypes[] = {
    {0, "f32"},  {1, "f16"},   {2, "q4_0"},  {3, "q4_1"},  {7, "q8_0"},  {8, "q5_0"},
    {9, "q5_1"}, {10, "q2_k"}, {11, "q3_k"}, {12, "q4_k"}, {13, "q5_k"}, {14, "q6_k"},
};

// IEEE half from a float in the normal range; values too small for a normal half become zero
// (subnormals would slow the arithmetic that benchmarks measure).
uint16_t ToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  const uint16_t sign = (x >> 16) & 0x8000;
  const int exp = static_cast<int>((x >> 23) & 0xff) - 127 + 15;
  if (exp <= 0) return sign;
  if (exp >= 31) return sign | 0x7bff;
  return sign | static_cast<uint16_t>(exp << 10) | static_cast<uint16_t>((x >> 13) & 0x3ff);
}

void RandomBlock(unsigned char* p, const GgmlType& type, float scale, Random& rng) {
  if (type.id == kF32.id) {
    const float v = scale < 0 ? 1.0f : rng.Uniform(scale);
    std::memcpy(p, &v, 4);
  } else if (type.id == kI32.id) {
    std::memset(p, 0, 4);
  } else if (type.id == kF16.id) {
    const uint16_t v = ToHalf(rng.Uniform(scale));
    std::memcpy(p, &v, 2);
  } else {
    // A quantized block: random quants behind a small scale (and minimum, for the _1 types).
    for (int i = 0; i < type.block_bytes; i += 8) {
      const uint64_t r = rng.Next();
      std::memcpy(p + i, &r, std::min(8, type.block_bytes - i));
    }
    const uint16_t d = ToHalf(scale / 16), m = ToHalf(-scale);
    std::memcpy(p, &d, 2);
    if (type.name.ends_with("_1")) std::memcpy(p + 2, &m, 2);
  }
}

}  // namespace

const GgmlType* TypeById(int32_t id) {
  for (const GgmlType& t : kTypes)
    if (t.id == id) return &t;
  return nullptr;
}

const GgmlType* TypeByName(std::string_view name) {
  for (const GgmlType& t : kTypes)
    if (t.name == name) return &t;
  return nullptr;
}

const FileType* FileTypeById(int32_t ftype) {
  for (const FileType& f : kFileTypes)
    if (f.ftype == ftype) return &f;
  return nullptr;
}

const FileType* FileTypeByWeights(std::string_view weights) {
  for (const FileType& f : kFileTypes)
    if (f.weights == weights) return &f;
  return nullptr;
}

TensorSpec Spec(std::string name, const GgmlType& type, std::initializer_list<int64_t> dims) {
  TensorSpec s{std::move(name), {1, 1, 1, 1}, static_cast<int>(dims.size()), &type};
  int i = 0;
  for (int64_t d : dims) s.ne[i++] = d;
  return s;
}

uint64_t Random::Next() {
  state_ ^= state_ >> 12;
  state_ ^= state_ << 25;
  state_ ^= state_ >> 27;
  return state_ * 0x2545F4914F6CDD1Dull;
}

float Random::Uniform(float scale) {
  return scale * (static_cast<float>(Next() >> 40) / static_cast<float>(1 << 23) - 1.0f);
}

void WriteRandomTensor(Writer& w, const TensorSpec& t, float scale, Random& rng) {
  w.Put(static_cast<int32_t>(t.n_dims));
  w.Put(static_cast<int32_t>(t.name.size()));
  // i32 tensors (counters) are stored as 4-byte f32 entries, as the converters write them.
  w.Put(t.type->id == kI32.id ? kF32.id : t.type->id);
  for (int i = 0; i < t.n_dims; ++i) w.Put(static_cast<int32_t>(t.ne[i]));
  w.Bytes(t.name.data(), t.name.size());
  std::vector<unsigned char> buf;
  const int64_t chunk_blocks = 1 << 14;
  const int64_t blocks = t.elements() / t.type->block;
  for (int64_t done = 0; done < blocks; done += chunk_blocks) {
    const int64_t n = std::min(chunk_blocks, blocks - done);
    buf.resize(static_cast<size_t>(n * t.type->block_bytes));
    for (int64_t b = 0; b < n; ++b)
      RandomBlock(buf.data() + b * t.type->block_bytes, *t.type, scale, rng);
    w.Bytes(buf.data(), buf.size());
  }
}

Result<WeightChoice> WeightsForWriting(std::string_view weights) {
  const GgmlType* type = TypeByName(weights);
  const FileType* file = FileTypeByWeights(weights);
  if (!type || !file || file->ftype > 9)
    return InvalidArgument(fmt::format(
        "cannot write weights of type '{}' (f32, f16, q4_0, q4_1, q5_0, q5_1, q8_0)", weights));
  return WeightChoice{type,
                      file->ftype + (type->block > 1 ? kQuantVersion * kQuantVersionFactor : 0)};
}

Result<std::unique_ptr<Reader>> OpenModel(const std::filesystem::path& path,
                                          std::string_view kind) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return NotFound(fmt::format("{}: {}", path.string(), ec.message()));
  auto r = std::make_unique<Reader>(path, static_cast<int64_t>(size));
  if (!r->ok()) return Unavailable(fmt::format("{}: cannot read", path.string()));
  const auto magic = r->Get<uint32_t>("the header");
  if (r->failed() || magic != kMagic)
    return InvalidArgument(fmt::format("{}: not a ggml {} model ({})", path.string(), kind,
                                       magic == kGgufMagic
                                           ? "a GGUF file; whisper.cpp reads ggml .bin files"
                                           : "wrong magic number"));
  return r;
}

Result<const GgmlType*> WeightsOfFile(int32_t ftype) {
  const FileType* file = FileTypeById(ftype % kQuantVersionFactor);
  if (!file) return Corruption(fmt::format("unknown ftype {}", ftype));
  return TypeByName(file->weights);
}

std::unexpected<Error> InFile(const std::filesystem::path& path, const Error& e) {
  return std::unexpected(Error{e.code, fmt::format("{}: {}", path.string(), e.message)});
}

Result<int64_t> Finish(Writer& w, const std::filesystem::path& path) {
  if (!w.Close()) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
    return Unavailable(fmt::format("cannot write {} (disk full?)", path.string()));
  }
  return static_cast<int64_t>(std::filesystem::file_size(path));
}

std::string Reader::String(size_t n, std::string_view what) {
  std::string s;
  if (Reserve(static_cast<int64_t>(n), what)) {
    s.resize(n);
    in_.read(s.data(), static_cast<std::streamsize>(n));
  }
  return s;
}

void Reader::Skip(int64_t n, std::string_view what) {
  if (Reserve(n, what)) in_.seekg(n, std::ios::cur);
}

bool Reader::Reserve(int64_t n, std::string_view what) {
  if (failed()) return false;
  if (n < 0 || n > left()) {
    error_ = Error{Code::kCorruption, fmt::format("truncated in {} at byte {}", what, pos_)};
    return false;
  }
  pos_ += n;
  return true;
}

Result<void> ReadTensor(Reader& r, std::map<std::string, TensorSpec>& expected) {
  const auto n_dims = r.Get<int32_t>("a tensor header");
  const auto name_len = r.Get<int32_t>("a tensor header");
  const auto type_id = r.Get<int32_t>("a tensor header");
  if (r.failed()) return r.error();
  // Scalars (n_dims 0) occur in converted Parakeet files (batch-norm counters).
  if (n_dims < 0 || n_dims > 4 || name_len < 1 || name_len > 256)
    return Corruption(fmt::format("bad tensor header at byte {}", r.pos() - 12));
  std::array<int64_t, 4> ne{1, 1, 1, 1};
  for (int i = 0; i < n_dims; ++i) ne[i] = r.Get<int32_t>("a tensor header");
  const std::string name = r.String(static_cast<size_t>(name_len), "a tensor name");
  if (r.failed()) return r.error();
  auto it = expected.find(name);
  if (it == expected.end())
    return Corruption(fmt::format("unexpected or repeated tensor '{}'", name));
  const TensorSpec& want = it->second;
  if (ne != want.ne)
    return Corruption(fmt::format("tensor '{}' has shape [{}], expected [{}]", name,
                                  fmt::join(ne, ", "), fmt::join(want.ne, ", ")));
  const GgmlType* type = TypeById(type_id);
  const bool counter = want.type->id == kI32.id && type && type->block_bytes == 4;
  if (!type || (type->id != want.type->id && !counter))
    return Corruption(
        fmt::format("tensor '{}' has type {}, expected {}", name, type_id, want.type->name));
  r.Skip(want.bytes(), fmt::format("tensor '{}'", name));
  if (r.failed()) return r.error();
  expected.erase(it);
  return {};
}

Result<int> ReadAllTensors(Reader& r, std::map<std::string, TensorSpec> expected) {
  const size_t total = expected.size();
  while (r.left() > 0) {
    if (auto ok = ReadTensor(r, expected); !ok) return std::unexpected(ok.error());
  }
  const int seen = static_cast<int>(total - expected.size());
  if (!expected.empty())
    return Corruption(fmt::format("truncated: {} of {} tensors present (first missing: '{}')", seen,
                                  total, expected.begin()->first));
  return seen;
}

}  // namespace podfleet::ggml_file
