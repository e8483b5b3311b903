// Language names and codes: Whisper-style servers name the language in full ("english") where
// podfleet keeps ISO-639-1 codes ("en"). A table of the common languages, nothing more.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace podfleet {

// "english" or "English" -> "en"; a code passes through unchanged; unknown names too.
std::string LanguageCode(std::string_view name_or_code);
// "en" or "en-US" -> "english"; an unknown code comes back unchanged.
std::string LanguageName(std::string_view code);

// Whether `code` is shaped as an ISO-639-1 code: two lower-case letters.
bool IsLanguageCode(std::string_view code);

// The one language an engine and model transcribe, when fixed: PocketSphinx "en-us" -> "en",
// whisper "*.en" -> "en", Parakeet TDT v2 -> "en"; nullopt for a multilingual model (it takes the
// language it is asked for, or detects it).
std::optional<std::string> FixedLanguage(std::string_view engine, std::string_view model);

}  // namespace podfleet
