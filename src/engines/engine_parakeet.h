// The parakeet engine: NVIDIA's Parakeet TDT (0.6B v2 English, v3 multilingual) through
// whisper.cpp 1.9.1's Parakeet API (parakeet.h), in process, on the CPU or, when whisper.cpp is
// built with CUDA or Metal (cmake/whisper.cmake), on the GPU.
//
// Model: EngineConfig.model is a ggml Parakeet file, or a catalog name (parakeet_models.h)
// resolved in EngineConfig.models_dir. The file is checked by InspectParakeetModel first, so a
// truncated or foreign file is a clear error (kCorruption, kInvalidArgument) instead of garbage
// in the loader. The engine reports the file's name without "ggml-" and ".bin" as model.
//
// Chunks: the audio is cut at pauses (chunks.h PlanChunks: silence left out) into chunks no longer
// than the model's audio context (n_audio_ctx mel frames of 10 ms: 50 s for the published
// models; past that parakeet.cpp's encoder buffers grow with the input), or EngineConfig.chunk,
// and spread over the states when there are several (never below 20 s).
//
// Times: TDT gives each token the encoder frame it was emitted at and the frames it spans; with 8x
// subsampling a frame is 80 ms, and parakeet.cpp reports t0/t1 in 10 ms mel frames from the start
// of the chunk. Each becomes chunk start + 10 x t (ChunkTime: rounded once, so chunk offsets add
// no error), clamped to the chunk. Words are the tokens from one that starts with "▁" to the next;
// punctuation and casing are the model's. Segments end at a sentence end (. ? !) or a pause of a
// second or more between words.
//
// States, cancellation, progress and thread-safety as for the whisper engine (engine_whisper.h,
// state_pool.h): Transcribe may be called from several threads at once; the stop token aborts
// parakeet.cpp between graph computations.
#pragma once

#include <memory>
#include <vector>

#include "engines/engine.h"

namespace podfleet {

// Checks and loads the model and creates its states. kNotFound / kInvalidArgument from
// ResolveParakeetModel; kCorruption or kInvalidArgument from InspectParakeetModel; kInternal when
// parakeet.cpp refuses the model (its last error line in the message).
Result<std::unique_ptr<Engine>> MakeParakeetEngine(const EngineConfig& config);

// A parakeet.cpp time (10 ms mel frames from the start of the chunk [chunk_begin, chunk_end)) in
// milliseconds from the start of the audio, clamped to the chunk.
Millis ParakeetTimeToMillis(int64_t frames, Samples chunk_begin, Samples chunk_end);

}  // namespace podfleet
