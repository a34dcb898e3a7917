// The single-precision matrix product behind the reference Conv, ConvTranspose, Gemm
// and MatMul kernels (implemented in nn.cc). Private to the engine; the tests use it
// directly to check and time it.
//
// Cache-blocked (GotoBLAS-style): A is packed into MR-row strips, B into NR-column
// strips, and a register-blocked MR x NR micro-kernel accumulates the product. The
// micro-kernel is picked once at run time for the CPU (AVX-512, AVX2+FMA, or the
// baseline vector unit).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/kernel.h"

namespace deepedge::engine::nn {

// C = alpha * op(A) * op(B) + beta * C for row-major matrices, where op(A) is m x k
// (A is m x k with leading dimension lda, or k x m when trans_a) and op(B) is k x n.
// beta == 0 means C is not read (it may hold garbage). Work is split over
// ctx->ParallelFor when ctx is not null and the product is large enough.
void Sgemm(KernelContext* ctx, bool trans_a, bool trans_b, std::int64_t m, std::int64_t n,
           std::int64_t k, float alpha, const float* a, std::int64_t lda, const float* b,
           std::int64_t ldb, float beta, float* c, std::int64_t ldc);

// The register-blocked micro-kernel behind Sgemm, for callers that lay out B in its
// packed form themselves and so skip Sgemm's packing (the Winograd convolution):
// fn(kc, a, lda, b, c, ldc, alpha, beta) sets c[mr x nr] (row stride ldc) to
// alpha * A * B + beta * c, where A is mr rows of kc floats, lda apart, b holds kc
// groups of nr floats (row p of an nr-column strip of B), and beta == 0 means c is not
// read. Stateless and thread-safe; the value stays valid for the process.
//
// fn_epilogue(kc, a, lda, b, c, ldc, bias, accumulate, clamp, lo, hi) is the same product
// with the epilogue of a convolution folded in: c = A * B + init, where init is c itself
// when accumulate (a later block of the depth), else the bias row (nr floats; null: 0);
// then, when clamp, each result is clamped to [lo, hi] (a fused Relu / Clip).
//
// fn_epilogue_half is fn_epilogue over the first nr / 2 columns only: b still holds kc
// groups of nr floats, of which it reads the first half; it writes mr x nr / 2 results.
// For a last column strip that is at most half used (24 output channels on the 16-wide
// AVX2 kernel): half the work, and the results can go straight to the output.
//
// fn_epilogue_short is fn_epilogue over the first mr / 2 rows only: a holds mr / 2 rows,
// and it writes mr / 2 x nr results. For a last row strip at most half used: a 7x7 map's
// 49 pixels are 14 + 14 + 14 + 7 rows on the 14-row AVX-512 kernel, and the last 7 would
// otherwise cost as much as 14.
struct SgemmMicroKernel {
  int mr;
  int nr;
  void (*fn)(std::int64_t kc, const float* a, std::int64_t lda, const float* b, float* c,
             std::int64_t ldc, float alpha, float beta);
  void (*fn_epilogue)(std::int64_t kc, const float* a, std::int64_t lda, const float* b, float* c,
                      std::int64_t ldc, const float* bias, bool accumulate, bool clamp, float lo,
                      float hi);
  void (*fn_epilogue_half)(std::int64_t kc, const float* a, std::int64_t lda, const float* b,
                           float* c, std::int64_t ldc, const float* bias, bool accumulate,
                           bool clamp, float lo, float hi);
  void (*fn_epilogue_short)(std::int64_t kc, const float* a, std::int64_t lda, const float* b,
                            float* c, std::int64_t ldc, const float* bias, bool accumulate,
                            bool clamp, float lo, float hi);
};
SgemmMicroKernel CurrentSgemmMicroKernel();

// How many columns the micro-kernels compute for each column strip of a product n
// columns wide, cut into strips of uk.nr: uk.nr, or uk.nr / 2 for a last strip at most
// half used. Built once per product (it divides by a run-time nr), read per tile.
class StripWidths {
 public:
  StripWidths(const SgemmMicroKernel& uk, std::size_t n)
      : nr_(static_cast<std::size_t>(uk.nr)),
        strips_((n + nr_ - 1) / nr_),
        last_(n % nr_ != 0 && n % nr_ <= nr_ / 2 ? nr_ / 2 : nr_) {}
  std::size_t operator()(std::size_t js) const { return js + 1 == strips_ ? last_ : nr_; }

 private:
  std::size_t nr_, strips_, last_;
};

// The epilogue kernel for a strip that many columns wide (uk.nr or uk.nr / 2).
inline auto EpilogueFor(const SgemmMicroKernel& uk, std::size_t columns) {
  return columns == static_cast<std::size_t>(uk.nr) ? uk.fn_epilogue : uk.fn_epilogue_half;
}

// How many rows the micro-kernels compute for a tile of a row strip with `rows_left`
// rows of the product left, in a column strip `columns` wide (StripWidths): uk.mr, or
// uk.mr / 2 for a last row strip at most half used in a strip of full width.
inline std::size_t TileRows(const SgemmMicroKernel& uk, std::size_t rows_left,
                            std::size_t columns) {
  const std::size_t mr = static_cast<std::size_t>(uk.mr);
  return rows_left <= mr / 2 && columns == static_cast<std::size_t>(uk.nr) ? mr / 2 : mr;
}

// The epilogue kernel for a tile that many rows high (TileRows) and columns wide.
inline auto EpilogueFor(const SgemmMicroKernel& uk, std::size_t rows, std::size_t columns) {
  return rows == static_cast<std::size_t>(uk.mr) ? EpilogueFor(uk, columns) : uk.fn_epilogue_short;
}

// "avx512 14x32", "avx2 6x16", "generic 4x8": the micro-kernel this CPU runs.
const char* SgemmKernelName();

// For tests and benchmarks: the micro-kernels this CPU can run (best first), and a way
// to force one of them for the whole process (false for an unknown name). Not for use
// while kernels run.
std::vector<std::string> SgemmKernelNames();
bool SetSgemmKernel(std::string_view name);

}  // namespace deepedge::engine::nn
