#include "support/speech.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>

extern char** environ;

namespace podfleet {

const std::string_view kSpeech15s =
    "The weather service said that a cold front would move across the northern plains tonight. "
    "Farmers are hoping the rain will arrive before the harvest begins. In the city, the council "
    "voted to build a new library near the river. The project will cost about four million "
    "dollars and should open in two years.";

const std::string_view kSpeech60s =
    "Good morning and welcome to the program. Today we are talking about the history of the "
    "railroad in this country. In the early days, most people traveled by horse or by boat, and "
    "a trip across the state could take more than a week. When the first trains arrived, "
    "everything changed. Farmers could send their crops to the city in a single day, and "
    "families could visit relatives who lived far away. Towns grew up wherever the train "
    "stopped, and many of them are still there today. Of course, building the railroad was hard "
    "work. Thousands of men laid the tracks by hand, in the heat of summer and the cold of "
    "winter. Some of them came from other countries to find a job and a better life. Later in "
    "the show, we will hear from a teacher who has spent ten years studying old letters written "
    "by those workers. She says the letters tell us a great deal about how people lived and what "
    "they hoped for. But first, let us take a short break. Stay with us, and we will be right "
    "back after the news.";

namespace {

// The run's folder, removed with everything in it when the process exits.
class RunDir {
 public:
  RunDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "podfleet-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~RunDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  RunDir(const RunDir&) = delete;
  RunDir& operator=(const RunDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::mutex& CacheMutex() {
  static std::mutex mu;
  return mu;
}

std::string Key(std::string_view text) {
  return fmt::format("{:016x}", std::hash<std::string_view>()(text));
}

}  // namespace

const std::filesystem::path& TestRunDir() {
  static const RunDir dir;
  return dir.path();
}

Result<void> RunTool(const std::vector<std::string>& argv) {
  const std::string log = (TestRunDir() / "tools.log").string();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  const std::string command = fmt::format("{}", fmt::join(argv, " "));
  if (rc != 0) return Unavailable(fmt::format("cannot run {}: {}", command, std::strerror(rc)));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Unavailable(fmt::format("{} failed (status {}); see {}", command, status, log));
  }
  return {};
}

Result<std::filesystem::path> SpeechWav(std::string_view text) {
  std::lock_guard lock(CacheMutex());
  const std::filesystem::path dir = TestRunDir();
  const std::filesystem::path out = dir / ("speech-" + Key(text) + ".wav");
  if (std::filesystem::exists(out)) return out;
  const std::filesystem::path text_file = dir / ("speech-" + Key(text) + ".txt");
  const std::filesystem::path raw = dir / ("speech-" + Key(text) + "-22k.wav");
  std::ofstream(text_file) << text << '\n';
  if (auto r = RunTool({"espeak-ng", "-v", "en-us+klatt4", "-s", "175", "-w", raw.string(), "-f",
                        text_file.string()});
      !r) {
    return std::unexpected(r.error());
  }
  // -R: repeatable dither. Dither matters: digital silence doubled PocketSphinx's error rate.
  if (auto r =
          RunTool({"sox", "-R", raw.string(), "-r", "16000", "-c", "1", "-b", "16", out.string()});
      !r) {
    return std::unexpected(r.error());
  }
  return out;
}

Result<std::filesystem::path> EncodeAudio(const std::filesystem::path& wav,
                                          std::string_view format) {
  static const std::map<std::string_view, std::vector<std::string>> kCodecs = {
      {"mp3", {"-c:a", "libmp3lame", "-b:a", "64k"}},
      {"m4a", {"-c:a", "aac", "-b:a", "64k"}},
      {"opus", {"-c:a", "libopus", "-b:a", "24k"}},
      {"flac", {"-c:a", "flac"}},
      {"aac", {"-c:a", "aac", "-b:a", "64k"}},  // raw ADTS frames
      {"ogg", {"-c:a", "libvorbis", "-q:a", "3"}},
      // Containers the sniffer cannot name, which FFmpeg's probe must judge.
      {"webm", {"-c:a", "libopus", "-b:a", "24k"}},  // what browsers record
      {"mpeg", {"-c:a", "mp2", "-b:a", "64k"}},      // an MPEG-1 program stream
      {"aiff", {"-c:a", "pcm_s16be"}},
  };
  const auto codec = kCodecs.find(format);
  if (codec == kCodecs.end()) return InvalidArgument(fmt::format("no encoder for {}", format));
  std::lock_guard lock(CacheMutex());
  std::filesystem::path out = wav;
  out.replace_extension(format);
  if (std::filesystem::exists(out)) return out;
  std::vector<std::string> argv = {"ffmpeg", "-nostdin", "-y",        "-loglevel",
                                   "error",  "-i",       wav.string()};
  argv.insert(argv.end(), codec->second.begin(), codec->second.end());
  argv.push_back(out.string());
  if (auto r = RunTool(argv); !r) return std::unexpected(r.error());
  return out;
}

std::filesystem::path WriteTestFile(std::string_view name, std::string_view bytes) {
  const std::filesystem::path path = TestRunDir() / name;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), bytes.size());
  return path;
}

Result<PcmAudio> SpeechAudio(std::string_view text) {
  auto wav = SpeechWav(text);
  if (!wav) return std::unexpected(wav.error());
  return DecodeAudioFile(*wav);
}

}  // namespace podfleet
