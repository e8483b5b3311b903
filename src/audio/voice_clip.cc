#include "audio/voice_clip.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace podfleet {
namespace {

// First and second formants (Hz) of a few English vowels.
constexpr std::pair<double, double> kVowels[] = {
    {730, 1090}, {270, 2290}, {300, 870}, {530, 1840}, {570, 840}, {660, 1720},
};

// The gain of a resonance at `centre` Hz with bandwidth `width` Hz, at `f` Hz.
double Resonance(double f, double centre, double width) {
  const double x = (f - centre) / width;
  return 1.0 / (1.0 + x * x);
}

}  // namespace

PcmAudio VoiceLikeClip() {
  constexpr int kSyllables = 28;
  constexpr double kSyllable = 0.22;  // s of voice, then 0.06 s of gap
  constexpr double kGap = 0.06;
  PcmAudio audio;
  double phase = 0;
  for (int s = 0; s < kSyllables; ++s) {
    const auto [f1, f2] = kVowels[(s * 5 + 1) % std::size(kVowels)];
    const int voiced = static_cast<int>(kSyllable * kSampleRate);
    for (int i = 0; i < voiced; ++i) {
      const double t = static_cast<double>(i) / kSampleRate;
      const double f0 = 110 + 30 * std::sin(2 * std::numbers::pi * (s * 0.37 + t * 2));
      phase += 2 * std::numbers::pi * f0 / kSampleRate;
      double v = 0;
      for (int k = 1; k * f0 < 4000; ++k) {
        const double f = k * f0;
        v += (Resonance(f, f1, 90) + 0.6 * Resonance(f, f2, 120) + 0.02) / k * std::sin(k * phase);
      }
      const double envelope = std::sin(std::numbers::pi * t / kSyllable);
      audio.samples.push_back(static_cast<float>(0.35 * envelope * v));
    }
    // A longer pause every seventh syllable, like the end of a phrase.
    const double gap = (s % 7 == 6) ? 0.45 : kGap;
    audio.samples.insert(audio.samples.end(), static_cast<size_t>(gap * kSampleRate), 0.0f);
  }
  float peak = 0;
  for (float x : audio.samples) peak = std::max(peak, std::abs(x));
  for (float& x : audio.samples) x *= 0.45f / peak;
  return audio;
}

}  // namespace podfleet
