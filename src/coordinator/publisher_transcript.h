// Transcript-first intake: the transcript a feed item links with <podcast:transcript>, fetched
// and read into podfleet's model so the episode can skip the fleet.
//
// Links are tried best format first: WebVTT, Podcasting 2.0 JSON, SRT, HTML, plain text (the
// spec recommends VTT; captions keep their times, HTML and text have none); links of other types
// are skipped. Each is fetched as an enclosure is (source_policy.h: only http(s), file only for a
// feed read from a file, public addresses only under public_only), within a size cap, and must
// parse to at least one segment with words. The first that does wins; when none does, the note
// says why for each link, and the episode is transcribed by the fleet instead.
//
// Thread safety: a pure function of its arguments but for the download and its scratch file.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "coordinator/source_policy.h"
#include "core/model.h"
#include "net/http_client.h"

namespace podfleet {

struct PublisherFetchOptions {
  SourcePolicy sources;
  int64_t max_bytes = int64_t{64} << 20;
  std::filesystem::path scratch_dir;  // where the file is downloaded (and removed after)
};

struct PublisherFetch {
  std::optional<Transcript> transcript;  // engine "publisher", model = the link's type
  TranscriptLink link;                   // the link it came from
  std::string note;                      // why no link could be used; empty when one was
};

// `item.transcript_links` hold URLs as the feed wrote them; they are resolved against `feed_url`.
PublisherFetch FetchPublisherTranscript(HttpClient& http, const EpisodeInfo& item,
                                        std::string_view feed_url,
                                        const PublisherFetchOptions& options);

// Reads a transcript file served as MIME `type` (also HTML and plain text).
// kInvalidArgument for a type podfleet cannot read, or a file that does not parse.
Result<Transcript> ReadLinkedTranscript(std::string_view data, std::string_view type);

}  // namespace podfleet
