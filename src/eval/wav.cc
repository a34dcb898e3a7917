// RIFF/WAVE decoding and encoding of 16-bit PCM for the audio data sets of `deepedge eval`
// (include/deepedge/eval_dataset.h). Every read is bounds-checked: the bytes may be
// anything (tests/fuzz feeds it garbage).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "deepedge/eval_dataset.h"

namespace deepedge {
namespace {

std::uint32_t Le32(std::string_view b, std::size_t at) {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(b[at])) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 1])) << 8 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 2])) << 16 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 3])) << 24;
}

std::uint16_t Le16(std::string_view b, std::size_t at) {
  return static_cast<std::uint16_t>(static_cast<unsigned char>(b[at]) |
                                    static_cast<unsigned char>(b[at + 1]) << 8);
}

constexpr std::uint16_t kFormatPcm = 1;
constexpr std::uint16_t kFormatExtensible = 0xFFFE;

}  // namespace

Status DecodeWav(std::string_view bytes, const std::string& what, WavAudio& out) {
  if (bytes.size() < 12 || bytes.substr(0, 4) != "RIFF" || bytes.substr(8, 4) != "WAVE") {
    return Corrupt(what + ": not a WAV file (no RIFF/WAVE header)");
  }
  // The RIFF size may be wrong in files written by streaming tools; the chunks are
  // walked within the bytes actually present instead.
  bool have_fmt = false;
  std::uint16_t format = 0, channels = 0, bits = 0, block_align = 0;
  std::uint32_t rate = 0;
  std::size_t at = 12;
  while (at + 8 <= bytes.size()) {
    const std::string_view id = bytes.substr(at, 4);
    const std::uint64_t size = Le32(bytes, at + 4);
    const std::size_t body = at + 8;
    const std::uint64_t available = bytes.size() - body;
    if (id == "fmt ") {
      if (size < 16 || size > available) {
        return Corrupt(what + ": fmt chunk of " + std::to_string(size) + " bytes (" +
                       std::to_string(available) + " left)");
      }
      format = Le16(bytes, body);
      channels = Le16(bytes, body + 2);
      rate = Le32(bytes, body + 4);
      block_align = Le16(bytes, body + 12);
      bits = Le16(bytes, body + 14);
      if (format == kFormatExtensible) {
        // cbSize (2), valid bits (2), channel mask (4), then the sub-format GUID whose
        // first two bytes are the format code.
        if (size < 40) return Corrupt(what + ": WAVE_FORMAT_EXTENSIBLE fmt chunk too short");
        format = Le16(bytes, body + 24);
      }
      have_fmt = true;
    } else if (id == "data") {
      if (!have_fmt) return Corrupt(what + ": data chunk before the fmt chunk");
      if (format != kFormatPcm || bits != 16) {
        return InvalidArgument(what + ": WAV encoding " +
                               (format == kFormatPcm ? std::to_string(bits) + "-bit PCM"
                                                     : "format " + std::to_string(format)) +
                               " (only 16-bit integer PCM is read)");
      }
      if (channels < 1 || rate < 1 || block_align != 2u * channels) {
        return Corrupt(what + ": fmt chunk says " + std::to_string(channels) + " channel(s), " +
                       std::to_string(rate) + " Hz, " + std::to_string(block_align) +
                       "-byte frames");
      }
      if (size > available) {
        return Corrupt(what + ": truncated (data chunk of " + std::to_string(size) + " bytes, " +
                       std::to_string(available) + " present)");
      }
      const std::size_t frames = static_cast<std::size_t>(size) / block_align;
      out.sample_rate = rate;
      out.channels = channels;
      out.samples.resize(frames * channels);
      for (std::size_t i = 0; i < out.samples.size(); ++i) {
        const auto v = static_cast<std::int16_t>(Le16(bytes, body + 2 * i));
        out.samples[i] = static_cast<float>(v) / 32768.0f;
      }
      return Status::Ok();
    }
    // Chunks are padded to an even size.
    const std::uint64_t next = body + size + (size & 1);
    if (next > bytes.size()) break;
    at = static_cast<std::size_t>(next);
  }
  return Corrupt(what + (have_fmt ? ": no data chunk" : ": no fmt chunk") + " (truncated?)");
}

std::string EncodeWav(std::span<const double> samples, std::int64_t sample_rate) {
  std::string b;
  auto u32 = [&b](std::uint32_t v) {
    for (int k = 0; k < 4; ++k) b.push_back(static_cast<char>(v >> (8 * k) & 0xFF));
  };
  auto u16 = [&b](std::uint16_t v) {
    b.push_back(static_cast<char>(v & 0xFF));
    b.push_back(static_cast<char>(v >> 8));
  };
  const auto data = static_cast<std::uint32_t>(2 * samples.size());
  b += "RIFF";
  u32(36 + data);
  b += "WAVEfmt ";
  u32(16);
  u16(1);  // PCM
  u16(1);  // mono
  u32(static_cast<std::uint32_t>(sample_rate));
  u32(static_cast<std::uint32_t>(sample_rate * 2));  // bytes per second
  u16(2);                                            // bytes per frame
  u16(16);
  b += "data";
  u32(data);
  for (double v : samples) {
    const long q = std::lround(std::clamp(v, -1.0, 32767.0 / 32768.0) * 32768.0);
    u16(static_cast<std::uint16_t>(static_cast<std::int16_t>(q)));
  }
  return b;
}

}  // namespace deepedge
