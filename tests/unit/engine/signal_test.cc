// TFLite Micro's signal operators (src/engine/kernels/signal.h) against straightforward
// references (double precision, or plain 64/128-bit integer arithmetic), through the
// kernels and the per-frame routines; bad attributes and inputs; stateful reset.
#include "engine/kernels/signal.h"

#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "engine/executor.h"
#include "engine/passes.h"
#include "support/kernel_harness.h"

namespace deepedge {
namespace {

using engine::kSignalDomain;
using testing::MakeNode;
using testing::MakeTensor;
using testing::RunNode;
using testing::SetInt;
namespace sig = engine::signal;

ir::Node SignalNode(const std::string& op, std::vector<std::string> in,
                    std::vector<std::string> out) {
  ir::Node n = MakeNode(op, std::move(in), std::move(out), 1);
  n.domain = kSignalDomain;
  return n;
}

std::vector<std::int16_t> RandomI16(std::size_t n, int lo, int hi, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<std::int16_t> v(n);
  for (auto& x : v) x = static_cast<std::int16_t>(d(rng));
  return v;
}
std::vector<std::uint32_t> RandomU32(std::size_t n, std::uint32_t hi, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::uint32_t> d(0, hi);
  std::vector<std::uint32_t> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}
Tensor U32Tensor(const std::vector<std::uint32_t>& v) {
  return MakeTensor(DType::kI32, Shape({static_cast<std::int64_t>(v.size())}), v);
}
std::vector<std::uint32_t> AsU32(const Tensor& t) {
  const auto* p = static_cast<const std::uint32_t*>(t.data());
  return {p, p + t.element_count()};
}

// --- Window ---------------------------------------------------------------------------

TEST(SignalWindow, MatchesReferenceAndSaturates) {
  for (int shift : {0, 5, 12}) {
    std::vector<std::int16_t> x = RandomI16(2 * 50, -32768, 32767, 1u + shift);
    std::vector<std::int16_t> w = RandomI16(50, -32768, 32767, 7u + shift);
    x[0] = -32768;
    w[0] = -32768;  // 2^30 >> shift saturates unless shift >= 15
    const Tensor xt = MakeTensor(DType::kI16, Shape({2, 50}), x);
    const Tensor wt = MakeTensor(DType::kI16, Shape({50}), w);
    ir::Node n = SignalNode("Window", {"x", "w"}, {"y"});
    SetInt(n, "shift", shift);
    auto out = RunNode(n, {&xt, &wt});
    ASSERT_TRUE(out.has_value()) << out.status().ToString();
    const auto y = (*out)[0].as<std::int16_t>();
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double ref = std::floor(static_cast<double>(x[i]) * w[i % 50] / std::ldexp(1.0, shift));
      EXPECT_EQ(y[i], static_cast<std::int16_t>(std::clamp(ref, -32768.0, 32767.0))) << i;
    }
  }
}

TEST(SignalWindow, RejectsBadShiftAndMismatchedWindow) {
  const Tensor xt = MakeTensor(DType::kI16, Shape({4}), std::vector<std::int16_t>{1, 2, 3, 4});
  const Tensor wt = MakeTensor(DType::kI16, Shape({3}), std::vector<std::int16_t>{1, 2, 3});
  ir::Node n = SignalNode("Window", {"x", "w"}, {"y"});
  auto r = RunNode(n, {&xt, &xt});
  ASSERT_FALSE(r.has_value());  // no shift
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  SetInt(n, "shift", 32);
  r = RunNode(n, {&xt, &xt});
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.status().message().find("shift"), std::string::npos) << r.status().message();
  SetInt(n, "shift", 3);
  r = RunNode(n, {&xt, &wt});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

// --- FftAutoScale ---------------------------------------------------------------------

TEST(SignalFftAutoScale, ShiftsToFullScale) {
  struct Case {
    std::vector<std::int16_t> x;
    int scale;
  };
  const std::vector<Case> cases = {
      {{0, 0, 0}, 0},       // TFLM (GCC build): MSB(0) = 32 -> no shift
      {{1, -1, 0}, 14},     // 1 << 14 still fits
      {{100, -300, 7}, 6},  // 300 << 6 = 19200 <= 32767 < 300 << 7
      {{16384, -2}, 0},     // already 15 bits
      // TFLM keeps the running maximum in int16: -32768 wraps to itself, so a later 5
      // replaces it (scale 12, and -32768 << 12 wraps to 0); a later -32768 ends at
      // -32768, whose sign-extended bit count leaves no headroom.
      {{-32768, 5}, 12},
      {{5, -32768}, 0},
      {{-16384, 16383, 1}, 0},  // 15 bits
      {{-8192, 2}, 1},          // 8192 << 1 = 16384
  };
  for (const Case& c : cases) {
    std::vector<std::int16_t> out(c.x.size());
    EXPECT_EQ(sig::FftAutoScale(c.x, out), c.scale);
    for (std::size_t i = 0; i < c.x.size(); ++i)
      EXPECT_EQ(out[i], static_cast<std::int16_t>(c.x[i] * (1 << c.scale)));
  }
  // Through the kernel: the second output is the scale, a scalar.
  const std::vector<std::int16_t> x = RandomI16(480, -900, 900, 3);
  int max = 0;
  for (auto v : x) max = std::max(max, std::abs(int{v}));
  int ref = 0;
  while ((max << (ref + 1)) <= 32767) ++ref;
  const Tensor xt = MakeTensor(DType::kI16, Shape({480}), x);
  auto out = RunNode(SignalNode("FftAutoScale", {"x"}, {"y", "s"}), {&xt});
  ASSERT_TRUE(out.has_value()) << out.status().ToString();
  EXPECT_EQ((*out)[1].shape().rank(), 0u);
  EXPECT_EQ((*out)[1].as<std::int32_t>()[0], ref);
}

// --- Rfft -----------------------------------------------------------------------------

// kiss_fft's fixed-point forward real FFT scales by 1 / fft_length: compare with the
// double-precision DFT divided by N. Each radix stage rounds once, so the error grows
// with the number of stages; a few LSB at these lengths.
TEST(SignalRfft, MatchesScaledDftAtSeveralLengths) {
  for (int nfft : {4, 8, 16, 64, 256, 512}) {
    SCOPED_TRACE("fft_length " + std::to_string(nfft));
    const int len = nfft == 512 ? 480 : nfft;  // 512: zero padding, as the micro_speech model
    const std::vector<std::int16_t> x = RandomI16(static_cast<std::size_t>(2 * len), -12000, 12000,
                                                  static_cast<std::uint32_t>(nfft));
    const Tensor xt = MakeTensor(DType::kI16, Shape({2, len}), x);
    ir::Node n = SignalNode("Rfft", {"x"}, {"y"});
    SetInt(n, "fft_length", nfft);
    auto out = RunNode(n, {&xt});
    ASSERT_TRUE(out.has_value()) << out.status().ToString();
    ASSERT_EQ((*out)[0].shape(), Shape({2, nfft + 2}));
    const auto y = (*out)[0].as<std::int16_t>();
    const double pi = std::acos(-1.0);
    double worst = 0;
    for (int r = 0; r < 2; ++r) {
      for (int k = 0; k <= nfft / 2; ++k) {
        std::complex<double> acc = 0;
        for (int t = 0; t < len; ++t)
          acc += static_cast<double>(x[static_cast<std::size_t>(r * len + t)]) *
                 std::polar(1.0, -2 * pi * k * t / nfft);
        acc /= nfft;
        const std::size_t o = static_cast<std::size_t>(r * (nfft + 2) + 2 * k);
        worst = std::max({worst, std::abs(y[o] - acc.real()), std::abs(y[o + 1] - acc.imag())});
      }
    }
    const double stages = std::log2(nfft);
    EXPECT_LE(worst, 1.0 + stages) << "worst |fixed - DFT / N| in LSB";
  }
}

TEST(SignalRfft, PureToneLandsInItsBin) {
  constexpr int kN = 512;
  std::vector<std::int16_t> x(kN);
  for (int t = 0; t < kN; ++t)
    x[static_cast<std::size_t>(t)] =
        static_cast<std::int16_t>(std::lround(16000 * std::cos(2 * std::acos(-1.0) * 10 * t / kN)));
  auto fft = sig::RfftInt16::Make(kN);
  ASSERT_TRUE(fft.has_value());
  std::vector<std::int16_t> y(kN + 2), scratch;
  fft->Apply(x.data(), y.data(), scratch);
  EXPECT_NEAR(y[20], 8000, 8);  // A / 2 in bin 10
  EXPECT_NEAR(y[21], 0, 8);
  for (int k = 0; k <= kN / 2; ++k) {
    if (k != 10) {
      EXPECT_LE(std::abs(y[static_cast<std::size_t>(2 * k)]), 8) << k;
    }
  }
}

TEST(SignalRfft, RejectsBadLengths) {
  const Tensor xt = MakeTensor(DType::kI16, Shape({20}), std::vector<std::int16_t>(20, 1));
  ir::Node n = SignalNode("Rfft", {"x"}, {"y"});
  SetInt(n, "fft_length", 24);  // not a power of two
  auto r = RunNode(n, {&xt});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
  SetInt(n, "fft_length", 16);  // shorter than the input
  r = RunNode(n, {&xt});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  SetInt(n, "fft_length", 2);  // kiss_fft's degenerate length-1 complex FFT: not done
  r = RunNode(n, {&xt});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
  SetInt(n, "fft_length", 0);
  r = RunNode(n, {&xt});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

// --- Energy ---------------------------------------------------------------------------

TEST(SignalEnergy, SquaredMagnitudeInRangeZeroOutside) {
  std::vector<std::int16_t> spec = RandomI16(2 * 40, -32768, 32767, 11);
  spec[2 * 7] = -32768;
  spec[2 * 7 + 1] = -32768;  // 2^31: still exact in uint32
  const Tensor st = MakeTensor(DType::kI16, Shape({80}), spec);
  ir::Node n = SignalNode("Energy", {"s"}, {"e"});
  SetInt(n, "start_index", 5);
  SetInt(n, "end_index", 33);
  auto out = RunNode(n, {&st});
  ASSERT_TRUE(out.has_value()) << out.status().ToString();
  const auto e = AsU32((*out)[0]);
  ASSERT_EQ(e.size(), 40u);
  for (std::size_t i = 0; i < 40; ++i) {
    const std::uint64_t ref = (i >= 5 && i < 33)
                                  ? std::uint64_t(std::int64_t{spec[2 * i]} * spec[2 * i] +
                                                  std::int64_t{spec[2 * i + 1]} * spec[2 * i + 1])
                                  : 0;
    EXPECT_EQ(e[i], static_cast<std::uint32_t>(ref)) << i;
  }
  SetInt(n, "end_index", 41);  // past the 40 complex values
  EXPECT_FALSE(RunNode(n, {&st}).has_value());
  SetInt(n, "end_index", 4);  // before start
  auto r = RunNode(n, {&st});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

// --- FilterBank -----------------------------------------------------------------------

TEST(SignalFilterBank, MatchesTriangularReference) {
  // 4 channels over 30 bins; channel c's band [fs, fs + width) with weights w (its own
  // share) and unweights (the next channel's share).
  const int C = 4;
  const std::vector<std::int16_t> fs = {2, 6, 11, 17, 24};
  const std::vector<std::int16_t> ws = {0, 4, 9, 15, 22};
  const std::vector<std::int16_t> wd = {4, 5, 6, 7, 3};
  const std::vector<std::int16_t> w = RandomI16(25, 0, 4096, 5);
  std::vector<std::int16_t> uw(25);
  for (std::size_t i = 0; i < 25; ++i) uw[i] = static_cast<std::int16_t>(4096 - w[i]);
  const std::vector<std::uint32_t> x = RandomU32(30, 0xFFFFFFFFu, 9);
  std::vector<std::uint64_t> ref(C, 0);
  for (int c = 0; c <= C; ++c) {
    for (int j = 0; j < wd[static_cast<std::size_t>(c)]; ++j) {
      const std::size_t f = static_cast<std::size_t>(fs[static_cast<std::size_t>(c)] + j);
      const std::size_t k = static_cast<std::size_t>(ws[static_cast<std::size_t>(c)] + j);
      if (c >= 1) ref[static_cast<std::size_t>(c - 1)] += std::uint64_t(w[k]) * x[f];
      if (c < C) ref[static_cast<std::size_t>(c)] += std::uint64_t(uw[k]) * x[f];
    }
  }
  const Tensor xt = U32Tensor(x);
  const Tensor wt = MakeTensor(DType::kI16, Shape({25}), w);
  const Tensor ut = MakeTensor(DType::kI16, Shape({25}), uw);
  const Tensor ft = MakeTensor(DType::kI16, Shape({5}), fs);
  const Tensor st = MakeTensor(DType::kI16, Shape({5}), ws);
  const Tensor dt = MakeTensor(DType::kI16, Shape({5}), wd);
  ir::Node n = SignalNode("FilterBank", {"x", "w", "u", "f", "s", "d"}, {"y"});
  SetInt(n, "num_channels", C);
  auto out = RunNode(n, {&xt, &wt, &ut, &ft, &st, &dt});
  ASSERT_TRUE(out.has_value()) << out.status().ToString();
  ASSERT_EQ((*out)[0].dtype(), DType::kI64);
  const auto* y = static_cast<const std::uint64_t*>((*out)[0].data());
  for (int c = 0; c < C; ++c) EXPECT_EQ(y[c], ref[static_cast<std::size_t>(c)]) << c;

  // A band reaching past the input is refused, not read.
  const Tensor bad =
      MakeTensor(DType::kI16, Shape({5}), std::vector<std::int16_t>{2, 6, 11, 17, 28});
  auto r = RunNode(n, {&xt, &wt, &ut, &bad, &st, &dt});
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.status().message().find("channel 4"), std::string::npos) << r.status().message();
  SetInt(n, "num_channels", 5);  // needs 6 starts
  EXPECT_FALSE(RunNode(n, {&xt, &wt, &ut, &ft, &st, &dt}).has_value());
}

// --- square root ----------------------------------------------------------------------

// Nearest integer to sqrt(x) (never a tie for integers), capped as TFLM: 0xFFFF below
// 2^32, 0xFFFFFFFF above.
std::uint32_t SqrtReference(std::uint64_t x) {
  std::uint64_t r = static_cast<std::uint64_t>(std::sqrt(static_cast<long double>(x)));
  while (r > 0 && r > x / r) --r;      // r^2 > x
  while ((r + 1) <= x / (r + 1)) ++r;  // (r + 1)^2 <= x
  // Round up when x - r^2 > r, i.e. sqrt(x) > r + 1/2.
  if (x - r * r > r) ++r;
  const std::uint64_t cap = x < (std::uint64_t{1} << 32) ? 0xFFFFu : 0xFFFFFFFFu;
  return static_cast<std::uint32_t>(std::min(r, cap));
}

TEST(SignalFilterBankSquareRoot, RoundedRootShiftedDown) {
  std::vector<std::uint64_t> x = {0,
                                  1,
                                  2,
                                  3,
                                  4,
                                  6,
                                  7,
                                  8,
                                  0xFFFFFFFFull,
                                  0xFFFE0001ull,
                                  0x100000000ull,
                                  0xFFFFFFFFFFFFFFFFull,
                                  1ull << 62};
  std::mt19937_64 rng(17);
  for (int b = 1; b < 64; ++b) x.push_back(rng() >> b);
  for (std::uint64_t v : x) EXPECT_EQ(sig::Sqrt64(v), SqrtReference(v)) << v;
  const Tensor xt = MakeTensor(DType::kI64, Shape({static_cast<std::int64_t>(x.size())}), x);
  for (int bits : {0, 3}) {
    const Tensor bt = MakeTensor(DType::kI32, Shape({}), std::vector<std::int32_t>{bits});
    auto out = RunNode(SignalNode("FilterBankSquareRoot", {"x", "b"}, {"y"}), {&xt, &bt});
    ASSERT_TRUE(out.has_value()) << out.status().ToString();
    const auto y = AsU32((*out)[0]);
    for (std::size_t i = 0; i < x.size(); ++i) EXPECT_EQ(y[i], SqrtReference(x[i]) >> bits);
  }
  const Tensor bad = MakeTensor(DType::kI32, Shape({}), std::vector<std::int32_t>{-1});
  EXPECT_FALSE(
      RunNode(SignalNode("FilterBankSquareRoot", {"x", "b"}, {"y"}), {&xt, &bad}).has_value());
}

// --- spectral subtraction (stateful) --------------------------------------------------

ir::Node SpectralSubtractionNode(int channels, bool clamping) {
  ir::Node n = SignalNode("FilterBankSpectralSubtraction", {"x"}, {"y", "noise"});
  // micro_speech's values.
  SetInt(n, "num_channels", channels);
  SetInt(n, "smoothing", 409);
  SetInt(n, "one_minus_smoothing", 15975);
  SetInt(n, "alternate_smoothing", 983);
  SetInt(n, "alternate_one_minus_smoothing", 15401);
  SetInt(n, "smoothing_bits", 10);
  SetInt(n, "spectral_subtraction_bits", 14);
  SetInt(n, "min_signal_remaining", 819);
  SetInt(n, "clamping", clamping ? 1 : 0);
  return n;
}

// One frame in exact integer arithmetic.
void SpectralSubtractionReference(const std::vector<std::uint32_t>& x, bool clamping,
                                  std::vector<std::uint64_t>& noise,
                                  std::vector<std::uint64_t>& y) {
  y.resize(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::uint64_t s = i % 2 == 0 ? 409 : 983, k = i % 2 == 0 ? 15975 : 15401;
    const std::uint64_t up = std::uint64_t{x[i]} << 10;  // inputs kept below 2^22: no wrap
    noise[i] = (up * s + noise[i] * k) >> 14;
    std::uint64_t est = std::min(noise[i], up);
    if (clamping) noise[i] = est;
    const std::uint64_t floor = (std::uint64_t{x[i]} * 819) >> 14;
    y[i] = std::max((up - est) >> 10, floor);
  }
}

TEST(SignalSpectralSubtraction, StateCarriesAcrossRunsAndResets) {
  for (bool clamping : {false, true}) {
    SCOPED_TRACE(clamping ? "clamping" : "no clamping");
    const int C = 6;
    const ir::Node n = SpectralSubtractionNode(C, clamping);
    engine::KernelRegistry registry;
    engine::RegisterSignalKernels(registry);
    ir::Graph g;
    engine::PrepareContext prep{g, 1, [](const std::string&) -> const Tensor* { return nullptr; }};
    auto kernel = registry.Create(n, prep);
    ASSERT_TRUE(kernel.has_value()) << kernel.status().ToString();
    std::vector<std::uint64_t> noise(C, 0), ref;
    std::vector<std::vector<std::uint32_t>> first_outputs;
    for (int frame = 0; frame < 8; ++frame) {
      // Loud frames, then quiet ones: the estimate lags, so clamping matters.
      const std::vector<std::uint32_t> x =
          RandomU32(C, frame < 4 ? (1u << 21) : 50u, static_cast<std::uint32_t>(frame));
      const Tensor xt = U32Tensor(x);
      testing::SingleNodeContext ctx(n, {&xt});
      ASSERT_TRUE((*kernel)->Run(ctx).ok());
      SpectralSubtractionReference(x, clamping, noise, ref);
      const auto y = AsU32(ctx.outputs()[0]);
      const auto ne = AsU32(ctx.outputs()[1]);
      for (int i = 0; i < C; ++i) {
        EXPECT_EQ(y[static_cast<std::size_t>(i)], ref[static_cast<std::size_t>(i)]) << frame;
        EXPECT_EQ(ne[static_cast<std::size_t>(i)], noise[static_cast<std::size_t>(i)]) << frame;
      }
      first_outputs.push_back(y);
    }
    // After ResetState the same frames give the same outputs again.
    (*kernel)->ResetState();
    for (int frame = 0; frame < 2; ++frame) {
      const Tensor xt =
          U32Tensor(RandomU32(C, frame < 4 ? (1u << 21) : 50u, static_cast<std::uint32_t>(frame)));
      testing::SingleNodeContext ctx(n, {&xt});
      ASSERT_TRUE((*kernel)->Run(ctx).ok());
      EXPECT_EQ(AsU32(ctx.outputs()[0]), first_outputs[static_cast<std::size_t>(frame)]);
    }
  }
}

// Through the executor: the state lives with the session's kernel, carries across Run
// calls and Executor::ResetState returns it to zero.
TEST(SignalSpectralSubtraction, ExecutorCarriesAndResetsState) {
  auto m = std::make_shared<ir::Model>();
  m->opsets[""] = 17;
  m->opsets[kSignalDomain] = 1;
  m->graph.inputs = {{"x", DType::kI32, Shape({4})}};
  m->graph.nodes.push_back(SpectralSubtractionNode(4, false));
  m->graph.outputs = {{"y", DType::kI32, Shape({4})}, {"noise", DType::kI32, Shape({4})}};
  engine::KernelRegistry reg;
  engine::RegisterAllKernels(reg);
  auto exec = engine::Executor::Create(m, reg, {1, false});
  ASSERT_TRUE(exec.has_value()) << exec.status().ToString();
  std::vector<Tensor> in;
  in.push_back(U32Tensor({1000, 2000, 3000, 4000}));
  std::vector<std::vector<std::uint32_t>> noise;
  for (int run = 0; run < 3; ++run) {
    std::vector<Tensor> out;
    ASSERT_TRUE((*exec)->Run(in, out).ok());
    noise.push_back(AsU32(out[1]));
  }
  EXPECT_NE(noise[0], noise[1]);  // the estimate keeps rising towards the signal
  EXPECT_NE(noise[1], noise[2]);
  (*exec)->ResetState();
  std::vector<Tensor> out;
  ASSERT_TRUE((*exec)->Run(in, out).ok());
  EXPECT_EQ(AsU32(out[1]), noise[0]);
}

// A stateful node on a constant input is not folded into a constant at load time.
TEST(SignalSpectralSubtraction, IsNotConstantFolded) {
  ir::Graph g;
  g.initializers["x"] = std::make_shared<const Tensor>(U32Tensor({1000, 2000, 3000, 4000}));
  g.nodes.push_back(SpectralSubtractionNode(4, false));
  g.nodes.push_back(MakeNode("Identity", {"y"}, {"z"}));  // y itself is not a graph output
  g.outputs = {{"z", DType::kI32, Shape({4})}};
  engine::KernelRegistry reg;
  engine::RegisterAllKernels(reg);
  auto folded = engine::FoldConstants(g, reg);
  ASSERT_TRUE(folded.has_value());
  EXPECT_EQ(*folded, 0);
  EXPECT_EQ(g.nodes.size(), 2u);
}

TEST(SignalSpectralSubtraction, RejectsBadAttributesAndSizes) {
  ir::Node n = SpectralSubtractionNode(6, false);
  const Tensor xt = U32Tensor(std::vector<std::uint32_t>(5, 1));
  auto r = RunNode(n, {&xt});  // 5 values, 6 channels
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  for (const char* attr : {"smoothing_bits", "spectral_subtraction_bits", "clamping"}) {
    ir::Node m = SpectralSubtractionNode(5, false);
    SetInt(m, attr, 64);
    r = RunNode(m, {&xt});
    ASSERT_FALSE(r.has_value()) << attr;
    EXPECT_NE(r.status().message().find(attr), std::string::npos) << r.status().message();
  }
  ir::Node m = SpectralSubtractionNode(5, false);
  m.attributes.erase("smoothing");
  r = RunNode(m, {&xt});
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.status().message().find("smoothing"), std::string::npos);
}

// --- PCAN -----------------------------------------------------------------------------

// The gain curve as a plain piecewise quadratic: below 3 a table value; else, for x with
// `interval` bits, segment lut[4 * interval - 6 ...] evaluated at the 10-bit fraction f of x
// after its leading bit: c0 + round((c1 * 32 * f + ((c2 * f) >> 5) * f) / 2^15).
std::int64_t GainReference(std::uint32_t x, const std::vector<std::int16_t>& lut) {
  if (x <= 2) return lut[x];
  int interval = 0;
  while ((std::uint64_t{1} << interval) <= x) ++interval;
  const std::size_t s = static_cast<std::size_t>(4 * interval - 6);
  const std::int64_t f = interval < 11 ? (std::int64_t{x} << (11 - interval)) & 0x3FF
                                       : (std::int64_t{x} >> (interval - 11)) & 0x3FF;
  const std::int64_t c0 = lut[s], c1 = lut[s + 1], c2 = lut[s + 2];
  const std::int64_t poly = (((c2 * f) >> 5) + c1 * 32) * f;
  const std::int64_t v = c0 + ((poly + (1 << 14)) >> 15);
  return static_cast<std::int16_t>(v);
}

TEST(SignalPcan, GainAndShrinkMatchReference) {
  // Modest LUT values (real ones stay well inside int16) so that no step wraps.
  const std::vector<std::int16_t> lut = RandomI16(sig::kPcanLutSize, 0, 4000, 21);
  std::vector<std::uint32_t> xs = {0, 1, 2, 3, 4, 7, 1023, 1024, 2047, 2048, 0xFFFFFFFFu};
  for (std::uint32_t v : RandomU32(200, 0xFFFFFFFFu, 22)) xs.push_back(v);
  for (std::uint32_t v : RandomU32(200, 5000u, 23)) xs.push_back(v);
  for (std::uint32_t x : xs)
    EXPECT_EQ(sig::WideDynamicFunction(x, lut), GainReference(x, lut)) << x;
  // Shrink in Q12 -> Q6: x^2 / 4 below 2.0, x - 1 above.
  for (std::uint32_t x : {0u, 1u, 100u, 4095u, 8191u, 8192u, 8193u, 100000u}) {
    const double v = x / 4096.0;
    const double ref = v < 2 ? v * v / 4 : v - 1;
    EXPECT_EQ(sig::PcanShrink(x), static_cast<std::uint32_t>(std::floor(ref * 64 + 1e-9))) << x;
  }
  // The kernel: out = shrink((in * gain(noise)) >> snr_shift).
  const std::vector<std::uint32_t> in = RandomU32(40, 1u << 20, 24);
  const std::vector<std::uint32_t> noise = RandomU32(40, 1u << 24, 25);
  const Tensor it = U32Tensor(in), nt = U32Tensor(noise);
  const Tensor lt = MakeTensor(DType::kI16, Shape({125}), lut);
  ir::Node n = SignalNode("PCAN", {"x", "n", "l"}, {"y"});
  SetInt(n, "snr_shift", 6);
  auto out = RunNode(n, {&it, &nt, &lt});
  ASSERT_TRUE(out.has_value()) << out.status().ToString();
  const auto y = AsU32((*out)[0]);
  for (std::size_t i = 0; i < in.size(); ++i) {
    const std::uint64_t snr =
        (std::uint64_t{in[i]} * static_cast<std::uint64_t>(GainReference(noise[i], lut))) >> 6;
    EXPECT_EQ(y[i], sig::PcanShrink(static_cast<std::uint32_t>(snr))) << i;
  }
  const Tensor short_lut = MakeTensor(DType::kI16, Shape({100}), lut);
  EXPECT_FALSE(RunNode(n, {&it, &nt, &short_lut}).has_value());
  SetInt(n, "snr_shift", 64);
  EXPECT_FALSE(RunNode(n, {&it, &nt, &lt}).has_value());
}

// --- log ------------------------------------------------------------------------------

TEST(SignalFilterBankLog, CloseToScaledNaturalLog) {
  for (std::uint32_t scale : {64u, 1000u}) {
    double worst = 0;
    std::vector<std::uint32_t> xs = {2, 3, 4, 5, 1000, 65535, 65536, 65537, 0xFFFFFFFFu};
    for (std::uint32_t v : RandomU32(500, 0xFFFFFFFFu, scale)) xs.push_back(std::max(v, 2u));
    for (std::uint32_t x : xs) {
      const double ref = scale * std::log(static_cast<double>(x));
      const double err = std::abs(sig::Log32(x, scale) - ref);
      worst = std::max(worst, err);
    }
    // TFLM interpolates inside a table segment with a >> 16 where the segment is 2^9 wide,
    // so the correction term hardly moves from its left end: up to the largest step of
    // the table (224 / 2^16 in log2) off, plus two roundings. Kept, as TFLM computes it.
    EXPECT_LE(worst, 1.0 + scale * std::log(2.0) * 225 / 65536) << "scale " << scale;
  }
  // Exact powers of two: k ln 2 * scale up to rounding. At 65535 (end of the last
  // segment) TFLM's interpolation quirk gives log2 = 15 + 65674 / 2^16.
  const std::uint64_t loge = (std::uint64_t{45426} * (15 * 65536 + 65674) + 32768) >> 16;
  EXPECT_EQ(sig::Log32(65535, 64), (64 * loge + 32768) >> 16);
  EXPECT_EQ(sig::Log32(1u << 20, 64),
            static_cast<std::uint32_t>(std::lround(20 * std::log(2.0) * 64)));

  const std::vector<std::uint32_t> in = {0, 1, 2, 1000, 0xFFFFFFFFu};
  const Tensor it = U32Tensor(in);
  ir::Node n = SignalNode("FilterBankLog", {"x"}, {"y"});
  SetInt(n, "output_scale", 64);
  SetInt(n, "input_correction_bits", 3);
  auto out = RunNode(n, {&it});
  ASSERT_TRUE(out.has_value()) << out.status().ToString();
  const auto y = (*out)[0].as<std::int16_t>();
  EXPECT_EQ(y[0], 0);                                                       // 0 << 3 <= 1
  EXPECT_EQ(y[1], static_cast<std::int16_t>(sig::Log32(8, 64)));            // 1 << 3
  EXPECT_EQ(y[3], static_cast<std::int16_t>(sig::Log32(8000, 64)));         // 1000 << 3
  EXPECT_EQ(y[4], static_cast<std::int16_t>(sig::Log32(0xFFFFFFF8u, 64)));  // wraps as uint32
  SetInt(n, "output_scale", 1 << 20);  // saturates at INT16_MAX
  out = RunNode(n, {&it});
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ((*out)[0].as<std::int16_t>()[3], 32767);
  SetInt(n, "input_correction_bits", 32);
  EXPECT_FALSE(RunNode(n, {&it}).has_value());
}

}  // namespace
}  // namespace deepedge
