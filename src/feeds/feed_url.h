// Feed URLs as one show's identity: the spellings of one URL that mean the same document.
#pragma once

#include <string>
#include <string_view>

namespace podfleet {

// The canonical spelling of an http(s) feed URL: scheme and host lower-cased, the default port
// (80 for http, 443 for https) and an empty port dropped, an empty path made "/", runs of '/' in
// the path collapsed, the fragment dropped, an empty query ("?", "?&") dropped. Userinfo, path
// case and the query's contents are kept (servers may treat them as significant). Other schemes
// (file://) and text that is not an absolute http(s) URL come back unchanged.
std::string NormalizeFeedUrl(std::string_view url);

}  // namespace podfleet
