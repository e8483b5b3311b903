// Language names and codes: Whisper-style servers name the language in full ("english") where
// podfleet keeps ISO-639-1 codes ("en"). A table of the common languages, nothing more.
#pragma once

#include <string>
#include <string_view>

namespace podfleet {

// "english" or "English" -> "en"; a code passes through unchanged; unknown names too.
std::string LanguageCode(std::string_view name_or_code);
// "en" or "en-US" -> "english"; an unknown code comes back unchanged.
std::string LanguageName(std::string_view code);

}  // namespace podfleet
