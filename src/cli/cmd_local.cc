// work and transcribe: the commands that run an engine on this machine.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <mutex>

#include "cli/commands.h"
#include "cli/local_common.h"
#include "engines/wer.h"
#include "net/http_client.h"
#include "transcripts/formats.h"

namespace podfleet {

std::vector<Flag> EngineFlags(EngineConfig& c) {
  return {
      StringFlag(
          "engine", &c.name,
          "speech engine: pocketsphinx, whisper, parakeet, openai, exec, or simulated (load tests "
          "only)",
          "NAME"),
      StringFlag(
          "model", &c.model,
          "engine model (pocketsphinx: model directory; whisper, parakeet: ggml file or a name "
          "from 'podfleet models list')",
          "NAME"),
      StringFlag("language", &c.language, "spoken language", "CODE"),
      IntFlag("threads", &c.threads, "engine threads (0: all cores)"),
      DoubleFlag("simulated-speed", &c.simulated_speed,
                 "simulated engine: realtime factor to pretend"),
      StringFlag("simulated-cuda", &c.simulated_cuda,
                 "simulated engine: CUDA runtime to pretend it was built for (GPU preflight tests)",
                 "VERSION"),
      StringFlag("endpoint", &c.endpoint,
                 "openai engine: server URL (.../v1/audio/transcriptions, or whisper.cpp's "
                 ".../inference)",
                 "URL"),
      StringFlag("api-key", &c.api_key, "openai engine: bearer key for the server", "KEY"),
      StringFlag("server-kind", &c.server_kind,
                 "openai engine: auto, openai, whisper.cpp, speaches, vllm or nim", "KIND"),
      StringFlag("command", &c.command,
                 "exec engine: command run per chunk (contract: doc/engines.md)", "CMD"),
      DurationFlag("max-chunk", &c.max_chunk,
                   "openai and exec engines: longest audio sent at once (cut at pauses)"),
      DurationFlag("chunk-timeout", &c.chunk_timeout,
                   "openai and exec engines: longest one chunk may take, retries included"),
      PathFlag("models-dir", &c.models_dir,
               "whisper, parakeet: where 'podfleet models pull' put models"),
      IntFlag("beam-size", &c.beam_size, "whisper: beams of beam search (0: greedy)"),
      StringFlag("prompt", &c.prompt, "whisper: initial prompt (names, spellings)"),
      IntFlag("whisper-states", &c.states,
              "whisper: chunks (and jobs) in flight on one loaded model (0: auto, by warm-up and "
              "free GPU memory)"),
      IntFlag("parakeet-states", &c.states,
              "parakeet: chunks (and jobs) in flight on one loaded model (0: auto)"),
      BoolFlag("whisper-fallback", &c.fallback,
               "whisper: decode a failed window again at higher temperatures (false: one pass)"),
      DurationFlag("whisper-chunk", &c.chunk,
                   "whisper: longest piece given to whisper.cpp at once (0: whole audio / states)"),
      BoolFlag("no-gpu", &c.no_gpu,
               "whisper, parakeet: stay on the CPU even when built with CUDA or Metal"),
      BoolFlag("require-gpu", &c.require_gpu,
               "whisper, parakeet: refuse to run without a usable GPU (always so in a CUDA build "
               "unless --no-gpu); a worker then registers blocked"),
  };
}

std::vector<Flag> WorkerFlags(WorkerOptions& o) {
  return {
      StringFlag("server", &o.server,
                 "coordinator URL, or a comma-separated list of coordinators sharing one store: "
                 "on a connection failure or a 502/503/504 the worker moves to the next, keeping "
                 "its leases (doc/scale.md)",
                 "URL[,URL...]"),
      StringFlag("token", &o.token,
                 "enrollment token (from 'podfleet serve' or 'podfleet token create')"),
      StringFlag("name", &o.name, "node name shown to the operator (default: host name)"),
      IntFlag("prefetch", &o.prefetch,
              "jobs kept downloaded and decoded ahead of the engine, at least"),
      IntFlag("max-prefetch", &o.max_prefetch,
              "jobs kept ahead at most, when fetching is slow next to the engine"),
      PathFlag("work-dir", &o.work_dir, "scratch directory and saved node identity"),
      DurationFlag("claim-wait", &o.claim_wait, "how long one claim waits for work (long poll)"),
      Int64Flag("max-jobs", &o.max_jobs, "stop after this many jobs (0: never)"),
      DurationFlag("exit-when-idle", &o.exit_when_idle,
                   "exit once nothing was held or claimable for this long (0: never)"),
      IntFlag("max-consecutive-failures", &o.max_consecutive_failures,
              "stop with an error after this many jobs in a row fail (0: off)"),
      DoubleFlag("price-per-hour", &o.price_per_hour,
                 "what this machine costs per hour in dollars (default: the coordinator's table)"),
      BoolFlag("skip-speed-probe", &o.skip_speed_probe,
               "do not time the engine on the built-in clip before registering (speed unknown)"),
  };
}

int RunWork(const Args& args) {
  WorkerOptions options;
  EngineConfig engine_config;
  HttpClientOptions http_options = WorkerHttpOptions();
  auto flags = WorkerFlags(options);
  flags.push_back(StringFlag("ca-file", &http_options.ca_file,
                             "PEM certificate of a private CA to trust for an https coordinator, "
                             "besides the system's CAs; certificates are always verified",
                             "FILE"));
  for (Flag& f : EngineFlags(engine_config)) flags.push_back(std::move(f));
  auto parsed = ParseFlags(flags, "work", args);
  if (!parsed) return Fail(parsed.error().message);
  if (parsed->help) {
    fmt::print("{}", FlagHelp(flags, "work --token TOKEN [--server URL[,URL...]] [options]",
                              "Runs a worker: claims jobs from the coordinator, transcribes them, "
                              "uploads the results."));
    return 0;
  }
  if (options.token.empty())
    return Fail("--token is required (an enrollment token from the coordinator)");
  if (auto urls = ParseCoordinatorUrls(options.server); !urls)
    return Fail("--server: " + urls.error().message);
  if (!http_options.ca_file.empty() && ::access(http_options.ca_file.c_str(), R_OK) != 0)
    return Fail("--ca-file " + http_options.ca_file + ": cannot read it");
  SignalWatcher signals(nullptr);
  auto engine = MakeEngine(engine_config);
  if (!engine) return Fail("engine: " + engine.error().ToString());
  auto http = MakeCurlClient(http_options);
  Worker worker(options, **engine, *http);
  std::thread stopper([&] {
    signals.Wait();
    worker.RequestStop();
  });
  auto stats = worker.Run();
  signals.Trigger();
  stopper.join();
  if (!stats) return Fail(stats.error().ToString());
  fmt::print(stderr, "worker: done: {} completed, {} failed, {} released, {} lost\n",
             stats->completed, stats->failed, stats->released, stats->lost);
  return 0;
}

namespace {

// Progress on stderr: a one-line bar on a terminal; when stderr is a pipe or a log, a line at
// every tenth, so a long run shows it is alive without flooding the log.
class ProgressBar {
 public:
  explicit ProgressBar(std::string label) : label_(std::move(label)), tty_(isatty(2)) {}
  void Update(double fraction) {
    std::lock_guard lock(mu_);
    if (!tty_) {
      const int tenth = static_cast<int>(fraction * 10);
      if (tenth <= printed_) return;
      printed_ = tenth;
      fmt::print(stderr, "{} {}%\n", label_, tenth * 10);
      return;
    }
    const int width = 30;
    const int filled = static_cast<int>(fraction * width);
    fmt::print(stderr, "\r{:<12} [{}{}] {:3.0f}%", label_, std::string(filled, '#'),
               std::string(width - filled, ' '), fraction * 100);
  }
  void Done() {
    if (tty_) fmt::print(stderr, "\n");
  }

 private:
  std::string label_;
  bool tty_;
  std::mutex mu_;
  int printed_ = 0;  // the last tenth printed when not on a terminal
};

// Where the transcript goes must be writable before any work is done.
Result<void> CheckWritable(const std::string& output) {
  if (output.empty()) return {};
  std::filesystem::path dir = std::filesystem::path(output).parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    return NotFound(fmt::format("cannot write {}: no such directory {}", output, dir.string()));
  if (::access(dir.c_str(), W_OK) != 0)
    return InvalidArgument(
        fmt::format("cannot write {}: {} is not writable", output, dir.string()));
  return {};
}

// A local copy of `source`: the file itself, or an http(s) URL downloaded into a temporary file
// (removed when the copy goes).
class LocalAudio {
 public:
  ~LocalAudio() {
    std::error_code ec;
    if (!temp_dir_.empty()) std::filesystem::remove_all(temp_dir_, ec);
  }
  Result<std::filesystem::path> Get(const std::string& source) {
    if (source.find("://") == std::string::npos) return std::filesystem::path(source);
    char pattern[] = "/tmp/podfleet-transcribe.XXXXXX";
    if (::mkdtemp(pattern) == nullptr) return Unavailable("cannot make a temporary directory");
    temp_dir_ = pattern;
    const std::string name =
        std::filesystem::path(source.substr(0, source.find('?'))).filename().string();
    auto http = MakeCurlClient(HttpClientOptions{});
    ProgressBar downloading("downloading");
    DownloadOptions options;
    options.progress = [&](int64_t got, int64_t total) {
      if (total > 0) downloading.Update(static_cast<double>(got) / static_cast<double>(total));
      return true;
    };
    auto got = http->Download(source, temp_dir_ / (name.empty() ? "audio" : name), options);
    downloading.Done();
    if (!got) return std::unexpected(got.error());
    return got->path;
  }

 private:
  std::filesystem::path temp_dir_;
};

}  // namespace

int RunTranscribe(const Args& args) {
  EngineConfig engine_config;
  std::string output;
  std::string format_name;
  auto flags = EngineFlags(engine_config);
  flags.push_back(
      StringFlag("output", &output, "write the transcript here (default: stdout)", "FILE"));
  flags.push_back(StringFlag("format", &format_name,
                             "txt, srt, vtt, json or md (default: from --output, else txt)",
                             "FMT"));
  Args rewritten;
  for (const std::string& a : args) rewritten.push_back(a == "-o" ? "--output" : a);
  auto parsed = ParseFlags(flags, "transcribe", rewritten);
  if (!parsed) return Fail(parsed.error().message);
  if (parsed->help || parsed->positional.size() != 1) {
    fmt::print("{}", FlagHelp(flags, "transcribe FILE|URL [-o out.srt] [options]",
                              "Transcribes one audio file (any format FFmpeg decodes; an http(s) "
                              "URL is downloaded first)\non this machine, without a server."));
    return parsed->help ? 0 : 2;
  }
  if (format_name.empty()) {
    const auto ext = std::filesystem::path(output).extension().string();
    format_name = ext.empty() ? "txt" : ext.substr(1);
  }
  auto format = ParseTranscriptFormat(format_name);
  if (!format) return Fail("unknown format '" + format_name + "' (txt, srt, vtt, json, md)");

  if (auto w = CheckWritable(output); !w) return Fail(w.error().message);
  const std::string& source = parsed->positional[0];
  LocalAudio local;
  auto path = local.Get(source);
  if (!path) return Fail(source + ": " + path.error().ToString());
  const std::string file = path->string();
  ProgressBar decoding("decoding");
  auto audio = DecodeAudioFile(file, [&](double f) {
    decoding.Update(f);
    return true;
  });
  decoding.Done();
  if (!audio) return Fail(audio.error().ToString());
  auto engine = MakeEngine(engine_config);
  if (!engine) return Fail("engine: " + engine.error().ToString());
  if (const EngineInfo info = (*engine)->info(); !info.device_problem.empty())
    return Fail("engine: " + info.device_problem);
  ProgressBar transcribing("transcribing");
  const auto started = std::chrono::steady_clock::now();
  auto transcript = (*engine)->Transcribe(*audio, [&](double f) { transcribing.Update(f); }, {});
  transcribing.Done();
  if (!transcript) return Fail(file + ": " + transcript.error().ToString());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const EngineInfo info = (*engine)->info();
  fmt::print(stderr, "{:.1f} s of audio in {:.1f} s ({:.1f}x realtime, {}{}{})\n",
             audio->duration().count() / 1000.0, seconds,
             audio->duration().count() / 1000.0 / seconds, info.name,
             info.device.empty() ? "" : " on " + info.device,
             info.cpu_variant.empty() ? "" : ", ggml CPU variant " + info.cpu_variant);

  const std::string text =
      WriteTranscript(*transcript, *format, {std::filesystem::path(file).stem().string()});
  if (output.empty()) {
    fmt::print("{}", text);
    return 0;
  }
  std::ofstream out(output, std::ios::binary);
  out << text;
  if (!out) return Fail("cannot write " + output);
  return 0;
}

}  // namespace podfleet

namespace podfleet {

int RunWer(const Args& args) {
  bool json_out = false;
  std::vector<Flag> flags = {BoolFlag("json", &json_out, "print the counts as JSON")};
  auto parsed = ParseFlags(flags, "wer", args);
  if (!parsed) return Fail(parsed.error().message);
  if (parsed->help || parsed->positional.size() != 2) {
    fmt::print(
        "{}",
        FlagHelp(flags, "wer REFERENCE_FILE HYPOTHESIS_FILE",
                 "Prints the word error rate of a transcript against the text that was spoken."));
    return parsed->help ? 0 : 2;
  }
  std::string texts[2];
  for (int i = 0; i < 2; ++i) {
    std::ifstream in(parsed->positional[i], std::ios::binary);
    if (!in) return Fail("cannot read " + parsed->positional[i]);
    texts[i].assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const WerResult r = WordErrorRate(texts[0], texts[1]);
  if (json_out) {
    fmt::print(
        "{{\"wer\":{:.4f},\"ref_words\":{},\"substitutions\":{},\"deletions\":{},\"insertions\":{}}"
        "}\n",
        r.wer, r.ref_words, r.substitutions, r.deletions, r.insertions);
  } else {
    fmt::print("WER {:.1f}% ({} words: {} substituted, {} deleted, {} inserted)\n", r.wer * 100,
               r.ref_words, r.substitutions, r.deletions, r.insertions);
  }
  return 0;
}

}  // namespace podfleet
