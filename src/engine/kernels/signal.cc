// TFLite Micro's signal operators (see signal.h). The arithmetic follows TFLM's integer
// rules step by step (widths, truncations, rounding), so that features match TFLM's.
#include "engine/kernels/signal.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>

#include "engine/kernels/kernel_util.h"

namespace deepedge::engine {
namespace signal {

namespace {

// C's int -> int16 store (modular; C++20 defines it).
inline std::int16_t Trunc16(std::int64_t v) {
  return static_cast<std::int16_t>(static_cast<std::uint16_t>(static_cast<std::uint64_t>(v)));
}
inline std::int32_t Trunc32(std::int64_t v) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(static_cast<std::uint64_t>(v)));
}

}  // namespace

std::uint32_t MostSignificantBit32(std::uint32_t x) {
  return x == 0 ? 32u : static_cast<std::uint32_t>(32 - std::countl_zero(x));
}

void ApplyWindow(std::span<const std::int16_t> in, std::span<const std::int16_t> window, int shift,
                 std::span<std::int16_t> out) {
  for (std::size_t i = 0; i < in.size(); ++i) {
    const std::int32_t raw = (std::int32_t{in[i]} * window[i]) >> shift;
    out[i] = static_cast<std::int16_t>(std::clamp<std::int32_t>(raw, INT16_MIN, INT16_MAX));
  }
}

int FftAutoScale(std::span<const std::int16_t> in, std::span<std::int16_t> out) {
  // TFLM keeps the running maximum in int16: -(-32768) wraps back to -32768, whose
  // sign-extended bit count then gives no headroom (scale 0), as there.
  std::int16_t max = 0;
  for (std::int16_t v : in) {
    if (v > max) {
      max = v;
    } else if (-v > max) {
      max = Trunc16(-std::int32_t{v});
    }
  }
  const std::uint32_t msb =
      MostSignificantBit32(static_cast<std::uint32_t>(static_cast<std::int32_t>(max)));
  int scale = 16 - static_cast<int>(msb) - 1;
  if (scale < 0) scale = 0;
  for (std::size_t i = 0; i < in.size(); ++i) out[i] = Trunc16(std::int32_t{in[i]} * (1 << scale));
  return scale;
}

// ---- kiss_fft, FIXED_POINT 16 --------------------------------------------------------

namespace {

constexpr int kSampMax = 32767;

// sround(): round a Q15 product sum (an int32 in C) to int16.
inline std::int16_t Round15(std::int64_t x) {
  const std::int32_t w = Trunc32(Trunc32(x) + std::int64_t{1 << 14});
  return Trunc16(w >> 15);
}
inline std::int16_t FixDiv(std::int16_t x, int div) {
  return Round15(std::int64_t{x} * (kSampMax / div));
}

}  // namespace

Expected<RfftInt16> RfftInt16::Make(int fft_length) {
  if (fft_length < 4 || fft_length > 32768 ||
      !std::has_single_bit(static_cast<unsigned>(fft_length))) {
    return Unsupported("Rfft: fft_length must be a power of two in [4, 32768], got " +
                       std::to_string(fft_length));
  }
  RfftInt16 f;
  f.nfft_ = fft_length;
  f.ncfft_ = fft_length / 2;
  const double pi = 3.141592653589793238462643383279502884197169399375105820974944;
  auto cexp = [](double phase) {
    return Cpx{static_cast<std::int16_t>(std::floor(0.5 + kSampMax * std::cos(phase))),
               static_cast<std::int16_t>(std::floor(0.5 + kSampMax * std::sin(phase)))};
  };
  for (int i = 0; i < f.ncfft_; ++i) f.twiddles_.push_back(cexp(-2 * pi * i / f.ncfft_));
  // kiss_fftr's "super twiddles" (it halves nfft before computing them).
  for (int i = 0; i < f.ncfft_ / 2; ++i) {
    f.super_twiddles_.push_back(
        cexp(-3.14159265358979323846264338327 * (static_cast<double>(i + 1) / f.ncfft_ + .5)));
  }
  // kiss_fft's factorisation: powers of 4 first, then 2 (no other radix for powers of two).
  int n = f.ncfft_;
  const int floor_sqrt = static_cast<int>(std::floor(std::sqrt(static_cast<double>(n))));
  int p = 4;
  do {
    while (n % p != 0) {
      p = p == 4 ? 2 : (p == 2 ? 3 : p + 2);
      if (p > floor_sqrt) p = n;
    }
    n /= p;
    f.factors_.push_back(p);
    f.factors_.push_back(n);
  } while (n > 1);
  return f;
}

void RfftInt16::Butterfly2(Cpx* out, std::size_t fstride, int m) const {
  Cpx* out2 = out + m;
  for (int k = 0; k < m; ++k) {
    Cpx a{FixDiv(out[k].r, 2), FixDiv(out[k].i, 2)};
    Cpx b{FixDiv(out2[k].r, 2), FixDiv(out2[k].i, 2)};
    const Cpx& w = twiddles_[static_cast<std::size_t>(k) * fstride];
    const Cpx t{Round15(std::int64_t{b.r} * w.r - std::int64_t{b.i} * w.i),
                Round15(std::int64_t{b.r} * w.i + std::int64_t{b.i} * w.r)};
    out2[k] = {Trunc16(a.r - t.r), Trunc16(a.i - t.i)};
    out[k] = {Trunc16(a.r + t.r), Trunc16(a.i + t.i)};
  }
}

void RfftInt16::Butterfly4(Cpx* out, std::size_t fstride, int m) const {
  auto mul = [](const Cpx& a, const Cpx& b) {
    return Cpx{Round15(std::int64_t{a.r} * b.r - std::int64_t{a.i} * b.i),
               Round15(std::int64_t{a.r} * b.i + std::int64_t{a.i} * b.r)};
  };
  auto fixdiv4 = [](Cpx& c) {
    c.r = FixDiv(c.r, 4);
    c.i = FixDiv(c.i, 4);
  };
  for (int k = 0; k < m; ++k) {
    Cpx& f0 = out[k];
    Cpx& f1 = out[k + m];
    Cpx& f2 = out[k + 2 * m];
    Cpx& f3 = out[k + 3 * m];
    fixdiv4(f0);
    fixdiv4(f1);
    fixdiv4(f2);
    fixdiv4(f3);
    const std::size_t kk = static_cast<std::size_t>(k);
    const Cpx s0 = mul(f1, twiddles_[kk * fstride]);
    const Cpx s1 = mul(f2, twiddles_[kk * fstride * 2]);
    const Cpx s2 = mul(f3, twiddles_[kk * fstride * 3]);
    const Cpx s5{Trunc16(f0.r - s1.r), Trunc16(f0.i - s1.i)};
    f0 = {Trunc16(f0.r + s1.r), Trunc16(f0.i + s1.i)};
    const Cpx s3{Trunc16(s0.r + s2.r), Trunc16(s0.i + s2.i)};
    const Cpx s4{Trunc16(s0.r - s2.r), Trunc16(s0.i - s2.i)};
    f2 = {Trunc16(f0.r - s3.r), Trunc16(f0.i - s3.i)};
    f0 = {Trunc16(f0.r + s3.r), Trunc16(f0.i + s3.i)};
    f1 = {Trunc16(s5.r + s4.i), Trunc16(s5.i - s4.r)};
    f3 = {Trunc16(s5.r - s4.i), Trunc16(s5.i + s4.r)};
  }
}

void RfftInt16::Work(Cpx* out, const Cpx* in, std::size_t fstride, const int* factors) const {
  const int p = factors[0];
  const int m = factors[1];
  if (m == 1) {
    for (int q = 0; q < p; ++q) out[q] = in[static_cast<std::size_t>(q) * fstride];
  } else {
    // p decimated sub-transforms of length m, then the radix-p recombination.
    for (int q = 0; q < p; ++q) {
      Work(out + static_cast<std::ptrdiff_t>(q) * m, in + static_cast<std::size_t>(q) * fstride,
           fstride * static_cast<std::size_t>(p), factors + 2);
    }
  }
  if (p == 4) {
    Butterfly4(out, fstride, m);
  } else {
    Butterfly2(out, fstride, m);
  }
}

void RfftInt16::Apply(const std::int16_t* in, std::int16_t* out,
                      std::vector<std::int16_t>& scratch) const {
  // The real input read as ncfft complex pairs (x[2n], x[2n+1]).
  std::vector<Cpx> pairs(static_cast<std::size_t>(ncfft_));
  std::memcpy(pairs.data(), in, sizeof(Cpx) * pairs.size());
  scratch.resize(static_cast<std::size_t>(ncfft_) * 2);
  Cpx* tmp = reinterpret_cast<Cpx*>(scratch.data());
  Work(tmp, pairs.data(), 1, factors_.data());
  auto store = [&](int k, std::int16_t r, std::int16_t i) {
    out[2 * k] = r;
    out[2 * k + 1] = i;
  };
  const Cpx dc{FixDiv(tmp[0].r, 2), FixDiv(tmp[0].i, 2)};
  store(0, Trunc16(dc.r + dc.i), 0);
  store(ncfft_, Trunc16(dc.r - dc.i), 0);
  for (int k = 1; k <= ncfft_ / 2; ++k) {
    const Cpx fpk{FixDiv(tmp[k].r, 2), FixDiv(tmp[k].i, 2)};
    const Cpx fpnk{FixDiv(tmp[ncfft_ - k].r, 2),
                   FixDiv(Trunc16(-std::int32_t{tmp[ncfft_ - k].i}), 2)};
    const Cpx f1{Trunc16(fpk.r + fpnk.r), Trunc16(fpk.i + fpnk.i)};
    const Cpx f2{Trunc16(fpk.r - fpnk.r), Trunc16(fpk.i - fpnk.i)};
    const Cpx& w = super_twiddles_[static_cast<std::size_t>(k - 1)];
    const Cpx tw{Round15(std::int64_t{f2.r} * w.r - std::int64_t{f2.i} * w.i),
                 Round15(std::int64_t{f2.r} * w.i + std::int64_t{f2.i} * w.r)};
    store(k, Trunc16((f1.r + tw.r) >> 1), Trunc16((f1.i + tw.i) >> 1));
    store(ncfft_ - k, Trunc16((f1.r - tw.r) >> 1), Trunc16((tw.i - f1.i) >> 1));
  }
}

// ---- energy, filter bank, square root -------------------------------------------------

void SpectrumToEnergy(std::span<const std::int16_t> spectrum, int start, int end,
                      std::span<std::uint32_t> out) {
  std::fill(out.begin(), out.end(), 0u);
  for (int i = start; i < end; ++i) {
    const std::int32_t re = spectrum[2 * static_cast<std::size_t>(i)];
    const std::int32_t im = spectrum[2 * static_cast<std::size_t>(i) + 1];
    // Each square fits int32; their sum is taken modulo 2^32, as TFLM's int32 sum stored
    // in a uint32.
    out[static_cast<std::size_t>(i)] =
        static_cast<std::uint32_t>(re * re) + static_cast<std::uint32_t>(im * im);
  }
}

void FilterBank(std::span<const std::uint32_t> in, std::span<const std::int16_t> weights,
                std::span<const std::int16_t> unweights, std::span<const std::int16_t> freq_starts,
                std::span<const std::int16_t> weight_starts, std::span<const std::int16_t> widths,
                std::span<std::uint64_t> out) {
  // Each FFT bin feeds two adjacent channels: `weight` of it to one, `unweight` to the
  // next; accumulator 0 only collects channel 0's unweighted share and is dropped.
  std::uint64_t weighted = 0, unweighted = 0;
  for (std::size_t c = 0; c < freq_starts.size(); ++c) {
    const std::size_t f0 = static_cast<std::size_t>(freq_starts[c]);
    const std::size_t w0 = static_cast<std::size_t>(weight_starts[c]);
    for (std::size_t j = 0; j < static_cast<std::size_t>(widths[c]); ++j) {
      const std::uint64_t x = in[f0 + j];
      // int16 weight converted to uint64 (sign-extended, modular), as in C.
      weighted += static_cast<std::uint64_t>(static_cast<std::int64_t>(weights[w0 + j])) * x;
      unweighted += static_cast<std::uint64_t>(static_cast<std::int64_t>(unweights[w0 + j])) * x;
    }
    if (c > 0) out[c - 1] = weighted;
    weighted = unweighted;
    unweighted = 0;
  }
}

std::uint32_t Sqrt64(std::uint64_t x) {
  if (x == 0) return 0;
  // Exact floor square root (bit by bit), then TFLM's rounding: up when the remainder
  // exceeds the root, unless the root is at the routine's cap (0xFFFF for 32-bit inputs).
  std::uint64_t rem = x, root = 0;
  std::uint64_t bit = std::uint64_t{1} << ((63 - std::countl_zero(x)) & ~1);
  while (bit != 0) {
    if (rem >= root + bit) {
      rem -= root + bit;
      root = (root >> 1) + bit;
    } else {
      root >>= 1;
    }
    bit >>= 2;
  }
  const std::uint64_t cap = (x >> 32) == 0 ? 0xFFFFu : 0xFFFFFFFFu;
  if (rem > root && root != cap) ++root;
  return static_cast<std::uint32_t>(root);
}

// ---- spectral subtraction, PCAN, log --------------------------------------------------

void SpectralSubtraction(const SpectralSubtractionConfig& c, std::span<const std::uint32_t> in,
                         std::span<std::uint32_t> noise, std::span<std::uint32_t> out) {
  for (std::size_t i = 0; i < in.size(); ++i) {
    const bool even = (i & 1) == 0;
    const std::uint64_t smoothing = even ? c.smoothing : c.alternate_smoothing;
    const std::uint64_t keep = even ? c.one_minus_smoothing : c.alternate_one_minus_smoothing;
    const std::uint32_t signal_up = in[i] << c.smoothing_bits;
    noise[i] = static_cast<std::uint32_t>((signal_up * smoothing + noise[i] * keep) >>
                                          c.spectral_subtraction_bits);
    std::uint32_t estimate_up = noise[i];
    if (estimate_up > signal_up) {
      estimate_up = signal_up;
      if (c.clamping) noise[i] = estimate_up;
    }
    const std::uint32_t floor = static_cast<std::uint32_t>(
        (std::uint64_t{in[i]} * c.min_signal_remaining) >> c.spectral_subtraction_bits);
    const std::uint32_t subtracted = (signal_up - estimate_up) >> c.smoothing_bits;
    out[i] = std::max(subtracted, floor);
  }
}

namespace {
constexpr int kPcanSnrBits = 12;
constexpr int kPcanOutputBits = 6;
}  // namespace

std::int16_t WideDynamicFunction(std::uint32_t x, std::span<const std::int16_t> lut) {
  if (x <= 2) return lut[x];
  const int interval = static_cast<int>(MostSignificantBit32(x));
  const std::int16_t* seg = lut.data() + (4 * interval - 6);
  const std::int32_t frac = static_cast<std::int32_t>(
      ((interval < 11) ? (x << (11 - interval)) : (x >> (interval - 11))) & 0x3FF);
  std::int64_t r = (std::int32_t{seg[2]} * frac) >> 5;
  r +=
      static_cast<std::int32_t>(static_cast<std::uint32_t>(static_cast<std::int32_t>(seg[1])) << 5);
  r = Trunc32(Trunc32(r) * std::int64_t{frac});
  r = Trunc32(r + (1 << 14)) >> 15;
  r += seg[0];
  return Trunc16(r);
}

std::uint32_t PcanShrink(std::uint32_t x) {
  if (x < (2u << kPcanSnrBits)) return (x * x) >> (2 + 2 * kPcanSnrBits - kPcanOutputBits);
  return (x >> (kPcanSnrBits - kPcanOutputBits)) - (1u << kPcanOutputBits);
}

void Pcan(std::span<const std::uint32_t> in, std::span<const std::uint32_t> noise,
          std::span<const std::int16_t> lut, int snr_shift, std::span<std::uint32_t> out) {
  for (std::size_t i = 0; i < in.size(); ++i) {
    // The int16 gain widened to uint32 (sign-extended), as in C.
    const std::uint32_t gain =
        static_cast<std::uint32_t>(std::int32_t{WideDynamicFunction(noise[i], lut)});
    const std::uint32_t snr =
        static_cast<std::uint32_t>((std::uint64_t{in[i]} * gain) >> snr_shift);
    out[i] = PcanShrink(snr);
  }
}

namespace {

// log2(1 + k/128) - k/128 in units of 2^-16, rounded: TFLM's 129-entry correction table
// (its published values are exactly these).
const std::array<std::int32_t, 130>& LogTable() {
  static const std::array<std::int32_t, 130> table = [] {
    std::array<std::int32_t, 130> t{};
    for (int k = 0; k <= 128; ++k) {
      const double u = k / 128.0;
      t[static_cast<std::size_t>(k)] =
          static_cast<std::int32_t>(std::lround((std::log2(1.0 + u) - u) * 65536.0));
    }
    t[129] = 0;
    return t;
  }();
  return table;
}

}  // namespace

std::uint32_t Log32(std::uint32_t x, std::uint32_t out_scale) {
  constexpr int kScaleLog2 = 16, kSegmentsLog2 = 7;
  constexpr std::uint32_t kCoeff = 45426;  // 2^16 * ln 2
  const std::uint32_t integer = MostSignificantBit32(x) - 1;
  // Fractional part of log2 x by linear interpolation in the correction table.
  std::int32_t frac = Trunc32(std::int64_t{x} - (std::int64_t{1} << integer));
  if (integer < static_cast<std::uint32_t>(kScaleLog2)) {
    frac = Trunc32(std::int64_t{frac} << (kScaleLog2 - static_cast<int>(integer)));
  } else {
    frac >>= (static_cast<int>(integer) - kScaleLog2);
  }
  const std::uint32_t seg = static_cast<std::uint32_t>(frac) >> (kScaleLog2 - kSegmentsLog2);
  const auto& lut = LogTable();
  const std::int32_t c0 = lut[seg], c1 = lut[seg + 1];
  const std::int32_t seg_base = static_cast<std::int32_t>(seg << (kScaleLog2 - kSegmentsLog2));
  const std::int32_t rel = ((c1 - c0) * (frac - seg_base)) >> kScaleLog2;
  const std::uint32_t fraction = static_cast<std::uint32_t>(frac + c0 + rel);
  const std::uint32_t log2 = (integer << kScaleLog2) + fraction;
  const std::uint32_t round = 1u << (kScaleLog2 - 1);
  const std::uint32_t loge =
      static_cast<std::uint32_t>((std::uint64_t{kCoeff} * log2 + round) >> kScaleLog2);
  return (out_scale * loge + round) >> kScaleLog2;  // 32-bit, as TFLM
}

void FilterBankLog(std::span<const std::uint32_t> in, std::uint32_t output_scale,
                   int correction_bits, std::span<std::int16_t> out) {
  for (std::size_t i = 0; i < in.size(); ++i) {
    const std::uint32_t scaled = in[i] << correction_bits;
    if (scaled > 1) {
      const std::uint32_t v = Log32(scaled, output_scale);
      out[i] = static_cast<std::int16_t>(std::min<std::uint32_t>(v, INT16_MAX));
    } else {
      out[i] = 0;
    }
  }
}

}  // namespace signal

// ---- kernels -------------------------------------------------------------------------

namespace {

using signal::SpectralSubtractionConfig;

// An attribute that must be present, as an int in [lo, hi].
Expected<std::int64_t> IntAttr(const ir::Node& n, const char* name, std::int64_t lo,
                               std::int64_t hi) {
  const ir::Attribute* a = n.Find(name);
  if (a == nullptr || a->kind != ir::Attribute::Kind::kInt) {
    return InvalidArgument(n.Describe() + ": needs integer attribute '" + name + "'");
  }
  if (a->i < lo || a->i > hi) {
    return InvalidArgument(n.Describe() + ": attribute '" + name + "' must be in [" +
                           std::to_string(lo) + ", " + std::to_string(hi) + "], got " +
                           std::to_string(a->i));
  }
  return a->i;
}

// Input i with the expected dtype (u32 is carried as i32, u64 as i64).
Expected<const Tensor*> TypedInput(const KernelContext& ctx, std::size_t i, DType dt,
                                   const char* what) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* t, RequiredInput(ctx, i));
  if (t->dtype() != dt) {
    return NodeError(ctx, std::string(what) + " (input " + std::to_string(i) + ") must be " +
                              std::string(DTypeName(dt)) + ", got " +
                              std::string(DTypeName(t->dtype())));
  }
  return t;
}

template <typename T>
std::span<const T> View(const Tensor& t) {
  return t.as<T>();
}
// Unsigned views of the signed carriers.
std::span<const std::uint32_t> U32(const Tensor& t) {
  return {static_cast<const std::uint32_t*>(t.data()), static_cast<std::size_t>(t.element_count())};
}
std::span<std::uint32_t> U32(Tensor& t) {
  return {static_cast<std::uint32_t*>(t.data()), static_cast<std::size_t>(t.element_count())};
}

// Leading dimensions of a [..., n] tensor, n its last dimension.
std::int64_t Rows(const Shape& s) {
  return s.rank() == 0 ? 1 : s.element_count() / std::max<std::int64_t>(1, s[s.rank() - 1]);
}
std::int64_t LastDim(const Shape& s) {
  return s.rank() == 0 ? 1 : s[s.rank() - 1];
}

class WindowKernel final : public OpKernel {
 public:
  explicit WindowKernel(int shift) : shift_(shift) {}
  Status Run(KernelContext& ctx) override {
    DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, TypedInput(ctx, 0, DType::kI16, "input"));
    DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* w, TypedInput(ctx, 1, DType::kI16, "window"));
    const std::int64_t n = LastDim(x->shape());
    if (w->element_count() != n) {
      return NodeError(ctx, "window has " + std::to_string(w->element_count()) +
                                " values, the input's last dimension is " + std::to_string(n));
    }
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kI16, x->shape()));
    const std::size_t un = static_cast<std::size_t>(n);
    for (std::int64_t r = 0; r < Rows(x->shape()); ++r) {
      const std::size_t off = static_cast<std::size_t>(r) * un;
      signal::ApplyWindow(View<std::int16_t>(*x).subspan(off, un), View<std::int16_t>(*w), shift_,
                          y->as<std::int16_t>().subspan(off, un));
    }
    return Status::Ok();
  }

 private:
  int shift_;
};

Status FftAutoScaleKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, TypedInput(ctx, 0, DType::kI16, "input"));
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kI16, x->shape()));
  const int bits = signal::FftAutoScale(View<std::int16_t>(*x), y->as<std::int16_t>());
  if (ctx.output_wanted(1)) {
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * s, ctx.Output(1, DType::kI32, Shape({})));
    s->as<std::int32_t>()[0] = bits;
  }
  return Status::Ok();
}

class RfftKernel final : public OpKernel {
 public:
  explicit RfftKernel(signal::RfftInt16 fft) : fft_(std::move(fft)) {}
  Status Run(KernelContext& ctx) override {
    DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, TypedInput(ctx, 0, DType::kI16, "input"));
    const Shape& s = x->shape();
    const std::int64_t len = LastDim(s);
    const int nfft = fft_.fft_length();
    if (s.rank() == 0 || len > nfft) {
      return NodeError(ctx, "input " + s.ToString() + " must be [..., n] with n <= fft_length " +
                                std::to_string(nfft));
    }
    std::vector<std::int64_t> dims = s.dims();
    dims.back() = nfft + 2;  // (fft_length / 2 + 1) complex values, interleaved
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kI16, Shape(dims)));
    std::vector<std::int16_t> frame(static_cast<std::size_t>(nfft)), scratch;
    const auto in = View<std::int16_t>(*x);
    auto out = y->as<std::int16_t>();
    for (std::int64_t r = 0; r < Rows(s); ++r) {
      // Zero-padded to fft_length, as TFLM.
      std::fill(frame.begin(), frame.end(), std::int16_t{0});
      std::copy_n(in.begin() + r * len, len, frame.begin());
      fft_.Apply(frame.data(), out.data() + r * (nfft + 2), scratch);
    }
    return Status::Ok();
  }

 private:
  signal::RfftInt16 fft_;
};

class EnergyKernel final : public OpKernel {
 public:
  EnergyKernel(int start, int end) : start_(start), end_(end) {}
  Status Run(KernelContext& ctx) override {
    DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, TypedInput(ctx, 0, DType::kI16, "spectrum"));
    const std::int64_t n = x->element_count();
    if (x->shape().rank() != 1 || n % 2 != 0 || end_ > n / 2) {
      return NodeError(ctx, "spectrum " + x->shape().ToString() +
                                " must be 1-D interleaved complex with at least end_index " +
                                std::to_string(end_) + " values");
    }
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kI32, Shape({n / 2})));
    signal::SpectrumToEnergy(View<std::int16_t>(*x), start_, end_, U32(*y));
    return Status::Ok();
  }

 private:
  int start_, end_;
};

class FilterBankKernel final : public OpKernel {
 public:
  explicit FilterBankKernel(int channels) : channels_(channels) {}
  Status Run(KernelContext& ctx) override {
    DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, TypedInput(ctx, 0, DType::kI32, "input (uint32)"));
    std::array<const Tensor*, 5> p{};
    const char* names[5] = {"weights", "unweights", "channel_frequency_starts",
                            "channel_weight_starts", "channel_widths"};
    for (std::size_t k = 0; k < 5; ++k) {
      DEEPEDGE_ASSIGN_OR_RETURN(p[k], TypedInput(ctx, k + 1, DType::kI16, names[k]));
    }
    const auto w = View<std::int16_t>(*p[0]), uw = View<std::int16_t>(*p[1]);
    const auto fs = View<std::int16_t>(*p[2]), ws = View<std::int16_t>(*p[3]),
               wd = View<std::int16_t>(*p[4]);
    const std::size_t c1 = static_cast<std::size_t>(channels_) + 1;
    if (fs.size() != c1 || ws.size() != c1 || wd.size() != c1) {
      return NodeError(ctx,
                       "channel_frequency_starts, channel_weight_starts and channel_widths "
                       "need num_channels + 1 = " +
                           std::to_string(c1) + " values");
    }
    if (w.size() != uw.size()) return NodeError(ctx, "weights and unweights differ in size");
    const std::int64_t nin = x->element_count();
    for (std::size_t c = 0; c < c1; ++c) {
      if (fs[c] < 0 || ws[c] < 0 || wd[c] < 0 || fs[c] + wd[c] > nin ||
          ws[c] + wd[c] > static_cast<std::int64_t>(w.size())) {
        return NodeError(ctx, "channel " + std::to_string(c) + " (start " + std::to_string(fs[c]) +
                                  ", weight start " + std::to_string(ws[c]) + ", width " +
                                  std::to_string(wd[c]) + ") reads outside the " +
                                  std::to_string(nin) + " inputs or " + std::to_string(w.size()) +
                                  " weights");
      }
    }
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kI64, Shape({channels_})));
    std::span<std::uint64_t> out{static_cast<std::uint64_t*>(y->data()),
                                 static_cast<std::size_t>(channels_)};
    signal::FilterBank(U32(*x), w, uw, fs, ws, wd, out);
    return Status::Ok();
  }

 private:
  int channels_;
};

Status FilterBankSquareRootKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, TypedInput(ctx, 0, DType::kI64, "input (uint64)"));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* s, TypedInput(ctx, 1, DType::kI32, "scale_bits"));
  if (s->element_count() != 1) return NodeError(ctx, "scale_bits must hold one value");
  const std::int32_t bits = View<std::int32_t>(*s)[0];
  if (bits < 0 || bits > 31) {
    return NodeError(ctx, "scale_bits must be in [0, 31], got " + std::to_string(bits));
  }
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kI32, x->shape()));
  const auto* in = static_cast<const std::uint64_t*>(x->data());
  auto out = U32(*y);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = signal::Sqrt64(in[i]) >> bits;
  return Status::Ok();
}

// Stateful: the noise estimate carries from one Run to the next (one frame each), starts
// at zero, and returns to zero on ResetState. Not safe to Run concurrently (nor is the
// executor that owns it).
class SpectralSubtractionKernel final : public OpKernel {
 public:
  SpectralSubtractionKernel(const SpectralSubtractionConfig& c, int channels)
      : config_(c), noise_(static_cast<std::size_t>(channels), 0u) {}
  Status Run(KernelContext& ctx) override {
    DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, TypedInput(ctx, 0, DType::kI32, "input (uint32)"));
    if (x->element_count() != static_cast<std::int64_t>(noise_.size())) {
      return NodeError(ctx, "input has " + std::to_string(x->element_count()) +
                                " values, num_channels is " + std::to_string(noise_.size()));
    }
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kI32, x->shape()));
    signal::SpectralSubtraction(config_, U32(*x), noise_, U32(*y));
    if (ctx.output_wanted(1)) {
      DEEPEDGE_ASSIGN_OR_RETURN(Tensor * ne, ctx.Output(1, DType::kI32, x->shape()));
      std::copy(noise_.begin(), noise_.end(), U32(*ne).begin());
    }
    return Status::Ok();
  }
  void ResetState() override { std::fill(noise_.begin(), noise_.end(), 0u); }

 private:
  SpectralSubtractionConfig config_;
  std::vector<std::uint32_t> noise_;
};

class PcanKernel final : public OpKernel {
 public:
  explicit PcanKernel(int snr_shift) : snr_shift_(snr_shift) {}
  Status Run(KernelContext& ctx) override {
    DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, TypedInput(ctx, 0, DType::kI32, "input (uint32)"));
    DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* ne,
                              TypedInput(ctx, 1, DType::kI32, "noise_estimate (uint32)"));
    DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* lut, TypedInput(ctx, 2, DType::kI16, "gain_lut"));
    if (ne->element_count() != x->element_count()) {
      return NodeError(ctx, "noise_estimate has " + std::to_string(ne->element_count()) +
                                " values, input " + std::to_string(x->element_count()));
    }
    if (lut->element_count() < static_cast<std::int64_t>(signal::kPcanLutSize)) {
      return NodeError(ctx, "gain_lut needs " + std::to_string(signal::kPcanLutSize) +
                                " values, got " + std::to_string(lut->element_count()));
    }
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kI32, x->shape()));
    signal::Pcan(U32(*x), U32(*ne), View<std::int16_t>(*lut), snr_shift_, U32(*y));
    return Status::Ok();
  }

 private:
  int snr_shift_;
};

class FilterBankLogKernel final : public OpKernel {
 public:
  FilterBankLogKernel(std::uint32_t scale, int bits) : scale_(scale), bits_(bits) {}
  Status Run(KernelContext& ctx) override {
    DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, TypedInput(ctx, 0, DType::kI32, "input (uint32)"));
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kI16, x->shape()));
    signal::FilterBankLog(U32(*x), scale_, bits_, y->as<std::int16_t>());
    return Status::Ok();
  }

 private:
  std::uint32_t scale_;
  int bits_;
};

template <typename K>
std::unique_ptr<OpKernel> Box(std::unique_ptr<K> k) {
  return std::unique_ptr<OpKernel>(std::move(k));
}

}  // namespace

void RegisterSignalKernels(KernelRegistry& r) {
  const std::string d = kSignalDomain;
  r.AddFactory(d, "Window",
               [](const ir::Node& n, const PrepareContext&) -> Expected<std::unique_ptr<OpKernel>> {
                 DEEPEDGE_ASSIGN_OR_RETURN(std::int64_t shift, IntAttr(n, "shift", 0, 31));
                 return Box(std::make_unique<WindowKernel>(static_cast<int>(shift)));
               });
  r.Add(d, "FftAutoScale", FftAutoScaleKernel);
  r.AddFactory(d, "Rfft",
               [](const ir::Node& n, const PrepareContext&) -> Expected<std::unique_ptr<OpKernel>> {
                 DEEPEDGE_ASSIGN_OR_RETURN(std::int64_t len, IntAttr(n, "fft_length", 2, 32768));
                 auto fft = signal::RfftInt16::Make(static_cast<int>(len));
                 if (!fft)
                   return Status(fft.status().code(), n.Describe() + ": " + fft.status().message());
                 return Box(std::make_unique<RfftKernel>(std::move(fft).value()));
               });
  r.AddFactory(
      d, "Energy",
      [](const ir::Node& n, const PrepareContext&) -> Expected<std::unique_ptr<OpKernel>> {
        DEEPEDGE_ASSIGN_OR_RETURN(std::int64_t start, IntAttr(n, "start_index", 0, 1 << 20));
        DEEPEDGE_ASSIGN_OR_RETURN(std::int64_t end, IntAttr(n, "end_index", start, 1 << 20));
        return Box(std::make_unique<EnergyKernel>(static_cast<int>(start), static_cast<int>(end)));
      });
  r.AddFactory(d, "FilterBank",
               [](const ir::Node& n, const PrepareContext&) -> Expected<std::unique_ptr<OpKernel>> {
                 DEEPEDGE_ASSIGN_OR_RETURN(std::int64_t c, IntAttr(n, "num_channels", 1, 32767));
                 return Box(std::make_unique<FilterBankKernel>(static_cast<int>(c)));
               });
  r.Add(d, "FilterBankSquareRoot", FilterBankSquareRootKernel);
  r.AddFactory(
      d, "FilterBankSpectralSubtraction",
      [](const ir::Node& n, const PrepareContext&) -> Expected<std::unique_ptr<OpKernel>> {
        SpectralSubtractionConfig c;
        constexpr std::int64_t kU32 = 0xFFFFFFFFll;
        DEEPEDGE_ASSIGN_OR_RETURN(std::int64_t channels, IntAttr(n, "num_channels", 1, 1 << 20));
        DEEPEDGE_ASSIGN_OR_RETURN(std::int64_t v, IntAttr(n, "smoothing", 0, kU32));
        c.smoothing = static_cast<std::uint32_t>(v);
        DEEPEDGE_ASSIGN_OR_RETURN(v, IntAttr(n, "one_minus_smoothing", 0, kU32));
        c.one_minus_smoothing = static_cast<std::uint32_t>(v);
        DEEPEDGE_ASSIGN_OR_RETURN(v, IntAttr(n, "alternate_smoothing", 0, kU32));
        c.alternate_smoothing = static_cast<std::uint32_t>(v);
        DEEPEDGE_ASSIGN_OR_RETURN(v, IntAttr(n, "alternate_one_minus_smoothing", 0, kU32));
        c.alternate_one_minus_smoothing = static_cast<std::uint32_t>(v);
        DEEPEDGE_ASSIGN_OR_RETURN(v, IntAttr(n, "smoothing_bits", 0, 31));
        c.smoothing_bits = static_cast<int>(v);
        DEEPEDGE_ASSIGN_OR_RETURN(v, IntAttr(n, "spectral_subtraction_bits", 0, 63));
        c.spectral_subtraction_bits = static_cast<int>(v);
        DEEPEDGE_ASSIGN_OR_RETURN(v, IntAttr(n, "min_signal_remaining", 0, kU32));
        c.min_signal_remaining = static_cast<std::uint32_t>(v);
        DEEPEDGE_ASSIGN_OR_RETURN(v, IntAttr(n, "clamping", 0, 1));
        c.clamping = v != 0;
        return Box(std::make_unique<SpectralSubtractionKernel>(c, static_cast<int>(channels)));
      });
  r.AddFactory(d, "PCAN",
               [](const ir::Node& n, const PrepareContext&) -> Expected<std::unique_ptr<OpKernel>> {
                 DEEPEDGE_ASSIGN_OR_RETURN(std::int64_t shift, IntAttr(n, "snr_shift", 0, 63));
                 return Box(std::make_unique<PcanKernel>(static_cast<int>(shift)));
               });
  r.AddFactory(
      d, "FilterBankLog",
      [](const ir::Node& n, const PrepareContext&) -> Expected<std::unique_ptr<OpKernel>> {
        DEEPEDGE_ASSIGN_OR_RETURN(std::int64_t scale, IntAttr(n, "output_scale", 0, 0xFFFFFFFFll));
        DEEPEDGE_ASSIGN_OR_RETURN(std::int64_t bits, IntAttr(n, "input_correction_bits", 0, 31));
        return Box(std::make_unique<FilterBankLogKernel>(static_cast<std::uint32_t>(scale),
                                                         static_cast<int>(bits)));
      });
}

}  // namespace deepedge::engine
