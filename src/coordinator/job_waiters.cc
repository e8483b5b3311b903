#include "coordinator/job_waiters.h"

#include <vector>

namespace podfleet {

JobWaiters::JobWaiters(Store& store, const Clock& clock, Millis recheck)
    : store_(store),
      clock_(clock),
      recheck_(recheck),
      thread_([this](const std::stop_token& stop) { Loop(stop); }) {}

JobWaiters::~JobWaiters() { Stop(); }

void JobWaiters::Wait(EpisodeId episode, TimePoint deadline, Done done, Piece piece) {
  {
    MutexLock lock(mu_);
    if (!stopping_) {
      waiters_.emplace(episode, Waiter{deadline, std::move(done), std::move(piece)});
      wakeup_.Notify();  // it may have ended already
      return;
    }
  }
  done(std::nullopt);
}

void JobWaiters::Notify() {
  {
    MutexLock lock(mu_);
    if (waiters_.empty()) return;
  }
  wakeup_.Notify();
}

void JobWaiters::Stop() {
  {
    MutexLock lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

size_t JobWaiters::waiting() const {
  MutexLock lock(mu_);
  return waiters_.size();
}

void JobWaiters::Loop(const std::stop_token& stop) {
  while (clock_.WaitUntil(clock_.Now() + recheck_, stop, wakeup_)) Check();
  MutexLock lock(mu_);
  std::multimap<EpisodeId, Waiter> left = std::move(waiters_);
  waiters_.clear();
  lock.unlock();
  for (auto& [episode, w] : left) w.done(std::nullopt);
}

void JobWaiters::GivePieces(EpisodeId episode, Waiter& w) {
  auto jobs = store_.ListJobsForEpisode(episode);
  if (!jobs) return;
  while (w.next_chunk < static_cast<int>(jobs->size())) {
    const Job& job = (*jobs)[static_cast<size_t>(w.next_chunk)];
    if (job.state != JobState::kDone) return;
    auto result = store_.GetJobResult(job.id);
    if (!result) return;  // stitched meanwhile: the done answer has the whole text
    w.piece(result->Text());
    ++w.next_chunk;
  }
}

void JobWaiters::Check() {
  // The waiters are taken out while the store is read, so callbacks run without the lock.
  std::multimap<EpisodeId, Waiter> checking;
  {
    MutexLock lock(mu_);
    checking = std::move(waiters_);
    waiters_.clear();
  }
  const TimePoint now = clock_.Now();
  std::vector<std::pair<Done, std::optional<Episode>>> answers;
  for (auto it = checking.begin(); it != checking.end();) {
    auto& [id, w] = *it;
    auto episode = store_.GetEpisode(id);
    const bool ended = episode && (episode->state == EpisodeState::kDone ||
                                   episode->state == EpisodeState::kFailed);
    // Once stitched, the chunks' own texts are gone: the episode's transcript has them all.
    if (w.piece && episode && !ended) GivePieces(id, w);
    if (ended || w.deadline <= now) {
      answers.emplace_back(std::move(w.done), ended ? std::optional(*episode) : std::nullopt);
      it = checking.erase(it);
    } else {
      ++it;
    }
  }
  {
    MutexLock lock(mu_);
    if (stopping_) {
      for (auto& [id, w] : checking) answers.emplace_back(std::move(w.done), std::nullopt);
    } else {
      waiters_.merge(checking);
    }
  }
  for (auto& [done, episode] : answers) done(std::move(episode));
}

}  // namespace podfleet
