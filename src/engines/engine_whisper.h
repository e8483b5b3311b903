// The whisper engine: whisper.cpp (1.9.1, with ggml) in process, on the CPU or, when built with
// CUDA or Metal (cmake/whisper.cmake), on the GPU.
//
// Model: EngineConfig.model is a ggml Whisper file, or a catalog name (whisper_models.h) resolved
// in EngineConfig.models_dir. The file is checked by InspectWhisperModel before whisper.cpp sees
// it, so a truncated or foreign file is a clear error (kCorruption, kInvalidArgument) instead of
// a crash in the loader. The engine reports the file's name without "ggml-" and ".bin" as model.
//
// Options: language ("auto" or empty detects it per chunk; a language an English-only model
// cannot speak is kInvalidArgument), threads (0: all cores, shared among the states), beam_size
// (0: greedy), prompt (whisper's initial prompt), word_timestamps (words from whisper's token
// timestamps), fallback (whisper's temperature fallback on windows that decode badly; benchmarks
// of random-weight models turn it off, since such windows always fail it).
//
// Chunks and times: the audio is cut into chunks of at most EngineConfig.chunk (0: the whole
// audio, or one chunk per state), at the quietest 10 ms near each limit and on whole
// milliseconds (multiples of 16 samples). whisper.cpp gives times in centiseconds from the start
// of what it was handed; each becomes chunk start + 10 x centiseconds, clamped to the chunk, so
// segment and word times are exact milliseconds from the start of the audio.
//
// States: one loaded model (whisper_context) serves EngineConfig.states whisper_states, each
// with its own buffers (on the GPU, several chunks in flight keep the device busy); 0 chooses the
// count by a warm-up measurement and the GPU's free memory (state_pool.h MakeStates). A call hands
// its chunks to as many free states as it has chunks; concurrent calls share the states and wait
// for one to be free. EngineInfo::states tells the worker how many jobs to run at once.
//
// Device: the first GPU ggml offers, else the CPU; a build with a GPU backend that finds no usable
// GPU reports EngineInfo::device_problem instead of running silently on the CPU (ggml_device.h).
//
// Cancellation: the stop token aborts whisper.cpp between graph computations and decoder steps
// (its abort callback); the call returns kUnavailable "cancelled". Progress is the fraction of
// the audio's samples done, from whisper.cpp's per-chunk progress.
//
// Thread-safety: Transcribe may be called from several threads at once.
#pragma once

#include <memory>
#include <vector>

#include "audio/pauses.h"
#include "engines/engine.h"

namespace podfleet {

// Checks and loads the model and creates its states. kNotFound / kInvalidArgument from
// ResolveWhisperModel; kCorruption or kInvalidArgument from InspectWhisperModel; kInvalidArgument
// for an unknown language code or one the model does not speak; kInternal when whisper.cpp
// refuses the model (its last error line in the message).
Result<std::unique_ptr<Engine>> MakeWhisperEngine(const EngineConfig& config);

// The chunks the engine hands to whisper.cpp (see above): covering all of `audio`, each at most
// `max_chunk` long (0: one chunk), boundaries on multiples of 16 samples. Exposed for tests.
std::vector<Piece> PlanWhisperChunks(const PcmAudio& audio, Millis max_chunk);

// A whisper.cpp time (centiseconds from the start of the chunk that begins at `chunk_begin`)
// in milliseconds from the start of the audio, clamped to [chunk_begin, chunk_end].
Millis WhisperTimeToMillis(int64_t centiseconds, Samples chunk_begin, Samples chunk_end);

}  // namespace podfleet
