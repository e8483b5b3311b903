#include "sim_worker.h"

#include <fmt/format.h>

namespace podfleet::bench {

SimWorker::SimWorker(const std::string& server, HttpClient& http, double speed,
                     const Policy& policy)
    : client_(server, http),
      http_(http),
      speed_(speed),
      policy_(policy),
      planner_(policy.min_depth, policy.max_depth) {
  log_.speed = speed;
}

SimWorker::~SimWorker() { Stop(); }

Result<void> SimWorker::Register(const std::string& enrollment, int index) {
  NodeInfo info;
  info.name = fmt::format("sim-{}-{}x", index, speed_);
  info.engine = "simulated";
  info.speed = speed_;
  if (speed_ == 87) info.hardware.gpus = {{"NVIDIA RTX A5000", "550.54.15", 24'564, "12.4"}};
  if (speed_ == 393) info.hardware.gpus = {{"NVIDIA H200", "550.54.15", 143'771, "12.4"}};
  if (!info.hardware.gpus.empty()) info.price_per_hour = speed_ == 87 ? 0.22 : 3.59;
  auto reg = client_.Register(enrollment, info);
  if (!reg) return std::unexpected(reg.error());
  client_.set_node_token(reg->token);
  return {};
}

void SimWorker::Start() {
  threads_.emplace_back([this] { ClaimLoop(); });
  for (int i = 0; i < policy_.fetchers; ++i) threads_.emplace_back([this] { FetchLoop(); });
  threads_.emplace_back([this] { EngineLoop(); });
  threads_.emplace_back([this] { UploadLoop(); });
}

void SimWorker::RequestStop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  changed_.notify_all();
}

void SimWorker::Stop() {
  RequestStop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

bool SimWorker::stopping() {
  MutexLock lock(mu_);
  return stopping_;
}

void SimWorker::ClaimLoop() {
  while (true) {
    int want = 0;
    {
      MutexLock lock(mu_);
      changed_.wait(lock,
                    [&]() REQUIRES(mu_) { return stopping_ || AheadLocked() < planner_.Depth(); });
      if (stopping_) return;
      want = policy_.long_poll ? planner_.Depth() - AheadLocked() : 1;
    }
    auto grants = client_.Claim(want, policy_.long_poll ? Millis(2'000) : Millis(0));
    const auto now = Steady::now();
    MutexLock lock(mu_);
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
      changed_.wait_for(lock, policy_.poll_interval, [&]() REQUIRES(mu_) { return stopping_; });
  }
}

void SimWorker::FetchLoop() {
  while (true) {
    WireGrant grant;
    {
      MutexLock lock(mu_);
      changed_.wait(lock, [&]() REQUIRES(mu_) { return stopping_ || !to_fetch_.empty(); });
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
    MutexLock lock(mu_);
    if (body) log_.bytes += static_cast<int64_t>(body->body.size());
    if (grant.chunk.end && grant.chunk.index + 1 < grant.chunk.count)
      log_.cuts[grant.episode.id.value()].push_back(static_cast<double>(grant.chunk.end->count()) /
                                                    1e3);
    --fetching_;
    ready_.push_back(Held{std::move(grant), audio});
    changed_.notify_all();
  }
}

void SimWorker::EngineLoop() {
  while (true) {
    Held job;
    {
      MutexLock lock(mu_);
      changed_.wait(lock, [&]() REQUIRES(mu_) { return stopping_ || !ready_.empty(); });
      if (stopping_) return;
      job = std::move(ready_.front());
      ready_.pop_front();
      changed_.notify_all();
    }
    const auto begin = Steady::now();
    const auto took = std::chrono::duration_cast<Steady::duration>(
        Seconds(static_cast<double>(job.audio.count()) / 1000.0 / speed_));
    {
      MutexLock lock(mu_);
      const bool stopped =
          changed_.wait_until(lock, begin + took, [&]() REQUIRES(mu_) { return stopping_; });
      log_.spans.push_back({begin, Steady::now()});
      if (stopped) return;
    }
    job.engine = std::chrono::duration_cast<Millis>(took);
    planner_.Transcribed(job.engine, job.audio);
    MutexLock lock(mu_);
    uploads_.push_back(std::move(job));
    changed_.notify_all();
  }
}

void SimWorker::UploadLoop() {
  while (true) {
    Held job;
    {
      MutexLock lock(mu_);
      changed_.wait(lock, [&]() REQUIRES(mu_) { return stopping_ || !uploads_.empty(); });
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
    if (!r && !stopping()) fmt::print(stderr, "complete: {}\n", r.error().ToString());
    ++completed_;
  }
}

}  // namespace podfleet::bench
