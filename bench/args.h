// The command line of every benchmark binary: "--flag value" pairs, and --help / -h, which print
// the usage and run nothing.
#pragma once

#include <fmt/format.h>

#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace podfleet {

using BenchFlags = std::map<std::string, std::function<void(const char*)>, std::less<>>;

// Applies each "--flag value" of argv through `flags`. Returns -1 to go on with the run; 0 after
// printing `usage` for --help or -h; 2 after printing it for an unknown flag or a missing value.
inline int ParseBenchArgs(int argc, char** argv, std::string_view usage, const BenchFlags& flags) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      fmt::print("usage: {} {}\n", argv[0], usage);
      return 0;
    }
    auto it = flags.find(arg);
    if (it == flags.end() || i + 1 >= argc) {
      fmt::print(stderr, "{}: {}\nusage: {} {}\n", argv[0],
                 it == flags.end() ? fmt::format("unknown flag {}", arg)
                                   : fmt::format("{} needs a value", arg),
                 argv[0], usage);
      return 2;
    }
    it->second(argv[++i]);
  }
  return -1;
}

}  // namespace podfleet
