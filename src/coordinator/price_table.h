// What a node costs per hour: the coordinator's price table, keyed by GPU model, and the per-node
// override a worker reports (`work --price-per-hour`). Machines without a GPU are local and free.
//
// Thread safety: a PriceTable is a value; share it read-only.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/model.h"

namespace podfleet {

struct PriceEntry {
  std::string gpu;  // matched case-insensitively as a substring of the GPU's name: "RTX A5000"
  double dollars_per_hour = 0;
};

struct PriceTable {
  // The seed's RunPod prices: RTX A4000 $0.16, RTX A5000 $0.22, RTX 3090 $0.30, RTX A6000 $0.45.
  std::vector<PriceEntry> entries = DefaultEntries();

  static std::vector<PriceEntry> DefaultEntries();
  // Adds or replaces the entry for `text` = "GPU MODEL=DOLLARS" ("RTX 4000 Ada=0.26").
  // kInvalidArgument for a missing '=' or a price that is not a non-negative number.
  Result<void> Set(std::string_view text);
  // The entry whose name occurs in `gpu_name`, the longest when several do; nullopt for none.
  std::optional<double> ForGpu(std::string_view gpu_name) const;
};

// The GPU model a node runs on, without the vendor's prefixes ("NVIDIA GeForce RTX 4090" ->
// "RTX 4090"); empty for a node without a GPU.
std::string GpuModel(const NodeInfo& node);

// The node's price per hour: its own override, else $0 for a machine without a GPU, else the
// table's entry for its GPU; nullopt when the GPU is not in the table.
std::optional<double> PriceOf(const NodeInfo& node, const PriceTable& table);

}  // namespace podfleet
