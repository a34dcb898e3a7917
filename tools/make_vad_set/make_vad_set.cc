// deepedge-make-vad-set: builds a voice-activity data set for `deepedge eval` of a vad
// model from real speech recordings, so that nothing has to be downloaded.
//
//   deepedge-make-vad-set --out DIR [--seed S] [--snr-db X] [WAV...]
//
// Each input WAV (16-bit PCM mono, all at one sample rate; default: Debian's
// pocketsphinx-testdata recordings) becomes one clip, DIR/clip_NNN.wav:
//   1 s silence | 1.5 s noise | the recording, unchanged | 1.5 s noise | 1 s silence
// with white noise on one side and brown (integrated) noise on the other (alternating
// by clip), each X dB (default 20) below the recording's RMS. Three padding-only clips
// follow: 6 s of digital silence, of white noise and of brown noise at X dB below the
// recordings' mean RMS. DIR/labels.tsv gives each clip's speech segment as the span of
// the whole recording inside it ("START-END" seconds; "-" for the padding-only clips),
// so the pauses and the recording's own lead-in and tail count as speech; only the
// padding is known to be speech-free. The noise comes from std::mt19937 with our own
// mapping to normal values (Box-Muller), so the same seed gives the same bytes.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "deepedge/eval_dataset.h"
#include "deepedge/file_util.h"

namespace {

constexpr const char* kDefaultDirs[] = {"/usr/share/pocketsphinx/test/data/cards",
                                        "/usr/share/pocketsphinx/test/data/librivox"};
constexpr double kSilenceS = 1.0, kNoiseS = 1.5, kPaddingOnlyS = 6.0;

class Noise {
 public:
  explicit Noise(unsigned long seed) : rng_(static_cast<std::mt19937::result_type>(seed)) {}
  // A standard normal value (Box-Muller on two uniform values in (0, 1)).
  double Normal() {
    const double u1 = (static_cast<double>(rng_()) + 0.5) / 4294967296.0;
    const double u2 = (static_cast<double>(rng_()) + 0.5) / 4294967296.0;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  // n samples of white or brown noise with RMS `rms` (and zero mean).
  std::vector<double> Make(std::size_t n, bool brown, double rms) {
    std::vector<double> x(n);
    double b = 0;
    for (auto& v : x) {
      const double w = Normal();
      b = 0.995 * b + w;  // a leaky integrator: a 1/f^2 spectrum above ~13 Hz, no drift
      v = brown ? b : w;
    }
    double mean = 0, sq = 0;
    for (double v : x) mean += v;
    mean /= static_cast<double>(std::max<std::size_t>(n, 1));
    for (auto& v : x) sq += (v - mean) * (v - mean);
    const double scale = n ? rms / std::sqrt(sq / static_cast<double>(n)) : 0;
    for (auto& v : x) v = (v - mean) * scale;
    return x;
  }

 private:
  std::mt19937 rng_;
};

double Rms(const std::vector<float>& x) {
  double sq = 0;
  for (float v : x) sq += static_cast<double>(v) * v;
  return x.empty() ? 0 : std::sqrt(sq / static_cast<double>(x.size()));
}

bool WriteWav(const std::filesystem::path& path, const std::vector<double>& x, std::int64_t rate) {
  const std::string b = deepedge::EncodeWav(x, rate);
  std::ofstream out(path, std::ios::binary);
  out.write(b.data(), static_cast<std::streamsize>(b.size()));
  return static_cast<bool>(out);
}

int Usage() {
  std::fputs(
      "usage: deepedge-make-vad-set --out DIR [--seed S] [--snr-db X] [WAV...]\n"
      "  Pads each recording (default: pocketsphinx-testdata's cards/ and librivox/ WAVs)\n"
      "  with silence and noise, adds padding-only clips, and writes DIR/clip_NNN.wav and\n"
      "  DIR/labels.tsv (the recording's span as the speech segment)\n",
      stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path out;
  unsigned long seed = 1;
  double snr_db = 20;
  std::vector<std::filesystem::path> inputs;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--", 0) != 0) {
      inputs.emplace_back(a);
      continue;
    }
    if (i + 1 >= argc) return Usage();
    const std::string v = argv[++i];
    char* end = nullptr;
    if (a == "--out") {
      out = v;
    } else if (a == "--seed") {
      seed = std::strtoul(v.c_str(), &end, 10);
      if (*end != '\0') {
        std::fprintf(stderr, "deepedge-make-vad-set: --seed %s: expected an integer\n", v.c_str());
        return 2;
      }
    } else if (a == "--snr-db") {
      snr_db = std::strtod(v.c_str(), &end);
      if (*end != '\0' || !(snr_db >= -20 && snr_db <= 80)) {
        std::fprintf(stderr, "deepedge-make-vad-set: --snr-db %s: expected -20..80\n", v.c_str());
        return 2;
      }
    } else {
      return Usage();
    }
  }
  if (out.empty()) return Usage();
  if (inputs.empty()) {
    for (const char* dir : kDefaultDirs) {
      std::error_code ec;
      for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
        if (e.path().extension() == ".wav") inputs.push_back(e.path());
      }
    }
    std::sort(inputs.begin(), inputs.end());  // directory order is not deterministic
    if (inputs.empty()) {
      std::fputs(
          "deepedge-make-vad-set: no WAV given and none in /usr/share/pocketsphinx/test/data "
          "(apt-get install pocketsphinx-testdata)\n",
          stderr);
      return 1;
    }
  }

  std::vector<std::vector<float>> speech;
  std::int64_t rate = 0;
  for (const auto& p : inputs) {
    deepedge::Expected<std::string> bytes = deepedge::ReadFileText(p);
    deepedge::WavAudio wav;
    deepedge::Status s = bytes ? deepedge::DecodeWav(*bytes, p.string(), wav) : bytes.status();
    if (s.ok() && wav.channels != 1) {
      s = deepedge::InvalidArgument(p.string() + ": " + std::to_string(wav.channels) +
                                    " channels (mono expected)");
    }
    if (s.ok() && rate != 0 && wav.sample_rate != rate) {
      s = deepedge::InvalidArgument(p.string() + ": " + std::to_string(wav.sample_rate) +
                                    " Hz, the others " + std::to_string(rate) + " Hz");
    }
    if (s.ok() && Rms(wav.samples) == 0) s = deepedge::InvalidArgument(p.string() + ": silent");
    if (!s.ok()) {
      std::fprintf(stderr, "deepedge-make-vad-set: %s\n", s.message().c_str());
      return 1;
    }
    rate = wav.sample_rate;
    speech.push_back(std::move(wav.samples));
  }

  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) {
    std::fprintf(stderr, "deepedge-make-vad-set: %s: cannot create it\n", out.c_str());
    return 1;
  }
  const double below = std::pow(10.0, -snr_db / 20.0);
  const auto silence = static_cast<std::size_t>(kSilenceS * static_cast<double>(rate));
  const auto noise_n = static_cast<std::size_t>(kNoiseS * static_cast<double>(rate));
  Noise noise(seed);
  std::string labels =
      "# deepedge-make-vad-set: AUDIO<TAB>speech segment (seconds): the whole recording; "
      "the padding around it is silence and noise\n";
  char name[32], line[160];
  int clip = 0;
  double mean_rms = 0;
  auto write = [&](const std::vector<double>& x, const std::string& segments,
                   const std::string& source) {
    std::snprintf(name, sizeof name, "clip_%03d.wav", clip++);
    if (!WriteWav(out / name, x, rate)) {
      std::fprintf(stderr, "deepedge-make-vad-set: %s: cannot write it\n", (out / name).c_str());
      std::exit(1);
    }
    labels += "# " + std::string(name) + ": " + source + "\n" + name + "\t" + segments + "\n";
  };
  for (std::size_t u = 0; u < speech.size(); ++u) {
    const std::vector<float>& s = speech[u];
    const double rms = Rms(s);
    mean_rms += rms / static_cast<double>(speech.size());
    const bool white_first = u % 2 == 0;
    const std::vector<double> before = noise.Make(noise_n, !white_first, rms * below);
    const std::vector<double> after = noise.Make(noise_n, white_first, rms * below);
    std::vector<double> x(silence, 0.0);
    x.insert(x.end(), before.begin(), before.end());
    const std::size_t start = x.size();
    x.insert(x.end(), s.begin(), s.end());
    const std::size_t end = x.size();
    x.insert(x.end(), after.begin(), after.end());
    x.resize(x.size() + silence, 0.0);
    std::snprintf(line, sizeof line, "%.6f-%.6f", static_cast<double>(start) / rate,
                  static_cast<double>(end) / rate);
    write(x, line,
          inputs[u].string() + (white_first ? " (white noise before, brown after)"
                                            : " (brown noise before, white after)"));
  }
  const auto only = static_cast<std::size_t>(kPaddingOnlyS * static_cast<double>(rate));
  write(std::vector<double>(only, 0.0), "-", "silence only");
  write(noise.Make(only, false, mean_rms * below), "-", "white noise only");
  write(noise.Make(only, true, mean_rms * below), "-", "brown noise only");
  if (deepedge::Status s = deepedge::WriteFileAtomic(out / "labels.tsv", labels); !s.ok()) {
    std::fprintf(stderr, "deepedge-make-vad-set: %s\n", s.message().c_str());
    return 1;
  }
  std::printf("%d clips (%zu with speech) and %s\n", clip, speech.size(),
              (out / "labels.tsv").c_str());
  return 0;
}
