// Command-line flags declared as data: one row per flag, with its help and how to set it.
//
// A flag's value comes from, lowest precedence first: its default (the config struct's field),
// the TOML file named by --config or PODFLEET_CONFIG (table [<command>], key = flag name with
// '-' or '_'), the environment (PODFLEET_<NAME>, e.g. PODFLEET_LEASE for --lease), the command
// line (--name value or --name=value). Boolean flags take no value on the command line.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/units.h"

namespace podfleet {

struct Flag {
  std::string name;  // without dashes: "lease"
  std::string help;
  std::string value_name;  // "DURATION"; empty for booleans
  std::function<Result<void>(std::string_view)> set;
  std::string default_text;
};

Flag StringFlag(std::string name, std::string* field, std::string help,
                std::string value_name = "TEXT");
Flag PathFlag(std::string name, std::filesystem::path* field, std::string help);
Flag IntFlag(std::string name, int* field, std::string help);
Flag Int64Flag(std::string name, int64_t* field, std::string help);
Flag DoubleFlag(std::string name, double* field, std::string help);
// Durations: "250ms", "30s", "15m", "2h", or a bare number of seconds.
Flag DurationFlag(std::string name, Millis* field, std::string help);
Flag BoolFlag(std::string name, bool* field, std::string help);
// A comma-separated list ("a, b,c" -> {"a","b","c"}; blanks around items dropped). An empty list
// is kInvalidArgument.
Flag ListFlag(std::string name, std::vector<std::string>* field, std::string help);

Result<Millis> ParseDuration(std::string_view text);
// Link speeds in bits per second: "50Mbit", "1Gbit", "500kbit", "50Mbit/s", "50Mbps", or a bare
// number of bits per second. kInvalidArgument otherwise.
Result<double> ParseBitRate(std::string_view text);

struct ParsedArgs {
  std::vector<std::string> positional;
  bool help = false;
};

// Applies the config file, the environment and `args` to `flags`, in that order.
// kInvalidArgument naming the flag for an unknown flag or a bad value.
Result<ParsedArgs> ParseFlags(const std::vector<Flag>& flags, std::string_view command,
                              const std::vector<std::string>& args);

// "Usage: podfleet <usage>\n\n<summary>\n\nOptions:\n  --lease DURATION  ...".
std::string FlagHelp(const std::vector<Flag>& flags, std::string_view usage,
                     std::string_view summary);

}  // namespace podfleet
