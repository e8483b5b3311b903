// WriteOpus: FFmpeg's libopus encoder into its Ogg muxer. Every FFmpeg object is owned by a
// unique_ptr with the library's own free function.
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
#include <libavutil/opt.h>
}

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <system_error>

#include "audio/ffmpeg.h"
#include "audio/opus.h"
#include "core/units.h"

namespace podfleet {
namespace {

using ffmpeg::AvError;
using ffmpeg::CodecPtr;
using ffmpeg::FramePtr;
using ffmpeg::PacketPtr;

struct OutputCloser {
  void operator()(AVFormatContext* c) const {
    if (c->pb) avio_closep(&c->pb);
    avformat_free_context(c);
  }
};

// One encode: codec and muxer set up for `path`, fed frame by frame.
class OpusWriter {
 public:
  Result<void> Open(const std::filesystem::path& path, const OpusOptions& options) {
    const AVCodec* codec = avcodec_find_encoder_by_name("libopus");
    if (!codec) return Unavailable("FFmpeg has no libopus encoder");
    codec_.reset(avcodec_alloc_context3(codec));
    codec_->sample_rate = kSampleRate;
    codec_->sample_fmt = AV_SAMPLE_FMT_FLT;
    codec_->bit_rate = options.bitrate;
    av_channel_layout_default(&codec_->ch_layout, 1);
    codec_->time_base = AVRational{1, kSampleRate};
    if (av_opt_set(codec_->priv_data, "application", options.application.c_str(), 0) < 0 ||
        av_opt_set_double(codec_->priv_data, "frame_duration", options.frame_ms, 0) < 0)
      return Unavailable("libopus encoder: this FFmpeg lacks its application or frame option");
    codec_->compression_level = options.complexity;
    AVFormatContext* raw = nullptr;
    if (int rc = avformat_alloc_output_context2(&raw, nullptr, "ogg", path.c_str()); rc < 0)
      return Unavailable("ogg muxer: " + AvError(rc));
    out_.reset(raw);
    if (out_->oformat->flags & AVFMT_GLOBALHEADER) codec_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (int rc = avcodec_open2(codec_.get(), codec, nullptr); rc < 0)
      return Unavailable("libopus encoder: " + AvError(rc));
    AVStream* stream = avformat_new_stream(out_.get(), nullptr);
    if (!stream) return Unavailable("ogg muxer: cannot add a stream");
    avcodec_parameters_from_context(stream->codecpar, codec_.get());
    stream->time_base = codec_->time_base;
    stream_ = stream;
    if (int rc = avio_open(&out_->pb, path.c_str(), AVIO_FLAG_WRITE); rc < 0)
      return Unavailable(fmt::format("{}: {}", path.string(), AvError(rc)));
    if (int rc = avformat_write_header(out_.get(), nullptr); rc < 0)
      return Unavailable("ogg header: " + AvError(rc));
    packet_.reset(av_packet_alloc());
    frame_.reset(av_frame_alloc());
    return {};
  }

  Result<void> Encode(std::span<const float> samples) {
    const int64_t frame_size = codec_->frame_size > 0 ? codec_->frame_size : kSampleRate / 50;
    for (size_t at = 0; at < samples.size(); at += static_cast<size_t>(frame_size)) {
      const auto n = std::min<size_t>(static_cast<size_t>(frame_size), samples.size() - at);
      // A short last frame, where the encoder takes one, lets it mark the padding it adds so
      // that decoders drop it (a 60 ms frame would otherwise add up to 60 ms of silence).
      const bool small_last = codec_->codec->capabilities & AV_CODEC_CAP_SMALL_LAST_FRAME;
      frame_->nb_samples = static_cast<int>(small_last ? static_cast<int64_t>(n) : frame_size);
      frame_->format = codec_->sample_fmt;
      frame_->sample_rate = kSampleRate;
      av_channel_layout_copy(&frame_->ch_layout, &codec_->ch_layout);
      if (int rc = av_frame_get_buffer(frame_.get(), 0); rc < 0)
        return Unavailable("opus frame: " + AvError(rc));
      auto* out = reinterpret_cast<float*>(frame_->data[0]);
      std::copy_n(samples.data() + at, n, out);
      std::fill(out + n, out + frame_->nb_samples, 0.0f);  // else padded with silence
      frame_->pts = static_cast<int64_t>(at);
      Result<void> r = Send(frame_.get());
      av_frame_unref(frame_.get());
      if (!r) return r;
    }
    return {};
  }

  Result<void> Finish() {
    if (Result<void> r = Send(nullptr); !r) return r;
    if (int rc = av_write_trailer(out_.get()); rc < 0)
      return Unavailable("ogg trailer: " + AvError(rc));
    return {};
  }

 private:
  Result<void> Send(const AVFrame* frame) {
    if (int rc = avcodec_send_frame(codec_.get(), frame); rc < 0)
      return Unavailable("opus encode: " + AvError(rc));
    while (true) {
      int rc = avcodec_receive_packet(codec_.get(), packet_.get());
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return {};
      if (rc < 0) return Unavailable("opus encode: " + AvError(rc));
      av_packet_rescale_ts(packet_.get(), codec_->time_base, stream_->time_base);
      packet_->stream_index = stream_->index;
      rc = av_interleaved_write_frame(out_.get(), packet_.get());
      if (rc < 0) return Unavailable("ogg write: " + AvError(rc));
    }
  }

  CodecPtr codec_;
  std::unique_ptr<AVFormatContext, OutputCloser> out_;
  PacketPtr packet_;
  FramePtr frame_;
  AVStream* stream_ = nullptr;  // owned by out_
};

}  // namespace

Result<void> CheckOpusOptions(const OpusOptions& options) {
  if (options.bitrate < 6'000 || options.bitrate > 256'000)
    return InvalidArgument(fmt::format("opus bitrate {} is outside 6..256 kbps", options.bitrate));
  if (options.complexity < 0 || options.complexity > 10)
    return InvalidArgument(fmt::format("opus complexity {} is outside 0..10", options.complexity));
  if (options.frame_ms != 20 && options.frame_ms != 40 && options.frame_ms != 60)
    return InvalidArgument(fmt::format("opus frame of {} ms: 20, 40 or 60", options.frame_ms));
  if (options.application != "voip" && options.application != "audio" &&
      options.application != "lowdelay")
    return InvalidArgument("opus application " + options.application + ": voip, audio or lowdelay");
  return {};
}

Result<void> WriteOpus(const std::filesystem::path& path, std::span<const float> samples,
                       const OpusOptions& options) {
  if (Result<void> r = CheckOpusOptions(options); !r) return r;
  const std::filesystem::path temp = path.string() + ".part";
  Result<void> r;
  {
    OpusWriter writer;
    r = writer.Open(temp, options);
    if (r) r = writer.Encode(samples);
    if (r) r = writer.Finish();
  }
  std::error_code ec;
  if (r) std::filesystem::rename(temp, path, ec);
  if (r && ec) r = Unavailable(fmt::format("{}: {}", path.string(), ec.message()));
  if (!r) std::filesystem::remove(temp, ec);
  return r;
}

}  // namespace podfleet
