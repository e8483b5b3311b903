// DecodeAudioFile: FFmpeg's demuxers and decoders, resampled by libswresample to 16 kHz mono
// float. Every FFmpeg object is owned by a unique_ptr with the library's own free function.
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libswresample/swresample.h>
}

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "audio/audio.h"
#include "audio/ffmpeg.h"
#include "audio/source_decoder.h"
#include "core/byte_source.h"
#include "core/growing_file.h"

namespace podfleet {
namespace {

using ffmpeg::AvError;
using ffmpeg::CodecPtr;
using ffmpeg::FramePtr;
using ffmpeg::IoPtr;
using ffmpeg::PacketPtr;

// A file that decodes to less than this share of its declared length (less the slack) is truncated.
constexpr double kMinCompleteFraction = 0.97;
constexpr double kCompleteSlackSeconds = 0.5;

// A file whose packets fail this often is damaged, not merely truncated or glitched.
constexpr int64_t kMinErrorsForCorruption = 10;
constexpr double kMaxErrorFraction = 0.10;
// Progress is reported when the fraction has grown by at least this much.
constexpr double kProgressStep = 0.01;
// Decoded samples are handed over in blocks of about this many (1 s).
constexpr size_t kBlockSamples = kSampleRate;

struct FormatCloser {
  void operator()(AVFormatContext* c) const { avformat_close_input(&c); }
};
struct SwrFreer {
  void operator()(SwrContext* s) const { swr_free(&s); }
};
using FormatPtr = std::unique_ptr<AVFormatContext, FormatCloser>;
using SwrPtr = std::unique_ptr<SwrContext, SwrFreer>;

// FFmpeg explains its failures only in log lines ("moov atom not found"), and a damaged file can
// log hundreds of them. While a FileDecoder runs, its thread's FFmpeg errors are kept (the last
// one) for its error message instead of going to stderr.
thread_local std::string* t_captured_log = nullptr;

void LogCallback(void* context, int level, const char* format, va_list args) {
  if (level > av_log_get_level()) return;
  if (t_captured_log == nullptr) return av_log_default_callback(context, level, format, args);
  char line[512];
  int print_prefix = 0;
  av_log_format_line2(context, level, format, args, line, sizeof(line), &print_prefix);
  std::string_view text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  if (!text.empty()) t_captured_log->assign(text);
}

void SetUpFfmpegLogOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    av_log_set_level(AV_LOG_ERROR);  // timestamp and header warnings are routine in podcasts
    av_log_set_callback(LogCallback);
  });
}

// Captures this thread's FFmpeg error lines for its lifetime. Not copyable.
class LogCapture {
 public:
  LogCapture() : previous_(t_captured_log) {
    SetUpFfmpegLogOnce();
    t_captured_log = &last_;
  }
  ~LogCapture() { t_captured_log = previous_; }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // "Invalid data found when processing input (moov atom not found)"; forgets the log line.
  std::string Explain(int code) {
    std::string text = AvError(code);
    if (!last_.empty()) text += " (" + std::exchange(last_, {}) + ")";
    return text;
  }

 private:
  std::string* const previous_;
  std::string last_;
};

// Converts decoded frames of any layout, sample format and rate to kSampleRate mono float.
// Reconfigures itself when the input format changes mid-stream (it can, in MP3 and Ogg chains).
class Resampler {
 public:
  Result<void> Convert(const AVFrame& frame, std::vector<float>& out) {
    if (!swr_ || frame.format != in_format_ || frame.sample_rate != in_rate_ ||
        frame.ch_layout.nb_channels != in_channels_) {
      if (swr_) Flush(out);
      if (auto r = Configure(frame); !r) return r;
    }
    return Run(const_cast<const uint8_t**>(frame.extended_data), frame.nb_samples, out);
  }

  // Drains the samples the resampler still holds.
  void Flush(std::vector<float>& out) {
    if (swr_) (void)Run(nullptr, 0, out);
  }

 private:
  Result<void> Configure(const AVFrame& frame) {
    AVChannelLayout in_layout{};
    if (frame.ch_layout.order == AV_CHANNEL_ORDER_UNSPEC) {
      av_channel_layout_default(&in_layout, frame.ch_layout.nb_channels);
    } else if (int rc = av_channel_layout_copy(&in_layout, &frame.ch_layout); rc < 0) {
      return Internal("copy channel layout: " + AvError(rc));
    }
    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
    SwrContext* raw = nullptr;
    int rc = swr_alloc_set_opts2(&raw, &mono, AV_SAMPLE_FMT_FLT, kSampleRate, &in_layout,
                                 static_cast<AVSampleFormat>(frame.format), frame.sample_rate, 0,
                                 nullptr);
    av_channel_layout_uninit(&in_layout);
    SwrPtr swr(raw);
    if (rc < 0 || (rc = swr_init(swr.get())) < 0) {
      return Corruption(fmt::format("cannot resample {} channels at {} Hz: {}",
                                    frame.ch_layout.nb_channels, frame.sample_rate, AvError(rc)));
    }
    swr_ = std::move(swr);
    in_format_ = frame.format;
    in_rate_ = frame.sample_rate;
    in_channels_ = frame.ch_layout.nb_channels;
    return {};
  }

  Result<void> Run(const uint8_t** in, int in_samples, std::vector<float>& out) {
    const int room = swr_get_out_samples(swr_.get(), in_samples);
    if (room < 0) return Internal("resampler: " + AvError(room));
    const size_t old_size = out.size();
    out.resize(old_size + static_cast<size_t>(room));
    auto* dest = reinterpret_cast<uint8_t*>(out.data() + old_size);
    const int got = swr_convert(swr_.get(), &dest, room, in, in_samples);
    out.resize(old_size + static_cast<size_t>(std::max(got, 0)));
    if (got < 0) return Internal("resampler: " + AvError(got));
    // Lossy codecs and resampling overshoot full scale a little; PcmAudio promises [-1, 1].
    for (auto it = out.begin() + static_cast<std::ptrdiff_t>(old_size); it != out.end(); ++it) {
      *it = std::clamp(*it, -1.0f, 1.0f);
    }
    return {};
  }

  SwrPtr swr_;
  int in_format_ = -1;
  int in_rate_ = 0;
  int in_channels_ = 0;
};

// One decoding pass over one file.
class FileDecoder {
 public:
  explicit FileDecoder(const std::function<bool(double)>& progress) : progress_(progress) {}

  // `format`: the container as probed from the content (nullptr: FFmpeg probes it itself).
  Result<void> Open(const std::filesystem::path& path, const AVInputFormat* format) {
    AVFormatContext* raw = nullptr;
    if (int rc = avformat_open_input(&raw, path.c_str(), format, nullptr); rc < 0) {
      return Corruption("cannot open: " + log_.Explain(rc));
    }
    format_.reset(raw);
    return FindStream();
  }

  // How Seek finds its place without reading up to it: not at all (it reads from the front), or
  // through the container's index (an MP4's sample tables; an MP3's bit rate), or, for an MP3,
  // through its Xing table (a VBR file's only index; a CBR file's bit rate is finer than it).
  enum class SeekBy { kReading, kIndex, kXingTable };

  // Opens the container read through `io` (not owned; it must outlive this decoder).
  Result<void> Open(AVIOContext* io, const AVInputFormat* format,
                    SeekBy seek_by = SeekBy::kReading) {
    AVFormatContext* raw = avformat_alloc_context();
    if (raw == nullptr) return Internal("out of memory");
    raw->pb = io;
    raw->flags |= AVFMT_FLAG_CUSTOM_IO;
    AVDictionary* options = nullptr;
    seek_by_ = seek_by;
    if (seek_by != SeekBy::kReading) raw->flags |= AVFMT_FLAG_FAST_SEEK;
    if (seek_by == SeekBy::kXingTable) av_dict_set(&options, "usetoc", "1", 0);
    // On failure avformat_open_input frees `raw` (not `io`).
    const int rc = avformat_open_input(&raw, "", format, &options);
    av_dict_free(&options);
    if (rc < 0) return Corruption("cannot open: " + log_.Explain(rc));
    format_.reset(raw);
    return FindStream();
  }

  // Continues decoding at `at` on the stream's time line, through the container's index. What
  // follows is timed by the index (FirstSample), and the file is no longer checked as complete.
  Result<void> Seek(Millis at) {
    const AVStream* stream = format_->streams[stream_];
    int64_t ts = av_rescale_q(at.count(), AVRational{1, 1000}, stream->time_base);
    if (stream->start_time != AV_NOPTS_VALUE) ts += stream->start_time;
    if (int rc = av_seek_frame(format_.get(), stream_, ts, AVSEEK_FLAG_BACKWARD); rc < 0)
      return Corruption(fmt::format("cannot seek to {} ms: {}", at.count(), log_.Explain(rc)));
    avcodec_flush_buffers(codec_.get());
    seeked_ = true;
    return {};
  }

  // Where the first sample decoded lies on the stream's time line, in samples; nullopt before
  // any was decoded.
  std::optional<int64_t> FirstSample() const { return first_sample_; }

  // How the duration is known. REQUIRES: Open succeeded.
  bool DurationFromBitRate() const {
    return format_->duration_estimation_method == AVFMT_DURATION_FROM_BITRATE;
  }

  // Whether Seek lands where it says, to a frame: an MP4's sample tables, or the bit rate of an MP3
  // that declares its length without a VBR table (CBR). REQUIRES: Open succeeded.
  bool SeeksExactly() const {
    const std::string_view name = format_->iformat->name;
    if (name.find("mp4") != std::string_view::npos) return true;
    return name == "mp3" && seek_by_ == SeekBy::kIndex && !DurationFromBitRate();
  }

  Result<void> FindStream() {
    if (int rc = avformat_find_stream_info(format_.get(), nullptr); rc < 0) {
      return Corruption("cannot read stream info: " + log_.Explain(rc));
    }
    const AVCodec* codec = nullptr;
    stream_ = av_find_best_stream(format_.get(), AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0);
    if (stream_ == AVERROR_STREAM_NOT_FOUND) return Corruption("no audio stream");
    if (stream_ < 0) return Corruption("no decoder for the audio stream: " + log_.Explain(stream_));
    return OpenCodec(codec);
  }

  // FFmpeg's name for the container. REQUIRES: Open succeeded.
  std::string FormatName() const { return format_->iformat->name; }

  // The stream's duration in seconds, 0 when unknown. REQUIRES: Open succeeded.
  double DurationSeconds() const {
    const AVStream* stream = format_->streams[stream_];
    if (stream->duration != AV_NOPTS_VALUE && stream->duration > 0) {
      return static_cast<double>(stream->duration) * av_q2d(stream->time_base);
    }
    if (format_->duration != AV_NOPTS_VALUE && format_->duration > 0) {
      return static_cast<double>(format_->duration) / AV_TIME_BASE;
    }
    return 0;
  }

  // Decodes the whole stream, handing the samples to `sink` in blocks of about kBlockSamples
  // as they come, so that only a block is held here. Returns the number of samples. Packets
  // `wanted` does not want are not decoded (DecodeGrowingFile).
  Result<int64_t> Run(const SampleSink& sink, const SampleWanted& wanted = {}) {
    std::vector<float> block;
    block.reserve(kBlockSamples * 2);
    PacketPtr packet(av_packet_alloc());
    FramePtr frame(av_frame_alloc());
    if (!packet || !frame) return Internal("out of memory");
    auto hand_over = [&](size_t at_least) {
      if (block.size() < at_least || block.empty()) return true;
      total_ += static_cast<int64_t>(block.size());
      const bool more = sink(block);
      block.clear();
      return more;
    };
    while (true) {
      const int rc = av_read_frame(format_.get(), packet.get());
      if (rc == AVERROR_EOF || rc == AVERROR_INVALIDDATA) break;  // truncated: keep what is there
      if (rc < 0) return Unavailable("read: " + log_.Explain(rc));
      if (packet->stream_index == stream_) {
        if (Unwanted(*packet, wanted)) {
          Skip(*packet, block);
        } else {
          if (skipping_ && !Resume(*packet, block, hand_over)) return Unavailable("cancelled");
          if (auto r = Decode(packet.get(), *frame, block); !r) return std::unexpected(r.error());
        }
        if (!ReportProgress(*packet) || !hand_over(kBlockSamples)) return Unavailable("cancelled");
      }
      av_packet_unref(packet.get());
    }
    if (auto r = Decode(nullptr, *frame, block); !r) return std::unexpected(r.error());
    resampler_.Flush(block);
    if (skipping_ && !PadTo(skipped_to_ + drift_, block, hand_over))
      return Unavailable("cancelled");
    if (!hand_over(1)) return Unavailable("cancelled");
    if (auto r = CheckErrors(); !r) return std::unexpected(r.error());
    if (auto r = CheckComplete(); !r) return std::unexpected(r.error());
    if (progress_) progress_(1.0);
    return total_;
  }

  size_t ExpectedSamples() const {
    // Capped so that a lying header cannot make us reserve gigabytes up front.
    const double seconds = std::min(DurationSeconds(), 4.0 * 3600);
    return static_cast<size_t>(seconds * kSampleRate);
  }

 private:
  Result<void> OpenCodec(const AVCodec* codec) {
    codec_.reset(avcodec_alloc_context3(codec));
    if (!codec_) return Internal("out of memory");
    const AVStream* stream = format_->streams[stream_];
    if (int rc = avcodec_parameters_to_context(codec_.get(), stream->codecpar); rc < 0) {
      return Corruption("bad codec parameters: " + log_.Explain(rc));
    }
    codec_->pkt_timebase = stream->time_base;
    if (int rc = avcodec_open2(codec_.get(), codec, nullptr); rc < 0) {
      return Corruption(fmt::format("cannot open {} decoder: {}", codec->name, log_.Explain(rc)));
    }
    return {};
  }

  // Sends one packet (nullptr: end of stream) and drains the frames it yields. Damaged packets
  // are counted, not fatal: CheckErrors judges the whole file.
  Result<void> Decode(const AVPacket* packet, AVFrame& frame, std::vector<float>& out) {
    ++packets_;
    if (int rc = avcodec_send_packet(codec_.get(), packet); rc < 0 && rc != AVERROR_EOF) {
      NoteError(rc);
      return {};
    }
    while (true) {
      const int rc = avcodec_receive_frame(codec_.get(), &frame);
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return {};
      if (rc < 0) {
        NoteError(rc);
        return {};
      }
      if (!first_sample_) first_sample_ = SamplePosition(frame);
      Place(frame, out);
      auto converted = resampler_.Convert(frame, out);
      av_frame_unref(&frame);
      if (!converted) return converted;
    }
  }

  int64_t SamplePosition(const AVFrame& frame) const {
    return SamplePosition(frame.best_effort_timestamp);
  }

  // Where a stream timestamp lies, in samples from the stream's start (0 when unknown).
  int64_t SamplePosition(int64_t pts) const {
    const AVStream* stream = format_->streams[stream_];
    if (pts == AV_NOPTS_VALUE) return 0;
    const int64_t start = stream->start_time == AV_NOPTS_VALUE ? 0 : stream->start_time;
    return av_rescale_q(pts - start, stream->time_base, AVRational{1, kSampleRate});
  }

  // Whether `packet` is left undecoded: `wanted` wants none of its audio, nor of the second
  // either side. Packets without a timestamp or a duration are decoded.
  bool Unwanted(const AVPacket& packet, const SampleWanted& wanted) const {
    if (!wanted || packet.pts == AV_NOPTS_VALUE || packet.duration <= 0) return false;
    const int64_t begin = SamplePosition(packet.pts);
    const int64_t end = SamplePosition(packet.pts + packet.duration);
    return !wanted(Samples{begin - kSampleRate}, Samples{end + kSampleRate});
  }

  // Leaves `packet` undecoded. At the first of a gap, what the resampler holds is drained, and
  // the difference between the samples handed over and the packet's timestamp noted, so that
  // the audio after the gap lands where a whole decode puts it.
  void Skip(const AVPacket& packet, std::vector<float>& block) {
    if (!skipping_) {
      resampler_.Flush(block);
      resampler_ = Resampler();
      drift_ = total_ + ssize(block) - SamplePosition(packet.pts);
      skipping_ = true;
    }
    skipped_to_ = SamplePosition(packet.pts + packet.duration);
  }

  // Ends a gap at `packet`: silence up to about where its audio goes (Place settles it), and a
  // decoder with nothing of before the gap. False when the sink cancelled.
  template <typename HandOver>
  bool Resume(const AVPacket& packet, std::vector<float>& block, HandOver& hand_over) {
    skipping_ = false;
    placing_ = true;
    avcodec_flush_buffers(codec_.get());
    return PadTo(SamplePosition(packet.pts) + drift_, block, hand_over);
  }

  // Notes where each decoded frame's audio goes against its timestamp; the first after a gap
  // is put at the same distance (packets and frames can be timed apart by the codec's priming
  // samples, which the decoder drops at the start only), moving the silence's end in `out`.
  void Place(const AVFrame& frame, std::vector<float>& out) {
    const int64_t at = total_ + ssize(out);
    if (placing_) {
      placing_ = false;
      const int64_t want = SamplePosition(frame) + frame_drift_;
      if (want > at) out.insert(out.end(), static_cast<size_t>(want - at), 0.0f);
      if (want < at) out.resize(out.size() - static_cast<size_t>(std::min(at - want, ssize(out))));
    }
    frame_drift_ = total_ + ssize(out) - SamplePosition(frame);
  }

  // Silence until `at` samples were handed over, a block at a time. False when the sink cancelled.
  template <typename HandOver>
  bool PadTo(int64_t at, std::vector<float>& block, HandOver& hand_over) {
    while (total_ + ssize(block) < at) {
      const int64_t n = std::min<int64_t>(at - total_ - ssize(block), kBlockSamples);
      block.insert(block.end(), static_cast<size_t>(n), 0.0f);
      if (!hand_over(kBlockSamples)) return false;
    }
    return true;
  }

  void NoteError(int rc) {
    if (errors_++ == 0) first_error_ = log_.Explain(rc);
  }

  Result<void> CheckErrors() const {
    if (total_ == 0) {
      if (errors_ > 0) {
        return Corruption(fmt::format("nothing decodes: {} of {} packets failed, first: {}",
                                      errors_, packets_, first_error_));
      }
      return Corruption("no samples: the audio stream is empty");
    }
    if (errors_ >= kMinErrorsForCorruption &&
        static_cast<double>(errors_) > kMaxErrorFraction * static_cast<double>(packets_)) {
      return Corruption(fmt::format("damaged: {} of {} packets failed to decode, first: {}",
                                    errors_, packets_, first_error_));
    }
    return {};
  }

  // A file cut short (an interrupted transfer at the origin) decodes without errors up to the
  // cut. Its header still declares the whole length (the Xing/Info frame of an MP3, a FLAC
  // STREAMINFO), so a shortfall means the end is missing: a transcript of the rest would pass for
  // the whole episode, so it fails instead. A length estimated from the bitrate is only a guess
  // and is not held against the file.
  Result<void> CheckComplete() const {
    if (seeked_ || DurationFromBitRate()) return {};
    const double declared = DurationSeconds();
    const double decoded = static_cast<double>(total_) / kSampleRate;
    if (declared > 0 && decoded < declared * kMinCompleteFraction - kCompleteSlackSeconds) {
      return Corruption(fmt::format("truncated: decoded {:.1f} s of the {:.1f} s the file declares",
                                    decoded, declared));
    }
    return {};
  }

  double Fraction(const AVPacket& packet) const {
    const AVStream* stream = format_->streams[stream_];
    const double duration = DurationSeconds();
    if (packet.pts != AV_NOPTS_VALUE && duration > 0) {
      const int64_t start = stream->start_time == AV_NOPTS_VALUE ? 0 : stream->start_time;
      return static_cast<double>(packet.pts - start) * av_q2d(stream->time_base) / duration;
    }
    const int64_t size = format_->pb ? avio_size(format_->pb) : -1;
    if (packet.pos >= 0 && size > 0) return static_cast<double>(packet.pos) / size;
    return 0;
  }

  bool ReportProgress(const AVPacket& packet) {
    if (!progress_) return true;
    const double fraction = std::clamp(Fraction(packet), 0.0, 1.0);
    if (fraction < reported_ + kProgressStep) return true;
    reported_ = fraction;
    return progress_(fraction);
  }

  const std::function<bool(double)>& progress_;
  LogCapture log_;  // first: outlives every FFmpeg object below
  FormatPtr format_;
  CodecPtr codec_;
  int stream_ = -1;
  Resampler resampler_;
  int64_t packets_ = 0;
  int64_t errors_ = 0;
  int64_t total_ = 0;  // samples handed over
  std::string first_error_;
  double reported_ = 0;
  bool seeked_ = false;
  bool skipping_ = false;    // in a gap of packets left undecoded
  int64_t skipped_to_ = 0;   // where the last packet left undecoded ends, by its timestamp
  int64_t drift_ = 0;        // samples handed over less the timestamp, at the gap's start
  int64_t frame_drift_ = 0;  // the same, at the last frame decoded
  bool placing_ = false;     // the next frame is the first after a gap
  SeekBy seek_by_ = SeekBy::kReading;
  std::optional<int64_t> first_sample_;
};

// Bytes of a file FFmpeg's probe may look at, and the score it must give a format the sniffer
// could not name: above AVPROBE_SCORE_RETRY, where FFmpeg itself would keep looking. The file's
// name is not shown to the probe, so random bytes called .mp3 do not pass for MP3.
constexpr size_t kProbeBytes = 1 << 20;
constexpr int kMinProbeScore = AVPROBE_SCORE_RETRY + 1;

// FFmpeg's judgement of content the sniffer could not name.
Result<const AVInputFormat*> ProbeContent(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<unsigned char> buffer(kProbeBytes + AVPROBE_PADDING_SIZE, 0);
  in.read(reinterpret_cast<char*>(buffer.data()), kProbeBytes);
  if (in.bad()) return Unavailable("cannot read");
  AVProbeData probe{};
  probe.filename = "";
  probe.buf = buffer.data();
  probe.buf_size = static_cast<int>(in.gcount());
  int score = 0;
  const AVInputFormat* format = av_probe_input_format3(&probe, 1, &score);
  if (format == nullptr || score < kMinProbeScore) {
    const size_t n = std::min<size_t>(static_cast<size_t>(probe.buf_size), 8);
    return InvalidArgument(
        fmt::format("not audio: FFmpeg recognises no format (first bytes {:02x})",
                    fmt::join(std::span(buffer.data(), n), " ")));
  }
  return format;
}

// Sniffs `path`, then probes what the sniffer could not name; opens `decoder` on it.
Result<void> OpenAudio(const std::filesystem::path& path, FileDecoder& decoder) {
  auto sniffed = SniffAudioFile(path);
  if (!sniffed) return std::unexpected(sniffed.error());
  const AVInputFormat* format = nullptr;
  if (*sniffed == kUnknownFormat) {
    auto probed = ProbeContent(path);
    if (!probed)
      return WithContext<void>(std::unexpected(probed.error()), path.filename().string());
    format = *probed;
  }
  return WithContext(decoder.Open(path, format), path.filename().string());
}

// ---- decoding a file while it is downloaded (GrowingFile) ----

// The bytes of a GrowingFile as FFmpeg reads them: reads wait for bytes that have not come yet;
// the writer's failure is kept for the error message. Seeks go anywhere (a read there waits);
// the size is the one the writer announced, if any.
using GrowingInput = ffmpeg::PositionedInput<GrowingFile>;

int64_t SeekGrowing(void* opaque, int64_t offset, int whence) {
  auto* in = static_cast<GrowingInput*>(opaque);
  // The announced size lets FFmpeg estimate a CBR MP3's length from its bit rate, as it does
  // for a whole file; seeking from the end is refused until the file is whole.
  if (whence & AVSEEK_SIZE) {
    const std::optional<int64_t> expected = in->source->ExpectedSize();
    return expected ? *expected : AVERROR(ENOSYS);
  }
  const std::optional<int64_t> size = in->source->Size();
  switch (whence & ~AVSEEK_FORCE) {
    case SEEK_SET: in->position = offset; break;
    case SEEK_CUR: in->position += offset; break;
    case SEEK_END:
      if (!size) return AVERROR(ENOSYS);
      in->position = *size + offset;
      break;
    default: return AVERROR(EINVAL);
  }
  return in->position;
}

constexpr size_t kSniffBytes = 16 * 1024;

// Up to `want` bytes at `offset` of `file`, fewer only where the whole file ends.
Result<std::vector<unsigned char>> ReadGrowingAt(GrowingFile& file, int64_t offset, size_t want) {
  std::vector<unsigned char> bytes(want);
  size_t got = 0;
  while (got < want) {
    Result<size_t> n =
        file.ReadAt(offset + static_cast<int64_t>(got), std::span(bytes).subspan(got));
    if (!n) return std::unexpected(n.error());
    if (*n == 0) break;
    got += *n;
  }
  bytes.resize(got);
  return bytes;
}

uint32_t BigEndian32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// Whether an MP4's index (moov) comes before its media data (mdat), so that it can be decoded
// from the front: walks the top-level boxes. False when mdat comes first or the boxes make no
// sense (the whole file is then waited for and decoded as usual).
Result<bool> IndexFirst(GrowingFile& file) {
  constexpr int kMaxBoxes = 64;
  int64_t at = 0;
  for (int i = 0; i < kMaxBoxes; ++i) {
    auto header = ReadGrowingAt(file, at, 16);
    if (!header) return std::unexpected(header.error());
    if (header->size() < 8) return false;
    const std::string_view type(reinterpret_cast<const char*>(header->data() + 4), 4);
    if (type == "moov") return true;
    if (type == "mdat") return false;
    uint64_t size = BigEndian32(header->data());
    if (size == 1 && header->size() == 16)
      size = (uint64_t{BigEndian32(header->data() + 8)} << 32) | BigEndian32(header->data() + 12);
    if (size < 8) return false;  // 0: the box runs to the end of the file
    at += static_cast<int64_t>(size);
  }
  return false;
}

// The formats decoded from the front as their bytes come (FFmpeg's demuxer for each). The others
// need, or may need, to seek in the whole file.
const AVInputFormat* StreamableFormat(std::string_view sniffed) {
  static constexpr std::pair<std::string_view, const char*> kStreamable[] = {
      {"mp3", "mp3"},   {"aac", "aac"}, {"ogg", "ogg"},
      {"flac", "flac"}, {"wav", "wav"}, {"mp4", "mov"}};
  for (const auto& [name, demuxer] : kStreamable)
    if (name == sniffed) return av_find_input_format(demuxer);
  return nullptr;
}

// ---- decoding from a ByteSource (an origin read by ranges) ----

// A ByteSource as FFmpeg reads it: seekable, its size known; the source's failure is kept for the
// error message.
using SourceInput = ffmpeg::PositionedInput<ByteSource>;

int64_t SeekSource(void* opaque, int64_t offset, int whence) {
  auto* in = static_cast<SourceInput*>(opaque);
  const int64_t size = in->source->size();
  if (whence & AVSEEK_SIZE) return size;
  switch (whence & ~AVSEEK_FORCE) {
    case SEEK_SET: in->position = offset; break;
    case SEEK_CUR: in->position += offset; break;
    case SEEK_END: in->position = size + offset; break;
    default: return AVERROR(EINVAL);
  }
  return in->position;
}

// Whether the head of an MP3 has a VBR header ("Xing"; a CBR file's says "Info"), whose table of
// contents is then its only index (FFmpeg reads none from a VBRI header). An ID3 tag larger than
// the head hides it: seeks then go by the bit rate, a guess for a VBR file that the seams' matching
// bounds (audio/seams.h).
bool VbrTag(std::span<const unsigned char> head) {
  const std::string_view text(reinterpret_cast<const char*>(head.data()), head.size());
  return text.find("Xing") != std::string_view::npos;
}

// Runs `work` on a decoder opened on `source`; the source's own failure wins over FFmpeg's
// account of it.
template <typename T>
Result<T> WithSourceDecoder(ByteSource& source,
                            const std::function<Result<T>(FileDecoder&)>& work) {
  SourceInput input{.source = &source};
  IoPtr io = ffmpeg::MakeIo(&input, &SourceInput::Read, &SeekSource);
  if (!io) return Internal("out of memory");
  Result<T> result = [&]() -> Result<T> {
    std::vector<unsigned char> head(std::min<int64_t>(kSniffBytes, source.size()));
    for (size_t got = 0; got < head.size();) {
      auto n = source.ReadAt(static_cast<int64_t>(got), std::span(head).subspan(got));
      if (!n) return std::unexpected(n.error());
      if (*n == 0) break;
      got += *n;
    }
    auto sniffed = SniffAudio(head);
    if (!sniffed) return std::unexpected(sniffed.error());
    const std::function<bool(double)> no_progress;
    FileDecoder decoder(no_progress);  // closed before `io` is freed
    const auto seek_by =
        VbrTag(head) ? FileDecoder::SeekBy::kXingTable : FileDecoder::SeekBy::kIndex;
    if (auto r = decoder.Open(io.get(), StreamableFormat(*sniffed), seek_by); !r)
      return std::unexpected(r.error());
    return work(decoder);
  }();
  if (input.error) return std::unexpected(*input.error);
  return WithContext(std::move(result), source.name());
}

}  // namespace

Result<SourceProbe> ProbeByteSource(ByteSource& source) {
  return WithSourceDecoder<SourceProbe>(source, [](FileDecoder& decoder) -> Result<SourceProbe> {
    const double seconds = decoder.DurationSeconds();
    if (!(seconds > 0)) return NotFound("no duration in the header");
    return SourceProbe{.format = decoder.FormatName(),
                       .duration = Millis(std::llround(seconds * 1000)),
                       .estimated = decoder.DurationFromBitRate(),
                       .exact_seek = decoder.SeeksExactly()};
  });
}

Result<void> DecodeByteSourceFrom(ByteSource& source, Millis from, const TimedSampleSink& sink) {
  return WithSourceDecoder<void>(source, [&](FileDecoder& decoder) -> Result<void> {
    if (from > Millis(0))
      if (auto r = decoder.Seek(from); !r) return r;
    int64_t handed = 0;
    bool stopped = false;
    auto timed = [&](std::span<const float> block) {
      const Samples at{decoder.FirstSample().value_or(0) + handed};
      handed += std::ssize(block);
      stopped = !sink(at, block);
      return !stopped;
    };
    auto decoded = decoder.Run(timed);
    if (!decoded && !stopped) return std::unexpected(decoded.error());
    return {};
  });
}

Result<int64_t> DecodeAudioStream(const std::filesystem::path& path, const SampleSink& sink,
                                  const std::function<bool(double)>& progress) {
  FileDecoder decoder(progress);
  if (auto r = OpenAudio(path, decoder); !r) return std::unexpected(r.error());
  return WithContext(decoder.Run(sink), path.filename().string());
}

Result<PcmAudio> DecodeAudioFile(const std::filesystem::path& path,
                                 const std::function<bool(double)>& progress) {
  FileDecoder decoder(progress);
  if (auto r = OpenAudio(path, decoder); !r) return std::unexpected(r.error());
  PcmAudio audio;
  audio.samples.reserve(decoder.ExpectedSamples());
  auto keep = [&audio](std::span<const float> block) {
    audio.samples.insert(audio.samples.end(), block.begin(), block.end());
    return true;
  };
  if (auto r = WithContext(decoder.Run(keep), path.filename().string()); !r)
    return std::unexpected(r.error());
  return audio;
}

Result<PcmAudio> DecodeAudioRange(const std::filesystem::path& path, Samples begin,
                                  std::optional<Samples> end,
                                  const std::function<bool(double)>& progress) {
  PcmAudio audio;
  int64_t at = 0;
  bool reached_end = false;
  auto keep = [&](std::span<const float> block) {
    const int64_t from = std::clamp<int64_t>(begin.count - at, 0, ssize(block));
    int64_t to = ssize(block);
    if (end) to = std::clamp<int64_t>(end->count - at, from, ssize(block));
    audio.samples.insert(audio.samples.end(), block.begin() + from, block.begin() + to);
    at += ssize(block);
    reached_end = end && at >= end->count;
    return !reached_end;
  };
  auto decoded = DecodeAudioStream(path, keep, progress);
  if (!decoded && !reached_end) return std::unexpected(decoded.error());
  if (audio.samples.empty())
    return Corruption(fmt::format("{}: no samples from {:.1f} s on", path.filename().string(),
                                  static_cast<double>(begin.count) / kSampleRate));
  return audio;
}

Result<int64_t> DecodeGrowingFile(GrowingFile& file, const std::string& name,
                                  const std::function<void(std::optional<Millis>)>& opened,
                                  const SampleSink& sink, const SampleWanted& wanted) {
  const std::function<bool(double)> no_progress;
  auto opened_with = [&](const FileDecoder& decoder) {
    const double seconds = decoder.DurationSeconds();
    if (opened)
      opened(seconds > 0 ? std::optional(Millis(std::llround(seconds * 1000))) : std::nullopt);
  };
  auto head = ReadGrowingAt(file, 0, kSniffBytes);
  if (!head) return std::unexpected(head.error());
  auto sniffed = SniffAudio(*head);
  if (!sniffed) return WithContext<int64_t>(std::unexpected(sniffed.error()), name);
  const AVInputFormat* format = StreamableFormat(*sniffed);
  if (format != nullptr && *sniffed == "mp4") {
    auto first = IndexFirst(file);
    if (!first) return std::unexpected(first.error());
    if (!*first) format = nullptr;
  }
  if (format == nullptr) {
    auto whole = file.WaitFinished();
    if (!whole) return std::unexpected(whole.error());
    FileDecoder decoder(no_progress);
    if (auto r = OpenAudio(*whole, decoder); !r) return std::unexpected(r.error());
    opened_with(decoder);
    return WithContext(decoder.Run(sink, wanted), name);
  }
  GrowingInput input{.source = &file};
  IoPtr io = ffmpeg::MakeIo(&input, &GrowingInput::Read, &SeekGrowing);
  if (!io) return Internal("out of memory");
  io->seekable = 0;  // read from the front, as a pipe: the end is not there yet
  // The writer's failure (kept in `input`) explains a failed read better than FFmpeg's
  // "external library" error, and fails the decode even where a demuxer took it for the end.
  Result<int64_t> decoded = [&]() -> Result<int64_t> {
    FileDecoder decoder(no_progress);  // closed before `io` is freed
    if (auto r = decoder.Open(io.get(), format); !r) return std::unexpected(r.error());
    opened_with(decoder);
    return decoder.Run(sink, wanted);
  }();
  if (input.error) return std::unexpected(*input.error);
  if (!decoded) return WithContext(std::move(decoded), name);
  // A container may end before the download does (a WAV's data size, an origin that sends more
  // than it announced or less): the audio is whole only once the download is.
  if (auto whole = file.WaitFinished(); !whole) return std::unexpected(whole.error());
  return decoded;
}

Result<std::string> ProbeAudio(const std::filesystem::path& path) {
  const std::function<bool(double)> no_progress;
  FileDecoder decoder(no_progress);
  if (auto r = OpenAudio(path, decoder); !r) return std::unexpected(r.error());
  return decoder.FormatName();
}

Result<Millis> ProbeAudioDuration(const std::filesystem::path& path) {
  const std::function<bool(double)> no_progress;
  FileDecoder decoder(no_progress);
  if (auto r = OpenAudio(path, decoder); !r) return std::unexpected(r.error());
  const double seconds = decoder.DurationSeconds();
  if (!(seconds > 0)) return NotFound(path.filename().string() + ": no duration in the header");
  return Millis(std::llround(seconds * 1000));
}

}  // namespace podfleet
