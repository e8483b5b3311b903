// The simulated engine, for load tests and benchmarks only: it recognises nothing. It takes
// audio_duration / EngineConfig.simulated_speed of wall time (sleeping, interruptible by the stop
// token), reports progress, and returns one segment per 10 s of audio whose text is "[simulated]".
// Its name and model are "simulated" in every output, so a transcript it made cannot pass for a
// real one. It is never chosen as a fallback: only by name.
//
// Thread-safety: Transcribe may be called from any number of threads at once; calls are
// independent (each sleeps on its own thread).
#pragma once

#include <memory>
#include <string_view>

#include "engines/engine.h"

namespace podfleet {

// The text of every simulated segment.
inline constexpr std::string_view kSimulatedText = "[simulated]";
// The length of audio that one simulated segment covers.
inline constexpr Millis kSimulatedSegment{10'000};

// kInvalidArgument when simulated_speed is not positive.
Result<std::unique_ptr<Engine>> MakeSimulatedEngine(const EngineConfig& config);

}  // namespace podfleet
