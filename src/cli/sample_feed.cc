#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cstring>
#include <fstream>

#include "cli/local_common.h"

extern char** environ;

namespace podfleet {
namespace {

// Runs a program with its output discarded; kUnavailable unless it exits 0.
Result<void> RunQuiet(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    return Unavailable(
        fmt::format("cannot run {}: {} (run scripts/setup)", argv[0], std::strerror(rc)));
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return Unavailable(fmt::format("{} failed (exit status {})", argv[0], WEXITSTATUS(status)));
  return {};
}

std::string XmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

Result<void> MakeEpisode(const std::filesystem::path& dir, const SampleEpisode& e) {
  const auto out = dir / e.file;
  if (std::filesystem::exists(out)) return {};
  const auto text = dir / (e.file + ".txt");
  const auto raw = dir / (e.file + ".raw.wav");
  const auto wav = dir / (e.file + ".16k.wav");
  std::ofstream(text) << e.text << "\n";
  // The Klatt voice is the one PocketSphinx recognises; sox -R dithers the resampled audio
  // (shared/notes/engines-here.md).
  if (auto r = RunQuiet({"espeak-ng", "-v", "en-us+klatt4", "-s", "175", "-w", raw, "-f", text});
      !r)
    return r;
  if (auto r = RunQuiet({"sox", "-R", raw, "-r", "16000", "-c", "1", "-b", "16", wav}); !r)
    return r;
  std::vector<std::string> encode = {"ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-i", wav};
  if (e.file.ends_with(".m4a")) {
    encode.insert(encode.end(), {"-c:a", "aac", "-b:a", "64k"});
  } else {
    encode.insert(encode.end(), {"-c:a", "libmp3lame", "-b:a", "64k"});
  }
  encode.push_back(out.string());
  if (auto r = RunQuiet(encode); !r) return r;
  std::error_code ec;
  std::filesystem::remove(raw, ec);
  std::filesystem::remove(wav, ec);
  return {};
}

}  // namespace

const std::vector<SampleEpisode>& SampleEpisodes() {
  static const std::vector<SampleEpisode> kEpisodes = {
      {"ep1.mp3", "Welcome to the show",
       "Welcome to the show. Today we talk about the weather and the news of the week. "
       "The rain will stop on Monday and the sun will come back in the afternoon."},
      {"ep2.m4a", "A walk in the park",
       "Last summer I took a long walk in the park with my family. We saw a small dog, "
       "a big tree and many children playing near the water."},
      {"ep3.mp3", "Money and time",
       "Many people say that time is money. In this episode we ask how much one hour of your "
       "time is worth, and what you would do with one more hour every day."},
  };
  return kEpisodes;
}

Result<std::filesystem::path> MakeSampleFeed(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Unavailable("cannot create " + dir.string() + ": " + ec.message());
  std::string items;
  int day = 1;
  for (const SampleEpisode& e : SampleEpisodes()) {
    if (auto r = MakeEpisode(dir, e); !r) return std::unexpected(r.error());
    const auto size = std::filesystem::file_size(dir / e.file, ec);
    items += fmt::format(
        "    <item>\n      <title>{}</title>\n      <guid "
        "isPermaLink=\"false\">podfleet-sample-{}</guid>\n"
        "      <pubDate>{:02} Nov 2026 08:00:00 GMT</pubDate>\n"
        "      <enclosure url=\"{}\" length=\"{}\" type=\"{}\"/>\n    </item>\n",
        XmlEscape(e.title), e.file, day++, e.file, ec ? 0 : size,
        e.file.ends_with(".m4a") ? "audio/x-m4a" : "audio/mpeg");
  }
  const auto feed = dir / "feed.xml";
  std::ofstream(feed)
      << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<rss version=\"2.0\" xmlns:itunes=\"http://www.itunes.com/dtds/podcast-1.0.dtd\">\n"
         "  <channel>\n    <title>podfleet sample podcast</title>\n    <language>en-us</language>\n"
      << items << "  </channel>\n</rss>\n";
  return std::filesystem::absolute(feed);
}

}  // namespace podfleet
