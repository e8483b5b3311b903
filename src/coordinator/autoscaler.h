// The autoscaler (`serve --autoscale runpod|exec`): every `interval` it turns the plan (plan.h,
// the same as /api/plan) into pods rented through a PodProvider, within --max-pods and the
// budget in dollars per hour, and terminates them when the queue is empty.
//
// One Tick:
//  1. Lists the provider's pods; those named with `name_prefix` are ours. A pod of ours that the
//     records lack (a restart lost the moment between create and record) is adopted; a record
//     whose pod is gone or exited is failed ("died") and, if work remains, replaced.
//  2. Follows each live pod: requested -> starting (the container runs) -> registered (a node of
//     the pod's name is online) -> working (it holds jobs) / draining (surplus, finishing its
//     jobs) -> terminated. A pod not registered within `setup_deadline`, registered blocked, or
//     whose node went offline, is terminated and `failed` with the reason; its GPU type is not
//     chosen again (nor is any GPU type the fleet reports blocked).
//  3. Wants 0 pods when nothing is queued or running; else the plan's recommended count for its
//     recommended GPU when that GPU is allowed, else (no allowed GPU measured yet) one pod per
//     GPU type to measure; never more than --max-pods or than the jobs there are.
//  4. Creates pods of the first allowed GPU type (the plan's choice first, then --gpu's order)
//     that is offered and not failed here, on the first of `clouds` where that type has not
//     lately lacked capacity, while the sum of the live pods' prices plus the new one (at that
//     cloud's price) stays within the budget. RunPod's "no capacity" moves on to the next cloud,
//     then to the next GPU type (that type on that cloud is skipped for `capacity_retry`). Once
//     nothing waits in the
//     queue, surplus pods without jobs are terminated and surplus working pods drain; with
//     nothing queued or running every pod is terminated. While jobs wait, no pod is surplus.
//  5. Writes the records to `state_file` (JSON, replaced atomically): what a restart needs to
//     keep the spend and the failed GPU types; the pods themselves are re-adopted from the
//     provider's list, so a restart neither forgets nor double-creates them, and the budget
//     counts them at once.
// A provider error stops the tick: kUnavailable backs off (5 s doubling to 5 min, or the
// provider's own Retry-After, see provider_runpod.h), kPermissionDenied and others are logged as
// decisions and retried after 5 min. Every decision is printed to stderr with its reason and, given
// a store, written to its decision log (Store::AddDecisions, the newest 1000 kept) at the end of
// the tick that made it, outside the lock; Open reads the log back, so a restart keeps it. With
// PostgreSQL the coordinators of one database share the log, and Status shows it whole. Without a
// store the last 200 are kept in memory.
//
// Spend: each pod's price times its life (created to terminated, or to now); per hour: the sum of
// the live pods' prices.
//
// Thread safety: Tick runs on one thread (Run's); Status and the manual calls may be called from
// any thread.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "core/thread_annotations.h"
#include "pods/provider.h"
#include "store/store.h"

namespace podfleet {

struct AutoscaleOptions {
  int max_pods = 4;
  double budget_per_hour = 1.0;   // dollars per hour, all live pods together
  std::vector<std::string> gpus;  // GPU types allowed, in order of preference ("RTX A5000")
  // RunPod clouds (ALL, SECURE, COMMUNITY) tried in this order when one has no capacity.
  std::vector<std::string> clouds = {"ALL"};
  std::string image = "runpod/base:0.6.2-cuda12.4.1";
  std::vector<std::string> cuda_versions;  // allowed host CUDA versions; empty: any
  int container_disk_gb = 20;
  // What a pod runs to join: the coordinator's join line (bundles.h). The autoscaler appends
  // `--name POD --exit-when-idle D --price-per-hour P`. Its token also goes to the pod's env as
  // PODFLEET_TOKEN, with PODFLEET_SERVER.
  std::string join_command;
  std::string server_url;
  std::string token;
  std::string name_prefix = "podfleet-auto-";  // `podfleet pods up` names its pods apart
  Millis interval{5'000};
  Millis setup_deadline{10 * 60'000};
  Millis exit_when_idle{10 * 60'000};  // the pod's own backstop (work --exit-when-idle)
  Millis capacity_retry{2 * 60'000};
  // A registered pod whose worker stays offline this long is dead (counted from when this
  // autoscaler first saw it offline, so a restart gives every pod the whole grace again).
  Millis offline_grace{60'000};      // a GPU type without capacity is skipped this long
  double target_hours = 1;           // PlanRequest::target_hours
  std::filesystem::path state_file;  // empty: records kept in memory only
};

// What the autoscaler reads of the fleet each tick (the coordinator fills it from the store and
// the plan, see AutoscaleSnapshot in coordinator.cc).
struct FleetSnapshot {
  int64_t queued = 0;   // jobs waiting (plus episodes being prepared)
  int64_t running = 0;  // jobs leased
  struct Node {
    std::string name;
    bool online = false;
    bool blocked = false;
    int jobs = 0;
  };
  std::vector<Node> nodes;
  std::optional<std::string> plan_gpu;  // the plan's recommended GPU type
  int plan_pods = 0;                    // and how many pods of it
  std::string plan_reason;              // e.g. "drains 2.0 h in 0.8 h, bottleneck gpu"
  std::set<std::string> blocked_gpus;   // GPU models the fleet reports blocked
};

struct PodRecord {
  std::string name;
  std::string id;  // empty while the create call has not answered
  std::string gpu;
  double price_per_hour = 0;
  std::string state;  // requested starting registered working draining terminated failed
  std::string reason;
  TimePoint created{};
  std::optional<TimePoint> ended;
  bool adopted = false;
  std::string cloud;  // the cloud it was created on; empty when adopted
  bool live() const { return state != "terminated" && state != "failed"; }
};

using Decision = AutoscaleDecision;

struct AutoscaleStatus {
  std::string provider;
  AutoscaleOptions options;  // with token and join_command blanked
  std::vector<PodRecord> pods;
  std::vector<Decision> decisions;  // newest last
  double spend = 0;                 // dollars so far, all pods ever
  double spend_per_hour = 0;        // the live pods' prices together
  int wanted = 0;
};

class Autoscaler {
 public:
  // Reads the records in options.state_file when it exists (kCorruption when it cannot be read)
  // and the newest decisions from `decisions` (nullptr: decisions kept in memory only; its read
  // errors are returned). `provider`, `clock` and `decisions` must outlive it.
  static Result<std::unique_ptr<Autoscaler>> Open(AutoscaleOptions options, PodProvider& provider,
                                                  const Clock& clock, Store* decisions = nullptr);

  // One pass, as above, then its decisions are stored. Provider errors are decisions, not
  // failures; a store that refuses the decisions gets them again after the next tick.
  void Tick(const FleetSnapshot& fleet) EXCLUDES(mu_);
  // Ticks every interval until `stop`, reading the fleet with `snapshot`; skips a tick when
  // `may_tick` (if given) says no: another coordinator of a shared store runs the autoscaler (its
  // task lock, store/coordination.h).
  void Run(const std::function<Result<FleetSnapshot>()>& snapshot, const std::stop_token& stop,
           const std::function<bool()>& may_tick = {});

  AutoscaleStatus Status() const EXCLUDES(mu_);

 private:
  Autoscaler(AutoscaleOptions options, PodProvider& provider, const Clock& clock, Store* store)
      : options_(std::move(options)), provider_(provider), clock_(clock), store_(store) {}
  void TickLocked(const FleetSnapshot& fleet) REQUIRES(mu_);
  void StoreDecisions() EXCLUDES(mu_);
  void Decide(std::string text) REQUIRES(mu_);
  void Backoff(const Error& e, std::string_view doing) REQUIRES(mu_);
  void Reconcile(const std::vector<PodInfo>& listed, const FleetSnapshot& fleet) REQUIRES(mu_);
  void Follow(PodRecord& r, const FleetSnapshot& fleet) REQUIRES(mu_);
  void Fail(PodRecord& r, std::string reason, bool blame_gpu) REQUIRES(mu_);
  bool TerminatePod(PodRecord& r, std::string state, std::string reason) REQUIRES(mu_);
  int Wanted(const FleetSnapshot& fleet) REQUIRES(mu_);
  void ScaleUp(int wanted, const FleetSnapshot& fleet) REQUIRES(mu_);
  // Tries `gpu` (as the candidate list names it) on each cloud in turn; true once a pod is made.
  // `more` says whether another GPU type follows (for the decisions' wording).
  bool CreateOnSomeCloud(const GpuOffer& offer, const std::string& gpu, bool more) REQUIRES(mu_);
  bool CreateOne(const GpuOffer& offer, const std::string& gpu, const std::string& cloud,
                 std::string_view next) REQUIRES(mu_);
  void ScaleDown(int wanted, const FleetSnapshot& fleet) REQUIRES(mu_);
  std::vector<std::string> Candidates(const FleetSnapshot& fleet) REQUIRES(mu_);
  // Whether `gpu` lacked capacity on `cloud` within the last `capacity_retry`.
  bool LacksCapacity(const std::string& gpu, const std::string& cloud) const REQUIRES(mu_);
  double LivePrice() const REQUIRES(mu_);
  int Live() const REQUIRES(mu_);
  void Save() REQUIRES(mu_);
  Result<void> Load() REQUIRES(mu_);

  const AutoscaleOptions options_;
  PodProvider& provider_;
  const Clock& clock_;
  Store* const store_;  // the decision log; may be null
  mutable Mutex mu_;
  std::vector<PodRecord> pods_ GUARDED_BY(mu_);
  std::vector<Decision> decisions_ GUARDED_BY(mu_);    // the newest, oldest first
  std::vector<Decision> unstored_ GUARDED_BY(mu_);     // made since the store last took them
  std::set<std::string> failed_gpus_ GUARDED_BY(mu_);  // pods of these failed setup here
  // "GPU@cloud" -> skipped until
  std::map<std::string, TimePoint> no_capacity_ GUARDED_BY(mu_);
  std::map<std::string, TimePoint> offline_since_ GUARDED_BY(mu_);  // pod name -> first seen
  TimePoint backoff_until_ GUARDED_BY(mu_){};
  Millis backoff_ GUARDED_BY(mu_){0};
  int wanted_ GUARDED_BY(mu_) = 0;
  int64_t serial_ GUARDED_BY(mu_) = 0;
  std::string last_basis_ GUARDED_BY(mu_);  // of the last wanted count (Wanted)
};

}  // namespace podfleet
