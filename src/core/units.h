// Units of time and audio. Durations are std::chrono types, so seconds and milliseconds cannot be
// confused; wall-clock instants are UTC with millisecond resolution.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace podfleet {

using Millis = std::chrono::milliseconds;
using Seconds = std::chrono::seconds;
using TimePoint = std::chrono::time_point<std::chrono::system_clock, Millis>;

// Every engine consumes 16 kHz mono audio.
inline constexpr int kSampleRate = 16000;

// A count of audio samples at kSampleRate.
struct Samples {
  int64_t count = 0;
  constexpr auto operator<=>(const Samples&) const = default;
};

constexpr Millis ToMillis(Samples s) { return Millis(s.count * 1000 / kSampleRate); }
constexpr Samples ToSamples(Millis m) { return Samples{m.count() * kSampleRate / 1000}; }

inline int64_t ToUnixMillis(TimePoint t) { return t.time_since_epoch().count(); }
inline TimePoint FromUnixMillis(int64_t ms) { return TimePoint(Millis(ms)); }

// "2026-11-28T05:44:53.120Z"
std::string FormatIso8601(TimePoint t);

}  // namespace podfleet
