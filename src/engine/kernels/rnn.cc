// Recurrent kernels: LSTM, GRU and RNN (ONNX opsets 7 and 14), f32.
//
// Per direction, the input projections X_t · W^T + Wb of all time steps are
// computed first (parallel over time x batch rows); the recurrence then runs
// independently per batch entry (parallel over the batch), each walking only its
// own sequence_lens[b] steps: forward from 0, reverse from sequence_lens[b] - 1.
// Y is 0 past a sequence's end; Y_h / Y_c hold the state after its last step (the
// initial state for an empty sequence).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/kernel.h"
#include "engine/kernels/kernel_util.h"

namespace deepedge::engine {
namespace {

enum class Cell { kRnn, kGru, kLstm };

enum class ActKind {
  kSigmoid,
  kTanh,
  kRelu,
  kAffine,
  kLeakyRelu,
  kThresholdedRelu,
  kScaledTanh,
  kHardSigmoid,
  kElu,
  kSoftsign,
  kSoftplus,
};

struct Activation {
  ActKind kind = ActKind::kSigmoid;
  float alpha = 0;
  float beta = 0;

  float operator()(float x) const {
    switch (kind) {
      case ActKind::kSigmoid:
        return 1.0f / (1.0f + std::exp(-x));
      case ActKind::kTanh:
        return std::tanh(x);
      case ActKind::kRelu:
        return x > 0 ? x : 0.0f;
      case ActKind::kAffine:
        return alpha * x + beta;
      case ActKind::kLeakyRelu:
        return x >= 0 ? x : alpha * x;
      case ActKind::kThresholdedRelu:
        return x > alpha ? x : 0.0f;
      case ActKind::kScaledTanh:
        return alpha * std::tanh(beta * x);
      case ActKind::kHardSigmoid:
        return std::clamp(alpha * x + beta, 0.0f, 1.0f);
      case ActKind::kElu:
        return x >= 0 ? x : alpha * (std::exp(x) - 1.0f);
      case ActKind::kSoftsign:
        return x / (1.0f + std::fabs(x));
      case ActKind::kSoftplus:
        return x > 20.0f ? x : std::log1p(std::exp(x));
    }
    return x;
  }
};

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Parses one activation name; alpha / beta come from the node's lists in order,
// consumed only by the functions that take them, with the ONNX defaults otherwise.
Expected<Activation> ParseActivation(const KernelContext& ctx, const std::string& name,
                                     const std::vector<float>& alphas, std::size_t& ai,
                                     const std::vector<float>& betas, std::size_t& bi) {
  Activation a;
  auto take_alpha = [&](float def) { a.alpha = ai < alphas.size() ? alphas[ai++] : def; };
  auto take_beta = [&](float def) { a.beta = bi < betas.size() ? betas[bi++] : def; };
  const std::string n = Lower(name);
  if (n == "sigmoid") {
    a.kind = ActKind::kSigmoid;
  } else if (n == "tanh") {
    a.kind = ActKind::kTanh;
  } else if (n == "relu") {
    a.kind = ActKind::kRelu;
  } else if (n == "affine") {
    a.kind = ActKind::kAffine;
    take_alpha(1.0f);
    take_beta(0.0f);
  } else if (n == "leakyrelu") {
    a.kind = ActKind::kLeakyRelu;
    take_alpha(0.01f);
  } else if (n == "thresholdedrelu") {
    a.kind = ActKind::kThresholdedRelu;
    take_alpha(1.0f);
  } else if (n == "scaledtanh") {
    a.kind = ActKind::kScaledTanh;
    take_alpha(1.0f);
    take_beta(1.0f);
  } else if (n == "hardsigmoid") {
    a.kind = ActKind::kHardSigmoid;
    take_alpha(0.2f);
    take_beta(0.5f);
  } else if (n == "elu") {
    a.kind = ActKind::kElu;
    take_alpha(1.0f);
  } else if (n == "softsign") {
    a.kind = ActKind::kSoftsign;
  } else if (n == "softplus") {
    a.kind = ActKind::kSoftplus;
  } else {
    return NodeUnsupported(ctx, "unknown activation '" + name + "'");
  }
  return a;
}

int GatesOf(Cell cell) {
  return cell == Cell::kLstm ? 4 : cell == Cell::kGru ? 3 : 1;
}
int ActsOf(Cell cell) {
  return cell == Cell::kLstm ? 3 : cell == Cell::kGru ? 2 : 1;
}

// Everything a run needs, checked.
struct RnnSetup {
  std::int64_t T = 0, B = 0, I = 0, H = 0, D = 1;
  bool layout1 = false;
  bool reverse_only = false;  // direction == "reverse"
  const float* x = nullptr;
  const float* w = nullptr;  // [D, G*H, I]
  const float* r = nullptr;  // [D, G*H, H]
  std::vector<float> bias;   // [D, 2*G*H], zeros when B is omitted
  std::vector<std::int64_t> seq_len;
  const float* init_h = nullptr;
  const float* init_c = nullptr;
  const float* peep = nullptr;  // [D, 3H]
  bool clip = false;
  float clip_value = 0;
  bool input_forget = false;
  bool linear_before_reset = false;
  std::vector<Activation> acts;  // ActsOf(cell) per direction

  // Element offsets, by layout.
  std::int64_t XOff(std::int64_t t, std::int64_t b) const {
    return (layout1 ? b * T + t : t * B + b) * I;
  }
  std::int64_t YOff(std::int64_t t, std::int64_t d, std::int64_t b) const {
    return (layout1 ? (b * T + t) * D + d : (t * D + d) * B + b) * H;
  }
  std::int64_t StateOff(std::int64_t d, std::int64_t b) const {
    return (layout1 ? b * D + d : d * B + b) * H;
  }
};

Expected<const Tensor*> F32Input(const KernelContext& ctx, std::size_t i, const char* what,
                                 bool required) {
  const Tensor* t = ctx.input(i);
  if (t == nullptr) {
    if (required)
      return NodeError(ctx, std::string(what) + " (input " + std::to_string(i) + ") is missing");
    return t;
  }
  if (t->dtype() != DType::kF32) {
    return NodeUnsupported(ctx, std::string(what) + " has type " +
                                    std::string(DTypeName(t->dtype())) + "; only f32 is supported");
  }
  return t;
}

Status CheckShape(const KernelContext& ctx, const Tensor& t, const Shape& want, const char* what) {
  if (t.shape() != want) {
    return NodeError(ctx, std::string(what) + " has shape " + t.shape().ToString() + ", expected " +
                              want.ToString());
  }
  return Status::Ok();
}

Expected<RnnSetup> Prepare(const KernelContext& ctx, Cell cell) {
  const ir::Node& node = ctx.node();
  RnnSetup s;
  const std::int64_t G = GatesOf(cell);
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, F32Input(ctx, 0, "X", true));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* w, F32Input(ctx, 1, "W", true));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* r, F32Input(ctx, 2, "R", true));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* b, F32Input(ctx, 3, "B", false));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* h0, F32Input(ctx, 5, "initial_h", false));
  const Tensor* c0 = nullptr;
  const Tensor* p = nullptr;
  if (cell == Cell::kLstm) {
    DEEPEDGE_ASSIGN_OR_RETURN(c0, F32Input(ctx, 6, "initial_c", false));
    DEEPEDGE_ASSIGN_OR_RETURN(p, F32Input(ctx, 7, "P", false));
  }
  const std::int64_t layout = node.GetInt("layout", 0);
  if (layout != 0 && layout != 1) return NodeError(ctx, "layout must be 0 or 1");
  s.layout1 = layout == 1;
  const std::string direction = node.GetString("direction", "forward");
  if (direction == "forward") {
    s.D = 1;
  } else if (direction == "reverse") {
    s.D = 1;
    s.reverse_only = true;
  } else if (direction == "bidirectional") {
    s.D = 2;
  } else {
    return NodeError(ctx, "unknown direction '" + direction + "'");
  }
  if (x->shape().rank() != 3)
    return NodeError(ctx, "X must have rank 3, got " + x->shape().ToString());
  s.T = x->shape()[s.layout1 ? 1 : 0];
  s.B = x->shape()[s.layout1 ? 0 : 1];
  s.I = x->shape()[2];
  if (w->shape().rank() != 3 || w->shape()[1] % G != 0) {
    return NodeError(ctx, "W has shape " + w->shape().ToString() + ", expected [" +
                              std::to_string(s.D) + ", " + std::to_string(G) +
                              "*hidden_size, input_size]");
  }
  s.H = node.GetInt("hidden_size", w->shape()[1] / G);
  if (s.H <= 0) return NodeError(ctx, "hidden_size must be positive");
  const std::int64_t GH = G * s.H;
  DEEPEDGE_RETURN_IF_ERROR(CheckShape(ctx, *w, Shape{s.D, GH, s.I}, "W"));
  DEEPEDGE_RETURN_IF_ERROR(CheckShape(ctx, *r, Shape{s.D, GH, s.H}, "R"));
  s.x = x->as<float>().data();
  s.w = w->as<float>().data();
  s.r = r->as<float>().data();
  if (b != nullptr) {
    DEEPEDGE_RETURN_IF_ERROR(CheckShape(ctx, *b, Shape{s.D, 2 * GH}, "B"));
    auto v = b->as<float>();
    s.bias.assign(v.begin(), v.end());
  } else {
    s.bias.assign(static_cast<std::size_t>(s.D * 2 * GH), 0.0f);
  }
  const Shape state_shape = s.layout1 ? Shape{s.B, s.D, s.H} : Shape{s.D, s.B, s.H};
  if (h0 != nullptr) {
    DEEPEDGE_RETURN_IF_ERROR(CheckShape(ctx, *h0, state_shape, "initial_h"));
    s.init_h = h0->as<float>().data();
  }
  if (c0 != nullptr) {
    DEEPEDGE_RETURN_IF_ERROR(CheckShape(ctx, *c0, state_shape, "initial_c"));
    s.init_c = c0->as<float>().data();
  }
  if (p != nullptr) {
    DEEPEDGE_RETURN_IF_ERROR(CheckShape(ctx, *p, Shape{s.D, 3 * s.H}, "P"));
    s.peep = p->as<float>().data();
  }
  s.seq_len.assign(static_cast<std::size_t>(s.B), s.T);
  if (const Tensor* sl = ctx.input(4); sl != nullptr) {
    auto v = ReadInts(*sl);
    if (!v) return NodeError(ctx, "sequence_lens: " + v.status().message());
    if (static_cast<std::int64_t>(v->size()) != s.B) {
      return NodeError(ctx, "sequence_lens has shape " + sl->shape().ToString() + ", expected [" +
                                std::to_string(s.B) + "]");
    }
    for (std::int64_t len : *v) {
      if (len < 0 || len > s.T) {
        return NodeError(ctx, "sequence length " + std::to_string(len) + " is outside [0, " +
                                  std::to_string(s.T) + "]");
      }
    }
    s.seq_len = std::move(*v);
  }
  if (node.Has("clip")) {
    s.clip = true;
    s.clip_value = node.GetFloat("clip", 0);
    if (!(s.clip_value > 0)) return NodeError(ctx, "clip must be positive");
  }
  s.input_forget = node.GetInt("input_forget", 0) != 0;
  s.linear_before_reset = node.GetInt("linear_before_reset", 0) != 0;

  // Activations.
  const int per_dir = ActsOf(cell);
  std::vector<std::string> names;
  if (const ir::Attribute* a = node.Find("activations"); a != nullptr) names = a->strings;
  if (names.empty()) {
    const std::vector<std::string> defaults =
        cell == Cell::kLstm  ? std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"}
        : cell == Cell::kGru ? std::vector<std::string>{"Sigmoid", "Tanh"}
                             : std::vector<std::string>{"Tanh"};
    for (std::int64_t d = 0; d < s.D; ++d)
      names.insert(names.end(), defaults.begin(), defaults.end());
  }
  const std::vector<float> alphas = node.GetFloats("activation_alpha");
  const std::vector<float> betas = node.GetFloats("activation_beta");
  std::size_t ai = 0, bi = 0;
  for (const std::string& n : names) {
    DEEPEDGE_ASSIGN_OR_RETURN(Activation act, ParseActivation(ctx, n, alphas, ai, betas, bi));
    s.acts.push_back(act);
  }
  if (static_cast<std::int64_t>(s.acts.size()) == per_dir && s.D == 2) {
    // One set given for both directions.
    s.acts.insert(s.acts.end(), s.acts.begin(), s.acts.end());
  }
  if (static_cast<std::int64_t>(s.acts.size()) != per_dir * s.D) {
    return NodeError(ctx, "activations lists " + std::to_string(names.size()) +
                              " functions, expected " + std::to_string(per_dir * s.D));
  }
  return s;
}

// Eight partial sums, so that the loop vectorizes without reassociation flags.
inline float Dot(const float* a, const float* b, std::int64_t n) {
  float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int l = 0; l < 8; ++l) part[l] += a[i + l] * b[i + l];
  }
  float acc =
      ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
  for (; i < n; ++i) acc += a[i] * b[i];
  return acc;
}

Status RunRecurrent(KernelContext& ctx, Cell cell) {
  DEEPEDGE_ASSIGN_OR_RETURN(RnnSetup s, Prepare(ctx, cell));
  const std::int64_t T = s.T, B = s.B, I = s.I, H = s.H, D = s.D;
  const std::int64_t G = GatesOf(cell), GH = G * H;
  const Shape y_shape = s.layout1 ? Shape{B, T, D, H} : Shape{T, D, B, H};
  const Shape state_shape = s.layout1 ? Shape{B, D, H} : Shape{D, B, H};
  float* y = nullptr;
  float* y_h = nullptr;
  float* y_c = nullptr;
  if (ctx.output_wanted(0)) {
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * t, ctx.Output(0, DType::kF32, y_shape));
    y = t->as<float>().data();
  }
  if (ctx.output_wanted(1)) {
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * t, ctx.Output(1, DType::kF32, state_shape));
    y_h = t->as<float>().data();
  }
  if (cell == Cell::kLstm && ctx.output_wanted(2)) {
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * t, ctx.Output(2, DType::kF32, state_shape));
    y_c = t->as<float>().data();
  }
  if (T * B == 0 && B > 0) {
    // No time steps: the final states are the initial ones.
    for (std::int64_t d = 0; d < D; ++d) {
      for (std::int64_t b = 0; b < B; ++b) {
        const std::int64_t off = s.StateOff(d, b);
        for (std::int64_t j = 0; j < H; ++j) {
          if (y_h) y_h[off + j] = s.init_h ? s.init_h[off + j] : 0.0f;
          if (y_c) y_c[off + j] = s.init_c ? s.init_c[off + j] : 0.0f;
        }
      }
    }
    return Status::Ok();
  }

  std::vector<float> xw(static_cast<std::size_t>(T * B * GH));
  for (std::int64_t d = 0; d < D; ++d) {
    const bool reverse = s.reverse_only || d == 1;
    const float* w = s.w + d * GH * I;
    const float* r = s.r + d * GH * H;
    const float* wb = s.bias.data() + d * 2 * GH;
    const float* rb = wb + GH;
    const float* peep = s.peep ? s.peep + d * 3 * H : nullptr;
    const Activation* act = s.acts.data() + d * ActsOf(cell);

    // xw[(t * B + b) * GH + k] = X[t, b] · W[k] + Wb[k]
    ctx.ParallelFor(static_cast<std::size_t>(T * B), [&](std::size_t begin, std::size_t end) {
      for (std::size_t row = begin; row < end; ++row) {
        const auto t = static_cast<std::int64_t>(row) / B;
        const auto b = static_cast<std::int64_t>(row) % B;
        const float* xr = s.x + s.XOff(t, b);
        float* dst = xw.data() + static_cast<std::int64_t>(row) * GH;
        for (std::int64_t k = 0; k < GH; ++k) dst[k] = Dot(xr, w + k * I, I) + wb[k];
      }
    });

    ctx.ParallelFor(static_cast<std::size_t>(B), [&](std::size_t begin, std::size_t end) {
      std::vector<float> h(static_cast<std::size_t>(H)), c(static_cast<std::size_t>(H));
      std::vector<float> gates(static_cast<std::size_t>(GH)), tmp(static_cast<std::size_t>(H));
      auto clip = [&](float v) { return s.clip ? std::clamp(v, -s.clip_value, s.clip_value) : v; };
      for (std::size_t bu = begin; bu < end; ++bu) {
        const auto b = static_cast<std::int64_t>(bu);
        const std::int64_t soff = s.StateOff(d, b);
        for (std::int64_t j = 0; j < H; ++j) {
          h[j] = s.init_h ? s.init_h[soff + j] : 0.0f;
          c[j] = s.init_c ? s.init_c[soff + j] : 0.0f;
        }
        const std::int64_t len = s.seq_len[bu];
        for (std::int64_t step = 0; step < len; ++step) {
          const std::int64_t t = reverse ? len - 1 - step : step;
          const float* gx = xw.data() + (t * B + b) * GH;
          if (cell == Cell::kLstm) {
            for (std::int64_t k = 0; k < GH; ++k)
              gates[k] = gx[k] + Dot(r + k * H, h.data(), H) + rb[k];
            // Gate order in W/R/B: i, o, f, c; P: i, o, f.
            float* gi = gates.data();
            float* go = gi + H;
            float* gf = go + H;
            float* gc = gf + H;
            for (std::int64_t j = 0; j < H; ++j) {
              float vi = gi[j], vf = gf[j];
              if (peep) {
                vi += peep[j] * c[j];
                vf += peep[2 * H + j] * c[j];
              }
              const float it = act[0](clip(vi));
              const float ft = s.input_forget ? 1.0f - it : act[0](clip(vf));
              const float ct = act[1](clip(gc[j]));
              c[j] = ft * c[j] + it * ct;
              float vo = go[j];
              if (peep) vo += peep[H + j] * c[j];
              const float ot = act[0](clip(vo));
              h[j] = ot * act[2](c[j]);
            }
          } else if (cell == Cell::kGru) {
            // Gate order: z, r, h.
            float* gz = gates.data();
            float* gr = gz + H;
            float* gh = gr + H;
            for (std::int64_t k = 0; k < 2 * H; ++k) {
              gates[k] = act[0](clip(gx[k] + Dot(r + k * H, h.data(), H) + rb[k]));
            }
            const float* rh = r + 2 * H * H;
            if (s.linear_before_reset) {
              for (std::int64_t j = 0; j < H; ++j) {
                const float lin = Dot(rh + j * H, h.data(), H) + rb[2 * H + j];
                gh[j] = act[1](clip(gx[2 * H + j] + gr[j] * lin));
              }
            } else {
              for (std::int64_t j = 0; j < H; ++j) tmp[j] = gr[j] * h[j];
              for (std::int64_t j = 0; j < H; ++j) {
                gh[j] =
                    act[1](clip(gx[2 * H + j] + Dot(rh + j * H, tmp.data(), H) + rb[2 * H + j]));
              }
            }
            for (std::int64_t j = 0; j < H; ++j) h[j] = (1.0f - gz[j]) * gh[j] + gz[j] * h[j];
          } else {
            for (std::int64_t j = 0; j < H; ++j) {
              tmp[j] = act[0](clip(gx[j] + Dot(r + j * H, h.data(), H) + rb[j]));
            }
            std::copy(tmp.begin(), tmp.end(), h.begin());
          }
          if (y) std::copy(h.begin(), h.end(), y + s.YOff(t, d, b));
        }
        if (y) {
          for (std::int64_t t = len; t < T; ++t) {
            std::fill(y + s.YOff(t, d, b), y + s.YOff(t, d, b) + H, 0.0f);
          }
        }
        if (y_h) std::copy(h.begin(), h.end(), y_h + soff);
        if (y_c) std::copy(c.begin(), c.end(), y_c + soff);
      }
    });
  }
  return Status::Ok();
}

Status LstmKernel(KernelContext& ctx) {
  return RunRecurrent(ctx, Cell::kLstm);
}
Status GruKernel(KernelContext& ctx) {
  return RunRecurrent(ctx, Cell::kGru);
}
Status RnnKernel(KernelContext& ctx) {
  return RunRecurrent(ctx, Cell::kRnn);
}

}  // namespace

void RegisterRnnKernels(KernelRegistry& r) {
  for (int since : {1, 14}) {  // 14 adds `layout`; the kernels read it at any opset
    r.Add("", "LSTM", LstmKernel, since);
    r.Add("", "GRU", GruKernel, since);
    r.Add("", "RNN", RnnKernel, since);
  }
}

}  // namespace deepedge::engine
