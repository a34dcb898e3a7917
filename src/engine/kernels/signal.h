// TensorFlow Lite Micro's audio "signal" operators (the micro_speech feature front end) as
// engine kernels, in domain kSignalDomain, with TFLM's fixed-point arithmetic: Window,
// FftAutoScale, Rfft (int16, kiss_fft's fixed-point scaling: the output is the DFT divided
// by fft_length), Energy, FilterBank, FilterBankSquareRoot, FilterBankSpectralSubtraction
// (stateful), PCAN, FilterBankLog. Node attributes carry the TFLite custom options under
// the same names.
//
// Unsigned tensors: the engine has no uint32 / uint64 dtypes, so uint32 values travel as
// i32 tensors and uint64 values as i64 tensors holding the same bits; these kernels read
// and write them as unsigned.
//
// The routines in namespace `signal` are the per-frame arithmetic, exposed for tests.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "deepedge/status.h"
#include "engine/kernel.h"

namespace deepedge::engine {

inline constexpr const char* kSignalDomain = "com.deepedge.signal";

// Registers the nine operators above in kSignalDomain (op types without TFLite's "Signal"
// prefix: "Window", "FftAutoScale", "Rfft", "Energy", "FilterBank", "FilterBankSquareRoot",
// "FilterBankSpectralSubtraction", "PCAN", "FilterBankLog").
void RegisterSignalKernels(KernelRegistry& r);

namespace signal {

// Bits needed to hold x (32 - clz); 32 for x == 0, as TFLM's GCC build does.
std::uint32_t MostSignificantBit32(std::uint32_t x);

// out[i] = saturate_int16((in[i] * window[i]) >> shift).
void ApplyWindow(std::span<const std::int16_t> in, std::span<const std::int16_t> window, int shift,
                 std::span<std::int16_t> out);

// Shifts `in` left by the most bits that keep its largest magnitude in int16; returns them.
int FftAutoScale(std::span<const std::int16_t> in, std::span<std::int16_t> out);

// Fixed-point real FFT of kiss_fft (FIXED_POINT 16): each radix-p stage divides by p with
// rounding, so out ~= DFT(in) / fft_length. fft_length: a power of two, 4..32768.
// Immutable after Make; Apply is safe from several threads at once.
class RfftInt16 {
 public:
  static Expected<RfftInt16> Make(int fft_length);
  int fft_length() const { return nfft_; }
  // `in`: fft_length samples; `out`: fft_length / 2 + 1 complex values, interleaved
  // (re, im). `scratch` is resized as needed.
  void Apply(const std::int16_t* in, std::int16_t* out, std::vector<std::int16_t>& scratch) const;

 private:
  struct Cpx {
    std::int16_t r, i;
  };
  void Work(Cpx* out, const Cpx* in, std::size_t fstride, const int* factors) const;
  void Butterfly2(Cpx* out, std::size_t fstride, int m) const;
  void Butterfly4(Cpx* out, std::size_t fstride, int m) const;

  int nfft_ = 0;   // real length
  int ncfft_ = 0;  // complex FFT length, nfft / 2
  std::vector<Cpx> twiddles_, super_twiddles_;
  std::vector<int> factors_;  // (radix, remaining length) pairs
};

// out[i] = re^2 + im^2 for i in [start, end) of the interleaved complex `spectrum`; other
// elements of `out` are set to 0.
void SpectrumToEnergy(std::span<const std::int16_t> spectrum, int start, int end,
                      std::span<std::uint32_t> out);

// Mel filter bank accumulation; `out` gets num_channels values (channel 0 of TFLM's
// num_channels + 1 scratch accumulators dropped). Index bounds are the caller's to check.
void FilterBank(std::span<const std::uint32_t> in, std::span<const std::int16_t> weights,
                std::span<const std::int16_t> unweights, std::span<const std::int16_t> freq_starts,
                std::span<const std::int16_t> weight_starts, std::span<const std::int16_t> widths,
                std::span<std::uint64_t> out);

// Rounded integer square root as TFLM's Sqrt64 (below 2^32 it saturates at 0xFFFF).
std::uint32_t Sqrt64(std::uint64_t x);

struct SpectralSubtractionConfig {
  std::uint32_t smoothing = 0, one_minus_smoothing = 0;
  std::uint32_t alternate_smoothing = 0, alternate_one_minus_smoothing = 0;
  int smoothing_bits = 0;             // 0..31
  int spectral_subtraction_bits = 0;  // 0..63
  std::uint32_t min_signal_remaining = 0;
  bool clamping = false;
};
// One frame: updates `noise` (the state) in place and writes `out`.
void SpectralSubtraction(const SpectralSubtractionConfig& c, std::span<const std::uint32_t> in,
                         std::span<std::uint32_t> noise, std::span<std::uint32_t> out);

// PCAN gain: lut needs kPcanLutSize entries.
inline constexpr std::size_t kPcanLutSize = 125;
std::int16_t WideDynamicFunction(std::uint32_t x, std::span<const std::int16_t> lut);
std::uint32_t PcanShrink(std::uint32_t x);
void Pcan(std::span<const std::uint32_t> in, std::span<const std::uint32_t> noise,
          std::span<const std::int16_t> lut, int snr_shift, std::span<std::uint32_t> out);

// Fixed-point natural log, scaled by out_scale (x >= 1).
std::uint32_t Log32(std::uint32_t x, std::uint32_t out_scale);
void FilterBankLog(std::span<const std::uint32_t> in, std::uint32_t output_scale,
                   int correction_bits, std::span<std::int16_t> out);

}  // namespace signal
}  // namespace deepedge::engine
