// Which feed and audio URLs the coordinator takes, and what it lets workers fetch for it.
//
// Schemes are http, https and file; nothing else is ever accepted. file:// URLs (and local paths,
// which become them) name files on the coordinator's disk for feeds and on the worker's disk for
// audio, so they are accepted only when the operator allows them (`serve --allow-file-urls`; the
// demo and `up` allow them), and an enclosure in a feed fetched over http(s) is never taken as a
// file. With public_only (`serve --refuse-private-addresses`, against SSRF) a URL whose host is or
// resolves to a private, loopback or link-local address is refused when it is added, and every
// connection made for it later (feed polls here, audio downloads on workers, redirects included)
// checks the address again, so a DNS answer that changes afterwards gets nowhere.
//
// Thread safety: a SourcePolicy is a plain value; the functions may be called concurrently.
#pragma once

#include <string_view>

#include "core/error.h"

namespace podfleet {

struct SourcePolicy {
  bool allow_files = false;
  bool public_only = false;
};

// "http", "https", "file", ...: the scheme of `url` lower-cased, or empty when it has none.
std::string SchemeOf(std::string_view url);

// Checks a feed or audio URL given through the API (after NormalizeSourceUrl). kInvalidArgument
// naming what is refused and the option that would allow it.
Result<void> CheckSourceUrl(std::string_view url, const SourcePolicy& policy);

// Whether an enclosure URL (already resolved against the feed's URL) found in the feed at
// `feed_url` may be queued: http and https always; file only when files are allowed and the feed
// itself was read from a file.
bool EnclosureAllowed(std::string_view feed_url, std::string_view enclosure_url,
                      const SourcePolicy& policy);

}  // namespace podfleet
