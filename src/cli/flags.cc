#include "cli/flags.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace podfleet {
namespace {

template <class T>
Result<T> ParseNumber(std::string_view text) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size())
    return InvalidArgument("'" + std::string(text) + "' is not a number");
  return value;
}

template <class T>
Flag NumberFlag(std::string name, T* field, std::string help, std::string value_name) {
  return Flag{std::move(name), std::move(help), std::move(value_name),
              [field](std::string_view v) -> Result<void> {
                auto n = ParseNumber<T>(v);
                if (!n) return std::unexpected(n.error());
                *field = *n;
                return {};
              },
              fmt::format("{}", *field)};
}

std::string EnvName(std::string_view flag) {
  std::string out = "PODFLEET_";
  for (char c : flag)
    out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

const Flag* Find(const std::vector<Flag>& flags, std::string_view name) {
  for (const Flag& f : flags)
    if (f.name == name) return &f;
  return nullptr;
}

Result<void> Apply(const Flag& f, std::string_view value, std::string_view source) {
  auto r = f.set(value);
  if (!r) return InvalidArgument(fmt::format("{} --{}: {}", source, f.name, r.error().message));
  return {};
}

Result<void> ApplyConfigFile(const std::vector<Flag>& flags, std::string_view command,
                             const std::string& path) {
  toml::table parsed;
  try {
    parsed = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return InvalidArgument(fmt::format("config {}: {}", path, e.description()));
  }
  const toml::table* table = parsed[command].as_table();
  if (!table) return {};
  for (const auto& [key, node] : *table) {
    std::string name(key.str());
    std::replace(name.begin(), name.end(), '_', '-');
    const Flag* f = Find(flags, name);
    if (!f)
      return InvalidArgument(
          fmt::format("config {}: unknown key [{}].{}", path, command, key.str()));
    std::string value;
    if (node.is_string()) {
      value = *node.value<std::string>();
    } else if (node.is_boolean()) {
      value = *node.value<bool>() ? "true" : "false";
    } else if (node.is_integer()) {
      value = std::to_string(*node.value<int64_t>());
    } else if (node.is_floating_point()) {
      value = fmt::format("{}", *node.value<double>());
    } else {
      return InvalidArgument(
          fmt::format("config {}: [{}].{} has an unsupported type", path, command, key.str()));
    }
    if (auto r = Apply(*f, value, "config " + path); !r) return r;
  }
  return {};
}

}  // namespace

Flag ListFlag(std::string name, std::vector<std::string>* field, std::string help) {
  std::string shown;
  for (const std::string& item : *field) shown += (shown.empty() ? "" : ",") + item;
  return Flag{std::move(name), std::move(help), "LIST",
              [field](std::string_view v) -> Result<void> {
                std::vector<std::string> items;
                size_t start = 0;
                while (start <= v.size()) {
                  size_t comma = v.find(',', start);
                  if (comma == std::string_view::npos) comma = v.size();
                  std::string_view item = v.substr(start, comma - start);
                  while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
                  while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
                  if (!item.empty()) items.emplace_back(item);
                  start = comma + 1;
                }
                if (items.empty()) return InvalidArgument("an empty list");
                *field = std::move(items);
                return {};
              },
              shown};
}

Flag StringFlag(std::string name, std::string* field, std::string help, std::string value_name) {
  return Flag{std::move(name), std::move(help), std::move(value_name),
              [field](std::string_view v) -> Result<void> {
                *field = std::string(v);
                return {};
              },
              *field};
}

Flag PathFlag(std::string name, std::filesystem::path* field, std::string help) {
  return Flag{std::move(name), std::move(help), "PATH",
              [field](std::string_view v) -> Result<void> {
                *field = std::filesystem::path(std::string(v));
                return {};
              },
              field->string()};
}

Flag IntFlag(std::string name, int* field, std::string help) {
  return NumberFlag(std::move(name), field, std::move(help), "N");
}
Flag Int64Flag(std::string name, int64_t* field, std::string help) {
  return NumberFlag(std::move(name), field, std::move(help), "N");
}
Flag DoubleFlag(std::string name, double* field, std::string help) {
  return NumberFlag(std::move(name), field, std::move(help), "X");
}

Result<double> ParseBitRate(std::string_view text) {
  std::string lower;
  for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::string_view per_second : {"/s", "ps"})
    if (lower.ends_with(per_second)) lower.resize(lower.size() - per_second.size());
  if (lower.ends_with("bit")) lower.resize(lower.size() - 3);
  if (lower.ends_with("b")) lower.resize(lower.size() - 1);
  double scale = 1;
  if (!lower.empty() && (lower.back() == 'k' || lower.back() == 'm' || lower.back() == 'g')) {
    scale = lower.back() == 'k' ? 1e3 : lower.back() == 'm' ? 1e6 : 1e9;
    lower.pop_back();
  }
  double value = 0;
  auto [end, ec] = std::from_chars(lower.data(), lower.data() + lower.size(), value);
  if (lower.empty() || ec != std::errc() || end != lower.data() + lower.size() || value < 0 ||
      !std::isfinite(value))
    return InvalidArgument("not a link speed (e.g. 50Mbit): \"" + std::string(text) + "\"");
  return value * scale;
}

Result<Millis> ParseDuration(std::string_view text) {
  struct Unit {
    std::string_view suffix;
    double ms;
  };
  static constexpr Unit kUnits[] = {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}};
  double scale = 1000;  // bare numbers are seconds
  for (const Unit& u : kUnits) {
    if (text.ends_with(u.suffix) && !(u.suffix == "s" && text.ends_with("ms"))) {
      scale = u.ms;
      text.remove_suffix(u.suffix.size());
      break;
    }
  }
  auto n = ParseNumber<double>(text);
  if (!n || *n < 0)
    return InvalidArgument("'" + std::string(text) + "' is not a duration (e.g. 30s, 500ms, 15m)");
  return Millis(static_cast<int64_t>(*n * scale));
}

Flag DurationFlag(std::string name, Millis* field, std::string help) {
  const int64_t ms = field->count();
  std::string shown = ms % 1000 == 0 ? fmt::format("{}s", ms / 1000) : fmt::format("{}ms", ms);
  return Flag{std::move(name), std::move(help), "DURATION",
              [field](std::string_view v) -> Result<void> {
                auto d = ParseDuration(v);
                if (!d) return std::unexpected(d.error());
                *field = *d;
                return {};
              },
              shown};
}

Flag BoolFlag(std::string name, bool* field, std::string help) {
  return Flag{std::move(name), std::move(help), "",
              [field](std::string_view v) -> Result<void> {
                if (v == "true" || v == "1" || v == "yes" || v.empty()) {
                  *field = true;
                } else if (v == "false" || v == "0" || v == "no") {
                  *field = false;
                } else {
                  return InvalidArgument("'" + std::string(v) + "' is not true or false");
                }
                return {};
              },
              *field ? "true" : "false"};
}

Result<ParsedArgs> ParseFlags(const std::vector<Flag>& flags, std::string_view command,
                              const std::vector<std::string>& args) {
  // The config file first, so the environment and the command line override it.
  std::string config;
  if (const char* env = std::getenv("PODFLEET_CONFIG")) config = env;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config" && i + 1 < args.size()) config = args[i + 1];
    if (args[i].starts_with("--config=")) config = args[i].substr(9);
  }
  if (!config.empty())
    if (auto r = ApplyConfigFile(flags, command, config); !r) return std::unexpected(r.error());
  for (const Flag& f : flags) {
    if (const char* env = std::getenv(EnvName(f.name).c_str()))
      if (auto r = Apply(f, env, EnvName(f.name)); !r) return std::unexpected(r.error());
  }

  ParsedArgs out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      out.help = true;
      continue;
    }
    if (a == "--") {
      out.positional.insert(out.positional.end(), args.begin() + static_cast<long>(i) + 1,
                            args.end());
      break;
    }
    if (!a.starts_with("--")) {
      out.positional.push_back(a);
      continue;
    }
    std::string name = a.substr(2);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    if (name == "config") {
      if (!value) ++i;
      continue;
    }
    const Flag* f = Find(flags, name);
    if (!f) return InvalidArgument("unknown flag --" + name + " (see --help)");
    if (!value) {
      if (f->value_name.empty()) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return InvalidArgument("--" + name + " needs a value");
      }
    }
    if (auto r = Apply(*f, *value, "flag"); !r) return std::unexpected(r.error());
  }
  return out;
}

std::string FlagHelp(const std::vector<Flag>& flags, std::string_view usage,
                     std::string_view summary) {
  std::string out = fmt::format("Usage: podfleet {}\n\n{}\n", usage, summary);
  if (flags.empty()) return out;
  out += "\nOptions (also PODFLEET_<NAME> and [table] keys in --config FILE):\n";
  for (const Flag& f : flags) {
    std::string left = "--" + f.name + (f.value_name.empty() ? "" : " " + f.value_name);
    out += fmt::format("  {:<28} {}", left, f.help);
    if (!f.default_text.empty()) out += fmt::format(" [default: {}]", f.default_text);
    out += '\n';
  }
  return out;
}

}  // namespace podfleet
