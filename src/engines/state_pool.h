// Engine states shared by the calls of one in-process engine (whisper, parakeet): one loaded
// model serves N states, each a chunk in flight with its own buffers (on a GPU, several chunks in
// flight keep the device busy). A call cuts its audio into chunks and runs them on as many free
// states as it has chunks; concurrent calls share the states and wait for a free one.
//
// Thread-safety: all members may be called from any thread. The pool does not own the states: the
// engine frees them after the pool is gone.
#pragma once

#include <condition_variable>
#include <functional>
#include <stop_token>
#include <string>
#include <vector>

#include "audio/pauses.h"
#include "core/model.h"
#include "core/thread_annotations.h"
#include "engines/engine.h"

namespace podfleet {

class StatePool {
 public:
  explicit StatePool(std::vector<void*> states);
  StatePool(const StatePool&) = delete;
  StatePool& operator=(const StatePool&) = delete;

  size_t size() const { return size_; }

  // The fraction of a call's audio done, from per-chunk fractions, reported to `progress`.
  class Progress {
   public:
    Progress(const std::vector<Piece>& chunks, const EngineProgress& progress);
    void Report(size_t chunk, double fraction) EXCLUDES(mu_);

   private:
    const EngineProgress& progress_;
    std::vector<int64_t> weight_;  // per chunk, samples
    int64_t total_ = 1;
    Mutex mu_;
    std::vector<double> done_ GUARDED_BY(mu_);
  };

  using RunChunk = std::function<Result<std::vector<Segment>>(size_t chunk, void* state)>;

  // Runs `run` for every chunk index in [0, chunks), each on a state held for it, on up to
  // size() threads (the caller's included). Returns the segments in chunk order, or the first
  // chunk's error; chunks not yet started when one fails are skipped.
  Result<std::vector<Segment>> Run(size_t chunks, const RunChunk& run) EXCLUDES(mu_);

 private:
  void* Acquire() EXCLUDES(mu_);
  void Release(void* state) EXCLUDES(mu_);

  const size_t size_;
  Mutex mu_;
  std::condition_variable_any free_cv_;
  std::vector<void*> free_ GUARDED_BY(mu_);
};

// Chunk length for an engine with `states` states: `longest` (0: no limit), or shorter when
// several states share the audio, but then never below `shortest`.
Millis ChunkLengthForStates(Millis audio, size_t states, Millis longest, Millis shortest);

}  // namespace podfleet

namespace podfleet {

// One warm-up measurement: `states` chunks of the clip in flight at once.
struct StatesMeasurement {
  int states = 0;
  double realtime = 0;       // audio seconds per wall second, all states together
  int64_t device_bytes = 0;  // memory the states hold on the device (GPU; 0 on the CPU)
};

// How many states "auto" (EngineConfig::states == 0) runs: the fewest whose throughput is within
// 5% of the best measured (fewer states hold less memory and finish a lone job sooner).
int ChooseStates(const std::vector<StatesMeasurement>& measured);

// Measures at 1, 2, 4, ... states up to `max_states` (`at` runs the warm-up with that many),
// stopping after a doubling that gains less than 5%. The first error ends the series (an error at
// 1 state is returned; later ones keep what was measured).
Result<std::vector<StatesMeasurement>> MeasureStates(
    int max_states, const std::function<Result<StatesMeasurement>(int states)>& at);

}  // namespace podfleet

namespace podfleet {

// How an in-process engine makes, frees and warms up its states (whisper_state, parakeet_state).
struct StateOps {
  std::function<void*()> create;  // nullptr on failure
  std::function<void(void*)> destroy;
  // Transcribes `clip` on `state` (the warm-up); the result is discarded.
  std::function<Result<void>(void* state, const PcmAudio& clip)> run;
  // Free memory of the engine's GPU in bytes; -1 on the CPU.
  std::function<int64_t()> device_free;
  // Called before the warm-up runs `states` at once (the engine shares its threads among them).
  std::function<void(int states)> prepare;
};

struct StatesPlan {
  std::vector<void*> states;
  std::vector<StatesMeasurement> measured;  // empty when the count was given
};

// The states an engine runs: `requested` of them, or with `requested` == 0 as many as the warm-up
// chooses (MeasureStates up to 16 on a GPU, while its free memory holds another state with 10%
// to spare, or up to min(8, cores) on the CPU; then ChooseStates). On error every state made is
// freed; kInternal names the state that could not be made.
Result<StatesPlan> MakeStates(int requested, const StateOps& ops);

// "4 (auto; warm-up 1: 3.2x, 2: 5.9x, 4: 7.7x)" or "2 (given)", for logs and registration.
std::string DescribeStates(size_t states, const std::vector<StatesMeasurement>& measured);

}  // namespace podfleet
