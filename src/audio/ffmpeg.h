// Owning pointers for the FFmpeg objects audio/ uses, each freed with the library's own function,
// FFmpeg's error text, and the read callback of a custom AVIOContext. Internal to src/audio
// (decoder.cc, opus.cc, frame_copy.cc).
#pragma once

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avio.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>
#include <libavutil/mem.h>
}

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "core/error.h"

namespace podfleet::ffmpeg {

struct CodecFreer {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct PacketFreer {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct FrameFreer {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
using CodecPtr = std::unique_ptr<AVCodecContext, CodecFreer>;
using PacketPtr = std::unique_ptr<AVPacket, PacketFreer>;
using FramePtr = std::unique_ptr<AVFrame, FrameFreer>;
// An AVIOContext made by avio_alloc_context, freed with its buffer.
struct IoFreer {
  void operator()(AVIOContext* io) const {
    if (io != nullptr) av_freep(&io->buffer);
    avio_context_free(&io);
  }
};
using IoPtr = std::unique_ptr<AVIOContext, IoFreer>;

// A custom AVIOContext over `opaque` with a 64 KiB buffer of its own, reading through `read` and
// seeking through `seek` (null: no seeking); null when out of memory.
inline IoPtr MakeIo(void* opaque, int (*read)(void*, uint8_t*, int),
                    int64_t (*seek)(void*, int64_t, int)) {
  constexpr int kBytes = 64 * 1024;
  auto* buffer = static_cast<unsigned char*>(av_malloc(kBytes));
  if (buffer == nullptr) return nullptr;
  IoPtr io(avio_alloc_context(buffer, kBytes, 0, opaque, read, nullptr, seek));
  if (!io) av_free(buffer);
  return io;
}

// The state behind a custom AVIOContext that reads `Source` (a GrowingFile, a ByteSource: anything
// with `Result<size_t> ReadAt(int64_t offset, std::span<unsigned char>)`, 0 at its end) from
// `position` on. FFmpeg sees a failed read only as AVERROR_EXTERNAL, so the source's own error is
// kept in `error` for the message.
template <class Source>
struct PositionedInput {
  Source* source = nullptr;
  int64_t position = 0;
  std::optional<Error> error;

  // avio_alloc_context's read_packet; `opaque` is a PositionedInput<Source>.
  static int Read(void* opaque, uint8_t* buffer, int size) {
    auto* in = static_cast<PositionedInput*>(opaque);
    Result<size_t> n = in->source->ReadAt(in->position, {buffer, static_cast<size_t>(size)});
    if (!n) {
      in->error = n.error();
      return AVERROR_EXTERNAL;
    }
    if (*n == 0) return AVERROR_EOF;
    in->position += static_cast<int64_t>(*n);
    return static_cast<int>(*n);
  }
};

// The text FFmpeg gives for an AVERROR code.
inline std::string AvError(int code) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, text, sizeof(text));
  return text;
}

}  // namespace podfleet::ffmpeg
