// The openai engine against real HTTP servers on loopback that answer the way whisper.cpp,
// speaches, vLLM, NIM and OpenAI do (shapes from ../shared/specs/openai-transcriptions-api.md).
#include "engines/engine_openai.h"

#include <gtest/gtest.h>

#include <cmath>
#include <deque>
#include <mutex>
#include <numbers>
#include <thread>

#include "engines/chunks.h"
#include "net/http_server.h"
#include "net/multipart.h"

namespace podfleet {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono_literals::operator""s;

// One request as the server saw it.
struct Seen {
  std::string path;
  std::string auth;
  std::vector<std::pair<std::string, std::string>> fields;
  std::string file;
  std::string filename;

  std::vector<std::string> Values(std::string_view name) const {
    std::vector<std::string> out;
    for (const auto& [k, v] : fields)
      if (k == name) out.push_back(v);
    return out;
  }
};

// A transcription server whose replies are decided per request by `reply`.
class FakeServer {
 public:
  using Reply = std::function<std::optional<HttpResponse>(const Seen&, int index)>;

  explicit FakeServer(Reply reply) : reply_(std::move(reply)) {
    HttpServerOptions o;
    o.port = 0;
    auto s = HttpServer::Start(o, [this](HttpRequest r, HttpResponder respond) {
      Handle(std::move(r), std::move(respond));
    });
    EXPECT_TRUE(s);
    server_ = std::move(*s);
  }
  ~FakeServer() { server_->Stop(); }

  std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + std::string(path);
  }
  std::vector<Seen> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  void Handle(HttpRequest r, HttpResponder respond) {
    Seen s{r.path, std::string(r.Header("authorization")), {}, {}, {}};
    auto boundary = MultipartBoundary(r.Header("content-type"));
    auto parts = boundary ? ParseMultipart(r.body, *boundary) : std::unexpected(boundary.error());
    if (!parts) return respond(HttpResponse::Json(400, R"({"error":"bad multipart"})"));
    for (const MultipartPart& p : *parts) {
      if (p.is_file) {
        s.file = std::string(p.data);
        s.filename = p.filename;
      } else {
        s.fields.emplace_back(p.name, std::string(p.data));
      }
    }
    int index = 0;
    {
      std::lock_guard lock(mu_);
      seen_.push_back(s);
      index = static_cast<int>(seen_.size()) - 1;
    }
    auto answer = reply_(s, index);
    if (answer) {
      respond(std::move(*answer));
    } else {
      std::lock_guard lock(mu_);
      held_.push_back(std::move(respond));  // never answered: a hanging server
    }
  }

  Reply reply_;
  mutable std::mutex mu_;
  std::vector<Seen> seen_;
  std::vector<HttpResponder> held_;
  std::unique_ptr<HttpServer> server_;
};

// Tone bursts (1.5 s on, 1 s off) for `total`: speech-like pieces for chunking.
PcmAudio Bursts(Millis total) {
  PcmAudio audio;
  audio.samples.assign(static_cast<size_t>(ToSamples(total).count), 0.0f);
  for (size_t i = 0; i < audio.samples.size(); ++i) {
    if (i % 40'000 < 24'000)
      audio.samples[i] =
          0.3f * static_cast<float>(std::sin(2 * std::numbers::pi * 300.0 * i / kSampleRate));
  }
  return audio;
}

std::unique_ptr<Engine> Make(EngineConfig config) {
  config.name = "openai";
  auto e = MakeEngine(config);
  EXPECT_TRUE(e) << e.error().ToString();
  return e ? std::move(*e) : nullptr;
}

HttpResponse Verbose(std::string body) { return HttpResponse::Json(200, std::move(body)); }

TEST(OpenAiEngine, WhisperCppProfileAndChunkOffsets) {
  FakeServer server([](const Seen&, int) {
    return Verbose(R"({"task":"transcribe","language":"english","duration":20.0,"text":" Hello",
      "segments":[{"id":0,"text":" Hello world","start":0.0,"end":1.25,
        "words":[{"word":" Hel","start":0.0,"end":0.3},{"word":"lo","start":0.3,"end":0.5},
                 {"word":" world","start":0.6,"end":1.25}]}]})");
  });
  EngineConfig config;
  config.endpoint = server.url("/inference");
  config.max_chunk = Millis(20'000);
  auto engine = Make(config);
  ASSERT_TRUE(engine);
  const PcmAudio audio = Bursts(Millis(50'000));
  auto t = engine->Transcribe(audio, {}, {});
  ASSERT_TRUE(t) << t.error().ToString();

  const std::vector<Piece> chunks = PlanChunks(audio, Millis(20'000));
  ASSERT_GE(chunks.size(), 3u);
  const std::vector<Seen> seen = server.seen();
  ASSERT_EQ(seen.size(), chunks.size());
  EXPECT_EQ(seen[0].path, "/inference");
  EXPECT_TRUE(seen[0].Values("model").empty());  // whisper.cpp ignores it; none is sent
  EXPECT_EQ(seen[0].Values("language"), std::vector<std::string>{"en"});
  EXPECT_EQ(seen[0].Values("response_format"), std::vector<std::string>{"verbose_json"});
  EXPECT_EQ(seen[0].filename, "audio.wav");
  EXPECT_TRUE(seen[0].file.starts_with("RIFF"));
  EXPECT_EQ(t->language, "en");
  ASSERT_EQ(t->segments.size(), chunks.size());
  for (size_t i = 0; i < chunks.size(); ++i) {
    // Exact: the chunk's start in ms, rounded once, plus the server's times.
    const double begin_ms = chunks[i].begin.count * 1000.0 / kSampleRate;
    EXPECT_EQ(t->segments[i].start.count(), std::llround(begin_ms));
    EXPECT_EQ(t->segments[i].end.count(), std::llround(begin_ms + 1250));
    ASSERT_EQ(t->segments[i].words.size(), 2u);
    EXPECT_EQ(t->segments[i].words[0].text, "Hello");
    EXPECT_EQ(t->segments[i].words[1].end.count(), std::llround(begin_ms + 1250));
  }
}

TEST(OpenAiEngine, OpenAiProfileSendsModelKeyAndGranularities) {
  FakeServer server([](const Seen&, int) {
    return Verbose(R"({"language":"english","duration":2,"text":"hi",
      "segments":[{"id":0,"start":0.1,"end":0.9,"text":" hi"}],
      "words":[{"word":"hi","start":0.1,"end":0.4}]})");
  });
  EngineConfig config;
  config.endpoint = server.url("");
  config.api_key = "sk-secret";
  auto t = Make(config)->Transcribe(Bursts(Millis(3'000)), {}, {});
  ASSERT_TRUE(t) << t.error().ToString();
  const Seen s = server.seen().at(0);
  EXPECT_EQ(s.path, "/v1/audio/transcriptions");
  EXPECT_EQ(s.auth, "Bearer sk-secret");
  EXPECT_EQ(s.Values("model"), std::vector<std::string>{"whisper-1"});
  EXPECT_EQ(s.Values("timestamp_granularities[]"), (std::vector<std::string>{"segment", "word"}));
  ASSERT_EQ(t->segments.size(), 1u);
  ASSERT_EQ(t->segments[0].words.size(), 1u);
}

TEST(OpenAiEngine, NimGetsBcp47AndJsonAndMayAnswerPlainText) {
  FakeServer server(
      [](const Seen&, int) { return HttpResponse::Text(200, "hello from nim\n", "text/plain"); });
  EngineConfig config;
  config.endpoint = server.url("/v1");
  config.server_kind = "nim";
  auto t = Make(config)->Transcribe(Bursts(Millis(3'000)), {}, {});
  ASSERT_TRUE(t) << t.error().ToString();
  const Seen s = server.seen().at(0);
  EXPECT_EQ(s.path, "/v1/audio/transcriptions");
  EXPECT_EQ(s.Values("language"), std::vector<std::string>{"en-US"});
  EXPECT_EQ(s.Values("response_format"), std::vector<std::string>{"json"});
  EXPECT_TRUE(s.Values("timestamp_granularities[]").empty());
  ASSERT_EQ(t->segments.size(), 1u);
  EXPECT_EQ(t->segments[0].text, "hello from nim");
}

TEST(OpenAiEngine, RetriesWhileTheServerLoads) {
  FakeServer server([](const Seen&, int i) {
    if (i < 2) return HttpResponse::Json(503, R"({"status":"loading model"})");
    return Verbose(R"({"text":"ready now"})");
  });
  EngineConfig config;
  config.endpoint = server.url("/inference");
  auto t = Make(config)->Transcribe(Bursts(Millis(3'000)), {}, {});
  ASSERT_TRUE(t) << t.error().ToString();
  EXPECT_EQ(server.seen().size(), 3u);
  EXPECT_EQ(t->segments.at(0).text, "ready now");
}

TEST(OpenAiEngine, GivesUpWhenStillFailingAfterTheChunkTimeout) {
  FakeServer server([](const Seen&, int) {
    return HttpResponse::Json(503, R"({"error":{"message":"overloaded","type":"server_error"}})");
  });
  EngineConfig config;
  config.endpoint = server.url("");
  config.chunk_timeout = Millis(1'500);
  const auto started = Clock::now();
  auto t = Make(config)->Transcribe(Bursts(Millis(3'000)), {}, {});
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, Code::kUnavailable);
  EXPECT_NE(t.error().message.find("overloaded"), std::string::npos) << t.error().message;
  EXPECT_LT(Clock::now() - started, 5s);
  EXPECT_GE(server.seen().size(), 2u);
}

TEST(OpenAiEngine, ClientErrorsAreFinalAndCarryTheServersMessage) {
  struct Case {
    int status;
    std::string body;
    Code code;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {401, R"({"error":{"message":"Incorrect API key","type":"invalid_request_error"}})",
            Code::kPermissionDenied, "Incorrect API key"},
           {404, R"({"detail":"Model 'x' is not installed locally."})", Code::kNotFound,
            "not installed"},
           {422, R"({"detail":[{"msg":"field required"}]})", Code::kInvalidArgument,
            "field required"},
           {400, R"({"error":"failed to read audio data"})", Code::kInvalidArgument,
            "failed to read audio"}}) {
    FakeServer server([&](const Seen&, int) { return HttpResponse::Json(c.status, c.body); });
    EngineConfig config;
    config.endpoint = server.url("");
    config.model = "x";
    auto t = Make(config)->Transcribe(Bursts(Millis(3'000)), {}, {});
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error().code, c.code) << c.status;
    EXPECT_NE(t.error().message.find(c.message), std::string::npos) << t.error().message;
    EXPECT_EQ(server.seen().size(), 1u) << c.status;
  }
}

TEST(OpenAiEngine, TooLargeChunkIsHalved) {
  FakeServer server([](const Seen& s, int) {
    if (s.file.size() > 1'000'000)  // about 31 s of WAV
      return HttpResponse::Json(413, R"({"error":{"message":"Maximum content size limit"}})");
    return Verbose(R"({"text":"part","segments":[{"start":0,"end":1,"text":"part"}]})");
  });
  EngineConfig config;
  config.endpoint = server.url("");
  config.max_chunk = Millis(60'000);
  auto t = Make(config)->Transcribe(Bursts(Millis(55'000)), {}, {});
  ASSERT_TRUE(t) << t.error().ToString();
  const auto seen = server.seen();
  ASSERT_GE(seen.size(), 3u);
  EXPECT_GT(seen[0].file.size(), 1'000'000u);
  EXPECT_EQ(t->segments.size(), seen.size() - 1);
  EXPECT_LT(t->segments[0].start, t->segments[1].start);
}

TEST(OpenAiEngine, StopAbortsARequestInFlight) {
  FakeServer server([](const Seen&, int) { return std::optional<HttpResponse>(); });
  EngineConfig config;
  config.endpoint = server.url("");
  std::stop_source stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop.request_stop();
  });
  const auto started = Clock::now();
  auto t = Make(config)->Transcribe(Bursts(Millis(3'000)), {}, stop.get_token());
  stopper.join();
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().message, "cancelled");
  EXPECT_LT(Clock::now() - started, 3s);
}

TEST(OpenAiEngine, RefusesBadConfiguration) {
  EngineConfig config;
  config.name = "openai";
  EXPECT_EQ(MakeEngine(config).error().code, Code::kInvalidArgument);  // no endpoint
  config.endpoint = "ftp://x/";
  EXPECT_FALSE(MakeEngine(config));
  config.endpoint = "http://127.0.0.1:1/";
  config.server_kind = "whisperx";
  EXPECT_FALSE(MakeEngine(config));
  config.server_kind = "speaches";  // needs a model
  EXPECT_FALSE(MakeEngine(config));
  config.model = "Systran/faster-whisper-small";
  EXPECT_TRUE(MakeEngine(config));
}

}  // namespace
}  // namespace podfleet
