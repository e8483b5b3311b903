#include "engines/parakeet_model_file.h"

#include <fmt/format.h>

#include <cmath>
#include <map>
#include <numbers>
#include <vector>

#include "engines/ggml_file.h"

namespace podfleet {
namespace {

using ggml_file::GgmlType;
using ggml_file::kF32;
using ggml_file::kI32;
using ggml_file::Spec;
using ggml_file::TensorSpec;

constexpr int kWindow = 400;  // 25 ms at 16 kHz, NeMo's win_length

void AddConformerLayer(std::vector<TensorSpec>& out, const ParakeetHparams& h, int i,
                       const GgmlType& w) {
  const int64_t s = h.n_audio_state;
  const std::string p = fmt::format("encoder.layers.{}.", i);
  auto norm = [&](const std::string& name) {
    out.push_back(Spec(p + name + ".weight", kF32, {s}));
    out.push_back(Spec(p + name + ".bias", kF32, {s}));
  };
  norm("norm_feed_forward1");
  out.push_back(Spec(p + "feed_forward1.linear1.weight", w, {s, 4 * s}));
  out.push_back(Spec(p + "feed_forward1.linear2.weight", w, {4 * s, s}));
  norm("norm_conv");
  out.push_back(Spec(p + "conv.pointwise_conv1.weight", w, {s, 2 * s}));
  out.push_back(Spec(p + "conv.depthwise_conv.weight", kF32, {h.n_conv_kernel, s}));
  for (const char* bn : {"weight", "bias", "running_mean", "running_var"})
    out.push_back(Spec(p + "conv.batch_norm." + bn, kF32, {s}));
  out.push_back(Spec(p + "conv.batch_norm.num_batches_tracked", kI32, {1}));
  out.push_back(Spec(p + "conv.pointwise_conv2.weight", w, {s, s}));
  norm("norm_self_att");
  const int64_t head_dim = s / h.n_audio_head;
  out.push_back(Spec(p + "self_attn.pos_bias_u", kF32, {head_dim, h.n_audio_head}));
  out.push_back(Spec(p + "self_attn.pos_bias_v", kF32, {head_dim, h.n_audio_head}));
  for (const char* m : {"linear_q", "linear_k", "linear_v", "linear_out", "linear_pos"})
    out.push_back(Spec(p + "self_attn." + m + ".weight", w, {s, s}));
  norm("norm_feed_forward2");
  out.push_back(Spec(p + "feed_forward2.linear1.weight", w, {s, 4 * s}));
  out.push_back(Spec(p + "feed_forward2.linear2.weight", w, {4 * s, s}));
  norm("norm_out");
}

// Every tensor parakeet.cpp 1.9.1 creates for a model of shape `h` with big matrices of type `w`.
std::vector<TensorSpec> ExpectedTensors(const ParakeetHparams& h, const GgmlType& w) {
  const int64_t s = h.n_audio_state, ch = h.n_subsampling_channels, d = h.n_pred_dim;
  std::vector<TensorSpec> out;
  const int64_t pre = static_cast<int64_t>(h.n_mels / h.subsampling_factor) * ch;
  out.push_back(Spec("encoder.pre_encode.out.weight", w, {pre, s}));
  out.push_back(Spec("encoder.pre_encode.out.bias", kF32, {s}));
  for (int conv : {0, 2, 3, 5, 6}) {
    const bool pointwise = conv == 3 || conv == 6;
    out.push_back(Spec(fmt::format("encoder.pre_encode.conv.{}.weight", conv), kF32,
                       {pointwise ? 1 : 3, pointwise ? 1 : 3, pointwise ? ch : 1, ch}));
    out.push_back(Spec(fmt::format("encoder.pre_encode.conv.{}.bias", conv), kF32, {1, 1, ch, 1}));
  }
  for (int i = 0; i < h.n_audio_layer; ++i) AddConformerLayer(out, h, i, w);
  // Rows of 640 do not split into K-quant blocks of 256: parakeet.cpp keeps those f32.
  const GgmlType& pw = (w.block > 1 && d % w.block) ? kF32 : w;
  out.push_back(Spec("decoder.prediction.embed.weight", pw, {d, h.n_vocab + 1}));
  for (int i = 0; i < h.n_pred_layers; ++i) {
    const std::string p = "decoder.prediction.dec_rnn.lstm.";
    out.push_back(Spec(fmt::format("{}weight_ih_l{}", p, i), pw, {d, 4 * d}));
    out.push_back(Spec(fmt::format("{}weight_hh_l{}", p, i), pw, {d, 4 * d}));
    out.push_back(Spec(fmt::format("{}bias_h_l{}", p, i), kF32, {4 * d}));
  }
  const int64_t joint_out = h.n_vocab + h.n_tdt_durations + 1;
  out.push_back(Spec("joint.pred.weight", pw, {d, d}));
  out.push_back(Spec("joint.pred.bias", kF32, {d}));
  out.push_back(Spec("joint.enc.weight", w, {s, d}));
  out.push_back(Spec("joint.enc.bias", kF32, {d}));
  out.push_back(Spec("joint.joint_net.2.weight", pw, {d, joint_out}));
  out.push_back(Spec("joint.joint_net.2.bias", kF32, {joint_out}));
  return out;
}

Result<void> CheckShape(const ParakeetHparams& h) {
  auto bad = [](std::string_view what, int64_t v) {
    return Corruption(fmt::format("implausible {} {}", what, v));
  };
  if (h.n_vocab < 2 || h.n_vocab > 65536) return bad("vocabulary size", h.n_vocab);
  if (h.n_audio_ctx < 1 || h.n_audio_ctx > 100'000) return bad("audio context", h.n_audio_ctx);
  if (h.n_audio_state < 1 || h.n_audio_state > 8192) return bad("width", h.n_audio_state);
  if (h.n_audio_head < 1 || h.n_audio_state % h.n_audio_head) return bad("heads", h.n_audio_head);
  if (h.n_audio_layer < 1 || h.n_audio_layer > 128) return bad("layers", h.n_audio_layer);
  if (h.n_fft < 16 || h.n_fft > 4096 || h.n_fft % 2) return bad("FFT size", h.n_fft);
  if (h.subsampling_factor != 8) return bad("subsampling factor", h.subsampling_factor);
  if (h.n_mels < h.subsampling_factor || h.n_mels > 512) return bad("mel bands", h.n_mels);
  if (h.n_subsampling_channels < 1 || h.n_subsampling_channels > 4096)
    return bad("subsampling channels", h.n_subsampling_channels);
  if (h.n_conv_kernel < 1 || h.n_conv_kernel > 64) return bad("kernel", h.n_conv_kernel);
  if (h.n_pred_dim < 1 || h.n_pred_dim > 8192) return bad("prediction width", h.n_pred_dim);
  if (h.n_pred_layers < 1 || h.n_pred_layers > 16) return bad("LSTM layers", h.n_pred_layers);
  if (h.n_tdt_durations < 1 || h.n_tdt_durations > 64) return bad("durations", h.n_tdt_durations);
  if (h.n_max_tokens < 1 || h.n_max_tokens > 1000) return bad("tokens per frame", h.n_max_tokens);
  return {};
}

// Sentence pieces: "▁" starts a word; a few punctuation pieces, so that sentence ends occur.
std::string Piece(int32_t i) {
  if (i == 0) return "<unk>";
  static constexpr std::string_view kPunct[] = {".", ",", "?"};
  if (i <= 3) return std::string(kPunct[i - 1]);
  static constexpr std::string_view kOnsets[] = {"b", "d", "f", "k", "l", "m",  "n",  "p",
                                                 "r", "s", "t", "v", "z", "sh", "th", "w"};
  static constexpr std::string_view kVowels[] = {"a", "e", "i", "o", "u", "ai", "ou", "ee"};
  std::string piece = i % 3 == 0 ? "" : "\xE2\x96\x81";
  for (int32_t n = i; n > 0; n /= 128) {
    piece += kOnsets[n % 16];
    piece += kVowels[(n / 16) % 8];
  }
  return piece;
}

void WriteHeader(ggml_file::Writer& w, const ParakeetHparams& h, int32_t ftype) {
  w.Put(ggml_file::kMagic);
  for (int32_t v :
       {h.n_vocab, h.n_audio_ctx, h.n_audio_state, h.n_audio_head, h.n_audio_layer, h.n_mels, ftype,
        h.n_fft, h.subsampling_factor, h.n_subsampling_channels, h.n_conv_kernel, h.n_pred_dim,
        h.n_pred_layers, h.n_tdt_durations, h.n_max_tokens})
    w.Put(v);
  const int32_t n_fb = h.n_fft / 2 + 1;
  w.Put(h.n_mels);
  w.Put(n_fb);
  for (int32_t m = 0; m < h.n_mels; ++m) {
    const float centre = static_cast<float>(m + 1) * (n_fb - 1) / static_cast<float>(h.n_mels + 1);
    for (int32_t bin = 0; bin < n_fb; ++bin)
      w.Put(std::max(0.0f, 0.02f - 0.01f * std::abs(static_cast<float>(bin) - centre)));
  }
  const int32_t window = std::min(kWindow, h.n_fft);
  w.Put(window);
  for (int32_t i = 0; i < window; ++i)
    w.Put(static_cast<float>(0.5 - 0.5 * std::cos(2 * std::numbers::pi * i / window)));
  for (int32_t d = 0; d < h.n_tdt_durations; ++d) w.Put(static_cast<uint32_t>(d));
  w.Put(h.n_vocab);
  for (int32_t i = 0; i < h.n_vocab; ++i) {
    const std::string piece = Piece(i);
    w.Put(static_cast<uint32_t>(piece.size()));
    w.Bytes(piece.data(), piece.size());
  }
}

Result<ParakeetHparams> ReadHparams(ggml_file::Reader& r, int32_t& ftype) {
  ParakeetHparams h;
  for (int32_t* field :
       {&h.n_vocab, &h.n_audio_ctx, &h.n_audio_state, &h.n_audio_head, &h.n_audio_layer, &h.n_mels,
        &ftype, &h.n_fft, &h.subsampling_factor, &h.n_subsampling_channels, &h.n_conv_kernel,
        &h.n_pred_dim, &h.n_pred_layers, &h.n_tdt_durations, &h.n_max_tokens})
    *field = r.Get<int32_t>("the header");
  if (r.failed()) return r.error();
  // A ggml Whisper file has the same magic: its vocabulary of 51864+ and audio context of 1500
  // give it away.
  if (h.n_vocab >= 51864 && h.n_audio_ctx == 1500)
    return InvalidArgument("a ggml Whisper model, not Parakeet: use --engine whisper");
  if (auto ok = CheckShape(h); !ok) return std::unexpected(ok.error());
  return h;
}

Result<void> SkipPreamble(ggml_file::Reader& r, const ParakeetHparams& h) {
  const auto n_mel = r.Get<int32_t>("the mel filters");
  const auto n_fb = r.Get<int32_t>("the mel filters");
  if (r.failed()) return r.error();
  if (n_mel != h.n_mels || n_fb != h.n_fft / 2 + 1)
    return Corruption(fmt::format("mel filter bank {} x {}, expected {} x {}", n_mel, n_fb,
                                  h.n_mels, h.n_fft / 2 + 1));
  r.Skip(int64_t{n_mel} * n_fb * 4, "the mel filters");
  const auto window = r.Get<int32_t>("the window");
  if (r.failed()) return r.error();
  if (window < 1 || window > h.n_fft)
    return Corruption(fmt::format("window of {} samples for an FFT of {}", window, h.n_fft));
  r.Skip(int64_t{window} * 4, "the window");
  for (int32_t d = 0; d < h.n_tdt_durations; ++d) {
    const auto frames = r.Get<uint32_t>("the durations");
    if (!r.failed() && frames > 1000) return Corruption(fmt::format("duration {}", frames));
  }
  const auto count = r.Get<int32_t>("the vocabulary");
  if (r.failed()) return r.error();
  if (count != h.n_vocab)
    return Corruption(fmt::format("vocabulary of {} pieces, header says {}", count, h.n_vocab));
  for (int32_t i = 0; i < count && !r.failed(); ++i) {
    const auto len = r.Get<uint32_t>("the vocabulary");
    if (len > 1024) return Corruption(fmt::format("implausible length {} of piece {}", len, i));
    r.Skip(len, "the vocabulary");
  }
  if (r.failed()) return r.error();
  return {};
}

// Random values' magnitude: norm weights and variances 1 (scale < 0), biases small.
float Scale(const std::string& name) {
  static constexpr std::string_view kOnes[] = {
      "norm_feed_forward1.weight", "norm_feed_forward2.weight", "norm_conv.weight",
      "norm_self_att.weight",      "norm_out.weight",           "running_var",
      "batch_norm.weight"};
  for (std::string_view end : kOnes)
    if (name.ends_with(end)) return -1.0f;
  const bool small = name.ends_with("bias") || name.ends_with("running_mean") ||
                     name.find("pos_bias") != std::string::npos;
  return small ? 0.01f : 0.05f;
}

}  // namespace

ParakeetHparams ParakeetTdt06bShape() { return ParakeetHparams{}; }

ParakeetHparams TinyParakeetShape() {
  ParakeetHparams h;
  h.n_vocab = 256;
  h.n_audio_state = 64;
  h.n_audio_head = 2;
  h.n_audio_layer = 2;
  h.n_subsampling_channels = 8;
  h.n_pred_dim = 32;
  h.n_pred_layers = 1;
  return h;
}

Result<int64_t> WriteRandomParakeetModel(const std::filesystem::path& path,
                                         const RandomParakeetOptions& options) {
  auto w = ggml_file::WeightsForWriting(options.weights);
  if (!w) return std::unexpected(w.error());
  const ParakeetHparams& h = options.hparams;
  if (auto ok = CheckShape(h); !ok) return InvalidArgument(ok.error().message);
  const int64_t pre =
      static_cast<int64_t>(h.n_mels / h.subsampling_factor) * h.n_subsampling_channels;
  const int32_t block = w->type->block;
  if (h.n_audio_state % block || pre % block)
    return InvalidArgument(fmt::format("width {} or {} is not a multiple of {}'s block of {}",
                                       h.n_audio_state, pre, w->type->name, block));
  ggml_file::Writer out(path);
  if (!out.ok()) return Unavailable(fmt::format("cannot write {}", path.string()));
  WriteHeader(out, h, w->ftype);
  ggml_file::Random rng(options.seed);
  for (const TensorSpec& t : ExpectedTensors(h, *w->type))
    ggml_file::WriteRandomTensor(out, t, Scale(t.name), rng);
  return ggml_file::Finish(out, path);
}

Result<ParakeetFileInfo> InspectParakeetModel(const std::filesystem::path& path) {
  auto r = ggml_file::OpenModel(path, "Parakeet");
  if (!r) return std::unexpected(r.error());
  int32_t ftype = 0;
  auto h = ReadHparams(**r, ftype);
  if (!h) return ggml_file::InFile(path, h.error());
  auto w = ggml_file::WeightsOfFile(ftype);
  if (!w) return ggml_file::InFile(path, w.error());
  if (auto ok = SkipPreamble(**r, *h); !ok) return ggml_file::InFile(path, ok.error());
  std::map<std::string, TensorSpec> expected;
  for (TensorSpec& t : ExpectedTensors(*h, **w)) expected.emplace(t.name, std::move(t));
  auto seen = ggml_file::ReadAllTensors(**r, std::move(expected));
  if (!seen) return ggml_file::InFile(path, seen.error());
  return ParakeetFileInfo{*h, std::string((*w)->name), *seen, (*r)->pos()};
}

}  // namespace podfleet
