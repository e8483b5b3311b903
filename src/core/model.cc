#include "core/model.h"

#include <array>
#include <utility>

#include "core/language.h"

namespace podfleet {
namespace {

template <class E, size_t N>
std::optional<E> Parse(const std::array<std::pair<E, std::string_view>, N>& names,
                       std::string_view s) {
  for (const auto& [value, name] : names)
    if (name == s) return value;
  return std::nullopt;
}

template <class E, size_t N>
std::string_view Name(const std::array<std::pair<E, std::string_view>, N>& names, E e) {
  for (const auto& [value, name] : names)
    if (value == e) return name;
  return "unknown";
}

constexpr std::array<std::pair<EpisodeState, std::string_view>, 5> kEpisodeStates{{
    {EpisodeState::kQueued, "queued"},
    {EpisodeState::kRunning, "running"},
    {EpisodeState::kDone, "done"},
    {EpisodeState::kFailed, "failed"},
    {EpisodeState::kSkipped, "skipped"},
}};

constexpr std::array<std::pair<JobState, std::string_view>, 5> kJobStates{{
    {JobState::kQueued, "queued"},
    {JobState::kPreparing, "preparing"},
    {JobState::kLeased, "leased"},
    {JobState::kDone, "done"},
    {JobState::kFailed, "failed"},
}};

constexpr std::array<std::pair<Stage, std::string_view>, 5> kStages{{
    {Stage::kWaiting, "waiting"},
    {Stage::kDownloading, "downloading"},
    {Stage::kDecoding, "decoding"},
    {Stage::kTranscribing, "transcribing"},
    {Stage::kUploading, "uploading"},
}};

constexpr std::array<std::pair<NodeStatus, std::string_view>, 5> kNodeStatuses{{
    {NodeStatus::kBusy, "busy"},
    {NodeStatus::kIdle, "idle"},
    {NodeStatus::kOffline, "offline"},
    {NodeStatus::kBlocked, "blocked"},
    {NodeStatus::kUnhealthy, "unhealthy"},
}};

constexpr std::array<std::pair<AttemptOutcome, std::string_view>, 5> kAttemptOutcomes{{
    {AttemptOutcome::kRunning, "running"},
    {AttemptOutcome::kDone, "done"},
    {AttemptOutcome::kFailed, "failed"},
    {AttemptOutcome::kReleased, "released"},
    {AttemptOutcome::kExpired, "expired"},
}};

}  // namespace

std::string Transcript::Text() const {
  std::string out;
  for (const Segment& s : segments) {
    if (s.text.empty()) continue;
    if (!out.empty()) out += ' ';
    out += s.text;
  }
  return out;
}

std::string_view ToString(EpisodeState s) { return Name(kEpisodeStates, s); }
std::optional<EpisodeState> ParseEpisodeState(std::string_view s) {
  return Parse(kEpisodeStates, s);
}
std::string_view ToString(JobState s) { return Name(kJobStates, s); }
std::string_view ToString(Stage s) { return Name(kStages, s); }
std::optional<Stage> ParseStage(std::string_view s) { return Parse(kStages, s); }
std::string_view ToString(NodeStatus s) { return Name(kNodeStatuses, s); }
std::string_view ToString(AttemptOutcome o) { return Name(kAttemptOutcomes, o); }
std::optional<AttemptOutcome> ParseAttemptOutcome(std::string_view s) {
  return Parse(kAttemptOutcomes, s);
}

bool CanServe(const NodeInfo& node, const JobRequirement& want) {
  if (!want.engine.empty() && want.engine != node.engine) return false;
  if (!want.model.empty() && want.model != node.model) return false;
  if (want.language.empty()) return true;
  const std::optional<std::string> fixed = FixedLanguage(node.engine, node.model);
  return !fixed || *fixed == want.language;
}

}  // namespace podfleet
