// POST /v1/audio/transcriptions and GET /v1/models through a real coordinator on loopback: real
// multipart uploads (libcurl), a real SQLite file, a worker played by the client library.
#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>

#include "api/client.h"
#include "coordinator/coordinator.h"
#include "engines/multipart_post.h"
#include "support/manual_clock.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

using nlohmann::json;

class OpenAiRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CoordinatorOptions o;
    o.data_dir = dir_.path() / "data";
    o.port = 0;
    o.feed_interval = Millis(3'600'000);
    o.api_key = "sk-fleet";
    o.transcription_wait = Millis(20'000);
    auto c = Coordinator::Start(o, clock_);
    ASSERT_TRUE(c) << c.error().ToString();
    coordinator_ = std::move(*c);
    http_ = MakeCurlClient(HttpClientOptions{});
  }

  MultipartReply Post(std::vector<std::pair<std::string, std::string>> fields,
                      std::string file = Wav(), std::string key = "sk-fleet") {
    MultipartRequest r;
    r.url = coordinator_->base_url() + "/v1/audio/transcriptions";
    r.bearer = std::move(key);
    r.fields = std::move(fields);
    r.file = {"file", "talk.wav", "audio/wav", std::move(file)};
    r.timeout = Millis(30'000);
    auto reply = PostMultipart(r, {});
    EXPECT_TRUE(reply) << reply.error().ToString();
    return reply ? *reply : MultipartReply{};
  }

  static std::string Wav() {
    std::string wav = "RIFF";
    wav += std::string("\x24\x00\x00\x00WAVEfmt ", 12);
    return wav + std::string(2000, '\0');
  }

  // Plays a worker: claims the queued job and completes it with `t`.
  void CompleteNextJob(const Transcript& t) {
    CoordinatorClient worker(coordinator_->base_url(), *http_);
    NodeInfo info;
    info.name = "w";
    info.engine = "pocketsphinx";
    info.model = "en-us";
    auto reg = worker.Register(*coordinator_->first_enrollment_token(), info);
    ASSERT_TRUE(reg);
    worker.set_node_token(reg->token);
    auto grants = worker.Claim(1, Millis(10'000));
    ASSERT_TRUE(grants && grants->size() == 1);
    ASSERT_TRUE(worker.Complete((*grants)[0].lease, t));
  }

  static Transcript Sample() {
    Transcript t;
    t.language = "en";
    t.engine = "pocketsphinx";
    t.model = "en-us";
    t.audio_duration = Millis(4'000);
    t.segments = {
        {Millis(0),
         Millis(1'500),
         "hello there",
         {},
         {{Millis(0), Millis(600), "hello", 0.9f}, {Millis(700), Millis(1'500), "there", 0.8f}}},
        {Millis(2'000), Millis(3'250), "general", {}, {}}};
    return t;
  }

  static json Error(const MultipartReply& r) {
    json j = json::parse(r.body, nullptr, false);
    EXPECT_TRUE(j.is_object() && j.contains("error")) << r.body;
    return j.is_object() && j.contains("error") ? j["error"] : json::object();
  }

  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<Coordinator> coordinator_;
  std::unique_ptr<HttpClient> http_;
};

TEST_F(OpenAiRoutesTest, AnswersVerboseJsonOnceAWorkerCompletes) {
  auto reply = std::async(std::launch::async, [&] {
    return Post({{"response_format", "verbose_json"},
                 {"timestamp_granularities[]", "word"},
                 {"model", "whisper-1"},
                 {"language", "en"}});
  });
  CompleteNextJob(Sample());
  const MultipartReply r = reply.get();
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["task"], "transcribe");
  EXPECT_EQ(j["language"], "english");
  EXPECT_EQ(j["duration"], 4.0);
  EXPECT_EQ(j["text"], "hello there general");
  ASSERT_EQ(j["segments"].size(), 2u);
  EXPECT_EQ(j["segments"][1]["start"], 2.0);
  EXPECT_EQ(j["segments"][1]["end"], 3.25);
  ASSERT_EQ(j["words"].size(), 2u);
  EXPECT_EQ(j["words"][1]["word"], "there");
  EXPECT_EQ(j["words"][1]["start"], 0.7);
}

TEST_F(OpenAiRoutesTest, OtherFormats) {
  const std::vector<std::pair<std::string, std::string>> formats = {
      {"json", R"({"text":"hello there general"})"},
      {"text", "hello there general\n"},
      {"srt", "1\n00:00:00,000 --> 00:00:01,500\nhello there\n"},
      {"vtt", "WEBVTT"}};
  for (const auto& [format, expected] : formats) {
    auto reply = std::async(std::launch::async, [&] {
      return Post({{"response_format", format}});
    });
    CompleteNextJob(Sample());
    const MultipartReply r = reply.get();
    EXPECT_EQ(r.status, 200) << format;
    EXPECT_NE(r.body.find(expected), std::string::npos) << format << ": " << r.body;
  }
}

TEST_F(OpenAiRoutesTest, QueuedAheadOfFeedEpisodes) {
  CoordinatorClient admin(coordinator_->base_url(), *http_);
  admin.set_admin_token(*coordinator_->first_admin_token());
  ASSERT_TRUE(admin.PostJson("/api/episodes", {{"url", "http://example.org/a.mp3"}}));
  // The admin token is accepted as well as the API key.
  auto reply = std::async(std::launch::async,
                          [&] { return Post({}, Wav(), *coordinator_->first_admin_token()); });
  // The upload is queued after the feed episode but claimed first.
  for (int i = 0; i < 100; ++i) {
    auto q = admin.GetJson("/api/queue/status");
    if (q && (*q)["transcribe_queue"]["queued"] == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CoordinatorClient worker(coordinator_->base_url(), *http_);
  auto reg = worker.Register(*coordinator_->first_enrollment_token(), NodeInfo{.name = "w"});
  ASSERT_TRUE(reg);
  worker.set_node_token(reg->token);
  auto grants = worker.Claim(1, Millis(0));
  ASSERT_TRUE(grants && grants->size() == 1);
  EXPECT_TRUE((*grants)[0].audio_url.find("/api/media/") != std::string::npos)
      << (*grants)[0].audio_url;
  ASSERT_TRUE(worker.Complete((*grants)[0].lease, Sample()));
  EXPECT_EQ(reply.get().status, 200);
}

TEST_F(OpenAiRoutesTest, PermanentFailureIsInvalidRequest) {
  auto reply = std::async(std::launch::async, [&] { return Post({}); });
  CoordinatorClient worker(coordinator_->base_url(), *http_);
  auto reg = worker.Register(*coordinator_->first_enrollment_token(), NodeInfo{.name = "w"});
  ASSERT_TRUE(reg);
  worker.set_node_token(reg->token);
  auto grants = worker.Claim(1, Millis(10'000));
  ASSERT_TRUE(grants && grants->size() == 1);
  ASSERT_TRUE(worker.Fail((*grants)[0].lease, {"corruption: moov atom not found", true}));
  const MultipartReply r = reply.get();
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Error(r)["type"], "invalid_request_error");
  EXPECT_NE(Error(r)["message"].get<std::string>().find("moov atom"), std::string::npos);
}

TEST_F(OpenAiRoutesTest, NoTranscriptInTimeIs504AndTheJobStays) {
  coordinator_.reset();
  CoordinatorOptions o;
  o.data_dir = dir_.path() / "data2";
  o.port = 0;
  o.api_key = "sk-fleet";
  o.transcription_wait = Millis(300);
  coordinator_ = std::move(*Coordinator::Start(o, SystemClock::Get()));
  const MultipartReply r = Post({});
  EXPECT_EQ(r.status, 504);
  EXPECT_EQ(Error(r)["code"], "timeout");
  CoordinatorClient reader(coordinator_->base_url(), *http_);
  auto q = reader.GetJson("/api/queue/status");
  ASSERT_TRUE(q);
  EXPECT_EQ((*q)["transcribe_queue"]["queued"], 1);
}

TEST_F(OpenAiRoutesTest, RefusalsInOpenAiShape) {
  MultipartReply r = Post({}, Wav(), "sk-wrong");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Error(r)["code"], "invalid_api_key");
  r = Post({}, Wav(), "");
  EXPECT_EQ(r.status, 401);

  r = Post({{"response_format", "diarized_json"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Error(r)["type"], "invalid_request_error");
  r = Post({{"timestamp_granularities[]", "letter"}});
  EXPECT_EQ(r.status, 400);
  r = Post({}, "<html><body>Not Found</body></html>");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Error(r)["param"], "file");
  EXPECT_NE(Error(r)["message"].get<std::string>().find("not audio"), std::string::npos);

  ClientRequest raw;
  raw.method = "POST";
  raw.url = coordinator_->base_url() + "/v1/audio/transcriptions";
  raw.headers.emplace_back("Authorization", "Bearer sk-fleet");
  raw.content_type = "multipart/form-data; boundary=xyz";
  raw.body =
      "--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\nRIFF";
  auto unterminated = http_->Send(raw);
  ASSERT_TRUE(unterminated);
  EXPECT_EQ(unterminated->status, 400);
  EXPECT_NE(unterminated->body.find("multipart"), std::string::npos);
  raw.content_type = "application/json";
  raw.body = "{}";
  auto json_body = http_->Send(raw);
  ASSERT_TRUE(json_body);
  EXPECT_EQ(json_body->status, 400);

  CoordinatorClient reader(coordinator_->base_url(), *http_);
  auto q = reader.GetJson("/api/queue/status");
  ASSERT_TRUE(q);
  EXPECT_EQ((*q)["transcribe_queue"]["queued"], 0) << "a refused request queued a job";
}

TEST_F(OpenAiRoutesTest, ModelsListsTheFleet) {
  CoordinatorClient reader(coordinator_->base_url(), *http_);
  CoordinatorClient worker(coordinator_->base_url(), *http_);
  ASSERT_TRUE(worker.Register(*coordinator_->first_enrollment_token(),
                              NodeInfo{.name = "w", .engine = "pocketsphinx", .model = "en-us"}));
  auto models = reader.GetJson("/v1/models");
  ASSERT_TRUE(models) << models.error().ToString();
  EXPECT_EQ((*models)["object"], "list");
  ASSERT_EQ((*models)["data"].size(), 2u);
  EXPECT_EQ((*models)["data"][0]["id"], "podfleet");
  EXPECT_EQ((*models)["data"][1]["id"], "pocketsphinx/en-us");
}

}  // namespace
}  // namespace podfleet
