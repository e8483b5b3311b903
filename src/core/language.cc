#include "core/language.h"

#include <cctype>
#include <utility>

namespace podfleet {
namespace {

// The languages Whisper names in verbose_json, by ISO-639-1 code.
constexpr std::pair<std::string_view, std::string_view> kLanguages[] = {
    {"en", "english"},   {"de", "german"},     {"es", "spanish"},    {"fr", "french"},
    {"it", "italian"},   {"pt", "portuguese"}, {"nl", "dutch"},      {"pl", "polish"},
    {"ru", "russian"},   {"uk", "ukrainian"},  {"sv", "swedish"},    {"da", "danish"},
    {"no", "norwegian"}, {"fi", "finnish"},    {"cs", "czech"},      {"tr", "turkish"},
    {"el", "greek"},     {"hu", "hungarian"},  {"ro", "romanian"},   {"ca", "catalan"},
    {"ja", "japanese"},  {"zh", "chinese"},    {"ko", "korean"},     {"ar", "arabic"},
    {"he", "hebrew"},    {"hi", "hindi"},      {"id", "indonesian"}, {"vi", "vietnamese"},
    {"th", "thai"},      {"ms", "malay"},
};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string LanguageCode(std::string_view name_or_code) {
  const std::string lower = Lower(name_or_code);
  for (const auto& [code, name] : kLanguages)
    if (lower == name) return std::string(code);
  return std::string(name_or_code);
}

std::string LanguageName(std::string_view code) {
  const std::string base = Lower(code.substr(0, code.find_first_of("-_")));
  for (const auto& [c, name] : kLanguages)
    if (base == c) return std::string(name);
  return std::string(code);
}

bool IsLanguageCode(std::string_view code) {
  return code.size() == 2 && std::islower(static_cast<unsigned char>(code[0])) &&
         std::islower(static_cast<unsigned char>(code[1]));
}

std::optional<std::string> FixedLanguage(std::string_view engine, std::string_view model) {
  const std::string_view name = model.substr(model.find_last_of('/') + 1);
  if (engine == "pocketsphinx") return std::string(name.substr(0, name.find('-')));
  if (engine == "whisper" && (name.find(".en.") != std::string_view::npos || name.ends_with(".en")))
    return "en";
  if (engine == "parakeet" && name.find("-v2") != std::string_view::npos) return "en";
  return std::nullopt;
}

}  // namespace podfleet
