// POST /v1/audio/transcriptions and GET /v1/models through a real coordinator on loopback: real
// multipart uploads (libcurl), a real SQLite file, a worker played by the client library.
#include <gtest/gtest.h>

#include <cmath>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "api/client.h"
#include "audio/audio.h"
#include "coordinator/coordinator.h"
#include "coordinator/openai_shapes.h"
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
    o.relay = false;  // origin mode: the played worker claims the upload's one job
    auto c = Coordinator::Start(o, clock_);
    ASSERT_TRUE(c) << c.error().ToString();
    coordinator_ = std::move(*c);
    http_ = MakeCurlClient(HttpClientOptions{});
  }

  MultipartReply Post(std::vector<std::pair<std::string, std::string>> fields,
                      std::string file = Wav(0, 1.0), std::string key = "sk-fleet",
                      std::string idempotency_key = "") {
    MultipartRequest r;
    if (!idempotency_key.empty()) r.headers.emplace_back("Idempotency-Key", idempotency_key);
    r.url = coordinator_->base_url() + "/v1/audio/transcriptions";
    r.bearer = std::move(key);
    r.fields = std::move(fields);
    r.file = {"file", "talk.wav", "audio/wav", std::move(file)};
    r.timeout = Millis(30'000);
    auto reply = PostMultipart(r, {});
    EXPECT_TRUE(reply) << reply.error().ToString();
    return reply ? *reply : MultipartReply{};
  }

  // A real WAV file (FFmpeg's probe must open it): `seconds` of a tone whose pitch varies with
  // `variant`, so that different variants are different audio.
  static std::string Wav(int variant = 0, double seconds = 1.0) {
    PcmAudio audio;
    audio.samples.resize(static_cast<size_t>(seconds * kSampleRate));
    for (size_t i = 0; i < audio.samples.size(); ++i)
      audio.samples[i] = 0.1f * static_cast<float>(std::sin(0.05 * (variant + 1) * i));
    return EncodeWav(audio);
  }

  // Replaces the coordinator with one on the system clock that waits 300 ms for a transcript.
  void RestartWaitingBriefly() {
    coordinator_.reset();
    CoordinatorOptions o;
    o.data_dir = dir_.path() / "data2";
    o.port = 0;
    o.api_key = "sk-fleet";
    o.transcription_wait = Millis(300);
    o.relay = false;
    coordinator_ = std::move(*Coordinator::Start(o, SystemClock::Get()));
  }

  // Registers a worker running `engine`/`model`; returns its node token.
  std::string RegisterWorker(const std::string& engine = "pocketsphinx",
                             const std::string& model = "en-us") {
    CoordinatorClient worker(coordinator_->base_url(), *http_);
    auto reg =
        worker.Register(*coordinator_->first_enrollment_token(),
                        NodeInfo{.name = engine + "-" + model, .engine = engine, .model = model});
    EXPECT_TRUE(reg) << reg.error().ToString();
    return reg ? reg->token : "";
  }

  // Plays a worker (the one registered first, else a new PocketSphinx one): claims the queued
  // job and completes it with `t`.
  void CompleteNextJob(const Transcript& t) {
    if (worker_token_.empty()) worker_token_ = RegisterWorker();
    CoordinatorClient worker(coordinator_->base_url(), *http_);
    worker.set_node_token(worker_token_);
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
  std::string worker_token_;
};

TEST_F(OpenAiRoutesTest, AnswersVerboseJsonOnceAWorkerCompletes) {
  worker_token_ = RegisterWorker();  // "language" is checked against the fleet's workers
  auto reply = std::async(std::launch::async, [&] {
    return Post({{"response_format", "verbose_json"},
                 {"timestamp_granularities[]", "word"},
                 {"timestamp_granularities[]", "segment"},
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
  // PocketSphinx has no decoder log-probabilities: null, never a made-up number. The compression
  // ratio is computed from the text.
  EXPECT_TRUE(j["segments"][0]["avg_logprob"].is_null());
  EXPECT_TRUE(j["segments"][0]["no_speech_prob"].is_null());
  EXPECT_GT(j["segments"][0]["compression_ratio"].get<double>(), 0.0);
  EXPECT_EQ(j["usage"]["seconds"], 4);
}

// Segments whose engine gave its confidence (whisper) carry it; without an explicit request for
// segments, a transcript without it leaves segments out (the Vercel AI SDK refuses nulls there).
TEST_F(OpenAiRoutesTest, VerboseJsonCarriesTheEnginesConfidence) {
  Transcript whisper = Sample();
  whisper.engine = "whisper";
  whisper.segments[0].avg_logprob = -0.31;
  whisper.segments[0].no_speech_prob = 0.02;
  whisper.segments[1].avg_logprob = -0.5;
  whisper.segments[1].no_speech_prob = 0.1;
  auto reply = std::async(std::launch::async, [&] {
    return Post({{"response_format", "verbose_json"}}, Wav(1));
  });
  CompleteNextJob(whisper);
  json j = json::parse(reply.get().body);
  ASSERT_EQ(j["segments"].size(), 2u) << j.dump();
  EXPECT_EQ(j["segments"][0]["avg_logprob"], -0.31);
  EXPECT_EQ(j["segments"][1]["no_speech_prob"], 0.1);
  EXPECT_EQ(j["segments"][1]["compression_ratio"], *CompressionRatio("general"));

  reply = std::async(std::launch::async, [&] {
    return Post({{"response_format", "verbose_json"}}, Wav(2));
  });
  CompleteNextJob(Sample());
  j = json::parse(reply.get().body);
  EXPECT_FALSE(j.contains("segments")) << j.dump();
  EXPECT_EQ(j["text"], "hello there general");
}

// A client that retries (the SDKs do, twice) or sends the same audio again waits for the job
// the first request queued.
TEST_F(OpenAiRoutesTest, RetriedUploadJoinsTheQueuedJob) {
  auto first = std::async(std::launch::async, [&] { return Post({}, Wav(3), "sk-fleet", "k1"); });
  CoordinatorClient reader(coordinator_->base_url(), *http_);
  auto queued = [&] {
    auto q = reader.GetJson("/api/queue/status");
    return q ? (*q)["transcribe_queue"]["queued"].get<int>() : -1;
  };
  for (int i = 0; i < 200 && queued() < 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto same_key =
      std::async(std::launch::async, [&] { return Post({}, Wav(4), "sk-fleet", "k1"); });
  auto same_audio = std::async(std::launch::async, [&] { return Post({}, Wav(3)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(queued(), 1);
  CompleteNextJob(Sample());
  for (auto* f : {&first, &same_key, &same_audio}) {
    const MultipartReply r = f->get();
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.headers.count("x-podfleet-episode") ? r.headers.at("x-podfleet-episode") : "", "1");
  }
  auto episodes = reader.GetJson("/api/episodes");
  ASSERT_TRUE(episodes);
  EXPECT_EQ((*episodes)["episodes"].size(), 1u) << episodes->dump();
}

TEST_F(OpenAiRoutesTest, StreamSendsDeltaThenDone) {
  auto reply = std::async(std::launch::async, [&] { return Post({{"stream", "true"}}, Wav(5)); });
  CompleteNextJob(Sample());
  const MultipartReply r = reply.get();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/event-stream");
  const std::string delta =
      "data: " + json{{"type", "transcript.text.delta"}, {"delta", "hello there general"}}.dump() +
      "\n\n";
  EXPECT_TRUE(r.body.starts_with(delta)) << r.body;
  EXPECT_NE(
      r.body.find(R"({"text":"hello there general","type":"transcript.text.done")", delta.size()),
      std::string::npos)
      << r.body;
  EXPECT_EQ(Post({{"stream", "true"}, {"response_format", "srt"}}).status, 400);
}

TEST_F(OpenAiRoutesTest, ModelAndLanguageTheFleetCannotHonourAreRefused) {
  CoordinatorClient worker(coordinator_->base_url(), *http_);
  ASSERT_TRUE(worker.Register(*coordinator_->first_enrollment_token(),
                              NodeInfo{.name = "w", .engine = "pocketsphinx", .model = "en-us"}));
  MultipartReply r = Post({{"model", "whisper/large-v3"}});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Error(r)["code"], "model_not_found");
  EXPECT_EQ(Error(r)["param"], "model");
  r = Post({{"language", "fr"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Error(r)["param"], "language");
  EXPECT_EQ(Error(r)["code"], "unsupported_language");
  EXPECT_NE(Error(r)["message"].get<std::string>().find("pocketsphinx/en-us transcribes en"),
            std::string::npos)
      << r.body;
  r = Post({{"model", "pocketsphinx/en-us"}, {"language", "de"}});
  EXPECT_EQ(Error(r)["code"], "unsupported_language");
  r = Post({{"language", "e1"}});
  EXPECT_EQ(Error(r)["param"], "language");
  CoordinatorClient reader(coordinator_->base_url(), *http_);
  EXPECT_EQ((*reader.GetJson("/api/queue/status"))["transcribe_queue"]["queued"], 0);

  auto one = reader.GetJson("/v1/models/pocketsphinx%2Fen-us");
  ASSERT_TRUE(one) << one.error().ToString();
  EXPECT_EQ((*one)["id"], "pocketsphinx/en-us");
  EXPECT_EQ((*one)["object"], "model");
  EXPECT_TRUE(reader.GetJson("/v1/models/pocketsphinx/en-us"));
  EXPECT_TRUE(reader.GetJson("/v1/models/whisper-1"));
  ClientRequest missing;
  missing.url = coordinator_->base_url() + "/v1/models/nope";
  auto m = http_->Send(missing);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 404);
  EXPECT_EQ(json::parse(m->body)["error"]["code"], "model_not_found") << m->body;
}

TEST_F(OpenAiRoutesTest, OtherFormats) {
  const std::vector<std::pair<std::string, std::string>> formats = {
      {"json", R"({"text":"hello there general","usage":{"seconds":4)"},
      {"text", "hello there general\n"},
      {"srt", "1\n00:00:00,000 --> 00:00:01,500\nhello there\n"},
      {"vtt", "WEBVTT"}};
  int variant = 10;  // different audio each time: the same audio would join the first job
  for (const auto& [format, expected] : formats) {
    auto reply = std::async(std::launch::async, [&, v = variant++] {
      return Post({{"response_format", format}}, Wav(v));
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
  const std::string url = (*grants)[0].audio_url;
  ASSERT_TRUE(
      worker.Fail((*grants)[0].lease,
                  {"http://127.0.0.1:1" + url + ": corruption: moov atom not found", true}));
  const MultipartReply r = reply.get();
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Error(r)["type"], "invalid_request_error");
  EXPECT_EQ(Error(r)["param"], "file");
  const std::string message = Error(r)["message"].get<std::string>();
  EXPECT_NE(message.find("talk.wav: corruption: moov atom"), std::string::npos) << message;
  EXPECT_EQ(message.find("/api/media"), std::string::npos) << message;
}

TEST_F(OpenAiRoutesTest, NoTranscriptInTimeIs504AndTheJobStays) {
  RestartWaitingBriefly();
  const MultipartReply r = Post({});
  EXPECT_EQ(r.status, 504);
  EXPECT_EQ(Error(r)["code"], "timeout");
  EXPECT_EQ(r.headers.at("x-should-retry"), "false");
  EXPECT_EQ(Error(r)["message"].get<std::string>().find("/api/media"), std::string::npos);
  CoordinatorClient reader(coordinator_->base_url(), *http_);
  auto q = reader.GetJson("/api/queue/status");
  ASSERT_TRUE(q);
  EXPECT_EQ((*q)["transcribe_queue"]["queued"], 1);
}

// The stream's last event when it ends without a transcript: {"error":{...}}, and no done.
json StreamError(const MultipartReply& r) {
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/event-stream");
  EXPECT_EQ(r.body.find("transcript.text.done"), std::string::npos) << r.body;
  const size_t at = r.body.rfind("data: ");
  EXPECT_NE(at, std::string::npos) << r.body;
  EXPECT_TRUE(r.body.ends_with("\n\n")) << r.body;
  json j = json::parse(r.body.substr(at + 6), nullptr, false);
  EXPECT_TRUE(j.is_object() && j.contains("error")) << r.body;
  return j.is_object() && j.contains("error") ? j["error"] : json::object();
}

TEST_F(OpenAiRoutesTest, StreamEndsWithAnErrorEventWhenTheJobFails) {
  auto reply = std::async(std::launch::async, [&] { return Post({{"stream", "true"}}, Wav(6)); });
  CoordinatorClient worker(coordinator_->base_url(), *http_);
  worker.set_node_token(RegisterWorker());
  auto grants = worker.Claim(1, Millis(10'000));
  ASSERT_TRUE(grants && grants->size() == 1);
  ASSERT_TRUE(worker.Fail((*grants)[0].lease, {"not audio: moov atom not found", true}));
  // A failure the waiter's own checks missed (it registered while the job was failing) is found
  // by its periodic re-check, which runs on the test's clock.
  for (int i = 0;
       i < 100 && reply.wait_for(std::chrono::milliseconds(20)) != std::future_status::ready; ++i)
    clock_.Advance(Millis(1'000));
  const json error = StreamError(reply.get());
  EXPECT_EQ(error["param"], "file");
  EXPECT_NE(error["message"].get<std::string>().find("moov atom"), std::string::npos) << error;
}

TEST_F(OpenAiRoutesTest, StreamEndsWithATimeoutEventWhenNoTranscriptComesInTime) {
  RestartWaitingBriefly();
  const json error = StreamError(Post({{"stream", "true"}}));
  EXPECT_EQ(error["code"], "timeout");
  EXPECT_EQ(error["message"].get<std::string>().find("/api/media"), std::string::npos) << error;
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
  EXPECT_NE(Error(r)["message"].get<std::string>().find("talk.wav: not audio"), std::string::npos);
  // Binary the sniffer cannot name goes to FFmpeg's probe, which refuses it, and leaves nothing.
  r = Post({}, std::string("\x1A\x45\xDF\xA3", 4) + std::string(3000, '\x7F'));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(Error(r)["param"], "file");
  EXPECT_EQ(Error(r)["message"].get<std::string>().find("/api/media"), std::string::npos);
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path() / "data" / "uploads"));

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

TEST_F(OpenAiRoutesTest, AModelOrLanguageSomeWorkersServeGoesOnlyToThem) {
  const std::string sphinx = RegisterWorker("pocketsphinx", "en-us");
  const std::string whisper = RegisterWorker("whisper", "base");
  auto claim = [&](const std::string& token, Millis wait) {
    CoordinatorClient worker(coordinator_->base_url(), *http_);
    worker.set_node_token(token);
    auto grants = worker.Claim(1, wait);
    EXPECT_TRUE(grants) << grants.error().ToString();
    return grants ? *grants : std::vector<WireGrant>{};
  };
  for (const auto& fields : std::vector<std::vector<std::pair<std::string, std::string>>>{
           {{"language", "fr"}}, {{"model", "whisper/base"}}}) {
    auto reply = std::async(std::launch::async, [&] { return Post(fields, Wav(fields.size())); });
    CoordinatorClient reader(coordinator_->base_url(), *http_);
    while ((*reader.GetJson("/api/queue/status"))["transcribe_queue"]["queued"] == 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_TRUE(claim(sphinx, Millis(0)).empty())
        << "PocketSphinx cannot serve " << fields[0].second;
    auto grants = claim(whisper, Millis(10'000));
    ASSERT_EQ(grants.size(), 1u);
    EXPECT_EQ(grants[0].language, fields[0].first == "language" ? "fr" : "");
    Transcript t = Sample();
    t.language = grants[0].language.empty() ? "en" : grants[0].language;
    CoordinatorClient worker(coordinator_->base_url(), *http_);
    worker.set_node_token(whisper);
    ASSERT_TRUE(worker.Complete(grants[0].lease, t));
    const MultipartReply r = reply.get();
    EXPECT_EQ(r.status, 200) << r.body;
  }
}

}  // namespace
}  // namespace podfleet
