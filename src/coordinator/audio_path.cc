#include "coordinator/audio_path.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

namespace podfleet {
namespace {

struct Feed {
  double speed = 0;
  std::string binding;
  std::optional<double> uplink;  // x realtime the uplink carries at these bytes
};

// What the fleet runs at when audio reaches it at `capacity` x realtime of preparation and
// `bits` per audio second over the uplink.
Feed FeedOn(const AudioPathFacts& f, double capacity, double bits) {
  Feed feed{f.fleet_speed, "gpu"};
  if (capacity < feed.speed) feed = {capacity, "relay"};
  if (f.uplink_bits_per_second > 0 && bits > 0) {
    feed.uplink = f.uplink_bits_per_second / bits;
    if (*feed.uplink < feed.speed) feed.speed = *feed.uplink, feed.binding = "uplink";
  }
  return feed;
}

AudioPathChoice Chosen(std::string path, const Feed& feed, std::string reason) {
  return {std::move(path), feed.binding, feed.speed, std::move(reason), feed.uplink};
}

PathFeed FeedOf(std::string path, std::optional<double> measured, double prior,
                const AudioPathFacts& f, double bits) {
  PathFeed p{std::move(path), 0, "relay", measured.value_or(prior), measured.has_value()};
  p.feed = p.preparation;
  if (f.uplink_bits_per_second > 0) {
    p.uplink = f.uplink_bits_per_second / bits;
    if (*p.uplink < p.feed) p.feed = *p.uplink, p.binding = "uplink";
  }
  return p;
}

std::string Describe(const PathFeed& p) {
  return fmt::format("{} feeds {:.0f}x ({} binds{})", p.path, p.feed, p.binding,
                     p.binding == "relay" && !p.measured ? ", not yet measured" : "");
}

}  // namespace

std::optional<double> PreparationCapacity(const PathSpent& s, int cores) {
  if (s.prepared_seconds <= 0 || s.cpu_seconds <= 0) return std::nullopt;
  double capacity = std::max(1, cores) * s.prepared_seconds / s.cpu_seconds;
  if (s.backlog_wall_seconds >= kMinBacklogWallSeconds)
    capacity = std::min(capacity, s.backlog_seconds / s.backlog_wall_seconds);
  return capacity;
}

PathFeed BestFeed(AudioPathMode mode, const AudioPathFacts& f) {
  const int cores = std::max(1, f.cores);
  PathFeed opus =
      FeedOf("opus", f.opus_capacity, cores * kOpusPerCpuSecond, f, f.opus_bits_per_second);
  if (mode == AudioPathMode::kOpus) {
    opus.reason = "serve --audio-path opus";
    return opus;
  }
  if (f.original_bits_per_second <= 0) {
    opus.reason = "no original copied yet, so copy's bytes are unknown";
    return opus;
  }
  PathFeed copy =
      FeedOf("copy", f.copy_capacity, cores * kCopyPerCpuSecond, f, f.original_bits_per_second);
  if (mode == AudioPathMode::kCopy) {
    copy.reason = "serve --audio-path copy";
    return copy;
  }
  PathFeed& best = copy.feed > opus.feed ? copy : opus;
  const PathFeed& other = &best == &copy ? opus : copy;
  best.reason = fmt::format("{}; {}", Describe(best), Describe(other));
  return best;
}

Result<AudioPathMode> ParseAudioPathMode(std::string_view text) {
  if (text == "auto") return AudioPathMode::kAuto;
  if (text == "opus") return AudioPathMode::kOpus;
  if (text == "copy") return AudioPathMode::kCopy;
  return InvalidArgument(fmt::format("audio path '{}': auto, opus or copy", text));
}

AudioPathChoice ChooseAudioPath(AudioPathMode mode, const AudioPathFacts& f) {
  const int cores = std::max(1, f.cores);
  const Feed opus =
      FeedOn(f, f.opus_capacity.value_or(cores * kOpusPerCpuSecond), f.opus_bits_per_second);
  const bool copyable = f.original_bits_per_second > 0;
  if (mode == AudioPathMode::kOpus) return Chosen("opus", opus, "serve --audio-path opus");
  if (!copyable) return Chosen("opus", opus, "the original is not MP3 or AAC: not copied");
  const Feed copy =
      FeedOn(f, f.copy_capacity.value_or(cores * kCopyPerCpuSecond), f.original_bits_per_second);
  if (mode == AudioPathMode::kCopy) return Chosen("copy", copy, "serve --audio-path copy");
  // Copy costs the original's bytes: worth it only where it feeds the fleet faster, by a margin
  // that measurement noise in the capacities does not cross.
  if (copy.speed > opus.speed * 1.05)
    return Chosen("copy", copy,
                  fmt::format("Opus would feed {:.0f}x ({} binds), copy feeds {:.0f}x", opus.speed,
                              opus.binding, copy.speed));
  return Chosen("opus", opus,
                fmt::format("Opus feeds {:.0f}x, copy would feed {:.0f}x ({} binds) for more bytes",
                            opus.speed, copy.speed, copy.binding));
}

}  // namespace podfleet
