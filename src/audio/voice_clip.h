// A synthetic, voiced clip shaped like speech (vowel formants, syllables and pauses; no words),
// made in process, so every machine times engines on the same input without test data. Used by
// the worker's speed probe (worker/speed_probe.h) and the engines' warm-up that chooses how many
// states to run (engines/state_pool.h).
#pragma once

#include "audio/audio.h"

namespace podfleet {

// About 9 s, deterministic, 16 kHz mono, peak 0.45.
PcmAudio VoiceLikeClip();

}  // namespace podfleet
