#include "coordinator/fleet_facts.h"

#include <algorithm>

#include "store/store.h"

namespace podfleet {
namespace {

Millis Average(Millis total, int64_t n) { return n > 0 ? total / n : Millis(0); }

bool Within(TimePoint t, TimePoint now, Millis span) { return t >= now - span && t <= now; }

}  // namespace

double NodeWindow::Realtime() const {
  if (engine_time <= Millis(0)) return 0;
  return static_cast<double>(audio.count()) / static_cast<double>(engine_time.count());
}

Millis NodeWindow::AvgEngine() const { return Average(engine_time, jobs); }
Millis NodeWindow::AvgWall() const { return Average(wall_time, jobs); }
Millis NodeWindow::AvgJob() const { return Average(wall_time - waited, jobs); }

std::map<NodeId, NodeWindow> ComputeNodeWindows(const std::vector<CompletedJob>& done,
                                                const std::vector<FailedAttempt>& failed,
                                                TimePoint now, Millis span) {
  std::map<NodeId, NodeWindow> out;
  for (const CompletedJob& c : done) {
    if (!Within(c.finished_at, now, span)) continue;
    NodeWindow& w = out[c.node];
    ++w.jobs;
    w.audio += c.audio_duration;
    w.engine_time += c.engine_time;
    w.wall_time += c.wall_time;
    w.waited += std::min(c.waited, c.wall_time);
  }
  for (const FailedAttempt& f : failed)
    if (Within(f.finished_at, now, span)) ++out[f.node].failures;
  return out;
}

void SetRelayFeed(FleetSettings& s, const std::optional<AudioPathChoice>& last,
                  const std::optional<PathFeed>& best) {
  if (last) s.audio_path = last->path, s.audio_path_reason = last->reason;
  if (!best) return;
  s.feed_path = best->path;
  s.feed_path_reason = best->reason;
  if (best->measured) s.preparation_capacity = best->preparation;
  s.path_uplink_capacity = best->uplink;
}

Millis AudioOfTransfers(const std::vector<TransferTotal>& transfers,
                        const std::vector<CompletedJob>& done,
                        const std::map<NodeId, Millis>& in_flight) {
  Millis total{0};
  std::map<NodeId, TimePoint> latest;
  for (const TransferTotal& t : transfers)
    if (t.audio <= Millis(0)) latest[t.node] = std::max(latest[t.node], t.hour);
  for (const auto& [node, hour] : latest)
    if (auto it = in_flight.find(node); it != in_flight.end()) total += it->second;
  for (const TransferTotal& t : transfers) {
    if (t.audio > Millis(0)) {
      total += t.audio;
      continue;
    }
    for (const CompletedJob& c : done)
      if (c.node == t.node && c.finished_at >= t.hour && c.finished_at < t.hour + kOneHour)
        total += c.audio_duration;
  }
  return total;
}

namespace {

Result<Millis> QueuedAudio(Store& store, int64_t queued, Millis mean_episode) {
  EpisodeFilter filter;
  filter.state = EpisodeState::kQueued;
  filter.limit = std::max<int64_t>(queued, 1);
  auto episodes = store.ListEpisodes(filter);
  if (!episodes) return std::unexpected(episodes.error());
  Millis total{0};
  for (const Episode& e : *episodes)
    total += e.info.duration && *e.info.duration > Millis(0) ? *e.info.duration : mean_episode;
  return total;
}

std::vector<NodeFacts> NodeFactsOf(const std::vector<NodeView>& views, const FleetFacts& f,
                                   const std::vector<FailedAttempt>& failed,
                                   const ActivityLog& activity) {
  auto hour = ComputeNodeWindows(f.done_day, failed, f.now, kOneHour);
  auto day = ComputeNodeWindows(f.done_day, failed, f.now, kOneDay);
  std::vector<NodeFacts> out;
  for (const NodeView& v : views) {
    NodeFacts n{v,
                GpuModel(v.node.info),
                PriceOf(v.node.info, f.settings.prices),
                v.node.info.speed,
                hour[v.node.id],
                day[v.node.id]};
    if (n.day.jobs > 0) n.speed = n.day.Realtime();
    n.hour.activity = activity.Since(v.node.id, f.now - kOneHour);
    n.day.activity = activity.Since(v.node.id, f.now - kOneDay);
    out.push_back(std::move(n));
  }
  return out;
}

}  // namespace

double FleetSpeed(const FleetFacts& f) {
  double speed = 0;
  for (const NodeFacts& n : f.nodes)
    if (n.working()) speed += n.speed;
  return speed;
}

Result<FleetFacts> GatherFleetFacts(Store& store, const ActivityLog& activity,
                                    const FleetSettings& settings, TimePoint now,
                                    const std::map<NodeId, NodeFault>& faults) {
  FleetFacts f;
  f.now = now;
  f.settings = settings;
  auto done = store.CompletedSince(now - kOneDay);
  if (!done) return std::unexpected(done.error());
  f.done_day = std::move(*done);
  auto failed = store.FailedSince(now - kOneDay);
  if (!failed) return std::unexpected(failed.error());
  auto nodes = store.ListNodes();
  if (!nodes) return std::unexpected(nodes.error());
  auto leased = store.ListLeasedJobs();
  if (!leased) return std::unexpected(leased.error());
  auto queue = store.CountJobs();
  if (!queue) return std::unexpected(queue.error());
  f.queue = *queue;
  auto transfers = store.TransfersSince(now - kOneDay);
  if (!transfers) return std::unexpected(transfers.error());

  f.last_hour = ComputeThroughput(f.done_day, now, kOneHour);
  Millis audio{0};
  for (const CompletedJob& c : f.done_day) audio += c.audio_duration;
  if (!f.done_day.empty()) f.mean_episode = audio / static_cast<int64_t>(f.done_day.size());
  TimePoint recent_from = now;
  for (const TransferTotal& t : *transfers) {
    f.bytes_day += t.bytes;
    if (t.hour + kOneHour <= now - kOneHour) continue;
    f.bytes_recent += t.bytes;
    recent_from = std::min(recent_from, t.hour);
  }
  f.bytes_recent_window = now - recent_from;
  std::map<NodeId, Millis> in_flight;
  for (const Job& j : *leased)
    if (j.lease) in_flight[j.lease->node] += f.mean_episode;
  f.bytes_audio_day = AudioOfTransfers(*transfers, f.done_day, in_flight);
  auto queued_audio = QueuedAudio(store, f.queue.queued, f.mean_episode);
  if (!queued_audio) return std::unexpected(queued_audio.error());
  f.queued_audio = *queued_audio;

  f.nodes = NodeFactsOf(BuildNodeViews(*nodes, *leased, now, settings.offline_after, faults), f,
                        *failed, activity);
  std::vector<bool> completed;
  for (const NodeFacts& n : f.nodes) completed.push_back(n.day.jobs > 0 || n.speed > 0);
  f.compatibility = BuildCompatibility(*nodes, completed);
  return f;
}

}  // namespace podfleet
