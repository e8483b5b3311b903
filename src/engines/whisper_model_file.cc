#include "engines/whisper_model_file.h"

#include <fmt/format.h>

#include <array>
#include <cstring>
#include <fstream>
#include <map>
#include <vector>

namespace podfleet {
namespace {

constexpr uint32_t kGgmlMagic = 0x67676d6c;
constexpr int32_t kNfft = 201;
constexpr int32_t kQuantVersionFactor = 1000;
constexpr int32_t kQuantVersion = 2;  // GGML_QNT_VERSION of ggml 0.15

// A ggml tensor type: its id in files, elements per block and bytes per block.
struct GgmlType {
  std::string_view name;
  int32_t id;
  int32_t block;
  int32_t block_bytes;
};

constexpr GgmlType kF32{"f32", 0, 1, 4};
constexpr GgmlType kF16{"f16", 1, 1, 2};
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
};

// A file's ftype (ggml_ftype) and the tensor type of its big matrices.
struct FileType {
  int32_t ftype;
  std::string_view weights;
};
constexpr FileType kFileTypes[] = {
    {0, "f32"},  {1, "f16"},   {2, "q4_0"},  {3, "q4_1"},  {7, "q8_0"},  {8, "q5_0"},
    {9, "q5_1"}, {10, "q2_k"}, {11, "q3_k"}, {12, "q4_k"}, {13, "q5_k"}, {14, "q6_k"},
};

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

struct TensorSpec {
  std::string name;
  std::array<int64_t, 4> ne{1, 1, 1, 1};
  int n_dims = 1;
  const GgmlType* type = &kF32;

  int64_t elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  int64_t bytes() const { return elements() / type->block * type->block_bytes; }
};

TensorSpec Spec(std::string name, const GgmlType& type, std::initializer_list<int64_t> dims) {
  TensorSpec s{std::move(name), {1, 1, 1, 1}, static_cast<int>(dims.size()), &type};
  int i = 0;
  for (int64_t d : dims) s.ne[i++] = d;
  return s;
}

// The blocks shared by encoder and decoder layers: self-attention and MLP.
void AddBlock(std::vector<TensorSpec>& out, const std::string& p, int64_t s, const GgmlType& w) {
  out.push_back(Spec(p + "mlp_ln.weight", kF32, {s}));
  out.push_back(Spec(p + "mlp_ln.bias", kF32, {s}));
  out.push_back(Spec(p + "mlp.0.weight", w, {s, 4 * s}));
  out.push_back(Spec(p + "mlp.0.bias", kF32, {4 * s}));
  out.push_back(Spec(p + "mlp.2.weight", w, {4 * s, s}));
  out.push_back(Spec(p + "mlp.2.bias", kF32, {s}));
  for (std::string attn : {"attn", "cross_attn"}) {
    if (attn == "cross_attn" && p.starts_with("encoder")) break;
    out.push_back(Spec(p + attn + "_ln.weight", kF32, {s}));
    out.push_back(Spec(p + attn + "_ln.bias", kF32, {s}));
    out.push_back(Spec(p + attn + ".query.weight", w, {s, s}));
    out.push_back(Spec(p + attn + ".query.bias", kF32, {s}));
    out.push_back(Spec(p + attn + ".key.weight", w, {s, s}));
    out.push_back(Spec(p + attn + ".value.weight", w, {s, s}));
    out.push_back(Spec(p + attn + ".value.bias", kF32, {s}));
    out.push_back(Spec(p + attn + ".out.weight", w, {s, s}));
    out.push_back(Spec(p + attn + ".out.bias", kF32, {s}));
  }
}

// Every tensor whisper.cpp 1.9.1 creates for a model of shape `h` whose matrices are of type `w`.
std::vector<TensorSpec> ExpectedTensors(const WhisperHparams& h, const GgmlType& w) {
  const GgmlType& conv = w.id == kF32.id ? kF32 : kF16;
  const int64_t s = h.n_audio_state;
  const int64_t ts = h.n_text_state;
  std::vector<TensorSpec> out;
  out.push_back(Spec("encoder.positional_embedding", kF32, {s, h.n_audio_ctx}));
  out.push_back(Spec("encoder.conv1.weight", conv, {3, h.n_mels, s}));
  out.push_back(Spec("encoder.conv1.bias", kF32, {1, s}));
  out.push_back(Spec("encoder.conv2.weight", conv, {3, s, s}));
  out.push_back(Spec("encoder.conv2.bias", kF32, {1, s}));
  out.push_back(Spec("encoder.ln_post.weight", kF32, {s}));
  out.push_back(Spec("encoder.ln_post.bias", kF32, {s}));
  for (int i = 0; i < h.n_audio_layer; ++i)
    AddBlock(out, fmt::format("encoder.blocks.{}.", i), s, w);
  out.push_back(Spec("decoder.positional_embedding", kF32, {ts, h.n_text_ctx}));
  out.push_back(Spec("decoder.token_embedding.weight", w, {ts, h.n_vocab}));
  out.push_back(Spec("decoder.ln.weight", kF32, {ts}));
  out.push_back(Spec("decoder.ln.bias", kF32, {ts}));
  for (int i = 0; i < h.n_text_layer; ++i)
    AddBlock(out, fmt::format("decoder.blocks.{}.", i), ts, w);
  return out;
}

bool IsMultilingual(const WhisperHparams& h) { return h.n_vocab >= 51865; }

// Ordinary tokens in the file's vocabulary; whisper.cpp derives the special ones after them.
int32_t OrdinaryTokens(const WhisperHparams& h) { return IsMultilingual(h) ? 50257 : 50256; }

Result<void> CheckShape(const WhisperHparams& h) {
  auto bad = [](std::string_view what, int64_t v) {
    return Corruption(fmt::format("implausible {} {}", what, v));
  };
  if (h.n_vocab < 50364 || h.n_vocab > 60000) return bad("vocabulary size", h.n_vocab);
  if (h.n_audio_ctx < 1 || h.n_audio_ctx > 1500) return bad("audio context", h.n_audio_ctx);
  if (h.n_text_ctx < 1 || h.n_text_ctx > 448) return bad("text context", h.n_text_ctx);
  if (h.n_audio_state < 1 || h.n_audio_state > 8192) return bad("width", h.n_audio_state);
  if (h.n_text_state != h.n_audio_state) return bad("decoder width", h.n_text_state);
  if (h.n_audio_layer < 1 || h.n_audio_layer > 64) return bad("encoder layers", h.n_audio_layer);
  if (h.n_text_layer < 1 || h.n_text_layer > 64) return bad("decoder layers", h.n_text_layer);
  if (h.n_audio_head < 1 || h.n_audio_state % h.n_audio_head)
    return bad("encoder heads", h.n_audio_head);
  if (h.n_text_head < 1 || h.n_text_state % h.n_text_head)
    return bad("decoder heads", h.n_text_head);
  if (h.n_mels < 1 || h.n_mels > 256) return bad("mel bands", h.n_mels);
  return {};
}

// ---- writing ------------------------------------------------------------------------------------

// xorshift64*: fast and reproducible; quality is beside the point.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint64_t Next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1Dull;
  }
  // Uniform in [-scale, scale).
  float Uniform(float scale) {
    return scale * (static_cast<float>(Next() >> 40) / static_cast<float>(1 << 23) - 1.0f);
  }

 private:
  uint64_t state_;
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

std::string TokenText(int32_t i) {
  if (i < 256) return std::string(1, static_cast<char>(i));
  static constexpr std::string_view kOnsets[] = {"b", "d", "f", "g", "k", "l", "m",  "n",
                                                 "p", "r", "s", "t", "v", "z", "sh", "th"};
  static constexpr std::string_view kVowels[] = {"a", "e", "i", "o", "u", "ai", "ou", "ee"};
  std::string word = i % 3 ? " " : "";
  for (int32_t n = i; n > 0; n /= 128) {
    word += kOnsets[n % 16];
    word += kVowels[(n / 16) % 8];
  }
  return word;
}

// Fills `n` elements of `type` with small random values, in chunks, through `write`.
void WriteRandomData(Writer& w, const TensorSpec& t, float scale, Random& rng) {
  std::vector<unsigned char> buf;
  const int64_t chunk_blocks = 1 << 14;
  const int64_t blocks = t.elements() / t.type->block;
  for (int64_t done = 0; done < blocks; done += chunk_blocks) {
    const int64_t n = std::min(chunk_blocks, blocks - done);
    buf.resize(static_cast<size_t>(n * t.type->block_bytes));
    unsigned char* p = buf.data();
    for (int64_t b = 0; b < n; ++b, p += t.type->block_bytes) {
      if (t.type->id == kF32.id) {
        const float v = scale < 0 ? 1.0f : rng.Uniform(scale);
        std::memcpy(p, &v, 4);
      } else if (t.type->id == kF16.id) {
        const uint16_t v = ToHalf(rng.Uniform(scale));
        std::memcpy(p, &v, 2);
      } else {
        // A quantized block: random quants behind a small scale (and minimum, for the _1 types).
        for (int i = 0; i < t.type->block_bytes; i += 8) {
          const uint64_t r = rng.Next();
          std::memcpy(p + i, &r, std::min(8, t.type->block_bytes - i));
        }
        const uint16_t d = ToHalf(scale / 16), m = ToHalf(-scale);
        std::memcpy(p, &d, 2);
        if (t.type->name.ends_with("_1")) std::memcpy(p + 2, &m, 2);
      }
    }
    w.Bytes(buf.data(), buf.size());
  }
}

void WriteHeader(Writer& w, const WhisperHparams& h, int32_t ftype) {
  w.Put(kGgmlMagic);
  for (int32_t v : {h.n_vocab, h.n_audio_ctx, h.n_audio_state, h.n_audio_head, h.n_audio_layer,
                    h.n_text_ctx, h.n_text_state, h.n_text_head, h.n_text_layer, h.n_mels, ftype})
    w.Put(v);
  w.Put(h.n_mels);
  w.Put(kNfft);
  for (int32_t m = 0; m < h.n_mels; ++m) {
    const float centre = static_cast<float>(m + 1) * (kNfft - 1) / static_cast<float>(h.n_mels + 1);
    for (int32_t bin = 0; bin < kNfft; ++bin)
      w.Put(std::max(0.0f, 0.02f - 0.01f * std::abs(bin - centre)));
  }
  w.Put(OrdinaryTokens(h));
  for (int32_t i = 0; i < OrdinaryTokens(h); ++i) {
    const std::string text = TokenText(i);
    w.Put(static_cast<uint32_t>(text.size()));
    w.Bytes(text.data(), text.size());
  }
}

// ---- reading ------------------------------------------------------------------------------------

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
  std::string String(size_t n, std::string_view what) {
    std::string s;
    if (Reserve(static_cast<int64_t>(n), what)) {
      s.resize(n);
      in_.read(s.data(), static_cast<std::streamsize>(n));
    }
    return s;
  }
  void Skip(int64_t n, std::string_view what) {
    if (Reserve(n, what)) in_.seekg(n, std::ios::cur);
  }

 private:
  bool Reserve(int64_t n, std::string_view what) {
    if (failed()) return false;
    if (n > left()) {
      error_ = Error{Code::kCorruption, fmt::format("truncated in {} at byte {}", what, pos_)};
      return false;
    }
    pos_ += n;
    return true;
  }

  std::ifstream in_;
  const int64_t size_;
  int64_t pos_ = 0;
  Error error_{Code::kCorruption, ""};
};

Result<WhisperHparams> ReadHparams(Reader& r, int32_t& ftype) {
  WhisperHparams h;
  for (int32_t* field :
       {&h.n_vocab, &h.n_audio_ctx, &h.n_audio_state, &h.n_audio_head, &h.n_audio_layer,
        &h.n_text_ctx, &h.n_text_state, &h.n_text_head, &h.n_text_layer, &h.n_mels, &ftype})
    *field = r.Get<int32_t>("the header");
  if (r.failed()) return r.error();
  if (auto ok = CheckShape(h); !ok) return std::unexpected(ok.error());
  return h;
}

Result<void> SkipFiltersAndVocabulary(Reader& r, const WhisperHparams& h) {
  const auto n_mel = r.Get<int32_t>("the mel filters");
  const auto n_fft = r.Get<int32_t>("the mel filters");
  if (r.failed()) return r.error();
  if (n_mel < 1 || n_mel > 256 || n_fft < 1 || n_fft > 4096)
    return Corruption(fmt::format("implausible mel filter bank {} x {}", n_mel, n_fft));
  r.Skip(int64_t{n_mel} * n_fft * 4, "the mel filters");
  const auto count = r.Get<int32_t>("the vocabulary");
  if (r.failed()) return r.error();
  if (count < 0 || count > h.n_vocab)
    return Corruption(fmt::format("implausible vocabulary count {}", count));
  for (int32_t i = 0; i < count && !r.failed(); ++i) {
    const auto len = r.Get<uint32_t>("the vocabulary");
    if (len > 1024) return Corruption(fmt::format("implausible length {} of token {}", len, i));
    r.Skip(len, "the vocabulary");
  }
  if (r.failed()) return r.error();
  return {};
}

// Reads one tensor header and skips its data, checking it against the expected tensors.
Result<void> ReadTensor(Reader& r, std::map<std::string, TensorSpec>& expected) {
  const auto n_dims = r.Get<int32_t>("a tensor header");
  const auto name_len = r.Get<int32_t>("a tensor header");
  const auto type_id = r.Get<int32_t>("a tensor header");
  if (r.failed()) return r.error();
  if (n_dims < 1 || n_dims > 4 || name_len < 1 || name_len > 256)
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
  if (!type || type->id != want.type->id)
    return Corruption(
        fmt::format("tensor '{}' has type {}, expected {}", name, type_id, want.type->name));
  r.Skip(want.bytes(), fmt::format("tensor '{}'", name));
  if (r.failed()) return r.error();
  expected.erase(it);
  return {};
}

}  // namespace

Result<WhisperHparams> WhisperShape(std::string_view size, bool english_only) {
  struct Row {
    std::string_view name;
    int32_t state, heads, enc_layers, dec_layers, mels;
  };
  static constexpr Row kRows[] = {
      {"tiny", 384, 6, 4, 4, 80},          {"base", 512, 8, 6, 6, 80},
      {"small", 768, 12, 12, 12, 80},      {"medium", 1024, 16, 24, 24, 80},
      {"large-v3", 1280, 20, 32, 32, 128}, {"large-v3-turbo", 1280, 20, 32, 4, 128},
  };
  for (const Row& r : kRows) {
    if (r.name != size) continue;
    const bool large = size.starts_with("large");
    if (large && english_only) return InvalidArgument(fmt::format("no English-only {}", size));
    WhisperHparams h;
    h.n_vocab = large ? 51866 : english_only ? 51864 : 51865;
    h.n_audio_state = h.n_text_state = r.state;
    h.n_audio_head = h.n_text_head = r.heads;
    h.n_audio_layer = r.enc_layers;
    h.n_text_layer = r.dec_layers;
    h.n_mels = r.mels;
    return h;
  }
  return InvalidArgument(fmt::format("unknown Whisper size '{}'", size));
}

WhisperHparams TinyTestShape() {
  WhisperHparams h;
  h.n_vocab = 51864;
  h.n_audio_state = h.n_text_state = 64;
  h.n_audio_head = h.n_text_head = 2;
  h.n_audio_layer = 2;
  h.n_text_layer = 3;  // 2 with an English vocabulary would be taken for a distilled model
  return h;
}

Result<int64_t> WriteRandomWhisperModel(const std::filesystem::path& path,
                                        const RandomModelOptions& options) {
  const GgmlType* w = TypeByName(options.weights);
  const FileType* file_type = nullptr;
  for (const FileType& f : kFileTypes)
    if (f.weights == options.weights) file_type = &f;
  if (!w || !file_type || file_type->ftype > 9)
    return InvalidArgument(
        fmt::format("cannot write weights of type '{}' (f32, f16, q4_0, q4_1, "
                    "q5_0, q5_1, q8_0)",
                    options.weights));
  const WhisperHparams& h = options.hparams;
  if (auto ok = CheckShape(h); !ok) return InvalidArgument(ok.error().message);
  if (h.n_audio_state % w->block)
    return InvalidArgument(fmt::format("width {} is not a multiple of {}'s block of {}",
                                       h.n_audio_state, w->name, w->block));
  const int32_t ftype = file_type->ftype + (w->block > 1 ? kQuantVersion * kQuantVersionFactor : 0);
  Writer out(path);
  if (!out.ok()) return Unavailable(fmt::format("cannot write {}", path.string()));
  WriteHeader(out, h, ftype);
  Random rng(options.seed);
  for (const TensorSpec& t : ExpectedTensors(h, *w)) {
    out.Put(static_cast<int32_t>(t.n_dims));
    out.Put(static_cast<int32_t>(t.name.size()));
    out.Put(t.type->id);
    for (int i = 0; i < t.n_dims; ++i) out.Put(static_cast<int32_t>(t.ne[i]));
    out.Bytes(t.name.data(), t.name.size());
    const bool norm_weight = t.name.ends_with("ln.weight") || t.name.ends_with("ln_post.weight");
    const bool bias = t.name.ends_with(".bias");
    WriteRandomData(out, t, norm_weight ? -1.0f : bias ? 0.01f : 0.05f, rng);
  }
  if (!out.Close()) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
    return Unavailable(fmt::format("cannot write {} (disk full?)", path.string()));
  }
  return static_cast<int64_t>(std::filesystem::file_size(path));
}

Result<WhisperFileInfo> InspectWhisperModel(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return NotFound(fmt::format("{}: {}", path.string(), ec.message()));
  Reader r(path, static_cast<int64_t>(size));
  if (!r.ok()) return Unavailable(fmt::format("{}: cannot read", path.string()));
  auto fail = [&](const Error& e) {
    return std::unexpected(Error{e.code, fmt::format("{}: {}", path.string(), e.message)});
  };
  const auto magic = r.Get<uint32_t>("the header");
  if (r.failed() || magic != kGgmlMagic) {
    const bool gguf = magic == 0x46554747;
    return InvalidArgument(fmt::format(
        "{}: not a ggml Whisper model ({})", path.string(),
        gguf ? "a GGUF file; whisper.cpp reads ggml .bin files" : "wrong magic number"));
  }
  int32_t ftype = 0;
  auto h = ReadHparams(r, ftype);
  if (!h) return fail(h.error());
  const FileType* file_type = FileTypeById(ftype % kQuantVersionFactor);
  if (!file_type) return fail(Error{Code::kCorruption, fmt::format("unknown ftype {}", ftype)});
  if (auto ok = SkipFiltersAndVocabulary(r, *h); !ok) return fail(ok.error());
  std::map<std::string, TensorSpec> expected;
  for (TensorSpec& t : ExpectedTensors(*h, *TypeByName(file_type->weights)))
    expected.emplace(t.name, std::move(t));
  const size_t total = expected.size();
  while (r.left() > 0) {
    if (auto ok = ReadTensor(r, expected); !ok) return fail(ok.error());
  }
  const int seen = static_cast<int>(total - expected.size());
  if (!expected.empty())
    return fail(Error{Code::kCorruption,
                      fmt::format("truncated: {} of {} tensors present (first missing: '{}')", seen,
                                  total, expected.begin()->first)});
  return WhisperFileInfo{*h, std::string(file_type->weights), IsMultilingual(*h), seen,
                         static_cast<int64_t>(size)};
}

}  // namespace podfleet
