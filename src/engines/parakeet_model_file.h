// ggml Parakeet TDT model files (whisper.cpp 1.9.1's parakeet.cpp): checking one before
// whisper.cpp reads it, and writing random-weight ones for tests and benchmarks. Independent of
// whisper.cpp itself (no link to it).
//
// The format ("ggml" container, little-endian, ggml_file.h), as parakeet_model_load reads it:
//   1. uint32 magic 0x67676d6c ("ggml");
//   2. 15 int32 hparams: n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer,
//      n_mels, ftype (0 f32, 1 f16, 7 q8_0, ...; quantized files add 1000 x the quantization
//      version), n_fft, subsampling_factor, n_subsampling_channels, n_conv_kernel, n_pred_dim,
//      n_pred_layers, n_tdt_durations, n_max_tokens;
//   3. mel filters: int32 n_mel (= n_mels), int32 n_fb (= n_fft / 2 + 1), n_mel x n_fb float32;
//   4. the STFT window: int32 n_window (at most n_fft), n_window float32;
//   5. the TDT durations: n_tdt_durations uint32 (frames a token may span: 0 1 2 3 4);
//   6. the SentencePiece vocabulary: int32 count (= n_vocab), then per piece uint32 length and its
//      bytes ("▁" marks a word start; the blank token is n_vocab, not stored);
//   7. tensors to the end of the file, each exactly once: 12 of the convolutional subsampling, 29
//      per conformer layer, 1 + 3 per LSTM layer of the prediction network, 6 of the joint network
//      (parakeet_tensor in whisper.cpp's src/parakeet-arch.h). The big matrices have the ftype's
//      type; norms, biases, convolution kernels of the subsampling and the depthwise convolution
//      are f32; the batch-norm counters are one 4-byte entry (a scalar in converted files).
//
// parakeet.cpp trusts the file: wrong filter sizes are only assert()ed (compiled out), a file
// without tensors loads as an "empty model for testing", and a short read leaves garbage. So
// InspectParakeetModel checks everything the loader relies on, reading only headers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "core/error.h"

namespace podfleet {

struct ParakeetHparams {
  int32_t n_vocab = 8192;
  int32_t n_audio_ctx = 5000;  // mel frames encoded at once with the preallocated graph
  int32_t n_audio_state = 1024;
  int32_t n_audio_head = 8;
  int32_t n_audio_layer = 24;
  int32_t n_mels = 128;
  int32_t n_fft = 512;
  int32_t subsampling_factor = 8;
  int32_t n_subsampling_channels = 256;
  int32_t n_conv_kernel = 9;
  int32_t n_pred_dim = 640;
  int32_t n_pred_layers = 2;
  int32_t n_tdt_durations = 5;
  int32_t n_max_tokens = 10;
};

// Parakeet TDT 0.6B (v2 English and v3 multilingual share this shape).
ParakeetHparams ParakeetTdt06bShape();

// A model small enough for CI (2 conformer layers of width 64, 128 mel bands, a 256-piece
// vocabulary; about 0.5 MB in f16), with the real subsampling, FFT and durations so audio is
// framed and timed as by the real model.
ParakeetHparams TinyParakeetShape();

struct RandomParakeetOptions {
  ParakeetHparams hparams;
  std::string weights = "f16";  // "f32", "f16", "q8_0", "q5_0", "q5_1", "q4_0", "q4_1"
  uint64_t seed = 1;
};

// Writes a model of the given shape with random weights: whisper.cpp loads and runs it at the
// speed of a real model of that shape; its text is nonsense. Returns the file size.
// kInvalidArgument for an unknown weight type or an implausible shape; kUnavailable when the file
// cannot be written (the partial file is removed).
Result<int64_t> WriteRandomParakeetModel(const std::filesystem::path& path,
                                         const RandomParakeetOptions& options);

struct ParakeetFileInfo {
  ParakeetHparams hparams;
  std::string weights;  // "f16", "q8_0", ...
  int tensors = 0;
  int64_t bytes = 0;
};

// Checks that `path` is a complete ggml Parakeet TDT model that whisper.cpp can load, reading only
// its headers. kNotFound: no such file; kInvalidArgument: not a ggml Parakeet model (wrong magic:
// a GGUF or an HTML page; or a ggml Whisper model); kCorruption: truncated, or a header, the
// filters, window, vocabulary or tensor table is inconsistent (the message says where).
Result<ParakeetFileInfo> InspectParakeetModel(const std::filesystem::path& path);

}  // namespace podfleet
