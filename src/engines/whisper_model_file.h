// ggml Whisper model files: checking one before whisper.cpp reads it, and writing random-weight
// ones for tests and benchmarks. Independent of whisper.cpp itself (no link to it).
//
// The format ("ggml" container, little-endian), as whisper_model_load in whisper.cpp 1.9.1 reads
// it:
//   1. uint32 magic 0x67676d6c ("ggml");
//   2. 11 int32 hparams: n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer,
//      n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, ftype (weight type of the big
//      matrices: 0 f32, 1 f16, 2 q4_0, 3 q4_1, 7 q8_0, 8 q5_0, 9 q5_1, 10-14 q2_k..q6_k; quantized
//      files add 1000 x the quantization version);
//   3. mel filters: int32 n_mel, int32 n_fft (201), n_mel x n_fft float32;
//   4. vocabulary: int32 count, then per token uint32 length and its bytes (ordinary tokens only;
//      whisper.cpp derives the special ones; n_vocab >= 51865 means multilingual);
//   5. tensors to the end of the file: int32 n_dims, int32 name length, int32 ggml type, n_dims
//      int32 dims (fastest first), the name, the raw data. Every tensor the model needs appears
//      exactly once, with its shape, and the type whisper.cpp expects for it (f32 for biases,
//      norms and positional embeddings; f16 for the convolutions of a non-f32 model; the
//      ftype's type for the attention and MLP matrices and the token embedding).
//
// whisper.cpp's loader trusts the file: a truncated header or a damaged dimension can make it
// allocate wildly or read past its arrays. InspectWhisperModel checks everything the loader relies
// on, reading only headers, so a bad file is a clear error instead.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/error.h"

namespace podfleet {

struct WhisperHparams {
  int32_t n_vocab = 51865;
  int32_t n_audio_ctx = 1500;
  int32_t n_audio_state = 384;
  int32_t n_audio_head = 6;
  int32_t n_audio_layer = 4;
  int32_t n_text_ctx = 448;
  int32_t n_text_state = 384;
  int32_t n_text_head = 6;
  int32_t n_text_layer = 4;
  int32_t n_mels = 80;
};

// The shapes of OpenAI's released models by size name: "tiny", "base", "small", "medium",
// "large-v3", "large-v3-turbo"; `english_only` gives the .en vocabulary (none exists for the
// large ones, kInvalidArgument). kInvalidArgument for an unknown size.
Result<WhisperHparams> WhisperShape(std::string_view size, bool english_only = false);

// A model small enough for unit tests (2 encoder and 3 decoder layers of width 64, about 8 MB in
// f16), English-only, with the real context lengths so audio is windowed as by real models.
WhisperHparams TinyTestShape();

struct RandomModelOptions {
  WhisperHparams hparams;
  std::string weights = "f16";  // "f32", "f16", "q4_0", "q4_1", "q5_0", "q5_1" or "q8_0"
  uint64_t seed = 1;
};

// Writes a model of the given shape with random weights (small, so activations stay finite).
// whisper.cpp loads and runs it at the speed of a real model of that shape; its text is nonsense.
// Returns the file size. kInvalidArgument for an unknown weight type or a shape the type cannot
// hold; kUnavailable when the file cannot be written (the partial file is removed).
Result<int64_t> WriteRandomWhisperModel(const std::filesystem::path& path,
                                        const RandomModelOptions& options);

struct WhisperFileInfo {
  WhisperHparams hparams;
  std::string weights;  // "f16", "q5_0", ...
  bool multilingual = false;
  int tensors = 0;
  int64_t bytes = 0;
};

// Checks that `path` is a complete ggml Whisper model that whisper.cpp can load, reading only its
// headers. kNotFound: no such file; kInvalidArgument: not a ggml Whisper model (wrong magic, for
// example a GGUF or an HTML page); kCorruption: truncated, or its header, vocabulary or tensor
// table is inconsistent (the message says where).
Result<WhisperFileInfo> InspectWhisperModel(const std::filesystem::path& path);

}  // namespace podfleet
