// The speed a worker reports when it registers (NodeInfo::speed): its configured engine timed on a
// short built-in clip. The clip is synthetic, voiced sound shaped like speech (vowel formants,
// syllables and pauses; no words), made in process, so every machine measures the same input and
// needs no test data. Its realtime factor is indicative: engines whose speed depends on what is
// said run at a different speed on real speech. The coordinator learns real speeds from jobs.
#pragma once

#include <stop_token>

#include "audio/audio.h"
#include "engines/engine.h"

namespace podfleet {

// The clip: about 9 s, deterministic, 16 kHz mono, peak 0.45.
PcmAudio SpeedProbeClip();

// Audio seconds per wall second of engine.Transcribe on the clip (after no warm-up: the first
// call pays model loading, as the worker's first job does). Errors are the engine's; kUnavailable
// "cancelled" when `stop` is requested.
Result<double> MeasureEngineSpeed(Engine& engine, std::stop_token stop);

}  // namespace podfleet
