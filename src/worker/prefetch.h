// PrefetchPlanner: how many jobs a worker keeps fetched ahead of its engine, from its own
// measured speeds, so that the next job's audio is decoded before the engine finishes the current
// one and a fast engine never waits on the network.
//
// With jobs fetched side by side, a job starts fetching when the engine takes the one `depth`
// places ahead of it, so it has `depth` engine-jobs of time: depth >= fetch time / engine time.
// Both are measured per audio second (averaged, recent jobs weighing most), so jobs of unlike
// lengths compare. One job more than that covers the variance.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <mutex>
#include <optional>

#include "core/thread_annotations.h"
#include "core/units.h"

namespace podfleet {

class PrefetchPlanner {
 public:
  // Depth() stays within [min_depth, max_depth]; min_depth until both speeds are measured.
  PrefetchPlanner(int min_depth, int max_depth);

  // Fetching (download and decode) a job of `audio` took `took`.
  void Fetched(Millis took, Millis audio);
  // The engine took `took` for `audio`.
  void Transcribed(Millis took, Millis audio);
  // Jobs to keep fetched or fetching beyond the one in the engine.
  int Depth() const;
  // Audio seconds the engine does per wall second, once measured.
  std::optional<double> EngineSpeed() const;

 private:
  // Constant after construction.
  const int min_depth_;
  const int max_depth_;

  mutable Mutex mu_;
  std::optional<double> fetch_per_audio_ GUARDED_BY(mu_);  // wall seconds per audio second
  std::optional<double> engine_per_audio_ GUARDED_BY(mu_);
};

}  // namespace podfleet
