// The seed's verification, computed: each check passes, fails or does not apply, with the numbers
// that decided it. Pure function of the fleet's facts.
//
// Checks ("pods" are online nodes that bill by the hour; "nodes" are all online, unblocked ones):
//   every_pod_busy      every pod holds a lease while jobs are queued (n/a when nothing is queued)
//   prefetch_populated  leased jobs >= 2 x busy nodes while jobs are queued (the seed's 2-3x)
//   no_completion_gaps  per node, the time between consecutive completions beyond the later job's
//                       engine time, counted from the later job's lease when it came later (an
//                       empty queue between batches is no gap): p90 under max(5 s, 10 % of the
//                       mean engine time), last hour
//   no_idle_with_work   no node idle more than 5 % of its observed time while jobs were queued,
//                       over the last hour
//   no_idle_billing     no pod idle (no lease) now, and none idle more than 10 % of the last hour
//   relay_keeps_up      the relay's measured preparation speed is at least the fleet's speed (n/a
//                       in origin mode or before anything was prepared)
//   no_blocked_nodes    no node seen recently is blocked (its preflight failed: the reason)
//   no_unhealthy_nodes  no online node's worker reports a local fault (a full or unwritable work
//                       directory or outbox: the reason; node_faults.h)
#pragma once

#include <string>
#include <vector>

#include "coordinator/fleet_facts.h"

namespace podfleet {

enum class CheckOutcome { kPass, kFail, kNotApplicable };
std::string_view ToString(CheckOutcome o);

struct Check {
  std::string name;
  CheckOutcome outcome = CheckOutcome::kNotApplicable;
  std::string detail;  // the numbers, for a person
};

struct DoctorReport {
  std::vector<Check> checks;
  bool healthy = true;  // no check failed
};

DoctorReport RunDoctor(const FleetFacts& facts);

}  // namespace podfleet
