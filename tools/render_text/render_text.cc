// deepedge-render-text: renders a labelled text-line data set for `deepedge eval` of a
// text recogniser, so that no data has to be downloaded.
//
//   deepedge-render-text --out DIR [--count N] [--seed S] [--font-dir D]...
//                        [--blur SIGMA] [--downsample F] [--noise SIGMA] [--contrast C]
//
// Writes DIR/NNNNNN.pgm (binary grey PGM, one line of text each) and DIR/labels.tsv
// ("file<TAB>text", one line per image). The lines mix English words, numbers, mixed
// case and punctuation; fonts are the TrueType files of the --font-dir directories
// (default: Debian's DejaVu and Liberation), sizes 22..40 px, dark text on a white or
// light background. The same seed and fonts give the same images and labels (the
// random generator is std::mt19937 with our own range mapping, not the library's
// implementation-defined distributions).
//
// Degradations, applied in this order to every image, each off by default: --contrast C
// scales the grey levels about mid-grey by C (0 < C <= 1), --blur SIGMA is a Gaussian
// blur (SIGMA in pixels of the rendered line), --downsample F shrinks the line by F
// (area average) and enlarges it back to its size (bilinear), --noise SIGMA adds
// Gaussian noise of SIGMA grey levels. The noise has its own generator seeded from
// --seed, so a degraded set has the same lines, fonts and layout as the clean set of
// the same seed, and the same seed gives the same noise.
#include <ft2build.h>
#include FT_FREETYPE_H

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace {

// Common English words (written here), with a few names and abbreviations.
constexpr const char* kWords[] = {
    "the",    "of",      "and",     "to",       "in",      "is",      "you",      "that",
    "it",     "he",      "was",     "for",      "on",      "are",     "as",       "with",
    "his",    "they",    "at",      "be",       "this",    "have",    "from",     "or",
    "one",    "had",     "by",      "word",     "but",     "not",     "what",     "all",
    "were",   "we",      "when",    "your",     "can",     "said",    "there",    "use",
    "each",   "which",   "she",     "do",       "how",     "their",   "if",       "will",
    "up",     "other",   "about",   "out",      "many",    "then",    "them",     "these",
    "some",   "her",     "would",   "make",     "like",    "him",     "into",     "time",
    "has",    "look",    "two",     "more",     "write",   "go",      "see",      "number",
    "no",     "way",     "could",   "people",   "my",      "than",    "first",    "water",
    "been",   "call",    "who",     "oil",      "its",     "now",     "find",     "long",
    "down",   "day",     "did",     "get",      "come",    "made",    "may",      "part",
    "model",  "edge",    "device",  "network",  "latency", "memory",  "battery",  "camera",
    "signal", "station", "market",  "street",   "garden",  "window",  "river",    "mountain",
    "coffee", "ticket",  "invoice", "total",    "price",   "order",   "delivery", "address",
    "London", "Paris",   "Berlin",  "Tokyo",    "Monday",  "Friday",  "October",  "March",
    "Open",   "Closed",  "Exit",    "Entrance", "Parking", "Welcome", "Sale",     "Menu",
    "USB",    "GPU",     "CPU",     "ONNX",     "Wi-Fi",   "e-mail",  "OK",       "No."};
constexpr int kWordCount = static_cast<int>(sizeof kWords / sizeof kWords[0]);

constexpr const char* kDefaultFontDirs[] = {"/usr/share/fonts/truetype/dejavu",
                                            "/usr/share/fonts/truetype/liberation"};

class Rng {
 public:
  explicit Rng(std::uint32_t seed) : gen_(seed) {}
  // Uniform in [lo, hi]; the modulo bias over 2^32 is negligible for these ranges.
  int Between(int lo, int hi) {
    return lo + static_cast<int>(gen_() % static_cast<std::uint32_t>(hi - lo + 1));
  }
  bool Chance(int percent) { return Between(0, 99) < percent; }

 private:
  std::mt19937 gen_;
};

std::string Capitalise(std::string w) {
  if (!w.empty() && w[0] >= 'a' && w[0] <= 'z') w[0] = static_cast<char>(w[0] - 'a' + 'A');
  return w;
}

std::string Upper(std::string w) {
  for (char& c : w) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return w;
}

std::string Number(Rng& rng) {
  switch (rng.Between(0, 4)) {
    case 0:
      return std::to_string(rng.Between(0, 99));
    case 1:
      return std::to_string(rng.Between(100, 99999));
    case 2:
      return std::to_string(rng.Between(0, 999)) + "." + std::to_string(rng.Between(10, 99));
    case 3: {
      char buf[16];
      std::snprintf(buf, sizeof buf, "%02d:%02d", rng.Between(0, 23), rng.Between(0, 59));
      return buf;
    }
    default:
      return std::to_string(rng.Between(1, 99)) + "%";
  }
}

// One line of 1..5 tokens, at most ~28 characters.
std::string MakeLine(Rng& rng) {
  const int tokens = rng.Between(1, 5);
  std::string line;
  for (int t = 0; t < tokens; ++t) {
    std::string tok;
    if (rng.Chance(20)) {
      tok = Number(rng);
    } else {
      tok = kWords[rng.Between(0, kWordCount - 1)];
      if (rng.Chance(8)) {
        tok = Upper(tok);
      } else if (t == 0 || rng.Chance(15)) {
        tok = Capitalise(tok);
      }
    }
    if (rng.Chance(12)) {
      static constexpr const char* kAfter[] = {",", ".", ":", ";", "!", "?"};
      tok += kAfter[rng.Between(0, 5)];
    } else if (rng.Chance(4)) {
      tok = "(" + tok + ")";
    }
    if (!line.empty() && line.size() + 1 + tok.size() > 28) break;
    if (!line.empty()) line += ' ';
    line += tok;
  }
  return line;
}

struct Image {
  int width = 0, height = 0;
  std::vector<std::uint8_t> pixels;
};

// Renders ASCII `text` with `face` at `px` pixels, `fg` on `bg`, with margins.
bool Render(FT_Face face, const std::string& text, int px, int fg, int bg, Rng& rng, Image& img,
            std::string& error) {
  if (FT_Set_Pixel_Sizes(face, 0, static_cast<FT_UInt>(px)) != 0) {
    error = "cannot set size " + std::to_string(px);
    return false;
  }
  const int ascender = static_cast<int>(face->size->metrics.ascender >> 6);
  const int descender = static_cast<int>(-(face->size->metrics.descender >> 6));
  const bool kerning = FT_HAS_KERNING(face);
  // First pass: the advance width.
  long pen = 0;
  FT_UInt prev = 0;
  for (unsigned char ch : text) {
    const FT_UInt glyph = FT_Get_Char_Index(face, ch);
    if (kerning && prev && glyph) {
      FT_Vector k;
      FT_Get_Kerning(face, prev, glyph, FT_KERNING_DEFAULT, &k);
      pen += k.x;
    }
    if (FT_Load_Glyph(face, glyph, FT_LOAD_DEFAULT) != 0) {
      error = std::string("cannot load glyph for '") + static_cast<char>(ch) + "'";
      return false;
    }
    pen += face->glyph->advance.x;
    prev = glyph;
  }
  // Margins as a text detector's crops have them: a few pixels.
  const int left = rng.Between(2, px / 4), right = rng.Between(2, px / 4);
  const int top = rng.Between(2, px / 4), bottom = rng.Between(2, px / 4);
  img.width = left + static_cast<int>(pen >> 6) + right;
  img.height = top + ascender + descender + bottom;
  img.pixels.assign(static_cast<std::size_t>(img.width) * static_cast<std::size_t>(img.height),
                    static_cast<std::uint8_t>(bg));
  pen = static_cast<long>(left) << 6;
  prev = 0;
  for (unsigned char ch : text) {
    const FT_UInt glyph = FT_Get_Char_Index(face, ch);
    if (kerning && prev && glyph) {
      FT_Vector k;
      FT_Get_Kerning(face, prev, glyph, FT_KERNING_DEFAULT, &k);
      pen += k.x;
    }
    if (FT_Load_Glyph(face, glyph, FT_LOAD_RENDER) != 0) {
      error = "cannot render a glyph";
      return false;
    }
    const FT_GlyphSlot g = face->glyph;
    const FT_Bitmap& bm = g->bitmap;
    const int x0 = static_cast<int>(pen >> 6) + g->bitmap_left;
    const int y0 = top + ascender - g->bitmap_top;
    for (unsigned r = 0; r < bm.rows; ++r) {
      for (unsigned c = 0; c < bm.width; ++c) {
        const int x = x0 + static_cast<int>(c), y = y0 + static_cast<int>(r);
        if (x < 0 || y < 0 || x >= img.width || y >= img.height) continue;
        const int a = bm.buffer[static_cast<std::ptrdiff_t>(r) * bm.pitch + c];
        std::uint8_t& p =
            img.pixels[static_cast<std::size_t>(y) * static_cast<std::size_t>(img.width) +
                       static_cast<std::size_t>(x)];
        // Alpha-blend over what is there (glyphs may overlap with kerning).
        p = static_cast<std::uint8_t>((p * (255 - a) + fg * a + 127) / 255);
      }
    }
    pen += g->advance.x;
    prev = glyph;
  }
  return true;
}

// Degradations, computed in floating point and rounded to 8 bits once at the end.
struct Degradation {
  double contrast = 1.0;    // 1: unchanged
  double blur_sigma = 0.0;  // 0: none
  double downsample = 1.0;  // 1: none
  double noise_sigma = 0.0;
  bool any() const {
    return contrast != 1.0 || blur_sigma > 0.0 || downsample > 1.0 || noise_sigma > 0.0;
  }
};

using Plane = std::vector<double>;  // row-major, width x height

// One row or column of `n` values at `in` with `stride`, resampled to `m` values.
// Area average (each output value is the mean of the input interval it covers,
// fractional pixels weighted) when shrinking; linear with half-pixel centres,
// clamped at the ends, when enlarging.
void Resample1d(const double* in, int n, std::ptrdiff_t in_stride, double* out, int m,
                std::ptrdiff_t out_stride) {
  const double scale = static_cast<double>(n) / static_cast<double>(m);
  for (int j = 0; j < m; ++j) {
    double v = 0.0;
    if (m < n) {
      const double a = j * scale, b = (j + 1) * scale;
      for (int i = static_cast<int>(a); i < n && i < b; ++i) {
        const double w = std::min<double>(b, i + 1) - std::max<double>(a, i);
        v += w * in[i * in_stride];
      }
      v /= scale;
    } else {
      const double x = std::clamp((j + 0.5) * scale - 0.5, 0.0, static_cast<double>(n - 1));
      const int i0 = static_cast<int>(x), i1 = std::min(i0 + 1, n - 1);
      v = in[i0 * in_stride] * (1.0 - (x - i0)) + in[i1 * in_stride] * (x - i0);
    }
    out[j * out_stride] = v;
  }
}

// Resizes a w x h plane to nw x nh, separably (rows, then columns).
Plane Resize(const Plane& p, int w, int h, int nw, int nh) {
  Plane rows(static_cast<std::size_t>(nw) * static_cast<std::size_t>(h));
  for (int y = 0; y < h; ++y) {
    Resample1d(p.data() + static_cast<std::ptrdiff_t>(y) * w, w, 1,
               rows.data() + static_cast<std::ptrdiff_t>(y) * nw, nw, 1);
  }
  Plane out(static_cast<std::size_t>(nw) * static_cast<std::size_t>(nh));
  for (int x = 0; x < nw; ++x) Resample1d(rows.data() + x, h, nw, out.data() + x, nh, nw);
  return out;
}

// Separable Gaussian blur, kernel radius ceil(3 sigma), edges replicated.
void GaussianBlur(Plane& p, int w, int h, double sigma) {
  const int r = static_cast<int>(std::ceil(3.0 * sigma));
  std::vector<double> k(static_cast<std::size_t>(2 * r + 1));
  double sum = 0.0;
  for (int i = -r; i <= r; ++i) {
    sum += k[static_cast<std::size_t>(i + r)] = std::exp(-0.5 * i * i / (sigma * sigma));
  }
  for (double& v : k) v /= sum;
  Plane tmp(p.size());
  auto at = [](int v, int n) { return std::clamp(v, 0, n - 1); };
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      double v = 0.0;
      for (int i = -r; i <= r; ++i) {
        v += k[static_cast<std::size_t>(i + r)] *
             p[static_cast<std::size_t>(y) * w + static_cast<std::size_t>(at(x + i, w))];
      }
      tmp[static_cast<std::size_t>(y) * w + static_cast<std::size_t>(x)] = v;
    }
  }
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      double v = 0.0;
      for (int i = -r; i <= r; ++i) {
        v += k[static_cast<std::size_t>(i + r)] *
             tmp[static_cast<std::size_t>(at(y + i, h)) * w + static_cast<std::size_t>(x)];
      }
      p[static_cast<std::size_t>(y) * w + static_cast<std::size_t>(x)] = v;
    }
  }
}

// A standard normal deviate from `gen` (Box-Muller on our own uniform mapping, so
// the values do not depend on the standard library's distributions).
double Gaussian(std::mt19937& gen) {
  const double u1 = (static_cast<double>(gen()) + 0.5) / 4294967296.0;
  const double u2 = (static_cast<double>(gen()) + 0.5) / 4294967296.0;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

void Degrade(Image& img, const Degradation& d, std::mt19937& noise) {
  if (!d.any()) return;
  const int w = img.width, h = img.height;
  Plane p(img.pixels.begin(), img.pixels.end());
  if (d.contrast != 1.0) {
    for (double& v : p) v = 127.5 + (v - 127.5) * d.contrast;
  }
  if (d.blur_sigma > 0.0) GaussianBlur(p, w, h, d.blur_sigma);
  if (d.downsample > 1.0) {
    const int sw = std::max(1, static_cast<int>(std::lround(w / d.downsample)));
    const int sh = std::max(1, static_cast<int>(std::lround(h / d.downsample)));
    p = Resize(Resize(p, w, h, sw, sh), sw, sh, w, h);
  }
  if (d.noise_sigma > 0.0) {
    for (double& v : p) v += d.noise_sigma * Gaussian(noise);
  }
  for (std::size_t i = 0; i < p.size(); ++i) {
    img.pixels[i] = static_cast<std::uint8_t>(std::clamp(std::floor(p[i] + 0.5), 0.0, 255.0));
  }
}

bool WritePgm(const std::filesystem::path& path, const Image& img) {
  std::ofstream out(path, std::ios::binary);
  out << "P5\n" << img.width << " " << img.height << "\n255\n";
  out.write(reinterpret_cast<const char*>(img.pixels.data()),
            static_cast<std::streamsize>(img.pixels.size()));
  return static_cast<bool>(out);
}

int Usage() {
  std::fputs(
      "usage: deepedge-render-text --out DIR [--count N] [--seed S] [--font-dir D]...\n"
      "                            [--blur SIGMA] [--downsample F] [--noise SIGMA] "
      "[--contrast C]\n"
      "  Renders N (default 500) labelled text-line images (DIR/NNNNNN.pgm, DIR/labels.tsv)\n"
      "  --blur SIGMA     Gaussian blur, SIGMA in pixels (0..20, default 0: none)\n"
      "  --downsample F   shrink by F and enlarge back (1..8, default 1: none)\n"
      "  --noise SIGMA    additive Gaussian noise, SIGMA grey levels (0..128, default 0)\n"
      "  --contrast C     scale grey levels about mid-grey by C (0 < C <= 1, default 1)\n",
      stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path out;
  long count = 500;
  unsigned long seed = 1;
  std::vector<std::filesystem::path> font_dirs;
  Degradation degrade;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return Usage();
    const std::string v = argv[++i];
    char* end = nullptr;
    if (a == "--out") {
      out = v;
    } else if (a == "--count") {
      count = std::strtol(v.c_str(), &end, 10);
      if (*end != '\0' || count < 1 || count > 1000000) {
        std::fprintf(stderr, "deepedge-render-text: --count %s: expected 1..1000000\n", v.c_str());
        return 2;
      }
    } else if (a == "--seed") {
      seed = std::strtoul(v.c_str(), &end, 10);
      if (*end != '\0') {
        std::fprintf(stderr, "deepedge-render-text: --seed %s: expected an integer\n", v.c_str());
        return 2;
      }
    } else if (a == "--font-dir") {
      font_dirs.emplace_back(v);
    } else if (a == "--blur" || a == "--downsample" || a == "--noise" || a == "--contrast") {
      struct Range {
        double* value;
        double lo, hi;
        bool lo_open;
      };
      const Range range = a == "--blur"         ? Range{&degrade.blur_sigma, 0, 20, false}
                          : a == "--downsample" ? Range{&degrade.downsample, 1, 8, false}
                          : a == "--noise"      ? Range{&degrade.noise_sigma, 0, 128, false}
                                                : Range{&degrade.contrast, 0, 1, true};
      const double x = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || !std::isfinite(x) || x > range.hi || x < range.lo ||
          (range.lo_open && x == range.lo)) {
        std::fprintf(stderr, "deepedge-render-text: %s %s: expected a number in %c%g, %g]\n",
                     a.c_str(), v.c_str(), range.lo_open ? '(' : '[', range.lo, range.hi);
        return 2;
      }
      *range.value = x;
    } else {
      return Usage();
    }
  }
  if (out.empty()) return Usage();
  if (font_dirs.empty()) font_dirs.assign(std::begin(kDefaultFontDirs), std::end(kDefaultFontDirs));

  // Every face but the math and extra-light ones, which are not ordinary printed text.
  std::vector<std::filesystem::path> fonts;
  for (const auto& dir : font_dirs) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      const std::string name = e.path().filename().string();
      if (e.path().extension() != ".ttf" || name.find("Math") != std::string::npos ||
          name.find("ExtraLight") != std::string::npos) {
        continue;
      }
      fonts.push_back(e.path());
    }
  }
  std::sort(fonts.begin(), fonts.end());  // directory order is not deterministic
  if (fonts.empty()) {
    std::fprintf(stderr,
                 "deepedge-render-text: no .ttf fonts in the font directories "
                 "(apt-get install fonts-dejavu-core fonts-liberation)\n");
    return 1;
  }

  FT_Library ft = nullptr;
  if (FT_Init_FreeType(&ft) != 0) {
    std::fputs("deepedge-render-text: cannot initialise FreeType\n", stderr);
    return 1;
  }
  std::vector<FT_Face> faces;
  for (const auto& f : fonts) {
    FT_Face face = nullptr;
    if (FT_New_Face(ft, f.c_str(), 0, &face) != 0) {
      std::fprintf(stderr, "deepedge-render-text: %s: not a font FreeType reads\n", f.c_str());
      FT_Done_FreeType(ft);
      return 1;
    }
    faces.push_back(face);
  }

  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  std::ofstream labels(out / "labels.tsv");
  if (ec || !labels) {
    std::fprintf(stderr, "deepedge-render-text: %s: cannot create\n", out.c_str());
    FT_Done_FreeType(ft);
    return 1;
  }
  Rng rng(static_cast<std::uint32_t>(seed));
  // Its own stream, so that degrading changes no line, font or layout of the seed's set.
  std::mt19937 noise(static_cast<std::uint32_t>(seed) ^ 0x9E3779B9u);
  Image img;
  std::string error;
  int status = 0;
  for (long i = 0; i < count && status == 0; ++i) {
    const std::string text = MakeLine(rng);
    const std::size_t f =
        static_cast<std::size_t>(rng.Between(0, static_cast<int>(faces.size()) - 1));
    const int px = rng.Between(22, 40);
    const int bg = rng.Chance(50) ? 255 : rng.Between(200, 250);
    const int fg = rng.Between(0, 60);
    char name[32];
    std::snprintf(name, sizeof name, "%06ld.pgm", i);
    if (!Render(faces[f], text, px, fg, bg, rng, img, error)) {
      std::fprintf(stderr, "deepedge-render-text: %s with %s: %s\n", name, fonts[f].c_str(),
                   error.c_str());
      status = 1;
      break;
    }
    Degrade(img, degrade, noise);
    if (!WritePgm(out / name, img)) {
      std::fprintf(stderr, "deepedge-render-text: %s: cannot write\n", (out / name).c_str());
      status = 1;
    } else {
      labels << name << '\t' << text << '\n';
    }
  }
  labels.flush();
  if (!labels && status == 0) {
    std::fputs("deepedge-render-text: cannot write labels.tsv\n", stderr);
    status = 1;
  }
  for (FT_Face face : faces) FT_Done_Face(face);
  FT_Done_FreeType(ft);
  return status;
}
