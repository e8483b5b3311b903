// The exec engine: runs an external program once per chunk of audio (a NeMo Parakeet or
// mlx-whisper script, say). The contract the program must follow is in doc/engines.md
// ("External command"):
//   in:  /bin/sh -c '<command> "$@"' with the chunk's path (16 kHz mono 16-bit WAV) as the last
//        argument; PODFLEET_AUDIO (the same path), PODFLEET_LANGUAGE, PODFLEET_MODEL,
//        PODFLEET_WORDS (1 or 0), PODFLEET_THREADS in the environment;
//   out: one JSON object on stdout, OpenAI verbose_json-like: {"language", "text", "segments":
//        [{"start","end","text","words":[{"word","start","end","probability"?}]}]}, times in
//        seconds from the chunk's start ({"text"} alone is accepted, as one untimed segment);
//        "progress F" lines (F in 0..1) on stderr; anything else on stderr is its log;
//   exit 0 on success; non-zero with a message on stderr on failure.
// A run longer than EngineConfig::chunk_timeout, or a stop request, kills the program's whole
// process group.
//
// Errors from Transcribe: kInternal "command exited with status N: <its last stderr line>" (or
// killed by signal N); kCorruption when its stdout is not such JSON; kUnavailable on timeout
// ("timed out") or stop ("cancelled"). Thread-safe: concurrent calls run separate programs.
#pragma once

#include "engines/engine.h"

namespace podfleet {

// kInvalidArgument when config.command is empty; kNotFound when its program is not found.
Result<std::unique_ptr<Engine>> MakeExecEngine(const EngineConfig& config);

}  // namespace podfleet
