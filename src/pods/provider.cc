#include "pods/provider.h"

#include <fmt/format.h>
#include <strings.h>

namespace podfleet {

std::string PodCommand(std::string_view join_command, std::string_view name, int64_t idle_seconds,
                       double price_per_hour) {
  return fmt::format("{} --name {} --exit-when-idle {}s --price-per-hour {}", join_command, name,
                     idle_seconds, price_per_hour);
}

bool IsNoCapacity(const Error& e) {
  return e.code == Code::kUnavailable && e.message.starts_with(kNoCapacityPrefix);
}

const GpuOffer* FindOffer(const std::vector<GpuOffer>& offers, std::string_view wanted) {
  for (const GpuOffer& o : offers)
    if (o.id == wanted || o.name == wanted) return &o;
  const std::string w(wanted);
  for (const GpuOffer& o : offers)
    if (strcasecmp(o.id.c_str(), w.c_str()) == 0 || strcasecmp(o.name.c_str(), w.c_str()) == 0)
      return &o;
  return nullptr;
}

}  // namespace podfleet
