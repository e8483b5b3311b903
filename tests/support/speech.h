// Test audio made at test time: speech from espeak-ng's Klatt voice (the one PocketSphinx
// understands, see shared notes), resampled with dither by sox, encoded by ffmpeg. Files are made
// once per test run in one temporary folder, removed when the process exits. Thread-safe.
//
// REQUIRES: espeak-ng, sox and ffmpeg on PATH (scripts/setup installs them).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "audio/audio.h"
#include "core/error.h"

namespace podfleet {

// Plain news-style English: about 16 s and about 60 s of speech at 175 words a minute.
extern const std::string_view kSpeech15s;
extern const std::string_view kSpeech60s;

// The test run's temporary folder.
const std::filesystem::path& TestRunDir();

// Runs `argv` (no shell) with its output appended to TestRunDir()/tools.log. kUnavailable when it
// cannot be started or exits non-zero.
Result<void> RunTool(const std::vector<std::string>& argv);

// A 16 kHz mono 16-bit WAV of `text` spoken by `espeak-ng -v en-us+klatt4 -s 175`, then
// `sox -R ... -r 16000 -c 1 -b 16`. The same text gives the same file within a run.
Result<std::filesystem::path> SpeechWav(std::string_view text);

// SpeechWav(text) decoded by DecodeAudioFile.
Result<PcmAudio> SpeechAudio(std::string_view text);

// `wav` encoded by ffmpeg as "mp3" (64 kb/s, with an ID3 tag), "m4a" (AAC 64 kb/s), "aac" (the
// same as raw ADTS), "opus" (Ogg Opus 24 kb/s), "ogg" (Ogg Vorbis) or "flac", next to it.
// kInvalidArgument for another format.
Result<std::filesystem::path> EncodeAudio(const std::filesystem::path& wav,
                                          std::string_view format);

// Writes `bytes` to a new file `name` in TestRunDir() and returns its path.
std::filesystem::path WriteTestFile(std::string_view name, std::string_view bytes);

}  // namespace podfleet
