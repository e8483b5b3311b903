#include "coordinator/price_table.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace podfleet {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

std::vector<PriceEntry> PriceTable::DefaultEntries() {
  return {{"RTX A4000", 0.16}, {"RTX A5000", 0.22}, {"RTX 3090", 0.30}, {"RTX A6000", 0.45}};
}

Result<void> PriceTable::Set(std::string_view text) {
  const auto eq = text.rfind('=');
  if (eq == std::string_view::npos)
    return InvalidArgument("price must be GPU=DOLLARS_PER_HOUR, e.g. \"RTX A5000=0.22\"");
  const std::string_view gpu = Trim(text.substr(0, eq));
  const std::string_view number = Trim(text.substr(eq + 1));
  double price = -1;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), price);
  if (gpu.empty() || ec != std::errc() || end != number.data() + number.size() || price < 0 ||
      !std::isfinite(price))
    return InvalidArgument("price must be GPU=DOLLARS_PER_HOUR with a non-negative price, not \"" +
                           std::string(text) + "\"");
  for (PriceEntry& e : entries) {
    if (Lower(e.gpu) == Lower(gpu)) {
      e.dollars_per_hour = price;
      return {};
    }
  }
  entries.push_back({std::string(gpu), price});
  return {};
}

std::optional<double> PriceTable::ForGpu(std::string_view gpu_name) const {
  const std::string name = Lower(gpu_name);
  const PriceEntry* best = nullptr;
  for (const PriceEntry& e : entries) {
    if (name.find(Lower(e.gpu)) == std::string::npos) continue;
    if (!best || e.gpu.size() > best->gpu.size()) best = &e;
  }
  if (!best) return std::nullopt;
  return best->dollars_per_hour;
}

std::string GpuModel(const NodeInfo& node) {
  if (node.hardware.gpus.empty()) return "";
  std::string_view name = Trim(node.hardware.gpus.front().name);
  for (std::string_view prefix : {"NVIDIA ", "GeForce "})
    if (name.starts_with(prefix)) name.remove_prefix(prefix.size());
  return std::string(name);
}

std::optional<double> PriceOf(const NodeInfo& node, const PriceTable& table) {
  if (node.price_per_hour >= 0) return node.price_per_hour;
  if (node.hardware.gpus.empty()) return 0.0;
  return table.ForGpu(node.hardware.gpus.front().name);
}

}  // namespace podfleet
