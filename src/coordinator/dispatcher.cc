#include "coordinator/dispatcher.h"

#include <algorithm>

namespace podfleet {
namespace {

// Backoff ends and lease expiries are found by this periodic re-check.
constexpr Millis kRecheck{250};

}  // namespace

Dispatcher::Dispatcher(Store& store, const Clock& clock, Millis lease_for)
    : store_(store),
      clock_(clock),
      lease_for_(lease_for),
      thread_([this](const std::stop_token& stop) { Loop(stop); }) {}

Dispatcher::~Dispatcher() { Stop(); }

void Dispatcher::Stop() {
  {
    MutexLock lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
  ServeParked(/*final=*/true);
}

size_t Dispatcher::parked() const {
  MutexLock lock(mu_);
  return parked_.size();
}

void Dispatcher::Claim(NodeId node, int max_jobs, ClaimFilter filter, Millis wait, Done done) {
  const uint64_t news = notifications_.load();
  // While claims wait, one that may wait too queues behind them: a worker claiming ahead (it has
  // work) does not take the job that an idle worker has been waiting for.
  if (wait > Millis(0)) {
    MutexLock lock(mu_);
    if (!stopping_ && !parked_.empty()) {
      parked_.push_back(Parked{node, max_jobs, filter, clock_.Now() + wait, std::move(done)});
      wakeup_.Notify();
      return;
    }
  }
  auto grants = store_.Claim(node, max_jobs, lease_for_, clock_.Now(), filter);
  if (!grants || !grants->empty() || wait <= Millis(0)) {
    done(std::move(grants));
    return;
  }
  {
    MutexLock lock(mu_);
    if (!stopping_) {
      parked_.push_back(Parked{node, max_jobs, filter, clock_.Now() + wait, std::move(done)});
      // Work that arrived while the store looked (a commit its snapshot missed) was announced
      // before this claim was parked: look again rather than wait for the re-check. A deadline
      // sooner than the re-check needs the loop to wait for it instead (NextCheck).
      if (notifications_.load() != news || wait < kRecheck) wakeup_.Notify();
      return;
    }
  }
  done(std::vector<Grant>{});
}

void Dispatcher::Notify() {
  notifications_.fetch_add(1);
  wakeup_.Notify();
}

void Dispatcher::Loop(const std::stop_token& stop) {
  while (clock_.WaitUntil(NextCheck(), stop, wakeup_)) ServeParked(/*final=*/false);
}

// A long poll that gets nothing is answered at its deadline, not up to a re-check after it.
TimePoint Dispatcher::NextCheck() const {
  TimePoint next = clock_.Now() + kRecheck;
  MutexLock lock(mu_);
  for (const Parked& p : parked_) next = std::min(next, p.deadline);
  return next;
}

void Dispatcher::ServeParked(bool final) {
  std::deque<Parked> batch;
  {
    MutexLock lock(mu_);
    batch.swap(parked_);
  }
  std::deque<Parked> still;
  bool queue_empty = false;
  for (Parked& p : batch) {
    const TimePoint now = clock_.Now();
    // Past its deadline a claim gets nothing, even if work just appeared: its worker may be gone
    // (MaxClaimWait in routes_worker.cc relies on this).
    const bool expired = now >= p.deadline;
    if (!queue_empty && !expired) {
      auto grants = store_.Claim(p.node, p.max_jobs, lease_for_, now, p.filter);
      if (!grants || !grants->empty()) {
        p.done(std::move(grants));
        continue;
      }
      // Nothing claimable: the rest would get nothing either, unless this claim left jobs out.
      if (p.filter.seam_chunks) queue_empty = true;
    }
    if (final || expired) {
      p.done(std::vector<Grant>{});
      continue;
    }
    still.push_back(std::move(p));
  }
  MutexLock lock(mu_);
  // Claims parked while we worked go after the older ones.
  for (auto& p : parked_) still.push_back(std::move(p));
  parked_.swap(still);
}

}  // namespace podfleet
