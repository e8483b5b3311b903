#include "episodes.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <chrono>
#include <fstream>

#include "audio/audio.h"
#include "support/speech.h"

namespace podfleet::bench {

using Steady = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

double CpuSeconds(int who) {
  rusage u{};
  getrusage(who, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

Result<void> Ffmpeg(std::vector<std::string> args) {
  args.insert(args.begin(), {"ffmpeg", "-nostdin", "-y", "-loglevel", "error"});
  return RunTool(args);
}

// The test speech encoded once as `format`, then `minutes` copies of it joined without
// re-encoding (the concat demuxer, stream copy).
Result<std::filesystem::path> MakeEpisode(const std::filesystem::path& dir, std::string_view kind,
                                          int minutes) {
  const bool m4a = kind == "m4a";
  const auto path = dir / fmt::format("{}-{}min.{}", kind, minutes, m4a ? "m4a" : "mp3");
  if (std::filesystem::exists(path)) return path;
  auto wav = SpeechWav(kSpeech60s);
  if (!wav) return std::unexpected(wav.error());
  const auto one = dir / fmt::format("{}-one.{}", kind, m4a ? "m4a" : "mp3");
  std::vector<std::string> codec;
  if (kind == "mp3") codec = {"-ac", "2", "-ar", "44100", "-b:a", "128k"};
  if (kind == "m4a") codec = {"-ac", "2", "-ar", "44100", "-c:a", "aac", "-b:a", "96k"};
  if (kind == "lowrate") codec = {"-ac", "1", "-ar", "16000", "-b:a", "16k"};
  std::vector<std::string> encode = {"-i", wav->string()};
  encode.insert(encode.end(), codec.begin(), codec.end());
  encode.push_back(one.string());
  if (auto r = Ffmpeg(encode); !r) return std::unexpected(r.error());
  const auto list = dir / fmt::format("{}-{}.txt", kind, minutes);
  {
    std::ofstream out(list);
    for (int i = 0; i < minutes; ++i) out << "file '" << one.string() << "'\n";
  }
  if (auto r = Ffmpeg({"-f", "concat", "-safe", "0", "-i", list.string(), "-c", "copy",
                       path.string() + ".part." + (m4a ? "m4a" : "mp3")});
      !r)
    return std::unexpected(r.error());
  std::filesystem::rename(path.string() + ".part." + (m4a ? "m4a" : "mp3"), path);
  return path;
}

// The ffmpeg CLI doing the relay's work, one episode after another: wall and CPU seconds.
Result<std::pair<double, double>> FfmpegBaseline(const std::vector<std::filesystem::path>& files,
                                                 const std::filesystem::path& dir,
                                                 const OpusOptions& o) {
  const double cpu = CpuSeconds(RUSAGE_CHILDREN);
  const auto start = Steady::now();
  for (const auto& f : files) {
    auto r = Ffmpeg({"-i", f.string(), "-ac", "1", "-ar", "16000", "-c:a", "libopus", "-b:a",
                     std::to_string(o.bitrate), "-compression_level", std::to_string(o.complexity),
                     "-frame_duration", std::to_string(o.frame_ms), "-application", o.application,
                     (dir / "baseline.opus").string()});
    if (!r) return std::unexpected(r.error());
  }
  return std::pair{Seconds(Steady::now() - start).count(), CpuSeconds(RUSAGE_CHILDREN) - cpu};
}

// The ffmpeg CLI doing the copy path's work, one episode after another: decoding each to 16 kHz
// mono (to find its pauses) and then cutting it by stream copy at `cuts` (seconds, per file).
Result<std::pair<double, double>> FfmpegCopyBaseline(
    const std::vector<std::filesystem::path>& files, const std::vector<std::vector<double>>& cuts,
    const std::filesystem::path& dir) {
  const double cpu = CpuSeconds(RUSAGE_CHILDREN);
  const auto start = Steady::now();
  for (size_t i = 0; i < files.size(); ++i) {
    if (auto r = Ffmpeg({"-i", files[i].string(), "-ac", "1", "-ar", "16000", "-f", "null", "-"});
        !r)
      return std::unexpected(r.error());
    std::string times;
    for (double t : cuts[i]) times += (times.empty() ? "" : ",") + fmt::format("{:.3f}", t);
    const bool mp3 = files[i].extension() == ".mp3";
    std::vector<std::string> args = {"-i", files[i].string(), "-map", "0:a", "-c", "copy",
                                     "-f", "segment"};
    if (!times.empty()) args.insert(args.end(), {"-segment_times", times});
    args.push_back((dir / (mp3 ? "baseline-%03d.mp3" : "baseline-%03d.aac")).string());
    if (auto r = Ffmpeg(args); !r) return std::unexpected(r.error());
  }
  return std::pair{Seconds(Steady::now() - start).count(), CpuSeconds(RUSAGE_CHILDREN) - cpu};
}
}  // namespace podfleet::bench
