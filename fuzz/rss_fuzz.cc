// libFuzzer target for the feed readers: RSS, OPML, itunes:duration and pubDate.
// Built and run by scripts/fuzz (clang 19, -DPODFLEET_FUZZ=ON).
// Besides not crashing, it checks the contracts callers rely on.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "feeds/opml.h"
#include "feeds/rss.h"

namespace {

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  if (podfleet::Result<podfleet::ParsedFeed> feed = podfleet::ParseRss(input); feed) {
    for (const podfleet::EpisodeInfo& episode : feed->episodes) {
      Check(episode.audio_length >= 0);
      Check(!episode.duration || episode.duration->count() >= 0);
      Check(!episode.guid.empty() || episode.audio_url.empty());  // guid falls back to the URL
      for (const podfleet::TranscriptLink& link : episode.transcript_links)
        Check(!link.url.empty());
    }
  } else {
    Check(feed.error().code == podfleet::Code::kInvalidArgument);
  }

  if (podfleet::Result<std::vector<std::string>> urls = podfleet::ParseOpml(input); urls) {
    for (const std::string& url : *urls) Check(!url.empty());
  } else {
    Check(urls.error().code == podfleet::Code::kInvalidArgument);
  }

  if (std::optional<podfleet::Millis> d = podfleet::ParseItunesDuration(input))
    Check(d->count() >= 0);
  (void)podfleet::ParseFeedDate(input);
  return 0;
}
