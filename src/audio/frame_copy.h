// Cutting an MP3 or M4A/AAC episode into chunk files by copying its compressed frames, without
// decoding or re-encoding them: the relay's copy path (doc/relay.md, "Copy path"). Encoding Opus
// is most of the relay's CPU; copying costs almost none, at the price of the original's bytes.
//
// Chunks cut this way start and end on frame boundaries: a chunk holds the frames that start in
// [begin, end), so neighbouring chunks share no frame and miss none, and its true times (what
// the stitcher shifts by) are its frames' times. MP3 frames last 26 ms at 44.1 kHz and AAC frames
// 23 ms, and the relay cuts in pauses of 300 ms, so snapping a cut to a frame boundary keeps it in
// the pause. A chunk after the first decodes without what came before it: an MP3 frame whose bit
// reservoir reaches back into the chunk before, and the first AAC frame (its overlap), decode to
// near silence, inside the pause. Decoded, a chunk's audio sits where its times say: within 0.1 ms
// of the whole file's decode for MP3 and M4A (FrameCopyTest measures it on test speech).
//
// Thread safety: one FrameCopier is used by one thread at a time.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "core/error.h"
#include "core/units.h"

namespace podfleet {

class GrowingFile;

class FrameCopier {
 public:
  // Opens `file` (a download still being written, or a whole file) for copying: MP3 is read as
  // it comes, an M4A once it is whole (its index may be at its end). `name` prefixes errors.
  // kInvalidArgument when the audio is neither MP3 nor AAC in M4A (the copy path does not apply);
  // the file's or the writer's error when it cannot be read; kCorruption when FFmpeg cannot
  // open it. REQUIRES: `file` outlives the copier; no other reader of `file` on another thread.
  static Result<std::unique_ptr<FrameCopier>> Open(GrowingFile& file, const std::string& name);
  ~FrameCopier();
  FrameCopier(const FrameCopier&) = delete;
  FrameCopier& operator=(const FrameCopier&) = delete;

  // "mp3" or "aac" (ADTS): the chunk files' format and extension.
  const std::string& extension() const { return extension_; }
  // The original's bits per second, as its header or FFmpeg's probe tells; 0 when unknown.
  int64_t bit_rate() const { return bit_rate_; }

  // Writes the frames that start in [begin, end) to `path` (no end: to the end of the file),
  // whole or not at all (a temporary name, then a rename); frames before `begin` are skipped.
  // Returns where the next frame starts: the chunk's true end (with no end, the last frame's
  // end). kCorruption "no frames" when none starts in the range; kUnavailable when the file
  // cannot be read or `path` written. REQUIRES: calls in ascending order of `begin`, each
  // `begin` at or after the previous call's end.
  Result<Millis> Copy(Millis begin, std::optional<Millis> end, const std::filesystem::path& path);

 private:
  struct State;
  FrameCopier(std::unique_ptr<State> state, std::string extension, int64_t bit_rate);

  std::unique_ptr<State> state_;
  const std::string extension_;
  const int64_t bit_rate_;
};

}  // namespace podfleet
