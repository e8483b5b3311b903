#include "coordinator/upload_dedup.h"

#include <optional>

namespace podfleet {

void UploadDedup::Expire(TimePoint now) {
  for (auto* entries : {&by_key_, &by_content_}) {
    std::erase_if(*entries, [&](const auto& kv) { return now - kv.second.at >= window_; });
  }
}

Result<UploadDedup::Joined> UploadDedup::JoinOrQueue(
    std::string_view idempotency_key, std::string_view content, TimePoint now,
    const std::function<bool(EpisodeId)>& joinable,
    const std::function<Result<EpisodeId>()>& queue) {
  MutexLock lock(mu_);
  Expire(now);
  std::optional<EpisodeId> earlier;
  if (auto k = by_key_.find(idempotency_key); !idempotency_key.empty() && k != by_key_.end()) {
    earlier = k->second.episode;
  } else if (auto c = by_content_.find(content); c != by_content_.end()) {
    earlier = c->second.episode;
  }
  if (earlier && joinable(*earlier)) return Joined{*earlier, true};
  Result<EpisodeId> made = queue();
  if (!made) return std::unexpected(made.error());
  if (!idempotency_key.empty())
    by_key_.insert_or_assign(std::string(idempotency_key), Entry{*made, now});
  by_content_.insert_or_assign(std::string(content), Entry{*made, now});
  return Joined{*made, false};
}

size_t UploadDedup::remembered() const {
  MutexLock lock(mu_);
  return by_content_.size();
}

}  // namespace podfleet
