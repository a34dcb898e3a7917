// Tests of the neural-network kernels (nn.cc) against naive double-precision references
// written here. Each operator has a table of cases; the same table drives every check
// (single thread, several threads, every SGEMM micro-kernel the CPU runs).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/kernels/nn_sgemm.h"
#include "support/kernel_harness.h"

namespace deepedge {
namespace {

using i64 = std::int64_t;
using testing::F32;
using testing::MakeNode;
using testing::SetFloat;
using testing::SetInt;
using testing::SetInts;
using testing::SetString;

// ---------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------

// A KernelContext whose ParallelFor really runs on several threads (to catch races).
class ThreadedContext final : public engine::KernelContext {
 public:
  ThreadedContext(const ir::Node& node, std::vector<const Tensor*> inputs, int threads)
      : node_(node), inputs_(std::move(inputs)), outputs_(node.outputs.size()), threads_(threads) {}
  const ir::Node& node() const override { return node_; }
  std::size_t input_count() const override { return inputs_.size(); }
  const Tensor* input(std::size_t i) const override {
    return i < inputs_.size() ? inputs_[i] : nullptr;
  }
  std::size_t output_count() const override { return outputs_.size(); }
  bool output_wanted(std::size_t i) const override {
    return i < node_.outputs.size() && !node_.outputs[i].empty();
  }
  Expected<Tensor*> Output(std::size_t i, DType dtype, const Shape& shape) override {
    if (i >= outputs_.size()) return InvalidArgument("output index out of range");
    DEEPEDGE_ASSIGN_OR_RETURN(outputs_[i], Tensor::Allocate(dtype, shape));
    if (outputs_[i].byte_size() > 0) std::memset(outputs_[i].data(), 0xA5, outputs_[i].byte_size());
    return &outputs_[i];
  }
  int threads() const override { return threads_; }
  void ParallelFor(std::size_t n,
                   const std::function<void(std::size_t, std::size_t)>& fn) override {
    std::vector<std::thread> pool;
    const std::size_t t = static_cast<std::size_t>(threads_);
    for (std::size_t w = 0; w < t; ++w) {
      const std::size_t b = n * w / t;
      const std::size_t e = n * (w + 1) / t;
      if (b < e) pool.emplace_back([&fn, b, e] { fn(b, e); });
    }
    for (std::thread& th : pool) th.join();
  }
  Status RunSubgraph(const ir::Graph&, std::span<const Tensor* const>,
                     std::vector<Tensor>&) override {
    return Unsupported("no subgraphs");
  }
  std::vector<Tensor>& outputs() { return outputs_; }

 private:
  const ir::Node& node_;
  std::vector<const Tensor*> inputs_;
  std::vector<Tensor> outputs_;
  int threads_;
};

const engine::KernelRegistry& Registry() {
  static const engine::KernelRegistry* registry = [] {
    auto* r = new engine::KernelRegistry;
    engine::RegisterAllKernels(*r);
    return r;
  }();
  return *registry;
}

// threads == 1: the harness context; 0 < threads: uneven serial chunks (harness) for
// negative values, real threads for positive values > 1.
// `constant_inputs`: which inputs the kernel sees as constants (initializers) when it is
// prepared, as a session shows them (kernels may pack them then).
Expected<std::vector<Tensor>> RunOp(const ir::Node& node, std::vector<const Tensor*> inputs,
                                    int threads = 1, std::vector<bool> constant_inputs = {}) {
  ir::Graph graph;
  engine::PrepareContext prep{
      graph, std::abs(threads), [&](const std::string& name) -> const Tensor* {
        for (std::size_t i = 0; i < constant_inputs.size(); ++i) {
          if (constant_inputs[i] && i < node.inputs.size() && node.inputs[i] == name)
            return inputs[i];
        }
        return nullptr;
      }};
  DEEPEDGE_ASSIGN_OR_RETURN(std::unique_ptr<engine::OpKernel> kernel,
                            Registry().Create(node, prep));
  if (threads > 1) {
    ThreadedContext ctx(node, std::move(inputs), threads);
    DEEPEDGE_RETURN_IF_ERROR(kernel->Run(ctx));
    return std::move(ctx.outputs());
  }
  testing::SingleNodeContext ctx(node, std::move(inputs), std::abs(threads));
  DEEPEDGE_RETURN_IF_ERROR(kernel->Run(ctx));
  return std::move(ctx.outputs());
}

// Thread settings every case runs under: serial, uneven serial chunks, real threads.
constexpr int kThreadModes[] = {1, -3, 4};

std::vector<float> Random(i64 n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (float& x : v) x = dist(gen);
  return v;
}

i64 Count(const std::vector<i64>& dims) {
  i64 n = 1;
  for (i64 d : dims) n *= d;
  return n;
}

std::string Dims(const std::vector<i64>& d) {
  return Shape(d).ToString();
}

// |got - want| <= tol * (1 + |want|) everywhere; reports the first mismatch.
::testing::AssertionResult Close(const Tensor& got, const std::vector<i64>& shape,
                                 const std::vector<double>& want, double tol = 1e-4) {
  if (got.shape() != Shape(shape)) {
    return ::testing::AssertionFailure()
           << "shape " << got.shape().ToString() << ", expected " << Dims(shape);
  }
  std::vector<float> g;
  if (got.dtype() == DType::kF32) {
    g.assign(got.as<float>().begin(), got.as<float>().end());
  } else {
    for (std::uint16_t h : got.as<std::uint16_t>())
      g.push_back(got.dtype() == DType::kF16 ? F16ToF32(h) : BF16ToF32(h));
  }
  if (g.size() != want.size()) {
    return ::testing::AssertionFailure() << g.size() << " values, expected " << want.size();
  }
  for (std::size_t i = 0; i < g.size(); ++i) {
    const double d = std::abs(static_cast<double>(g[i]) - want[i]);
    if (!(d <= tol * (1 + std::abs(want[i])))) {
      return ::testing::AssertionFailure()
             << "element " << i << ": got " << g[i] << ", expected " << want[i];
    }
  }
  return ::testing::AssertionSuccess();
}

// Row-major multi-index iteration.
bool NextIndex(std::vector<i64>& idx, const std::vector<i64>& dims) {
  for (std::size_t i = dims.size(); i-- > 0;) {
    if (++idx[i] < dims[i]) return true;
    idx[i] = 0;
  }
  return false;
}

i64 Offset(const std::vector<i64>& idx, const std::vector<i64>& dims) {
  i64 o = 0;
  for (std::size_t i = 0; i < dims.size(); ++i) o = o * dims[i] + idx[i];
  return o;
}

// ---------------------------------------------------------------------------------
// SGEMM
// ---------------------------------------------------------------------------------

// Runs fn once per SGEMM micro-kernel this CPU supports.
template <class Fn>
void ForEachMicroKernel(Fn&& fn) {
  const std::string original = engine::nn::SgemmKernelName();
  for (const std::string& name : engine::nn::SgemmKernelNames()) {
    ASSERT_TRUE(engine::nn::SetSgemmKernel(name));
    SCOPED_TRACE("micro-kernel " + name);
    fn();
  }
  engine::nn::SetSgemmKernel(original);
}

struct GemmCase {
  bool ta, tb;
  i64 m, n, k;
  float alpha, beta;
  i64 pad;  // extra leading-dimension padding
};

TEST(SgemmTest, MatchesDoubleReferenceOnEveryMicroKernel) {
  const GemmCase cases[] = {
      {false, false, 1, 1, 1, 1, 0, 0},        {false, false, 7, 5, 3, 1, 0, 0},
      {true, false, 33, 17, 65, 0.5f, 2, 3},   {false, true, 64, 64, 64, 1, 1, 0},
      {true, true, 29, 47, 300, -1, 0.25f, 1}, {false, false, 130, 530, 600, 1, 0, 5},
      {false, true, 1, 37, 19, 2, 1, 0},       {true, false, 45, 1, 19, 1, 0.5f, 2},
      {false, false, 15, 33, 0, 1, 0.5f, 0},   {true, true, 200, 3, 7, 1, 0, 0},
      {false, false, 14, 32, 256, 1, 0, 0},    {false, false, 99, 385, 257, 1, 1, 0},
  };
  ForEachMicroKernel([&] {
    for (const GemmCase& c : cases) {
      const i64 lda = (c.ta ? c.m : c.k) + c.pad;
      const i64 ldb = (c.tb ? c.k : c.n) + c.pad;
      const i64 ldc = c.n + c.pad;
      std::vector<float> a = Random((c.ta ? c.k : c.m) * lda, 1);
      std::vector<float> b = Random((c.tb ? c.n : c.k) * ldb, 2);
      std::vector<float> cm = Random(c.m * ldc, 3);
      std::vector<double> ref(cm.begin(), cm.end());
      for (i64 i = 0; i < c.m; ++i)
        for (i64 j = 0; j < c.n; ++j) {
          double s = 0;
          for (i64 p = 0; p < c.k; ++p)
            s += static_cast<double>(c.ta ? a[p * lda + i] : a[i * lda + p]) *
                 (c.tb ? b[j * ldb + p] : b[p * ldb + j]);
          ref[i * ldc + j] = c.alpha * s + (c.beta == 0 ? 0.0 : c.beta * cm[i * ldc + j]);
        }
      if (c.beta == 0) std::fill(cm.begin(), cm.end(), std::nanf(""));  // C must not be read
      engine::nn::Sgemm(nullptr, c.ta, c.tb, c.m, c.n, c.k, c.alpha, a.data(), lda, b.data(), ldb,
                        c.beta, cm.data(), ldc);
      for (i64 i = 0; i < c.m; ++i)
        for (i64 j = 0; j < c.n; ++j) {
          const double want = ref[i * ldc + j];
          ASSERT_NEAR(cm[i * ldc + j], want, 1e-4 * (1 + std::abs(want)))
              << c.m << "x" << c.n << "x" << c.k << " at " << i << "," << j;
        }
    }
  });
}

// ---------------------------------------------------------------------------------
// Conv
// ---------------------------------------------------------------------------------

struct ConvCase {
  const char* name;
  std::vector<i64> x;  // N, C, spatial...
  i64 m;               // output channels
  i64 group;
  std::vector<i64> kernel;
  std::vector<i64> strides;    // empty: attribute absent
  std::vector<i64> dilations;  // empty: absent
  std::vector<i64> pads;       // empty: absent
  std::string auto_pad;        // empty: absent
  bool bias;
  bool kernel_shape_attr;
};

const std::vector<ConvCase>& ConvCases() {
  static const std::vector<ConvCase> cases = {
      {"basic 3x3 padded", {1, 1, 5, 5}, 1, 1, {3, 3}, {}, {}, {1, 1, 1, 1}, "", false, true},
      {"no padding", {1, 1, 5, 5}, 1, 1, {3, 3}, {}, {}, {}, "", false, false},
      {"strides, asymmetric pads",
       {1, 1, 7, 5},
       1,
       1,
       {3, 3},
       {2, 2},
       {},
       {1, 0, 1, 0},
       "",
       false,
       true},
      {"channels, bias, batch", {2, 3, 7, 5}, 4, 1, {3, 3}, {}, {}, {1, 1, 1, 1}, "", true, false},
      {"groups", {1, 4, 6, 6}, 6, 2, {3, 3}, {}, {}, {1, 1, 1, 1}, "", true, false},
      {"groups 3 strided",
       {2, 12, 6, 6},
       12,
       3,
       {3, 3},
       {2, 2},
       {},
       {1, 1, 1, 1},
       "",
       false,
       false},
      {"depthwise", {2, 8, 9, 7}, 8, 8, {3, 3}, {2, 2}, {}, {1, 1, 1, 1}, "", true, false},
      {"depthwise multiplier 2 dilated",
       {1, 3, 8, 7},
       6,
       3,
       {3, 3},
       {},
       {2, 2},
       {2, 1, 2, 1},
       "",
       true,
       false},
      {"depthwise 5x5 stride 2 dilation 2",
       {1, 4, 13, 11},
       4,
       4,
       {5, 5},
       {2, 2},
       {2, 2},
       {4, 4, 4, 4},
       "",
       false,
       false},
      {"single input channel", {1, 1, 6, 6}, 5, 1, {3, 3}, {}, {}, {1, 1, 1, 1}, "", true, false},
      // A spectrogram's STFT as a 1-D convolution: long kernel, few outputs.
      {"one channel, 1-D, 64 taps, stride 16",
       {2, 1, 200},
       17,
       1,
       {64},
       {16},
       {},
       {},
       "",
       true,
       false},
      // Depth over one packed block of 256 and output channels over one row block of the
      // product (with constant weights: the packed layout's block offsets).
      {"one channel, 1-D, 600 taps, 130 outputs",
       {1, 1, 1400},
       130,
       1,
       {600},
       {160},
       {},
       {},
       "",
       true,
       false},
      {"groups, depth 288", {1, 64, 6, 6}, 20, 2, {3, 3}, {}, {}, {1, 1, 1, 1}, "", true, false},
      {"dilation", {1, 2, 9, 9}, 3, 1, {3, 3}, {}, {2, 3}, {}, "", false, false},
      {"pointwise", {2, 16, 7, 5}, 8, 1, {1, 1}, {}, {}, {}, "", true, false},
      {"pointwise strided", {1, 8, 7, 7}, 4, 1, {1, 1}, {2, 2}, {}, {}, "", false, false},
      {"pointwise padded", {1, 3, 4, 4}, 2, 1, {1, 1}, {}, {}, {1, 1, 1, 1}, "", true, false},
      {"pointwise grouped", {1, 8, 5, 5}, 4, 2, {1, 1}, {}, {}, {}, "", false, false},
      {"SAME_UPPER", {1, 2, 7, 5}, 3, 1, {3, 3}, {2, 2}, {}, {}, "SAME_UPPER", true, false},
      {"SAME_LOWER even kernel",
       {1, 2, 7, 5},
       3,
       1,
       {4, 4},
       {2, 1},
       {},
       {},
       "SAME_LOWER",
       false,
       false},
      {"SAME_UPPER even kernel",
       {1, 2, 6, 6},
       3,
       1,
       {2, 2},
       {},
       {},
       {},
       "SAME_UPPER",
       false,
       false},
      {"VALID", {1, 2, 7, 6}, 3, 1, {3, 2}, {2, 2}, {}, {}, "VALID", false, false},
      {"NOTSET explicit", {1, 2, 5, 5}, 2, 1, {3, 3}, {}, {}, {0, 1, 2, 0}, "NOTSET", false, false},
      {"1-D", {2, 3, 11}, 4, 1, {3}, {2}, {}, {1, 2}, "", true, true},
      {"1-D grouped dilated", {1, 4, 13}, 4, 2, {3}, {}, {3}, {}, "", false, false},
      {"1-D depthwise", {1, 5, 10}, 5, 5, {4}, {3}, {}, {2, 1}, "", true, false},
      {"3-D", {1, 2, 5, 6, 4}, 3, 1, {3, 3, 2}, {1, 2, 1}, {}, {1, 0, 1, 1, 1, 0}, "", true, true},
      {"3-D depthwise", {1, 3, 4, 5, 5}, 3, 3, {2, 3, 3}, {}, {}, {}, "", false, false},
      {"3-D dilated SAME_UPPER",
       {2, 2, 5, 5, 5},
       2,
       1,
       {2, 2, 2},
       {2, 1, 1},
       {1, 2, 1},
       {},
       "SAME_UPPER",
       false,
       false},
      {"1x1 image", {1, 3, 1, 1}, 2, 1, {1, 1}, {}, {}, {}, "", true, false},
      {"kernel covers input", {1, 2, 3, 3}, 5, 1, {3, 3}, {}, {}, {}, "", false, false},
      {"1x7 kernel", {1, 4, 9, 9}, 8, 1, {1, 7}, {}, {}, {0, 3, 0, 3}, "", false, false},
      {"deep (K > one block)",
       {1, 64, 12, 12},
       40,
       1,
       {3, 3},
       {},
       {},
       {1, 1, 1, 1},
       "",
       true,
       false},
      {"wide (many pixels)",
       {1, 16, 20, 40},
       36,
       1,
       {3, 3},
       {},
       {},
       {1, 1, 1, 1},
       "",
       false,
       false},
      {"many output channels", {1, 8, 6, 6}, 130, 1, {3, 3}, {}, {}, {1, 1, 1, 1}, "", true, false},
      {"odd 7x5 strided 3", {3, 5, 7, 5}, 7, 1, {2, 3}, {3, 2}, {}, {1, 2, 0, 1}, "", true, false},
  };
  return cases;
}

struct Window {
  std::vector<i64> out, pb;
};

// Spatial output sizes and leading pads, from the ONNX formulas.
Window ForwardWindow(const std::vector<i64>& in, const std::vector<i64>& k,
                     const std::vector<i64>& s, const std::vector<i64>& d,
                     const std::vector<i64>& pads, const std::string& auto_pad, bool ceil_mode) {
  const std::size_t nd = in.size();
  Window w;
  for (std::size_t i = 0; i < nd; ++i) {
    const i64 dk = (k[i] - 1) * d[i] + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const i64 out = (in[i] + s[i] - 1) / s[i];
      const i64 total = std::max<i64>(0, (out - 1) * s[i] + dk - in[i]);
      w.out.push_back(out);
      w.pb.push_back(auto_pad == "SAME_UPPER" ? total / 2 : (total + 1) / 2);
    } else if (auto_pad == "VALID") {
      w.out.push_back((in[i] - dk) / s[i] + 1);
      w.pb.push_back(0);
    } else {
      const i64 b = pads.empty() ? 0 : pads[i];
      const i64 e = pads.empty() ? 0 : pads[i + nd];
      const double span = static_cast<double>(in[i] + b + e - dk) / static_cast<double>(s[i]);
      i64 out = static_cast<i64>(ceil_mode ? std::ceil(span) : std::floor(span)) + 1;
      if (ceil_mode && (out - 1) * s[i] >= in[i] + b) --out;
      w.out.push_back(out);
      w.pb.push_back(b);
    }
  }
  return w;
}

std::vector<i64> OrOnes(const std::vector<i64>& v, std::size_t n) {
  return v.empty() ? std::vector<i64>(n, 1) : v;
}

// Direct convolution in double.
std::vector<double> RefConv(const ConvCase& c, const std::vector<float>& x,
                            const std::vector<float>& w, const std::vector<float>& b,
                            std::vector<i64>& y_shape) {
  const std::size_t nd = c.kernel.size();
  const std::vector<i64> in(c.x.begin() + 2, c.x.end());
  const std::vector<i64> s = OrOnes(c.strides, nd);
  const std::vector<i64> d = OrOnes(c.dilations, nd);
  const Window win = ForwardWindow(in, c.kernel, s, d, c.pads, c.auto_pad, false);
  const i64 n = c.x[0], ch = c.x[1], cg = ch / c.group, mg = c.m / c.group;
  y_shape = {n, c.m};
  y_shape.insert(y_shape.end(), win.out.begin(), win.out.end());
  std::vector<double> y(static_cast<std::size_t>(Count(y_shape)));
  std::vector<i64> yi(y_shape.size(), 0);
  std::vector<i64> ki(nd, 0);
  do {
    const i64 nn = yi[0], m = yi[1], g = m / mg;
    double acc = c.bias ? b[static_cast<std::size_t>(m)] : 0.0;
    for (i64 cc = 0; cc < cg; ++cc) {
      std::fill(ki.begin(), ki.end(), 0);
      do {
        i64 xo = nn * ch + g * cg + cc;
        i64 wo = m * cg + cc;
        bool inside = true;
        for (std::size_t a = 0; a < nd; ++a) {
          const i64 p = yi[2 + a] * s[a] - win.pb[a] + ki[a] * d[a];
          inside = inside && p >= 0 && p < in[a];
          xo = xo * in[a] + p;
          wo = wo * c.kernel[a] + ki[a];
        }
        if (inside) {
          acc += static_cast<double>(x[static_cast<std::size_t>(xo)]) *
                 w[static_cast<std::size_t>(wo)];
        }
      } while (NextIndex(ki, c.kernel));
    }
    y[static_cast<std::size_t>(Offset(yi, y_shape))] = acc;
  } while (NextIndex(yi, y_shape));
  return y;
}

ir::Node ConvNode(const ConvCase& c) {
  ir::Node node = MakeNode("Conv", {"x", "w", c.bias ? "b" : ""}, {"y"}, 11);
  if (c.group != 1) SetInt(node, "group", c.group);
  if (c.kernel_shape_attr) SetInts(node, "kernel_shape", c.kernel);
  if (!c.strides.empty()) SetInts(node, "strides", c.strides);
  if (!c.dilations.empty()) SetInts(node, "dilations", c.dilations);
  if (!c.pads.empty()) SetInts(node, "pads", c.pads);
  if (!c.auto_pad.empty()) SetString(node, "auto_pad", c.auto_pad);
  return node;
}

void CheckConvCases(const std::vector<int>& thread_modes) {
  for (const ConvCase& c : ConvCases()) {
    SCOPED_TRACE(c.name);
    std::vector<i64> w_shape = {c.m, c.x[1] / c.group};
    w_shape.insert(w_shape.end(), c.kernel.begin(), c.kernel.end());
    const std::vector<float> xv = Random(Count(c.x), 11);
    const std::vector<float> wv = Random(Count(w_shape), 12);
    const std::vector<float> bv = Random(c.m, 13);
    Tensor x = F32(Shape(c.x), xv), w = F32(Shape(w_shape), wv), b = F32({c.m}, bv);
    std::vector<i64> y_shape;
    const std::vector<double> ref = RefConv(c, xv, wv, bv, y_shape);
    const ir::Node node = ConvNode(c);
    for (int threads : thread_modes) {
      // Weights computed at run time, and constant ones (packed when prepared).
      for (bool constant : {false, true}) {
        SCOPED_TRACE("threads " + std::to_string(threads) + (constant ? ", constant W" : ""));
        auto out = RunOp(node, {&x, &w, c.bias ? &b : nullptr}, threads, {false, constant, false});
        ASSERT_TRUE(out.has_value()) << out.status().message();
        EXPECT_TRUE(Close((*out)[0], y_shape, ref));
      }
    }
  }
}

TEST(ConvTest, MatchesDirectConvolution) {
  CheckConvCases({1, -3, 4});
}

TEST(ConvTest, MatchesDirectConvolutionOnEveryMicroKernel) {
  ForEachMicroKernel([] { CheckConvCases({1, 3}); });
}

// Weights packed for one micro-kernel when the session was prepared, run after another
// was chosen: the kernel must not read them in the wrong layout.
TEST(ConvTest, WeightsPackedForAnotherMicroKernelAreNotUsed) {
  const std::vector<std::string> kernels = engine::nn::SgemmKernelNames();
  if (kernels.size() < 2) GTEST_SKIP() << "this CPU has one micro-kernel";
  const std::string original = engine::nn::SgemmKernelName();
  const ConvCase& c = ConvCases()[3];
  std::vector<i64> w_shape = {c.m, c.x[1], 3, 3};
  const std::vector<float> xv = Random(Count(c.x), 21), wv = Random(Count(w_shape), 22),
                           bv = Random(c.m, 23);
  Tensor x = F32(Shape(c.x), xv), w = F32(Shape(w_shape), wv), b = F32({c.m}, bv);
  std::vector<i64> y_shape;
  const std::vector<double> ref = RefConv(c, xv, wv, bv, y_shape);
  const ir::Node node = ConvNode(c);
  ir::Graph graph;
  engine::PrepareContext prep{graph, 1, [&](const std::string& name) -> const Tensor* {
                                return name == "w" ? &w : nullptr;
                              }};
  ASSERT_TRUE(engine::nn::SetSgemmKernel(kernels.front()));
  auto kernel = Registry().Create(node, prep);
  ASSERT_TRUE(kernel.has_value()) << kernel.status().message();
  ASSERT_TRUE(engine::nn::SetSgemmKernel(kernels.back()));
  testing::SingleNodeContext ctx(node, {&x, &w, c.bias ? &b : nullptr}, 1);
  const Status st = (*kernel)->Run(ctx);
  engine::nn::SetSgemmKernel(original);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_TRUE(Close(ctx.outputs()[0], y_shape, ref));
}

TEST(ConvTest, HalfPrecisionInputs) {
  const ConvCase& c = ConvCases()[3];
  std::vector<i64> w_shape = {c.m, c.x[1], 3, 3};
  std::vector<float> xv = Random(Count(c.x), 1), wv = Random(Count(w_shape), 2),
                     bv = Random(c.m, 3);
  for (DType dt : {DType::kF16, DType::kBF16}) {
    auto to16 = [dt](std::vector<float>& v) {
      std::vector<std::uint16_t> h;
      for (float& f : v) {
        h.push_back(dt == DType::kF16 ? F32ToF16(f) : F32ToBF16(f));
        f = dt == DType::kF16 ? F16ToF32(h.back()) : BF16ToF32(h.back());
      }
      return h;
    };
    std::vector<float> xr = xv, wr = wv, br = bv;
    Tensor x = testing::MakeTensor(dt, Shape(c.x), to16(xr));
    Tensor w = testing::MakeTensor(dt, Shape(w_shape), to16(wr));
    Tensor b = testing::MakeTensor(dt, Shape{c.m}, to16(br));
    std::vector<i64> y_shape;
    const std::vector<double> ref = RefConv(c, xr, wr, br, y_shape);
    auto out = RunOp(ConvNode(c), {&x, &w, &b});
    ASSERT_TRUE(out.has_value()) << out.status().message();
    EXPECT_EQ((*out)[0].dtype(), dt);
    EXPECT_TRUE(Close((*out)[0], y_shape, ref, dt == DType::kF16 ? 4e-3 : 2e-2));
  }
}

void ExpectNodeError(const ir::Node& node, std::vector<const Tensor*> inputs,
                     const std::string& fragment) {
  auto out = RunOp(node, std::move(inputs));
  ASSERT_FALSE(out.has_value());
  EXPECT_NE(out.status().message().find("'" + node.name + "'"), std::string::npos)
      << out.status().message();
  EXPECT_NE(out.status().message().find(fragment), std::string::npos) << out.status().message();
}

TEST(ConvTest, ErrorsNameTheNode) {
  Tensor x = F32({1, 3, 5, 5}, Random(75, 1));
  Tensor w_bad_c = F32({2, 2, 3, 3}, Random(36, 2));
  Tensor w_bad_rank = F32({2, 3, 3}, Random(18, 2));
  Tensor w = F32({4, 3, 3, 3}, Random(108, 2));
  Tensor b_bad = F32({3}, {1, 2, 3});
  Tensor x2d = F32({3, 5}, Random(15, 1));
  ir::Node node = MakeNode("Conv", {"x", "w"}, {"y"});
  ExpectNodeError(node, {&x, &w_bad_c}, "channels");
  ExpectNodeError(node, {&x, &w_bad_rank}, "ranks differ");
  ExpectNodeError(node, {&x2d, &w}, "rank >= 3");
  ir::Node with_bias = MakeNode("Conv", {"x", "w", "b"}, {"y"});
  ExpectNodeError(with_bias, {&x, &w, &b_bad}, "B has shape");
  ir::Node grouped = node;
  SetInt(grouped, "group", 2);
  ExpectNodeError(grouped, {&x, &w}, "group");
  ir::Node big_kernel = node;
  Tensor w7 = F32({1, 3, 7, 7}, Random(147, 3));
  ExpectNodeError(big_kernel, {&x, &w7}, "larger than the padded input");
  ir::Node bad_pads = node;
  SetInts(bad_pads, "pads", {1, 1});
  ExpectNodeError(bad_pads, {&x, &w}, "pads");
  ir::Node bad_ks = node;
  SetInts(bad_ks, "kernel_shape", {2, 2});
  ExpectNodeError(bad_ks, {&x, &w}, "kernel_shape");
  ExpectNodeError(node, {&x}, "input 1 is missing");
}

// ---------------------------------------------------------------------------------
// ConvTranspose
// ---------------------------------------------------------------------------------

struct ConvTransposeCase {
  const char* name;
  std::vector<i64> x;
  i64 m;
  i64 group;
  std::vector<i64> kernel;
  std::vector<i64> strides;
  std::vector<i64> dilations;
  std::vector<i64> pads;
  std::vector<i64> output_padding;
  std::vector<i64> output_shape;
  std::string auto_pad;
  bool bias;
};

const std::vector<ConvTransposeCase>& ConvTransposeCases() {
  static const std::vector<ConvTransposeCase> cases = {
      {"basic", {1, 1, 3, 3}, 2, 1, {3, 3}, {}, {}, {}, {}, {}, "", false},
      {"strides, output_padding", {1, 2, 3, 4}, 3, 1, {3, 3}, {3, 2}, {}, {}, {1, 1}, {}, "", true},
      {"pads", {1, 2, 4, 4}, 2, 1, {3, 3}, {2, 2}, {}, {1, 1, 1, 1}, {}, {}, "", false},
      {"asymmetric pads", {2, 3, 4, 3}, 2, 1, {3, 2}, {2, 1}, {}, {1, 0, 0, 1}, {}, {}, "", true},
      {"dilations", {1, 1, 3, 3}, 1, 1, {2, 2}, {}, {2, 2}, {}, {}, {}, "", false},
      {"groups", {2, 4, 3, 3}, 6, 2, {3, 3}, {2, 2}, {}, {}, {}, {}, "", true},
      {"depthwise", {1, 4, 5, 5}, 4, 4, {3, 3}, {2, 2}, {}, {1, 1, 1, 1}, {1, 1}, {}, "", true},
      {"1-D", {1, 1, 3}, 2, 1, {3}, {}, {}, {}, {}, {}, "", false},
      {"1-D strided", {2, 3, 5}, 2, 1, {4}, {3}, {}, {1, 2}, {}, {}, "", true},
      {"3-D", {1, 2, 3, 4, 5}, 2, 1, {3, 3, 3}, {2, 1, 2}, {}, {}, {}, {}, "", true},
      {"output_shape", {1, 1, 3, 3}, 2, 1, {3, 3}, {3, 2}, {}, {}, {}, {10, 8}, "", false},
      {"output_shape SAME_UPPER",
       {1, 1, 3, 3},
       2,
       1,
       {3, 3},
       {3, 2},
       {},
       {},
       {},
       {10, 8},
       "SAME_UPPER",
       false},
      {"SAME_UPPER", {1, 1, 3, 3}, 2, 1, {3, 3}, {2, 2}, {}, {}, {}, {}, "SAME_UPPER", false},
      {"SAME_LOWER", {1, 2, 4, 3}, 2, 1, {4, 3}, {2, 3}, {}, {}, {}, {}, "SAME_LOWER", true},
      {"VALID", {1, 2, 4, 3}, 2, 1, {2, 3}, {2, 1}, {}, {}, {}, {}, "VALID", false},
      {"1x1 image", {1, 3, 1, 1}, 2, 1, {2, 2}, {}, {}, {}, {}, {}, "", true},
      {"larger", {1, 32, 8, 8}, 16, 1, {4, 4}, {2, 2}, {}, {1, 1, 1, 1}, {}, {}, "", true},
      {"many channels", {2, 40, 5, 5}, 33, 1, {3, 3}, {1, 1}, {}, {}, {}, {}, "", false},
  };
  return cases;
}

std::vector<double> RefConvTranspose(const ConvTransposeCase& c, const std::vector<float>& x,
                                     const std::vector<float>& w, const std::vector<float>& b,
                                     std::vector<i64>& y_shape) {
  const std::size_t nd = c.kernel.size();
  const std::vector<i64> in(c.x.begin() + 2, c.x.end());
  const std::vector<i64> s = OrOnes(c.strides, nd);
  const std::vector<i64> d = OrOnes(c.dilations, nd);
  std::vector<i64> out(nd), pb(nd);
  for (std::size_t i = 0; i < nd; ++i) {
    const i64 op = c.output_padding.empty() ? 0 : c.output_padding[i];
    const i64 full = s[i] * (in[i] - 1) + op + (c.kernel[i] - 1) * d[i] + 1;
    const bool same = c.auto_pad == "SAME_UPPER" || c.auto_pad == "SAME_LOWER";
    if (!c.output_shape.empty() || same) {
      out[i] = c.output_shape.empty() ? in[i] * s[i] : c.output_shape[i];
      const i64 total = std::max<i64>(0, full - out[i]);
      pb[i] = c.auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
    } else if (c.auto_pad == "VALID" || c.pads.empty()) {
      out[i] = full;
      pb[i] = 0;
    } else {
      out[i] = full - c.pads[i] - c.pads[i + nd];
      pb[i] = c.pads[i];
    }
  }
  const i64 n = c.x[0], ch = c.x[1], cg = ch / c.group, mg = c.m / c.group;
  y_shape = {n, c.m};
  y_shape.insert(y_shape.end(), out.begin(), out.end());
  std::vector<double> y(static_cast<std::size_t>(Count(y_shape)));
  std::vector<i64> yi(y_shape.size(), 0);
  do {
    y[static_cast<std::size_t>(Offset(yi, y_shape))] =
        c.bias ? b[static_cast<std::size_t>(yi[1])] : 0.0;
  } while (NextIndex(yi, y_shape));
  std::vector<i64> wdims = {ch, mg};
  wdims.insert(wdims.end(), c.kernel.begin(), c.kernel.end());
  std::vector<i64> xi(c.x.size(), 0);
  do {
    const i64 g = xi[1] / cg;
    for (i64 m = 0; m < mg; ++m) {
      std::vector<i64> ki(nd, 0);
      do {
        std::vector<i64> oi = {xi[0], g * mg + m};
        bool inside = true;
        for (std::size_t a = 0; a < nd; ++a) {
          const i64 p = xi[2 + a] * s[a] - pb[a] + ki[a] * d[a];
          inside = inside && p >= 0 && p < out[a];
          oi.push_back(p);
        }
        if (!inside) continue;
        std::vector<i64> wi = {xi[1], m};
        wi.insert(wi.end(), ki.begin(), ki.end());
        y[static_cast<std::size_t>(Offset(oi, y_shape))] +=
            static_cast<double>(x[static_cast<std::size_t>(Offset(xi, c.x))]) *
            w[static_cast<std::size_t>(Offset(wi, wdims))];
      } while (NextIndex(ki, c.kernel));
    }
  } while (NextIndex(xi, c.x));
  return y;
}

TEST(ConvTransposeTest, MatchesScatterReference) {
  for (const ConvTransposeCase& c : ConvTransposeCases()) {
    SCOPED_TRACE(c.name);
    std::vector<i64> w_shape = {c.x[1], c.m / c.group};
    w_shape.insert(w_shape.end(), c.kernel.begin(), c.kernel.end());
    const std::vector<float> xv = Random(Count(c.x), 21), wv = Random(Count(w_shape), 22),
                             bv = Random(c.m, 23);
    Tensor x = F32(Shape(c.x), xv), w = F32(Shape(w_shape), wv), b = F32({c.m}, bv);
    std::vector<i64> y_shape;
    const std::vector<double> ref = RefConvTranspose(c, xv, wv, bv, y_shape);
    ir::Node node = MakeNode("ConvTranspose", {"x", "w", c.bias ? "b" : ""}, {"y"}, 11);
    if (c.group != 1) SetInt(node, "group", c.group);
    if (!c.strides.empty()) SetInts(node, "strides", c.strides);
    if (!c.dilations.empty()) SetInts(node, "dilations", c.dilations);
    if (!c.pads.empty()) SetInts(node, "pads", c.pads);
    if (!c.output_padding.empty()) SetInts(node, "output_padding", c.output_padding);
    if (!c.output_shape.empty()) SetInts(node, "output_shape", c.output_shape);
    if (!c.auto_pad.empty()) SetString(node, "auto_pad", c.auto_pad);
    for (int threads : kThreadModes) {
      SCOPED_TRACE("threads " + std::to_string(threads));
      auto out = RunOp(node, {&x, &w, c.bias ? &b : nullptr}, threads);
      ASSERT_TRUE(out.has_value()) << out.status().message();
      EXPECT_TRUE(Close((*out)[0], y_shape, ref));
    }
  }
}

TEST(ConvTransposeTest, ErrorsNameTheNode) {
  Tensor x = F32({1, 3, 4, 4}, Random(48, 1));
  Tensor w_bad = F32({2, 2, 3, 3}, Random(36, 2));
  ir::Node node = MakeNode("ConvTranspose", {"x", "w"}, {"y"});
  ExpectNodeError(node, {&x, &w_bad}, "channels");
  Tensor w = F32({3, 2, 3, 3}, Random(54, 2));
  ir::Node pads = node;
  SetInts(pads, "pads", {4, 4, 4, 4});
  ExpectNodeError(pads, {&x, &w}, "negative size");
}

// ---------------------------------------------------------------------------------
// Pooling
// ---------------------------------------------------------------------------------

struct PoolCase {
  const char* name;
  std::vector<i64> x;
  std::vector<i64> kernel;
  std::vector<i64> strides;
  std::vector<i64> dilations;
  std::vector<i64> pads;
  std::string auto_pad;
  bool ceil_mode;
};

const std::vector<PoolCase>& PoolCases() {
  static const std::vector<PoolCase> cases = {
      {"2x2 stride 2", {1, 2, 6, 6}, {2, 2}, {2, 2}, {}, {}, "", false},
      {"3x3 padded, batch", {2, 3, 7, 5}, {3, 3}, {}, {}, {1, 1, 1, 1}, "", false},
      {"ceil_mode", {1, 1, 7, 7}, {3, 3}, {2, 2}, {}, {}, "", true},
      {"ceil_mode with pads", {1, 2, 6, 6}, {3, 3}, {2, 2}, {}, {1, 1, 1, 1}, "", true},
      {"ceil_mode drops window in padding",
       {1, 1, 5, 5},
       {2, 2},
       {2, 2},
       {},
       {0, 0, 1, 1},
       "",
       true},
      {"dilations", {1, 1, 8, 8}, {2, 2}, {}, {2, 2}, {}, "", false},
      {"dilations strided padded", {1, 2, 9, 8}, {3, 2}, {2, 2}, {2, 3}, {2, 1, 1, 2}, "", false},
      {"SAME_UPPER", {1, 1, 7, 5}, {3, 3}, {2, 2}, {}, {}, "SAME_UPPER", false},
      {"SAME_LOWER", {1, 2, 6, 5}, {2, 3}, {2, 1}, {}, {}, "SAME_LOWER", false},
      {"VALID", {1, 1, 7, 6}, {3, 2}, {2, 2}, {}, {}, "VALID", false},
      {"asymmetric pads", {1, 2, 5, 5}, {3, 2}, {}, {}, {1, 0, 2, 1}, "", false},
      {"1-D", {1, 2, 9}, {3}, {2}, {}, {1, 1}, "", false},
      {"1-D ceil", {2, 1, 10}, {4}, {3}, {}, {}, "", true},
      {"3-D", {1, 2, 4, 5, 6}, {2, 3, 2}, {2, 1, 2}, {}, {1, 1, 0, 0, 1, 1}, "", false},
      {"1x1 image", {1, 3, 1, 1}, {1, 1}, {}, {}, {}, "", false},
      {"odd 7x5", {3, 4, 7, 5}, {3, 2}, {2, 3}, {}, {1, 0, 1, 1}, "", true},
  };
  return cases;
}

enum class PoolOp { kMax, kAvg, kAvgIncludePad, kLp1, kLp2, kLp3 };

// Naive pooling; also fills `argmax` (row-major flat input index) for kMax.
std::vector<double> RefPool(const PoolCase& c, PoolOp op, const std::vector<float>& x,
                            std::vector<i64>& y_shape, std::vector<i64>* argmax) {
  const std::size_t nd = c.kernel.size();
  const std::vector<i64> in(c.x.begin() + 2, c.x.end());
  const std::vector<i64> s = OrOnes(c.strides, nd);
  const std::vector<i64> d = OrOnes(c.dilations, nd);
  const Window win = ForwardWindow(in, c.kernel, s, d, c.pads, c.auto_pad, c.ceil_mode);
  std::vector<i64> pe(nd, 0);
  for (std::size_t i = 0; i < nd; ++i) {
    if (c.auto_pad == "SAME_UPPER" || c.auto_pad == "SAME_LOWER") {
      pe[i] = std::max<i64>(0, (win.out[i] - 1) * s[i] + (c.kernel[i] - 1) * d[i] + 1 - in[i]) -
              win.pb[i];
    } else if (c.auto_pad.empty() && !c.pads.empty()) {
      pe[i] = c.pads[i + nd];
    }
  }
  y_shape = {c.x[0], c.x[1]};
  y_shape.insert(y_shape.end(), win.out.begin(), win.out.end());
  std::vector<double> y(static_cast<std::size_t>(Count(y_shape)));
  if (argmax) argmax->assign(y.size(), -1);
  std::vector<i64> yi(y_shape.size(), 0);
  do {
    double best = -1e300, sum = 0;
    i64 best_at = -1, valid = 0, incl = 0;
    std::vector<i64> ki(nd, 0);
    do {
      std::vector<i64> xi = {yi[0], yi[1]};
      bool inside = true, in_padded = true;
      for (std::size_t a = 0; a < nd; ++a) {
        const i64 p = yi[2 + a] * s[a] - win.pb[a] + ki[a] * d[a];
        inside = inside && p >= 0 && p < in[a];
        in_padded = in_padded && p < in[a] + pe[a];
        xi.push_back(p);
      }
      if (in_padded) ++incl;
      if (!inside) continue;
      const i64 off = Offset(xi, c.x);
      const double v = x[static_cast<std::size_t>(off)];
      ++valid;
      if (v > best) {
        best = v;
        best_at = off;
      }
      const double p = op == PoolOp::kLp1 ? 1 : op == PoolOp::kLp2 ? 2 : 3;
      sum += (op == PoolOp::kAvg || op == PoolOp::kAvgIncludePad) ? v : std::pow(std::abs(v), p);
    } while (NextIndex(ki, c.kernel));
    const std::size_t o = static_cast<std::size_t>(Offset(yi, y_shape));
    switch (op) {
      case PoolOp::kMax:
        y[o] = best;
        if (argmax) (*argmax)[o] = best_at;
        break;
      case PoolOp::kAvg:
        y[o] = sum / static_cast<double>(valid);
        break;
      case PoolOp::kAvgIncludePad:
        y[o] = sum / static_cast<double>(incl);
        break;
      case PoolOp::kLp1:
        y[o] = sum;
        break;
      case PoolOp::kLp2:
        y[o] = std::sqrt(sum);
        break;
      case PoolOp::kLp3:
        y[o] = std::cbrt(sum);
        break;
    }
  } while (NextIndex(yi, y_shape));
  return y;
}

ir::Node PoolNode(const PoolCase& c, const std::string& op,
                  std::vector<std::string> outputs = {"y"}) {
  ir::Node node = MakeNode(op, {"x"}, std::move(outputs), 12);
  SetInts(node, "kernel_shape", c.kernel);
  if (!c.strides.empty()) SetInts(node, "strides", c.strides);
  if (!c.dilations.empty()) SetInts(node, "dilations", c.dilations);
  if (!c.pads.empty()) SetInts(node, "pads", c.pads);
  if (!c.auto_pad.empty()) SetString(node, "auto_pad", c.auto_pad);
  if (c.ceil_mode) SetInt(node, "ceil_mode", 1);
  return node;
}

TEST(PoolTest, MaxPoolWithIndicesMatchesReference) {
  for (const PoolCase& c : PoolCases()) {
    SCOPED_TRACE(c.name);
    const std::vector<float> xv = Random(Count(c.x), 31);
    Tensor x = F32(Shape(c.x), xv);
    std::vector<i64> y_shape, argmax;
    const std::vector<double> ref = RefPool(c, PoolOp::kMax, xv, y_shape, &argmax);
    for (int threads : kThreadModes) {
      // With Indices (argmax path) and without (row-wise path).
      auto out = RunOp(PoolNode(c, "MaxPool", {"y", "i"}), {&x}, threads);
      ASSERT_TRUE(out.has_value()) << out.status().message();
      EXPECT_TRUE(Close((*out)[0], y_shape, ref, 0));
      ASSERT_EQ((*out)[1].dtype(), DType::kI64);
      const auto idx = (*out)[1].as<std::int64_t>();
      EXPECT_TRUE(std::equal(idx.begin(), idx.end(), argmax.begin(), argmax.end()));
      out = RunOp(PoolNode(c, "MaxPool", {"y"}), {&x}, threads);
      ASSERT_TRUE(out.has_value()) << out.status().message();
      EXPECT_TRUE(Close((*out)[0], y_shape, ref, 0));
      out = RunOp(PoolNode(c, "MaxPool", {"y", ""}), {&x}, threads);
      ASSERT_TRUE(out.has_value()) << out.status().message();
      EXPECT_TRUE(Close((*out)[0], y_shape, ref, 0));
    }
  }
}

TEST(PoolTest, MaxPoolColumnMajorIndicesAndIntegerInputs) {
  // 2-D, storage_order 1: index = n*C*H*W + c*H*W + h + w*H.
  const PoolCase c = {"", {2, 2, 5, 4}, {2, 2}, {2, 1}, {}, {}, "", false};
  const std::vector<float> xv = Random(Count(c.x), 32);
  Tensor x = F32(Shape(c.x), xv);
  ir::Node node = PoolNode(c, "MaxPool", {"y", "i"});
  SetInt(node, "storage_order", 1);
  std::vector<i64> y_shape, argmax;
  RefPool(c, PoolOp::kMax, xv, y_shape, &argmax);
  auto out = RunOp(node, {&x});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  const auto idx = (*out)[1].as<std::int64_t>();
  for (std::size_t i = 0; i < argmax.size(); ++i) {
    const i64 plane = argmax[i] / 20, hw = argmax[i] % 20, h = hw / 4, w = hw % 4;
    EXPECT_EQ(idx[i], plane * 20 + h + w * 5) << i;
  }
  // uint8 and int8 run natively.
  std::vector<std::uint8_t> u(static_cast<std::size_t>(Count(c.x)));
  std::vector<float> uf;
  for (std::size_t i = 0; i < u.size(); ++i) {
    u[i] = static_cast<std::uint8_t>((i * 37) % 251);
    uf.push_back(u[i]);
  }
  Tensor xu = testing::MakeTensor(DType::kU8, Shape(c.x), u);
  const std::vector<double> ref = RefPool(c, PoolOp::kMax, uf, y_shape, nullptr);
  auto outu = RunOp(PoolNode(c, "MaxPool"), {&xu});
  ASSERT_TRUE(outu.has_value()) << outu.status().message();
  ASSERT_EQ((*outu)[0].dtype(), DType::kU8);
  const auto yu = (*outu)[0].as<std::uint8_t>();
  for (std::size_t i = 0; i < ref.size(); ++i) EXPECT_EQ(yu[i], ref[i]) << i;
}

TEST(PoolTest, AveragePoolMatchesReference) {
  for (const PoolCase& c : PoolCases()) {
    if (!c.dilations.empty()) continue;  // AveragePool has no dilations before opset 19
    for (bool include_pad : {false, true}) {
      SCOPED_TRACE(std::string(c.name) + (include_pad ? " count_include_pad" : ""));
      const std::vector<float> xv = Random(Count(c.x), 33);
      Tensor x = F32(Shape(c.x), xv);
      std::vector<i64> y_shape;
      const std::vector<double> ref =
          RefPool(c, include_pad ? PoolOp::kAvgIncludePad : PoolOp::kAvg, xv, y_shape, nullptr);
      ir::Node node = PoolNode(c, "AveragePool");
      if (include_pad) SetInt(node, "count_include_pad", 1);
      for (int threads : kThreadModes) {
        auto out = RunOp(node, {&x}, threads);
        ASSERT_TRUE(out.has_value()) << out.status().message();
        EXPECT_TRUE(Close((*out)[0], y_shape, ref));
      }
    }
  }
}

TEST(PoolTest, LpPoolMatchesReference) {
  for (const PoolCase& c : PoolCases()) {
    if (!c.dilations.empty() || c.ceil_mode) continue;  // not in LpPool before opset 18
    for (int p : {1, 2, 3}) {
      SCOPED_TRACE(std::string(c.name) + " p=" + std::to_string(p));
      const std::vector<float> xv = Random(Count(c.x), 34);
      Tensor x = F32(Shape(c.x), xv);
      std::vector<i64> y_shape;
      const std::vector<double> ref = RefPool(c,
                                              p == 1   ? PoolOp::kLp1
                                              : p == 2 ? PoolOp::kLp2
                                                       : PoolOp::kLp3,
                                              xv, y_shape, nullptr);
      ir::Node node = PoolNode(c, "LpPool");
      SetInt(node, "p", p);
      auto out = RunOp(node, {&x});
      ASSERT_TRUE(out.has_value()) << out.status().message();
      EXPECT_TRUE(Close((*out)[0], y_shape, ref));
    }
  }
}

TEST(PoolTest, GlobalPools) {
  for (const std::vector<i64>& dims : std::vector<std::vector<i64>>{
           {2, 3, 5, 4}, {1, 2, 7}, {1, 1, 2, 3, 4}, {2, 5, 1, 1}, {1, 3, 40, 50}}) {
    SCOPED_TRACE(Dims(dims));
    const std::vector<float> xv = Random(Count(dims), 35);
    Tensor x = F32(Shape(dims), xv);
    const i64 planes = dims[0] * dims[1], vol = Count(dims) / planes;
    std::vector<double> avg, mx, lp;
    for (i64 p = 0; p < planes; ++p) {
      double s = 0, m = -1e300, l = 0;
      for (i64 i = 0; i < vol; ++i) {
        const double v = xv[static_cast<std::size_t>(p * vol + i)];
        s += v;
        m = std::max(m, v);
        l += v * v;
      }
      avg.push_back(s / static_cast<double>(vol));
      mx.push_back(m);
      lp.push_back(std::sqrt(l));
    }
    std::vector<i64> y_shape(dims.size(), 1);
    y_shape[0] = dims[0];
    y_shape[1] = dims[1];
    for (auto [op, ref] : {std::pair{"GlobalAveragePool", &avg}, std::pair{"GlobalMaxPool", &mx},
                           std::pair{"GlobalLpPool", &lp}}) {
      auto out = RunOp(MakeNode(op, {"x"}, {"y"}), {&x});
      ASSERT_TRUE(out.has_value()) << out.status().message();
      EXPECT_TRUE(Close((*out)[0], y_shape, *ref)) << op;
    }
  }
}

TEST(PoolTest, MaxRoiPool) {
  const std::vector<i64> dims = {2, 2, 6, 7};
  const std::vector<float> xv = Random(Count(dims), 36);
  Tensor x = F32(Shape(dims), xv);
  // batch, x1, y1, x2, y2 (scaled by 0.5)
  Tensor rois = F32({3, 5}, {0, 0, 0, 12, 10, 1, 2, 4, 7, 9, 0, 6, 6, 6, 6});
  ir::Node node = MakeNode("MaxRoiPool", {"x", "rois"}, {"y"});
  SetInts(node, "pooled_shape", {2, 3});
  SetFloat(node, "spatial_scale", 0.5f);
  auto out = RunOp(node, {&x, &rois});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  // Reference: Caffe-style bins.
  std::vector<double> ref;
  const float* r = rois.as<float>().data();
  for (int k = 0; k < 3; ++k) {
    const float* roi = r + k * 5;
    const i64 n = static_cast<i64>(roi[0]);
    const i64 x1 = std::lround(roi[1] * 0.5), y1 = std::lround(roi[2] * 0.5),
              x2 = std::lround(roi[3] * 0.5), y2 = std::lround(roi[4] * 0.5);
    const double bh = static_cast<double>(std::max<i64>(y2 - y1 + 1, 1)) / 2,
                 bw = static_cast<double>(std::max<i64>(x2 - x1 + 1, 1)) / 3;
    for (i64 c = 0; c < 2; ++c)
      for (i64 py = 0; py < 2; ++py)
        for (i64 px = 0; px < 3; ++px) {
          const i64 hs = std::clamp<i64>(static_cast<i64>(std::floor(py * bh)) + y1, 0, 6);
          const i64 he = std::clamp<i64>(static_cast<i64>(std::ceil((py + 1) * bh)) + y1, 0, 6);
          const i64 ws = std::clamp<i64>(static_cast<i64>(std::floor(px * bw)) + x1, 0, 7);
          const i64 we = std::clamp<i64>(static_cast<i64>(std::ceil((px + 1) * bw)) + x1, 0, 7);
          double m = (he <= hs || we <= ws) ? 0 : -1e300;
          for (i64 yy = hs; yy < he; ++yy)
            for (i64 xx = ws; xx < we; ++xx)
              m = std::max<double>(m,
                                   xv[static_cast<std::size_t>(((n * 2 + c) * 6 + yy) * 7 + xx)]);
          ref.push_back(m);
        }
  }
  EXPECT_TRUE(Close((*out)[0], {3, 2, 2, 3}, ref));
}

TEST(PoolTest, ErrorsNameTheNode) {
  Tensor x = F32({1, 1, 4, 4}, Random(16, 1));
  ExpectNodeError(MakeNode("MaxPool", {"x"}, {"y"}), {&x}, "kernel_shape");
  ir::Node big = MakeNode("AveragePool", {"x"}, {"y"});
  SetInts(big, "kernel_shape", {5, 5});
  ExpectNodeError(big, {&x}, "larger than the padded input");
  ir::Node bad_strides = MakeNode("MaxPool", {"x"}, {"y"});
  SetInts(bad_strides, "kernel_shape", {2, 2});
  SetInts(bad_strides, "strides", {1, 1, 1});
  ExpectNodeError(bad_strides, {&x}, "strides");
  Tensor x2 = F32({4, 4}, Random(16, 1));
  ir::Node ok = MakeNode("MaxPool", {"x"}, {"y"});
  SetInts(ok, "kernel_shape", {2, 2});
  ExpectNodeError(ok, {&x2}, "rank >= 3");
}

// ---------------------------------------------------------------------------------
// Gemm, MatMul
// ---------------------------------------------------------------------------------

TEST(GemmTest, AllTransposesAlphaBetaAndBiasShapes) {
  struct Size {
    i64 m, n, k;
  };
  const Size sizes[] = {{1, 1, 1},   {7, 5, 3},      {33, 65, 17},
                        {1, 40, 70}, {130, 70, 300}, {45, 1, 9}};
  auto c_shapes = [](i64 m, i64 n) {
    return std::vector<std::vector<i64>>{{}, {n}, {1, n}, {m, 1}, {m, n}, {1}, {1, 1}};
  };
  for (const Size& sz : sizes) {
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb)
        for (auto [alpha, beta] : {std::pair{1.0f, 1.0f}, std::pair{0.5f, 2.0f},
                                   std::pair{-1.5f, 0.0f}, std::pair{2.0f, -0.5f}}) {
          const std::vector<i64> a_shape =
              ta ? std::vector<i64>{sz.k, sz.m} : std::vector<i64>{sz.m, sz.k};
          const std::vector<i64> b_shape =
              tb ? std::vector<i64>{sz.n, sz.k} : std::vector<i64>{sz.k, sz.n};
          const std::vector<float> av = Random(Count(a_shape), 41), bv = Random(Count(b_shape), 42);
          Tensor a = F32(Shape(a_shape), av), b = F32(Shape(b_shape), bv);
          std::vector<std::vector<i64>> cs = c_shapes(sz.m, sz.n);
          cs.push_back({-1});  // no C
          for (const std::vector<i64>& c_shape : cs) {
            const bool has_c = c_shape.empty() || c_shape[0] != -1;
            SCOPED_TRACE(std::to_string(sz.m) + "x" + std::to_string(sz.n) + "x" +
                         std::to_string(sz.k) + " transA=" + std::to_string(ta) +
                         " transB=" + std::to_string(tb) + " alpha=" + std::to_string(alpha) +
                         " beta=" + std::to_string(beta) +
                         " C=" + (has_c ? Dims(c_shape) : "none"));
            const std::vector<float> cv = has_c ? Random(Count(c_shape), 43) : std::vector<float>{};
            Tensor c = has_c ? F32(Shape(c_shape), cv) : Tensor();
            std::vector<double> ref(static_cast<std::size_t>(sz.m * sz.n));
            for (i64 i = 0; i < sz.m; ++i)
              for (i64 j = 0; j < sz.n; ++j) {
                double s = 0;
                for (i64 p = 0; p < sz.k; ++p)
                  s += static_cast<double>(ta ? av[p * sz.m + i] : av[i * sz.k + p]) *
                       (tb ? bv[j * sz.k + p] : bv[p * sz.n + j]);
                double cval = 0;
                if (has_c) {
                  const i64 rows = c_shape.size() == 2 ? c_shape[0] : 1;
                  const i64 cols = c_shape.empty() ? 1 : c_shape.back();
                  cval = cv[static_cast<std::size_t>((rows == 1 ? 0 : i) * cols +
                                                     (cols == 1 ? 0 : j))];
                }
                ref[static_cast<std::size_t>(i * sz.n + j)] = alpha * s + beta * cval;
              }
            ir::Node node = MakeNode("Gemm", {"a", "b", has_c ? "c" : ""}, {"y"}, 13);
            SetInt(node, "transA", ta);
            SetInt(node, "transB", tb);
            SetFloat(node, "alpha", alpha);
            SetFloat(node, "beta", beta);
            for (int threads : {1, 3}) {
              auto out = RunOp(node, {&a, &b, has_c ? &c : nullptr}, threads);
              ASSERT_TRUE(out.has_value()) << out.status().message();
              ASSERT_TRUE(Close((*out)[0], {sz.m, sz.n}, ref));
            }
          }
        }
  }
}

TEST(GemmTest, ErrorsNameTheNode) {
  Tensor a = F32({2, 3}, Random(6, 1)), b = F32({4, 2}, Random(8, 2)),
         c = F32({3, 3}, Random(9, 3));
  ExpectNodeError(MakeNode("Gemm", {"a", "b"}, {"y"}), {&a, &b}, "inner dimensions");
  ir::Node tb = MakeNode("Gemm", {"a", "b", "c"}, {"y"});
  Tensor b2 = F32({3, 2}, Random(6, 2));
  ExpectNodeError(tb, {&a, &b2, &c}, "does not broadcast");
  Tensor v = F32({3}, Random(3, 4));
  ExpectNodeError(MakeNode("Gemm", {"a", "b"}, {"y"}), {&a, &v}, "matrices");
}

struct MatMulCase {
  std::vector<i64> a, b, y;
};

std::vector<double> RefMatMul(const MatMulCase& c, const std::vector<float>& a,
                              const std::vector<float>& b) {
  std::vector<i64> ad = c.a, bd = c.b;
  if (ad.size() == 1) ad.insert(ad.begin(), 1);
  if (bd.size() == 1) bd.push_back(1);
  const i64 m = ad[ad.size() - 2], k = ad.back(), n = bd.back();
  const std::size_t rank = std::max(ad.size(), bd.size());
  while (ad.size() < rank) ad.insert(ad.begin(), 1);
  while (bd.size() < rank) bd.insert(bd.begin(), 1);
  std::vector<i64> batch(rank - 2);
  for (std::size_t i = 0; i + 2 < rank; ++i) batch[i] = std::max(ad[i], bd[i]);
  std::vector<double> y;
  std::vector<i64> bi(batch.size(), 0);
  do {
    i64 ao = 0, bo = 0;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      ao = ao * ad[i] + (ad[i] == 1 ? 0 : bi[i]);
      bo = bo * bd[i] + (bd[i] == 1 ? 0 : bi[i]);
    }
    for (i64 i = 0; i < m; ++i)
      for (i64 j = 0; j < n; ++j) {
        double s = 0;
        for (i64 p = 0; p < k; ++p)
          s += static_cast<double>(a[static_cast<std::size_t>(ao * m * k + i * k + p)]) *
               b[static_cast<std::size_t>(bo * k * n + p * n + j)];
        y.push_back(s);
      }
  } while (!batch.empty() && NextIndex(bi, batch));
  return y;
}

TEST(MatMulTest, BroadcastingAndVectors) {
  const MatMulCase cases[] = {
      {{2, 3}, {3, 4}, {2, 4}},
      {{5}, {5}, {}},
      {{3}, {3, 4}, {4}},
      {{2, 3, 4}, {4}, {2, 3}},
      {{2, 1, 3, 4}, {5, 4, 6}, {2, 5, 3, 6}},
      {{4, 3, 5}, {5, 2}, {4, 3, 2}},
      {{1, 3, 5}, {4, 5, 2}, {4, 3, 2}},
      {{3, 5}, {2, 5, 7}, {2, 3, 7}},
      {{2, 70, 130}, {2, 130, 90}, {2, 70, 90}},
      {{3, 1, 20}, {3, 20, 33}, {3, 1, 33}},
      {{6, 17, 1}, {6, 1, 9}, {6, 17, 9}},
      {{1, 1}, {1, 1}, {1, 1}},
      {{2, 0, 3}, {3, 4}, {2, 0, 4}},
      // A recogniser's classifier on fewer classes: depth over one packed block (256),
      // columns over one column block (384) and not a multiple of the strips.
      {{1, 40, 300}, {300, 1000}, {1, 40, 1000}},
  };
  for (const MatMulCase& c : cases) {
    SCOPED_TRACE(Dims(c.a) + " x " + Dims(c.b));
    const std::vector<float> av = Random(Count(c.a), 51), bv = Random(Count(c.b), 52);
    Tensor a = F32(Shape(c.a), av), b = F32(Shape(c.b), bv);
    const std::vector<double> ref = RefMatMul(c, av, bv);
    for (int threads : kThreadModes) {
      // B computed at run time, and constant (packed when prepared).
      for (bool constant : {false, true}) {
        SCOPED_TRACE("threads " + std::to_string(threads) + (constant ? ", constant B" : ""));
        auto out =
            RunOp(MakeNode("MatMul", {"a", "b"}, {"y"}, 13), {&a, &b}, threads, {false, constant});
        ASSERT_TRUE(out.has_value()) << out.status().message();
        EXPECT_TRUE(Close((*out)[0], c.y, ref));
      }
    }
  }
}

TEST(MatMulTest, IntegersAndErrors) {
  Tensor a = testing::I32({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = testing::I32({3, 2}, {7, 8, 9, 10, 11, 12});
  auto out = RunOp(MakeNode("MatMul", {"a", "b"}, {"y"}), {&a, &b});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  const auto y = (*out)[0].as<std::int32_t>();
  EXPECT_EQ(std::vector<std::int32_t>(y.begin(), y.end()),
            (std::vector<std::int32_t>{58, 64, 139, 154}));
  Tensor f = F32({2, 4}, Random(8, 1)), g = F32({3, 2}, Random(6, 1));
  ExpectNodeError(MakeNode("MatMul", {"a", "b"}, {"y"}), {&f, &f}, "inner dimensions");
  Tensor p = F32({2, 2, 4}, Random(16, 1)), q = F32({3, 4, 2}, Random(24, 1));
  ExpectNodeError(MakeNode("MatMul", {"a", "b"}, {"y"}), {&p, &q}, "do not broadcast");
  ExpectNodeError(MakeNode("MatMul", {"a", "b"}, {"y"}), {&a, &f}, "i32");
}

// ---------------------------------------------------------------------------------
// Normalizations
// ---------------------------------------------------------------------------------

TEST(NormTest, BatchNormalizationInference) {
  for (const std::vector<i64>& dims :
       std::vector<std::vector<i64>>{{2, 3, 4, 5}, {1, 4}, {3, 2, 7}, {1, 2, 2, 3, 3}}) {
    SCOPED_TRACE(Dims(dims));
    const i64 c = dims[1], inner = Count(dims) / dims[0] / c;
    const std::vector<float> xv = Random(Count(dims), 61), s = Random(c, 62), b = Random(c, 63),
                             mean = Random(c, 64), var = Random(c, 65, 0.1f, 2.0f);
    Tensor x = F32(Shape(dims), xv), st = F32({c}, s), bt = F32({c}, b), mt = F32({c}, mean),
           vt = F32({c}, var);
    ir::Node node = MakeNode("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y"}, 15);
    SetFloat(node, "epsilon", 1e-3f);
    std::vector<double> ref;
    for (std::size_t i = 0; i < xv.size(); ++i) {
      const std::size_t ch = static_cast<std::size_t>((static_cast<i64>(i) / inner) % c);
      ref.push_back((xv[i] - mean[ch]) / std::sqrt(static_cast<double>(var[ch]) + 1e-3) * s[ch] +
                    b[ch]);
    }
    auto out = RunOp(node, {&x, &st, &bt, &mt, &vt});
    ASSERT_TRUE(out.has_value()) << out.status().message();
    EXPECT_TRUE(Close((*out)[0], dims, ref));
  }
}

TEST(NormTest, BatchNormalizationTrainingMode) {
  const std::vector<i64> dims = {2, 3, 4};
  const std::vector<float> xv = Random(24, 66), s = Random(3, 1), b = Random(3, 2),
                           mean = Random(3, 3), var = Random(3, 4, 0.5f, 1.0f);
  Tensor x = F32(Shape(dims), xv), st = F32({3}, s), bt = F32({3}, b), mt = F32({3}, mean),
         vt = F32({3}, var);
  ir::Node node = MakeNode("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y", "rm", "rv"}, 15);
  SetInt(node, "training_mode", 1);
  SetFloat(node, "momentum", 0.8f);
  std::vector<double> bm(3), bvar(3), y(24), rm(3), rv(3);
  for (int c = 0; c < 3; ++c) {
    double sum = 0, sq = 0;
    for (int n = 0; n < 2; ++n)
      for (int i = 0; i < 4; ++i) sum += xv[static_cast<std::size_t>((n * 3 + c) * 4 + i)];
    bm[c] = sum / 8;
    for (int n = 0; n < 2; ++n)
      for (int i = 0; i < 4; ++i)
        sq += std::pow(xv[static_cast<std::size_t>((n * 3 + c) * 4 + i)] - bm[c], 2);
    bvar[c] = sq / 8;
    rm[c] = mean[c] * 0.8 + bm[c] * 0.2;
    rv[c] = var[c] * 0.8 + bvar[c] * 0.2;
    for (int n = 0; n < 2; ++n)
      for (int i = 0; i < 4; ++i) {
        const std::size_t o = static_cast<std::size_t>((n * 3 + c) * 4 + i);
        y[o] = (xv[o] - bm[c]) / std::sqrt(bvar[c] + 1e-5) * s[c] + b[c];
      }
  }
  auto out = RunOp(node, {&x, &st, &bt, &mt, &vt});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  EXPECT_TRUE(Close((*out)[0], dims, y));
  EXPECT_TRUE(Close((*out)[1], {3}, rm));
  EXPECT_TRUE(Close((*out)[2], {3}, rv));
}

TEST(NormTest, InstanceNormalization) {
  for (const std::vector<i64>& dims :
       std::vector<std::vector<i64>>{{2, 3, 4, 5}, {1, 2, 9}, {2, 2, 2, 3, 3}}) {
    SCOPED_TRACE(Dims(dims));
    const i64 c = dims[1], inner = Count(dims) / dims[0] / c;
    const std::vector<float> xv = Random(Count(dims), 71, -3, 5), s = Random(c, 72),
                             b = Random(c, 73);
    Tensor x = F32(Shape(dims), xv), st = F32({c}, s), bt = F32({c}, b);
    ir::Node node = MakeNode("InstanceNormalization", {"x", "s", "b"}, {"y"});
    SetFloat(node, "epsilon", 1e-2f);
    std::vector<double> ref(xv.size());
    for (i64 p = 0; p < dims[0] * c; ++p) {
      double mu = 0, var = 0;
      for (i64 i = 0; i < inner; ++i) mu += xv[static_cast<std::size_t>(p * inner + i)];
      mu /= static_cast<double>(inner);
      for (i64 i = 0; i < inner; ++i)
        var += std::pow(xv[static_cast<std::size_t>(p * inner + i)] - mu, 2);
      var /= static_cast<double>(inner);
      for (i64 i = 0; i < inner; ++i) {
        const std::size_t o = static_cast<std::size_t>(p * inner + i);
        ref[o] = (xv[o] - mu) / std::sqrt(var + 1e-2) * s[static_cast<std::size_t>(p % c)] +
                 b[static_cast<std::size_t>(p % c)];
      }
    }
    auto out = RunOp(node, {&x, &st, &bt});
    ASSERT_TRUE(out.has_value()) << out.status().message();
    EXPECT_TRUE(Close((*out)[0], dims, ref));
  }
}

TEST(NormTest, LayerNormalizationAxesAndStatistics) {
  const std::vector<i64> dims = {2, 3, 4, 5};
  const std::vector<float> xv = Random(Count(dims), 81, -2, 3);
  Tensor x = F32(Shape(dims), xv);
  for (i64 axis : {-1, -2, 0, 1, 2, 3}) {
    for (bool bias : {true, false}) {
      SCOPED_TRACE("axis " + std::to_string(axis) + (bias ? " with B" : ""));
      const i64 a = axis < 0 ? axis + 4 : axis;
      const std::vector<i64> norm(dims.begin() + a, dims.end());
      const i64 rows = Count(std::vector<i64>(dims.begin(), dims.begin() + a)), cols = Count(norm);
      const std::vector<float> s = Random(cols, 82), b = Random(cols, 83);
      Tensor st = F32(Shape(norm), s), bt = F32(Shape(norm), b);
      ir::Node node =
          MakeNode("LayerNormalization", {"x", "s", bias ? "b" : ""}, {"y", "mean", "inv"});
      SetInt(node, "axis", axis);
      SetFloat(node, "epsilon", 1e-3f);
      std::vector<double> ref(xv.size()), means, invs;
      for (i64 r = 0; r < rows; ++r) {
        double mu = 0, var = 0;
        for (i64 i = 0; i < cols; ++i) mu += xv[static_cast<std::size_t>(r * cols + i)];
        mu /= static_cast<double>(cols);
        for (i64 i = 0; i < cols; ++i)
          var += std::pow(xv[static_cast<std::size_t>(r * cols + i)] - mu, 2);
        var /= static_cast<double>(cols);
        const double inv = 1 / std::sqrt(var + 1e-3);
        means.push_back(mu);
        invs.push_back(inv);
        for (i64 i = 0; i < cols; ++i) {
          const std::size_t o = static_cast<std::size_t>(r * cols + i);
          ref[o] = (xv[o] - mu) * inv * s[static_cast<std::size_t>(i)] +
                   (bias ? b[static_cast<std::size_t>(i)] : 0.0);
        }
      }
      std::vector<i64> stat_dims = dims;
      for (std::size_t i = static_cast<std::size_t>(a); i < 4; ++i) stat_dims[i] = 1;
      for (int threads : kThreadModes) {
        auto out = RunOp(node, {&x, &st, bias ? &bt : nullptr}, threads);
        ASSERT_TRUE(out.has_value()) << out.status().message();
        EXPECT_TRUE(Close((*out)[0], dims, ref));
        EXPECT_TRUE(Close((*out)[1], stat_dims, means));
        EXPECT_TRUE(Close((*out)[2], stat_dims, invs));
      }
    }
  }
  // Scale broadcast over the normalized shape.
  Tensor s1 = F32({5}, {1, 2, 3, 4, 5});
  ir::Node node = MakeNode("LayerNormalization", {"x", "s"}, {"y"});
  SetInt(node, "axis", 2);
  auto out = RunOp(node, {&x, &s1});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  Tensor bad = F32({3}, {1, 2, 3});
  ExpectNodeError(node, {&x, &bad}, "does not broadcast");
}

TEST(NormTest, Lrn) {
  for (i64 size : {1, 3, 4, 5}) {
    SCOPED_TRACE("size " + std::to_string(size));
    const std::vector<i64> dims = {2, 6, 3, 4};
    const std::vector<float> xv = Random(Count(dims), 91, -2, 2);
    Tensor x = F32(Shape(dims), xv);
    ir::Node node = MakeNode("LRN", {"x"}, {"y"});
    SetInt(node, "size", size);
    SetFloat(node, "alpha", 0.02f);
    SetFloat(node, "beta", 0.6f);
    SetFloat(node, "bias", 1.5f);
    std::vector<double> ref(xv.size());
    const i64 inner = 12;
    for (i64 n = 0; n < 2; ++n)
      for (i64 c = 0; c < 6; ++c)
        for (i64 i = 0; i < inner; ++i) {
          double sq = 0;
          for (i64 j = std::max<i64>(0, c - (size - 1) / 2); j <= std::min<i64>(5, c + size / 2);
               ++j)
            sq += std::pow(xv[static_cast<std::size_t>((n * 6 + j) * inner + i)], 2);
          const std::size_t o = static_cast<std::size_t>((n * 6 + c) * inner + i);
          ref[o] = xv[o] / std::pow(1.5 + 0.02 / static_cast<double>(size) * sq, 0.6);
        }
    auto out = RunOp(node, {&x});
    ASSERT_TRUE(out.has_value()) << out.status().message();
    EXPECT_TRUE(Close((*out)[0], dims, ref));
  }
}

TEST(NormTest, MeanVarianceNormalization) {
  const std::vector<i64> dims = {2, 3, 4, 5};
  const std::vector<float> xv = Random(Count(dims), 92, -1, 4);
  Tensor x = F32(Shape(dims), xv);
  for (const std::vector<i64>& axes :
       std::vector<std::vector<i64>>{{}, {1}, {2, 3}, {0, 1, 2, 3}, {-1}}) {
    SCOPED_TRACE(axes.empty() ? std::string("default") : Dims(axes));
    const std::vector<i64> used = axes.empty() ? std::vector<i64>{0, 2, 3} : axes;
    std::vector<bool> reduced(4, false);
    for (i64 a : used) reduced[static_cast<std::size_t>(a < 0 ? a + 4 : a)] = true;
    auto key = [&](const std::vector<i64>& idx) {
      i64 k = 0;
      for (std::size_t i = 0; i < 4; ++i) k = k * dims[i] + (reduced[i] ? 0 : idx[i]);
      return k;
    };
    std::vector<double> sum(static_cast<std::size_t>(Count(dims))), sq(sum.size()), cnt(sum.size());
    std::vector<i64> idx(4, 0);
    do {
      const double v = xv[static_cast<std::size_t>(Offset(idx, dims))];
      sum[static_cast<std::size_t>(key(idx))] += v;
      sq[static_cast<std::size_t>(key(idx))] += v * v;
      cnt[static_cast<std::size_t>(key(idx))] += 1;
    } while (NextIndex(idx, dims));
    std::vector<double> ref(xv.size());
    do {
      const std::size_t k = static_cast<std::size_t>(key(idx));
      const double mu = sum[k] / cnt[k], var = sq[k] / cnt[k] - mu * mu;
      ref[static_cast<std::size_t>(Offset(idx, dims))] =
          (xv[static_cast<std::size_t>(Offset(idx, dims))] - mu) / (std::sqrt(var) + 1e-9);
    } while (NextIndex(idx, dims));
    ir::Node node = MakeNode("MeanVarianceNormalization", {"x"}, {"y"}, 13);
    if (!axes.empty()) SetInts(node, "axes", axes);
    auto out = RunOp(node, {&x});
    ASSERT_TRUE(out.has_value()) << out.status().message();
    EXPECT_TRUE(Close((*out)[0], dims, ref));
  }
}

// ---------------------------------------------------------------------------------
// Softmax family
// ---------------------------------------------------------------------------------

enum class SmKind { kSoftmax, kLog, kHard };

// Normalises groups of `n` values at stride `inner`.
std::vector<double> RefSoftmax(const std::vector<float>& x, i64 outer, i64 n, i64 inner,
                               SmKind kind) {
  std::vector<double> y(x.size());
  for (i64 o = 0; o < outer; ++o)
    for (i64 i = 0; i < inner; ++i) {
      auto at = [&](i64 j) { return static_cast<std::size_t>((o * n + j) * inner + i); };
      double mx = x[at(0)];
      i64 arg = 0;
      for (i64 j = 1; j < n; ++j)
        if (x[at(j)] > mx) {
          mx = x[at(j)];
          arg = j;
        }
      double s = 0;
      for (i64 j = 0; j < n; ++j) s += std::exp(x[at(j)] - mx);
      for (i64 j = 0; j < n; ++j) {
        if (kind == SmKind::kSoftmax) y[at(j)] = std::exp(x[at(j)] - mx) / s;
        if (kind == SmKind::kLog) y[at(j)] = x[at(j)] - mx - std::log(s);
        if (kind == SmKind::kHard) y[at(j)] = j == arg ? 1 : 0;
      }
    }
  return y;
}

TEST(SoftmaxTest, BothOpsetSemantics) {
  const std::vector<i64> dims = {2, 3, 4, 5};
  std::vector<float> xv = Random(Count(dims), 101, -5, 5);
  xv[7] = 1000;  // stability
  xv[8] = 1000;  // and a tie for Hardmax
  Tensor x = F32(Shape(dims), xv);
  const std::pair<const char*, SmKind> ops[] = {
      {"Softmax", SmKind::kSoftmax}, {"LogSoftmax", SmKind::kLog}, {"Hardmax", SmKind::kHard}};
  for (auto [op, kind] : ops) {
    for (int opset : {11, 13}) {
      for (i64 axis : {-100, -4, -3, -2, -1, 0, 1, 2, 3}) {
        const bool given = axis != -100;
        const i64 eff = given ? axis : (opset >= 13 ? -1 : 1);
        const i64 a = eff < 0 ? eff + 4 : eff;
        SCOPED_TRACE(std::string(op) + " opset " + std::to_string(opset) + " axis " +
                     (given ? std::to_string(axis) : "default"));
        const i64 outer = Count(std::vector<i64>(dims.begin(), dims.begin() + a));
        const i64 n = opset >= 13 ? dims[static_cast<std::size_t>(a)]
                                  : Count(std::vector<i64>(dims.begin() + a, dims.end()));
        const i64 inner = Count(dims) / outer / n;
        const std::vector<double> ref = RefSoftmax(xv, outer, n, inner, kind);
        ir::Node node = MakeNode(op, {"x"}, {"y"}, opset);
        if (given) SetInt(node, "axis", axis);
        for (int threads : kThreadModes) {
          auto out = RunOp(node, {&x}, threads);
          ASSERT_TRUE(out.has_value()) << out.status().message();
          EXPECT_TRUE(Close((*out)[0], dims, ref));
        }
      }
    }
  }
  ir::Node bad = MakeNode("Softmax", {"x"}, {"y"}, 13);
  SetInt(bad, "axis", 4);
  ExpectNodeError(bad, {&x}, "axis");
}

// ---------------------------------------------------------------------------------
// Resize, Upsample
// ---------------------------------------------------------------------------------

struct ResizeCase {
  const char* name;
  std::vector<i64> x;
  std::string mode, coord, nearest;
  std::vector<float> scales;
  std::vector<i64> sizes;
  std::vector<float> roi;
  float cubic_a = -0.75f;
  bool exclude_outside = false;
  float extrapolation = 0;
};

// Weights for one output coordinate along one axis (independent of the kernel's code).
// `out` is the unfloored output length (in * scale, or the requested size), as in ONNX's
// reference implementation.
std::vector<std::pair<i64, double>> RefTaps(const ResizeCase& c, i64 in, double out, double scale,
                                            double rs, double re, i64 o, bool& extrapolate) {
  const std::string coord = c.coord.empty() ? "half_pixel" : c.coord;
  double x = 0;
  if (coord == "half_pixel") x = (o + 0.5) / scale - 0.5;
  if (coord == "pytorch_half_pixel") x = out > 1 ? (o + 0.5) / scale - 0.5 : 0;
  if (coord == "align_corners") x = out > 1 ? o * (in - 1.0) / (out - 1.0) : 0;
  if (coord == "asymmetric") x = o / scale;
  if (coord == "tf_half_pixel_for_nn") x = (o + 0.5) / scale;
  if (coord == "tf_crop_and_resize")
    x = out > 1 ? rs * (in - 1) + o * (re - rs) * (in - 1) / (out - 1.0)
                : 0.5 * (rs + re) * (in - 1);
  extrapolate = coord == "tf_crop_and_resize" && (x < 0 || x > in - 1);
  auto clampi = [in](i64 v) { return std::clamp<i64>(v, 0, in - 1); };
  const std::string mode = c.mode.empty() ? "nearest" : c.mode;
  if (mode == "nearest") {
    const std::string nm = c.nearest.empty() ? "round_prefer_floor" : c.nearest;
    double r = 0;
    if (nm == "round_prefer_floor") r = (x - std::floor(x) == 0.5) ? std::floor(x) : std::round(x);
    if (nm == "round_prefer_ceil") r = (x - std::floor(x) == 0.5) ? std::ceil(x) : std::round(x);
    if (nm == "floor") r = std::floor(x);
    if (nm == "ceil") r = std::ceil(x);
    return {{clampi(static_cast<i64>(r)), 1.0}};
  }
  if (mode == "linear") {
    const double xc = std::clamp(x, 0.0, in - 1.0);
    const i64 x0 = static_cast<i64>(std::floor(xc));
    return {{x0, 1 - (xc - x0)}, {clampi(x0 + 1), xc - x0}};
  }
  const double a = c.cubic_a, x0 = std::floor(x), t = x - x0;
  auto w = [a](double s) {
    s = std::abs(s);
    if (s <= 1) return (a + 2) * s * s * s - (a + 3) * s * s + 1;
    if (s < 2) return a * s * s * s - 5 * a * s * s + 8 * a * s - 4 * a;
    return 0.0;
  };
  std::vector<std::pair<i64, double>> taps;
  double sum = 0;
  for (int q = -1; q <= 2; ++q) {
    const i64 idx = static_cast<i64>(x0) + q;
    double wq = w(t - q);
    if (c.exclude_outside && (idx < 0 || idx >= in)) wq = 0;
    sum += wq;
    taps.push_back({clampi(idx), wq});
  }
  if (c.exclude_outside)
    for (auto& tp : taps) tp.second /= sum;
  return taps;
}

std::vector<double> RefResize(const ResizeCase& c, const std::vector<float>& x,
                              std::vector<i64>& y_shape) {
  const std::size_t rank = c.x.size();
  std::vector<double> scale(rank);
  y_shape.assign(rank, 0);
  for (std::size_t i = 0; i < rank; ++i) {
    if (!c.sizes.empty()) {
      y_shape[i] = c.sizes[i];
      scale[i] = static_cast<double>(c.sizes[i]) / static_cast<double>(c.x[i]);
    } else {
      scale[i] = c.scales[i];
      y_shape[i] = static_cast<i64>(std::floor(c.x[i] * scale[i]));
    }
  }
  std::vector<double> y(static_cast<std::size_t>(Count(y_shape)));
  std::vector<i64> yi(rank, 0);
  do {
    std::vector<std::vector<std::pair<i64, double>>> taps(rank);
    bool extrapolate = false;
    for (std::size_t a = 0; a < rank; ++a) {
      bool e = false;
      const double out_len = c.sizes.empty() ? static_cast<double>(c.x[a]) * c.scales[a]
                                             : static_cast<double>(c.sizes[a]);
      taps[a] = RefTaps(c, c.x[a], out_len, scale[a], c.roi.empty() ? 0 : c.roi[a],
                        c.roi.empty() ? 1 : c.roi[a + rank], yi[a], e);
      extrapolate = extrapolate || e;
    }
    double v = 0;
    if (extrapolate) {
      v = c.extrapolation;
    } else {
      std::vector<i64> ti(rank, 0), tdims(rank);
      for (std::size_t a = 0; a < rank; ++a) tdims[a] = static_cast<i64>(taps[a].size());
      do {
        double wgt = 1;
        std::vector<i64> xi(rank);
        for (std::size_t a = 0; a < rank; ++a) {
          xi[a] = taps[a][static_cast<std::size_t>(ti[a])].first;
          wgt *= taps[a][static_cast<std::size_t>(ti[a])].second;
        }
        v += wgt * x[static_cast<std::size_t>(Offset(xi, c.x))];
      } while (NextIndex(ti, tdims));
    }
    y[static_cast<std::size_t>(Offset(yi, y_shape))] = v;
  } while (NextIndex(yi, y_shape));
  return y;
}

TEST(ResizeTest, ModesAndCoordinateTransforms) {
  std::vector<ResizeCase> cases;
  const std::vector<i64> x4 = {1, 2, 4, 5};
  for (const char* coord : {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                            "tf_half_pixel_for_nn"}) {
    for (const char* nm : {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"}) {
      cases.push_back({"nearest up", x4, "nearest", coord, nm, {1, 1, 2, 3}, {}, {}});
      cases.push_back({"nearest down", x4, "nearest", coord, nm, {1, 1, 0.6f, 0.5f}, {}, {}});
      cases.push_back({"nearest sizes", x4, "nearest", coord, nm, {}, {1, 2, 7, 3}, {}});
    }
    if (std::string(coord) == "tf_half_pixel_for_nn") continue;
    cases.push_back({"linear up", x4, "linear", coord, "", {1, 1, 2, 1.5f}, {}, {}});
    cases.push_back({"linear down", x4, "linear", coord, "", {1, 1, 0.5f, 0.6f}, {}, {}});
    cases.push_back({"linear sizes", x4, "linear", coord, "", {}, {1, 2, 3, 8}, {}});
    cases.push_back({"linear to 1", x4, "linear", coord, "", {}, {1, 2, 1, 1}, {}});
    cases.push_back({"cubic up", x4, "cubic", coord, "", {1, 1, 2, 2}, {}, {}});
    cases.push_back({"cubic sizes", x4, "cubic", coord, "", {}, {1, 2, 3, 9}, {}});
  }
  cases.push_back({"cubic A=-0.5 exclude_outside",
                   x4,
                   "cubic",
                   "half_pixel",
                   "",
                   {1, 1, 1.7f, 0.8f},
                   {},
                   {},
                   -0.5f,
                   true});
  cases.push_back({"cubic down exclude_outside",
                   {1, 1, 8, 8},
                   "cubic",
                   "",
                   "",
                   {1, 1, 0.8f, 0.8f},
                   {},
                   {},
                   -0.75f,
                   true});
  cases.push_back({"tf_crop_and_resize linear",
                   x4,
                   "linear",
                   "tf_crop_and_resize",
                   "",
                   {},
                   {1, 2, 3, 3},
                   {0, 0, 0.4f, 0.6f, 1, 1, 0.6f, 0.8f}});
  cases.push_back({"tf_crop_and_resize extrapolation",
                   x4,
                   "linear",
                   "tf_crop_and_resize",
                   "",
                   {},
                   {1, 2, 3, 4},
                   {0, 0, -0.4f, 0.6f, 1, 1, 1.2f, 1.7f},
                   -0.75f,
                   false,
                   10});
  cases.push_back({"tf_crop_and_resize nearest",
                   x4,
                   "nearest",
                   "tf_crop_and_resize",
                   "",
                   {},
                   {1, 2, 4, 4},
                   {0, 0, -0.2f, 0.1f, 1, 1, 0.9f, 1.3f},
                   -0.75f,
                   false,
                   -2});
  cases.push_back({"1-D linear", {7}, "linear", "", "", {2.5f}, {}, {}});
  cases.push_back(
      {"3-D trilinear", {2, 3, 4, 5}, "linear", "align_corners", "", {1, 1.5f, 0.5f, 2}, {}, {}});
  cases.push_back({"batch and channel scaled",
                   {2, 3, 3, 3},
                   "nearest",
                   "asymmetric",
                   "floor",
                   {2, 0.5f, 1, 1},
                   {},
                   {}});
  cases.push_back({"identity", x4, "linear", "", "", {1, 1, 1, 1}, {}, {}});
  for (const ResizeCase& c : cases) {
    SCOPED_TRACE(std::string(c.name) + " " + c.mode + " " + c.coord + " " + c.nearest);
    const std::vector<float> xv = Random(Count(c.x), 111);
    Tensor x = F32(Shape(c.x), xv);
    const i64 rank = static_cast<i64>(c.x.size());
    Tensor roi = F32({static_cast<i64>(c.roi.size())}, c.roi);
    Tensor scales = F32({static_cast<i64>(c.scales.size())}, c.scales);
    Tensor sizes = testing::I64({rank}, c.sizes);
    ir::Node node = MakeNode("Resize",
                             {"x", c.roi.empty() ? "" : "roi", c.scales.empty() ? "" : "scales",
                              c.sizes.empty() ? "" : "sizes"},
                             {"y"}, 13);
    SetString(node, "mode", c.mode);
    if (!c.coord.empty()) SetString(node, "coordinate_transformation_mode", c.coord);
    if (!c.nearest.empty()) SetString(node, "nearest_mode", c.nearest);
    SetFloat(node, "cubic_coeff_a", c.cubic_a);
    if (c.exclude_outside) SetInt(node, "exclude_outside", 1);
    SetFloat(node, "extrapolation_value", c.extrapolation);
    std::vector<i64> y_shape;
    const std::vector<double> ref = RefResize(c, xv, y_shape);
    for (int threads : kThreadModes) {
      auto out = RunOp(node,
                       {&x, c.roi.empty() ? nullptr : &roi, c.scales.empty() ? nullptr : &scales,
                        c.sizes.empty() ? nullptr : &sizes},
                       threads);
      ASSERT_TRUE(out.has_value()) << out.status().message();
      EXPECT_TRUE(Close((*out)[0], y_shape, ref));
    }
  }
}

TEST(ResizeTest, Opset10AndUpsample) {
  const std::vector<i64> dims = {1, 1, 2, 4};
  const std::vector<float> xv = {1, 2, 3, 4, 5, 6, 7, 8};
  Tensor x = F32(Shape(dims), xv);
  // Opset-10 nearest shrinking picks ceil(o / scale): [[1, 3]] (ONNX's own example).
  Tensor down = F32({4}, {1, 1, 0.6f, 0.6f});
  auto out = RunOp(MakeNode("Resize", {"x", "s"}, {"y"}, 10), {&x, &down});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  EXPECT_TRUE(Close((*out)[0], {1, 1, 1, 2}, {1, 3}));
  // Upsample nearest: floor(o / scale).
  Tensor up = F32({4}, {1, 1, 2, 3});
  std::vector<double> ref;
  for (int h = 0; h < 4; ++h)
    for (int w = 0; w < 12; ++w) ref.push_back(xv[static_cast<std::size_t>((h / 2) * 4 + w / 3)]);
  ir::Node up9 = MakeNode("Upsample", {"x", "s"}, {"y"}, 9);
  out = RunOp(up9, {&x, &up});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  EXPECT_TRUE(Close((*out)[0], {1, 1, 4, 12}, ref));
  ir::Node up7 = MakeNode("Upsample", {"x"}, {"y"}, 7);
  ir::Attribute scales;
  scales.kind = ir::Attribute::Kind::kFloats;
  scales.floats = {1, 1, 2, 3};
  up7.attributes["scales"] = scales;
  out = RunOp(up7, {&x});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  EXPECT_TRUE(Close((*out)[0], {1, 1, 4, 12}, ref));
  // Opset-10 linear is asymmetric: x = o / scale, clamped at the edge.
  Tensor lin = F32({4}, {1, 1, 1, 2});
  ir::Node r10 = MakeNode("Resize", {"x", "s"}, {"y"}, 10);
  SetString(r10, "mode", "linear");
  out = RunOp(r10, {&x, &lin});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  EXPECT_TRUE(
      Close((*out)[0], {1, 1, 2, 8}, {1, 1.5, 2, 2.5, 3, 3.5, 4, 4, 5, 5.5, 6, 6.5, 7, 7.5, 8, 8}));
  // Integer input, nearest.
  Tensor xi = testing::MakeTensor<std::uint8_t>(DType::kU8, Shape(dims), {1, 2, 3, 4, 5, 6, 7, 8});
  out = RunOp(up9, {&xi, &up});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  const auto yi = (*out)[0].as<std::uint8_t>();
  for (std::size_t i = 0; i < ref.size(); ++i) EXPECT_EQ(yi[i], ref[i]);
  // Errors.
  ir::Node r13 = MakeNode("Resize", {"x", "", "s"}, {"y"}, 13);
  Tensor bad = F32({3}, {1, 1, 2});
  ExpectNodeError(r13, {&x, nullptr, &bad}, "scales");
  ExpectNodeError(MakeNode("Resize", {"x"}, {"y"}, 13), {&x}, "scales");
}

// ---------------------------------------------------------------------------------
// TopK, CumSum
// ---------------------------------------------------------------------------------

TEST(TopKTest, LargestSmallestAxesAndTies) {
  const std::vector<i64> dims = {3, 5, 4};
  std::vector<float> xv = Random(Count(dims), 121);
  for (std::size_t i = 0; i < xv.size(); i += 3) xv[i] = 0.5f;  // ties
  Tensor x = F32(Shape(dims), xv);
  for (int opset : {1, 10, 11}) {
    for (i64 axis : {-1, 0, 1}) {
      for (i64 k : {0, 1, 3}) {
        for (int largest : {1, 0}) {
          if (opset < 11 && largest == 0) continue;
          SCOPED_TRACE("opset " + std::to_string(opset) + " axis " + std::to_string(axis) + " k " +
                       std::to_string(k) + " largest " + std::to_string(largest));
          const i64 a = axis < 0 ? axis + 3 : axis;
          const i64 n = dims[static_cast<std::size_t>(a)];
          const i64 outer = Count(std::vector<i64>(dims.begin(), dims.begin() + a));
          const i64 inner = Count(dims) / outer / n;
          std::vector<i64> y_shape = dims;
          y_shape[static_cast<std::size_t>(a)] = k;
          std::vector<double> vals(static_cast<std::size_t>(Count(y_shape)));
          std::vector<std::int64_t> idx(vals.size());
          for (i64 o = 0; o < outer; ++o)
            for (i64 i = 0; i < inner; ++i) {
              std::vector<i64> order(static_cast<std::size_t>(n));
              std::iota(order.begin(), order.end(), 0);
              std::stable_sort(order.begin(), order.end(), [&](i64 p, i64 q) {
                const float u = xv[static_cast<std::size_t>((o * n + p) * inner + i)];
                const float v = xv[static_cast<std::size_t>((o * n + q) * inner + i)];
                return largest ? u > v : u < v;
              });
              for (i64 j = 0; j < k; ++j) {
                const std::size_t dst = static_cast<std::size_t>((o * k + j) * inner + i);
                idx[dst] = order[static_cast<std::size_t>(j)];
                vals[dst] = xv[static_cast<std::size_t>(
                    (o * n + order[static_cast<std::size_t>(j)]) * inner + i)];
              }
            }
          Tensor kt = testing::I64({1}, {k});
          ir::Node node = MakeNode("TopK", {"x", opset >= 10 ? "k" : ""}, {"v", "i"}, opset);
          if (axis != -1) SetInt(node, "axis", axis);
          if (opset < 10) SetInt(node, "k", k);
          if (opset >= 11) SetInt(node, "largest", largest);
          auto out = RunOp(node, {&x, opset >= 10 ? &kt : nullptr});
          ASSERT_TRUE(out.has_value()) << out.status().message();
          EXPECT_TRUE(Close((*out)[0], y_shape, vals, 0));
          const auto got = (*out)[1].as<std::int64_t>();
          EXPECT_EQ(std::vector<std::int64_t>(got.begin(), got.end()), idx);
        }
      }
    }
  }
  Tensor xi = testing::I32({5}, {3, 1, 4, 1, 5});
  Tensor k2 = testing::I64({1}, {2});
  auto out = RunOp(MakeNode("TopK", {"x", "k"}, {"v", "i"}, 11), {&xi, &k2});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  EXPECT_EQ((*out)[0].as<std::int32_t>()[0], 5);
  EXPECT_EQ((*out)[0].as<std::int32_t>()[1], 4);
  // NaN ranks above every number; the order stays strict (no UB in the sort).
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor xn = F32({6}, {1, nan, 3, nan, -1, 2});
  Tensor k6 = testing::I64({1}, {6});
  out = RunOp(MakeNode("TopK", {"x", "k"}, {"v", "i"}, 11), {&xn, &k6});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  const auto order = (*out)[1].as<std::int64_t>();
  EXPECT_EQ(std::vector<std::int64_t>(order.begin(), order.end()),
            (std::vector<std::int64_t>{1, 3, 2, 5, 0, 4}));
  Tensor k9 = testing::I64({1}, {9});
  ExpectNodeError(MakeNode("TopK", {"x", "k"}, {"v", "i"}, 11), {&xi, &k9}, "K = 9");
}

TEST(CumSumTest, ExclusiveReverseAxes) {
  const std::vector<i64> dims = {2, 3, 4};
  const std::vector<float> xv = Random(Count(dims), 131);
  Tensor x = F32(Shape(dims), xv);
  for (i64 axis : {0, 1, 2, -1}) {
    for (int exclusive : {0, 1}) {
      for (int reverse : {0, 1}) {
        SCOPED_TRACE("axis " + std::to_string(axis) + " exclusive " + std::to_string(exclusive) +
                     " reverse " + std::to_string(reverse));
        const i64 a = axis < 0 ? axis + 3 : axis;
        std::vector<double> ref(xv.size());
        std::vector<i64> idx(3, 0);
        do {
          double s = 0;
          for (i64 j = 0; j < dims[static_cast<std::size_t>(a)]; ++j) {
            const i64 me = idx[static_cast<std::size_t>(a)];
            const bool take =
                reverse ? (exclusive ? j > me : j >= me) : (exclusive ? j < me : j <= me);
            if (!take) continue;
            std::vector<i64> o = idx;
            o[static_cast<std::size_t>(a)] = j;
            s += xv[static_cast<std::size_t>(Offset(o, dims))];
          }
          ref[static_cast<std::size_t>(Offset(idx, dims))] = s;
        } while (NextIndex(idx, dims));
        Tensor at = testing::I32({}, {static_cast<std::int32_t>(axis)});
        ir::Node node = MakeNode("CumSum", {"x", "axis"}, {"y"}, 14);
        SetInt(node, "exclusive", exclusive);
        SetInt(node, "reverse", reverse);
        auto out = RunOp(node, {&x, &at});
        ASSERT_TRUE(out.has_value()) << out.status().message();
        EXPECT_TRUE(Close((*out)[0], dims, ref));
      }
    }
  }
  Tensor xi = testing::I64({4}, {1, 2, 3, 4});
  Tensor a0 = testing::I64({}, {0});
  auto out = RunOp(MakeNode("CumSum", {"x", "axis"}, {"y"}, 14), {&xi, &a0});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  const auto y = (*out)[0].as<std::int64_t>();
  EXPECT_EQ(std::vector<std::int64_t>(y.begin(), y.end()),
            (std::vector<std::int64_t>{1, 3, 6, 10}));
}

// ---------------------------------------------------------------------------------
// Einsum
// ---------------------------------------------------------------------------------

// Brute force over every index combination; `ref_eq` is explicit and uses letters only
// (an ellipsis written out as letters); size-1 dims broadcast.
std::vector<double> RefEinsum(const std::string& ref_eq,
                              const std::vector<std::vector<i64>>& shapes,
                              const std::vector<std::vector<float>>& data,
                              std::vector<i64>& y_shape) {
  const std::size_t arrow = ref_eq.find("->");
  std::vector<std::string> terms;
  std::string cur;
  for (char ch : ref_eq.substr(0, arrow)) {
    if (ch == ',') {
      terms.push_back(cur);
      cur.clear();
    } else {
      cur += ch;
    }
  }
  terms.push_back(cur);
  const std::string out = ref_eq.substr(arrow + 2);
  std::map<char, i64> size;
  for (std::size_t i = 0; i < terms.size(); ++i)
    for (std::size_t a = 0; a < terms[i].size(); ++a)
      size[terms[i][a]] = std::max(size[terms[i][a]], shapes[i][a]);
  std::string all;
  for (auto& [ch, n] : size) all += ch;
  y_shape.clear();
  for (char ch : out) y_shape.push_back(size[ch]);
  std::vector<double> y(static_cast<std::size_t>(Count(y_shape)), 0.0);
  std::vector<i64> dims;
  for (char ch : all) dims.push_back(size[ch]);
  if (Count(dims) == 0) return y;
  std::vector<i64> idx(all.size(), 0);
  auto at = [&](char ch) { return idx[all.find(ch)]; };
  do {
    double prod = 1;
    for (std::size_t i = 0; i < terms.size(); ++i) {
      i64 off = 0;
      for (std::size_t a = 0; a < terms[i].size(); ++a)
        off = off * shapes[i][a] + (shapes[i][a] == 1 ? 0 : at(terms[i][a]));
      prod *= data[i][static_cast<std::size_t>(off)];
    }
    i64 o = 0;
    for (std::size_t a = 0; a < out.size(); ++a) o = o * y_shape[a] + at(out[a]);
    y[static_cast<std::size_t>(o)] += prod;
  } while (NextIndex(idx, dims));
  return y;
}

TEST(EinsumTest, MatchesBruteForce) {
  struct Case {
    std::string eq, ref_eq;
    std::vector<std::vector<i64>> shapes;
  };
  const Case cases[] = {
      {"ij,jk->ik", "ij,jk->ik", {{3, 4}, {4, 5}}},
      {"ij,jk", "ij,jk->ik", {{3, 4}, {4, 5}}},
      {"bij,bjk->bik", "bij,bjk->bik", {{2, 3, 4}, {2, 4, 5}}},
      {"bhqd,bhkd->bhqk", "bhqd,bhkd->bhqk", {{2, 3, 5, 4}, {2, 3, 6, 4}}},
      {"ii->i", "ii->i", {{4, 4}}},
      {"ii", "ii->", {{4, 4}}},
      {"bii->bi", "bii->bi", {{3, 4, 4}}},
      {"ij->ji", "ij->ji", {{3, 5}}},
      {"ij->", "ij->", {{3, 5}}},
      {"ij->j", "ij->j", {{3, 5}}},
      {"i,i->", "i,i->", {{7}, {7}}},
      {"i,j->ij", "i,j->ij", {{3}, {4}}},
      {"...ij,...jk->...ik", "zij,zjk->zik", {{2, 3, 4}, {2, 4, 5}}},
      {"...ij,...jk", "zij,zjk->zik", {{1, 3, 4}, {2, 4, 5}}},
      {"...ii->...i", "yzii->yzi", {{2, 3, 4, 4}}},
      {"ij,jk,kl->il", "ij,jk,kl->il", {{3, 4}, {4, 5}, {5, 2}}},
      {"abc,cd->abd", "abc,cd->abd", {{2, 3, 4}, {4, 5}}},
      {"iJ,Jk->ik", "iJ,Jk->ik", {{3, 4}, {4, 2}}},
      {"i,i,i->i", "i,i,i->i", {{5}, {5}, {5}}},
      {"ijk,ikl->jl", "ijk,ikl->jl", {{3, 4, 2}, {3, 2, 5}}},
      {" ba , ac -> bc ", "ba,ac->bc", {{3, 2}, {2, 4}}},
      {"ij,kj->ik", "ij,kj->ik", {{40, 70}, {30, 70}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.eq);
    std::vector<std::vector<float>> data;
    std::vector<Tensor> tensors;
    std::vector<std::string> names;
    for (std::size_t i = 0; i < c.shapes.size(); ++i) {
      data.push_back(Random(Count(c.shapes[i]), 140 + static_cast<unsigned>(i)));
      tensors.push_back(F32(Shape(c.shapes[i]), data.back()));
      names.push_back("in" + std::to_string(i));
    }
    std::vector<const Tensor*> inputs;
    for (const Tensor& t : tensors) inputs.push_back(&t);
    std::vector<i64> y_shape;
    const std::vector<double> ref = RefEinsum(c.ref_eq, c.shapes, data, y_shape);
    ir::Node node = MakeNode("Einsum", names, {"y"}, 12);
    SetString(node, "equation", c.eq);
    for (int threads : kThreadModes) {
      auto out = RunOp(node, inputs, threads);
      ASSERT_TRUE(out.has_value()) << out.status().message();
      EXPECT_TRUE(Close((*out)[0], y_shape, ref));
    }
  }
  Tensor a = F32({3, 4}, Random(12, 1)), b = F32({5, 2}, Random(10, 2));
  ir::Node node = MakeNode("Einsum", {"a", "b"}, {"y"}, 12);
  SetString(node, "equation", "ij,jk->ik");
  ExpectNodeError(node, {&a, &b}, "sizes");
  SetString(node, "equation", "ij->ik");
  ExpectNodeError(node, {&a, &b}, "terms");
  SetString(node, "equation", "ijk,jk->ik");
  ExpectNodeError(node, {&a, &b}, "does not match");
}

}  // namespace
}  // namespace deepedge
