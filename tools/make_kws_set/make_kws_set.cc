// deepedge-make-kws-set: builds a keyword-spotting data set for `deepedge eval` of a
// wake-word model, so that nothing has to be downloaded.
//
//   deepedge-make-kws-set --out DIR [--phrase P] [--near A,B,...] [--voices V,...]
//                         [--rates R,...] [--pitches P,...] [--seed S] [--snr-db X]
//                         [--no-real] [WAV...]
//   deepedge-make-kws-set --micro-speech --out DIR [--voices ...] [--rates ...] ...
//
// Synthetic speech comes from espeak-ng (run here, at set-up time, never by `deepedge
// eval`): the wake phrase (label 1) and each near-miss phrase (label 0) in every voice x
// rate x pitch. espeak-ng writes 22050 Hz; the clips are resampled to 16 kHz with a
// windowed-sinc low-pass interpolator (Hann window, 16 input samples each side, cut-off
// 0.9 x 8 kHz). Each synthetic clip is 1.5 s of lead-in, the utterance, 1.0 s of tail.
// Real speech (label 0): each input WAV (default: Debian's pocketsphinx-testdata
// recordings, 16 kHz mono) with 1.0 s before and after. Every clip gets white noise X dB
// (default 30) below its speech RMS over its whole length, from std::mt19937 seeded by
// --seed (Box-Muller of our own), so the same seed and espeak-ng give the same bytes.
// Writes DIR/NAME.wav and DIR/labels.tsv (AUDIO<TAB>LABEL, with a comment line per clip
// naming what was said and how).
//
// --micro-speech makes a clip-classification set for TFLite Micro's micro_speech
// (models/micro_speech.yaml) instead: every clip exactly 1 s, the utterance centred (its
// middle second when longer), labelled by class name: "yes" and "no" (the classes), other
// words ("unknown", default up,down,left,right; --near replaces them), and noise alone
// ("silence", 8 clips, white noise of RMS 0.0002 .. 0.002 of full scale); no real
// recordings; defaults voices en-us,en-gb,en-us+f3,en-gb-scotland, rates 140,180, pitch 50.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "deepedge/eval_dataset.h"
#include "deepedge/file_util.h"

namespace {

constexpr const char* kDefaultDirs[] = {"/usr/share/pocketsphinx/test/data/cards",
                                        "/usr/share/pocketsphinx/test/data/librivox"};
constexpr std::int64_t kRate = 16000;
constexpr double kLeadS = 1.5, kTailS = 1.0, kRealPadS = 1.0;
constexpr double kPi = 3.14159265358979323846;

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// Phrases and voices go into a shell command: only letters, digits, spaces and - + _ '
// (no quoting tricks needed, none possible).
bool Safe(const std::string& s, bool allow_space) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '+' ||
                    c == '_' || (allow_space && (c == ' ' || c == '\''));
    if (!ok) return false;
  }
  return true;
}

// Windowed-sinc resampling (see the file comment).
std::vector<double> Resample(const std::vector<float>& x, std::int64_t from, std::int64_t to) {
  if (from == to) return std::vector<double>(x.begin(), x.end());
  const double ratio = static_cast<double>(from) / static_cast<double>(to);
  const double fc = 0.9 * std::min(1.0, 1.0 / ratio);  // of the input's Nyquist
  constexpr int kHalf = 16;
  const auto n_out = static_cast<std::size_t>(static_cast<double>(x.size()) / ratio);
  std::vector<double> y(n_out);
  for (std::size_t n = 0; n < n_out; ++n) {
    const double t = static_cast<double>(n) * ratio;
    const auto k0 = static_cast<std::int64_t>(std::floor(t)) - kHalf + 1;
    double acc = 0;
    for (std::int64_t k = k0; k < k0 + 2 * kHalf; ++k) {
      if (k < 0 || k >= static_cast<std::int64_t>(x.size())) continue;
      const double d = t - static_cast<double>(k);
      if (std::abs(d) >= kHalf) continue;
      const double arg = kPi * fc * d;
      const double sinc = d == 0 ? 1.0 : std::sin(arg) / arg;
      const double win = 0.5 * (1.0 + std::cos(kPi * d / kHalf));
      acc += static_cast<double>(x[static_cast<std::size_t>(k)]) * fc * sinc * win;
    }
    y[n] = acc;
  }
  return y;
}

double Rms(const std::vector<double>& x) {
  double sq = 0;
  for (double v : x) sq += v * v;
  return x.empty() ? 0 : std::sqrt(sq / static_cast<double>(x.size()));
}

class Noise {
 public:
  explicit Noise(unsigned long seed) : rng_(static_cast<std::mt19937::result_type>(seed)) {}
  double Normal() {
    const double u1 = (static_cast<double>(rng_()) + 0.5) / 4294967296.0;
    const double u2 = (static_cast<double>(rng_()) + 0.5) / 4294967296.0;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2 * kPi * u2);
  }

 private:
  std::mt19937 rng_;
};

bool WriteWav(const std::filesystem::path& path, const std::vector<double>& x) {
  const std::string b = deepedge::EncodeWav(x, kRate);
  std::ofstream out(path, std::ios::binary);
  out.write(b.data(), static_cast<std::streamsize>(b.size()));
  return static_cast<bool>(out);
}

deepedge::Status ReadMono(const std::filesystem::path& p, deepedge::WavAudio& wav) {
  deepedge::Expected<std::string> bytes = deepedge::ReadFileText(p);
  if (!bytes) return bytes.status();
  DEEPEDGE_RETURN_IF_ERROR(deepedge::DecodeWav(*bytes, p.string(), wav));
  if (wav.channels != 1) {
    return deepedge::InvalidArgument(p.string() + ": " + std::to_string(wav.channels) +
                                     " channels (mono expected)");
  }
  return deepedge::Status::Ok();
}

int Usage() {
  std::fputs(
      "usage: deepedge-make-kws-set --out DIR [--phrase P] [--near A,B,...] [--voices V,...]\n"
      "         [--rates R,...] [--pitches P,...] [--seed S] [--snr-db X] [--no-real] [WAV...]\n"
      "  espeak-ng utterances of the wake phrase (label 1) and near misses (label 0) in every\n"
      "  voice x rate x pitch, plus real recordings (default: pocketsphinx-testdata) as\n"
      "  negatives, padded, with seeded low noise: DIR/*.wav and DIR/labels.tsv\n"
      "  --micro-speech: 1 s clips of yes / no / other words (unknown) / noise (silence),\n"
      "  labelled by class name, for models/micro_speech.yaml\n",
      stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path out;
  std::string phrase = "alexa";
  // Honest near misses of "alexa": words sharing most of its sounds. "alexander" holds
  // "alexa"'s sounds at its start, so a detector may rightly fire on it; it is kept
  // as a negative because it is not the wake word.
  std::vector<std::string> near = {"alex", "election", "a lexus", "alexander", "relaxer", "elixir"};
  std::vector<std::string> voices = {"en-us", "en-gb", "en-gb-scotland", "en-us+f3"};
  std::vector<std::string> rates = {"130", "160", "190"};
  std::vector<std::string> pitches = {"35", "65"};
  unsigned long seed = 1;
  double snr_db = 30;
  bool real = true, micro = false;
  bool near_given = false, voices_given = false, rates_given = false, pitches_given = false;
  std::vector<std::filesystem::path> inputs;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--", 0) != 0) {
      inputs.emplace_back(a);
      continue;
    }
    if (a == "--no-real" || a == "--micro-speech") {
      (a == "--no-real" ? real : micro) = a == "--micro-speech";
      continue;
    }
    if (i + 1 >= argc) return Usage();
    const std::string v = argv[++i];
    char* end = nullptr;
    if (a == "--out") {
      out = v;
    } else if (a == "--phrase") {
      phrase = v;
    } else if (a == "--near") {
      near = Split(v);
      near_given = true;
    } else if (a == "--voices") {
      voices = Split(v);
      voices_given = true;
    } else if (a == "--rates") {
      rates = Split(v);
      rates_given = true;
    } else if (a == "--pitches") {
      pitches = Split(v);
      pitches_given = true;
    } else if (a == "--seed") {
      seed = std::strtoul(v.c_str(), &end, 10);
      if (*end != '\0') return Usage();
    } else if (a == "--snr-db") {
      snr_db = std::strtod(v.c_str(), &end);
      if (*end != '\0' || !(snr_db >= -20 && snr_db <= 80)) return Usage();
    } else {
      return Usage();
    }
  }
  if (micro) {
    real = false;
    if (!near_given) near = {"up", "down", "left", "right"};
    if (!voices_given) voices = {"en-us", "en-gb", "en-us+f3", "en-gb-scotland"};
    if (!rates_given) rates = {"140", "180"};
    if (!pitches_given) pitches = {"50"};
  }
  if (out.empty() || voices.empty() || rates.empty() || pitches.empty()) return Usage();
  for (const auto& p : near) {
    if (!Safe(p, true)) {
      std::fprintf(stderr, "deepedge-make-kws-set: phrase '%s': letters and spaces only\n",
                   p.c_str());
      return 2;
    }
  }
  if (!Safe(phrase, true)) return Usage();
  for (const auto* list : {&voices, &rates, &pitches}) {
    for (const auto& v : *list) {
      if (!Safe(v, false)) {
        std::fprintf(stderr, "deepedge-make-kws-set: '%s': not a voice, rate or pitch\n",
                     v.c_str());
        return 2;
      }
    }
  }
  if (std::system("espeak-ng --version > /dev/null 2>&1") != 0) {
    std::fputs("deepedge-make-kws-set: espeak-ng not found (apt-get install espeak-ng)\n", stderr);
    return 3;
  }
  if (real && inputs.empty()) {
    for (const char* dir : kDefaultDirs) {
      std::error_code ec;
      for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
        if (e.path().extension() == ".wav") inputs.push_back(e.path());
      }
    }
    std::sort(inputs.begin(), inputs.end());  // directory order is not deterministic
  }
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) {
    std::fprintf(stderr, "deepedge-make-kws-set: %s: cannot create it\n", out.c_str());
    return 1;
  }

  Noise noise(seed);
  const double below = std::pow(10.0, -snr_db / 20.0);
  std::string labels =
      micro ? "# deepedge-make-kws-set --micro-speech: AUDIO<TAB>CLASS (yes, no, unknown, "
              "silence), 1 s clips\n"
            : "# deepedge-make-kws-set: AUDIO<TAB>LABEL (1: '" + phrase + "' said; 0: not)\n";
  int clips = 0, positives = 0;
  char name[48];
  // Pads `speech` and adds the noise (`sigma`, or `below` its RMS when negative); writes
  // the clip and its labels line. In --micro-speech, lead_s and tail_s are ignored: the
  // clip is the 1 s centred on the speech.
  auto emit = [&](const std::vector<double>& speech, double lead_s, double tail_s,
                  const std::string& label, const std::string& what, double sigma = -1) {
    std::vector<double> x(static_cast<std::size_t>(lead_s * kRate), 0.0);
    x.insert(x.end(), speech.begin(), speech.end());
    x.resize(x.size() + static_cast<std::size_t>(tail_s * kRate), 0.0);
    if (micro) {
      const auto n = static_cast<std::ptrdiff_t>(speech.size()), one = std::ptrdiff_t{kRate};
      std::vector<double> c(static_cast<std::size_t>(one), 0.0);
      for (std::ptrdiff_t k = 0; k < one; ++k) {
        const std::ptrdiff_t at = k + (n - one) / 2;
        if (at >= 0 && at < n)
          c[static_cast<std::size_t>(k)] = speech[static_cast<std::size_t>(at)];
      }
      x = std::move(c);
    }
    if (sigma < 0) sigma = Rms(speech) * below;
    for (double& v : x) v += sigma * noise.Normal();
    const bool pos = label == "1" || (micro && (label == "yes" || label == "no"));
    std::snprintf(name, sizeof name, "%s_%03d.wav",
                  micro ? label.c_str()
                  : pos ? "pos"
                        : "neg",
                  clips++);
    if (!WriteWav(out / name, x)) {
      std::fprintf(stderr, "deepedge-make-kws-set: %s: cannot write it\n", (out / name).c_str());
      std::exit(1);
    }
    positives += pos;
    labels += "# " + what + "\n" + name + "\t" + label + "\n";
  };

  const std::filesystem::path tmp = out / ".espeak.wav";
  std::vector<std::pair<std::string, std::string>> phrases;
  if (micro) {
    phrases = {{"yes", "yes"}, {"no", "no"}};
  } else {
    phrases.emplace_back(phrase, "1");
  }
  for (const auto& p : near) phrases.emplace_back(p, micro ? "unknown" : "0");
  for (const auto& [text, label] : phrases) {
    for (const auto& voice : voices) {
      for (const auto& rate : rates) {
        for (const auto& pitch : pitches) {
          const std::string cmd = "espeak-ng -v " + voice + " -s " + rate + " -p " + pitch +
                                  " -w '" + tmp.string() + "' '" + text + "' 2>&1";
          deepedge::WavAudio wav;
          deepedge::Status s = std::system(cmd.c_str()) == 0
                                   ? ReadMono(tmp, wav)
                                   : deepedge::Internal("espeak-ng failed: " + cmd);
          if (!s.ok()) {
            std::fprintf(stderr, "deepedge-make-kws-set: %s\n", s.message().c_str());
            return 1;
          }
          emit(Resample(wav.samples, wav.sample_rate, kRate), kLeadS, kTailS, label,
               "espeak-ng -v " + voice + " -s " + rate + " -p " + pitch + " \"" + text + "\"");
        }
      }
    }
  }
  std::filesystem::remove(tmp, ec);
  for (const auto& p : inputs) {
    deepedge::WavAudio wav;
    if (deepedge::Status s = ReadMono(p, wav); !s.ok()) {
      std::fprintf(stderr, "deepedge-make-kws-set: %s\n", s.message().c_str());
      return 1;
    }
    emit(Resample(wav.samples, wav.sample_rate, kRate), kRealPadS, kRealPadS, "0", p.string());
  }
  for (int k = 0; micro && k < 8; ++k) {  // silence: noise alone, 2 clips a level
    const double sigma = 0.0002 * std::pow(10.0, (k / 2) / 3.0);
    emit({}, 0, 0, "silence", "white noise, RMS " + std::to_string(sigma), sigma);
  }
  if (deepedge::Status s = deepedge::WriteFileAtomic(out / "labels.tsv", labels); !s.ok()) {
    std::fprintf(stderr, "deepedge-make-kws-set: %s\n", s.message().c_str());
    return 1;
  }
  std::printf("%d clips (%d with '%s') and %s\n", clips, positives,
              micro ? "yes' or 'no" : phrase.c_str(), (out / "labels.tsv").c_str());
  return 0;
}
