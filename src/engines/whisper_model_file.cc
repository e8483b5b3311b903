#include "engines/whisper_model_file.h"

#include <fmt/format.h>

#include <array>
#include <cstring>
#include <fstream>
#include <map>
#include <vector>

#include "engines/ggml_file.h"

namespace podfleet {
namespace {

using ggml_file::GgmlType;
using ggml_file::kF16;
using ggml_file::kF32;
using ggml_file::Spec;
using ggml_file::TensorSpec;

constexpr int32_t kNfft = 201;

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

void WriteHeader(ggml_file::Writer& w, const WhisperHparams& h, int32_t ftype) {
  w.Put(ggml_file::kMagic);
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

Result<WhisperHparams> ReadHparams(ggml_file::Reader& r, int32_t& ftype) {
  WhisperHparams h;
  for (int32_t* field :
       {&h.n_vocab, &h.n_audio_ctx, &h.n_audio_state, &h.n_audio_head, &h.n_audio_layer,
        &h.n_text_ctx, &h.n_text_state, &h.n_text_head, &h.n_text_layer, &h.n_mels, &ftype})
    *field = r.Get<int32_t>("the header");
  if (r.failed()) return r.error();
  if (auto ok = CheckShape(h); !ok) return std::unexpected(ok.error());
  return h;
}

Result<void> SkipFiltersAndVocabulary(ggml_file::Reader& r, const WhisperHparams& h) {
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
  auto w = ggml_file::WeightsForWriting(options.weights);
  if (!w) return std::unexpected(w.error());
  const WhisperHparams& h = options.hparams;
  if (auto ok = CheckShape(h); !ok) return InvalidArgument(ok.error().message);
  if (h.n_audio_state % w->type->block)
    return InvalidArgument(fmt::format("width {} is not a multiple of {}'s block of {}",
                                       h.n_audio_state, w->type->name, w->type->block));
  ggml_file::Writer out(path);
  if (!out.ok()) return Unavailable(fmt::format("cannot write {}", path.string()));
  WriteHeader(out, h, w->ftype);
  ggml_file::Random rng(options.seed);
  for (const TensorSpec& t : ExpectedTensors(h, *w->type)) {
    const bool norm_weight = t.name.ends_with("ln.weight") || t.name.ends_with("ln_post.weight");
    const bool bias = t.name.ends_with(".bias");
    ggml_file::WriteRandomTensor(out, t, norm_weight ? -1.0f : bias ? 0.01f : 0.05f, rng);
  }
  return ggml_file::Finish(out, path);
}

Result<WhisperFileInfo> InspectWhisperModel(const std::filesystem::path& path) {
  auto r = ggml_file::OpenModel(path, "Whisper");
  if (!r) return std::unexpected(r.error());
  int32_t ftype = 0;
  auto h = ReadHparams(**r, ftype);
  if (!h) return ggml_file::InFile(path, h.error());
  auto w = ggml_file::WeightsOfFile(ftype);
  if (!w) return ggml_file::InFile(path, w.error());
  if (auto ok = SkipFiltersAndVocabulary(**r, *h); !ok) return ggml_file::InFile(path, ok.error());
  std::map<std::string, TensorSpec> expected;
  for (TensorSpec& t : ExpectedTensors(*h, **w)) expected.emplace(t.name, std::move(t));
  auto seen = ggml_file::ReadAllTensors(**r, std::move(expected));
  if (!seen) return ggml_file::InFile(path, seen.error());
  return WhisperFileInfo{*h, std::string((*w)->name), IsMultilingual(*h), *seen, (*r)->pos()};
}

}  // namespace podfleet
