#include "engines/state_pool.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "audio/voice_clip.h"

namespace podfleet {

StatePool::StatePool(std::vector<void*> states) : size_(states.size()), free_(std::move(states)) {}

StatePool::Progress::Progress(const std::vector<Piece>& chunks, const EngineProgress& progress)
    : progress_(progress), done_(chunks.size(), 0.0) {
  int64_t total = 0;
  for (const Piece& c : chunks) {
    weight_.push_back(c.end.count - c.begin.count);
    total += weight_.back();
  }
  total_ = std::max<int64_t>(1, total);
}

void StatePool::Progress::Report(size_t chunk, double fraction) {
  if (!progress_) return;
  double sum = 0;
  {
    MutexLock lock(mu_);
    done_[chunk] = fraction;
    for (size_t i = 0; i < done_.size(); ++i) sum += done_[i] * static_cast<double>(weight_[i]);
  }
  progress_(sum / static_cast<double>(total_));
}

void* StatePool::Acquire() {
  MutexLock lock(mu_);
  free_cv_.wait(lock, [&]() REQUIRES(mu_) { return !free_.empty(); });
  void* s = free_.back();
  free_.pop_back();
  return s;
}

void StatePool::Release(void* state) {
  {
    MutexLock lock(mu_);
    free_.push_back(state);
  }
  free_cv_.notify_one();
}

Result<std::vector<Segment>> StatePool::Run(size_t chunks, const RunChunk& run) {
  std::vector<Result<std::vector<Segment>>> results(chunks, std::vector<Segment>{});
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  auto work = [&] {
    void* state = Acquire();
    for (size_t i = next++; i < chunks && !failed; i = next++) {
      results[i] = run(i, state);
      if (!results[i]) failed = true;
    }
    Release(state);
  };
  const size_t helpers = chunks == 0 ? 0 : std::min(size_, chunks) - 1;
  {
    std::vector<std::jthread> threads;
    for (size_t i = 0; i < helpers; ++i) threads.emplace_back(work);
    if (chunks > 0) work();
  }
  std::vector<Segment> all;
  for (auto& r : results) {
    if (!r) return std::unexpected(r.error());
    for (Segment& s : *r) all.push_back(std::move(s));
  }
  return all;
}

Millis ChunkLengthForStates(Millis audio, size_t states, Millis longest, Millis shortest) {
  if (states <= 1) return longest;
  const Millis spread = std::max(shortest, audio / static_cast<int64_t>(states) + Millis(1));
  return longest.count() == 0 ? spread : std::min(longest, spread);
}

}  // namespace podfleet

namespace podfleet {

int ChooseStates(const std::vector<StatesMeasurement>& measured) {
  double best = 0;
  for (const StatesMeasurement& m : measured) best = std::max(best, m.realtime);
  int choice = 0;
  for (const StatesMeasurement& m : measured)
    if (m.realtime >= 0.95 * best && (choice == 0 || m.states < choice)) choice = m.states;
  return std::max(1, choice);
}

Result<std::vector<StatesMeasurement>> MeasureStates(
    int max_states, const std::function<Result<StatesMeasurement>(int states)>& at) {
  std::vector<StatesMeasurement> out;
  for (int n = 1; n <= std::max(1, max_states); n *= 2) {
    auto m = at(n);
    if (!m) {
      if (out.empty()) return std::unexpected(m.error());
      break;
    }
    out.push_back(*m);
    if (out.size() >= 2 && m->realtime < 1.05 * out[out.size() - 2].realtime) break;
  }
  return out;
}

}  // namespace podfleet

namespace podfleet {
namespace {

Result<StatesMeasurement> WarmUp(std::vector<void*>& states, int n, const StateOps& ops,
                                 int64_t free_at_start, const PcmAudio& clip) {
  while (static_cast<int>(states.size()) < n) {
    const int64_t free = ops.device_free();
    if (free >= 0 && states.size() >= 1) {
      const int64_t per_state = (free_at_start - free) / static_cast<int64_t>(states.size());
      if (free < per_state + free_at_start / 10)
        return Unavailable(fmt::format("no room for state {} on the GPU", states.size() + 1));
    }
    void* s = ops.create();
    if (!s) return Internal(fmt::format("cannot create state {}", states.size() + 1));
    states.push_back(s);
  }
  if (ops.prepare) ops.prepare(n);
  StatePool pool(std::vector<void*>(states.begin(), states.begin() + n));
  const auto started = std::chrono::steady_clock::now();
  auto done =
      pool.Run(static_cast<size_t>(n), [&](size_t, void* state) -> Result<std::vector<Segment>> {
        if (auto ok = ops.run(state, clip); !ok) return std::unexpected(ok.error());
        return std::vector<Segment>{};
      });
  if (!done) return std::unexpected(done.error());
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const int64_t free = ops.device_free();
  return StatesMeasurement{
      n, n * static_cast<double>(clip.duration().count()) / 1000.0 / std::max(wall, 1e-3),
      free >= 0 ? free_at_start - free : 0};
}

}  // namespace

Result<StatesPlan> MakeStates(int requested, const StateOps& ops) {
  StatesPlan plan;
  auto fail = [&](Error e) {
    for (void* s : plan.states) ops.destroy(s);
    return std::unexpected(std::move(e));
  };
  if (requested < 0) return InvalidArgument("states must be 0 (auto) or more");
  if (requested > 0) {
    for (int i = 0; i < requested; ++i) {
      void* s = ops.create();
      if (!s)
        return fail(
            {Code::kInternal, fmt::format("cannot create state {} of {}", i + 1, requested)});
      plan.states.push_back(s);
    }
    return plan;
  }
  const int64_t free_at_start = ops.device_free();
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int max_states = free_at_start >= 0 ? 16 : std::min(8, cores);
  const PcmAudio clip = VoiceLikeClip();
  auto measured = MeasureStates(
      max_states, [&](int n) { return WarmUp(plan.states, n, ops, free_at_start, clip); });
  if (!measured) return fail(measured.error());
  plan.measured = std::move(*measured);
  const size_t keep = static_cast<size_t>(ChooseStates(plan.measured));
  while (plan.states.size() > keep) {
    ops.destroy(plan.states.back());
    plan.states.pop_back();
  }
  return plan;
}

std::string DescribeStates(size_t states, const std::vector<StatesMeasurement>& measured) {
  if (measured.empty()) return fmt::format("{} (given)", states);
  std::vector<std::string> parts;
  for (const StatesMeasurement& m : measured)
    parts.push_back(fmt::format("{}: {:.1f}x", m.states, m.realtime));
  return fmt::format("{} (auto; warm-up {})", states, fmt::join(parts, ", "));
}

}  // namespace podfleet
