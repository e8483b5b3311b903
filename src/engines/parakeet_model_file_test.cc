#include "engines/parakeet_model_file.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "engines/whisper_model_file.h"
#include "engines/whisper_models.h"
#include "support/engine_util.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

std::string WriteTestModel(const TempDir& dir, const std::string& weights = "f16") {
  const std::string path = dir.File("ggml-parakeet-" + weights + ".bin");
  auto bytes = WriteRandomParakeetModel(path, {TinyParakeetShape(), weights, 1});
  EXPECT_TRUE(bytes) << bytes.error().ToString();
  return path;
}

TEST(ParakeetModelFile, RandomModelReadsBackWithItsShape) {
  TempDir dir;
  for (const std::string weights : {"f32", "f16", "q8_0", "q5_0", "q4_1"}) {
    auto info = InspectParakeetModel(WriteTestModel(dir, weights));
    ASSERT_TRUE(info) << weights << ": " << info.error().ToString();
    EXPECT_EQ(info->weights, weights);
    EXPECT_EQ(info->hparams.n_audio_state, 64);
    EXPECT_EQ(info->hparams.n_vocab, 256);
    // 12 subsampling, 29 per conformer layer, 1 + 3 per LSTM layer, 6 joint.
    EXPECT_EQ(info->tensors, 12 + 29 * 2 + 1 + 3 * 1 + 6);
  }
}

TEST(ParakeetModelFile, EveryTruncationIsCorruption) {
  TempDir dir;
  const std::string whole = ReadAll(WriteTestModel(dir));
  // Cuts in the header, the filters, the window, the vocabulary, a tensor, and just short of the
  // end.
  for (size_t keep :
       {size_t{2}, size_t{30}, size_t{100}, size_t{70'000}, size_t{132'000}, size_t{133'270},
        size_t{133'300}, whole.size() / 2, whole.size() - 1, whole.size() - 4}) {
    WriteAll(dir.File("cut.bin"), whole.substr(0, keep));
    auto info = InspectParakeetModel(dir.File("cut.bin"));
    ASSERT_FALSE(info) << "kept " << keep;
    EXPECT_TRUE(info.error().code == Code::kCorruption || keep < 4) << info.error().ToString();
  }
  // Only the header and vocabulary: parakeet.cpp would load that as an "empty model for testing".
  const size_t first_tensor = whole.find("encoder.") - 12 - 4 * 2;
  WriteAll(dir.File("empty.bin"), whole.substr(0, first_tensor));
  auto empty = InspectParakeetModel(dir.File("empty.bin"));
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error().message.find("truncated"), std::string::npos) << empty.error().message;
}

TEST(ParakeetModelFile, ForeignFilesAreRefused) {
  TempDir dir;
  WriteAll(dir.File("page.bin"), "<!DOCTYPE html><html><body>Not Found</body></html>");
  auto html = InspectParakeetModel(dir.File("page.bin"));
  ASSERT_FALSE(html);
  EXPECT_EQ(html.error().code, Code::kInvalidArgument);
  WriteAll(dir.File("model.gguf"), std::string("GGUF\3\0\0\0", 8) + std::string(64, '\0'));
  auto gguf = InspectParakeetModel(dir.File("model.gguf"));
  ASSERT_FALSE(gguf);
  EXPECT_NE(gguf.error().message.find("GGUF"), std::string::npos);
  // A ggml Whisper model has the same magic number: it is named as such.
  RandomModelOptions whisper;
  whisper.hparams = TinyTestShape();
  ASSERT_TRUE(WriteRandomWhisperModel(dir.File("whisper.bin"), whisper));
  auto w = InspectParakeetModel(dir.File("whisper.bin"));
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, Code::kInvalidArgument);
  EXPECT_NE(w.error().message.find("Whisper"), std::string::npos) << w.error().message;
  // And a Parakeet model is no Whisper model.
  EXPECT_FALSE(InspectWhisperModel(WriteTestModel(dir)));
  EXPECT_EQ(InspectParakeetModel(dir.File("none.bin")).error().code, Code::kNotFound);
}

TEST(ParakeetModelFile, DamagedFiltersOrTensorsAreCorruption) {
  TempDir dir;
  const std::string whole = ReadAll(WriteTestModel(dir));
  std::string bad_fft = whole;
  const int32_t fft = 1024;  // the filter bank no longer has n_fft / 2 + 1 bins
  std::memcpy(bad_fft.data() + 4 + 7 * 4, &fft, 4);
  WriteAll(dir.File("fft.bin"), bad_fft);
  auto a = InspectParakeetModel(dir.File("fft.bin"));
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, Code::kCorruption);
  EXPECT_NE(a.error().message.find("mel filter bank"), std::string::npos) << a.error().message;

  std::string renamed = whole;
  const auto at = renamed.find("joint.enc.weight");
  ASSERT_NE(at, std::string::npos);
  renamed[at] = 'X';
  WriteAll(dir.File("renamed.bin"), renamed);
  auto b = InspectParakeetModel(dir.File("renamed.bin"));
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().message.find("Xoint.enc.weight"), std::string::npos) << b.error().message;
}

TEST(ParakeetModelFile, RealShapeMatchesThePublishedModel) {
  const ParakeetHparams h = ParakeetTdt06bShape();
  EXPECT_EQ(h.n_audio_layer, 24);
  EXPECT_EQ(h.n_audio_state, 1024);
  EXPECT_EQ(h.n_vocab, 8192);
  EXPECT_EQ(h.n_audio_ctx, 5000);  // 50 s of 10 ms mel frames
  for (const ParakeetModelInfo& m : ParakeetModels())
    EXPECT_TRUE(m.name.starts_with("parakeet-tdt-0.6b-v3-"));
  EXPECT_NE(FindParakeetModel("parakeet-tdt-0.6b-v3-f16"), nullptr);
  TempDir dir;
  auto missing = ResolveParakeetModel("parakeet-tdt-0.6b-v3-q8_0", dir.path());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Code::kNotFound);
  EXPECT_FALSE(ResolveParakeetModel("base.en", dir.path()));  // a whisper name
}

TEST(ParakeetModelFile, UnknownWeightTypeIsRefused) {
  TempDir dir;
  auto r = WriteRandomParakeetModel(dir.File("x.bin"), {TinyParakeetShape(), "q3_k", 1});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
}

}  // namespace
}  // namespace podfleet
