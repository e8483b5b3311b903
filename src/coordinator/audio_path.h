// Which way the relay prepares an episode's audio (doc/relay.md, "Choosing the audio path"):
// "opus", re-encoded as 16 kHz mono Ogg Opus (few bytes, most of the relay's CPU), or "copy",
// the original's MP3 or AAC frames cut into chunks unchanged (audio/frame_copy.h: almost no CPU
// beyond decoding to find the pauses, the original's bytes). Pure functions.
//
// On each path, what reaches the fleet is the smallest of the fleet's own speed, the relay's
// preparation speed on that path and what the uplink carries at that path's bytes per audio
// second. `auto` takes copy only when that makes the fleet faster than Opus does: when the
// relay's CPU binds on Opus and the uplink has room for the original's bytes. Otherwise Opus.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace podfleet {

enum class AudioPathMode { kAuto, kOpus, kCopy };

// "auto", "opus" or "copy"; kInvalidArgument for anything else.
Result<AudioPathMode> ParseAudioPathMode(std::string_view text);

struct AudioPathFacts {
  double fleet_speed = 0;             // x realtime of the online workers together
  double uplink_bits_per_second = 0;  // 0: not configured (no limit known)
  // x realtime the relay prepares audio at on each path: measured, else the prior below.
  std::optional<double> opus_capacity;
  std::optional<double> copy_capacity;
  int cores = 1;                         // for the priors
  double opus_bits_per_second = 24'000;  // what an audio second costs served as Opus
  double original_bits_per_second = 0;   // the episode's; 0: unknown or not copyable
};

// Until a path has prepared something on this coordinator, its speed is taken to be this many
// audio-seconds per CPU-second times the cores: what bench/relay and bench/fleet measured on a
// 2-core machine (doc/relay.md, "Copy path": copy 2,600-3,100 on a quiet machine), rounded down.
inline constexpr double kOpusPerCpuSecond = 250;
inline constexpr double kCopyPerCpuSecond = 2'600;

// What the relay spent preparing audio on one path.
struct PathSpent {
  double prepared_seconds = 0;  // audio decoded and cut
  double cpu_seconds = 0;       // the CPU that took, with its encoding or copying
  // Audio cut, and wall time, while every episode slot was busy on this path (the relay was
  // backlogged): what it really delivers on a machine it shares.
  double backlog_seconds = 0;
  double backlog_wall_seconds = 0;
};

// Backlogged wall time shorter than this is no measurement yet (a fast path on a quiet machine
// prepares a few hours of audio in a few seconds).
inline constexpr double kMinBacklogWallSeconds = 1;

// x realtime the relay prepares at on a path: `cores` times the audio per CPU-second, but no
// more than the audio it cut per wall-second while backlogged (other processes and the
// coordinator's own work share the cores), once that was measured. nullopt before anything was
// prepared on the path.
std::optional<double> PreparationCapacity(const PathSpent& spent, int cores);

struct AudioPathChoice {
  std::string path = "opus";  // "opus" or "copy"
  // What limits the audio reaching the fleet on that path: "gpu" (nothing: the fleet is the
  // slowest), "relay" (the coordinator's CPU) or "uplink".
  std::string binding = "gpu";
  double feed = 0;  // x realtime the fleet runs at on that path: the smallest of the three
  std::string reason;
  // x realtime the uplink carries at that path's bytes per audio second; nullopt: no uplink
  // configured, or bytes unknown.
  std::optional<double> uplink_capacity;
};

// What one path can feed a fleet of any speed: the smaller of its preparation capacity and what
// the uplink carries at its bytes.
struct PathFeed {
  std::string path;              // "opus" or "copy"
  double feed = 0;               // x realtime
  std::string binding;           // "relay" or "uplink": which of the two is `feed`
  double preparation = 0;        // x realtime the relay prepares at: measured, else the prior
  bool measured = false;         // `preparation` was measured, not the prior
  std::optional<double> uplink;  // x realtime the uplink carries; nullopt: not configured
  std::string reason;            // why this path and not the other
};

// The path, of those `mode` allows, that feeds the most, whatever the fleet's speed: what the
// planner takes for the relay and the uplink (plan.h, /api/bandwidth). `kAuto` allows both;
// copy needs original_bits_per_second > 0 (the bit rate of the last original copied: on the
// uplink copy costs the original's bytes). `fleet_speed` is not used: this is what more pods
// would get, and `kAuto` copies once the fleet outruns Opus (ChooseAudioPath).
PathFeed BestFeed(AudioPathMode mode, const AudioPathFacts& facts);

// The path for an episode. `kOpus` and `kCopy` are obeyed (copy only where the original is
// copyable: original_bits_per_second > 0); `kAuto` as the header says.
AudioPathChoice ChooseAudioPath(AudioPathMode mode, const AudioPathFacts& facts);

}  // namespace podfleet
