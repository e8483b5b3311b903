// podfleet_bench_relay: the coordinator's relay paying every real cost, against the ffmpeg CLI.
//
// Episodes are real files made here with ffmpeg from the project's espeak-ng test speech
// (tests/support/speech.h), looped to realistic lengths: 128 kb/s stereo 44.1 kHz MP3 and
// 96 kb/s AAC in M4A, as podcast hosts serve them. Each part is measured in the same run:
//
// 1. Baseline: the ffmpeg CLI, one process per episode, one after another, decoding to 16 kHz
//    mono and encoding Opus at the relay's settings (bitrate, complexity, frame, application).
// 2. The relay: a real coordinator (relay mode, its own data directory and HTTP server on
//    loopback, default options but the audio path) is given the same episodes at once, and
//    simulated workers (bench/support/sim_worker.h: sleeping chunk length / speed, an A5000-like
//    pod is 87x) claim ahead, prefetch, and complete every chunk over HTTP as `podfleet work`
//    does with its default prefetch depths. Reported:
//    preparation wall time and audio-seconds per wall-second and per CPU-second (the whole
//    process: coordinator and the simulated workers' HTTP clients), the ratio to the baseline,
//    first-chunk latency, CPU per audio-hour, and fleet efficiency including preparation (the
//    workers' simulated busy time over workers x wall time from adding to the last transcript).
//    Each is run three times in the same process, with the relay's audio path fixed to Opus, to
//    copy (the original's frames, audio/frame_copy.h) and left to the planner (auto); the bytes
//    the workers fetched are counted per audio-hour. The copy path's baseline is the ffmpeg CLI
//    doing its work: decoding to 16 kHz mono (to find the pauses, as the relay must) and then
//    `-c copy -f segment` at the same cuts the relay made.
// 3. A 3-hour episode (180 copies of the 55 s test speech: 166 min) added to 8 idle 87x workers:
//    first chunk leased, finished, and the speed-up against one worker's transcription time alone
//    (its audio / 87, a bound one worker cannot beat, so the speed-up is if anything understated;
//    --one-worker also runs it on one simulated worker, the same as the 8, on the auto path).
// 4. Peak memory (VmHWM) of the coordinator preparing one 1-, 3- and 12-hour episode (16 kb/s
//    mono MP3, made by stream copy), each in a fresh process: the streaming relay, against
//    decoding the whole file as the relay did before (DecodeAudioFile); and of a worker decoding
//    one relayed chunk.
//
// Usage: podfleet_bench_relay [--dir DIR] [--skip-memory] [--only-long] [--one-worker] (see
// --help). Files are kept in DIR (default /tmp/podfleet-bench-relay) between runs.
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "api/client.h"
#include "audio/audio.h"
#include "coordinator/audio_path.h"
#include "coordinator/coordinator.h"
#include "net/http_client.h"
#include "support/episodes.h"
#include "support/sim_worker.h"
#include "support/speech.h"
#include "worker/worker.h"

namespace podfleet {
namespace {

using Steady = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

using bench::CpuSeconds;
using bench::FfmpegBaseline;
using bench::FfmpegCopyBaseline;
using bench::MakeEpisode;
using bench::SimWorker;

OpusOptions RelayOpus() { return OpusOptions{}; }

// The simulated workers claim ahead and prefetch as `podfleet work` does with its defaults
// (bench/support/sim_worker.h).
bench::Policy WorkPolicy() {
  const WorkerOptions work;
  bench::Policy policy{"podfleet work"};
  policy.min_depth = work.prefetch;
  policy.max_depth = work.max_prefetch;
  policy.fetchers = work.max_prefetch;
  return policy;
}

struct RelayRun {
  double audio_s = 0;
  double first_chunk_s = 0;  // adding -> first lease
  double prepared_s = 0;     // adding -> last chunk queued
  double prepare_cpu_s = 0;  // process CPU over that time
  double done_s = 0;         // adding -> last transcript
  double efficiency = 0;     // workers' busy time / (workers x done_s)
  int64_t bytes = 0;         // fetched by the workers
  std::string path;          // the relay's audio path (/api/bandwidth), its binding limit
  std::string binding;
  std::vector<std::vector<double>> cuts;  // per file, seconds
  // Per worker, seconds from adding: its engine's first start and last end, and its chunks.
  struct Busy {
    double from = 0, to = 0, engine = 0;
    int chunks = 0;
  };
  std::vector<Busy> busy;
};

Result<RelayRun> RunRelay(const std::vector<std::filesystem::path>& files,
                          const std::vector<double>& speeds, const std::filesystem::path& data,
                          AudioPathMode path = AudioPathMode::kOpus) {
  std::filesystem::remove_all(data);
  CoordinatorOptions o;
  o.audio_path = path;
  o.data_dir = data;
  o.port = 0;
  o.allow_file_urls = true;
  o.opus = RelayOpus();
  auto c = Coordinator::Start(o, SystemClock::Get());
  if (!c) return std::unexpected(c.error());
  auto http = MakeCurlClient(HttpClientOptions{});
  CoordinatorClient admin((*c)->base_url(), *http);
  admin.set_admin_token(*(*c)->first_admin_token());
  std::vector<std::unique_ptr<SimWorker>> workers;
  for (double s : speeds) {
    workers.push_back(std::make_unique<SimWorker>((*c)->base_url(), *http, s, WorkPolicy()));
    auto reg =
        workers.back()->Register(*(*c)->first_enrollment_token(), static_cast<int>(workers.size()));
    if (!reg) return std::unexpected(reg.error());
    workers.back()->Start();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // every worker online and waiting
  RelayRun run;
  std::vector<int64_t> ids;
  const double cpu = CpuSeconds(RUSAGE_SELF);
  const auto start = Steady::now();
  for (const auto& f : files) {
    auto r =
        admin.PostJson("/api/episodes", {{"url", f.string()}, {"title", f.filename().string()}});
    if (!r) return std::unexpected(r.error());
    ids.push_back((*r)["id"].get<int64_t>());
  }
  bool prepared = false;
  while (true) {
    if (!prepared) {
      auto left = (*c)->store().ListPreparing(1, TimePoint::max());
      if (left && left->empty()) {
        prepared = true;
        run.prepared_s = Seconds(Steady::now() - start).count();
        run.prepare_cpu_s = CpuSeconds(RUSAGE_SELF) - cpu;
      }
    }
    if (prepared && workers.empty()) break;  // preparation alone
    bool done = prepared;
    for (int64_t id : ids) {
      auto e = (*c)->store().GetEpisode(EpisodeId(id));
      if (!e) return std::unexpected(e.error());
      if (e->state == EpisodeState::kFailed) return Internal("episode failed: " + e->error);
      done = done && e->state == EpisodeState::kDone;
    }
    if (done) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  run.done_s = Seconds(Steady::now() - start).count();
  if (auto b = admin.GetJson("/api/bandwidth"); b) {
    run.path = (*b)["audio_path"].get<std::string>();
    run.binding = (*b)["binding"].get<std::string>();
  }
  for (auto& w : workers) w->RequestStop();
  for (auto& w : workers) w->Stop();
  std::optional<Steady::time_point> first;
  double busy = 0;
  std::map<int64_t, std::vector<double>> cuts;
  for (auto& w : workers) {
    const bench::WorkerLog& log = w->log();
    const double busy_before = busy;
    if (!log.grants.empty() && (!first || log.grants.front() < *first)) first = log.grants.front();
    for (const bench::EngineSpan& span : log.spans) busy += Seconds(span.end - span.begin).count();
    run.bytes += log.bytes;
    if (!log.spans.empty())
      run.busy.push_back({Seconds(log.spans.front().begin - start).count(),
                          Seconds(log.spans.back().end - start).count(), busy - busy_before,
                          static_cast<int>(log.spans.size())});
    for (const auto& [episode, ends] : log.cuts)
      cuts[episode].insert(cuts[episode].end(), ends.begin(), ends.end());
  }
  for (int64_t id : ids) {
    std::vector<double> ends = cuts[id];
    std::sort(ends.begin(), ends.end());
    run.cuts.push_back(std::move(ends));
  }
  if (!workers.empty()) run.efficiency = busy / (static_cast<double>(workers.size()) * run.done_s);
  run.first_chunk_s = first ? Seconds(*first - start).count() : -1;
  for (const auto& f : files) {
    auto d = ProbeAudioDuration(f);
    if (d) run.audio_s += static_cast<double>(d->count()) / 1000.0;
  }
  return run;
}

// Peak memory of this process (VmHWM, bytes).
int64_t PeakBytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("VmHWM:")) return std::stoll(line.substr(6)) * 1024;
  return -1;
}

// The child of MeasureMemory: prepares `file` one way, prints its peak memory in MB.
int MemoryChild(const std::string& mode, const std::filesystem::path& file,
                const std::filesystem::path& out) {
  if (mode == "whole") {
    auto audio = DecodeAudioFile(file);
    if (!audio) return fmt::print(stderr, "{}\n", audio.error().ToString()), 1;
  } else if (mode == "relay") {
    auto run = RunRelay({file}, {}, out.parent_path() / "memory-data");
    if (!run) return fmt::print(stderr, "{}\n", run.error().ToString()), 1;
  } else if (mode == "chunk") {
    auto audio = DecodeAudioFile(file);
    if (!audio) return fmt::print(stderr, "{}\n", audio.error().ToString()), 1;
  }
  std::ofstream(out) << PeakBytes() / 1e6;
  return 0;
}

// Runs this program again as MemoryChild in a fresh process; its peak memory in MB.
Result<double> MeasureMemory(const std::string& mode, const std::filesystem::path& file,
                             const std::filesystem::path& dir) {
  const auto out = dir / "memory.txt";
  std::filesystem::remove(out);
  auto r = RunTool({std::filesystem::read_symlink("/proc/self/exe").string(), "--memory-child",
                    mode, file.string(), out.string()});
  if (!r) return std::unexpected(r.error());
  double mb = 0;
  std::ifstream(out) >> mb;
  return mb;
}

}  // namespace
}  // namespace podfleet

namespace podfleet {
namespace {

int Fail(const Error& e) {
  fmt::print(stderr, "bench/relay: {}\n", e.ToString());
  return 1;
}

std::string LoadNow() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return fmt::format("{} {} {}", a, b, c);
}

void PrintRun(std::string_view what, const RelayRun& r, double baseline_s) {
  fmt::print(
      "| {} | {} ({} binds) | {:.0f} | {:.1f} | {:.0f} | {:.0f} | {:.2f} | {:.2f} | {:.0f} | "
      "{:.1f} | {:.1f} | {:.3f} |\n",
      what, r.path, r.binding, r.audio_s, r.prepared_s, r.audio_s / r.prepared_s,
      r.audio_s / r.prepare_cpu_s, baseline_s > 0 ? baseline_s / r.prepared_s : 0.0,
      r.first_chunk_s, r.prepare_cpu_s / (r.audio_s / 3600),
      static_cast<double>(r.bytes) / 1e6 / (r.audio_s / 3600), r.done_s, r.efficiency);
  std::fflush(stdout);
}

// The audio paths run, in this order (--paths).
std::vector<std::pair<AudioPathMode, std::string>> modes = {
    {AudioPathMode::kOpus, "opus"}, {AudioPathMode::kCopy, "copy"}, {AudioPathMode::kAuto, "auto"}};

struct FleetChoice {
  bool podcast = true;      // the 3 episodes against the ffmpeg CLI
  bool one_worker = false;  // the 3-hour episode on one worker too
};

int FleetPart(const std::filesystem::path& dir, const FleetChoice& choice);
int MemoryPart(const std::filesystem::path& dir, const std::vector<int>& hours);

int Main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      fmt::print(
          "usage: {} [--dir DIR] [--paths opus,copy,auto] [--memory-hours H[,H...]] "
          "[--skip-memory] [--only-memory] [--only-long] [--one-worker]\n"
          "  --only-long   only the 3-hour episode on 8 workers (no baselines, no 3 episodes)\n"
          "  --one-worker  also the 3-hour episode on one worker, auto path (about 2 minutes)\n",
          argv[0]);
      return 0;
    }
  }
  if (argc == 5 && std::string_view(argv[1]) == "--memory-child")
    return MemoryChild(argv[2], argv[3], argv[4]);
  std::filesystem::path dir = "/tmp/podfleet-bench-relay";
  std::vector<int> memory_hours = {1, 3, 12};
  bool fleet = true;
  FleetChoice choice;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--dir" && i + 1 < argc) dir = argv[++i];
    if (arg == "--skip-memory") memory_hours.clear();
    if (arg == "--only-memory") fleet = false;
    if (arg == "--only-long") choice.podcast = false;
    if (arg == "--one-worker") choice.one_worker = true;
    if (arg == "--paths" && i + 1 < argc) {
      modes.clear();
      for (char* p = std::strtok(argv[++i], ","); p; p = std::strtok(nullptr, ",")) {
        auto mode = ParseAudioPathMode(p);
        if (!mode) return Fail(mode.error());
        modes.emplace_back(*mode, p);
      }
    }
    if (arg == "--memory-hours" && i + 1 < argc) {
      memory_hours.clear();
      for (char* h = std::strtok(argv[++i], ","); h; h = std::strtok(nullptr, ","))
        memory_hours.push_back(std::atoi(h));
    }
  }
  std::filesystem::create_directories(dir);
  const OpusOptions o = RelayOpus();
  fmt::print(
      "bench/relay: {} cores, load average {} at start; Opus {} b/s, complexity {}, "
      "{} ms frames, {}; workers keep {} to {} jobs ahead\n\n",
      std::thread::hardware_concurrency(), LoadNow(), o.bitrate, o.complexity, o.frame_ms,
      o.application, WorkPolicy().min_depth, WorkPolicy().max_depth);
  if (fleet)
    if (int rc = FleetPart(dir, choice); rc != 0) return rc;
  return MemoryPart(dir, memory_hours);
}

// The 3 episodes against the ffmpeg CLI; `three` gets each path's run.
int PodcastPart(const std::filesystem::path& dir, std::map<std::string, RelayRun>& three) {
  std::vector<std::filesystem::path> podcast;
  for (auto [kind, minutes] : {std::pair{"mp3", 30}, {"mp3", 15}, {"m4a", 20}}) {
    auto f = MakeEpisode(dir, kind, minutes);
    if (!f) return Fail(f.error());
    podcast.push_back(*f);
  }
  auto base = FfmpegBaseline(podcast, dir);
  if (!base) return Fail(base.error());
  double audio_s = 0;
  for (const auto& f : podcast)
    audio_s += static_cast<double>(ProbeAudioDuration(f)->count()) / 1e3;
  fmt::print(
      "ffmpeg CLI baseline (one process per episode, decode + Opus at the same settings): "
      "{:.0f} s of audio in {:.1f} s wall, {:.1f} s CPU: {:.0f}x realtime, {:.0f} "
      "audio-s per CPU-s\n",
      audio_s, base->first, base->second, audio_s / base->first, audio_s / base->second);
  for (const auto& [mode, name] : modes) {
    auto run = RunRelay(podcast, std::vector<double>(8, 87.0), dir / "data", mode);
    if (!run) return Fail(run.error());
    three[name] = *run;
  }
  std::vector<std::vector<double>> copy_cuts;  // the cuts of a run that copied
  for (const auto& [name, run] : three)
    if (run.path == "copy") copy_cuts = run.cuts;
  auto copy_base = FfmpegCopyBaseline(podcast, copy_cuts, dir);
  if (!copy_base) return Fail(copy_base.error());
  fmt::print(
      "ffmpeg CLI copy baseline (per episode: decode to 16 kHz mono to null, then -c copy -f "
      "segment at the relay's cuts): {:.1f} s wall, {:.1f} s CPU: {:.0f}x realtime, {:.0f} "
      "audio-s per CPU-s\n\n",
      copy_base->first, copy_base->second, audio_s / copy_base->first, audio_s / copy_base->second);
  fmt::print(
      "| run | path chosen | audio s | prepared in s | audio-s / wall-s | audio-s / CPU-s | vs "
      "ffmpeg CLI (same path) | first chunk leased s | CPU s per audio-hour | MB per audio-hour "
      "| all done s | fleet efficiency |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const auto& [mode, name] : modes) {
    const RelayRun& r = three[name];
    PrintRun(fmt::format("2 MP3 + 1 M4A (65 min) at once, 8 workers at 87x, --audio-path {}", name),
             r, r.path == "copy" ? copy_base->first : base->first);
  }
  return 0;
}

int FleetPart(const std::filesystem::path& dir, const FleetChoice& choice) {
  std::map<std::string, RelayRun> three;
  if (choice.podcast)
    if (int rc = PodcastPart(dir, three); rc != 0) return rc;
  auto long_file = MakeEpisode(dir, "mp3", 180);
  if (!long_file) return Fail(long_file.error());
  std::map<std::string, RelayRun> one;
  for (const auto& [mode, name] : modes) {
    auto run = RunRelay({*long_file}, std::vector<double>(8, 87.0), dir / "data", mode);
    if (!run) return Fail(run.error());
    one[name] = *run;
    PrintRun(fmt::format("one 3 h MP3, 8 idle workers at 87x, --audio-path {}", name), *run, 0);
  }
  fmt::print("\n");
  for (const auto& [mode, name] : modes) {
    const RelayRun& r = one[name];
    fmt::print(
        "3-hour episode on 8 workers, --audio-path {} ({}): first chunk leased {:.2f} s after "
        "adding, done in {:.1f} s; one worker alone needs at least {:.1f} s (its audio / 87): "
        "{:.2f}x faster, preparation included\n",
        name, r.path, r.first_chunk_s, r.done_s, r.audio_s / 87.0, r.audio_s / 87.0 / r.done_s);
    std::string each;
    for (const RelayRun::Busy& b : r.busy)
      each += fmt::format(" {:.2f}-{:.2f} ({}, {:.2f})", b.from, b.to, b.chunks, b.engine);
    fmt::print("  each worker's engine from adding, s (chunks, busy s):{}\n", each);
  }
  if (choice.one_worker) {
    auto run = RunRelay({*long_file}, {87.0}, dir / "data", AudioPathMode::kAuto);
    if (!run) return Fail(run.error());
    fmt::print(
        "3-hour episode on one worker at 87x, --audio-path auto ({}): done in {:.1f} s (bound "
        "{:.1f} s); 8 workers on auto were {:.2f}x faster\n",
        run->path, run->done_s, run->audio_s / 87.0,
        one.contains("auto") ? run->done_s / one["auto"].done_s : 0.0);
  }
  for (const auto& [mode, name] : modes) {
    if (!three.contains(name)) continue;
    const double relay_speed = three[name].audio_s / three[name].prepared_s;
    for (auto [fleet, consumes] : {std::pair{"seed fleet (87,87,15,1) + one H200-like 393x", 583.0},
                                   {"24 A5000-like pods at 87x", 24 * 87.0}}) {
      fmt::print(
          "--audio-path {}: {} consumes {:.0f}x: this relay feeds it at {:.0f}x, {:.2f} of its "
          "speed\n",
          name, fleet, consumes, relay_speed, std::min(1.0, relay_speed / consumes));
    }
  }
  fmt::print("load average at the end: {}\n", LoadNow());
  return 0;
}

int MemoryPart(const std::filesystem::path& dir, const std::vector<int>& hours) {
  if (hours.empty()) return 0;
  fmt::print(
      "\nPeak memory (VmHWM, MB), 16 kb/s mono MP3, each in a fresh process:\n\n"
      "| episode | relay, streaming | decoded whole (the relay before) | worker, one relayed "
      "chunk |\n|---|---|---|---|\n");
  for (int h : hours) {
    const int minutes = h * 60;
    auto f = MakeEpisode(dir, "lowrate", minutes);
    if (!f) return Fail(f.error());
    auto relay = MeasureMemory("relay", *f, dir);
    if (!relay) return Fail(relay.error());
    std::filesystem::path chunk;
    for (const auto& e : std::filesystem::directory_iterator(dir / "memory-data" / "relay"))
      if (chunk.empty() || e.file_size() > std::filesystem::file_size(chunk)) chunk = e.path();
    auto worker = MeasureMemory("chunk", chunk, dir);
    auto whole = MeasureMemory("whole", *f, dir);
    if (!whole || !worker) return Fail(!whole ? whole.error() : worker.error());
    fmt::print("| {} h | {:.0f} | {:.0f} | {:.0f} |\n", minutes / 60, *relay, *whole, *worker);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace podfleet

int main(int argc, char** argv) { return podfleet::Main(argc, argv); }
