// LSTM, GRU and RNN against a naive double-precision reference of the ONNX equations.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "support/kernel_harness.h"

namespace deepedge {
namespace {

using testing::F32;
using testing::MakeNode;
using testing::RunNode;
using testing::SetFloat;
using testing::SetInt;
using testing::SetString;

std::vector<float> Random(std::size_t n, float lo, float hi, std::uint32_t seed) {
  std::vector<float> v(n);
  std::uint32_t s = seed * 2654435761u + 7;
  for (float& x : v) {
    s = s * 1664525u + 1013904223u;
    x = lo + (hi - lo) * static_cast<float>(s >> 8) / static_cast<float>(1u << 24);
  }
  return v;
}

void SetStrings(ir::Node& n, const std::string& name, std::vector<std::string> v) {
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::kStrings;
  a.strings = std::move(v);
  n.attributes[name] = a;
}
void SetFloats(ir::Node& n, const std::string& name, std::vector<float> v) {
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::kFloats;
  a.floats = std::move(v);
  n.attributes[name] = a;
}

// An activation with its parameters, evaluated in double.
struct Act {
  std::string name;
  double alpha = 0, beta = 0;
  double operator()(double x) const {
    if (name == "Sigmoid") return 1 / (1 + std::exp(-x));
    if (name == "Tanh") return std::tanh(x);
    if (name == "Relu") return std::max(0.0, x);
    if (name == "HardSigmoid") return std::clamp(alpha * x + beta, 0.0, 1.0);
    if (name == "ScaledTanh") return alpha * std::tanh(beta * x);
    if (name == "Affine") return alpha * x + beta;
    if (name == "LeakyRelu") return x >= 0 ? x : alpha * x;
    ADD_FAILURE() << "no reference for " << name;
    return 0;
  }
};

struct RnnCase {
  std::string op;  // LSTM, GRU, RNN
  std::int64_t T, B, I, H;
  std::string direction;
  bool bias, init_h, init_c, peep;
  std::vector<std::int32_t> seq_lens;  // empty: none
  float clip;                          // 0: none
  int input_forget;
  int linear_before_reset;
  int layout;
  std::vector<Act> acts;  // empty: defaults; params only on leading entries (see SetActs)
  bool want_y;
};

int Gates(const std::string& op) {
  return op == "LSTM" ? 4 : op == "GRU" ? 3 : 1;
}

std::vector<Act> DefaultActs(const std::string& op, std::int64_t dirs) {
  std::vector<Act> one = op == "LSTM"  ? std::vector<Act>{{"Sigmoid"}, {"Tanh"}, {"Tanh"}}
                         : op == "GRU" ? std::vector<Act>{{"Sigmoid"}, {"Tanh"}}
                                       : std::vector<Act>{{"Tanh"}};
  std::vector<Act> all;
  for (std::int64_t d = 0; d < dirs; ++d) all.insert(all.end(), one.begin(), one.end());
  return all;
}

struct Data {
  std::vector<float> x, w, r, b, h0, c0, p;  // layout 0 ([T, B, I], [D, B, H])
};

struct RefOut {
  std::vector<double> y, yh, yc;  // [T, D, B, H], [D, B, H]
};

RefOut Reference(const RnnCase& c, const Data& in, const std::vector<Act>& acts) {
  const std::int64_t D = c.direction == "bidirectional" ? 2 : 1;
  const std::int64_t T = c.T, B = c.B, I = c.I, H = c.H, G = Gates(c.op), GH = G * H;
  const std::size_t per = c.op == "LSTM" ? 3 : c.op == "GRU" ? 2 : 1;
  RefOut o;
  o.y.assign(static_cast<std::size_t>(T * D * B * H), 0.0);
  o.yh.assign(static_cast<std::size_t>(D * B * H), 0.0);
  o.yc = o.yh;
  auto clip = [&](double v) {
    return c.clip > 0 ? std::clamp(v, -double(c.clip), double(c.clip)) : v;
  };
  for (std::int64_t d = 0; d < D; ++d) {
    const bool rev = c.direction == "reverse" || d == 1;
    const Act* a = acts.data() + d * static_cast<std::int64_t>(per);
    auto W = [&](std::int64_t k, std::int64_t i) {
      return double(in.w[static_cast<std::size_t>((d * GH + k) * I + i)]);
    };
    auto R = [&](std::int64_t k, std::int64_t j) {
      return double(in.r[static_cast<std::size_t>((d * GH + k) * H + j)]);
    };
    auto Wb = [&](std::int64_t k) {
      return c.bias ? double(in.b[static_cast<std::size_t>(d * 2 * GH + k)]) : 0.0;
    };
    auto Rb = [&](std::int64_t k) {
      return c.bias ? double(in.b[static_cast<std::size_t>(d * 2 * GH + GH + k)]) : 0.0;
    };
    auto P = [&](std::int64_t k) {
      return c.peep ? double(in.p[static_cast<std::size_t>(d * 3 * H + k)]) : 0.0;
    };
    for (std::int64_t b = 0; b < B; ++b) {
      std::vector<double> h(static_cast<std::size_t>(H)), cs(static_cast<std::size_t>(H));
      for (std::int64_t j = 0; j < H; ++j) {
        h[j] = c.init_h ? in.h0[static_cast<std::size_t>((d * B + b) * H + j)] : 0.0;
        cs[j] = c.init_c ? in.c0[static_cast<std::size_t>((d * B + b) * H + j)] : 0.0;
      }
      const std::int64_t L = c.seq_lens.empty() ? T : c.seq_lens[static_cast<std::size_t>(b)];
      for (std::int64_t s = 0; s < L; ++s) {
        const std::int64_t t = rev ? L - 1 - s : s;
        auto xw = [&](std::int64_t k) {
          double v = Wb(k);
          for (std::int64_t i = 0; i < I; ++i)
            v += double(in.x[static_cast<std::size_t>((t * B + b) * I + i)]) * W(k, i);
          return v;
        };
        auto hr = [&](std::int64_t k, const std::vector<double>& hv) {
          double v = Rb(k);
          for (std::int64_t j = 0; j < H; ++j) v += hv[j] * R(k, j);
          return v;
        };
        std::vector<double> nh(static_cast<std::size_t>(H));
        if (c.op == "LSTM") {
          for (std::int64_t j = 0; j < H; ++j) {
            const double pi = xw(j) + hr(j, h) + P(j) * cs[j];
            const double pf = xw(2 * H + j) + hr(2 * H + j, h) + P(2 * H + j) * cs[j];
            const double pc = xw(3 * H + j) + hr(3 * H + j, h);
            const double it = a[0](clip(pi));
            const double ft = c.input_forget ? 1 - it : a[0](clip(pf));
            const double ct = a[1](clip(pc));
            const double cn = ft * cs[j] + it * ct;
            const double po = xw(H + j) + hr(H + j, h) + P(H + j) * cn;
            const double ot = a[0](clip(po));
            nh[j] = ot * a[2](cn);
            cs[j] = cn;  // only read back at index j, so updating in place is safe
          }
        } else if (c.op == "GRU") {
          std::vector<double> z(static_cast<std::size_t>(H)), rr(static_cast<std::size_t>(H)),
              rh(static_cast<std::size_t>(H));
          for (std::int64_t j = 0; j < H; ++j) {
            z[j] = a[0](clip(xw(j) + hr(j, h)));
            rr[j] = a[0](clip(xw(H + j) + hr(H + j, h)));
          }
          for (std::int64_t j = 0; j < H; ++j) rh[j] = rr[j] * h[j];
          for (std::int64_t j = 0; j < H; ++j) {
            const double pre = c.linear_before_reset ? xw(2 * H + j) + rr[j] * hr(2 * H + j, h)
                                                     : xw(2 * H + j) + hr(2 * H + j, rh);
            const double ht = a[1](clip(pre));
            nh[j] = (1 - z[j]) * ht + z[j] * h[j];
          }
        } else {
          for (std::int64_t j = 0; j < H; ++j) nh[j] = a[0](clip(xw(j) + hr(j, h)));
        }
        h = nh;
        for (std::int64_t j = 0; j < H; ++j)
          o.y[static_cast<std::size_t>(((t * D + d) * B + b) * H + j)] = h[j];
      }
      for (std::int64_t j = 0; j < H; ++j) {
        o.yh[static_cast<std::size_t>((d * B + b) * H + j)] = h[j];
        o.yc[static_cast<std::size_t>((d * B + b) * H + j)] = cs[j];
      }
    }
  }
  return o;
}

// [A, B, C] -> [B, A, C] (row-major), for layout 1.
template <typename T>
std::vector<T> Swap01(const std::vector<T>& v, std::int64_t a, std::int64_t b, std::int64_t c) {
  std::vector<T> o(v.size());
  for (std::int64_t i = 0; i < a; ++i)
    for (std::int64_t j = 0; j < b; ++j)
      for (std::int64_t k = 0; k < c; ++k)
        o[static_cast<std::size_t>((j * a + i) * c + k)] =
            v[static_cast<std::size_t>((i * b + j) * c + k)];
  return o;
}

void ExpectClose(const Tensor& got, const std::vector<double>& want, const std::string& what) {
  ASSERT_EQ(static_cast<std::size_t>(got.element_count()), want.size()) << what;
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(got.as<float>()[i], want[i], 2e-5 * std::max(1.0, std::fabs(want[i])))
        << what << " at " << i;
  }
}

void SetActs(ir::Node& n, const std::vector<Act>& acts) {
  std::vector<std::string> names;
  std::vector<float> alphas, betas;
  for (const Act& a : acts) {
    names.push_back(a.name);
    if (a.name == "HardSigmoid" || a.name == "ScaledTanh" || a.name == "Affine") {
      alphas.push_back(static_cast<float>(a.alpha));
      betas.push_back(static_cast<float>(a.beta));
    } else if (a.name == "LeakyRelu") {
      alphas.push_back(static_cast<float>(a.alpha));
    }
  }
  SetStrings(n, "activations", names);
  if (!alphas.empty()) SetFloats(n, "activation_alpha", alphas);
  if (!betas.empty()) SetFloats(n, "activation_beta", betas);
}

void RunCase(const RnnCase& c, std::uint32_t seed) {
  const std::int64_t D = c.direction == "bidirectional" ? 2 : 1;
  const std::int64_t T = c.T, B = c.B, I = c.I, H = c.H, GH = Gates(c.op) * H;
  Data in;
  in.x = Random(static_cast<std::size_t>(T * B * I), -1, 1, seed + 1);
  in.w = Random(static_cast<std::size_t>(D * GH * I), -0.6f, 0.6f, seed + 2);
  in.r = Random(static_cast<std::size_t>(D * GH * H), -0.6f, 0.6f, seed + 3);
  in.b = Random(static_cast<std::size_t>(D * 2 * GH), -0.3f, 0.3f, seed + 4);
  in.h0 = Random(static_cast<std::size_t>(D * B * H), -0.5f, 0.5f, seed + 5);
  in.c0 = Random(static_cast<std::size_t>(D * B * H), -0.5f, 0.5f, seed + 6);
  in.p = Random(static_cast<std::size_t>(D * 3 * H), -0.4f, 0.4f, seed + 7);

  const bool l1 = c.layout == 1;
  Tensor x = l1 ? F32({B, T, I}, Swap01(in.x, T, B, I)) : F32({T, B, I}, in.x);
  Tensor w = F32({D, GH, I}, in.w), r = F32({D, GH, H}, in.r), b = F32({D, 2 * GH}, in.b);
  // (Only made when given: MakeTensor would memcpy from an empty vector.)
  Tensor sl = c.seq_lens.empty() ? Tensor() : testing::I32({B}, c.seq_lens);
  Tensor h0 = l1 ? F32({B, D, H}, Swap01(in.h0, D, B, H)) : F32({D, B, H}, in.h0);
  Tensor c0 = l1 ? F32({B, D, H}, Swap01(in.c0, D, B, H)) : F32({D, B, H}, in.c0);
  Tensor p = F32({D, 3 * H}, in.p);

  std::vector<std::string> names = {
      "x", "w", "r", c.bias ? "b" : "", c.seq_lens.empty() ? "" : "sl", c.init_h ? "h0" : ""};
  std::vector<const Tensor*> inputs = {&x,
                                       &w,
                                       &r,
                                       c.bias ? &b : nullptr,
                                       c.seq_lens.empty() ? nullptr : &sl,
                                       c.init_h ? &h0 : nullptr};
  if (c.op == "LSTM") {
    names.push_back(c.init_c ? "c0" : "");
    names.push_back(c.peep ? "p" : "");
    inputs.push_back(c.init_c ? &c0 : nullptr);
    inputs.push_back(c.peep ? &p : nullptr);
  }
  std::vector<std::string> outs = {c.want_y ? "y" : "", "yh"};
  if (c.op == "LSTM") outs.push_back("yc");
  ir::Node n = MakeNode(c.op, names, outs, c.layout ? 14 : 7);
  SetInt(n, "hidden_size", H);
  SetString(n, "direction", c.direction);
  if (c.clip > 0) SetFloat(n, "clip", c.clip);
  if (c.input_forget) SetInt(n, "input_forget", 1);
  if (c.op == "GRU") SetInt(n, "linear_before_reset", c.linear_before_reset);
  if (c.layout) SetInt(n, "layout", 1);
  std::vector<Act> acts = c.acts.empty() ? DefaultActs(c.op, D) : c.acts;
  if (!c.acts.empty()) SetActs(n, c.acts);

  const std::string what = c.op + " " + c.direction + " T" + std::to_string(T) + " B" +
                           std::to_string(B) + " layout" + std::to_string(c.layout) +
                           (c.seq_lens.empty() ? "" : " seq_lens");
  auto out = RunNode(n, inputs);
  ASSERT_TRUE(out.has_value()) << what << ": " << out.status().message();
  const RefOut ref = Reference(c, in, acts);
  if (c.want_y) {
    const Tensor& y = (*out)[0];
    if (l1) {
      EXPECT_EQ(y.shape(), (Shape{B, T, D, H})) << what;
      // [T, D*B*H] -> [B, T, D, H]
      std::vector<double> want(ref.y.size());
      for (std::int64_t t = 0; t < T; ++t)
        for (std::int64_t d = 0; d < D; ++d)
          for (std::int64_t bb = 0; bb < B; ++bb)
            for (std::int64_t j = 0; j < H; ++j)
              want[static_cast<std::size_t>(((bb * T + t) * D + d) * H + j)] =
                  ref.y[static_cast<std::size_t>(((t * D + d) * B + bb) * H + j)];
      ExpectClose(y, want, what + " Y");
    } else {
      EXPECT_EQ(y.shape(), (Shape{T, D, B, H})) << what;
      ExpectClose(y, ref.y, what + " Y");
    }
  } else {
    EXPECT_TRUE((*out)[0].empty()) << what;
  }
  const std::vector<double> yh = l1 ? Swap01(ref.yh, D, B, H) : ref.yh;
  EXPECT_EQ((*out)[1].shape(), l1 ? (Shape{B, D, H}) : (Shape{D, B, H})) << what;
  ExpectClose((*out)[1], yh, what + " Y_h");
  if (c.op == "LSTM") {
    ExpectClose((*out)[2], l1 ? Swap01(ref.yc, D, B, H) : ref.yc, what + " Y_c");
  }
}

const std::vector<RnnCase> kCases = {
    // op, T, B, I, H, direction, bias, init_h, init_c, peep, seq_lens, clip, input_forget, lbr,
    // layout, acts, want_y
    {"LSTM", 4, 2, 3, 5, "forward", false, false, false, false, {}, 0, 0, 0, 0, {}, true},
    {"LSTM", 4, 2, 3, 5, "forward", true, true, true, true, {}, 0, 0, 0, 0, {}, true},
    {"LSTM", 5, 3, 2, 4, "reverse", true, true, true, false, {5, 2, 3}, 0, 0, 0, 0, {}, true},
    {"LSTM", 5, 3, 2, 4, "bidirectional", true, true, true, true, {3, 5, 1}, 0, 0, 0, 0, {}, true},
    {"LSTM", 5, 3, 2, 4, "bidirectional", true, true, true, true, {2, 5, 4}, 0, 0, 0, 1, {}, true},
    {"LSTM", 3, 2, 4, 3, "forward", true, false, false, false, {}, 0.5f, 1, 0, 0, {}, true},
    {"LSTM",
     3,
     2,
     4,
     3,
     "bidirectional",
     true,
     true,
     false,
     true,
     {},
     0,
     0,
     0,
     0,
     {{"HardSigmoid", 0.3, 0.6},
      {"ScaledTanh", 0.9, 1.1},
      {"Tanh"},
      {"Sigmoid"},
      {"Relu"},
      {"Tanh"}},
     false},
    {"LSTM", 1, 1, 2, 2, "forward", true, true, true, true, {}, 0, 0, 0, 1, {}, true},
    {"GRU", 4, 2, 3, 5, "forward", true, true, false, false, {}, 0, 0, 0, 0, {}, true},
    {"GRU", 4, 2, 3, 5, "forward", true, true, false, false, {}, 0, 0, 1, 0, {}, true},
    {"GRU", 5, 3, 2, 4, "bidirectional", true, true, false, false, {4, 5, 2}, 0, 0, 0, 0, {}, true},
    {"GRU", 5, 3, 2, 4, "bidirectional", true, true, false, false, {1, 3, 5}, 0, 0, 1, 1, {}, true},
    {"GRU",
     3,
     2,
     3,
     3,
     "reverse",
     false,
     false,
     false,
     false,
     {},
     0.4f,
     0,
     1,
     0,
     {{"Affine", 0.5, 0.1}, {"Tanh"}},
     true},
    {"RNN", 4, 2, 3, 5, "forward", true, true, false, false, {}, 0, 0, 0, 0, {}, true},
    {"RNN",
     5,
     3,
     3,
     2,
     "bidirectional",
     true,
     false,
     false,
     false,
     {2, 5, 3},
     0,
     0,
     0,
     1,
     {},
     true},
    {"RNN",
     4,
     2,
     3,
     3,
     "reverse",
     true,
     true,
     false,
     false,
     {},
     0,
     0,
     0,
     0,
     {{"LeakyRelu", 0.2, 0}},
     false},
};

TEST(RnnTest, MatchesReference) {
  std::uint32_t seed = 1;
  for (const RnnCase& c : kCases) {
    RunCase(c, seed);
    seed += 10;
  }
}

TEST(RnnTest, ZeroLengthSequenceKeepsTheInitialState) {
  RnnCase c{"LSTM", 3, 2, 2, 2, "forward", true, true, true, false, {0, 3}, 0, 0, 0, 0, {}, true};
  RunCase(c, 42);  // the reference does the same: no steps, Y all zero, Y_h = initial_h
}

TEST(RnnTest, ErrorsNameTheNode) {
  Tensor x = F32({2, 1, 3}, std::vector<float>(6, 0.1f));
  Tensor w = F32({1, 8, 3}, std::vector<float>(24, 0.1f));  // 4 * hidden 2
  Tensor r = F32({1, 8, 2}, std::vector<float>(16, 0.1f));
  auto expect_error = [](const Expected<std::vector<Tensor>>& res, const char* what) {
    ASSERT_FALSE(res.has_value()) << what;
    EXPECT_NE(res.status().message().find("_test"), std::string::npos)
        << what << ": " << res.status().message();
  };
  ir::Node ok = MakeNode("LSTM", {"x", "w", "r"}, {"y"}, 7);
  SetInt(ok, "hidden_size", 2);
  auto good = RunNode(ok, {&x, &w, &r});
  ASSERT_TRUE(good.has_value()) << good.status().message();

  Tensor bad_r = F32({1, 8, 3}, std::vector<float>(24, 0.1f));
  expect_error(RunNode(ok, {&x, &w, &bad_r}), "R shape");

  Tensor bad_x = F32({2, 1, 4}, std::vector<float>(8, 0.1f));
  expect_error(RunNode(ok, {&bad_x, &w, &r}), "X input size");

  ir::Node bidir = MakeNode("LSTM", {"x", "w", "r"}, {"y"}, 7);
  SetString(bidir, "direction", "bidirectional");
  expect_error(RunNode(bidir, {&x, &w, &r}), "W of one direction for bidirectional");

  ir::Node seq = MakeNode("GRU", {"x", "w", "r", "", "sl"}, {"y"}, 7);
  Tensor gw = F32({1, 6, 3}, std::vector<float>(18, 0.1f));
  Tensor gr = F32({1, 6, 2}, std::vector<float>(12, 0.1f));
  Tensor sl = testing::I32({1}, {3});  // longer than T = 2
  expect_error(RunNode(seq, {&x, &gw, &gr, nullptr, &sl}), "sequence_lens");

  ir::Node acts = MakeNode("RNN", {"x", "w", "r"}, {"y"}, 7);
  SetStrings(acts, "activations", {"Tanh", "Tanh", "Tanh"});
  Tensor rw = F32({1, 2, 3}, std::vector<float>(6, 0.1f));
  Tensor rr = F32({1, 2, 2}, std::vector<float>(4, 0.1f));
  expect_error(RunNode(acts, {&x, &rw, &rr}), "activation count");

  ir::Node unknown = MakeNode("RNN", {"x", "w", "r"}, {"y"}, 7);
  SetStrings(unknown, "activations", {"Swish"});
  expect_error(RunNode(unknown, {&x, &rw, &rr}), "unknown activation");

  ir::Node dir = MakeNode("RNN", {"x", "w", "r"}, {"y"}, 7);
  SetString(dir, "direction", "sideways");
  expect_error(RunNode(dir, {&x, &rw, &rr}), "direction");

  Tensor h0 = F32({1, 2, 2}, std::vector<float>(4, 0.1f));  // batch 2 != 1
  ir::Node init = MakeNode("RNN", {"x", "w", "r", "", "", "h0"}, {"y"}, 7);
  expect_error(RunNode(init, {&x, &rw, &rr, nullptr, nullptr, &h0}), "initial_h shape");

  Tensor x16 =
      testing::MakeTensor<std::uint16_t>(DType::kF16, {2, 1, 3}, std::vector<std::uint16_t>(6, 0));
  ir::Node plain = MakeNode("RNN", {"x", "w", "r"}, {"y"}, 7);
  ASSERT_TRUE(RunNode(plain, {&x, &rw, &rr}).has_value());
  expect_error(RunNode(plain, {&x16, &rw, &rr}), "f16");
}

}  // namespace
}  // namespace deepedge
