#include "coordinator/economics.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace podfleet {
namespace {

double Hours(Millis m) { return static_cast<double>(m.count()) / 3'600'000.0; }

// Fills the derived columns of a row whose price and speed are set.
void Price(GpuRow& row, Millis mean_episode) {
  if (row.realtime <= 0 || !row.price_per_hour) return;
  const double per_hour = *row.price_per_hour / row.realtime;
  row.dollars_per_audio_hour = per_hour;
  if (mean_episode <= Millis(0)) return;
  const double per_episode = per_hour * Hours(mean_episode);
  row.cost_per_100_episodes = 100 * per_episode;
  if (per_episode > 0) row.episodes_per_dollar = 1 / per_episode;
}

std::vector<GpuRow> GroupRows(const FleetFacts& f) {
  std::map<std::string, GpuRow> gpus;
  std::vector<GpuRow> local;
  std::map<std::string, std::pair<Millis, Millis>> measured;  // audio, engine time over 24 h
  std::map<std::string, double> stored;                       // best stored speed
  for (const NodeFacts& n : f.nodes) {
    GpuRow fresh;
    fresh.local = n.gpu.empty();
    fresh.gpu = fresh.local ? "local: " + n.view.node.info.name : n.gpu;
    GpuRow& row = fresh.local ? local.emplace_back(std::move(fresh))
                              : gpus.try_emplace(fresh.gpu, fresh).first->second;
    ++row.nodes;
    row.node_names.push_back(n.view.node.info.name);
    row.jobs_day += n.day.jobs;
    if (n.price && (!row.price_per_hour || *n.price > *row.price_per_hour))
      row.price_per_hour = n.price;
    row.blocked = row.blocked || n.view.status == NodeStatus::kBlocked ||
                  (!row.local && IsBlocked(f.compatibility, n.gpu, n.view.node.info.engine));
    auto& [audio, engine] = measured[row.gpu];
    audio += n.day.audio;
    engine += n.day.engine_time;
    stored[row.gpu] = std::max(stored[row.gpu], n.view.node.info.speed);
  }
  std::vector<GpuRow> rows;
  for (auto& [name, row] : gpus) rows.push_back(std::move(row));
  for (GpuRow& row : local) rows.push_back(std::move(row));
  for (GpuRow& row : rows) {
    auto [audio, engine] = measured[row.gpu];
    row.realtime =
        engine > Millis(0) ? static_cast<double>(audio.count()) / engine.count() : stored[row.gpu];
  }
  return rows;
}

}  // namespace

Economics ComputeEconomics(const FleetFacts& f) {
  Economics e;
  e.mean_episode = f.mean_episode;
  e.rows = GroupRows(f);
  GpuRow* best = nullptr;
  for (GpuRow& row : e.rows) {
    Price(row, f.mean_episode);
    if (row.blocked) {
      row.note = "blocked: see the compatibility record";
    } else if (row.realtime <= 0) {
      row.note = "not measured yet: no job completed";
    } else if (!row.price_per_hour) {
      row.note = "price unknown: add it with serve --price \"" + row.gpu + "=DOLLARS\"";
    } else if (row.local) {
      row.note = *row.price_per_hour > 0 ? "local machine with a price" : "local machine, free";
    }
    const bool rankable = !row.local && !row.blocked && row.dollars_per_audio_hour;
    if (rankable && (!best || *row.dollars_per_audio_hour < *best->dollars_per_audio_hour))
      best = &row;
  }
  if (best) {
    best->winner = true;
    e.winner = best->gpu;
    for (const GpuRow& row : e.rows) {
      if (!row.local || row.realtime <= 0 || !best->cost_per_100_episodes) continue;
      e.notes.push_back(fmt::format("{} is {:.1f}x faster than {} for ${:.2f} per 100 episodes",
                                    best->gpu, best->realtime / row.realtime, row.gpu.substr(7),
                                    *best->cost_per_100_episodes));
    }
  }
  if (f.mean_episode <= Millis(0))
    e.notes.push_back("no episode done in 24 h: episodes per $ needs a measured episode length");
  const bool cpu_only = !e.rows.empty() && std::all_of(e.rows.begin(), e.rows.end(),
                                                       [](const GpuRow& r) { return r.local; });
  if (cpu_only) {
    e.notes.push_back(
        "CPU-only fleet: no GPU node to compare, so nothing is ranked; the rows are this fleet's "
        "own machines (cost from serve --price or the worker's --price-per-hour, else free)");
  } else if (!best) {
    e.notes.push_back("no GPU with a measured speed and a known price yet");
  }
  return e;
}

Bandwidth ComputeBandwidth(const FleetFacts& f) {
  Bandwidth b;
  b.bytes_day = f.bytes_day;
  b.uplink_bits_per_second = f.settings.uplink_bits_per_second;
  if (f.bytes_day > 0 && f.bytes_audio_day > Millis(0))
    b.bytes_per_audio_hour = static_cast<double>(f.bytes_day) / Hours(f.bytes_audio_day);
  if (f.bytes_recent_window > Millis(0))
    b.recent_bits_per_second =
        8.0 * static_cast<double>(f.bytes_recent) / (f.bytes_recent_window.count() / 1000.0);
  b.fleet_speed = FleetSpeed(f);
  std::map<std::string, double> speeds;  // one line per GPU model (or local node)
  for (const NodeFacts& n : f.nodes) {
    if (n.speed <= 0) continue;
    const std::string who = n.gpu.empty() ? "local: " + n.view.node.info.name : n.gpu;
    speeds[who] = std::max(speeds[who], n.speed);
  }
  if (f.settings.path_uplink_capacity) {
    b.realtime_capacity = f.settings.path_uplink_capacity;
  } else if (b.bytes_per_audio_hour && b.uplink_bits_per_second > 0) {
    const double bytes_per_audio_second = *b.bytes_per_audio_hour / 3600;
    b.realtime_capacity = b.uplink_bits_per_second / 8 / bytes_per_audio_second;
  }
  b.preparation_capacity = f.settings.preparation_capacity;
  b.audio_path = f.settings.audio_path;
  b.audio_path_reason = f.settings.audio_path_reason;
  b.feed_path = f.settings.feed_path;
  b.feed_path_reason = f.settings.feed_path_reason;
  std::optional<double> feed = b.realtime_capacity;
  if (b.preparation_capacity && (!feed || *b.preparation_capacity < *feed))
    feed = b.preparation_capacity;
  if (feed)
    for (const auto& [who, speed] : speeds) b.feeds.push_back({speed, who, *feed / speed});
  const bool busy_link =
      b.uplink_bits_per_second > 0 && b.recent_bits_per_second >= 0.9 * b.uplink_bits_per_second;
  const bool short_link = b.realtime_capacity && b.fleet_speed > *b.realtime_capacity;
  b.link_is_bottleneck = busy_link || short_link;
  if (feed && b.fleet_speed > *feed)
    b.binding = feed == b.realtime_capacity ? "uplink" : "relay";
  else if (busy_link)
    b.binding = "uplink";
  const std::string on_path =
      f.settings.path_uplink_capacity ? fmt::format(" on {} bytes", b.feed_path) : "";
  if (b.binding == "relay") {
    b.verdict = fmt::format(
        "the relay, not the GPUs, is the bottleneck: fleet {:.0f}x realtime, the coordinator "
        "prepares {:.0f}x{}",
        b.fleet_speed, *b.preparation_capacity,
        b.feed_path.empty() ? "" : fmt::format(" on its {} path", b.feed_path));
  } else if (b.uplink_bits_per_second <= 0) {
    b.verdict = "uplink not configured (serve --uplink 50Mbit)";
  } else if (!b.realtime_capacity) {
    b.verdict = "no audio served by the coordinator yet: bytes per audio-hour not measured";
  } else if (b.link_is_bottleneck) {
    b.verdict = fmt::format(
        "the link, not the GPUs, is the bottleneck: fleet {:.0f}x realtime, link carries "
        "{:.0f}x{}",
        b.fleet_speed, *b.realtime_capacity, on_path);
  } else {
    b.verdict = fmt::format(
        "the GPUs are the bottleneck: fleet {:.0f}x realtime, link carries "
        "{:.0f}x{} ({:.0f}% used)",
        b.fleet_speed, *b.realtime_capacity, on_path, 100 * b.fleet_speed / *b.realtime_capacity);
  }
  return b;
}

TranscriptSavings ComputeSavings(const Economics& e, int64_t episodes, Millis audio) {
  TranscriptSavings out{episodes, audio, std::nullopt, std::nullopt, ""};
  const GpuRow* row = nullptr;
  for (const GpuRow& r : e.rows) {
    if (r.realtime <= 0) continue;
    if (r.winner) {
      row = &r;
      break;
    }
    if (!row || r.realtime > row->realtime) row = &r;
  }
  if (!row) return out;
  const double audio_seconds = static_cast<double>(audio.count()) / 1000.0;
  out.gpu = row->gpu;
  out.gpu_seconds = audio_seconds / row->realtime;
  if (row->winner && row->dollars_per_audio_hour)
    out.dollars = audio_seconds / 3600.0 * *row->dollars_per_audio_hour;
  return out;
}

}  // namespace podfleet
