// The PocketSphinx engine: CMU PocketSphinx 0.8 (Debian's libpocketsphinx), on the CPU, with the
// US English model that Debian ships. No download; modest accuracy (see doc/engines.md).
//
// Model: EngineConfig.model names a model directory laid out like Debian's
// POCKETSPHINX_MODEL_DIR (/usr/share/pocketsphinx/model/en-us), the default when empty (a
// relocatable bundle's bin/../share/pocketsphinx/model/en-us comes first): for a
// directory named NAME, NAME/NAME/ holds the acoustic model, NAME/NAME.lm.bin the language model
// and NAME/cmudict-NAME.dict the dictionary. The engine reports NAME as its model.
//
// How it decodes: SplitAtPauses cuts the audio into pieces at pauses; each piece is decoded as one
// whole utterance and becomes one Segment with its words (times from the decoder's 100 frames per
// second, confidence from the lattice posterior). Up to EngineConfig.threads decoders (0: one per
// core) take pieces of one call in parallel; pieces are decoded independently (the model uses
// per-utterance cepstral mean normalisation), so the words do not depend on the thread count.
//
// Thread-safety: Transcribe may be called from several threads at once. All calls share one pool
// of at most `threads` decoders; each decoder is loaded on first need (about 0.25 s and 120 MB)
// and kept until the engine is destroyed. A call waits for at least one decoder and uses as many
// more as are free. Cancellation (the stop token) is honoured between pieces.
#pragma once

#include <memory>

#include "engines/engine.h"

namespace podfleet {

// Loads the model (one decoder) and returns the engine. kNotFound when a model file is missing;
// kInvalidArgument when the language is not the model's; kInternal when PocketSphinx refuses the
// model.
Result<std::unique_ptr<Engine>> MakePocketSphinxEngine(const EngineConfig& config);

}  // namespace podfleet
