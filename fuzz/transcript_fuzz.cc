// libFuzzer target for the transcript readers: SRT, WebVTT, Podcasting 2.0 JSON, plain text and
// HTML.
// Built and run by scripts/fuzz (clang 19, -DPODFLEET_FUZZ=ON).
// Besides not crashing, it checks that whatever a reader accepts has ordered times, and that
// writing it in the same format gives a file the reader accepts again with the same words.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "transcripts/formats.h"
#include "transcripts/formats_plain.h"

namespace {

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

// Reads `input`; when accepted, checks it and that its own rewrite reads back.
void ReadAndRewrite(std::string_view input,
                    podfleet::Result<podfleet::Transcript> (*read)(std::string_view),
                    std::string (*write)(const podfleet::Transcript&)) {
  const podfleet::Result<podfleet::Transcript> t = read(input);
  if (!t) {
    Check(t.error().code == podfleet::Code::kInvalidArgument);
    return;
  }
  for (const podfleet::Segment& s : t->segments) Check(s.start.count() >= 0 && s.start <= s.end);
  const podfleet::Result<podfleet::Transcript> again = read(write(*t));
  Check(again.has_value());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  ReadAndRewrite(input, podfleet::ReadSrt, podfleet::WriteSrt);
  ReadAndRewrite(input, podfleet::ReadVtt, podfleet::WriteVtt);
  ReadAndRewrite(input, podfleet::ReadPodcastJson, podfleet::WritePodcastJson);
  if (const podfleet::Result<podfleet::Transcript> t = podfleet::ReadVtt(input); t) {
    (void)podfleet::WriteMarkdown(*t, {.title = std::string(input.substr(0, 64))});
    (void)podfleet::WriteText(*t);
  }
  ReadAndRewrite(input, podfleet::ReadPlainText, podfleet::WriteText);
  if (const podfleet::Result<podfleet::Transcript> t = podfleet::ReadHtmlTranscript(input); !t)
    Check(t.error().code == podfleet::Code::kInvalidArgument);
  return 0;
}
