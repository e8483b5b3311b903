#include "engines/whisper_model_file.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "engines/whisper_models.h"
#include "support/engine_util.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

std::string WriteTestModel(const TempDir& dir, const std::string& weights = "f16") {
  const std::string path = dir.File("ggml-test-" + weights + ".bin");
  RandomModelOptions options;
  options.hparams = TinyTestShape();
  options.weights = weights;
  auto bytes = WriteRandomWhisperModel(path, options);
  EXPECT_TRUE(bytes) << bytes.error().ToString();
  return path;
}

TEST(WhisperModelFile, RandomModelReadsBackWithItsShape) {
  TempDir dir;
  for (const std::string weights : {"f32", "f16", "q8_0", "q5_0", "q4_1"}) {
    auto info = InspectWhisperModel(WriteTestModel(dir, weights));
    ASSERT_TRUE(info) << weights << ": " << info.error().ToString();
    EXPECT_EQ(info->weights, weights);
    EXPECT_EQ(info->hparams.n_audio_state, 64);
    EXPECT_EQ(info->hparams.n_text_layer, 3);
    EXPECT_FALSE(info->multilingual);
    // 7 + 15 per encoder layer, 4 + 24 per decoder layer.
    EXPECT_EQ(info->tensors, 7 + 15 * 2 + 4 + 24 * 3);
  }
}

TEST(WhisperModelFile, SameSeedSameBytes) {
  TempDir dir;
  RandomModelOptions options;
  options.hparams = TinyTestShape();
  ASSERT_TRUE(WriteRandomWhisperModel(dir.File("a.bin"), options));
  ASSERT_TRUE(WriteRandomWhisperModel(dir.File("b.bin"), options));
  options.seed = 2;
  ASSERT_TRUE(WriteRandomWhisperModel(dir.File("c.bin"), options));
  EXPECT_EQ(ReadAll(dir.File("a.bin")), ReadAll(dir.File("b.bin")));
  EXPECT_NE(ReadAll(dir.File("a.bin")), ReadAll(dir.File("c.bin")));
}

TEST(WhisperModelFile, EveryTruncationIsCorruption) {
  TempDir dir;
  const std::string whole = ReadAll(WriteTestModel(dir));
  // Cuts in the header, the filters, the vocabulary, a tensor header, tensor data, and at a
  // tensor boundary near the end.
  for (size_t keep :
       {size_t{2}, size_t{20}, size_t{60}, size_t{100'000}, size_t{300'000}, whole.size() / 2,
        whole.size() - 1, whole.size() - 64 * 4, whole.size() - 64 * 4 - 52}) {
    WriteAll(dir.File("cut.bin"), whole.substr(0, keep));
    auto info = InspectWhisperModel(dir.File("cut.bin"));
    ASSERT_FALSE(info) << "kept " << keep;
    EXPECT_TRUE(info.error().code == Code::kCorruption || keep < 4) << info.error().ToString();
  }
}

TEST(WhisperModelFile, ForeignFilesAreNotModels) {
  TempDir dir;
  WriteAll(dir.File("page.bin"), "<!DOCTYPE html><html><body>Not Found</body></html>");
  auto html = InspectWhisperModel(dir.File("page.bin"));
  ASSERT_FALSE(html);
  EXPECT_EQ(html.error().code, Code::kInvalidArgument);
  WriteAll(dir.File("model.gguf"), std::string("GGUF\3\0\0\0", 8) + std::string(64, '\0'));
  auto gguf = InspectWhisperModel(dir.File("model.gguf"));
  ASSERT_FALSE(gguf);
  EXPECT_NE(gguf.error().message.find("GGUF"), std::string::npos);
  auto missing = InspectWhisperModel(dir.File("none.bin"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Code::kNotFound);
}

TEST(WhisperModelFile, DamagedHeaderOrTensorTableIsCorruption) {
  TempDir dir;
  const std::string whole = ReadAll(WriteTestModel(dir));
  std::string bad_layers = whole;
  const int32_t layers = 1'000'000;
  std::memcpy(bad_layers.data() + 4 + 4 * 4, &layers, 4);  // n_audio_layer
  WriteAll(dir.File("layers.bin"), bad_layers);
  auto a = InspectWhisperModel(dir.File("layers.bin"));
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, Code::kCorruption);

  // A tensor renamed: the first tensor's name follows the vocabulary; find it by its text.
  std::string renamed = whole;
  const auto at = renamed.find("encoder.conv1.weight");
  ASSERT_NE(at, std::string::npos);
  renamed[at] = 'X';
  WriteAll(dir.File("renamed.bin"), renamed);
  auto b = InspectWhisperModel(dir.File("renamed.bin"));
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().message.find("Xncoder.conv1.weight"), std::string::npos) << b.error().message;
}

TEST(WhisperModelFile, RealShapesMatchTheReleasedModels) {
  auto turbo = WhisperShape("large-v3-turbo");
  ASSERT_TRUE(turbo);
  EXPECT_EQ(turbo->n_audio_layer, 32);
  EXPECT_EQ(turbo->n_text_layer, 4);
  EXPECT_EQ(turbo->n_mels, 128);
  EXPECT_EQ(turbo->n_vocab, 51866);
  EXPECT_EQ(WhisperShape("base", true)->n_vocab, 51864);
  EXPECT_FALSE(WhisperShape("large-v3", true));
  EXPECT_FALSE(WhisperShape("huge"));
  for (const WhisperModelInfo& m : WhisperModels()) EXPECT_TRUE(WhisperShape(m.shape)) << m.name;
}

TEST(WhisperModelFile, UnknownWeightTypeIsRefused) {
  TempDir dir;
  RandomModelOptions options;
  options.hparams = TinyTestShape();
  options.weights = "q3_k";
  auto r = WriteRandomWhisperModel(dir.File("x.bin"), options);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
}

TEST(WhisperModels, ResolvesFilesAndNames) {
  TempDir dir;
  auto empty = ResolveWhisperModel("", dir.path());
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, Code::kInvalidArgument);
  auto missing = ResolveWhisperModel("base.en", dir.path());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Code::kNotFound);
  EXPECT_NE(missing.error().message.find("podfleet models pull base.en"), std::string::npos);
  WriteAll(dir.File("ggml-base.en.bin"), "x");
  EXPECT_EQ(*ResolveWhisperModel("base.en", dir.path()), dir.path() / "ggml-base.en.bin");
  EXPECT_EQ(*ResolveWhisperModel(dir.File("ggml-base.en.bin"), "/nonexistent"),
            dir.path() / "ggml-base.en.bin");
  EXPECT_FALSE(ResolveWhisperModel("no-such-model", dir.path()));
}

}  // namespace
}  // namespace podfleet
