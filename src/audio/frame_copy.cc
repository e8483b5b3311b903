// FrameCopier: FFmpeg's demuxer reads the original's packets (through a read callback on the
// GrowingFile for a download still coming), and each chunk's packets go unchanged into an MP3 or
// ADTS muxer.
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/dict.h>
#include <libavutil/mathematics.h>
}

#include <fmt/format.h>

#include <limits>
#include <system_error>
#include <vector>

#include "audio/audio.h"
#include "audio/ffmpeg.h"
#include "audio/frame_copy.h"
#include "core/growing_file.h"

namespace podfleet {
namespace {

using ffmpeg::AvError;
using ffmpeg::IoPtr;
using ffmpeg::PacketPtr;

constexpr size_t kSniffBytes = 16 * 1024;
constexpr AVRational kMillis{1, 1000};

struct InputCloser {
  void operator()(AVFormatContext* c) const { avformat_close_input(&c); }
};
struct OutputCloser {
  void operator()(AVFormatContext* c) const {
    if (c->pb) avio_closep(&c->pb);
    avformat_free_context(c);
  }
};
using InputPtr = std::unique_ptr<AVFormatContext, InputCloser>;
using OutputPtr = std::unique_ptr<AVFormatContext, OutputCloser>;

// The bytes of a GrowingFile read from the front, as a pipe: a read waits for bytes to come.
using GrowingReader = ffmpeg::PositionedInput<GrowingFile>;

Result<std::string> Sniff(GrowingFile& file) {
  std::vector<unsigned char> head(kSniffBytes);
  size_t got = 0;
  while (got < head.size()) {
    Result<size_t> n = file.ReadAt(static_cast<int64_t>(got), std::span(head).subspan(got));
    if (!n) return std::unexpected(n.error());
    if (*n == 0) break;
    got += *n;
  }
  head.resize(got);
  return SniffAudio(head);
}

}  // namespace

struct FrameCopier::State {
  GrowingReader reader;
  IoPtr io;  // none when the whole file was opened by path
  InputPtr input;
  int stream = -1;
  AVRational time_base{1, 1};
  int64_t origin = 0;  // the first packet's time: 0 in the chunks' times
  PacketPtr pending;   // read but not yet written: the next chunk's first frame
  bool ended = false;
  std::string name;

  ~State() { input.reset(); }  // before `io`, which the demuxer reads through

  int64_t Time(const AVPacket& p) const { return p.pts != AV_NOPTS_VALUE ? p.pts : p.dts; }
  Millis ToMs(int64_t ts) const {
    return Millis(av_rescale_q(std::max<int64_t>(0, ts - origin), time_base, kMillis));
  }

  // The next packet of the audio stream into `pending`; false at the end of the file.
  Result<bool> Next() {
    if (pending) return true;
    PacketPtr p(av_packet_alloc());
    while (!ended) {
      const int rc = av_read_frame(input.get(), p.get());
      if (rc == AVERROR_EOF) break;
      if (reader.error) return std::unexpected(*reader.error);
      if (rc < 0) return Unavailable(fmt::format("{}: reading frames: {}", name, AvError(rc)));
      if (p->stream_index == stream && Time(*p) != AV_NOPTS_VALUE) {
        pending = std::move(p);
        return true;
      }
      av_packet_unref(p.get());
    }
    if (reader.error) return std::unexpected(*reader.error);
    ended = true;
    return false;
  }
};

FrameCopier::FrameCopier(std::unique_ptr<State> state, std::string extension, int64_t bit_rate)
    : state_(std::move(state)), extension_(std::move(extension)), bit_rate_(bit_rate) {}

FrameCopier::~FrameCopier() = default;

Result<std::unique_ptr<FrameCopier>> FrameCopier::Open(GrowingFile& file, const std::string& name) {
  auto sniffed = Sniff(file);
  if (!sniffed)
    return WithContext<std::unique_ptr<FrameCopier>>(std::unexpected(sniffed.error()), name);
  auto s = std::make_unique<State>();
  s->name = name;
  AVFormatContext* raw = avformat_alloc_context();
  if (raw == nullptr) return Internal("out of memory");
  if (*sniffed == "mp3") {
    s->reader.source = &file;
    s->io = ffmpeg::MakeIo(&s->reader, &GrowingReader::Read, nullptr);
    if (!s->io) {
      avformat_free_context(raw);
      return Internal("out of memory");
    }
    s->io->seekable = 0;
    raw->pb = s->io.get();
    raw->flags |= AVFMT_FLAG_CUSTOM_IO;
    if (int rc = avformat_open_input(&raw, nullptr, av_find_input_format("mp3"), nullptr); rc < 0)
      return Corruption(fmt::format("{}: {}", name, AvError(rc)));
  } else if (*sniffed == "mp4") {
    auto whole = file.WaitFinished();
    if (!whole) {
      avformat_free_context(raw);
      return std::unexpected(whole.error());
    }
    if (int rc = avformat_open_input(&raw, whole->c_str(), nullptr, nullptr); rc < 0)
      return Corruption(fmt::format("{}: {}", name, AvError(rc)));
  } else {
    avformat_free_context(raw);
    return InvalidArgument(
        fmt::format("{}: {} audio is not copied (MP3 and M4A are)", name, *sniffed));
  }
  s->input.reset(raw);
  if (int rc = avformat_find_stream_info(raw, nullptr); rc < 0)
    return Corruption(fmt::format("{}: {}", name, AvError(rc)));
  s->stream = av_find_best_stream(raw, AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  if (s->stream < 0) return Corruption(name + ": no audio stream");
  const AVStream* st = raw->streams[s->stream];
  const AVCodecID codec = st->codecpar->codec_id;
  if (codec != AV_CODEC_ID_MP3 && codec != AV_CODEC_ID_AAC)
    return InvalidArgument(
        fmt::format("{}: {} audio is not copied (MP3 and AAC are)", name, avcodec_get_name(codec)));
  s->time_base = st->time_base;
  auto first = s->Next();
  if (!first) return std::unexpected(first.error());
  if (!*first) return Corruption(name + ": no frames");
  s->origin = st->start_time != AV_NOPTS_VALUE ? st->start_time : s->Time(*s->pending);
  const int64_t bit_rate = st->codecpar->bit_rate > 0 ? st->codecpar->bit_rate : raw->bit_rate;
  return std::unique_ptr<FrameCopier>(new FrameCopier(
      std::move(s), codec == AV_CODEC_ID_MP3 ? "mp3" : "aac", std::max<int64_t>(0, bit_rate)));
}

Result<Millis> FrameCopier::Copy(Millis begin, std::optional<Millis> end,
                                 const std::filesystem::path& path) {
  State& s = *state_;
  const AVStream* in = s.input->streams[s.stream];
  const int64_t begin_ts = s.origin + av_rescale_q(begin.count(), kMillis, s.time_base);
  // No end: past every frame.
  const int64_t end_ts = end ? s.origin + av_rescale_q(end->count(), kMillis, s.time_base)
                             : std::numeric_limits<int64_t>::max();
  // Frames wholly before `begin` belong to chunks queued before (a resumed episode).
  while (true) {
    auto more = s.Next();
    if (!more) return std::unexpected(more.error());
    if (!*more || s.Time(*s.pending) + s.pending->duration > begin_ts) break;
    s.pending.reset();
  }
  if (!s.pending || s.Time(*s.pending) >= end_ts)
    return Corruption(fmt::format("{}: no frames from {} ms on", s.name, begin.count()));

  const std::filesystem::path temporary = path.string() + ".tmp";
  AVFormatContext* raw = nullptr;
  const char* muxer = extension_ == "mp3" ? "mp3" : "adts";
  if (int rc = avformat_alloc_output_context2(&raw, nullptr, muxer, temporary.c_str()); rc < 0)
    return Unavailable(fmt::format("{} muxer: {}", muxer, AvError(rc)));
  OutputPtr out(raw);
  AVStream* stream = avformat_new_stream(raw, nullptr);
  if (stream == nullptr) return Unavailable(fmt::format("{} muxer: cannot add a stream", muxer));
  avcodec_parameters_copy(stream->codecpar, in->codecpar);
  stream->codecpar->codec_tag = 0;
  stream->time_base = in->time_base;
  if (int rc = avio_open(&raw->pb, temporary.c_str(), AVIO_FLAG_WRITE); rc < 0)
    return Unavailable(fmt::format("{}: {}", temporary.string(), AvError(rc)));
  // No Xing or ID3 header: a header declaring a length the worker would check against the chunk
  // is no use, and an encoder delay copied from the original would drop a chunk's first samples.
  AVDictionary* options = nullptr;
  av_dict_set(&options, "write_xing", "0", 0);
  av_dict_set(&options, "id3v2_version", "0", 0);
  const int header = avformat_write_header(raw, &options);
  av_dict_free(&options);
  auto fail = [&](const std::string& why) -> Result<Millis> {
    out.reset();
    std::error_code ec;
    std::filesystem::remove(temporary, ec);
    return Unavailable(why);
  };
  if (header < 0) return fail(fmt::format("{} header: {}", muxer, AvError(header)));

  const int64_t first = s.Time(*s.pending);
  int64_t next = first;  // where the frame after the last one written starts
  while (s.pending && s.Time(*s.pending) < end_ts) {
    AVPacket* p = s.pending.get();
    next = s.Time(*p) + p->duration;
    if (p->pts != AV_NOPTS_VALUE) p->pts -= first;
    if (p->dts != AV_NOPTS_VALUE) p->dts -= first;
    p->stream_index = 0;
    p->pos = -1;
    if (int rc = av_write_frame(raw, p); rc < 0)
      return fail(fmt::format("{}: writing a frame: {}", temporary.string(), AvError(rc)));
    s.pending.reset();
    auto more = s.Next();
    if (!more) return fail(more.error().message);
  }
  if (s.pending) next = s.Time(*s.pending);
  if (int rc = av_write_trailer(raw); rc < 0)
    return fail(fmt::format("{}: {}", temporary.string(), AvError(rc)));
  out.reset();
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) {
    std::filesystem::remove(temporary, ec);
    return Unavailable(fmt::format("{}: {}", path.string(), ec.message()));
  }
  return s.ToMs(next);
}

}  // namespace podfleet
