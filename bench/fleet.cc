// bench/fleet: a real coordinator (HTTP API, SQLite store, dispatcher, egress pacer) and N
// simulated workers in one process, under two policies measured side by side in the same run:
//
//   podfleet  long-poll claims for several jobs, prefetch depth from measured speeds
//             (worker/prefetch.h) with fetches side by side, episodes cut into chunks served as
//             24 kbps Opus by the relay (relay mode)
//   old       the Python fleet it replaces: a claim poll every 5 s, 3 prefetch slots filled by one
//             download at a time, whole episodes, the 128 kbps MP3 through the coordinator
//
// Time is scaled by K: the workload is episodes K times shorter than the real ones (a
// 10-minute chunk is 600/K s of audio), so every audio-proportional time (engine, transfer over a
// capped link) is K times shorter, and the real Opus bytes carried are those of the shortened
// chunk. Per-request costs (HTTP, SQLite commits) are not scaled: the bench overstates them K
// times, so its efficiency is a lower bound. Workers do not decode (each real worker decodes on
// its own machine, in its fetchers, overlapped with the engine); the engine is a sleep of
// audio / speed. Leases are long enough that no heartbeat is needed.
//
// PRE-ENCODED: the chunk files this bench serves are links to one Opus file encoded once; the
// relay's downloading, decoding and encoding (the coordinator's CPU) are NOT in these figures.
// bench/relay runs real MP3 and M4A episodes through the real relay and measures them.
//
// relay-pods: 24 pods at 87x behind a 50 Mbit/s uplink, then the count /api/plan names
// (pods_fed, from the relay's feed on the path that feeds the most: Opus or copy) and two more,
// on the same real episodes. It prints CONFIRMED when, in the steady state (from the first chunk
// leased until the relay has nothing left to prepare: the start-up and the drain of the prepared
// queue left out), the named pods run at efficiency >= 0.95 from every one's first job and two
// more pods do not (PrintConfirmation).
//
// Usage: podfleet_bench_fleet [--max-scale K] [--job-rate N] [--window S] [--only NAME]
// K is chosen per run: at most --max-scale, and low enough that the fleet completes about
// --job-rate jobs a second (every job is several durable SQLite commits on the coordinator).
// Output: one table row per run and policy, with the ratio podfleet/old, then the bytes per
// audio-hour, dispatch latency and long-episode figures.
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <vector>

#include "api/client.h"
#include "args.h"
#include "audio/audio.h"
#include "audio/chunks.h"
#include "audio/opus.h"
#include "coordinator/coordinator.h"
#include "coordinator/plan.h"
#include "coordinator/relay.h"
#include "net/http_client.h"
#include "store/store.h"
#include "support/episodes.h"
#include "support/range_origin.h"
#include "support/sim_worker.h"
#include "worker/prefetch.h"

namespace podfleet {
namespace {

using Steady = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;
using bench::EngineSpan;
using bench::Policy;
using bench::SimWorker;
using bench::WorkerLog;

constexpr double kMp3BytesPerSecond = 128'000 / 8.0;  // the old fleet's 128 kbps MP3
constexpr double kChunkSeconds = 600;                 // podfleet's default chunk (10 min)
constexpr double kLinkMbit = 50;                      // the seed's uplink

struct Options {
  double max_scale = 60;   // K at most: audio and engine times are K times shorter than real
  double job_rate = 40;    // K is lowered so that the fleet finishes about this many jobs a second
  double window = 8;       // wall seconds of full queue each throughput run aims at
  double audio_hours = 3;  // of real episodes per run through the real relay
  std::string only;        // run only the scenarios whose name starts with this
};

Policy Podfleet() { return Policy{"podfleet"}; }
// The old fleet's 5 s poll happens `scale` times as often in scaled time.
Policy Old(double scale) {
  return Policy{"old", false, false, Millis(static_cast<int64_t>(5'000 / scale)), 3, 3, 1};
}

// ---- audio material ----------------------------------------------------------------------------

// A speech-like signal: voiced syllables (harmonics of a wandering pitch, 4 per second) in
// phrases of about 3 s with short pauses between them.
std::vector<float> SpeechLike(double seconds, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  std::normal_distribution<double> hiss(0.0, 0.01);
  const auto n = static_cast<size_t>(seconds * kSampleRate);
  std::vector<float> out(n);
  double phase = 0;
  double pitch = 120;
  for (size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / kSampleRate;
    const double in_phrase = std::fmod(t, 3.4);
    if (i % 1'600 == 0) pitch = 100 + 60 * jitter(rng) - 40;
    phase += 2 * M_PI * pitch / kSampleRate;
    const double syllable = std::max(0.0, std::sin(2 * M_PI * 4 * t));
    double v = 0;
    for (int h = 1; h <= 12; ++h) v += std::sin(h * phase) / h;
    const double loud = in_phrase < 3.0 ? 0.25 * syllable : 0.0;
    out[i] = static_cast<float>(loud * v + hiss(rng) * (in_phrase < 3.0 ? 1.0 : 0.1));
  }
  return out;
}

// ---- measurements ------------------------------------------------------------------------------

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

constexpr double kPodSpeed = 87;  // an A5000-like pod: the pod speed /api/plan is asked about

double SumSpeeds(const std::vector<double>& speeds) {
  double sum = 0;
  for (double x : speeds) sum += x;
  return sum;
}

// One run of real episodes through the real relay (Bench::RunRelayed). Times from adding the
// episodes; CPU is this process's (coordinator, origins and the simulated workers' HTTP).
struct RelayedRun {
  double audio_s = 0;
  double first_chunk_s = -1;     // -> the first lease
  double prepared_s = 0;         // -> the relay has nothing left to prepare
  double prepare_cpu_s = 0;      // CPU over prepared_s
  double window_s = 0;           // -> the last chunk leased (nothing queued, nothing to prepare)
  double done_s = 0;             // -> the last transcript
  double cpu_s = 0;              // CPU over done_s
  double efficiency = 0;         // over window_s: see Measure
  double efficiency_done = 0;    // over done_s, the drain at the end included
  double efficiency_warm = 0;    // from every worker's first job to the last lease
  double queue_empty_share = 0;  // of the window: no chunk queued (prepared and not leased)
  double transcribed_per_s = 0;  // audio-seconds the fleet transcribed per wall-second (window)
  // Steady state: while the relay is still preparing, from the first lease to the moment it has
  // nothing left to prepare (prepared_s), the start-up's first leases and the drain of the queue
  // at the end left out. -1 where that window is empty.
  double steady_s = 0;
  double transcribed_steady = -1;           // audio-seconds transcribed per wall-second in it
  double efficiency_steady = -1;            // from every worker's first job to prepared_s
  double mb_per_audio_hour = 0;             // served, as /api/bandwidth measured it
  std::string path, binding, reason;        // /api/bandwidth: the path the relay chose last
  std::string plan_binding, feed_limit;     // /api/plan
  std::string plan_path, plan_path_reason;  // /api/plan: the path that feeds the most, and why
  double feed_capacity = 0;
  std::optional<int> pods_fed;          // /api/plan?pod_speed=kPodSpeed
  std::map<double, double> busy_share;  // per speed: engine time / window, the mean of its workers
};

// ---- a fleet on a coordinator ------------------------------------------------------------------

struct FleetSpec {
  std::string name;
  std::vector<double> speeds;
  double egress_mbit = 0;  // 0: no cap
};

// The mixed fleets: pods at 87x and 50x, laptops at 15x, CPUs at 1x, in turn.
std::vector<double> Mixed(int n) {
  const double kinds[] = {87, 50, 87, 15, 87, 1, 50, 15};
  std::vector<double> v;
  for (int i = 0; i < n; ++i) v.push_back(kinds[i % 8]);
  return v;
}

struct RunResult {
  double efficiency = 0;
  double gap_p50_ms = 0, gap_p99_ms = 0;
  int64_t gaps = 0;
  double window_s = 0;
  double bytes_per_audio_hour = 0;  // as carried (short files: headers weigh more)
  int64_t jobs_done = 0;
  double warmup_s = 0;  // until every worker had started its first job
};

// A coordinator in a fresh data folder, with the workload queued, and the shared material.
class Bench {
 public:
  Bench(const Options& o, std::filesystem::path dir) : o_(o), dir_(std::move(dir)) {}

  // Time runs `scale` times faster from now on: episodes and chunks are that much shorter. The
  // real Opus file of a chunk at this scale is written once.
  Result<void> SetScale(double scale) {
    scale_ = scale;
    opus_chunk_ = dir_ / fmt::format("chunk-{:.3f}.opus", scale);
    if (std::filesystem::exists(opus_chunk_)) return {};
    return WriteOpus(opus_chunk_, SpeechLike(kChunkSeconds / scale, 1));
  }
  double scale() const { return scale_; }
  // The old policy's MP3 files are this many times smaller than the real ones (1: real size).
  void SetMp3Divisor(double d) { mp3_divisor_ = std::max(1.0, d); }

  // bytes per audio-hour of the relay's Opus on a full-length (unscaled) 10-minute chunk.
  Result<double> OpusBytesPerAudioHour() {
    const auto path = dir_ / "full-chunk.opus";
    const auto started = Steady::now();
    if (auto r = WriteOpus(path, SpeechLike(kChunkSeconds, 2)); !r)
      return std::unexpected(r.error());
    encode_speed_ = kChunkSeconds / Seconds(Steady::now() - started).count();
    return static_cast<double>(std::filesystem::file_size(path)) / kChunkSeconds * 3600;
  }
  double encode_speed() const { return encode_speed_; }

  // Runs `fleet` under `policy` on the episodes given (real minutes) at time scale `scale`.
  Result<RunResult> Run(const FleetSpec& fleet, const Policy& policy,
                        const std::vector<double>& episode_minutes) {
    auto coordinator = StartCoordinator(policy, fleet);
    if (!coordinator) return std::unexpected(coordinator.error());
    Coordinator& c = **coordinator;
    if (auto r = Queue(c, policy, episode_minutes); !r) return std::unexpected(r.error());
    auto http = MakeCurlClient(HttpClientOptions{});
    std::vector<std::unique_ptr<SimWorker>> workers;
    for (size_t i = 0; i < fleet.speeds.size(); ++i) {
      workers.push_back(std::make_unique<SimWorker>(c.base_url(), *http, fleet.speeds[i], policy));
      if (auto r = workers.back()->Register(*c.first_enrollment_token(), static_cast<int>(i)); !r)
        return std::unexpected(r.error());
    }
    const auto launched = Steady::now();
    for (auto& w : workers) w->Start();
    // The queue has work until its last job is leased.
    while (true) {
      auto counts = c.store().CountJobs();
      if (!counts) return std::unexpected(counts.error());
      if (counts->queued == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    for (auto& w : workers) w->RequestStop();
    for (auto& w : workers) w->Stop();
    c.Stop();
    // The window: from the moment every worker has started its first job (warm-up, reported on
    // its own) to the last lease the queue handed out.
    Steady::time_point start = launched, end = launched;
    for (auto& w : workers) {
      if (!w->log().spans.empty()) start = std::max(start, w->log().spans.front().begin);
      for (auto t : w->log().grants) end = std::max(end, t);
    }
    RunResult r = Measure(workers, start, end);
    r.warmup_s = Seconds(start - launched).count();
    auto served = c.store().TransfersSince(TimePoint{});
    if (served) {
      int64_t bytes = 0, audio_ms = 0;
      for (const TransferTotal& t : *served) {
        bytes += t.bytes;
        audio_ms += t.audio.count();
      }
      if (audio_ms > 0)
        r.bytes_per_audio_hour =
            static_cast<double>(bytes) / (static_cast<double>(audio_ms) / 3.6e6);
    }
    return r;
  }

  // Queued -> leased on an idle fleet: one job at a time, `samples` times.
  Result<std::vector<double>> DispatchLatency(const FleetSpec& fleet, const Policy& policy,
                                              int samples) {
    auto coordinator = StartCoordinator(policy, fleet);
    if (!coordinator) return std::unexpected(coordinator.error());
    Coordinator& c = **coordinator;
    auto http = MakeCurlClient(HttpClientOptions{});
    std::vector<std::unique_ptr<SimWorker>> workers;
    for (size_t i = 0; i < fleet.speeds.size(); ++i) {
      workers.push_back(std::make_unique<SimWorker>(c.base_url(), *http, fleet.speeds[i], policy));
      if (auto r = workers.back()->Register(*c.first_enrollment_token(), static_cast<int>(i)); !r)
        return std::unexpected(r.error());
      workers.back()->Start();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // every claim parked
    std::vector<Steady::time_point> queued;
    const Millis spacing = policy.long_poll ? Millis(30) : policy.poll_interval + Millis(50);
    for (int i = 0; i < samples; ++i) {
      if (auto r = Queue(c, policy, {0.5 * scale_ / 60.0}, fmt::format("d{}", i)); !r)
        return std::unexpected(r.error());
      queued.push_back(Steady::now());
      std::this_thread::sleep_for(spacing);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    for (auto& w : workers) w->RequestStop();
    for (auto& w : workers) w->Stop();
    c.Stop();
    std::vector<Steady::time_point> grants;
    for (auto& w : workers)
      grants.insert(grants.end(), w->log().grants.begin(), w->log().grants.end());
    std::sort(grants.begin(), grants.end());
    std::vector<double> ms;
    for (size_t i = 0; i < queued.size() && i < grants.size(); ++i)
      ms.push_back(Seconds(grants[i] - queued[i]).count() * 1000);
    return ms;
  }

  // Wall seconds from queueing one `minutes`-long episode to its transcript, on `workers` pods.
  Result<double> LongEpisode(const Policy& policy, int workers, double minutes) {
    FleetSpec fleet{"long", std::vector<double>(static_cast<size_t>(workers), 87.0)};
    auto coordinator = StartCoordinator(policy, fleet);
    if (!coordinator) return std::unexpected(coordinator.error());
    Coordinator& c = **coordinator;
    auto http = MakeCurlClient(HttpClientOptions{});
    std::vector<std::unique_ptr<SimWorker>> sims;
    for (int i = 0; i < workers; ++i) {
      sims.push_back(std::make_unique<SimWorker>(c.base_url(), *http, 87.0, policy));
      if (auto r = sims.back()->Register(*c.first_enrollment_token(), i); !r)
        return std::unexpected(r.error());
      sims.back()->Start();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const auto start = Steady::now();
    auto ids = Queue(c, policy, {minutes}, "long", workers);
    if (!ids) return std::unexpected(ids.error());
    while (true) {
      auto e = c.store().GetEpisode(ids->front());
      if (!e) return std::unexpected(e.error());
      if (e->state == EpisodeState::kDone) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    const double took = Seconds(Steady::now() - start).count();
    for (auto& s : sims) s->RequestStop();
    for (auto& s : sims) s->Stop();
    c.Stop();
    return took;
  }

  // Real episodes through the real relay: a coordinator with its defaults (relay mode,
  // --audio-path auto), `fleet`'s egress cap as its uplink, each file served by its own loopback
  // origin, and the fleet's simulated workers (the podfleet policy) at their real speeds.
  Result<RelayedRun> RunRelayed(const FleetSpec& fleet,
                                const std::vector<std::filesystem::path>& files) {
    RelayedRun run;
    std::vector<std::unique_ptr<RangeOrigin>> origins;
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      origins.push_back(std::make_unique<RangeOrigin>(
          std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>())));
      auto d = ProbeAudioDuration(f);
      if (!d) return std::unexpected(d.error());
      run.audio_s += static_cast<double>(d->count()) / 1000.0;
    }
    CoordinatorOptions co;
    co.data_dir = dir_ / fmt::format("run-{}", ++runs_);
    co.port = 0;
    co.lease_duration = Millis(3'600'000);
    co.egress_bytes_per_second = static_cast<int64_t>(fleet.egress_mbit * 1e6 / 8);
    co.uplink_bits_per_second = fleet.egress_mbit * 1e6;
    auto coordinator = Coordinator::Start(co, SystemClock::Get());
    if (!coordinator) return std::unexpected(coordinator.error());
    Coordinator& c = **coordinator;
    auto http = MakeCurlClient(HttpClientOptions{});
    CoordinatorClient admin(c.base_url(), *http);
    admin.set_admin_token(*c.first_admin_token());
    std::vector<std::unique_ptr<SimWorker>> workers;
    for (size_t i = 0; i < fleet.speeds.size(); ++i) {
      workers.push_back(
          std::make_unique<SimWorker>(c.base_url(), *http, fleet.speeds[i], Podfleet()));
      if (auto r = workers.back()->Register(*c.first_enrollment_token(), static_cast<int>(i)); !r)
        return std::unexpected(r.error());
      workers.back()->Start();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // every claim parked
    const double cpu = bench::CpuSeconds(RUSAGE_SELF);
    const auto start = Steady::now();
    std::vector<EpisodeId> ids;
    for (size_t i = 0; i < origins.size(); ++i) {
      auto r = admin.PostJson(
          "/api/episodes", {{"url", origins[i]->Url()}, {"title", files[i].filename().string()}});
      if (!r) return std::unexpected(r.error());
      ids.emplace_back((*r)["id"].get<int64_t>());
    }
    std::optional<Steady::time_point> prepared, last_lease;
    int samples = 0, empty = 0;  // of the queue before the last lease, every 20 ms
    auto sampled = start;
    while (true) {
      const auto now = Steady::now();
      if (!last_lease && now - sampled >= std::chrono::milliseconds(20)) {
        sampled = now;
        auto counts = c.store().CountJobs();  // its queued count holds the jobs preparing
        auto preparing = c.store().ListPreparing(10'000, TimePoint::max());
        if (!counts || !preparing)
          return std::unexpected(!counts ? counts.error() : preparing.error());
        ++samples;
        empty += counts->queued == static_cast<int64_t>(preparing->size()) ? 1 : 0;
      }
      if (Seconds(now - start).count() > 900) return Internal("relayed run: not done in 900 s");
      if (!prepared) {
        auto left = c.store().ListPreparing(1, TimePoint::max());
        if (!left) return std::unexpected(left.error());
        if (left->empty()) {
          prepared = now;
          run.prepare_cpu_s = bench::CpuSeconds(RUSAGE_SELF) - cpu;
        }
      }
      if (prepared && !last_lease) {
        auto counts = c.store().CountJobs();
        if (!counts) return std::unexpected(counts.error());
        if (counts->queued == 0) last_lease = now;
      }
      if (last_lease) {
        bool done = true;
        for (EpisodeId id : ids) {
          auto e = c.store().GetEpisode(id);
          if (!e) return std::unexpected(e.error());
          if (e->state == EpisodeState::kFailed) return Internal("episode failed: " + e->error);
          done = done && e->state == EpisodeState::kDone;
        }
        if (done) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const auto done = Steady::now();
    run.cpu_s = bench::CpuSeconds(RUSAGE_SELF) - cpu;
    if (auto b = admin.GetJson("/api/bandwidth"); b) {
      run.path = (*b)["audio_path"].get<std::string>();
      run.binding = (*b)["binding"].get<std::string>();
      run.reason = (*b)["audio_path_reason"].get<std::string>();
      if ((*b)["bytes_per_audio_hour"].is_number())
        run.mb_per_audio_hour = (*b)["bytes_per_audio_hour"].get<double>() / 1e6;
    }
    if (auto p = admin.GetJson(fmt::format("/api/plan?pod_speed={}", kPodSpeed)); p) {
      run.plan_binding = (*p)["binding"].get<std::string>();
      run.feed_limit = (*p)["feed_limit"].get<std::string>();
      run.plan_path = (*p)["audio_path"].get<std::string>();
      run.plan_path_reason = (*p)["audio_path_reason"].get<std::string>();
      if ((*p)["feed_capacity"].is_number()) run.feed_capacity = (*p)["feed_capacity"];
      if ((*p)["pods_fed"].is_number()) run.pods_fed = (*p)["pods_fed"].get<int>();
    }
    for (auto& w : workers) w->RequestStop();
    for (auto& w : workers) w->Stop();
    c.Stop();
    std::optional<Steady::time_point> first;
    for (auto& w : workers)
      if (!w->log().grants.empty() && (!first || w->log().grants.front() < *first))
        first = w->log().grants.front();
    run.first_chunk_s = first ? Seconds(*first - start).count() : -1;
    run.prepared_s = Seconds(*prepared - start).count();
    run.window_s = Seconds(*last_lease - start).count();
    run.done_s = Seconds(done - start).count();
    run.queue_empty_share = samples > 0 ? static_cast<double>(empty) / samples : 0;
    // Warm: from the moment every worker has started its first job, as the pre-encoded rows
    // measure.
    auto warm = start;
    for (const auto& w : workers)
      if (!w->log().spans.empty()) warm = std::max(warm, w->log().spans.front().begin);
    run.efficiency_warm = warm < *last_lease ? Measure(workers, warm, *last_lease).efficiency : -1;
    if (first && *first < *prepared) {
      run.steady_s = Seconds(*prepared - *first).count();
      run.transcribed_steady =
          Measure(workers, *first, *prepared).efficiency * SumSpeeds(fleet.speeds);
      if (warm < *prepared) run.efficiency_steady = Measure(workers, warm, *prepared).efficiency;
    }
    const RunResult window = Measure(workers, start, *last_lease);
    run.efficiency = window.efficiency;
    run.efficiency_done = Measure(workers, start, done).efficiency;
    run.transcribed_per_s = window.efficiency * SumSpeeds(fleet.speeds);
    std::map<double, int> count;
    for (const auto& w : workers) {
      double busy = 0;
      for (const EngineSpan& span : w->log().spans) {
        const auto b = std::max(span.begin, start);
        const auto e = std::min(span.end, *last_lease);
        if (e > b) busy += Seconds(e - b).count();
      }
      run.busy_share[w->log().speed] += busy / run.window_s;
      ++count[w->log().speed];
    }
    for (auto& [speed, share] : run.busy_share) share /= count[speed];
    return run;
  }

 private:
  Result<std::unique_ptr<Coordinator>> StartCoordinator(const Policy& policy,
                                                        const FleetSpec& fleet) {
    CoordinatorOptions co;
    co.data_dir = dir_ / fmt::format("run-{}", ++runs_);
    co.port = 0;
    co.relay = false;  // the bench plans the relay's chunks itself (see Queue)
    co.lease_duration = Millis(3'600'000);
    co.egress_bytes_per_second = static_cast<int64_t>(fleet.egress_mbit * 1e6 / 8);
    (void)policy;
    return Coordinator::Start(co, SystemClock::Get());
  }

  // Queues episodes of the given real lengths, scaled: for podfleet, as the relay would, cut
  // into 10-minute chunks (scaled), or shorter ones that fill whole rounds of `free_workers`
  // (SpreadTarget), whose Opus files are links to the real chunk file; for the old policy, as
  // whole uploads of MP3 size.
  Result<std::vector<EpisodeId>> Queue(Coordinator& c, const Policy& policy,
                                       const std::vector<double>& minutes,
                                       const std::string& tag = "e", int free_workers = 0) {
    std::vector<EpisodeInfo> infos;
    std::error_code ec;
    const auto data = CoordinatorDir(c);
    std::filesystem::create_directories(data / "uploads", ec);
    std::filesystem::create_directories(data / "relay", ec);
    for (size_t i = 0; i < minutes.size(); ++i) {
      const double seconds = minutes[i] * 60 / scale_;
      EpisodeInfo info;
      info.guid = fmt::format("{}-{}", tag, i);
      info.title = info.guid;
      info.duration = Millis(static_cast<int64_t>(seconds * 1000));
      const std::string name = fmt::format("{:016x}", std::hash<std::string>{}(tag + info.guid));
      info.audio_url = "/api/media/" + name;
      if (!policy.relay) {
        const auto size = static_cast<size_t>(seconds * kMp3BytesPerSecond / mp3_divisor_);
        const auto file = dir_ / fmt::format("mp3-{}.bin", size);
        if (!std::filesystem::exists(file)) {
          std::ofstream out(file, std::ios::binary);
          const std::string bytes(size, '\xff');
          out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        }
        std::filesystem::create_hard_link(file, data / "uploads" / name, ec);
      }
      infos.push_back(std::move(info));
    }
    const auto now = SystemClock::Get().Now();
    auto ids = c.store().AddEpisodes(std::nullopt, infos, now,
                                     policy.relay ? JobIntake::kPrepare : JobIntake::kQueue);
    if (!ids) return std::unexpected(ids.error());
    if (policy.relay) {
      auto held = c.store().ListPreparing(static_cast<int>(ids->size()) + 1, TimePoint::max());
      if (!held) return std::unexpected(held.error());
      for (const PreparingJob& j : *held) {
        const Millis total = *j.episode.info.duration;
        const Millis target(static_cast<int64_t>(kChunkSeconds * 1000 / scale_));
        const Millis chunk = SpreadTarget(total, target, free_workers);
        std::vector<Chunk> chunks;
        for (Millis at(0); at < total; at += chunk) {
          Chunk ch;
          ch.start = at;
          ch.end = std::min(total, at + chunk);
          ch.relayed = true;
          std::filesystem::create_hard_link(
              opus_chunk_,
              Relay::ChunkFile(data / "relay", j.episode.id, static_cast<int>(chunks.size())), ec);
          chunks.push_back(ch);
        }
        if (auto r = c.store().PlanChunks(j.job, chunks, now); !r)
          return std::unexpected(r.error());
        free_workers = std::max(0, free_workers - static_cast<int>(chunks.size()));
      }
    }
    c.JobsQueued();
    return ids;
  }

  std::filesystem::path CoordinatorDir(Coordinator&) const {
    return dir_ / fmt::format("run-{}", runs_);
  }

  RunResult Measure(const std::vector<std::unique_ptr<SimWorker>>& workers,
                    Steady::time_point start, Steady::time_point end) const {
    RunResult r;
    const double window = Seconds(end - start).count();
    r.window_s = window;
    double capacity = 0, done = 0;
    std::vector<double> gaps;
    for (const auto& w : workers) {
      const WorkerLog& log = w->log();
      capacity += log.speed * window;
      for (size_t i = 0; i < log.spans.size(); ++i) {
        const auto b = std::max(log.spans[i].begin, start);
        const auto e = std::min(log.spans[i].end, end);
        if (e > b) done += log.speed * Seconds(e - b).count();
        if (i > 0 && log.spans[i].begin <= end)
          gaps.push_back(Seconds(log.spans[i].begin - log.spans[i - 1].end).count() * 1000);
      }
      r.jobs_done += w->completed();
    }
    // A job still in the engine when the window closed: its busy time up to the end counts.
    r.efficiency = capacity > 0 ? done / capacity : 0;
    r.gap_p50_ms = Percentile(gaps, 0.5);
    r.gap_p99_ms = Percentile(gaps, 0.99);
    r.gaps = static_cast<int64_t>(gaps.size());
    return r;
  }

  const Options o_;
  const std::filesystem::path dir_;
  double scale_ = 1;
  std::filesystem::path opus_chunk_;
  double encode_speed_ = 0;
  int runs_ = 0;
  double mp3_divisor_ = 1;
};

// ---- scenarios ---------------------------------------------------------------------------------

// Real episode lengths in minutes, in turn (the seed's feed averages 150; podcasts vary).
constexpr double kEpisodeMinutes[] = {150, 60, 90, 180, 45, 120, 30, 150};

// Episodes enough to keep the queue full for `window` wall seconds at scale `scale`, plus what
// every worker holds ahead under `policy` (up to 4 chunks, or 4 whole episodes for the old one).
std::vector<double> Workload(const FleetSpec& fleet, const Policy& policy, double scale,
                             double window) {
  const double needed = SumSpeeds(fleet.speeds) * scale * window / 60;  // real minutes
  const double held = static_cast<double>(fleet.speeds.size()) * (policy.min_depth + 1) *
                      (policy.relay ? kChunkSeconds / 60 : 150);
  std::vector<double> minutes;
  double total = 0;
  for (size_t i = 0; total < needed + held; ++i) {
    minutes.push_back(kEpisodeMinutes[i % std::size(kEpisodeMinutes)]);
    total += minutes.back();
  }
  return minutes;
}

// The scale at which the fleet finishes about o.job_rate jobs a second, each `job_seconds` of
// real audio long.
double ScaleFor(const Options& o, const std::vector<double>& speeds,
                double job_seconds = kChunkSeconds) {
  return std::clamp(o.job_rate * job_seconds / SumSpeeds(speeds), 1.0, o.max_scale);
}

double MeanEpisodeSeconds() {
  double sum = 0;
  for (double m : kEpisodeMinutes) sum += m * 60;
  return sum / static_cast<double>(std::size(kEpisodeMinutes));
}

void PrintRow(const FleetSpec& f, const Policy& p, double scale, const RunResult& r) {
  fmt::print(
      "  {:<14} {:<9} {:>4} {:>7.0f}x {:>6.1f} {:>6.1f}s {:>6.1f}s {:>7.3f} {:>8.2f} {:>8.2f} "
      "{:>6}\n",
      f.name, p.name, f.speeds.size(), SumSpeeds(f.speeds), scale, r.warmup_s, r.window_s,
      r.efficiency, r.gap_p50_ms, r.gap_p99_ms, r.jobs_done);
}

int Throughput(const Options& o, Bench& bench, const FleetSpec& fleet) {
  std::optional<RunResult> ours, old;
  // Each policy runs at the scale that keeps its job rate in bounds: the old one's jobs are whole
  // episodes, so it may run faster.
  const double old_scale = ScaleFor(o, fleet.speeds, MeanEpisodeSeconds());
  for (const Policy& p : {Podfleet(), Old(old_scale)}) {
    const double scale = p.relay ? ScaleFor(o, fleet.speeds) : old_scale;
    if (auto r = bench.SetScale(scale); !r) {
      fmt::print(stderr, "bench/fleet: {}\n", r.error().ToString());
      return 1;
    }
    const std::vector<double> episodes = Workload(fleet, p, scale, o.window);
    // Without a cap, how long a download takes hardly matters next to the engine; what the old
    // policy moves (a few whole episodes ahead per worker) is cut down so that it fits this
    // machine's disk and loopback: at most about 1 GB a run.
    double mp3 = 0;
    for (double m : episodes) mp3 += m * 60 / scale * kMp3BytesPerSecond;
    const double divisor = fleet.egress_mbit > 0 || p.relay ? 1 : std::max(1.0, mp3 / 1e9);
    bench.SetMp3Divisor(divisor);
    if (divisor > 1)
      fmt::print("  ({} old: MP3 bytes carried / {:.0f}, uncapped)\n", fleet.name, divisor);
    auto r = bench.Run(fleet, p, episodes);
    if (!r) {
      fmt::print(stderr, "bench/fleet: {} {}: {}\n", fleet.name, p.name, r.error().ToString());
      return 1;
    }
    PrintRow(fleet, p, scale, *r);
    (p.relay ? ours : old) = *r;
  }
  fmt::print("  {:<14} {:<9} efficiency podfleet/old = {:.2f}\n", fleet.name, "ratio",
             old->efficiency > 0 ? ours->efficiency / old->efficiency : 0);
  std::fflush(stdout);
  return 0;
}

// ---- real episodes through the real relay ------------------------------------------------------

// Podcast files as hosts serve them (bench/support/episodes.h), taken in turn: 128 kb/s MP3 and
// 96 kb/s AAC in M4A, of copies of the ~55 s test speech.
constexpr std::pair<const char*, int> kRealEpisodes[] = {
    {"mp3", 60}, {"m4a", 45}, {"mp3", 30}, {"m4a", 30}};

// Episodes of about `hours` of audio in all, made in `dir` if missing.
Result<std::vector<std::filesystem::path>> RealWorkload(const std::filesystem::path& dir,
                                                        double hours) {
  std::vector<std::filesystem::path> files;
  double minutes = 0;
  for (size_t i = 0; minutes < hours * 60; ++i) {
    const auto [kind, copies] = kRealEpisodes[i % std::size(kRealEpisodes)];
    auto f = bench::MakeEpisode(dir, kind, copies);
    if (!f) return std::unexpected(f.error());
    auto d = ProbeAudioDuration(*f);
    if (!d) return std::unexpected(d.error());
    files.push_back(*f);
    minutes += static_cast<double>(d->count()) / 60'000.0;
  }
  return files;
}

struct Baseline {
  double opus_wall = 0, opus_cpu = 0;  // audio-seconds per second
  double copy_wall = 0, copy_cpu = 0;
};

// The ffmpeg CLI preparing each distinct file once, as the relay would on each path: decode +
// Opus at the relay's settings; decode to 16 kHz mono + stream copy cut every 10 minutes.
Result<Baseline> CliBaseline(const std::vector<std::filesystem::path>& files,
                             const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> distinct;
  for (const auto& f : files)
    if (std::find(distinct.begin(), distinct.end(), f) == distinct.end()) distinct.push_back(f);
  double audio = 0;
  std::vector<std::vector<double>> cuts;
  for (const auto& f : distinct) {
    const double s = static_cast<double>(ProbeAudioDuration(f)->count()) / 1000.0;
    audio += s;
    cuts.emplace_back();
    for (double t = kChunkSeconds; t < s; t += kChunkSeconds) cuts.back().push_back(t);
  }
  auto opus = bench::FfmpegBaseline(distinct, dir);
  if (!opus) return std::unexpected(opus.error());
  auto copy = bench::FfmpegCopyBaseline(distinct, cuts, dir);
  if (!copy) return std::unexpected(copy.error());
  return Baseline{audio / opus->first, audio / opus->second, audio / copy->first,
                  audio / copy->second};
}

std::string LoadNow() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return fmt::format("{} {} {}", a, b, c);
}

void PrintRelayed(std::string_view name, const FleetSpec& f, const RelayedRun& r,
                  const Baseline& base) {
  const double cli = r.path == "copy" ? base.copy_wall : base.opus_wall;
  fmt::print(
      "| {} | {} | {:.0f}x | {:.2f} | {} ({} binds) | {:.0f} | {:.0f} | {:.2f} | {:.2f} | {:.1f} "
      "| {:.1f} | {:.1f} | **{:.3f}** | {:.3f} | {:.0f}x | {} binds; {} ({} path) feeds {:.0f}x: "
      "{} "
      "pods of {:.0f}x |\n",
      name, f.speeds.size(), SumSpeeds(f.speeds), r.audio_s / 3600, r.path, r.binding,
      r.audio_s / r.prepared_s, r.audio_s / r.prepare_cpu_s, r.audio_s / r.prepared_s / cli,
      r.first_chunk_s, r.cpu_s / (r.audio_s / 3600), r.mb_per_audio_hour, r.window_s, r.efficiency,
      r.efficiency_done, r.transcribed_per_s, r.plan_binding, r.feed_limit, r.plan_path,
      r.feed_capacity, r.pods_fed ? fmt::format("{}", *r.pods_fed) : "?", kPodSpeed);
  std::string shares;
  for (const auto& [speed, share] : r.busy_share)
    shares += fmt::format("{}{:.0f}x {:.2f}", shares.empty() ? "" : ", ", speed, share);
  fmt::print(
      "|  (detail) prepared in {:.1f} s, done in {:.1f} s; from every worker's first job to the "
      "last lease: efficiency {}; no chunk queued {:.0f}% of the window; engine busy share "
      "over the window, by speed: {}; steady state (first lease to the last chunk prepared, "
      "{:.1f} s): {:.0f} audio-s transcribed per wall-s, efficiency {:.3f} from every worker's "
      "first job; path: {}; /api/plan's path: {} |\n",
      r.prepared_s, r.done_s,
      r.efficiency_warm < 0 ? "n/a (a worker got no job)"
                            : fmt::format("{:.3f}", r.efficiency_warm),
      100 * r.queue_empty_share, shares, r.steady_s, r.transcribed_steady, r.efficiency_steady,
      r.reason, r.plan_path_reason);
  std::fflush(stdout);
}

// The pre-encoded variant of the same fleet: chunk files linked, the relay's cost left out.
void PrintPreEncoded(const Options& o, Bench& bench, const FleetSpec& fleet) {
  const double scale = ScaleFor(o, fleet.speeds);
  if (!bench.SetScale(scale)) return;
  auto r = bench.Run(fleet, Podfleet(), Workload(fleet, Podfleet(), scale, o.window));
  if (!r) return;
  fmt::print(
      "| {} PRE-ENCODED: relay cost left out | {} | {:.0f}x | | | | | | | | | | {:.3f} | | | "
      "|\n",
      fleet.name, fleet.speeds.size(), SumSpeeds(fleet.speeds), r->efficiency);
}

// Whether the pod count /api/plan named is the count the feed really runs, in the steady state:
// from the first chunk leased until the relay has nothing left to prepare (RelayedRun::steady_s;
// the start-up before the first lease and the drain of the prepared queue after are left out, as
// 24 pods drain a backlog far faster than a few). Efficiency >= 0.95 from every pod's first job to
// that end means the pods are fed. The count is confirmed when the named pods are fed and two
// more are not: the most pods the feed runs at full speed is the named count or one more. What 24
// pods transcribe against the named ones is printed beside it (the planner keeps kFeedHeadroom of
// the feed unused, so 24 pods take that too), and the whole-window figures.
void PrintConfirmation(const RelayedRun& all, int named, const std::map<int, RelayedRun>& runs) {
  constexpr double kFedEfficiency = 0.95;
  const RelayedRun& n = runs.at(named);
  const double more = all.transcribed_steady / n.transcribed_steady - 1;
  const bool fed = n.efficiency_steady >= kFedEfficiency;
  fmt::print(
      "\nSteady state (from the first chunk leased until the relay has prepared its last chunk): "
      "24 pods transcribed {:.0f} audio-s per wall-s over {:.1f} s, the {} named pods {:.0f} over "
      "{:.1f} s: the other {} pods add {:+.0f}% (the plan leaves {:.0f}% of the feed unused). "
      "Whole window (to the last lease, start-up and drain included): 24 pods {:.0f}, the named "
      "{:.0f} ({:+.0f}%).",
      all.transcribed_steady, all.steady_s, named, n.transcribed_steady, n.steady_s, 24 - named,
      100 * more, 100 * (1 - kFeedHeadroom), all.transcribed_per_s, n.transcribed_per_s,
      100 * (all.transcribed_per_s / n.transcribed_per_s - 1));
  auto plus = runs.find(named + 2);
  const bool knee = plus != runs.end() && plus->second.efficiency_steady >= 0 &&
                    plus->second.efficiency_steady < kFedEfficiency;
  if (plus != runs.end())
    fmt::print(" {} pods, steady: {:.0f} ({:+.0f}% on the named {}).", named + 2,
               plus->second.transcribed_steady,
               100 * (plus->second.transcribed_steady / n.transcribed_steady - 1), named);
  fmt::print(
      "\nConfirmation of the named count ({} pods), in the steady state: the named pods reach "
      "efficiency >= {:.2f} from their first jobs until the relay has prepared its last chunk "
      "({:.3f}: {}; to the last lease {:.3f}, window {:.3f}) AND {} pods do not ({:.3f}: {}) -> "
      "{}\n",
      named, kFedEfficiency, n.efficiency_steady, fed ? "yes" : "no", n.efficiency_warm,
      n.efficiency, named + 2, plus != runs.end() ? plus->second.efficiency_steady : -1.0,
      knee ? "yes" : "no",
      fed && knee ? "CONFIRMED"
                  : fmt::format("NOT CONFIRMED ({})",
                                !fed && !knee ? "the named pods are not fed, and two more are"
                                : !fed        ? "the named pods are not fed at full speed"
                                              : "the feed runs two more pods than named"));
}

int RelayedPart(const Options& o, Bench& bench) {
  const std::filesystem::path dir = "/tmp/podfleet-bench-relay";  // bench/relay's files too
  std::filesystem::create_directories(dir);
  auto files = RealWorkload(dir, o.audio_hours);
  if (!files) return fmt::print(stderr, "bench/fleet: {}\n", files.error().ToString()), 1;
  fmt::print(
      "REAL EPISODES THROUGH THE REAL RELAY (load average {} at start): the coordinator with its "
      "defaults (relay mode, --audio-path auto, Opus {} b/s complexity {}), each episode from its "
      "own loopback HTTP origin, {:.1f} h of MP3 and M4A per run, simulated workers at their real "
      "speeds (no time scaling)\n",
      LoadNow(), OpusOptions{}.bitrate, OpusOptions{}.complexity, o.audio_hours);
  auto base = CliBaseline(*files, dir);
  if (!base) return fmt::print(stderr, "bench/fleet: {}\n", base.error().ToString()), 1;
  fmt::print(
      "ffmpeg CLI baseline, same files, one process per file, same run: Opus {:.0f} audio-s per "
      "wall-s, {:.0f} per CPU-s; copy (decode to 16 kHz mono + -c copy -f segment) {:.0f} per "
      "wall-s, {:.0f} per CPU-s\n\n",
      base->opus_wall, base->opus_cpu, base->copy_wall, base->copy_cpu);
  fmt::print(
      "| run | n | speeds | audio h | path chosen | prepared audio-s / wall-s | audio-s / CPU-s | "
      "vs ffmpeg CLI (same path) | first chunk leased s | CPU s / audio-h | MB / audio-h served "
      "| window s | fleet efficiency (window) | to last transcript | transcribed | /api/plan |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  const FleetSpec seed{"seed+H200", {87, 87, 15, 393}};
  auto wants = [&](std::string_view name) { return o.only.empty() || name.starts_with(o.only); };
  if (wants("relay-seed")) {
    auto r = bench.RunRelayed(seed, *files);
    if (!r) return fmt::print(stderr, "bench/fleet: {}\n", r.error().ToString()), 1;
    PrintRelayed("seed (87, 87, 15) + H200-like 393x, no cap", seed, *r, *base);
    PrintPreEncoded(o, bench, seed);
    // The start-up (download, first chunk, every worker's first lease) is about a second however
    // long the backlog: the same fleet on twice the audio shows what a longer backlog makes of it.
    auto longer = RealWorkload(dir, 2 * o.audio_hours);
    if (!longer) return fmt::print(stderr, "bench/fleet: {}\n", longer.error().ToString()), 1;
    auto twice = bench.RunRelayed(seed, *longer);
    if (!twice) return fmt::print(stderr, "bench/fleet: {}\n", twice.error().ToString()), 1;
    PrintRelayed("same fleet, twice the audio (the start-up amortised)", seed, *twice, *base);
  }
  if (!wants("relay-pods")) return 0;
  const FleetSpec pods{"pods24-50mbit", std::vector<double>(24, kPodSpeed), kLinkMbit};
  auto all = bench.RunRelayed(pods, *files);
  if (!all) return fmt::print(stderr, "bench/fleet: {}\n", all.error().ToString()), 1;
  PrintRelayed("24 A5000-like 87x pods, 50 Mbit/s egress", pods, *all, *base);
  PrintPreEncoded(o, bench, pods);
  if (!all->pods_fed || *all->pods_fed <= 0 || *all->pods_fed >= 24) {
    fmt::print("\nNOT CONFIRMED: /api/plan named no pod count below 24 ({})\n",
               all->pods_fed ? fmt::format("{}", *all->pods_fed) : "none");
    return 0;
  }
  const int named = *all->pods_fed;
  std::map<int, RelayedRun> runs;  // the named count and two more: where the knee is
  for (int n : {named, named + 2}) {
    if (n >= 24) break;
    const FleetSpec fed{"pods-named", std::vector<double>(static_cast<size_t>(n), kPodSpeed),
                        kLinkMbit};
    auto some = bench.RunRelayed(fed, *files);
    if (!some) return fmt::print(stderr, "bench/fleet: {}\n", some.error().ToString()), 1;
    PrintRelayed(n == named ? fmt::format("the {} pods /api/plan named, 50 Mbit/s egress", n)
                            : fmt::format("{} pods (named + 2), 50 Mbit/s egress", n),
                 fed, *some, *base);
    runs[n] = *some;
  }
  PrintConfirmation(*all, named, runs);
  fmt::print("Load average at the end: {}\n", LoadNow());
  return 0;
}

int Main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // rows appear as runs finish
  Options o;
  const int parsed = ParseBenchArgs(
      argc, argv, "[--max-scale N] [--job-rate R] [--window S] [--audio-hours H] [--only NAME]",
      {{"--max-scale", [&](const char* v) { o.max_scale = std::atof(v); }},
       {"--job-rate", [&](const char* v) { o.job_rate = std::atof(v); }},
       {"--window", [&](const char* v) { o.window = std::atof(v); }},
       {"--audio-hours", [&](const char* v) { o.audio_hours = std::atof(v); }},
       {"--only", [&](const char* v) { o.only = v; }}});
  if (parsed >= 0) return parsed;
  const auto dir =
      std::filesystem::temp_directory_path() / fmt::format("podfleet-bench-fleet-{}", ::getpid());
  std::filesystem::create_directories(dir);
  struct Cleanup {
    std::filesystem::path dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{dir};
  Bench bench(o, dir);
  auto wants = [&](std::string_view name) { return o.only.empty() || name.starts_with(o.only); };

  fmt::print(
      "bench/fleet: real coordinator (HTTP, SQLite, synchronous=FULL) and simulated "
      "workers on this machine ({} cores)\n\n",
      std::thread::hardware_concurrency());
  if (wants("relay-seed") || wants("relay-pods"))
    if (int rc = RelayedPart(o, bench); rc != 0) return rc;
  if (!o.only.empty() && std::string_view(o.only).starts_with("relay")) return 0;
  // Bytes: the relay's Opus on a real-length chunk against the old fleet's MP3.
  auto opus = bench.OpusBytesPerAudioHour();
  if (!opus) {
    fmt::print(stderr, "bench/fleet: {}\n", opus.error().ToString());
    return 1;
  }
  const double mp3 = kMp3BytesPerSecond * 3600;
  const double link = kLinkMbit * 1e6 / 8;
  fmt::print(
      "bytes per audio-hour: relay Opus 24 kbps {:.2f} MB, old MP3 128 kbps {:.2f} MB, "
      "ratio {:.2f}\n",
      *opus / 1e6, mp3 / 1e6, *opus / mp3);
  fmt::print("pods at 87x a {:.0f} Mbit/s uplink can feed: relay {:.1f}, old {:.1f}\n", kLinkMbit,
             link / (*opus / 3600 * 87), link / (mp3 / 3600 * 87));
  fmt::print("relay Opus encoding speed on this machine: {:.0f}x realtime (one core)\n\n",
             bench.encode_speed());

  fmt::print(
      "\nPRE-ENCODED: relay cost left out (chunk files linked, not prepared; the real relay's "
      "figures are in the table above)\n");
  fmt::print("  {:<14} {:<9} {:>4} {:>8} {:>6} {:>7} {:>7} {:>7} {:>8} {:>8} {:>6}\n", "fleet",
             "policy", "n", "speeds", "scale", "warmup", "window", "effic.", "gap p50", "gap p99",
             "jobs");
  const std::vector<FleetSpec> fleets = {
      {"seed", {87, 87, 15, 1}}, {"seed-50mbit", {87, 87, 15, 1}, kLinkMbit},
      {"mixed-8", Mixed(8)},     {"mixed-64", Mixed(64)},
      {"mixed-512", Mixed(512)}, {"pods24-50mbit", std::vector<double>(24, 87.0), kLinkMbit},
  };
  for (const FleetSpec& f : fleets) {
    if (!wants(f.name)) continue;
    if (int rc = Throughput(o, bench, f); rc != 0) return rc;
  }

  if (wants("dispatch")) {
    const FleetSpec idle{"dispatch", Mixed(8)};
    const double scale = ScaleFor(o, idle.speeds);
    if (auto r = bench.SetScale(scale); !r) return 1;
    auto ours = bench.DispatchLatency(idle, Podfleet(), 100);
    auto old = bench.DispatchLatency(idle, Old(scale), 20);
    if (!ours || !old) {
      fmt::print(stderr, "bench/fleet: dispatch: {}\n",
                 (!ours ? ours.error() : old.error()).ToString());
      return 1;
    }
    // The old fleet's poll ran `scale` times faster: its latencies scale back up.
    for (double& ms : *old) ms *= scale;
    fmt::print(
        "\ndispatch latency, queued -> leased, idle fleet of 8: podfleet p50 {:.2f} ms, "
        "p99 {:.2f} ms ({} jobs); old (5 s poll) p50 {:.0f} ms, p99 {:.0f} ms; "
        "ratio of p99s old/podfleet {:.0f}\n",
        Percentile(*ours, 0.5), Percentile(*ours, 0.99), ours->size(), Percentile(*old, 0.5),
        Percentile(*old, 0.99), Percentile(*old, 0.99) / std::max(1e-3, Percentile(*ours, 0.99)));
  }

  if (wants("long")) {
    const double minutes = 180;
    const double scale = 60;
    if (auto r = bench.SetScale(scale); !r) return 1;
    fmt::print(
        "\none {:.0f}-minute episode, 87x pods, queued -> transcript (real seconds = "
        "measured x {:.0f}):\n",
        minutes, scale);
    for (const Policy& p : {Podfleet(), Old(scale)}) {
      auto one = bench.LongEpisode(p, 1, minutes);
      auto eight = bench.LongEpisode(p, 8, minutes);
      if (!one || !eight) {
        fmt::print(stderr, "bench/fleet: long: {}\n",
                   (!one ? one.error() : eight.error()).ToString());
        return 1;
      }
      fmt::print("  {:<9} 1 worker {:7.1f} s, 8 workers {:7.1f} s, speed-up {:.2f}\n", p.name,
                 *one * scale, *eight * scale, *one / *eight);
    }
  }
  return 0;
}

}  // namespace
}  // namespace podfleet

int main(int argc, char** argv) { return podfleet::Main(argc, argv); }
