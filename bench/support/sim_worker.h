// The simulated worker of the benchmarks: a real CoordinatorClient claiming, fetching and
// completing over HTTP as `podfleet work` does (src/worker/worker.cc), with the engine a sleep
// of audio / speed.
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/client.h"
#include "net/http_client.h"
#include "worker/prefetch.h"

namespace podfleet::bench {

using Steady = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

struct Policy {
  std::string name;
  bool relay = true;      // chunks as Opus; false: whole episodes as MP3 via /api/media
  bool long_poll = true;  // false: claim without waiting, then sleep poll_interval
  Millis poll_interval{5'000};
  int min_depth = 2;  // jobs ahead of the engine
  int max_depth = 4;
  int fetchers = 2;  // downloads side by side
};

struct EngineSpan {
  Steady::time_point begin;
  Steady::time_point end;
};

// What one simulated worker saw.
struct WorkerLog {
  double speed = 0;
  std::vector<EngineSpan> spans;
  std::vector<Steady::time_point> grants;  // when each claim reply with work arrived
};

// ---- the simulated worker ----------------------------------------------------------------------

// One worker: claim thread, `fetchers` download threads, engine thread, upload thread, as
// src/worker/worker.cc arranges them, with the engine a sleep of audio / speed.
class SimWorker {
 public:
  SimWorker(const std::string& server, HttpClient& http, double speed, const Policy& policy)
      : client_(server, http),
        http_(http),
        speed_(speed),
        policy_(policy),
        planner_(policy.min_depth, policy.max_depth) {
    log_.speed = speed;
  }
  ~SimWorker() { Stop(); }

  Result<void> Register(const std::string& enrollment, int index) {
    NodeInfo info;
    info.name = fmt::format("sim-{}-{}x", index, speed_);
    info.engine = "simulated";
    info.speed = speed_;
    // The GPU-like speeds register as rented pods, so that the planner counts them as pods.
    if (speed_ == 87) info.hardware.gpus = {{"NVIDIA RTX A5000", "550.54.15", 24'564, "12.4"}};
    if (speed_ == 393) info.hardware.gpus = {{"NVIDIA H200", "550.54.15", 143'771, "12.4"}};
    if (!info.hardware.gpus.empty()) info.price_per_hour = speed_ == 87 ? 0.22 : 3.59;
    auto reg = client_.Register(enrollment, info);
    if (!reg) return std::unexpected(reg.error());
    client_.set_node_token(reg->token);
    return {};
  }

  void Start() {
    threads_.emplace_back([this] { ClaimLoop(); });
    for (int i = 0; i < policy_.fetchers; ++i) threads_.emplace_back([this] { FetchLoop(); });
    threads_.emplace_back([this] { EngineLoop(); });
    threads_.emplace_back([this] { UploadLoop(); });
  }

  void RequestStop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    changed_.notify_all();
  }
  void Stop() {
    RequestStop();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  const WorkerLog& log() const { return log_; }
  int64_t completed() const { return completed_; }

 private:
  struct Held {
    WireGrant grant;
    Millis audio{0};
    Millis engine{0};  // the engine's time on it, reported as a real worker does
  };

  int AheadLocked() const { return static_cast<int>(ready_.size()) + fetching_; }
  bool stopping() {
    std::lock_guard lock(mu_);
    return stopping_;
  }

  void ClaimLoop() {
    while (true) {
      int want = 0;
      {
        std::unique_lock lock(mu_);
        changed_.wait(lock, [&] { return stopping_ || AheadLocked() < planner_.Depth(); });
        if (stopping_) return;
        want = policy_.long_poll ? planner_.Depth() - AheadLocked() : 1;
      }
      auto grants = client_.Claim(want, policy_.long_poll ? Millis(2'000) : Millis(0));
      const auto now = Steady::now();
      std::unique_lock lock(mu_);
      if (grants && !grants->empty()) {
        for (WireGrant& g : *grants) {
          log_.grants.push_back(now);
          to_fetch_.push_back(std::move(g));
          ++fetching_;
        }
        changed_.notify_all();
        continue;
      }
      if (!policy_.long_poll || !grants)
        changed_.wait_for(lock, policy_.poll_interval, [&] { return stopping_; });
    }
  }

  void FetchLoop() {
    while (true) {
      WireGrant grant;
      {
        std::unique_lock lock(mu_);
        changed_.wait(lock, [&] { return stopping_ || !to_fetch_.empty(); });
        if (stopping_) return;
        grant = std::move(to_fetch_.front());
        to_fetch_.pop_front();
      }
      const auto started = Steady::now();
      ClientRequest get;
      get.url = client_.Resolve(grant.audio_url);
      get.headers = client_.AuthHeadersFor(grant.audio_url);
      get.timeout = Millis(120'000);
      auto body = http_.Send(get);
      if ((!body || body->status != 200) && !stopping())
        fmt::print(stderr, "fetch {}: {}\n", get.url,
                   body ? fmt::format("HTTP {}", body->status) : body.error().ToString());
      const Millis audio = grant.chunk.end ? *grant.chunk.end - grant.chunk.start
                                           : grant.episode.info.duration.value_or(Millis(0));
      planner_.Fetched(std::chrono::duration_cast<Millis>(Steady::now() - started), audio);
      std::lock_guard lock(mu_);
      --fetching_;
      ready_.push_back(Held{std::move(grant), audio});
      changed_.notify_all();
    }
  }

  void EngineLoop() {
    while (true) {
      Held job;
      {
        std::unique_lock lock(mu_);
        changed_.wait(lock, [&] { return stopping_ || !ready_.empty(); });
        if (stopping_) return;
        job = std::move(ready_.front());
        ready_.pop_front();
        changed_.notify_all();
      }
      const auto begin = Steady::now();
      const auto took = std::chrono::duration_cast<Steady::duration>(
          Seconds(static_cast<double>(job.audio.count()) / 1000.0 / speed_));
      {
        std::unique_lock lock(mu_);
        const bool stopped = changed_.wait_until(lock, begin + took, [&] { return stopping_; });
        log_.spans.push_back({begin, Steady::now()});
        if (stopped) return;
      }
      job.engine = std::chrono::duration_cast<Millis>(took);
      planner_.Transcribed(job.engine, job.audio);
      std::lock_guard lock(mu_);
      uploads_.push_back(std::move(job));
      changed_.notify_all();
    }
  }

  void UploadLoop() {
    while (true) {
      Held job;
      {
        std::unique_lock lock(mu_);
        changed_.wait(lock, [&] { return stopping_ || !uploads_.empty(); });
        if (stopping_) return;
        job = std::move(uploads_.front());
        uploads_.pop_front();
      }
      Transcript t;
      t.engine = "simulated";
      t.model = "simulated";
      t.audio_duration = job.audio;
      t.engine_time = job.engine;
      t.segments.push_back(Segment{Millis(0), job.audio, "[simulated]", "", {}});
      auto r = client_.Complete(job.grant.lease, t);
      std::lock_guard lock(mu_);
      if (!r && !stopping_) fmt::print(stderr, "complete: {}\n", r.error().ToString());
      ++completed_;
    }
  }

  CoordinatorClient client_;
  HttpClient& http_;
  const double speed_;
  const Policy policy_;
  PrefetchPlanner planner_;

  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<WireGrant> to_fetch_;  // guarded by mu_
  std::deque<Held> ready_;          // guarded by mu_
  std::deque<Held> uploads_;        // guarded by mu_
  int fetching_ = 0;                // guarded by mu_
  bool stopping_ = false;           // guarded by mu_
  WorkerLog log_;                   // spans and grants guarded by mu_ while running
  std::atomic<int64_t> completed_{0};
  std::vector<std::thread> threads_;
};

}  // namespace podfleet::bench
