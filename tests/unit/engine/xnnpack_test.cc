// Tests of the XNNPACK partition pass and region kernel.
//
// Each test builds a small ir::Graph by hand, runs it through a naive double-precision
// reference interpreter written here (NCHW, straight from the ONNX definitions), runs
// the pass, checks the region structure, then runs the partitioned graph (region nodes
// through the real kernel with a SingleNodeContext, other nodes through the reference)
// and compares.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/xnnpack/xnn_pass.h"
#include "engine/xnnpack/xnn_region.h"
#include "support/kernel_harness.h"

namespace deepedge {
namespace {

using engine::KernelRegistry;
using engine::OpKernel;
using engine::PrepareContext;
using testing::MakeNode;
using testing::SetFloat;
using testing::SetInt;
using testing::SetInts;
using testing::SetString;

// ---------------------------------------------------------------------------------
// Reference interpreter (double precision).

struct Ref {
  std::vector<std::int64_t> dims;
  std::vector<double> v;
  std::int64_t size() const { return static_cast<std::int64_t>(v.size()); }
};
using Env = std::map<std::string, Ref>;

std::int64_t Count(const std::vector<std::int64_t>& d) {
  std::int64_t c = 1;
  for (std::int64_t x : d) c *= x;
  return c;
}

Ref FromTensor(const Tensor& t) {
  Ref r;
  r.dims = t.shape().dims();
  if (t.dtype() == DType::kF32) {
    for (float f : t.as<float>()) r.v.push_back(f);
  } else if (t.dtype() == DType::kI64) {
    for (std::int64_t i : t.as<std::int64_t>()) r.v.push_back(static_cast<double>(i));
  }
  return r;
}

Tensor ToTensor(const Ref& r) {
  Tensor t = Tensor::Allocate(DType::kF32, Shape(r.dims)).value();
  for (std::size_t i = 0; i < r.v.size(); ++i) t.as<float>()[i] = static_cast<float>(r.v[i]);
  return t;
}

std::vector<std::int64_t> Ints(const ir::Node& n, const char* name, std::vector<std::int64_t> def) {
  return n.GetInts(name, std::move(def));
}

// Numpy broadcasting of a binary function.
Ref Broadcast(const Ref& a, const Ref& b, const std::function<double(double, double)>& f) {
  const std::size_t rank = std::max(a.dims.size(), b.dims.size());
  auto pad = [rank](const std::vector<std::int64_t>& d) {
    std::vector<std::int64_t> p(rank - d.size(), 1);
    p.insert(p.end(), d.begin(), d.end());
    return p;
  };
  const auto da = pad(a.dims), db = pad(b.dims);
  Ref out;
  out.dims.resize(rank);
  for (std::size_t i = 0; i < rank; ++i) out.dims[i] = std::max(da[i], db[i]);
  out.v.resize(static_cast<std::size_t>(Count(out.dims)));
  std::vector<std::int64_t> idx(rank, 0);
  for (std::size_t e = 0; e < out.v.size(); ++e) {
    std::int64_t ia = 0, ib = 0;
    for (std::size_t d = 0; d < rank; ++d) {
      ia = ia * da[d] + (da[d] == 1 ? 0 : idx[d]);
      ib = ib * db[d] + (db[d] == 1 ? 0 : idx[d]);
    }
    out.v[e] = f(a.v[static_cast<std::size_t>(ia)], b.v[static_cast<std::size_t>(ib)]);
    for (std::size_t d = rank; d-- > 0;) {
      if (++idx[d] < out.dims[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

struct Win {
  std::int64_t k[2], s[2], d[2], pb[2], pe[2], out[2];
};

// The ONNX window arithmetic (explicit pads, auto_pad, ceil_mode), written independently.
Win MakeWindow(const ir::Node& n, std::int64_t h, std::int64_t w, std::int64_t kh,
               std::int64_t kw) {
  Win r{};
  const auto strides = Ints(n, "strides", {1, 1});
  const auto dil = Ints(n, "dilations", {1, 1});
  const auto pads = Ints(n, "pads", {0, 0, 0, 0});
  const std::string ap = n.GetString("auto_pad", "NOTSET");
  const bool ceil = n.GetInt("ceil_mode", 0) != 0;
  const std::int64_t in[2] = {h, w};
  r.k[0] = kh;
  r.k[1] = kw;
  for (int i = 0; i < 2; ++i) {
    r.s[i] = strides[static_cast<std::size_t>(i)];
    r.d[i] = dil[static_cast<std::size_t>(i)];
    const std::int64_t dk = (r.k[i] - 1) * r.d[i] + 1;
    if (ap == "SAME_UPPER" || ap == "SAME_LOWER") {
      r.out[i] = (in[i] + r.s[i] - 1) / r.s[i];
      const std::int64_t total = std::max<std::int64_t>(0, (r.out[i] - 1) * r.s[i] + dk - in[i]);
      r.pb[i] = ap == "SAME_UPPER" ? total / 2 : (total + 1) / 2;
      r.pe[i] = total - r.pb[i];
    } else if (ap == "VALID") {
      r.pb[i] = r.pe[i] = 0;
      r.out[i] = (in[i] - dk) / r.s[i] + 1;
    } else {
      r.pb[i] = pads[static_cast<std::size_t>(i)];
      r.pe[i] = pads[static_cast<std::size_t>(i) + 2];
      const double span = static_cast<double>(in[i] + r.pb[i] + r.pe[i] - dk) / r.s[i];
      r.out[i] = static_cast<std::int64_t>(ceil ? std::ceil(span) : std::floor(span)) + 1;
      if (ceil && (r.out[i] - 1) * r.s[i] >= in[i] + r.pb[i]) --r.out[i];
    }
  }
  return r;
}

double Sigmoid(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

void Eval(const ir::Node& n, Env& env) {
  auto in = [&](std::size_t i) -> const Ref& { return env.at(n.inputs[i]); };
  auto has = [&](std::size_t i) { return i < n.inputs.size() && !n.inputs[i].empty(); };
  auto unary = [&](const std::function<double(double)>& f) {
    Ref r = in(0);
    for (double& x : r.v) x = f(x);
    env[n.outputs[0]] = std::move(r);
  };
  const std::string& op = n.op_type;
  if (op == "Conv") {
    const Ref& x = in(0);
    const Ref& w = in(1);
    const std::int64_t N = x.dims[0], C = x.dims[1], H = x.dims[2], W = x.dims[3];
    const std::int64_t M = w.dims[0], CG = w.dims[1], KH = w.dims[2], KW = w.dims[3];
    const std::int64_t G = n.GetInt("group", 1);
    const Win win = MakeWindow(n, H, W, KH, KW);
    Ref y;
    y.dims = {N, M, win.out[0], win.out[1]};
    y.v.assign(static_cast<std::size_t>(Count(y.dims)), 0.0);
    for (std::int64_t b = 0; b < N; ++b)
      for (std::int64_t m = 0; m < M; ++m) {
        const std::int64_t g = m / (M / G);
        for (std::int64_t oh = 0; oh < win.out[0]; ++oh)
          for (std::int64_t ow = 0; ow < win.out[1]; ++ow) {
            double acc = has(2) ? in(2).v[static_cast<std::size_t>(m)] : 0.0;
            for (std::int64_t c = 0; c < CG; ++c)
              for (std::int64_t kh = 0; kh < KH; ++kh)
                for (std::int64_t kw = 0; kw < KW; ++kw) {
                  const std::int64_t ih = oh * win.s[0] - win.pb[0] + kh * win.d[0];
                  const std::int64_t iw = ow * win.s[1] - win.pb[1] + kw * win.d[1];
                  if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                  const std::int64_t ic = g * CG + c;
                  acc += x.v[static_cast<std::size_t>(((b * C + ic) * H + ih) * W + iw)] *
                         w.v[static_cast<std::size_t>(((m * CG + c) * KH + kh) * KW + kw)];
                }
            y.v[static_cast<std::size_t>(((b * M + m) * win.out[0] + oh) * win.out[1] + ow)] = acc;
          }
      }
    env[n.outputs[0]] = std::move(y);
  } else if (op == "MaxPool" || op == "AveragePool") {
    const Ref& x = in(0);
    const std::int64_t N = x.dims[0], C = x.dims[1], H = x.dims[2], W = x.dims[3];
    const auto k = Ints(n, "kernel_shape", {});
    const Win win = MakeWindow(n, H, W, k[0], k[1]);
    const bool maxp = op == "MaxPool";
    const bool include_pad = n.GetInt("count_include_pad", 0) != 0;
    Ref y;
    y.dims = {N, C, win.out[0], win.out[1]};
    y.v.resize(static_cast<std::size_t>(Count(y.dims)));
    for (std::int64_t bc = 0; bc < N * C; ++bc)
      for (std::int64_t oh = 0; oh < win.out[0]; ++oh)
        for (std::int64_t ow = 0; ow < win.out[1]; ++ow) {
          const std::int64_t hs = oh * win.s[0] - win.pb[0], ws = ow * win.s[1] - win.pb[1];
          double acc = maxp ? -std::numeric_limits<double>::infinity() : 0.0;
          std::int64_t valid = 0;
          for (std::int64_t kh = 0; kh < k[0]; ++kh)
            for (std::int64_t kw = 0; kw < k[1]; ++kw) {
              const std::int64_t ih = hs + kh * win.d[0], iw = ws + kw * win.d[1];
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
              const double v = x.v[static_cast<std::size_t>((bc * H + ih) * W + iw)];
              acc = maxp ? std::max(acc, v) : acc + v;
              ++valid;
            }
          if (!maxp) {
            double div = static_cast<double>(valid);
            if (include_pad) {
              div = static_cast<double>((std::min(hs + k[0], H + win.pe[0]) - hs) *
                                        (std::min(ws + k[1], W + win.pe[1]) - ws));
            }
            acc /= div;
          }
          y.v[static_cast<std::size_t>((bc * win.out[0] + oh) * win.out[1] + ow)] = acc;
        }
    env[n.outputs[0]] = std::move(y);
  } else if (op == "GlobalAveragePool" || op == "GlobalMaxPool") {
    const Ref& x = in(0);
    const std::int64_t NC = x.dims[0] * x.dims[1], HW = x.dims[2] * x.dims[3];
    Ref y;
    y.dims = {x.dims[0], x.dims[1], 1, 1};
    for (std::int64_t i = 0; i < NC; ++i) {
      double acc = op == "GlobalMaxPool" ? -std::numeric_limits<double>::infinity() : 0.0;
      for (std::int64_t j = 0; j < HW; ++j) {
        const double v = x.v[static_cast<std::size_t>(i * HW + j)];
        acc = op == "GlobalMaxPool" ? std::max(acc, v) : acc + v;
      }
      y.v.push_back(op == "GlobalMaxPool" ? acc : acc / static_cast<double>(HW));
    }
    env[n.outputs[0]] = std::move(y);
  } else if (op == "Gemm" || op == "MatMul") {
    const Ref& a = in(0);
    const Ref& b = in(1);
    const bool tb = op == "Gemm" && n.GetInt("transB", 0) != 0;
    const double alpha = op == "Gemm" ? n.GetFloat("alpha", 1.0f) : 1.0;
    const double beta = op == "Gemm" ? n.GetFloat("beta", 1.0f) : 1.0;
    const std::int64_t M = a.dims[0], K = a.dims[1], Nn = tb ? b.dims[0] : b.dims[1];
    Ref y;
    y.dims = {M, Nn};
    y.v.assign(static_cast<std::size_t>(M * Nn), 0.0);
    for (std::int64_t i = 0; i < M; ++i)
      for (std::int64_t j = 0; j < Nn; ++j) {
        double acc = 0;
        for (std::int64_t k = 0; k < K; ++k) {
          acc += a.v[static_cast<std::size_t>(i * K + k)] *
                 b.v[static_cast<std::size_t>(tb ? j * K + k : k * Nn + j)];
        }
        y.v[static_cast<std::size_t>(i * Nn + j)] = alpha * acc;
      }
    if (op == "Gemm" && has(2)) {
      y = Broadcast(y, in(2), [beta](double p, double c) { return p + beta * c; });
    }
    env[n.outputs[0]] = std::move(y);
  } else if (op == "BatchNormalization") {
    Ref y = in(0);
    const double eps = n.GetFloat("epsilon", 1e-5f);
    const std::int64_t C = y.dims[1];
    const std::int64_t inner = Count(y.dims) / y.dims[0] / C;
    for (std::int64_t e = 0; e < y.size(); ++e) {
      const auto c = static_cast<std::size_t>((e / inner) % C);
      double& v = y.v[static_cast<std::size_t>(e)];
      v = (v - in(3).v[c]) / std::sqrt(in(4).v[c] + eps) * in(1).v[c] + in(2).v[c];
    }
    env[n.outputs[0]] = std::move(y);
  } else if (op == "Relu") {
    unary([](double x) { return std::max(x, 0.0); });
  } else if (op == "Clip") {
    const double lo = has(1) ? in(1).v[0] : -std::numeric_limits<double>::infinity();
    const double hi = has(2) ? in(2).v[0] : std::numeric_limits<double>::infinity();
    unary([lo, hi](double x) { return std::min(std::max(x, lo), hi); });
  } else if (op == "Sigmoid") {
    unary(Sigmoid);
  } else if (op == "Tanh") {
    unary([](double x) { return std::tanh(x); });
  } else if (op == "HardSwish") {
    unary([](double x) { return x * std::min(std::max(x / 6.0 + 0.5, 0.0), 1.0); });
  } else if (op == "LeakyRelu") {
    const double a = n.GetFloat("alpha", 0.01f);
    unary([a](double x) { return x < 0 ? a * x : x; });
  } else if (op == "Elu") {
    const double a = n.GetFloat("alpha", 1.0f);
    unary([a](double x) { return x < 0 ? a * (std::exp(x) - 1) : x; });
  } else if (op == "Abs") {
    unary([](double x) { return std::abs(x); });
  } else if (op == "Neg") {
    unary([](double x) { return -x; });
  } else if (op == "Identity" || op == "Dropout") {
    unary([](double x) { return x; });
  } else if (op == "PRelu") {
    env[n.outputs[0]] =
        Broadcast(in(0), in(1), [](double x, double s) { return x < 0 ? s * x : x; });
  } else if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Max" ||
             op == "Min") {
    std::function<double(double, double)> f;
    if (op == "Add") f = [](double a, double b) { return a + b; };
    if (op == "Sub") f = [](double a, double b) { return a - b; };
    if (op == "Mul") f = [](double a, double b) { return a * b; };
    if (op == "Div") f = [](double a, double b) { return a / b; };
    if (op == "Max") f = [](double a, double b) { return std::max(a, b); };
    if (op == "Min") f = [](double a, double b) { return std::min(a, b); };
    env[n.outputs[0]] = Broadcast(in(0), in(1), f);
  } else if (op == "Softmax") {
    Ref y = in(0);
    const auto rank = static_cast<std::int64_t>(y.dims.size());
    std::int64_t axis = n.GetInt("axis", -1);
    if (axis < 0) axis += rank;
    const std::int64_t len = y.dims[static_cast<std::size_t>(axis)];
    std::int64_t inner = 1;
    for (std::int64_t d = axis + 1; d < rank; ++d) inner *= y.dims[static_cast<std::size_t>(d)];
    const std::int64_t outer = y.size() / len / inner;
    for (std::int64_t o = 0; o < outer; ++o)
      for (std::int64_t i = 0; i < inner; ++i) {
        auto at = [&](std::int64_t j) -> double& {
          return y.v[static_cast<std::size_t>((o * len + j) * inner + i)];
        };
        double mx = -std::numeric_limits<double>::infinity(), sum = 0;
        for (std::int64_t j = 0; j < len; ++j) mx = std::max(mx, at(j));
        for (std::int64_t j = 0; j < len; ++j) sum += std::exp(at(j) - mx);
        for (std::int64_t j = 0; j < len; ++j) at(j) = std::exp(at(j) - mx) / sum;
      }
    env[n.outputs[0]] = std::move(y);
  } else if (op == "Flatten") {
    Ref y = in(0);
    y.dims = {y.dims[0], Count(y.dims) / y.dims[0]};
    env[n.outputs[0]] = std::move(y);
  } else if (op == "Reshape") {
    Ref y = in(0);
    std::vector<std::int64_t> d;
    std::int64_t known = 1, infer = -1;
    for (std::size_t i = 0; i < in(1).v.size(); ++i) {
      auto t = static_cast<std::int64_t>(in(1).v[i]);
      if (t == 0) t = y.dims[i];
      if (t == -1) {
        infer = static_cast<std::int64_t>(i);
        d.push_back(1);
        continue;
      }
      d.push_back(t);
      known *= t;
    }
    if (infer >= 0) d[static_cast<std::size_t>(infer)] = y.size() / known;
    y.dims = d;
    env[n.outputs[0]] = std::move(y);
  } else if (op == "ReduceMean") {  // over H, W of NCHW only
    const Ref& x = in(0);
    Ref y;
    y.dims = {x.dims[0], x.dims[1]};
    if (n.GetInt("keepdims", 1)) y.dims = {x.dims[0], x.dims[1], 1, 1};
    const std::int64_t hw = x.dims[2] * x.dims[3];
    for (std::int64_t i = 0; i < x.dims[0] * x.dims[1]; ++i) {
      double acc = 0;
      for (std::int64_t j = 0; j < hw; ++j) acc += x.v[static_cast<std::size_t>(i * hw + j)];
      y.v.push_back(acc / static_cast<double>(hw));
    }
    env[n.outputs[0]] = std::move(y);
  } else if (op == "Pad") {  // constant mode, rank 4
    const Ref& x = in(0);
    std::vector<std::int64_t> p;
    for (double v : in(1).v) p.push_back(static_cast<std::int64_t>(v));
    const double value = has(2) ? in(2).v[0] : 0.0;
    Ref y;
    for (std::size_t i = 0; i < 4; ++i) y.dims.push_back(x.dims[i] + p[i] + p[i + 4]);
    y.v.assign(static_cast<std::size_t>(Count(y.dims)), value);
    for (std::int64_t a = 0; a < x.dims[0]; ++a)
      for (std::int64_t b = 0; b < x.dims[1]; ++b)
        for (std::int64_t c = 0; c < x.dims[2]; ++c)
          for (std::int64_t d = 0; d < x.dims[3]; ++d) {
            const std::int64_t o =
                (((a + p[0]) * y.dims[1] + b + p[1]) * y.dims[2] + c + p[2]) * y.dims[3] + d + p[3];
            y.v[static_cast<std::size_t>(o)] = x.v[static_cast<std::size_t>(
                ((a * x.dims[1] + b) * x.dims[2] + c) * x.dims[3] + d)];
          }
    env[n.outputs[0]] = std::move(y);
  } else if (op == "Squeeze" || op == "Unsqueeze") {
    Ref y = in(0);
    const auto rank = static_cast<std::int64_t>(y.dims.size());
    std::vector<std::int64_t> axes;
    for (double a : in(1).v) axes.push_back(static_cast<std::int64_t>(a));
    std::vector<std::int64_t> d;
    if (op == "Squeeze") {
      for (std::int64_t i = 0; i < rank; ++i) {
        if (std::find(axes.begin(), axes.end(), i) == axes.end() &&
            std::find(axes.begin(), axes.end(), i - rank) == axes.end()) {
          d.push_back(y.dims[static_cast<std::size_t>(i)]);
        }
      }
    } else {
      const auto out_rank = rank + static_cast<std::int64_t>(axes.size());
      std::size_t next = 0;
      for (std::int64_t i = 0; i < out_rank; ++i) {
        const bool ins = std::find(axes.begin(), axes.end(), i) != axes.end() ||
                         std::find(axes.begin(), axes.end(), i - out_rank) != axes.end();
        d.push_back(ins ? 1 : y.dims[next++]);
      }
    }
    y.dims = d;
    env[n.outputs[0]] = std::move(y);
  } else if (op == "HardSigmoid") {
    const double alpha = n.GetFloat("alpha", 0.2f), beta = n.GetFloat("beta", 0.5f);
    unary([&](double v) { return std::clamp(alpha * v + beta, 0.0, 1.0); });
  } else if (op == "Resize" || op == "Upsample") {
    // Nearest, from ONNX's coordinate formulas (not the region's floor(y / factor)).
    const Ref& x = in(0);
    const Ref& sc = in(op == "Upsample" || n.inputs.size() == 2 ? 1 : 2);
    const bool up = op == "Upsample";
    const std::string coords =
        up ? "asymmetric" : n.GetString("coordinate_transformation_mode", "half_pixel");
    const std::string rounding = up ? "floor" : n.GetString("nearest_mode", "round_prefer_floor");
    Ref y;
    y.dims = x.dims;
    for (std::size_t d = 0; d < 4; ++d) {
      y.dims[d] = static_cast<std::int64_t>(std::floor(static_cast<double>(x.dims[d]) * sc.v[d]));
    }
    auto src = [&](std::int64_t o, double scale, std::int64_t len) {
      const double c = coords == "asymmetric" ? static_cast<double>(o) / scale
                                              : (static_cast<double>(o) + 0.5) / scale - 0.5;
      const double f = std::floor(c), frac = c - f;
      double r = f;
      if (rounding == "ceil") r = std::ceil(c);
      if (rounding == "round_prefer_floor" || rounding == "round_prefer_ceil") {
        r = frac < 0.5 ? f : frac > 0.5 ? f + 1 : rounding == "round_prefer_ceil" ? f + 1 : f;
      }
      return std::clamp<std::int64_t>(static_cast<std::int64_t>(r), 0, len - 1);
    };
    const std::int64_t C = x.dims[1], H = x.dims[2], W = x.dims[3];
    for (std::int64_t b = 0; b < y.dims[0]; ++b)
      for (std::int64_t c = 0; c < y.dims[1]; ++c)
        for (std::int64_t oh = 0; oh < y.dims[2]; ++oh)
          for (std::int64_t ow = 0; ow < y.dims[3]; ++ow)
            y.v.push_back(x.v[static_cast<std::size_t>(((b * C + c) * H + src(oh, sc.v[2], H)) * W +
                                                       src(ow, sc.v[3], W))]);
    env[n.outputs[0]] = std::move(y);
  } else if (op == "Concat") {
    const auto rank = static_cast<std::int64_t>(in(0).dims.size());
    std::int64_t axis = n.GetInt("axis", 1);
    if (axis < 0) axis += rank;
    Ref y;
    y.dims = in(0).dims;
    y.dims[static_cast<std::size_t>(axis)] = 0;
    for (std::size_t i = 0; i < n.inputs.size(); ++i) {
      y.dims[static_cast<std::size_t>(axis)] += in(i).dims[static_cast<std::size_t>(axis)];
    }
    std::int64_t outer = 1;
    for (std::int64_t d = 0; d < axis; ++d) outer *= y.dims[static_cast<std::size_t>(d)];
    for (std::int64_t o = 0; o < outer; ++o) {
      for (std::size_t i = 0; i < n.inputs.size(); ++i) {
        const std::int64_t chunk = in(i).size() / outer;
        y.v.insert(y.v.end(), in(i).v.begin() + o * chunk, in(i).v.begin() + (o + 1) * chunk);
      }
    }
    env[n.outputs[0]] = std::move(y);
  } else {
    ADD_FAILURE() << "reference interpreter lacks " << op;
  }
}

// ---------------------------------------------------------------------------------
// Graph building.

std::mt19937& Rng() {
  static std::mt19937 rng(1234);
  return rng;
}

Tensor Random(const Shape& shape, float lo = -1.0f, float hi = 1.0f) {
  Tensor t = Tensor::Allocate(DType::kF32, shape).value();
  std::uniform_real_distribution<float> dist(lo, hi);
  for (float& f : t.as<float>()) f = dist(Rng());
  return t;
}

class Builder {
 public:
  explicit Builder(int opset = 13) : opset_(opset) { g_.name = "test"; }

  void Input(const std::string& name, Shape shape, DType dtype = DType::kF32) {
    g_.inputs.push_back({name, dtype, std::move(shape)});
  }
  void Output(const std::string& name) { g_.outputs.push_back({name, DType::kF32, std::nullopt}); }
  std::string Init(const std::string& name, Tensor t) {
    g_.initializers[name] = std::make_shared<const Tensor>(std::move(t));
    return name;
  }
  std::string RandomInit(const std::string& name, Shape shape, float lo = -1.0f, float hi = 1.0f) {
    return Init(name, Random(shape, lo, hi));
  }
  ir::Node& Node(const std::string& op, std::vector<std::string> in, std::vector<std::string> out) {
    ir::Node n = MakeNode(op, std::move(in), std::move(out), opset_);
    n.name = n.outputs.empty() ? op : n.outputs[0];
    g_.nodes.push_back(std::move(n));
    return g_.nodes.back();
  }
  // Conv with random weights [cout, cin/group, k, k] and bias.
  std::string Conv(const std::string& name, const std::string& x, std::int64_t cin,
                   std::int64_t cout, std::int64_t k, std::int64_t stride, std::int64_t pad,
                   std::int64_t group = 1, bool bias = true) {
    const float lim = std::sqrt(3.0f / static_cast<float>(cin / group * k * k));
    std::vector<std::string> in = {x,
                                   RandomInit(name + ".w", {cout, cin / group, k, k}, -lim, lim)};
    if (bias) in.push_back(RandomInit(name + ".b", {cout}));
    ir::Node& n = Node("Conv", in, {name});
    SetInts(n, "kernel_shape", {k, k});
    SetInts(n, "strides", {stride, stride});
    SetInts(n, "pads", {pad, pad, pad, pad});
    if (group != 1) SetInt(n, "group", group);
    return name;
  }
  std::string BatchNorm(const std::string& name, const std::string& x, std::int64_t c) {
    Node("BatchNormalization",
         {x, RandomInit(name + ".scale", {c}, 0.5f, 1.5f), RandomInit(name + ".bias", {c}),
          RandomInit(name + ".mean", {c}, -0.5f, 0.5f), RandomInit(name + ".var", {c}, 0.5f, 2.0f)},
         {name});
    return name;
  }
  std::string Relu(const std::string& name, const std::string& x) {
    Node("Relu", {x}, {name});
    return name;
  }
  std::string Relu6(const std::string& name, const std::string& x) {
    if (!g_.initializers.count("zero")) {
      Init("zero", testing::F32({}, {0.0f}));
      Init("six", testing::F32({}, {6.0f}));
    }
    Node("Clip", {x, "zero", "six"}, {name});
    return name;
  }
  ir::Graph& graph() { return g_; }

 private:
  ir::Graph g_;
  int opset_;
};

// ---------------------------------------------------------------------------------
// Running graphs.

KernelRegistry& Registry() {
  static KernelRegistry* r = [] {
    auto* reg = new KernelRegistry;
    engine::RegisterXnnpackKernels(*reg);
    return reg;
  }();
  return *r;
}

bool IsRegion(const ir::Node& n) {
  return n.op_type == engine::kXnnpackRegionOp && n.domain == engine::kXnnpackDomain;
}

const ir::Graph& Body(const ir::Node& n) {
  return *n.Find("body")->graph;
}

Expected<std::unique_ptr<OpKernel>> MakeKernel(const ir::Node& node, int threads = 1) {
  const ir::Graph& body = Body(node);
  PrepareContext prep{body, threads, [&body](const std::string& name) -> const Tensor* {
                        auto it = body.initializers.find(name);
                        return it == body.initializers.end() ? nullptr : it->second.get();
                      }};
  return Registry().Create(node, prep);
}

// Runs one region node on f32 tensors.
Expected<std::vector<Tensor>> RunKernel(OpKernel& kernel, const ir::Node& node,
                                        const std::vector<const Tensor*>& inputs, int threads = 1) {
  testing::SingleNodeContext ctx(node, inputs, threads);
  DEEPEDGE_RETURN_IF_ERROR(kernel.Run(ctx));
  return std::move(ctx.outputs());
}

// Runs a graph: regions through the kernel, everything else through the reference.
Env RunGraph(const ir::Graph& g, const std::map<std::string, Tensor>& inputs, int threads = 1) {
  Env env;
  for (const auto& [name, t] : g.initializers) env[name] = FromTensor(*t);
  for (const auto& [name, t] : inputs) env[name] = FromTensor(t);
  for (const ir::Node& n : g.nodes) {
    if (!IsRegion(n)) {
      Eval(n, env);
      continue;
    }
    auto kernel = MakeKernel(n, threads);
    if (!kernel) {
      ADD_FAILURE() << kernel.status().ToString();
      return env;
    }
    std::vector<Tensor> ins;
    for (const std::string& name : n.inputs) ins.push_back(ToTensor(env.at(name)));
    std::vector<const Tensor*> ptrs;
    for (const Tensor& t : ins) ptrs.push_back(&t);
    auto outs = RunKernel(**kernel, n, ptrs, threads);
    if (!outs) {
      ADD_FAILURE() << outs.status().ToString();
      return env;
    }
    for (std::size_t i = 0; i < n.outputs.size(); ++i) env[n.outputs[i]] = FromTensor((*outs)[i]);
  }
  return env;
}

void ExpectClose(const Ref& got, const Ref& want, const std::string& what, double rel = 1e-4) {
  ASSERT_EQ(got.dims, want.dims) << what;
  ASSERT_EQ(got.v.size(), want.v.size()) << what;
  int bad = 0;
  for (std::size_t i = 0; i < got.v.size(); ++i) {
    const double tol = rel * std::max(1.0, std::abs(want.v[i]));
    if (!(std::abs(got.v[i] - want.v[i]) <= tol) && ++bad <= 5) {
      ADD_FAILURE() << what << "[" << i << "]: got " << got.v[i] << ", want " << want.v[i];
    }
  }
  EXPECT_EQ(bad, 0) << what;
}

struct Partitioned {
  ir::Graph graph;
  std::vector<std::string> notes;
  int regions = 0;
};

Partitioned Partition(const ir::Graph& g, engine::XnnPassOptions opts = {}) {
  Partitioned p;
  opts.notes = &p.notes;
  auto out = engine::PartitionForXnnpack(g, opts);
  EXPECT_TRUE(out.has_value()) << out.status().ToString();
  if (out) p.graph = std::move(*out);
  for (const ir::Node& n : p.graph.nodes) p.regions += IsRegion(n) ? 1 : 0;
  return p;
}

// Reference on the original graph vs the partitioned graph; every graph output.
void CheckAgainstReference(const ir::Graph& original, const ir::Graph& partitioned,
                           const std::map<std::string, Tensor>& inputs, int threads = 1,
                           double rel = 1e-4) {
  const Env want = RunGraph(original, inputs);
  const Env got = RunGraph(partitioned, inputs, threads);
  for (const ir::ValueInfo& vi : original.outputs) {
    ASSERT_TRUE(got.count(vi.name)) << vi.name;
    ExpectClose(got.at(vi.name), want.at(vi.name), vi.name, rel);
  }
}

std::vector<std::string> OpTypes(const ir::Graph& g) {
  std::vector<std::string> ops;
  for (const ir::Node& n : g.nodes) ops.push_back(n.op_type);
  return ops;
}

std::vector<std::string> Names(const std::vector<ir::ValueInfo>& vis) {
  std::vector<std::string> names;
  for (const ir::ValueInfo& vi : vis) names.push_back(vi.name);
  return names;
}

std::map<std::string, Tensor> OneInput(const std::string& name, const Shape& shape) {
  std::map<std::string, Tensor> m;
  m.emplace(name, Random(shape));
  return m;
}

// ---------------------------------------------------------------------------------
// Tests.

TEST(XnnpackPassTest, ConvBatchNormReluBecomesOneRegion) {
  Builder b;
  b.Input("x", {1, 3, 8, 8});
  b.Relu("y", b.BatchNorm("bn", b.Conv("conv", "x", 3, 8, 3, 1, 1), 8));
  b.Output("y");
  Partitioned p = Partition(b.graph());
  ASSERT_EQ(OpTypes(p.graph), std::vector<std::string>{"XnnpackRegion"});
  const ir::Node& region = p.graph.nodes[0];
  EXPECT_EQ(region.domain, "com.deepedge");
  EXPECT_EQ(region.opset, 1);
  EXPECT_EQ(region.inputs, std::vector<std::string>{"x"});
  EXPECT_EQ(region.outputs, std::vector<std::string>{"y"});
  const ir::Graph& body = Body(region);
  EXPECT_EQ(OpTypes(body), (std::vector<std::string>{"Conv", "BatchNormalization", "Relu"}));
  EXPECT_EQ(Names(body.inputs), std::vector<std::string>{"x"});
  EXPECT_EQ(Names(body.outputs), std::vector<std::string>{"y"});
  EXPECT_EQ(body.initializers.size(), 6u);  // conv w, b; bn scale, bias, mean, var
  ASSERT_TRUE(body.inputs[0].shape.has_value());
  EXPECT_EQ(*body.inputs[0].shape, Shape({1, 3, 8, 8}));
  // The constants moved into the region.
  EXPECT_TRUE(p.graph.initializers.empty());
  CheckAgainstReference(b.graph(), p.graph, OneInput("x", {1, 3, 8, 8}));
}

TEST(XnnpackPassTest, DepthwiseConvolutions) {
  Builder b;
  b.Input("x", {2, 4, 9, 9});
  // Depthwise, multiplier 2, then Relu6; a 5x5 dilated depthwise; a 1x1 pointwise.
  std::string y = b.Relu6("dw1r", b.Conv("dw1", "x", 4, 8, 3, 1, 1, /*group=*/4));
  ir::Node& dw2 = b.graph().nodes.emplace_back(
      MakeNode("Conv", {y, b.RandomInit("dw2.w", {8, 1, 5, 5}, -0.3f, 0.3f)}, {"dw2"}, 13));
  SetInt(dw2, "group", 8);
  SetInts(dw2, "dilations", {2, 1});
  SetInts(dw2, "pads", {4, 2, 4, 2});
  SetInts(dw2, "strides", {1, 2});
  b.Conv("pw", "dw2", 8, 6, 1, 1, 0);
  b.Output("pw");
  Partitioned p = Partition(b.graph());
  ASSERT_EQ(p.regions, 1);
  ASSERT_EQ(p.graph.nodes.size(), 1u);
  CheckAgainstReference(b.graph(), p.graph, OneInput("x", {2, 4, 9, 9}));
}

TEST(XnnpackPassTest, StridedConvWithAsymmetricPadsAutoPadAndGroups) {
  Builder b;
  b.Input("x", {2, 4, 10, 11});
  ir::Node& c1 = b.Node("Conv", {"x", b.RandomInit("c1.w", {6, 4, 3, 3}, -0.3f, 0.3f)}, {"c1"});
  SetInts(c1, "strides", {2, 2});
  SetInts(c1, "pads", {0, 1, 2, 1});
  ir::Node& c2 = b.Node(
      "Conv", {"c1", b.RandomInit("c2.w", {6, 3, 3, 2}, -0.3f, 0.3f), b.RandomInit("c2.b", {6})},
      {"c2"});
  SetInt(c2, "group", 2);
  SetString(c2, "auto_pad", "SAME_UPPER");
  SetInts(c2, "strides", {2, 2});
  ir::Node& c3 = b.Node("Conv", {"c2", b.RandomInit("c3.w", {5, 6, 2, 3}, -0.3f, 0.3f)}, {"c3"});
  SetString(c3, "auto_pad", "SAME_LOWER");
  ir::Node& c4 = b.Node("Conv", {"c3", b.RandomInit("c4.w", {5, 5, 2, 2}, -0.3f, 0.3f)}, {"c4"});
  SetString(c4, "auto_pad", "VALID");
  b.Output("c4");
  Partitioned p = Partition(b.graph());
  ASSERT_EQ(p.regions, 1);
  CheckAgainstReference(b.graph(), p.graph, OneInput("x", {2, 4, 10, 11}));
}

TEST(XnnpackPassTest, GemmMatMulAndSoftmax) {
  Builder b;
  b.Input("x", {3, 16});
  ir::Node& g1 =
      b.Node("Gemm", {"x", b.RandomInit("g1.w", {8, 16}), b.RandomInit("g1.c", {8})}, {"g1"});
  SetInt(g1, "transB", 1);
  SetFloat(g1, "alpha", 0.5f);
  SetFloat(g1, "beta", 2.0f);
  b.Relu("r1", "g1");
  b.Node("Gemm", {"r1", b.RandomInit("g2.w", {8, 12}), b.RandomInit("g2.c", {1, 12})}, {"g2"});
  b.Node("MatMul", {"g2", b.RandomInit("m.w", {12, 10})}, {"m"});
  b.Node("Softmax", {"m"}, {"y"});
  b.Output("y");
  Partitioned p = Partition(b.graph());
  ASSERT_EQ(OpTypes(p.graph), std::vector<std::string>{"XnnpackRegion"});
  CheckAgainstReference(b.graph(), p.graph, OneInput("x", {3, 16}));
}

TEST(XnnpackPassTest, Pools) {
  Builder b;
  b.Input("x", {2, 5, 13, 12});
  std::string x = b.Conv("conv", "x", 5, 6, 3, 1, 1);
  ir::Node& mp = b.Node("MaxPool", {x}, {"mp"});
  SetInts(mp, "kernel_shape", {3, 3});
  SetInts(mp, "strides", {2, 2});
  SetInts(mp, "pads", {1, 1, 1, 1});
  ir::Node& mpc = b.Node("MaxPool", {"mp"}, {"mpc"});
  SetInts(mpc, "kernel_shape", {3, 2});
  SetInts(mpc, "strides", {2, 2});
  SetInt(mpc, "ceil_mode", 1);
  ir::Node& ap0 = b.Node("AveragePool", {x}, {"ap0"});
  SetInts(ap0, "kernel_shape", {3, 3});
  SetInts(ap0, "strides", {2, 2});
  SetInts(ap0, "pads", {1, 0, 1, 2});
  ir::Node& ap1 = b.Node("AveragePool", {x}, {"ap1"});
  SetInts(ap1, "kernel_shape", {3, 3});
  SetInts(ap1, "strides", {2, 2});
  SetInts(ap1, "pads", {1, 1, 1, 1});
  SetInt(ap1, "count_include_pad", 1);
  ir::Node& apc = b.Node("AveragePool", {x}, {"apc"});
  SetInts(apc, "kernel_shape", {2, 2});
  SetInts(apc, "strides", {2, 2});
  SetInt(apc, "ceil_mode", 1);
  ir::Node& apci = b.Node("AveragePool", {x}, {"apci"});
  SetInts(apci, "kernel_shape", {3, 3});
  SetInts(apci, "strides", {2, 2});
  SetInts(apci, "pads", {1, 1, 1, 1});
  SetInt(apci, "ceil_mode", 1);
  SetInt(apci, "count_include_pad", 1);
  b.Node("GlobalAveragePool", {x}, {"gap"});
  b.Node("GlobalMaxPool", {x}, {"gmp"});
  ir::Node& mpd = b.Node("MaxPool", {x}, {"mpd"});  // dilated, stride > kernel
  SetInts(mpd, "kernel_shape", {2, 2});
  SetInts(mpd, "strides", {3, 3});
  SetInts(mpd, "dilations", {2, 2});
  SetInts(mpd, "pads", {1, 0, 1, 0});
  ir::Node& aps = b.Node("AveragePool", {x}, {"aps"});
  SetInts(aps, "kernel_shape", {1, 2});
  SetInts(aps, "strides", {3, 3});
  SetString(aps, "auto_pad", "SAME_UPPER");
  for (const char* out : {"mpc", "ap0", "ap1", "apc", "apci", "gap", "gmp", "mpd", "aps"}) {
    b.Output(out);
  }
  Partitioned p = Partition(b.graph());
  ASSERT_EQ(p.regions, 1);
  EXPECT_EQ(p.graph.nodes[0].outputs.size(), 9u);
  CheckAgainstReference(b.graph(), p.graph, OneInput("x", {2, 5, 13, 12}));
}

TEST(XnnpackPassTest, GlobalPoolFlattenGemmSoftmaxHead) {
  Builder b;
  b.Input("x", {2, 8, 7, 7});
  b.Conv("conv", "x", 8, 16, 1, 1, 0);
  b.Node("GlobalAveragePool", {"conv"}, {"gap"});
  b.Node("Flatten", {"gap"}, {"flat"});
  ir::Node& fc =
      b.Node("Gemm", {"flat", b.RandomInit("fc.w", {10, 16}), b.RandomInit("fc.b", {10})}, {"fc"});
  SetInt(fc, "transB", 1);
  b.Node("Softmax", {"fc"}, {"prob"});
  // A second head through Reshape [0, -1] and Squeeze.
  b.Init("shape", testing::I64({2}, {0, -1}));
  b.Node("Reshape", {"gap", "shape"}, {"r"});
  b.Init("axes", testing::I64({2}, {2, 3}));
  b.Node("Squeeze", {"gap", "axes"}, {"sq"});
  b.Node("Add", {"r", "sq"}, {"sum"});
  b.Output("prob");
  b.Output("sum");
  Partitioned p = Partition(b.graph());
  ASSERT_EQ(OpTypes(p.graph), std::vector<std::string>{"XnnpackRegion"});
  CheckAgainstReference(b.graph(), p.graph, OneInput("x", {2, 8, 7, 7}));
}

TEST(XnnpackPassTest, PadAndReduceMean) {
  Builder b;
  b.Input("x", {2, 3, 7, 6});
  b.Init("pads", testing::I64({8}, {0, 1, 2, 0, 0, 2, 1, 3}));
  b.Init("value", testing::F32({}, {0.5f}));
  b.Node("Pad", {"x", "pads", "value"}, {"pad"});
  b.Conv("conv", "pad", 6, 4, 3, 2, 0);
  b.Init("axes", testing::I64({2}, {2, -1}));
  ir::Node& m1 = b.Node("ReduceMean", {"conv"}, {"m1"});
  SetInts(m1, "axes", {2, 3});
  ir::Node& m0 = b.Node("ReduceMean", {"conv"}, {"m0"});
  SetInts(m0, "axes", {-1, 2});
  SetInt(m0, "keepdims", 0);
  b.Output("m1");
  b.Output("m0");
  Partitioned p = Partition(b.graph());
  ASSERT_EQ(OpTypes(p.graph), std::vector<std::string>{"XnnpackRegion"});
  CheckAgainstReference(b.graph(), p.graph, OneInput("x", {2, 3, 7, 6}));
  // Other reductions and padding modes stay outside.
  Builder c;
  c.Input("x", {2, 3, 7, 6});
  ir::Node& r = c.Node("ReduceMean", {"x"}, {"r"});
  SetInts(r, "axes", {1});
  c.Init("pads", testing::I64({8}, {0, 0, 1, 1, 0, 0, 1, 1}));
  ir::Node& pr = c.Node("Pad", {"x", "pads"}, {"p"});
  SetString(pr, "mode", "reflect");
  c.Output("r");
  c.Output("p");
  EXPECT_EQ(Partition(c.graph()).regions, 0);
}

TEST(XnnpackPassTest, ResidualAddAndPerChannelConstants) {
  Builder b;
  b.Input("x", {1, 8, 6, 6});
  std::string y = b.Relu("r1", b.BatchNorm("bn1", b.Conv("c1", "x", 8, 8, 3, 1, 1, 1, false), 8));
  y = b.BatchNorm("bn2", b.Conv("c2", y, 8, 8, 3, 1, 1, 1, false), 8);
  b.Node("Add", {y, "x"}, {"add"});
  b.Relu("r2", "add");
  b.Node("Mul", {"r2", b.RandomInit("scale", {8, 1, 1})}, {"mul"});
  b.Node("Sub", {b.RandomInit("bias4", {1, 8, 1, 1}), "mul"}, {"sub"});
  b.Node("Div", {"sub", b.RandomInit("divisor", {1}, 1.0f, 2.0f)}, {"div"});
  b.Node("Max", {"div", "x"}, {"max"});
  b.Node("Min", {"max", b.RandomInit("full", {1, 8, 6, 6})}, {"min"});
  b.Output("min");
  Partitioned p = Partition(b.graph());
  ASSERT_EQ(OpTypes(p.graph), std::vector<std::string>{"XnnpackRegion"});
  CheckAgainstReference(b.graph(), p.graph, OneInput("x", {1, 8, 6, 6}));
}

// Layers deep enough for the engine's own kernels (1x1 convolutions from 128 channels,
// a Winograd 3x3) between XNNPACK ops split the region into steps whose border values
// share buffers by liveness; `a` is read again three steps after it is made, so a
// buffer handed on too early would corrupt the sum.
TEST(XnnpackPassTest, OwnKernelStepsShareBuffersByLiveness) {
  Builder b;
  b.Input("x", {1, 128, 12, 12});
  const std::string a = b.Relu("a_r", b.Conv("a", "x", 128, 128, 1, 1, 0));
  const std::string d = b.Relu("d_r", b.Conv("d", a, 128, 128, 3, 1, 1, 128));
  const std::string e = b.Conv("e", d, 128, 128, 1, 1, 0);
  b.Node("Add", {e, a}, {"sum"});
  const std::string g = b.Relu("g_r", b.Conv("g", "sum", 128, 64, 3, 1, 1));
  const std::string h = b.Conv("h", g, 64, 130, 1, 1, 0);
  b.Output(h);
  Partitioned p = Partition(b.graph());
  ASSERT_EQ(OpTypes(p.graph), std::vector<std::string>{"XnnpackRegion"});
  for (int threads : {1, 2}) {
    CheckAgainstReference(b.graph(), p.graph, OneInput("x", {1, 128, 12, 12}), threads);
  }
}

// A 7x7 stride-2 stem over 3 channels and a 2.4 MB stride-1 filter on a 10x10 map run
// as im2col products on the engine's kernel (the second streams its filter), inside a
// region, on the executor's real thread pool.
TEST(XnnpackPassTest, StemAndLargeFilterConvolutionsOnTheEnginesGemm) {
  Builder b;
  b.Input("x", {1, 3, 20, 20});
  const std::string stem = b.Relu("stem_r", b.Conv("stem", "x", 3, 32, 7, 2, 3));
  const std::string widen = b.Conv("widen", stem, 32, 128, 1, 1, 0);
  const std::string deep = b.Relu("deep_r", b.Conv("deep", widen, 128, 512, 3, 1, 1));
  b.Output(deep);
  Partitioned p = Partition(b.graph());
  ASSERT_EQ(OpTypes(p.graph), std::vector<std::string>{"XnnpackRegion"});
  for (int threads : {1, 2}) {
    CheckAgainstReference(b.graph(), p.graph, OneInput("x", {1, 3, 20, 20}), threads);
  }
}

TEST(XnnpackPassTest, ActivationsAndStandaloneBatchNorm) {
  Builder b;
  b.Input("x", {2, 6, 5, 4});
  std::string c = b.Conv("conv", "x", 6, 6, 3, 1, 1);
  b.Node("Sigmoid", {c}, {"sig"});
  b.Node("HardSwish", {"sig"}, {"hs"});
  ir::Node& lr = b.Node("LeakyRelu", {"hs"}, {"lr"});
  SetFloat(lr, "alpha", 0.2f);
  b.Node("Elu", {"lr"}, {"elu"});
  b.Node("PRelu", {c, b.RandomInit("slope", {6, 1, 1})}, {"prelu"});
  b.Node("Abs", {"prelu"}, {"abs"});
  b.Node("Neg", {"abs"}, {"neg"});
  b.BatchNorm("bnx", c, 6);           // its input has other consumers: multiply + add
  b.Node("Tanh", {"bnx"}, {"out3"});  // not supported: stays outside
  ir::Node& sm = b.Node("Softmax", {"neg"}, {"smc"});
  SetInt(sm, "axis", 1);
  b.Output("elu");
  b.Output("smc");
  b.Output("out3");
  Partitioned p = Partition(b.graph());
  EXPECT_EQ(OpTypes(p.graph), (std::vector<std::string>{"XnnpackRegion", "Tanh"}));
  CheckAgainstReference(b.graph(), p.graph, OneInput("x", {2, 6, 5, 4}));
}

TEST(XnnpackPassTest, FireModuleConcatStaysInTheRegion) {
  Builder b;
  b.Input("x", {1, 16, 9, 9});
  std::string s = b.Relu("sq_r", b.Conv("sq", "x", 16, 4, 1, 1, 0));
  std::string e1 = b.Relu("e1_r", b.Conv("e1", s, 4, 8, 1, 1, 0));
  std::string e3 = b.Relu("e3_r", b.Conv("e3", s, 4, 8, 3, 1, 1));
  std::string e5 = b.Conv("e5", s, 4, 3, 3, 1, 1);
  ir::Node& cat = b.Node("Concat", {e1, e3, e5}, {"cat"});
  SetInt(cat, "axis", 1);
  ir::Node& mp = b.Node("MaxPool", {"cat"}, {"pool"});
  SetInts(mp, "kernel_shape", {3, 3});
  SetInts(mp, "strides", {2, 2});
  SetInt(mp, "ceil_mode", 1);
  b.Output("pool");
  Partitioned p = Partition(b.graph());
  ASSERT_EQ(OpTypes(p.graph), std::vector<std::string>{"XnnpackRegion"});
  CheckAgainstReference(b.graph(), p.graph, OneInput("x", {1, 16, 9, 9}));
}

// A feature pyramid as PP-OCRv4's detector has it: nearest upsampling (2x, half_pixel,
// and 3x, asymmetric floor), a channel concatenation, a squeeze-and-excitation gate
// (HardSigmoid folded into its 1x1 convolution) and a stand-alone HardSigmoid, all in
// one region. Before, the pass lost the shapes after each Resize and every later layer
// ran outside XNNPACK.
TEST(XnnpackPassTest, PyramidUpsamplingConcatAndGatesStayInTheRegion) {
  for (int threads : {1, 2}) {
    Builder b;
    b.Input("x", {1, 8, 12, 10});
    b.Init("s2", testing::F32({4}, {1.0f, 1.0f, 2.0f, 2.0f}));
    b.Init("s3", testing::F32({4}, {1.0f, 1.0f, 3.0f, 3.0f}));
    b.Init("roi", testing::F32({0}, {}));
    const std::string c0 = b.Conv("c0", "x", 8, 8, 3, 1, 1);
    const std::string c1 = b.Conv("c1", c0, 8, 16, 3, 2, 1);  // 6x5
    b.Node("Resize", {c1, "", "s2"}, {"up2"});
    const std::string c2 = b.Conv("c2", c0, 8, 16, 1, 1, 0);
    ir::Node& cat = b.Node("Concat", {"up2", c2}, {"cat"});
    SetInt(cat, "axis", 1);
    const std::string c3 = b.Conv("c3", "cat", 32, 8, 3, 1, 1);
    b.Node("GlobalAveragePool", {c3}, {"gap"});
    const std::string se = b.Conv("se", "gap", 8, 8, 1, 1, 0);
    ir::Node& gate = b.Node("HardSigmoid", {se}, {"gate"});
    SetFloat(gate, "alpha", 0.25f);
    b.Node("Mul", {c3, "gate"}, {"scaled"});
    ir::Node& up3 = b.Node("Resize", {"scaled", "roi", "s3"}, {"up3"});
    SetString(up3, "coordinate_transformation_mode", "asymmetric");
    SetString(up3, "nearest_mode", "floor");
    b.Node("HardSigmoid", {"up3"}, {"out"});
    b.Output("out");
    Partitioned p = Partition(b.graph());
    std::string notes;
    for (const std::string& s : p.notes) notes += s + "\n";
    ASSERT_EQ(OpTypes(p.graph), std::vector<std::string>{"XnnpackRegion"}) << notes;
    CheckAgainstReference(b.graph(), p.graph, OneInput("x", {1, 8, 12, 10}), threads);
  }
}

// Constant scales and offsets of a convolution's output (PP-LCNet's learnable affine
// blocks: a scalar Mul and Add after every convolution; per-channel ones too) fold into
// its weights and bias. Constants that broadcast along another axis, or an output read
// twice, must not: the results would differ.
TEST(XnnpackPassTest, ConstantScalesAndOffsetsOfConvolutionsFoldExactly) {
  for (int threads : {1, 2}) {
    Builder b;
    b.Input("x", {1, 4, 5, 6});
    b.Init("s", testing::F32({1}, {1.75f}));
    b.Init("t", testing::F32({}, {-0.5f}));
    b.RandomInit("sc", {6, 1, 1}, 0.5f, 1.5f);
    b.RandomInit("tc", {1, 6, 1, 1});
    b.RandomInit("tw", {6});  // along W (6 wide, as many as the channels)
    const std::string c1 = b.Conv("c1", "x", 4, 6, 3, 1, 1);
    b.Node("Mul", {"s", c1}, {"m1"});
    b.Node("Add", {"m1", "t"}, {"a1"});
    const std::string c2 = b.Conv("c2", "a1", 6, 6, 3, 1, 1, /*group=*/6, /*bias=*/false);
    b.Node("Mul", {c2, "sc"}, {"m2"});
    b.Node("Add", {"tc", "m2"}, {"a2"});
    const std::string c3 = b.Conv("c3", "a2", 6, 6, 1, 1, 0);
    b.Node("Add", {c3, "tw"}, {"a3"});
    const std::string c4 = b.Conv("c4", "a3", 6, 6, 1, 1, 0);
    b.Node("Mul", {c4, "s"}, {"m4"});
    b.Node("Add", {c4, "m4"}, {"out"});  // c4 is read twice
    b.Output("out");
    Partitioned p = Partition(b.graph());
    std::string notes;
    for (const std::string& n : p.notes) notes += n + "\n";
    ASSERT_EQ(OpTypes(p.graph), std::vector<std::string>{"XnnpackRegion"}) << notes;
    CheckAgainstReference(b.graph(), p.graph, OneInput("x", {1, 4, 5, 6}), threads);
  }
}

// tf2onnx turns a one-channel NHWC input into NCHW with a Reshape ([N, H, W, 1] ->
// [N, 1, H, W]), which no region takes (the NHWC orders differ); the layers after it
// still know their shapes and form a region.
TEST(XnnpackPassTest, LayersAfterAReshapeLeftOutsideStillFormARegion) {
  Builder b;
  b.Input("x", {Shape::kDynamic, 6, 5, 1});
  b.Init("nchw", testing::I64({4}, {-1, 1, 6, 5}));
  b.Node("Reshape", {"x", "nchw"}, {"r"});
  b.Relu("y", b.Conv("c", "r", 1, 8, 3, 1, 1));
  b.Output("y");
  Partitioned p = Partition(b.graph());
  std::string notes;
  for (const std::string& n : p.notes) notes += n + "\n";
  ASSERT_EQ(OpTypes(p.graph), (std::vector<std::string>{"Reshape", "XnnpackRegion"})) << notes;
  CheckAgainstReference(b.graph(), p.graph, OneInput("x", {2, 6, 5, 1}));
}

// Nearest resizes whose coordinates do not reduce to floor(y / factor) stay outside.
TEST(XnnpackPassTest, OtherResizesStayOutside) {
  Builder b;
  b.Input("x", {1, 4, 6, 6});
  b.Init("s3", testing::F32({4}, {1.0f, 1.0f, 3.0f, 3.0f}));
  const std::string c = b.Relu("r", b.Conv("c", "x", 4, 4, 3, 1, 1));
  ir::Node& up = b.Node("Resize", {c, "", "s3"}, {"up"});
  SetString(up, "coordinate_transformation_mode", "asymmetric");  // round_prefer_floor at 3x
  b.Relu("r2", b.Conv("c2", "up", 4, 4, 3, 1, 1));
  b.Output("r2");
  Partitioned p = Partition(b.graph());
  ASSERT_EQ(OpTypes(p.graph),
            (std::vector<std::string>{"XnnpackRegion", "Resize", "XnnpackRegion"}));
  CheckAgainstReference(b.graph(), p.graph, OneInput("x", {1, 4, 6, 6}));
}

// A roi computed in the graph would be a 1-D region input, which a region cannot take:
// the Resize stays outside (the model loads and runs) although its mode would qualify.
TEST(XnnpackPassTest, ResizeWithAComputedRoiStaysOutside) {
  Builder b;
  b.Input("x", {1, 4, 6, 6});
  b.Input("roi", {0});
  b.Init("s2", testing::F32({4}, {1.0f, 1.0f, 2.0f, 2.0f}));
  const std::string c = b.Relu("r", b.Conv("c", "x", 4, 4, 3, 1, 1));
  b.Node("Resize", {c, "roi", "s2"}, {"up"});
  b.Relu("r2", b.Conv("c2", "up", 4, 4, 3, 1, 1));
  b.Output("r2");
  Partitioned p = Partition(b.graph());
  ASSERT_EQ(OpTypes(p.graph),
            (std::vector<std::string>{"XnnpackRegion", "Resize", "XnnpackRegion"}));
  std::map<std::string, Tensor> in = OneInput("x", {1, 4, 6, 6});
  in.emplace("roi", testing::F32({0}, {}));
  CheckAgainstReference(b.graph(), p.graph, in);
}

TEST(XnnpackPassTest, UnsupportedNodesStayOutside) {
  Builder b;
  b.Input("x", {1, 3, 8, 8});
  b.Relu("r1", b.Conv("c1", "x", 3, 4, 3, 1, 1));
  b.Node("Tanh", {"r1"}, {"t"});
  b.Relu("r2", b.Conv("c2", "t", 4, 4, 3, 1, 1));
  b.Output("r2");
  b.Output("r1");  // also a graph output: the first region exports it
  Partitioned p = Partition(b.graph());
  ASSERT_EQ(OpTypes(p.graph), (std::vector<std::string>{"XnnpackRegion", "Tanh", "XnnpackRegion"}));
  EXPECT_EQ(p.graph.nodes[0].outputs, std::vector<std::string>{"r1"});
  EXPECT_EQ(p.graph.nodes[2].inputs, std::vector<std::string>{"t"});
  bool noted = false;
  for (const std::string& s : p.notes) noted = noted || s.find("Tanh") != std::string::npos;
  EXPECT_TRUE(noted);
  CheckAgainstReference(b.graph(), p.graph, OneInput("x", {1, 3, 8, 8}));
}

TEST(XnnpackPassTest, RegionsNeverFormACycle) {
  // conv -> tanh (outside) -> add(conv, tanh): the Add cannot join the conv's region.
  Builder b;
  b.Input("x", {1, 3, 6, 6});
  b.Conv("c", "x", 3, 4, 3, 1, 1);
  b.Node("Tanh", {"c"}, {"t"});
  b.Node("Add", {"c", "t"}, {"a"});
  b.Conv("c2", "a", 4, 4, 1, 1, 0);
  b.Output("c2");
  Partitioned p = Partition(b.graph());
  ASSERT_EQ(OpTypes(p.graph), (std::vector<std::string>{"XnnpackRegion", "Tanh", "XnnpackRegion"}));
  EXPECT_EQ(OpTypes(Body(p.graph.nodes[2])), (std::vector<std::string>{"Add", "Conv"}));
  CheckAgainstReference(b.graph(), p.graph, OneInput("x", {1, 3, 6, 6}));
}

TEST(XnnpackPassTest, TinyRegionsAreDissolved) {
  Builder b;
  b.Input("x", {1, 4, 6, 6});
  b.Node("Tanh", {"x"}, {"t"});
  b.Node("Add", {"t", "x"}, {"a"});  // one Add on 4-D data: transposes would cost more
  b.Node("Tanh", {"a"}, {"y"});
  b.Output("y");
  Partitioned p = Partition(b.graph());
  EXPECT_EQ(OpTypes(p.graph), (std::vector<std::string>{"Tanh", "Add", "Tanh"}));
  bool noted = false;
  for (const std::string& s : p.notes) noted = noted || s.find("dropped") != std::string::npos;
  EXPECT_TRUE(noted);
  // Two light nodes on 2-D data need no transposes: kept.
  Builder c;
  c.Input("x", {2, 10});
  c.Node("Tanh", {"x"}, {"t"});
  c.Node("Relu", {"t"}, {"r"});
  c.Node("Softmax", {"r"}, {"y"});
  c.Output("y");
  Partitioned q = Partition(c.graph());
  EXPECT_EQ(OpTypes(q.graph), (std::vector<std::string>{"Tanh", "XnnpackRegion"}));
  CheckAgainstReference(c.graph(), q.graph, OneInput("x", {2, 10}));
}

TEST(XnnpackPassTest, AliasedOutputsAreCopied) {
  // Identity makes region outputs that are the region input or another output.
  Builder b;
  b.Input("x", {2, 10});
  b.Node("Identity", {"x"}, {"i"});
  b.Relu("r", "i");
  b.Node("Softmax", {"r"}, {"y"});
  b.Node("Identity", {"r"}, {"j"});
  b.Output("i");
  b.Output("y");
  b.Output("r");
  b.Output("j");
  Partitioned p = Partition(b.graph());
  ASSERT_EQ(OpTypes(p.graph), std::vector<std::string>{"XnnpackRegion"});
  CheckAgainstReference(b.graph(), p.graph, OneInput("x", {2, 10}));
  // A region of Identity nodes alone is not worth one.
  Builder c;
  c.Input("x", {2, 10});
  c.Node("Identity", {"x"}, {"i"});
  c.Node("Dropout", {"i"}, {"y"});
  c.Output("y");
  EXPECT_EQ(Partition(c.graph()).regions, 0);
}

TEST(XnnpackPassTest, NothingSupportedLeavesTheGraphUnchanged) {
  Builder b;
  b.Input("x", {1, 4, 6, 6});
  b.Node("Tanh", {"x"}, {"t"});
  ir::Node& lrn = b.Node("LRN", {"t"}, {"y"});
  SetInt(lrn, "size", 3);
  b.Output("y");
  Partitioned p = Partition(b.graph());
  EXPECT_EQ(OpTypes(p.graph), (std::vector<std::string>{"Tanh", "LRN"}));
  EXPECT_EQ(p.graph.nodes[1].name, b.graph().nodes[1].name);
  EXPECT_EQ(Names(p.graph.inputs), Names(b.graph().inputs));
  EXPECT_EQ(Names(p.graph.outputs), Names(b.graph().outputs));
  // Unknown shapes (no value_info) and non-f32 inputs are not taken either.
  Builder c;
  c.Input("x", {1, 4, 6, 6}, DType::kF16);
  c.Conv("c", "x", 4, 4, 3, 1, 1);
  c.Output("c");
  EXPECT_EQ(Partition(c.graph()).regions, 0);
}

TEST(XnnpackPassTest, DynamicBatchAndSpatialDims) {
  Builder b;
  b.Input("x", {Shape::kDynamic, 3, Shape::kDynamic, Shape::kDynamic});
  b.Relu("r", b.Conv("c", "x", 3, 4, 3, 2, 1));
  b.Node("GlobalAveragePool", {"r"}, {"g"});
  b.Node("Flatten", {"g"}, {"f"});
  b.Output("f");
  Partitioned p = Partition(b.graph());
  ASSERT_EQ(OpTypes(p.graph), std::vector<std::string>{"XnnpackRegion"});
  CheckAgainstReference(b.graph(), p.graph, OneInput("x", {2, 3, 9, 7}));
  // A Flatten of a 4-D tensor whose H, W may exceed 1 is not taken (NHWC order differs).
  Builder c;
  c.Input("x", {Shape::kDynamic, 3, Shape::kDynamic, Shape::kDynamic});
  c.Conv("c", "x", 3, 4, 3, 2, 1);
  c.Node("Flatten", {"c"}, {"f"});
  c.Output("f");
  Partitioned q = Partition(c.graph());
  EXPECT_EQ(OpTypes(q.graph), (std::vector<std::string>{"XnnpackRegion", "Flatten"}));
}

TEST(XnnpackKernelTest, InputShapeChangeRebuildsTheRuntime) {
  Builder b;
  b.Input("x", {Shape::kDynamic, 3, Shape::kDynamic, Shape::kDynamic});
  b.Relu("y", b.Conv("c", "x", 3, 4, 3, 1, 1));
  b.Output("y");
  Partitioned p = Partition(b.graph());
  ASSERT_EQ(p.regions, 1);
  const ir::Node& region = p.graph.nodes[0];
  auto kernel = MakeKernel(region);
  ASSERT_TRUE(kernel.has_value()) << kernel.status().ToString();
  EXPECT_EQ(engine::xnn::RegionKernelBuildCount(**kernel), 0);
  const Shape shapes[] = {{1, 3, 8, 8}, {1, 3, 8, 8}, {2, 3, 10, 12}, {2, 3, 10, 12}, {1, 3, 8, 8}};
  const int builds[] = {1, 1, 2, 2, 3};
  for (int i = 0; i < 5; ++i) {
    Tensor x = Random(shapes[i]);
    auto out = RunKernel(**kernel, region, {&x});
    ASSERT_TRUE(out.has_value()) << out.status().ToString();
    EXPECT_EQ(engine::xnn::RegionKernelBuildCount(**kernel), builds[i]) << i;
    Env env;
    env["x"] = FromTensor(x);
    for (const auto& [name, t] : b.graph().initializers) env[name] = FromTensor(*t);
    for (const ir::Node& n : b.graph().nodes) Eval(n, env);
    ExpectClose(FromTensor((*out)[0]), env.at("y"), "y");
  }
}

TEST(XnnpackKernelTest, TwoThreadsGiveTheSameResults) {
  Builder b;
  b.Input("x", {2, 8, 20, 20});
  std::string y = b.Relu6("r", b.Conv("c", "x", 8, 16, 3, 1, 1));
  y = b.Conv("dw", y, 16, 16, 3, 2, 1, 16);
  b.Output(y);
  Partitioned p = Partition(b.graph());
  ASSERT_EQ(p.regions, 1);
  CheckAgainstReference(b.graph(), p.graph, OneInput("x", {2, 8, 20, 20}), /*threads=*/2);
}

// The border transposes walk a tile along whichever side spreads over more cache sets:
// 32x32 maps put the NCHW planes 4 KiB apart (strided reads), 1024 channels put the
// NHWC pixels 4 KiB apart (strided writes); both give the reference's values, on one
// thread and on two, with odd remainders at the tiles' ends.
TEST(XnnpackKernelTest, BorderTransposesOfAliasingStrides) {
  for (const Shape& shape : {Shape({2, 24, 32, 32}), Shape({1, 1024, 7, 5})}) {
    Builder b;
    b.Input("x", shape);
    b.Relu("y", b.Conv("c", "x", shape[1], shape[1], 1, 1, 0));
    b.Output("y");
    Partitioned p = Partition(b.graph());
    ASSERT_EQ(p.regions, 1);
    for (int threads : {1, 2})
      CheckAgainstReference(b.graph(), p.graph, OneInput("x", shape), threads);
  }
}

// Ops whose estimated one-thread time is under a parallel step's cost run on the
// calling thread: an element-wise op on a few KiB does, a 3x3 convolution of 38 M
// multiply-adds or an op over 4 MiB of activations does not.
TEST(XnnpackKernelTest, SerialPaysOnlyForSmallOps) {
  EXPECT_TRUE(engine::xnn::SerialPays(0, 3 * 4096));
  EXPECT_TRUE(engine::xnn::SerialPays(64 * 16, 2 * 64 * 4));  // an SE block's squeeze 1x1
  EXPECT_FALSE(engine::xnn::SerialPays(64 * 64 * 9 * 32 * 32, 2 * 64 * 32 * 32 * 4));
  EXPECT_FALSE(engine::xnn::SerialPays(0, 4 << 20));
}

// A region that switches between parallel steps (the 3x3 convolution, the gate's
// multiply over the whole map, the last 1x1) and serial ones (the squeeze-excite
// branch on 1x1 maps): on two threads the same values as the reference's.
TEST(XnnpackKernelTest, SerialAndParallelStepsInOneRegion) {
  Builder b;
  b.Input("x", {1, 64, 32, 32});
  const std::string c = b.Relu("c_r", b.Conv("c", "x", 64, 64, 3, 1, 1));
  b.Node("GlobalAveragePool", {c}, {"gap"});
  const std::string squeeze = b.Relu("sq_r", b.Conv("sq", "gap", 64, 16, 1, 1, 0));
  const std::string excite = b.Conv("ex", squeeze, 16, 64, 1, 1, 0);
  b.Node("Sigmoid", {excite}, {"gate"});
  b.Node("Mul", {c, "gate"}, {"scaled"});
  b.Output(b.Conv("out", "scaled", 64, 8, 1, 1, 0));
  Partitioned p = Partition(b.graph());
  std::string notes;
  for (const std::string& s : p.notes) notes += s + "\n";
  ASSERT_EQ(OpTypes(p.graph), std::vector<std::string>{"XnnpackRegion"}) << notes;
  for (int threads : {1, 2})
    CheckAgainstReference(b.graph(), p.graph, OneInput("x", {1, 64, 32, 32}), threads);
}

TEST(XnnpackKernelTest, ErrorsNameTheNode) {
  Builder b;
  b.Input("x", {1, 3, 8, 8});
  b.Conv("c", "x", 3, 4, 3, 1, 1);
  b.Output("c");
  Partitioned p = Partition(b.graph());
  ASSERT_EQ(p.regions, 1);
  const ir::Node& region = p.graph.nodes[0];
  auto kernel = MakeKernel(region);
  ASSERT_TRUE(kernel.has_value());
  Tensor wrong = Random({1, 5, 8, 8});  // 5 channels, the weights want 3
  auto out = RunKernel(**kernel, region, {&wrong});
  ASSERT_FALSE(out.has_value());
  EXPECT_NE(out.status().message().find("XnnpackRegion 'xnnpack_region_0'"), std::string::npos)
      << out.status().message();
  EXPECT_NE(out.status().message().find("Conv 'c'"), std::string::npos) << out.status().message();
  Tensor rank3 = Random({3, 8, 8});
  EXPECT_EQ(RunKernel(**kernel, region, {&rank3}).status().code(), StatusCode::kInvalidArgument);
  // An empty batch runs and gives an empty output.
  Tensor empty = Tensor::Allocate(DType::kF32, {0, 3, 8, 8}).value();
  auto none = RunKernel(**kernel, region, {&empty});
  ASSERT_TRUE(none.has_value()) << none.status().ToString();
  EXPECT_EQ((*none)[0].shape(), Shape({0, 4, 8, 8}));
  // The kernel recovers with a good input afterwards.
  Tensor good = Random({1, 3, 8, 8});
  EXPECT_TRUE(RunKernel(**kernel, region, {&good}).has_value());
  // A body the kernel cannot translate is refused at creation.
  ir::Node bad = region;
  auto body = std::make_shared<ir::Graph>(Body(region));
  body->nodes[0].op_type = "Tanh";
  bad.attributes["body"].graph = body;
  auto k2 = MakeKernel(bad);
  ASSERT_FALSE(k2.has_value());
  EXPECT_EQ(k2.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(k2.status().message().find("Tanh"), std::string::npos);
}

// ---------------------------------------------------------------------------------
// Whole CNNs (the zoo's architectures, built here with random weights): each must
// become ONE region, and match the reference.

enum class Act { kNone, kRelu, kRelu6 };

std::string ConvBnAct(Builder& b, const std::string& name, const std::string& x, std::int64_t cin,
                      std::int64_t cout, std::int64_t k, std::int64_t stride, std::int64_t pad,
                      std::int64_t group, Act act) {
  std::string y = b.BatchNorm(name + ".bn",
                              b.Conv(name, x, cin, cout, k, stride, pad, group,
                                     /*bias=*/false),
                              cout);
  if (act == Act::kRelu) y = b.Relu(name + ".relu", y);
  if (act == Act::kRelu6) y = b.Relu6(name + ".relu6", y);
  return y;
}

std::string Classifier(Builder& b, const std::string& x, std::int64_t channels) {
  b.Node("GlobalAveragePool", {x}, {"pool"});
  b.Node("Flatten", {"pool"}, {"flatten"});
  ir::Node& fc = b.Node("Gemm",
                        {"flatten", b.RandomInit("fc.w", {1000, channels}, -0.05f, 0.05f),
                         b.RandomInit("fc.b", {1000}, -0.1f, 0.1f)},
                        {"logits"});
  SetInt(fc, "transB", 1);
  b.Node("Softmax", {"logits"}, {"output"});
  return "output";
}

void MobileNetV1(Builder& b) {
  struct Block {
    std::int64_t out, stride;
  };
  const Block blocks[] = {{64, 1},  {128, 2}, {128, 1}, {256, 2}, {256, 1},  {512, 2}, {512, 1},
                          {512, 1}, {512, 1}, {512, 1}, {512, 1}, {1024, 2}, {1024, 1}};
  std::string x = ConvBnAct(b, "conv0", "input", 3, 32, 3, 2, 1, 1, Act::kRelu6);
  std::int64_t c = 32;
  int i = 0;
  for (const Block& blk : blocks) {
    const std::string name = "block" + std::to_string(++i);
    x = ConvBnAct(b, name + ".dw", x, c, c, 3, blk.stride, 1, c, Act::kRelu6);
    x = ConvBnAct(b, name + ".pw", x, c, blk.out, 1, 1, 0, 1, Act::kRelu6);
    c = blk.out;
  }
  Classifier(b, x, c);
}

void MobileNetV2(Builder& b) {
  struct Stage {
    std::int64_t t, c, n, s;
  };
  const Stage stages[] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                          {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  std::string x = ConvBnAct(b, "conv0", "input", 3, 32, 3, 2, 1, 1, Act::kRelu6);
  std::int64_t c = 32;
  int i = 0;
  for (const Stage& st : stages) {
    for (std::int64_t r = 0; r < st.n; ++r) {
      const std::string name = "block" + std::to_string(++i);
      const std::int64_t stride = r == 0 ? st.s : 1;
      const std::int64_t hidden = c * st.t;
      std::string y = x;
      if (st.t != 1) y = ConvBnAct(b, name + ".expand", y, c, hidden, 1, 1, 0, 1, Act::kRelu6);
      y = ConvBnAct(b, name + ".dw", y, hidden, hidden, 3, stride, 1, hidden, Act::kRelu6);
      y = ConvBnAct(b, name + ".project", y, hidden, st.c, 1, 1, 0, 1, Act::kNone);
      if (stride == 1 && c == st.c) {
        b.Node("Add", {x, y}, {name + ".add"});
        y = name + ".add";
      }
      x = y;
      c = st.c;
    }
  }
  x = ConvBnAct(b, "conv_last", x, c, 1280, 1, 1, 0, 1, Act::kRelu6);
  Classifier(b, x, 1280);
}

void ResNet18(Builder& b) {
  std::string x = ConvBnAct(b, "conv1", "input", 3, 64, 7, 2, 3, 1, Act::kRelu);
  ir::Node& mp = b.Node("MaxPool", {x}, {"maxpool"});
  SetInts(mp, "kernel_shape", {3, 3});
  SetInts(mp, "strides", {2, 2});
  SetInts(mp, "pads", {1, 1, 1, 1});
  x = "maxpool";
  std::int64_t c = 64;
  const std::int64_t widths[] = {64, 128, 256, 512};
  for (int stage = 0; stage < 4; ++stage) {
    for (int blk = 0; blk < 2; ++blk) {
      const std::string name = "layer" + std::to_string(stage + 1) + "." + std::to_string(blk);
      const std::int64_t w = widths[stage];
      const std::int64_t stride = blk == 0 && stage > 0 ? 2 : 1;
      std::string y = ConvBnAct(b, name + ".1", x, c, w, 3, stride, 1, 1, Act::kRelu);
      y = ConvBnAct(b, name + ".2", y, w, w, 3, 1, 1, 1, Act::kNone);
      std::string shortcut = x;
      if (stride != 1 || c != w) {
        shortcut = ConvBnAct(b, name + ".down", x, c, w, 1, stride, 0, 1, Act::kNone);
      }
      b.Node("Add", {y, shortcut}, {name + ".add"});
      x = b.Relu(name + ".relu", name + ".add");
      c = w;
    }
  }
  Classifier(b, x, c);
}

void SqueezeNet11(Builder& b) {
  auto pool = [&b](const std::string& name, const std::string& x) {
    ir::Node& mp = b.Node("MaxPool", {x}, {name});
    SetInts(mp, "kernel_shape", {3, 3});
    SetInts(mp, "strides", {2, 2});
    SetInt(mp, "ceil_mode", 1);
    return name;
  };
  auto fire = [&b](const std::string& name, const std::string& x, std::int64_t in, std::int64_t sq,
                   std::int64_t e1, std::int64_t e3) {
    std::string s = b.Relu(name + ".sq_relu", b.Conv(name + ".sq", x, in, sq, 1, 1, 0));
    std::string a = b.Relu(name + ".e1_relu", b.Conv(name + ".e1", s, sq, e1, 1, 1, 0));
    std::string c = b.Relu(name + ".e3_relu", b.Conv(name + ".e3", s, sq, e3, 3, 1, 1));
    ir::Node& cat = b.Node("Concat", {a, c}, {name + ".cat"});
    SetInt(cat, "axis", 1);
    return name + ".cat";
  };
  std::string x = pool("pool1", b.Relu("relu1", b.Conv("conv1", "input", 3, 64, 3, 2, 0)));
  x = fire("fire3", fire("fire2", x, 64, 16, 64, 64), 128, 16, 64, 64);
  x = pool("pool3", x);
  x = fire("fire5", fire("fire4", x, 128, 32, 128, 128), 256, 32, 128, 128);
  x = pool("pool5", x);
  x = fire("fire6", x, 256, 48, 192, 192);
  x = fire("fire7", x, 384, 48, 192, 192);
  x = fire("fire8", x, 384, 64, 256, 256);
  x = fire("fire9", x, 512, 64, 256, 256);
  x = b.Relu("relu10", b.Conv("conv10", x, 512, 1000, 1, 1, 0));
  b.Node("GlobalAveragePool", {x}, {"pool10"});
  b.Node("Flatten", {"pool10"}, {"logits"});
  b.Node("Softmax", {"logits"}, {"output"});
}

// Reference vs region on `model` at a small resolution; the logits are compared
// against their largest magnitude (deep float32 accumulations are not bit-exact).
void CheckWholeModel(const std::function<void(Builder&)>& model, std::int64_t res) {
  Builder b;
  b.Input("input", {Shape::kDynamic, 3, 224, 224});
  model(b);
  b.Output("output");
  b.Output("logits");
  // Shapes declare 224; run at `res` (the region rebuilds for any H, W).
  b.graph().inputs[0].shape = Shape({Shape::kDynamic, 3, Shape::kDynamic, Shape::kDynamic});
  Partitioned p = Partition(b.graph());
  ASSERT_EQ(OpTypes(p.graph), std::vector<std::string>{"XnnpackRegion"});
  EXPECT_EQ(p.graph.nodes[0].inputs, std::vector<std::string>{"input"});
  EXPECT_EQ(p.graph.nodes[0].outputs, (std::vector<std::string>{"logits", "output"}));
  const auto inputs = OneInput("input", {2, 3, res, res});
  const Env want = RunGraph(b.graph(), inputs);
  const Env got = RunGraph(p.graph, inputs, 2);
  const Ref& w = want.at("logits");
  const Ref& g = got.at("logits");
  ASSERT_EQ(g.dims, w.dims);
  double scale = 0;
  for (double v : w.v) scale = std::max(scale, std::abs(v));
  int bad = 0;
  for (std::size_t i = 0; i < w.v.size(); ++i) {
    if (!(std::abs(g.v[i] - w.v[i]) <= 1e-4 * scale) && ++bad <= 5) {
      ADD_FAILURE() << "logits[" << i << "]: got " << g.v[i] << ", want " << w.v[i];
    }
  }
  EXPECT_EQ(bad, 0);
  ExpectClose(got.at("output"), want.at("output"), "output", 1e-4);
}

TEST(XnnpackModelTest, MobileNetV1IsOneRegion) {
  CheckWholeModel(MobileNetV1, 32);
}
TEST(XnnpackModelTest, MobileNetV2IsOneRegion) {
  CheckWholeModel(MobileNetV2, 32);
}
TEST(XnnpackModelTest, ResNet18IsOneRegion) {
  CheckWholeModel(ResNet18, 32);
}
TEST(XnnpackModelTest, SqueezeNet11IsOneRegion) {
  CheckWholeModel(SqueezeNet11, 48);
}

}  // namespace
}  // namespace deepedge
