#include "coordinator/job_waiters.h"

#include <algorithm>

namespace podfleet {

JobWaiters::JobWaiters(Store& store, const Clock& clock, Millis recheck)
    : store_(store), clock_(clock), recheck_(recheck), thread_([this] { Loop(); }) {}

JobWaiters::~JobWaiters() { Stop(); }

void JobWaiters::Wait(JobId job, TimePoint deadline, Done done) {
  {
    MutexLock lock(mu_);
    if (!stopping_) {
      waiters_.emplace(job, Waiter{deadline, std::move(done)});
      notified_.push_back(job);  // it may have ended already
      wake_.notify_one();
      return;
    }
  }
  done(std::nullopt);
}

void JobWaiters::Notify(JobId job) {
  MutexLock lock(mu_);
  if (waiters_.count(job) == 0) return;
  notified_.push_back(job);
  wake_.notify_one();
}

void JobWaiters::Stop() {
  {
    MutexLock lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    wake_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

size_t JobWaiters::waiting() const {
  MutexLock lock(mu_);
  return waiters_.size();
}

void JobWaiters::Loop() {
  MutexLock lock(mu_);
  auto last_full = std::chrono::steady_clock::now();
  while (!stopping_) {
    wake_.wait_for(lock, recheck_,
                   [this]() REQUIRES(mu_) { return stopping_ || !notified_.empty(); });
    if (stopping_) break;
    const bool full = std::chrono::steady_clock::now() - last_full >= recheck_;
    if (full) last_full = std::chrono::steady_clock::now();
    lock.unlock();
    Check(full);
    lock.lock();
  }
  std::multimap<JobId, Waiter> left = std::move(waiters_);
  waiters_.clear();
  lock.unlock();
  for (auto& [job, w] : left) w.done(std::nullopt);
}

void JobWaiters::Check(bool all) {
  std::vector<JobId> jobs;
  {
    MutexLock lock(mu_);
    jobs = std::move(notified_);
    notified_.clear();
    if (all)
      for (const auto& [job, w] : waiters_) jobs.push_back(job);
  }
  std::sort(jobs.begin(), jobs.end());
  jobs.erase(std::unique(jobs.begin(), jobs.end()), jobs.end());
  std::vector<std::pair<Done, std::optional<Job>>> answers;
  const TimePoint now = clock_.Now();
  for (JobId id : jobs) {
    auto job = store_.GetJob(id);
    const bool ended = job && (job->state == JobState::kDone || job->state == JobState::kFailed);
    MutexLock lock(mu_);
    auto [begin, end] = waiters_.equal_range(id);
    for (auto it = begin; it != end;) {
      if (ended || it->second.deadline <= now) {
        answers.emplace_back(std::move(it->second.done),
                             ended ? std::optional<Job>(*job) : std::nullopt);
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& [done, job] : answers) done(std::move(job));
}

}  // namespace podfleet
