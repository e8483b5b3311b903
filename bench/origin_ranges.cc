// What origin-range mode saves the coordinator, and what it costs the workers (doc/relay.md
// "Origin ranges"), on real episodes in the same run: for each encoding (MP3 CBR 128 kb/s, MP3
// VBR, M4A AAC 96 kb/s with its moov at the end; 44.1 kHz stereo, made from the project's test
// speech), served by a loopback origin that honours Range:
//   - relay: the coordinator's work in relay mode on one thread: download (here a local read),
//     decode, cut (ChooseChunks) and encode each chunk as Opus at the relay's settings; CPU seconds
//     and the bytes it then sends to workers (the Opus chunks);
//   - ranges, coordinator: RangeSource::Open + ProbeByteSource, all it does per episode; CPU
//     seconds and bytes it fetched (it sends workers no audio);
//   - ranges, workers: each chunk of the plan (boundaries every --chunk-minutes) decoded by
//     DecodeSeamedChunk from a RangeSource of its own; the bytes each fetched against its share of
//     the file, and its CPU seconds.
// CPU is this thread's (RUSAGE_THREAD; the origin's server thread is not counted).
#include <fmt/format.h>
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "args.h"
#include "audio/chunks.h"
#include "audio/opus.h"
#include "audio/seams.h"
#include "audio/source_decoder.h"
#include "net/range_source.h"
#include "support/range_origin.h"
#include "support/speech.h"

namespace podfleet {
namespace {

double ThreadCpu() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct Encoding {
  std::string name, file;
  std::vector<std::string> args;
};

Result<std::filesystem::path> MakeEpisode(const std::filesystem::path& dir, int minutes,
                                          const Encoding& e) {
  const auto out = dir / fmt::format("{}min-{}", minutes, e.file);
  if (std::filesystem::exists(out)) return out;
  auto wav = SpeechWav(kSpeech60s);
  if (!wav) return std::unexpected(wav.error());
  std::vector<std::string> argv = {
      "ffmpeg", "-nostdin",    "-y",  "-stream_loop", std::to_string(minutes - 1),
      "-i",     wav->string(), "-ar", "44100",        "-ac",
      "2"};
  argv.insert(argv.end(), e.args.begin(), e.args.end());
  argv.push_back(out.string());
  if (auto r = RunTool(argv); !r) return std::unexpected(r.error());
  return out;
}

int Run(int minutes, double chunk_minutes, const std::filesystem::path& dir) {
  const std::vector<Encoding> encodings = {
      {"MP3 CBR 128k", "cbr.mp3", {"-c:a", "libmp3lame", "-b:a", "128k"}},
      {"MP3 VBR q5", "vbr.mp3", {"-c:a", "libmp3lame", "-q:a", "5"}},
      {"M4A AAC 96k, moov at end", "end.m4a", {"-c:a", "aac", "-b:a", "96k"}},
  };
  auto http = MakeCurlClient({.timeout = Millis(60'000)});
  const SeamOptions seams;
  for (const Encoding& e : encodings) {
    auto path = MakeEpisode(dir, minutes, e);
    if (!path) {
      fmt::print(stderr, "{}: {}\n", e.name, path.error().ToString());
      return 1;
    }
    const std::string bytes = ReadAll(*path);
    RangeOrigin origin(bytes);

    // Relay mode: the coordinator decodes, cuts and encodes every chunk.
    double cpu = ThreadCpu();
    auto whole = DecodeAudioFile(*path);
    if (!whole) {
      fmt::print(stderr, "{}: {}\n", e.name, whole.error().ToString());
      return 1;
    }
    const double hours = static_cast<double>(whole->duration().count()) / 3.6e6;
    int64_t opus_bytes = 0;
    const auto pieces = ChooseChunks(*whole, ChunkOptions{});
    for (const Piece& p : pieces) {
      const auto opus = dir / "chunk.opus";
      auto r = WriteOpus(
          opus, std::span(whole->samples).subspan(p.begin.count, p.end.count - p.begin.count));
      if (!r) {
        fmt::print(stderr, "{}: {}\n", e.name, r.error().ToString());
        return 1;
      }
      opus_bytes += static_cast<int64_t>(std::filesystem::file_size(opus));
    }
    const double relay_cpu = ThreadCpu() - cpu;

    // Origin-range mode: the coordinator probes.
    cpu = ThreadCpu();
    auto source = RangeSource::Open(*http, origin.Url());
    if (!source) {
      fmt::print(stderr, "{}: {}\n", e.name, source.error().ToString());
      return 1;
    }
    auto probe = ProbeByteSource(**source);
    if (!probe) {
      fmt::print(stderr, "{}: {}\n", e.name, probe.error().ToString());
      return 1;
    }
    const double probe_cpu = ThreadCpu() - cpu;
    const RangeTraffic probe_traffic = (*source)->traffic();

    // The workers: one chunk each.
    std::vector<SeamPlan> plans;
    const Millis step(std::llround(chunk_minutes * 60'000));
    std::optional<Millis> begin;
    for (Millis b = step; b + step / 4 < probe->duration; b += step) {
      plans.push_back({begin, b});
      begin = b;
    }
    plans.push_back({begin, std::nullopt});
    fmt::print(
        "\n{} ({:.1f} min, {:.1f} MB; {} chunks of {} min planned)\n"
        "  relay:   {:.2f} CPU s ({:.2f} per audio-hour), sends {:.2f} MB to workers ({:.2f} MB "
        "per "
        "audio-hour)\n"
        "  ranges:  coordinator probe {:.3f} CPU s ({:.3f} per audio-hour), read {} bytes in {} "
        "requests, sends 0 bytes of audio; duration {:.1f} s (decoded {:.1f} s){}\n",
        e.name, hours * 60, bytes.size() / 1e6, plans.size(), chunk_minutes, relay_cpu,
        relay_cpu / hours, opus_bytes / 1e6, opus_bytes / 1e6 / hours, probe_cpu, probe_cpu / hours,
        probe_traffic.bytes, probe_traffic.requests, probe->duration.count() / 1000.0,
        whole->duration().count() / 1000.0, probe->estimated ? " (estimated)" : "");
    int64_t samples = 0;
    int64_t fetched = 0;
    double worker_cpu = 0;
    for (size_t i = 0; i < plans.size(); ++i) {
      cpu = ThreadCpu();
      auto own = RangeSource::Open(*http, origin.Url());
      if (!own) {
        fmt::print(stderr, "{}: {}\n", e.name, own.error().ToString());
        return 1;
      }
      auto chunk = DecodeSeamedChunk(**own, plans[i], seams);
      if (!chunk) {
        fmt::print(stderr, "{}: chunk {}: {}\n", e.name, i, chunk.error().ToString());
        return 1;
      }
      const double took = ThreadCpu() - cpu;
      worker_cpu += took;
      samples += chunk->audio.size().count;
      fetched += (*own)->traffic().bytes;
      const double share =
          static_cast<double>(chunk->audio.size().count) / static_cast<double>(whole->size().count);
      fmt::print(
          "  worker {}: {:.1f} s of audio from {:.1f} s, fetched {:.2f} MB = {:.3f} of the file "
          "for {:.3f} of its audio ({:.2f}x its share), {:.2f} CPU s\n",
          i, chunk->audio.duration().count() / 1000.0,
          (SeamStart(plans[i], seams) + chunk->offset).count() / 1000.0,
          (*own)->traffic().bytes / 1e6,
          static_cast<double>((*own)->traffic().bytes) / static_cast<double>(bytes.size()), share,
          static_cast<double>((*own)->traffic().bytes) / static_cast<double>(bytes.size()) / share,
          took);
    }
    fmt::print(
        "  workers together: {:.2f} MB fetched ({:.3f}x the file), {:.2f} CPU s; chunks add up to "
        "{} samples, the whole decode {} ({:+} ms)\n",
        fetched / 1e6, static_cast<double>(fetched) / static_cast<double>(bytes.size()), worker_cpu,
        samples, whole->size().count, ToMillis(Samples{samples - whole->size().count}).count());
  }
  return 0;
}

}  // namespace
}  // namespace podfleet

int main(int argc, char** argv) {
  int minutes = 30;
  double chunk_minutes = 10;
  std::filesystem::path dir = std::filesystem::temp_directory_path() / "podfleet-bench-ranges";
  const int parsed = podfleet::ParseBenchArgs(
      argc, argv, "[--minutes 30] [--chunk-minutes 10] [--dir DIR]",
      {{"--minutes", [&](const char* v) { minutes = std::atoi(v); }},
       {"--chunk-minutes", [&](const char* v) { chunk_minutes = std::atof(v); }},
       {"--dir", [&](const char* v) { dir = v; }}});
  if (parsed >= 0) return parsed;
  std::filesystem::create_directories(dir);
  return podfleet::Run(minutes, chunk_minutes, dir);
}
