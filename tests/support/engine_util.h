// Helpers shared by the engine and model-file tests: whole files as bytes, and engines loaded and
// run with a test failure (not a crash) when they refuse.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "engines/engine.h"
#include "support/files.h"
#include "support/speech.h"

namespace podfleet {

// kSpeech15s, decoded once per test run.
inline const PcmAudio& Speech() {
  static const PcmAudio audio = [] {
    auto speech = SpeechAudio(kSpeech15s);
    if (!speech) ADD_FAILURE() << speech.error().ToString();
    return speech.value_or(PcmAudio{});
  }();
  return audio;
}

inline std::unique_ptr<Engine> Load(const EngineConfig& config) {
  auto engine = MakeEngine(config);
  if (!engine) {
    ADD_FAILURE() << engine.error().ToString();
    return nullptr;
  }
  return std::move(*engine);
}

// The simulated engine (no model): `seconds` of audio take it seconds / `speed`.
inline std::unique_ptr<Engine> SimulatedEngine(double speed) {
  EngineConfig config;
  config.name = "simulated";
  config.simulated_speed = speed;
  return Load(config);
}

inline Transcript TranscribeAll(Engine& engine, const PcmAudio& audio) {
  auto t = engine.Transcribe(audio, {}, {});
  if (!t) {
    ADD_FAILURE() << t.error().ToString();
    return {};
  }
  return *t;
}

}  // namespace podfleet
