#include "core/units.h"

#include <fmt/format.h>

#include <ctime>
#include <string>

namespace podfleet {

std::string FormatIso8601(TimePoint t) {
  const int64_t ms = ToUnixMillis(t);
  std::time_t secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ((ms % 1000) + 1000) % 1000);
}

}  // namespace podfleet
