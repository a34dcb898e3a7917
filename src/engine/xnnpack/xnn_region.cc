#include "engine/xnnpack/xnn_region.h"

#include <xnnpack.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "engine/kernels/aligned.h"
#include "engine/kernels/kernel_util.h"
#include "engine/xnnpack/conv_gemm.h"
#include "engine/xnnpack/depthwise.h"
#include "engine/xnnpack/pointwise.h"
#include "engine/xnnpack/winograd.h"
#include "engine/xnnpack/xnn_ops.h"
#include "engine/xnnpack/xnn_pass.h"

namespace deepedge::engine::xnn {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr std::size_t kExtraFloats = XNN_EXTRA_BYTES / sizeof(float);

enum class OpKind {
  kConv,
  kDepthwiseConv,
  kFullyConnected,
  kMaxPool,
  kAveragePool,
  kGlobalAveragePool,
  kGlobalMaxPool,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMax,
  kMin,
  kClamp,
  kSigmoid,
  kHardSwish,
  kLeakyRelu,
  kElu,
  kPRelu,
  kAbs,
  kNeg,
  kFloor,
  kCeil,
  kSqrt,
  kRound,
  kSoftmax,
  kReshape,
  kConcat,
  kCopy,
  kPad,
  kResizeNearest,  // always on the engine's kernel: XNNPACK 2022 has no nearest resize
};

}  // namespace

bool SerialPays(std::int64_t macs, std::int64_t activation_bytes) {
  // One thread's rates on small layers (AVX-512 host, PP-OCRv4's classifier and
  // recogniser, MobileNet v2): ~64 multiply-adds and ~48 bytes of activations per ns.
  // On this project's 2-vCPU VMs a parallel step costs ~2 us (an empty
  // pthreadpool_parallelize_1d on 2 threads), and a 36 KiB element-wise op took 4 us
  // split against 0.7 us on one thread; layers under ~8 us so estimated ran 1.2-1.7x
  // slower on 2 threads than on 1, those over ~12 us no slower.
  constexpr double kMacsPerNs = 64, kBytesPerNs = 48, kSerialBelowNs = 8000;
  const double ns =
      static_cast<double>(macs) / kMacsPerNs + static_cast<double>(activation_bytes) / kBytesPerNs;
  return ns < kSerialBelowNs;
}

namespace {

// Ops that always run on the engine's kernel (XNNPACK 2022 has no such node, or only a
// slow composition: its concatenation along channels was a zero pad per input and a
// sum, 11 ms of PP-OCRv4's detector on 2 threads).
bool AlwaysOwnKernel(OpKind k) {
  return k == OpKind::kResizeNearest || k == OpKind::kConcat;
}

// Ops whose XNNPACK node takes output_min / output_max (a Relu / Clip can fuse in).
bool TakesClamp(OpKind k) {
  switch (k) {
    case OpKind::kConv:
    case OpKind::kDepthwiseConv:
    case OpKind::kFullyConnected:
    case OpKind::kMaxPool:
    case OpKind::kAveragePool:
    case OpKind::kGlobalAveragePool:
    case OpKind::kGlobalMaxPool:
    case OpKind::kAdd:
    case OpKind::kSub:
    case OpKind::kMul:
    case OpKind::kDiv:
    case OpKind::kClamp:
    case OpKind::kCopy:
      return true;
    default:
      return false;
  }
}

enum class ReshapeKind { kFlatten, kReshape, kSqueeze, kUnsqueeze };

// Static data XNNPACK reads: borrowed from an f32 initializer when it can be used as
// it is (the body graph, which the kernel holds, keeps it alive), otherwise owned
// (re-laid out, converted from f16, or modified by a fold). Borrowing spares a copy
// of the weights: on this VM fresh pages cost more than the copy itself.
struct Buffer {
  const float* borrowed = nullptr;
  std::vector<float> owned;
  std::size_t size = 0;

  const float* data() const { return borrowed != nullptr ? borrowed : owned.data(); }
  float* Mutable() {
    if (borrowed != nullptr) {
      owned.assign(borrowed, borrowed + size);
      borrowed = nullptr;
    }
    return owned.data();
  }
  static Buffer Own(std::vector<float> v) {
    Buffer b;
    b.size = v.size();
    b.owned = std::move(v);
    return b;
  }
};

// A constant as a Buffer: borrowed when f32, converted otherwise.
Expected<Buffer> ConstantBuffer(const Tensor& t) {
  if (t.dtype() == DType::kF32) {
    Buffer b;
    b.borrowed = t.as<float>().data();
    b.size = static_cast<std::size_t>(t.element_count());
    return b;
  }
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<float> v, ConstantFloats(t));
  return Buffer::Own(std::move(v));
}

struct Value {
  std::string name;
  int rank = 0;  // 2, or 4 (NHWC inside the region)
  bool is_static = false;
  const float* data = nullptr;  // static values: kernel-owned
  std::vector<std::size_t> static_dims;
  int external = -1;  // XNNPACK external id
  int producer = -1;  // op index
  int uses = 0;       // node inputs that read it (fusion needs exactly one)
  bool is_input = false;
  bool is_output = false;
  // Per build.
  std::vector<std::size_t> dims;
  std::uint32_t id = XNN_INVALID_VALUE_ID;
};

struct Op {
  OpKind kind = OpKind::kCopy;
  const ir::Node* node = nullptr;
  // Nodes folded or fused into this op (BatchNormalization, Relu / Clip, Identity),
  // for the profile's group names.
  std::vector<const ir::Node*> absorbed;
  std::vector<int> in;  // value indices
  int out = -1;
  float out_min = -kInf;
  float out_max = kInf;
  // Conv / depthwise conv / fully connected, in XNNPACK's layout.
  Buffer filter;
  Buffer bias;
  std::size_t channels_out = 0;
  std::vector<std::size_t> filter_dims;
  std::int64_t groups = 1, group_in = 0, group_out = 0, multiplier = 1;
  Window window;
  bool count_include_pad = false;
  float alpha = 0;
  std::vector<float> slope;  // PRelu: 1 or C values
  PadSpec pad;               // Pad (NCHW order)
  NearestScale resize;       // Resize / Upsample (nearest, whole factors)
  ReshapeKind reshape = ReshapeKind::kReshape;
  std::vector<std::int64_t> shape_arg;  // Reshape target / Squeeze, Unsqueeze axes
  bool allowzero = false;
  // 3x3 stride-1 convolutions: the Winograd form (made by the first build whose
  // spatial size makes it pay), and whether this build runs it.
  std::shared_ptr<const Winograd3x3> winograd;
  bool use_winograd = false;
  // 1x1 stride-1 convolutions: the engine's own GEMM form (made at the first build).
  std::shared_ptr<const Pointwise1x1> pointwise;
  bool use_pointwise = false;
  // 3x3 depthwise convolutions, stride 1 or 2.
  std::shared_ptr<const Depthwise3x3> depthwise;
  bool use_depthwise = false;
  // Other large or 3-channel convolutions: im2col + the engine's GEMM.
  std::shared_ptr<const ConvGemm> conv_gemm;
  bool use_conv_gemm = false;
  // Whether this build runs the op on the engine's kernel instead of XNNPACK.
  bool own_kernel() const {
    return use_winograd || use_pointwise || use_depthwise || use_conv_gemm || AlwaysOwnKernel(kind);
  }
  // Per build.
  std::vector<float> slope_buffer;
  // Whether this build runs the op on the calling thread only (SerialPays).
  bool serial = false;
};

std::string DimsToString(const std::vector<std::size_t>& d) {
  std::string s;
  for (std::size_t i = 0; i < d.size(); ++i) s += (i ? "x" : "") + std::to_string(d[i]);
  return s.empty() ? "scalar" : s;
}

template <typename T>
std::vector<std::size_t> ToSizes(const std::vector<T>& v) {
  std::vector<std::size_t> out;
  for (T x : v) out.push_back(static_cast<std::size_t>(x));
  return out;
}

// Nearest upsampling by whole factors in NHWC (x: the input's dims): each input pixel's
// C values are copied fw times along its output row, which is then copied fh - 1 times.
// Input rows are split over ctx's threads.
void ResizeNearestNhwc(KernelContext* ctx, const float* in, const std::vector<std::size_t>& x,
                       std::size_t fh, std::size_t fw, float* out) {
  const std::size_t w = x[2], c = x[3], row = w * fw * c;
  auto run = [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {  // input rows of all images: r = b * h + y
      const float* src = in + r * w * c;
      float* dst = out + r * fh * row;
      for (std::size_t i = 0; i < w; ++i) {
        for (std::size_t j = 0; j < fw; ++j)
          std::memcpy(dst + (i * fw + j) * c, src + i * c, c * sizeof(float));
      }
      for (std::size_t k = 1; k < fh; ++k) std::memcpy(dst + k * row, dst, row * sizeof(float));
    }
  };
  const std::size_t rows = x[0] * x[1];
  if (ctx != nullptr && ctx->threads() > 1 && rows > 1) {
    ctx->ParallelFor(rows, run);
  } else {
    run(0, rows);
  }
}

// Concatenation along the last axis (NHWC channels) of `rows` rows: each output row is
// the inputs' rows one after another. Rows are split over ctx's threads.
void ConcatLastAxis(KernelContext* ctx, const std::vector<const float*>& in,
                    const std::vector<std::size_t>& channels, std::size_t rows, float* out) {
  std::size_t total = 0;
  for (std::size_t c : channels) total += c;
  auto run = [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      float* dst = out + r * total;
      for (std::size_t i = 0; i < in.size(); ++i) {
        std::memcpy(dst, in[i] + r * channels[i], channels[i] * sizeof(float));
        dst += channels[i];
      }
    }
  };
  if (ctx != nullptr && ctx->threads() > 1 && rows > 1) {
    ctx->ParallelFor(rows, run);
  } else {
    run(0, rows);
  }
}

std::size_t Product(const std::vector<std::size_t>& d) {
  std::size_t p = 1;
  for (std::size_t x : d) p *= x;
  return p;
}

// Row-major NCHW -> NHWC (and back), parallel over blocks of pixels.
constexpr std::size_t kTile = 32;

// Cache lines a walk down a column of `stride_bytes` rows can hold at once in a 4 KiB-
// indexed L1: strides that share a large power of two with 4096 fold every row into
// the same few sets (a [160*160][24] -> [24][160*160] transpose writes 24 rows 100 KiB
// apart: one set, each store a miss, 3.4 ms for 2.4 MB).
std::size_t SetSpread(std::size_t stride_bytes) {
  return 4096 / std::gcd(stride_bytes, std::size_t{4096});
}

void TransposeBlock(const float* src, float* dst, std::size_t rows, std::size_t cols,
                    std::size_t r0, std::size_t r1, std::size_t c0, std::size_t c1) {
  // dst[c][r] = src[r][c] for r in [r0, r1), c in [c0, c1): src is rows x cols, dst is
  // cols x rows. Within a tile, the side read or written with a stride is the one whose
  // rows spread over more L1 sets; the other is walked contiguously.
  const bool strided_writes = SetSpread(rows * sizeof(float)) >= SetSpread(cols * sizeof(float));
  for (std::size_t rb = r0; rb < r1; rb += kTile) {
    const std::size_t re = std::min(r1, rb + kTile);
    for (std::size_t cb = c0; cb < c1; cb += kTile) {
      const std::size_t ce = std::min(c1, cb + kTile);
      if (strided_writes) {
        for (std::size_t r = rb; r < re; ++r) {
          const float* s = src + r * cols;
          for (std::size_t c = cb; c < ce; ++c) dst[c * rows + r] = s[c];
        }
      } else {
        for (std::size_t c = cb; c < ce; ++c) {
          float* d = dst + c * rows;
          for (std::size_t r = rb; r < re; ++r) d[r] = src[r * cols + c];
        }
      }
    }
  }
}

// For each of n images: src is [a][b], dst is [b][a]. Tasks are blocks of rows and of
// columns: an image's three colour planes ([3][H*W]) are one block of rows, and only the
// split of their columns lets the threads share the work.
void Transpose(KernelContext& ctx, const float* src, float* dst, std::size_t n, std::size_t a,
               std::size_t b) {
  if (a == 1 || b == 1) {
    std::memcpy(dst, src, n * a * b * sizeof(float));
    return;
  }
  constexpr std::size_t kColBlock = 2048;
  const std::size_t row_blocks = (a + kTile - 1) / kTile;
  const std::size_t col_blocks = (b + kColBlock - 1) / kColBlock;
  const std::size_t per_image = row_blocks * col_blocks;
  auto body = [&](std::size_t begin, std::size_t end) {
    for (std::size_t t = begin; t < end; ++t) {
      const std::size_t img = t / per_image;
      const std::size_t rb = (t % per_image) / col_blocks, cb = t % col_blocks;
      TransposeBlock(src + img * a * b, dst + img * a * b, a, b, rb * kTile,
                     std::min(a, (rb + 1) * kTile), cb * kColBlock,
                     std::min(b, (cb + 1) * kColBlock));
    }
  };
  if (n * a * b < (1u << 16)) {
    body(0, n * per_image);
  } else {
    ctx.ParallelFor(n * per_image, body);
  }
}

struct SubgraphDeleter {
  void operator()(xnn_subgraph* s) const { xnn_delete_subgraph(s); }
};
struct RuntimeDeleter {
  void operator()(xnn_runtime* r) const { xnn_delete_runtime(r); }
};
struct PoolDeleter {
  void operator()(pthreadpool* p) const { pthreadpool_destroy(p); }
};

// A step of a run: ops [begin, end) in one XNNPACK runtime, or one op on the engine's
// own kernel (runtime null).
struct Step {
  std::size_t begin = 0, end = 0;
  std::unique_ptr<xnn_runtime, RuntimeDeleter> runtime;
};

class RegionKernel final : public OpKernel {
 public:
  RegionKernel(const ir::Node& node, std::shared_ptr<const ir::Graph> body, pthreadpool_t shared)
      : node_desc_(node.Describe()),
        region_name_(node.name),
        body_(std::move(body)),
        shared_pool_(shared) {}
  ~RegionKernel() override {
    // The runtimes read the static buffers: they go first.
    runtime_.reset();
    steps_.clear();
    op_steps_.clear();
  }

  Status Translate();
  Status Run(KernelContext& ctx) override;
  int builds() const { return builds_; }

 private:
  // --- translation (once) ---
  Status Fail(const ir::Node& n, const std::string& msg) const {
    return Unsupported(node_desc_ + ": " + n.Describe() + ": " + msg);
  }
  const Tensor* Constant(const std::string& name) const {
    auto it = body_->initializers.find(name);
    return it == body_->initializers.end() ? nullptr : it->second.get();
  }
  int NewValue(const std::string& name, int rank) {
    Value v;
    v.name = name;
    v.rank = rank;
    auto it = name_uses_.find(name);
    v.uses = it == name_uses_.end() ? 0 : it->second;
    v.is_output = body_outputs_.count(name) > 0;
    values_.push_back(std::move(v));
    const int idx = static_cast<int>(values_.size()) - 1;
    if (!name.empty()) by_name_[name] = idx;
    return idx;
  }
  int NewStatic(std::vector<float> data, std::vector<std::size_t> dims) {
    // Element-wise kernels may read XNN_EXTRA_BYTES past the end.
    data.resize(data.size() + kExtraFloats, 0.0f);
    statics_.push_back(std::move(data));
    const int idx = NewValue("", static_cast<int>(dims.size()));
    values_[static_cast<std::size_t>(idx)].is_static = true;
    values_[static_cast<std::size_t>(idx)].data = statics_.back().data();
    values_[static_cast<std::size_t>(idx)].static_dims = std::move(dims);
    return idx;
  }
  Expected<int> Activation(const ir::Node& n, std::size_t i) {
    const std::string& name = InputName(n, i);
    auto it = by_name_.find(name);
    if (name.empty() || it == by_name_.end()) {
      return Fail(n, "input '" + name + "' is not an activation of the region");
    }
    return it->second;
  }
  // The output value of `op` takes the node's output 0 name.
  int AddOp(Op op, const ir::Node& n, int rank) {
    op.node = &n;
    op.out = NewValue(n.outputs[0], rank);
    values_[static_cast<std::size_t>(op.out)].producer = static_cast<int>(ops_.size());
    ops_.push_back(std::move(op));
    return ops_.back().out;
  }
  // Node output `name` is the same data as value v (Identity, folded BatchNormalization,
  // fused Relu): v loses the consumer that disappeared and gains the alias's.
  void Alias(const ir::Node& n, int v) {
    const std::string& name = n.outputs[0];
    Value& val = values_[static_cast<std::size_t>(v)];
    if (val.producer >= 0) ops_[static_cast<std::size_t>(val.producer)].absorbed.push_back(&n);
    auto it = name_uses_.find(name);
    val.uses += (it == name_uses_.end() ? 0 : it->second) - 1;
    val.is_output = val.is_output || body_outputs_.count(name) > 0;
    by_name_[name] = v;
  }
  // The op that produced v when a consumer may fuse into it.
  Op* FusableProducer(int v) {
    const Value& val = values_[static_cast<std::size_t>(v)];
    if (val.producer < 0 || val.uses != 1 || val.is_output) return nullptr;
    return &ops_[static_cast<std::size_t>(val.producer)];
  }
  // The convolution or fully connected op that produced v, unclamped, when a per-channel
  // affine map of its output (BatchNormalization, HardSigmoid) may fold into its weights.
  Op* FoldableLinearProducer(int v) {
    Op* p = FusableProducer(v);
    const bool linear =
        p != nullptr && (p->kind == OpKind::kConv || p->kind == OpKind::kDepthwiseConv ||
                         p->kind == OpKind::kFullyConnected);
    return linear && p->out_min == -kInf && p->out_max == kInf ? p : nullptr;
  }
  // An op of node n whose output is an unnamed value read once, by the op that follows
  // it (the first of the two ops a node becomes). Returns that value.
  int AddInnerOp(Op op, const ir::Node& n, int rank) {
    op.node = &n;
    op.out = NewValue("", rank);
    values_[static_cast<std::size_t>(op.out)].uses = 1;
    values_[static_cast<std::size_t>(op.out)].producer = static_cast<int>(ops_.size());
    ops_.push_back(std::move(op));
    return ops_.back().out;
  }

  // Folds y = x * scale + shift (per output channel; a single value applies to every
  // channel) into a FoldableLinearProducer's weights and bias: w' = w * s, b' = b * s + t.
  // The producer has a bias of channels_out values.
  static void FoldAffine(Op& prod, const std::vector<float>& scale,
                         const std::vector<float>& shift) {
    const std::size_t c = prod.channels_out;
    auto at = [](const std::vector<float>& v, std::size_t i) { return v[v.size() == 1 ? 0 : i]; };
    const std::size_t per = prod.filter.size / c;
    float* w = prod.filter.Mutable();
    if (prod.kind == OpKind::kDepthwiseConv) {
      for (std::size_t k = 0; k < per; ++k) {
        for (std::size_t oc = 0; oc < c; ++oc) w[k * c + oc] *= at(scale, oc);
      }
    } else {
      for (std::size_t oc = 0; oc < c; ++oc) {
        for (std::size_t k = 0; k < per; ++k) w[oc * per + k] *= at(scale, oc);
      }
    }
    float* b = prod.bias.Mutable();
    for (std::size_t oc = 0; oc < c; ++oc) {
      b[oc] = static_cast<float>(static_cast<double>(b[oc]) * at(scale, oc) +
                                 static_cast<double>(at(shift, oc)));
    }
  }

  Status TranslateNode(const ir::Node& n);
  Status TranslateConv(const ir::Node& n);
  Status TranslateGemm(const ir::Node& n);
  Status TranslateBatchNorm(const ir::Node& n);
  Status TranslateClip(const ir::Node& n);
  Status TranslateHardSigmoid(const ir::Node& n);
  Status TranslateBinary(const ir::Node& n, OpKind kind);
  Status TranslatePool(const ir::Node& n);
  Status TranslateReshape(const ir::Node& n);

  // --- build (per input shapes) ---
  Status Build(KernelContext& ctx, const std::vector<Shape>& shapes);
  Status ComputeDims(Op& op);
  Status DefineOp(xnn_subgraph_t sg, Op& op);
  // Runtimes for the given op ranges (after Build, for the same shapes): values that
  // cross a range border live in NHWC buffers of the kernel. A range of one op that
  // runs on the engine's own kernel (Winograd) gets no runtime.
  Status BuildSteps(const std::vector<std::pair<std::size_t, std::size_t>>& ranges,
                    std::vector<Step>& steps);
  float* ValueBuffer(int v);
  void AssignSlots(const std::vector<std::pair<std::size_t, std::size_t>>& ranges);
  Status RunStep(KernelContext& ctx, const Step& step);
  Status RunSteps(KernelContext& ctx, const std::vector<Step>& steps);
  Status RunProfiled(KernelContext& ctx);
  Status TransposeInputs(KernelContext& ctx);
  Status TransposeOutputs(KernelContext& ctx);
  std::int64_t OpMacs(const Op& op) const;
  // Bytes of the op's activations: the inputs that are not constants, and the output.
  std::int64_t OpActivationBytes(const Op& op) const;
  Status Check(xnn_status s, const Op* op, const char* what) const {
    if (s == xnn_status_success) return Status::Ok();
    return Internal(node_desc_ + ": " + what + " failed" +
                    (op && op->node ? " for " + op->node->Describe() : std::string()) + ": " +
                    XnnStatusName(s));
  }

  std::string node_desc_;
  std::string region_name_;
  std::shared_ptr<const ir::Graph> body_;
  pthreadpool_t shared_pool_ = nullptr;

  std::map<std::string, int> name_uses_;
  std::set<std::string> body_outputs_;
  std::map<std::string, int> by_name_;
  std::vector<Value> values_;
  std::vector<Op> ops_;
  std::deque<std::vector<float>> statics_;
  std::vector<int> inputs_;   // value per body input
  std::vector<int> outputs_;  // value per body output

  // Build state.
  std::vector<Shape> built_shapes_;
  int built_threads_ = 0;
  int builds_ = 0;
  std::unique_ptr<pthreadpool, PoolDeleter> own_pool_;
  std::vector<AlignedFloats> in_buffers_;
  std::vector<AlignedFloats> out_buffers_;
  std::vector<Shape> out_shapes_;  // NCHW / 2-D
  std::unique_ptr<xnn_runtime, RuntimeDeleter> runtime_;
  pthreadpool_t built_pool_ = nullptr;
  bool built_ = false;
  // With ops on the engine's own kernels, or ops too small for the pool (SerialPays),
  // the region runs as steps (XNNPACK runtimes between them, each with the pool or
  // without) instead of one runtime; profiling runs one step per op.
  std::vector<Step> steps_;
  std::vector<Step> op_steps_;
  // Values that cross step borders share buffers by liveness (slot_of_[v], or -1 for a
  // buffer of the value's own: profiling's one-op steps).
  std::vector<int> slot_of_;
  std::vector<AlignedFloats> slots_;
  std::vector<AlignedFloats> value_buffers_;
};

Status RegionKernel::Translate() {
  for (const ir::Node& n : body_->nodes) {
    for (const std::string& in : n.inputs) {
      if (!in.empty()) ++name_uses_[in];
    }
  }
  for (const ir::ValueInfo& vi : body_->outputs) body_outputs_.insert(vi.name);

  for (const ir::ValueInfo& vi : body_->inputs) {
    if (!vi.shape || (vi.shape->rank() != 2 && vi.shape->rank() != 4)) {
      return Unsupported(node_desc_ + ": region input '" + vi.name +
                         "' must have a known rank of 2 or 4");
    }
    if (vi.dtype && *vi.dtype != DType::kF32) {
      return Unsupported(node_desc_ + ": region input '" + vi.name + "' is not f32");
    }
    const int v = NewValue(vi.name, static_cast<int>(vi.shape->rank()));
    values_[static_cast<std::size_t>(v)].is_input = true;
    values_[static_cast<std::size_t>(v)].external = static_cast<int>(inputs_.size());
    inputs_.push_back(v);
  }
  for (const ir::Node& n : body_->nodes) {
    if (n.outputs.empty() || n.outputs[0].empty()) return Fail(n, "output 0 is missing");
    DEEPEDGE_RETURN_IF_ERROR(TranslateNode(n));
  }
  // External outputs. A value that is already external (a region input, or another
  // output) is copied.
  for (const ir::ValueInfo& vi : body_->outputs) {
    auto it = by_name_.find(vi.name);
    if (it == by_name_.end()) {
      return Unsupported(node_desc_ + ": region output '" + vi.name + "' is not computed");
    }
    int v = it->second;
    if (values_[static_cast<std::size_t>(v)].external >= 0) {
      Op copy;
      copy.kind = OpKind::kCopy;
      copy.in = {v};
      const int rank = values_[static_cast<std::size_t>(v)].rank;
      copy.out = NewValue("", rank);
      values_[static_cast<std::size_t>(copy.out)].producer = static_cast<int>(ops_.size());
      ops_.push_back(std::move(copy));
      v = ops_.back().out;
    }
    values_[static_cast<std::size_t>(v)].external =
        static_cast<int>(inputs_.size() + outputs_.size());
    outputs_.push_back(v);
  }
  return Status::Ok();
}

Status RegionKernel::TranslateNode(const ir::Node& n) {
  const std::string& op = n.op_type;
  if (!(n.domain.empty() || n.domain == "ai.onnx")) return Fail(n, "not an ONNX operator");
  if (op == "Conv") return TranslateConv(n);
  if (op == "Gemm" || op == "MatMul") return TranslateGemm(n);
  if (op == "BatchNormalization") return TranslateBatchNorm(n);
  if (op == "Relu" || op == "Clip") return TranslateClip(n);
  if (op == "HardSigmoid") return TranslateHardSigmoid(n);
  if (op == "Add") return TranslateBinary(n, OpKind::kAdd);
  if (op == "Sub") return TranslateBinary(n, OpKind::kSub);
  if (op == "Mul") return TranslateBinary(n, OpKind::kMul);
  if (op == "Div") return TranslateBinary(n, OpKind::kDiv);
  if (op == "Max") return TranslateBinary(n, OpKind::kMax);
  if (op == "Min") return TranslateBinary(n, OpKind::kMin);
  if (op == "MaxPool" || op == "AveragePool") return TranslatePool(n);
  if (op == "Flatten" || op == "Reshape" || op == "Squeeze" || op == "Unsqueeze") {
    return TranslateReshape(n);
  }
  if (op == "Identity" || op == "Dropout") {
    if (WantedOutputs(n) != 1) return Fail(n, "only the first output may be used");
    DEEPEDGE_ASSIGN_OR_RETURN(int x, Activation(n, 0));
    Alias(n, x);
    return Status::Ok();
  }
  if (op == "GlobalAveragePool" || op == "GlobalMaxPool") {
    DEEPEDGE_ASSIGN_OR_RETURN(int x, Activation(n, 0));
    if (values_[static_cast<std::size_t>(x)].rank != 4) return Fail(n, "input must be 4-D");
    Op o;
    o.kind = op == "GlobalAveragePool" ? OpKind::kGlobalAveragePool : OpKind::kGlobalMaxPool;
    o.in = {x};
    AddOp(std::move(o), n, 4);
    return Status::Ok();
  }
  if (op == "Softmax") {
    DEEPEDGE_ASSIGN_OR_RETURN(int x, Activation(n, 0));
    const int rank = values_[static_cast<std::size_t>(x)].rank;
    const std::int64_t fallback = n.opset > 0 && n.opset < 13 ? 1 : -1;
    auto axis = NormalizeAxis(n.GetInt("axis", fallback), static_cast<std::size_t>(rank));
    if (!axis) return Fail(n, axis.status().message());
    const bool ok = (rank == 2 && *axis == 1) || (rank == 4 && *axis == 1 && n.opset >= 13);
    if (!ok) return Fail(n, "Softmax must be over the last axis of 2-D or the channels of 4-D");
    Op o;
    o.kind = OpKind::kSoftmax;
    o.in = {x};
    AddOp(std::move(o), n, rank);
    return Status::Ok();
  }
  if (op == "ReduceMean") {
    DEEPEDGE_ASSIGN_OR_RETURN(int x, Activation(n, 0));
    if (values_[static_cast<std::size_t>(x)].rank != 4) return Fail(n, "input must be 4-D");
    auto keepdims = ParseSpatialMean(n, [this](const std::string& s) { return Constant(s); });
    if (!keepdims) return Fail(n, keepdims.status().message());
    Op o;
    o.kind = OpKind::kGlobalAveragePool;
    o.in = {x};
    if (*keepdims) {
      AddOp(std::move(o), n, 4);
      return Status::Ok();
    }
    // Global average pool, then [N, 1, 1, C] -> [N, C].
    const int pooled = AddInnerOp(std::move(o), n, 4);
    Op r;
    r.kind = OpKind::kReshape;
    r.reshape = ReshapeKind::kSqueeze;
    r.shape_arg = {2, 3};
    r.in = {pooled};
    AddOp(std::move(r), n, 2);
    return Status::Ok();
  }
  if (op == "Pad" || op == "Resize" || op == "Upsample") {
    DEEPEDGE_ASSIGN_OR_RETURN(int x, Activation(n, 0));
    const int rank = values_[static_cast<std::size_t>(x)].rank;
    const ConstantFn constant = [this](const std::string& s) { return Constant(s); };
    Op o;
    o.in = {x};
    if (op == "Pad") {
      auto pad = ParsePad(n, static_cast<std::size_t>(rank), constant);
      if (!pad) return Fail(n, pad.status().message());
      o.kind = OpKind::kPad;
      o.pad = std::move(*pad);
    } else {
      auto f = ParseNearestResize(n, static_cast<std::size_t>(rank), constant);
      if (!f) return Fail(n, f.status().message());
      o.kind = OpKind::kResizeNearest;
      o.resize = *f;
    }
    AddOp(std::move(o), n, rank);
    return Status::Ok();
  }
  if (op == "Concat") {
    Op o;
    o.kind = OpKind::kConcat;
    int rank = 0;
    for (std::size_t i = 0; i < n.inputs.size(); ++i) {
      DEEPEDGE_ASSIGN_OR_RETURN(int x, Activation(n, i));
      if (rank != 0 && values_[static_cast<std::size_t>(x)].rank != rank) {
        return Fail(n, "inputs of different ranks");
      }
      rank = values_[static_cast<std::size_t>(x)].rank;
      o.in.push_back(x);
    }
    if (o.in.empty()) return Fail(n, "no inputs");
    auto axis = NormalizeAxis(n.GetInt("axis", 1), static_cast<std::size_t>(rank));
    if (!axis || *axis != 1) return Fail(n, "only Concat along the channel axis (1)");
    AddOp(std::move(o), n, rank);
    return Status::Ok();
  }
  if (op == "PRelu") {
    DEEPEDGE_ASSIGN_OR_RETURN(int x, Activation(n, 0));
    if (values_[static_cast<std::size_t>(x)].rank != 4) return Fail(n, "input must be 4-D");
    const Tensor* s = Constant(InputName(n, 1));
    if (s == nullptr) return Fail(n, "slope must be a constant");
    auto v = ConstantFloats(*s);
    if (!v) return Fail(n, v.status().message());
    // Per-channel ([C,1,1], [1,C,1,1]) or one value.
    const auto& d = s->shape().dims();
    std::size_t non1 = 0;
    for (std::size_t i = 0; i < d.size(); ++i) {
      if (d[i] != 1) {
        if (d.size() - i != 3 || non1) return Fail(n, "slope must be per-channel or a scalar");
        ++non1;
      }
    }
    Op o;
    o.kind = OpKind::kPRelu;
    o.in = {x};
    o.slope = std::move(*v);
    AddOp(std::move(o), n, 4);
    return Status::Ok();
  }
  static const std::map<std::string, OpKind> kUnary = {{"Sigmoid", OpKind::kSigmoid},
                                                       {"HardSwish", OpKind::kHardSwish},
                                                       {"LeakyRelu", OpKind::kLeakyRelu},
                                                       {"Elu", OpKind::kElu},
                                                       {"Abs", OpKind::kAbs},
                                                       {"Neg", OpKind::kNeg},
                                                       {"Floor", OpKind::kFloor},
                                                       {"Ceil", OpKind::kCeil},
                                                       {"Sqrt", OpKind::kSqrt},
                                                       {"Round", OpKind::kRound}};
  if (auto it = kUnary.find(op); it != kUnary.end()) {
    DEEPEDGE_ASSIGN_OR_RETURN(int x, Activation(n, 0));
    Op o;
    o.kind = it->second;
    o.in = {x};
    if (o.kind == OpKind::kLeakyRelu) o.alpha = n.GetFloat("alpha", 0.01f);
    if (o.kind == OpKind::kElu) o.alpha = n.GetFloat("alpha", 1.0f);
    AddOp(std::move(o), n, values_[static_cast<std::size_t>(x)].rank);
    return Status::Ok();
  }
  return Fail(n, "not supported by the XNNPACK region kernel");
}

Status RegionKernel::TranslateConv(const ir::Node& n) {
  DEEPEDGE_ASSIGN_OR_RETURN(int x, Activation(n, 0));
  if (values_[static_cast<std::size_t>(x)].rank != 4) return Fail(n, "input must be 4-D");
  const Tensor* w = Constant(InputName(n, 1));
  if (w == nullptr) return Fail(n, "weights must be a constant");
  auto window = ParseConvWindow(n, w->shape());
  if (!window) return Fail(n, window.status().message());
  auto wv = ConstantBuffer(*w);
  if (!wv) return Fail(n, wv.status().message());
  const std::int64_t cout = w->shape()[0], cin_g = w->shape()[1];
  const std::int64_t kh = w->shape()[2], kw = w->shape()[3];
  const std::int64_t group = n.GetInt("group", 1);
  if (group < 1 || cout % group != 0 || cout < 1 || cin_g < 1) {
    return Fail(n, "group does not divide the output channels");
  }
  Op o;
  o.kind = OpKind::kConv;
  o.in = {x};
  o.window = *window;
  o.channels_out = static_cast<std::size_t>(cout);
  o.bias = Buffer::Own(std::vector<float>(static_cast<std::size_t>(cout), 0.0f));
  if (!InputName(n, 2).empty()) {
    const Tensor* b = Constant(InputName(n, 2));
    if (b == nullptr) return Fail(n, "bias must be a constant");
    auto bv = ConstantBuffer(*b);
    if (!bv) return Fail(n, bv.status().message());
    if (bv->size != static_cast<std::size_t>(cout)) return Fail(n, "bias size mismatch");
    o.bias = std::move(*bv);
  }
  const std::size_t khw = static_cast<std::size_t>(kh * kw);
  const float* src = wv->data();
  // With a 1x1 kernel, OIHW already is XNNPACK's OHWI (and [C, 1, 1, 1] its depthwise
  // [1, 1, 1, C]): the initializer is used as it is.
  const bool as_is = khw == 1;
  if (as_is) {
    o.filter = std::move(*wv);
  } else {
    o.filter = Buffer::Own(std::vector<float>(wv->size));
  }
  float* dst = as_is ? nullptr : o.filter.owned.data();
  if (group > 1 && cin_g == 1) {
    // Depthwise: [1, KH, KW, C_out], output channel oc = c * multiplier + j as in ONNX.
    o.kind = OpKind::kDepthwiseConv;
    o.groups = group;
    o.multiplier = cout / group;
    o.filter_dims = {1, static_cast<std::size_t>(kh), static_cast<std::size_t>(kw),
                     static_cast<std::size_t>(cout)};
    for (std::size_t oc = 0; dst != nullptr && oc < static_cast<std::size_t>(cout); ++oc) {
      for (std::size_t k = 0; k < khw; ++k) {
        dst[k * static_cast<std::size_t>(cout) + oc] = src[oc * khw + k];
      }
    }
  } else {
    // OIHW -> OHWI (per group: [groups * out_g, KH, KW, in_g]).
    o.groups = group;
    o.group_in = cin_g;
    o.group_out = cout / group;
    o.filter_dims = {static_cast<std::size_t>(cout), static_cast<std::size_t>(kh),
                     static_cast<std::size_t>(kw), static_cast<std::size_t>(cin_g)};
    const std::size_t ci = static_cast<std::size_t>(cin_g);
    for (std::size_t oc = 0; dst != nullptr && oc < static_cast<std::size_t>(cout); ++oc) {
      for (std::size_t ic = 0; ic < ci; ++ic) {
        for (std::size_t k = 0; k < khw; ++k) {
          dst[(oc * khw + k) * ci + ic] = src[(oc * ci + ic) * khw + k];
        }
      }
    }
  }
  AddOp(std::move(o), n, 4);
  return Status::Ok();
}

Status RegionKernel::TranslateGemm(const ir::Node& n) {
  DEEPEDGE_ASSIGN_OR_RETURN(int x, Activation(n, 0));
  if (values_[static_cast<std::size_t>(x)].rank != 2) return Fail(n, "input must be 2-D");
  const bool gemm = n.op_type == "Gemm";
  const Tensor* b = Constant(InputName(n, 1));
  if (b == nullptr || b->shape().rank() != 2) return Fail(n, "B must be a 2-D constant");
  if (gemm && n.GetInt("transA", 0) != 0) return Fail(n, "transA is not supported");
  const bool trans_b = gemm && n.GetInt("transB", 0) != 0;
  const float alpha = gemm ? n.GetFloat("alpha", 1.0f) : 1.0f;
  const float beta = gemm ? n.GetFloat("beta", 1.0f) : 1.0f;
  auto bv = ConstantBuffer(*b);
  if (!bv) return Fail(n, bv.status().message());
  // XNNPACK wants [N_out, K]: B itself when transB = 1 (and alpha = 1).
  const std::size_t k = static_cast<std::size_t>(b->shape()[trans_b ? 1 : 0]);
  const std::size_t nout = static_cast<std::size_t>(b->shape()[trans_b ? 0 : 1]);
  Op o;
  o.kind = OpKind::kFullyConnected;
  o.in = {x};
  o.channels_out = nout;
  if (trans_b && alpha == 1.0f) {
    o.filter = std::move(*bv);
  } else {
    std::vector<float> f(k * nout);
    const float* src = bv->data();
    for (std::size_t r = 0; r < nout; ++r) {
      for (std::size_t c = 0; c < k; ++c) {
        f[r * k + c] = alpha * (trans_b ? src[r * k + c] : src[c * nout + r]);
      }
    }
    o.filter = Buffer::Own(std::move(f));
  }
  o.filter_dims = {nout, k};
  o.bias = Buffer::Own(std::vector<float>(nout, 0.0f));
  if (gemm && !InputName(n, 2).empty()) {
    const Tensor* c = Constant(InputName(n, 2));
    if (c == nullptr) return Fail(n, "C must be a constant");
    auto cv = ConstantBuffer(*c);
    if (!cv) return Fail(n, cv.status().message());
    const auto& d = c->shape().dims();
    const bool row = (d.size() == 1 && static_cast<std::size_t>(d[0]) == nout) ||
                     (d.size() == 2 && d[0] == 1 && static_cast<std::size_t>(d[1]) == nout);
    const bool scalar = cv->size == 1 && d.size() <= 2;
    if (!row && !scalar) return Fail(n, "C must be [N] or [1, N] or a scalar");
    if (row && beta == 1.0f) {
      o.bias = std::move(*cv);
    } else {
      for (std::size_t i = 0; i < nout; ++i) {
        o.bias.owned[i] = beta * cv->data()[scalar ? 0 : i];
      }
    }
  }
  AddOp(std::move(o), n, 2);
  return Status::Ok();
}

Status RegionKernel::TranslateBatchNorm(const ir::Node& n) {
  if (WantedOutputs(n) != 1 || n.GetInt("training_mode", 0) != 0) {
    return Fail(n, "only inference BatchNormalization (one output)");
  }
  DEEPEDGE_ASSIGN_OR_RETURN(int x, Activation(n, 0));
  std::vector<float> p[4];  // scale, B, mean, var
  for (std::size_t i = 0; i < 4; ++i) {
    const Tensor* t = Constant(InputName(n, i + 1));
    if (t == nullptr) return Fail(n, "parameters must be constants");
    auto v = ConstantFloats(*t);
    if (!v) return Fail(n, v.status().message());
    p[i] = std::move(*v);
  }
  const std::size_t c = p[0].size();
  for (const auto& v : p) {
    if (v.size() != c) return Fail(n, "parameter sizes differ");
  }
  const double eps = n.GetFloat("epsilon", 1e-5f);
  std::vector<float> scale(c), shift(c);
  for (std::size_t i = 0; i < c; ++i) {
    const double s = static_cast<double>(p[0][i]) / std::sqrt(static_cast<double>(p[3][i]) + eps);
    scale[i] = static_cast<float>(s);
    shift[i] = static_cast<float>(static_cast<double>(p[1][i]) - static_cast<double>(p[2][i]) * s);
  }
  Op* prod = FoldableLinearProducer(x);
  if (prod != nullptr && prod->channels_out == c && prod->bias.size >= c) {
    FoldAffine(*prod, scale, shift);
    Alias(n, x);
    return Status::Ok();
  }
  // As x * scale + shift (per channel: the last axis of NHWC or of [N, C]).
  const int rank = values_[static_cast<std::size_t>(x)].rank;
  Op mul;
  mul.kind = OpKind::kMul;
  mul.in = {x, NewStatic(std::move(scale), {c})};
  const int tmp = AddInnerOp(std::move(mul), n, rank);
  Op add;
  add.kind = OpKind::kAdd;
  add.in = {tmp, NewStatic(std::move(shift), {c})};
  AddOp(std::move(add), n, rank);
  return Status::Ok();
}

Status RegionKernel::TranslateClip(const ir::Node& n) {
  DEEPEDGE_ASSIGN_OR_RETURN(int x, Activation(n, 0));
  auto range = ParseClip(n, [this](const std::string& s) { return Constant(s); });
  if (!range) return Fail(n, range.status().message());
  if (!(range->min < range->max)) return Fail(n, "Clip needs min < max");
  Op* prod = FusableProducer(x);
  if (prod != nullptr && TakesClamp(prod->kind)) {
    const float lo = std::max(prod->out_min, range->min);
    const float hi = std::min(prod->out_max, range->max);
    if (lo < hi) {
      prod->out_min = lo;
      prod->out_max = hi;
      Alias(n, x);
      return Status::Ok();
    }
  }
  Op o;
  o.kind = OpKind::kClamp;
  o.in = {x};
  o.out_min = range->min;
  o.out_max = range->max;
  AddOp(std::move(o), n, values_[static_cast<std::size_t>(x)].rank);
  return Status::Ok();
}

// max(0, min(1, alpha * x + beta)). After a convolution or fully connected layer (the
// gate of a squeeze-and-excitation block) alpha and beta fold into its weights and
// bias and the clamp into its output; otherwise a multiply and a clamped add.
Status RegionKernel::TranslateHardSigmoid(const ir::Node& n) {
  DEEPEDGE_ASSIGN_OR_RETURN(int x, Activation(n, 0));
  const float alpha = n.GetFloat("alpha", 0.2f), beta = n.GetFloat("beta", 0.5f);
  Op* prod = FoldableLinearProducer(x);
  if (prod != nullptr && prod->bias.size >= prod->channels_out) {
    float* w = prod->filter.Mutable();
    for (std::size_t i = 0; i < prod->filter.size; ++i) w[i] *= alpha;
    float* b = prod->bias.Mutable();
    for (std::size_t oc = 0; oc < prod->channels_out; ++oc) b[oc] = alpha * b[oc] + beta;
    prod->out_min = 0.0f;
    prod->out_max = 1.0f;
    Alias(n, x);
    return Status::Ok();
  }
  const int rank = values_[static_cast<std::size_t>(x)].rank;
  Op mul;
  mul.kind = OpKind::kMul;
  mul.in = {x, NewStatic({alpha}, {1})};
  const int tmp = AddInnerOp(std::move(mul), n, rank);
  Op add;
  add.kind = OpKind::kAdd;
  add.in = {tmp, NewStatic({beta}, {1})};
  add.out_min = 0.0f;
  add.out_max = 1.0f;
  AddOp(std::move(add), n, rank);
  return Status::Ok();
}

Status RegionKernel::TranslateBinary(const ir::Node& n, OpKind kind) {
  if (n.inputs.size() != 2) return Fail(n, "only two inputs");
  const Tensor* c[2] = {Constant(InputName(n, 0)), Constant(InputName(n, 1))};
  if (c[0] != nullptr && c[1] != nullptr) return Fail(n, "both inputs are constants");
  int rank = 0;
  for (std::size_t i = 0; i < 2; ++i) {
    if (c[i] != nullptr) continue;
    DEEPEDGE_ASSIGN_OR_RETURN(int x, Activation(n, i));
    const int r = values_[static_cast<std::size_t>(x)].rank;
    if (rank != 0 && r != rank) return Fail(n, "activations of different ranks");
    rank = r;
  }
  // A constant scale or offset of a convolution's or fully connected layer's output, per
  // channel or one for all (PP-LCNet's learnable affine blocks after every convolution):
  // folded into its weights and bias, as a BatchNormalization is, instead of a pass over
  // the tensor.
  if ((kind == OpKind::kMul || kind == OpKind::kAdd) && (c[0] == nullptr) != (c[1] == nullptr)) {
    const std::size_t ci = c[0] != nullptr ? 0 : 1;
    const int x = by_name_[InputName(n, 1 - ci)];
    Op* prod = FoldableLinearProducer(x);
    if (prod != nullptr && prod->bias.size >= prod->channels_out) {
      auto lc = ToRegionLayout(*c[ci], static_cast<std::size_t>(rank));
      // Broadcast along the channel axis (the last in the region's layout) only: the
      // output keeps x's shape.
      bool per_channel = lc.has_value() && !lc->dims.empty() &&
                         (lc->values.size() == 1 || lc->values.size() == prod->channels_out);
      if (per_channel) {
        for (std::size_t d = 0; d + 1 < lc->dims.size(); ++d)
          per_channel = per_channel && lc->dims[d] == 1;
      }
      if (per_channel) {
        std::vector<float> scale(1, 1.0f), shift(1, 0.0f);
        (kind == OpKind::kMul ? scale : shift) = std::move(lc->values);
        FoldAffine(*prod, scale, shift);
        Alias(n, x);
        return Status::Ok();
      }
    }
  }
  Op o;
  o.kind = kind;
  for (std::size_t i = 0; i < 2; ++i) {
    if (c[i] == nullptr) {
      o.in.push_back(by_name_[InputName(n, i)]);
      continue;
    }
    auto lc = ToRegionLayout(*c[i], static_cast<std::size_t>(rank));
    if (!lc) return Fail(n, lc.status().message());
    o.in.push_back(NewStatic(std::move(lc->values), std::move(lc->dims)));
  }
  AddOp(std::move(o), n, rank);
  return Status::Ok();
}

Status RegionKernel::TranslatePool(const ir::Node& n) {
  DEEPEDGE_ASSIGN_OR_RETURN(int x, Activation(n, 0));
  if (values_[static_cast<std::size_t>(x)].rank != 4) return Fail(n, "input must be 4-D");
  auto window = ParsePoolWindow(n);
  if (!window) return Fail(n, window.status().message());
  if (window->kernel[0] * window->kernel[1] < 2) return Fail(n, "1x1 pooling");
  Op o;
  o.in = {x};
  o.window = *window;
  if (n.op_type == "MaxPool") {
    if (WantedOutputs(n) != 1) return Fail(n, "the Indices output is not supported");
    if (n.GetInt("storage_order", 0) != 0) return Fail(n, "storage_order is not supported");
    o.kind = OpKind::kMaxPool;
  } else {
    if (window->dilation[0] != 1 || window->dilation[1] != 1) {
      return Fail(n, "AveragePool dilations are not supported");
    }
    o.kind = OpKind::kAveragePool;
    o.count_include_pad = n.GetInt("count_include_pad", 0) != 0;
  }
  AddOp(std::move(o), n, 4);
  return Status::Ok();
}

Status RegionKernel::TranslateReshape(const ir::Node& n) {
  DEEPEDGE_ASSIGN_OR_RETURN(int x, Activation(n, 0));
  const int rank = values_[static_cast<std::size_t>(x)].rank;
  Op o;
  o.kind = OpKind::kReshape;
  o.in = {x};
  int out_rank = 0;
  if (n.op_type == "Flatten") {
    auto axis = NormalizeAxis(n.GetInt("axis", 1), static_cast<std::size_t>(rank), true);
    if (!axis || *axis != 1) return Fail(n, "only Flatten with axis 1");
    o.reshape = ReshapeKind::kFlatten;
    out_rank = 2;
  } else if (n.op_type == "Reshape") {
    const Tensor* s = Constant(InputName(n, 1));
    if (s == nullptr) return Fail(n, "the shape must be a constant");
    auto v = ReadInts(*s);
    if (!v) return Fail(n, v.status().message());
    o.reshape = ReshapeKind::kReshape;
    o.shape_arg = std::move(*v);
    o.allowzero = n.GetInt("allowzero", 0) != 0;
    out_rank = static_cast<int>(o.shape_arg.size());
  } else {
    const bool squeeze = n.op_type == "Squeeze";
    std::vector<std::int64_t> axes;
    if (n.opset >= 13) {
      if (InputName(n, 1).empty()) return Fail(n, "axes must be given");
      const Tensor* a = Constant(InputName(n, 1));
      if (a == nullptr) return Fail(n, "axes must be a constant");
      auto v = ReadInts(*a);
      if (!v) return Fail(n, v.status().message());
      axes = std::move(*v);
    } else {
      if (!n.Has("axes")) return Fail(n, "axes must be given");
      axes = n.GetInts("axes");
    }
    out_rank =
        squeeze ? rank - static_cast<int>(axes.size()) : rank + static_cast<int>(axes.size());
    const std::size_t ref_rank = static_cast<std::size_t>(squeeze ? rank : out_rank);
    for (std::int64_t& a : axes) {
      auto na = NormalizeAxis(a, ref_rank);
      if (!na) return Fail(n, na.status().message());
      a = *na;
    }
    std::sort(axes.begin(), axes.end());
    if (std::adjacent_find(axes.begin(), axes.end()) != axes.end()) return Fail(n, "repeated axes");
    o.reshape = squeeze ? ReshapeKind::kSqueeze : ReshapeKind::kUnsqueeze;
    o.shape_arg = std::move(axes);
  }
  if (out_rank != 2 && out_rank != 4) return Fail(n, "the result must be 2-D or 4-D");
  AddOp(std::move(o), n, out_rank);
  return Status::Ok();
}

// NHWC dims of a rank-4 value back to NCHW.
std::vector<std::int64_t> ToNchw(const std::vector<std::size_t>& d) {
  std::vector<std::int64_t> r(d.begin(), d.end());
  if (r.size() == 4) return {r[0], r[3], r[1], r[2]};
  return r;
}

// In the region's layout (NHWC) a rank-4 tensor has the NCHW memory order when C == 1
// or H * W == 1: only then is a reshape a plain reshape.
bool SameOrder(const std::vector<std::int64_t>& nchw) {
  return nchw.size() != 4 || nchw[1] == 1 || nchw[2] * nchw[3] == 1;
}

Status RegionKernel::ComputeDims(Op& op) {
  auto in_dims = [&](std::size_t i) -> const std::vector<std::size_t>& {
    return values_[static_cast<std::size_t>(op.in[i])].dims;
  };
  std::vector<std::size_t>& out = values_[static_cast<std::size_t>(op.out)].dims;
  auto fail = [&](const std::string& msg) {
    return InvalidArgument(node_desc_ + ": " + (op.node ? op.node->Describe() + ": " : "") + msg);
  };
  const std::vector<std::size_t>& x = in_dims(0);
  switch (op.kind) {
    case OpKind::kConv:
    case OpKind::kDepthwiseConv: {
      const std::size_t cin = op.kind == OpKind::kConv
                                  ? static_cast<std::size_t>(op.groups * op.group_in)
                                  : static_cast<std::size_t>(op.groups);
      if (x[3] != cin) {
        return fail("input has " + std::to_string(x[3]) + " channels, the weights want " +
                    std::to_string(cin));
      }
      auto r = ResolveWindow(op.window, static_cast<std::int64_t>(x[1]),
                             static_cast<std::int64_t>(x[2]));
      if (!r) return fail(r.status().message());
      out = {x[0], static_cast<std::size_t>(r->out_h), static_cast<std::size_t>(r->out_w),
             op.channels_out};
      return Status::Ok();
    }
    case OpKind::kFullyConnected:
      if (x[1] != op.filter_dims[1]) {
        return fail("input has " + std::to_string(x[1]) + " features, the weights want " +
                    std::to_string(op.filter_dims[1]));
      }
      out = {x[0], op.filter_dims[0]};
      return Status::Ok();
    case OpKind::kMaxPool:
    case OpKind::kAveragePool: {
      auto r = ResolveWindow(op.window, static_cast<std::int64_t>(x[1]),
                             static_cast<std::int64_t>(x[2]));
      if (!r) return fail(r.status().message());
      out = {x[0], static_cast<std::size_t>(r->out_h), static_cast<std::size_t>(r->out_w), x[3]};
      return Status::Ok();
    }
    case OpKind::kGlobalAveragePool:
    case OpKind::kGlobalMaxPool:
      out = {x[0], 1, 1, x[3]};
      return Status::Ok();
    case OpKind::kAdd:
    case OpKind::kSub:
    case OpKind::kMul:
    case OpKind::kDiv:
    case OpKind::kMax:
    case OpKind::kMin: {
      const std::vector<std::size_t>& a = in_dims(0);
      const std::vector<std::size_t>& b = in_dims(1);
      const std::size_t rank = std::max(a.size(), b.size());
      out.assign(rank, 1);
      for (std::size_t i = 0; i < rank; ++i) {
        const std::size_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
        const std::size_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
        if (da != db && da != 1 && db != 1) {
          return fail("shapes " + DimsToString(a) + " and " + DimsToString(b) +
                      " do not broadcast");
        }
        out[i] = da == 1 ? db : da;
      }
      return Status::Ok();
    }
    case OpKind::kPRelu:
      if (op.slope.size() != 1 && op.slope.size() != x[3]) {
        return fail("slope has " + std::to_string(op.slope.size()) + " values for " +
                    std::to_string(x[3]) + " channels");
      }
      out = x;
      return Status::Ok();
    case OpKind::kConcat: {
      out = x;
      out.back() = 0;
      for (std::size_t i = 0; i < op.in.size(); ++i) {
        const std::vector<std::size_t>& d = in_dims(i);
        for (std::size_t j = 0; j + 1 < d.size(); ++j) {
          if (d[j] != x[j]) return fail("inputs differ outside the channel axis");
        }
        out.back() += d.back();
      }
      return Status::Ok();
    }
    case OpKind::kReshape: {
      const std::vector<std::int64_t> in = ToNchw(x);
      std::vector<std::int64_t> target;
      switch (op.reshape) {
        case ReshapeKind::kFlatten: {
          std::int64_t rest = 1;
          for (std::size_t i = 1; i < in.size(); ++i) rest *= in[i];
          target = {in[0], rest};
          break;
        }
        case ReshapeKind::kSqueeze:
          for (std::size_t i = 0; i < in.size(); ++i) {
            const bool drop = std::find(op.shape_arg.begin(), op.shape_arg.end(),
                                        static_cast<std::int64_t>(i)) != op.shape_arg.end();
            if (drop && in[i] != 1) return fail("squeezes a dimension that is not 1");
            if (!drop) target.push_back(in[i]);
          }
          break;
        case ReshapeKind::kUnsqueeze: {
          std::size_t next = 0;
          const std::size_t rank = in.size() + op.shape_arg.size();
          for (std::size_t i = 0; i < rank; ++i) {
            const bool ins = std::find(op.shape_arg.begin(), op.shape_arg.end(),
                                       static_cast<std::int64_t>(i)) != op.shape_arg.end();
            target.push_back(ins ? 1 : in[next++]);
          }
          break;
        }
        case ReshapeKind::kReshape: {
          std::int64_t known = 1;
          int infer = -1;
          for (std::size_t i = 0; i < op.shape_arg.size(); ++i) {
            std::int64_t d = op.shape_arg[i];
            if (d == 0 && !op.allowzero) {
              if (i >= in.size()) return fail("shape copies a dimension the input lacks");
              d = in[i];
            }
            if (d == -1) {
              if (infer >= 0) return fail("two -1 in the shape");
              infer = static_cast<int>(i);
              target.push_back(1);
              continue;
            }
            if (d < 0) return fail("negative dimension in the shape");
            target.push_back(d);
            known *= d;
          }
          std::int64_t total = 1;
          for (std::int64_t d : in) total *= d;
          if (infer >= 0) {
            if (known == 0 || total % known != 0) return fail("cannot infer the -1 dimension");
            target[static_cast<std::size_t>(infer)] = total / known;
          }
          break;
        }
      }
      std::int64_t a = 1, b = 1;
      for (std::int64_t d : in) a *= d;
      for (std::int64_t d : target) b *= d;
      if (a != b) return fail("reshape changes the element count");
      if (!SameOrder(in) || !SameOrder(target)) {
        return fail("reshaping a 4-D tensor with both C > 1 and H * W > 1 is not supported");
      }
      if (target.size() !=
          static_cast<std::size_t>(values_[static_cast<std::size_t>(op.out)].rank)) {
        return fail("unexpected result rank");
      }
      out = ToSizes(ToNhwcDims(target));
      return Status::Ok();
    }
    case OpKind::kResizeNearest:
      out = {x[0], x[1] * static_cast<std::size_t>(op.resize.h),
             x[2] * static_cast<std::size_t>(op.resize.w), x[3]};
      return Status::Ok();
    case OpKind::kPad: {
      const std::size_t rank = x.size();
      // NCHW pads to the region layout.
      std::vector<std::int64_t> pre(op.pad.pads.begin(), op.pad.pads.begin() + rank);
      std::vector<std::int64_t> post(op.pad.pads.begin() + rank, op.pad.pads.end());
      pre = ToNhwcDims(pre);
      post = ToNhwcDims(post);
      out = x;
      for (std::size_t i = 0; i < rank; ++i) out[i] += static_cast<std::size_t>(pre[i] + post[i]);
      return Status::Ok();
    }
    default:  // element-wise unary, softmax, copy
      out = x;
      return Status::Ok();
  }
}

Status RegionKernel::DefineOp(xnn_subgraph_t sg, Op& op) {
  auto id = [&](int v) { return values_[static_cast<std::size_t>(v)].id; };
  const std::uint32_t in = id(op.in[0]);
  const std::uint32_t out = id(op.out);
  const std::vector<std::size_t>& x = values_[static_cast<std::size_t>(op.in[0])].dims;
  auto static_value = [&](const float* data, const std::vector<std::size_t>& dims,
                          std::uint32_t* vid) {
    return Check(xnn_define_tensor_value(sg, xnn_datatype_fp32, dims.size(), dims.data(), data,
                                         XNN_INVALID_VALUE_ID, 0, vid),
                 &op, "xnn_define_tensor_value");
  };
  auto temp_value = [&](const std::vector<std::size_t>& dims, std::uint32_t* vid) {
    return Check(xnn_define_tensor_value(sg, xnn_datatype_fp32, dims.size(), dims.data(), nullptr,
                                         XNN_INVALID_VALUE_ID, 0, vid),
                 &op, "xnn_define_tensor_value");
  };
  auto u32 = [](std::int64_t v) { return static_cast<std::uint32_t>(v); };
  switch (op.kind) {
    case OpKind::kResizeNearest:  // steps of their own (AlwaysOwnKernel)
    case OpKind::kConcat:
      return Internal(node_desc_ + ": op kind with no XNNPACK node");
    case OpKind::kConv:
    case OpKind::kDepthwiseConv:
    case OpKind::kFullyConnected: {
      std::uint32_t filter = 0, bias = 0;
      DEEPEDGE_RETURN_IF_ERROR(static_value(op.filter.data(), op.filter_dims, &filter));
      const std::vector<std::size_t> bdims = {op.channels_out};
      DEEPEDGE_RETURN_IF_ERROR(static_value(op.bias.data(), bdims, &bias));
      if (op.kind == OpKind::kFullyConnected) {
        return Check(
            xnn_define_fully_connected(sg, op.out_min, op.out_max, in, filter, bias, out, 0), &op,
            "xnn_define_fully_connected");
      }
      auto r = ResolveWindow(op.window, static_cast<std::int64_t>(x[1]),
                             static_cast<std::int64_t>(x[2]));
      if (!r) return Internal(r.status().message());
      const Window& w = op.window;
      if (op.kind == OpKind::kDepthwiseConv) {
        return Check(
            xnn_define_depthwise_convolution_2d(
                sg, u32(r->top), u32(r->right), u32(r->bottom), u32(r->left), u32(w.kernel[0]),
                u32(w.kernel[1]), u32(w.stride[0]), u32(w.stride[1]), u32(w.dilation[0]),
                u32(w.dilation[1]), u32(op.multiplier), static_cast<std::size_t>(op.groups),
                op.out_min, op.out_max, in, filter, bias, out, 0),
            &op, "xnn_define_depthwise_convolution_2d");
      }
      return Check(
          xnn_define_convolution_2d(sg, u32(r->top), u32(r->right), u32(r->bottom), u32(r->left),
                                    u32(w.kernel[0]), u32(w.kernel[1]), u32(w.stride[0]),
                                    u32(w.stride[1]), u32(w.dilation[0]), u32(w.dilation[1]),
                                    u32(op.groups), static_cast<std::size_t>(op.group_in),
                                    static_cast<std::size_t>(op.group_out), op.out_min, op.out_max,
                                    in, filter, bias, out, 0),
          &op, "xnn_define_convolution_2d");
    }
    case OpKind::kMaxPool:
    case OpKind::kAveragePool: {
      auto r = ResolveWindow(op.window, static_cast<std::int64_t>(x[1]),
                             static_cast<std::int64_t>(x[2]));
      if (!r) return Internal(r.status().message());
      const Window& w = op.window;
      if (op.kind == OpKind::kMaxPool) {
        return Check(xnn_define_max_pooling_2d(
                         sg, u32(r->top), u32(r->right + r->extra_right),
                         u32(r->bottom + r->extra_bottom), u32(r->left), u32(w.kernel[0]),
                         u32(w.kernel[1]), u32(w.stride[0]), u32(w.stride[1]), u32(w.dilation[0]),
                         u32(w.dilation[1]), op.out_min, op.out_max, in, out, 0),
                     &op, "xnn_define_max_pooling_2d");
      }
      std::uint32_t src = in;
      std::int64_t pads[4] = {r->top, r->right + r->extra_right, r->bottom + r->extra_bottom,
                              r->left};
      const bool explicit_pad = r->top + r->left + r->bottom + r->right > 0;
      if (op.count_include_pad && explicit_pad) {
        // Padding that counts: materialise it as zeros; only the ceil_mode extra stays
        // implicit (excluded, as ONNX Runtime and PyTorch do).
        const std::size_t pre[4] = {0, static_cast<std::size_t>(r->top),
                                    static_cast<std::size_t>(r->left), 0};
        const std::size_t post[4] = {0, static_cast<std::size_t>(r->bottom),
                                     static_cast<std::size_t>(r->right), 0};
        const std::vector<std::size_t> padded = {x[0], x[1] + pre[1] + post[1],
                                                 x[2] + pre[2] + post[2], x[3]};
        DEEPEDGE_RETURN_IF_ERROR(temp_value(padded, &src));
        DEEPEDGE_RETURN_IF_ERROR(
            Check(xnn_define_static_constant_pad(sg, pre, post, 0.0f, in, src, 0), &op,
                  "xnn_define_static_constant_pad"));
        pads[0] = 0;
        pads[1] = r->extra_right;
        pads[2] = r->extra_bottom;
        pads[3] = 0;
      }
      return Check(
          xnn_define_average_pooling_2d(sg, u32(pads[0]), u32(pads[1]), u32(pads[2]), u32(pads[3]),
                                        u32(w.kernel[0]), u32(w.kernel[1]), u32(w.stride[0]),
                                        u32(w.stride[1]), op.out_min, op.out_max, src, out, 0),
          &op, "xnn_define_average_pooling_2d");
    }
    case OpKind::kGlobalAveragePool:
      return Check(xnn_define_global_average_pooling_2d(sg, op.out_min, op.out_max, in, out, 0),
                   &op, "xnn_define_global_average_pooling_2d");
    case OpKind::kGlobalMaxPool:
      if (x[1] * x[2] == 1) {
        return Check(xnn_define_clamp(sg, op.out_min, op.out_max, in, out, 0), &op,
                     "xnn_define_clamp");
      }
      return Check(xnn_define_max_pooling_2d(sg, 0, 0, 0, 0, u32(static_cast<std::int64_t>(x[1])),
                                             u32(static_cast<std::int64_t>(x[2])), 1, 1, 1, 1,
                                             op.out_min, op.out_max, in, out, 0),
                   &op, "xnn_define_max_pooling_2d");
    case OpKind::kAdd:
      return Check(xnn_define_add2(sg, op.out_min, op.out_max, in, id(op.in[1]), out, 0), &op,
                   "xnn_define_add2");
    case OpKind::kSub:
      return Check(xnn_define_subtract(sg, op.out_min, op.out_max, in, id(op.in[1]), out, 0), &op,
                   "xnn_define_subtract");
    case OpKind::kMul:
      return Check(xnn_define_multiply2(sg, op.out_min, op.out_max, in, id(op.in[1]), out, 0), &op,
                   "xnn_define_multiply2");
    case OpKind::kDiv:
      return Check(xnn_define_divide(sg, op.out_min, op.out_max, in, id(op.in[1]), out, 0), &op,
                   "xnn_define_divide");
    case OpKind::kMax:
      return Check(xnn_define_maximum2(sg, in, id(op.in[1]), out, 0), &op, "xnn_define_maximum2");
    case OpKind::kMin:
      return Check(xnn_define_minimum2(sg, in, id(op.in[1]), out, 0), &op, "xnn_define_minimum2");
    case OpKind::kClamp:
    case OpKind::kCopy:
      return Check(xnn_define_clamp(sg, op.out_min, op.out_max, in, out, 0), &op,
                   "xnn_define_clamp");
    case OpKind::kSigmoid:
      return Check(xnn_define_sigmoid(sg, in, out, 0), &op, "xnn_define_sigmoid");
    case OpKind::kHardSwish:
      return Check(xnn_define_hardswish(sg, in, out, 0), &op, "xnn_define_hardswish");
    case OpKind::kLeakyRelu:
      return Check(xnn_define_leaky_relu(sg, op.alpha, in, out, 0), &op, "xnn_define_leaky_relu");
    case OpKind::kElu:
      return Check(xnn_define_elu(sg, op.alpha, in, out, 0), &op, "xnn_define_elu");
    case OpKind::kAbs:
      return Check(xnn_define_abs(sg, in, out, 0), &op, "xnn_define_abs");
    case OpKind::kNeg:
      return Check(xnn_define_negate(sg, in, out, 0), &op, "xnn_define_negate");
    case OpKind::kFloor:
      return Check(xnn_define_floor(sg, in, out, 0), &op, "xnn_define_floor");
    case OpKind::kCeil:
      return Check(xnn_define_ceiling(sg, in, out, 0), &op, "xnn_define_ceiling");
    case OpKind::kSqrt:
      return Check(xnn_define_square_root(sg, in, out, 0), &op, "xnn_define_square_root");
    case OpKind::kRound:
      return Check(xnn_define_bankers_rounding(sg, in, out, 0), &op, "xnn_define_bankers_rounding");
    case OpKind::kPRelu: {
      op.slope_buffer.assign(x[3] + kExtraFloats, op.slope[0]);
      if (op.slope.size() == x[3])
        std::copy(op.slope.begin(), op.slope.end(), op.slope_buffer.begin());
      std::uint32_t slope = 0;
      const std::vector<std::size_t> sdims = {x[3]};
      DEEPEDGE_RETURN_IF_ERROR(static_value(op.slope_buffer.data(), sdims, &slope));
      return Check(xnn_define_prelu(sg, in, slope, out, 0), &op, "xnn_define_prelu");
    }
    case OpKind::kSoftmax:
      return Check(xnn_define_softmax(sg, in, out, 0), &op, "xnn_define_softmax");
    case OpKind::kReshape: {
      const std::vector<std::size_t>& d = values_[static_cast<std::size_t>(op.out)].dims;
      return Check(xnn_define_static_reshape(sg, d.size(), d.data(), in, out, 0), &op,
                   "xnn_define_static_reshape");
    }
    case OpKind::kPad: {
      const std::size_t rank = x.size();
      const std::vector<std::int64_t> nchw_pre(op.pad.pads.begin(), op.pad.pads.begin() + rank);
      const std::vector<std::int64_t> nchw_post(op.pad.pads.begin() + rank, op.pad.pads.end());
      const std::vector<std::size_t> pre = ToSizes(ToNhwcDims(nchw_pre));
      const std::vector<std::size_t> post = ToSizes(ToNhwcDims(nchw_post));
      return Check(
          xnn_define_static_constant_pad(sg, pre.data(), post.data(), op.pad.value, in, out, 0),
          &op, "xnn_define_static_constant_pad");
    }
  }
  return Internal(node_desc_ + ": unknown op kind");
}

Status RegionKernel::Build(KernelContext& ctx, const std::vector<Shape>& shapes) {
  runtime_.reset();
  steps_.clear();
  op_steps_.clear();
  built_ = false;
  built_shapes_.clear();
  // Shapes.
  for (Value& v : values_) v.dims.clear();
  for (std::size_t i = 0; i < inputs_.size(); ++i) {
    Value& v = values_[static_cast<std::size_t>(inputs_[i])];
    v.dims = ToSizes(ToNhwcDims(shapes[i].dims()));
  }
  for (Value& v : values_) {
    if (v.is_static) v.dims = v.static_dims;
  }
  for (Op& op : ops_) DEEPEDGE_RETURN_IF_ERROR(ComputeDims(op));
  bool any_own =
      std::any_of(ops_.begin(), ops_.end(), [](const Op& op) { return AlwaysOwnKernel(op.kind); });
  for (Op& op : ops_) {
    op.use_winograd = false;
    const Window& w = op.window;
    if (!(op.kind == OpKind::kConv && op.groups == 1 && op.filter_dims[1] == 3 &&
          op.filter_dims[2] == 3 && w.stride[0] == 1 && w.stride[1] == 1 && w.dilation[0] == 1 &&
          w.dilation[1] == 1 && WinogradEnabled())) {
      continue;
    }
    const std::vector<std::size_t>& y = values_[static_cast<std::size_t>(op.out)].dims;
    const std::size_t tile = WinogradTile(op.filter_dims[3], op.channels_out, y[0], y[1], y[2]);
    op.use_winograd = tile != 0;
    // The Winograd form (16/9 or 36/9 of the filter's size) is made the first time a
    // shape needs it, so convolutions on small maps never hold one; a new shape that
    // wants the other tile size makes it again.
    if (op.use_winograd && (op.winograd == nullptr || op.winograd->tile() != tile)) {
      op.winograd =
          std::make_shared<const Winograd3x3>(op.filter.data(), op.bias.data(), op.filter_dims[3],
                                              op.channels_out, op.out_min, op.out_max, tile);
    }
    any_own = any_own || op.use_winograd;
  }
  for (Op& op : ops_) {
    op.use_pointwise = false;
    if (!(op.kind == OpKind::kConv && op.groups == 1 && op.filter_dims[1] == 1 &&
          op.filter_dims[2] == 1 && PointwiseEnabled())) {
      continue;
    }
    // Only when the output is the input's own grid: stride 1 and no padding.
    const std::vector<std::size_t>& x = values_[static_cast<std::size_t>(op.in[0])].dims;
    const std::vector<std::size_t>& y = values_[static_cast<std::size_t>(op.out)].dims;
    if (!PointwisePays(op.filter_dims[3], op.channels_out, x[0] * x[1] * x[2])) continue;
    auto r =
        ResolveWindow(op.window, static_cast<std::int64_t>(x[1]), static_cast<std::int64_t>(x[2]));
    if (!r || r->top != 0 || r->left != 0 || x[1] != y[1] || x[2] != y[2] ||
        op.window.stride[0] != 1 || op.window.stride[1] != 1) {
      continue;
    }
    op.use_pointwise = true;
    if (op.pointwise == nullptr) {
      op.pointwise =
          std::make_shared<const Pointwise1x1>(op.filter.data(), op.bias.data(), op.filter_dims[3],
                                               op.channels_out, op.out_min, op.out_max);
    }
    any_own = true;
  }
  for (Op& op : ops_) {
    op.use_conv_gemm = false;
    const Window& w = op.window;
    if (!(op.kind == OpKind::kConv && op.groups == 1 && !op.use_winograd && !op.use_pointwise &&
          w.dilation[0] == 1 && w.dilation[1] == 1 && ConvGemmEnabled() &&
          ConvGemmPays(op.filter_dims[3], op.filter_dims[1], op.filter_dims[2], op.channels_out,
                       w.stride[0] == w.stride[1] ? static_cast<std::size_t>(w.stride[0]) : 0))) {
      continue;
    }
    op.use_conv_gemm = true;
    if (op.conv_gemm == nullptr) {
      op.conv_gemm = std::make_shared<const ConvGemm>(
          op.filter.data(), op.bias.data(), op.channels_out, op.filter_dims[1], op.filter_dims[2],
          op.filter_dims[3], op.out_min, op.out_max);
    }
    any_own = true;
  }
  for (Op& op : ops_) {
    op.use_depthwise = false;
    const Window& w = op.window;
    if (!(op.kind == OpKind::kDepthwiseConv && op.multiplier == 1 && op.filter_dims[1] == 3 &&
          op.filter_dims[2] == 3 && w.stride[0] == w.stride[1] &&
          (w.stride[0] == 1 || w.stride[0] == 2) && w.dilation[0] == 1 && w.dilation[1] == 1 &&
          DepthwiseEnabled() && DepthwisePays(op.channels_out))) {
      continue;
    }
    op.use_depthwise = true;
    if (op.depthwise == nullptr) {
      op.depthwise = std::make_shared<const Depthwise3x3>(
          op.filter.data(), op.bias.data(), op.channels_out, static_cast<std::size_t>(w.stride[0]),
          op.out_min, op.out_max);
    }
    any_own = true;
  }

  // Ops too small to pay for a parallel step run on the calling thread (SerialPays).
  bool any_serial = false;
  for (Op& op : ops_) {
    op.serial = ctx.threads() > 1 && SerialPays(OpMacs(op), OpActivationBytes(op));
    any_serial = any_serial || op.serial;
  }

  // The thread pool.
  pthreadpool_t pool = shared_pool_ != nullptr ? shared_pool_ : ctx.thread_pool();
  if (pool == nullptr && ctx.threads() > 1) {
    if (own_pool_ == nullptr ||
        pthreadpool_get_threads_count(own_pool_.get()) != static_cast<std::size_t>(ctx.threads())) {
      own_pool_.reset(pthreadpool_create(static_cast<std::size_t>(ctx.threads())));
      if (own_pool_ == nullptr) return Internal(node_desc_ + ": pthreadpool_create failed");
    }
    pool = own_pool_.get();
  }
  built_pool_ = pool;

  // External buffers (inputs get XNN_EXTRA_BYTES of slack).
  in_buffers_.resize(inputs_.size());
  for (std::size_t i = 0; i < inputs_.size(); ++i) {
    const Value& v = values_[static_cast<std::size_t>(inputs_[i])];
    in_buffers_[i].assign(Product(v.dims) + kExtraFloats, 0.0f);
  }
  out_buffers_.resize(outputs_.size());
  out_shapes_.clear();
  for (std::size_t i = 0; i < outputs_.size(); ++i) {
    const Value& v = values_[static_cast<std::size_t>(outputs_[i])];
    out_buffers_[i].assign(Product(v.dims) + kExtraFloats, 0.0f);
    out_shapes_.emplace_back(ToNchw(v.dims));
  }
  value_buffers_.assign(values_.size(), {});
  slot_of_.assign(values_.size(), -1);
  slots_.clear();

  if (any_own || any_serial) {
    // XNNPACK runtimes for the runs of ops between those on the engine's kernels, each
    // run all serial or all parallel (a runtime has one pool, or none).
    std::vector<std::pair<std::size_t, std::size_t>> ranges;
    for (std::size_t i = 0; i < ops_.size();) {
      std::size_t j = i + 1;
      if (!ops_[i].own_kernel()) {
        while (j < ops_.size() && !ops_[j].own_kernel() && ops_[j].serial == ops_[i].serial) ++j;
      }
      ranges.emplace_back(i, j);
      i = j;
    }
    AssignSlots(ranges);
    DEEPEDGE_RETURN_IF_ERROR(BuildSteps(ranges, steps_));
  } else {
    // One subgraph for the whole region.
    const std::uint32_t externals = static_cast<std::uint32_t>(inputs_.size() + outputs_.size());
    xnn_subgraph_t raw = nullptr;
    DEEPEDGE_RETURN_IF_ERROR(
        Check(xnn_create_subgraph(externals, 0, &raw), nullptr, "xnn_create_subgraph"));
    std::unique_ptr<xnn_subgraph, SubgraphDeleter> sg(raw);
    std::vector<bool> used(values_.size(), false);
    for (const Op& op : ops_) {
      for (int v : op.in) used[static_cast<std::size_t>(v)] = true;
      used[static_cast<std::size_t>(op.out)] = true;
    }
    for (std::size_t i = 0; i < values_.size(); ++i) {
      Value& v = values_[i];
      v.id = XNN_INVALID_VALUE_ID;
      if (!used[i] && v.external < 0) continue;
      std::uint32_t flags = 0;
      if (v.external >= 0) {
        flags = v.is_input ? XNN_VALUE_FLAG_EXTERNAL_INPUT : XNN_VALUE_FLAG_EXTERNAL_OUTPUT;
      }
      const std::uint32_t ext =
          v.external >= 0 ? static_cast<std::uint32_t>(v.external) : XNN_INVALID_VALUE_ID;
      DEEPEDGE_RETURN_IF_ERROR(
          Check(xnn_define_tensor_value(sg.get(), xnn_datatype_fp32, v.dims.size(), v.dims.data(),
                                        v.data, ext, flags, &v.id),
                nullptr, ("xnn_define_tensor_value for '" + v.name + "'").c_str()));
    }
    for (Op& op : ops_) DEEPEDGE_RETURN_IF_ERROR(DefineOp(sg.get(), op));
    xnn_runtime_t rt = nullptr;
    DEEPEDGE_RETURN_IF_ERROR(
        Check(xnn_create_runtime_v2(sg.get(), pool, 0, &rt), nullptr, "xnn_create_runtime_v2"));
    std::unique_ptr<xnn_runtime, RuntimeDeleter> runtime(rt);
    std::vector<xnn_external_value> ext;
    for (std::size_t i = 0; i < inputs_.size(); ++i) {
      ext.push_back({values_[static_cast<std::size_t>(inputs_[i])].id, in_buffers_[i].data()});
    }
    for (std::size_t i = 0; i < outputs_.size(); ++i) {
      ext.push_back({values_[static_cast<std::size_t>(outputs_[i])].id, out_buffers_[i].data()});
    }
    DEEPEDGE_RETURN_IF_ERROR(Check(xnn_setup_runtime(runtime.get(), ext.size(), ext.data()),
                                   nullptr, "xnn_setup_runtime"));
    runtime_ = std::move(runtime);
  }
  built_ = true;
  built_shapes_ = shapes;
  built_threads_ = ctx.threads();
  ++builds_;
  return Status::Ok();
}

Status RegionKernel::Run(KernelContext& ctx) {
  if (ctx.input_count() < inputs_.size() || ctx.output_count() < outputs_.size()) {
    return InvalidArgument(node_desc_ + ": wrong number of inputs or outputs");
  }
  std::vector<Shape> shapes;
  shapes.reserve(inputs_.size());
  for (std::size_t i = 0; i < inputs_.size(); ++i) {
    const Tensor* t = ctx.input(i);
    const Value& v = values_[static_cast<std::size_t>(inputs_[i])];
    if (t == nullptr)
      return InvalidArgument(node_desc_ + ": input " + std::to_string(i) + " missing");
    if (t->dtype() != DType::kF32 || t->shape().rank() != static_cast<std::size_t>(v.rank)) {
      return InvalidArgument(node_desc_ + ": input '" + v.name + "' must be f32 of rank " +
                             std::to_string(v.rank) + ", got " +
                             std::string(DTypeName(t->dtype())) + " " + t->shape().ToString());
    }
    shapes.push_back(t->shape());
  }
  if (!built_ || shapes != built_shapes_ ||
      (shared_pool_ == nullptr && ctx.threads() != built_threads_)) {
    Status s = Build(ctx, shapes);
    if (!s.ok()) {
      runtime_.reset();
      steps_.clear();
      op_steps_.clear();
      built_ = false;
      built_shapes_.clear();
      return s;
    }
  }
  if (ctx.profiling()) return RunProfiled(ctx);
  DEEPEDGE_RETURN_IF_ERROR(TransposeInputs(ctx));
  if (runtime_ != nullptr) {
    const xnn_status st = xnn_invoke_runtime(runtime_.get());
    if (st != xnn_status_success) {
      return Internal(node_desc_ + ": xnn_invoke_runtime failed: " + XnnStatusName(st));
    }
  } else {
    DEEPEDGE_RETURN_IF_ERROR(RunSteps(ctx, steps_));
  }
  return TransposeOutputs(ctx);
}

Status RegionKernel::TransposeInputs(KernelContext& ctx) {
  for (std::size_t i = 0; i < inputs_.size(); ++i) {
    const Tensor* t = ctx.input(i);
    const float* src = t->as<float>().data();
    float* dst = in_buffers_[i].data();
    const Shape& s = t->shape();
    if (s.rank() == 4) {
      // NCHW -> NHWC: per image, [C][HW] -> [HW][C].
      Transpose(ctx, src, dst, static_cast<std::size_t>(s[0]), static_cast<std::size_t>(s[1]),
                static_cast<std::size_t>(s[2] * s[3]));
    } else if (t->byte_size() > 0) {
      std::memcpy(dst, src, t->byte_size());
    }
  }
  return Status::Ok();
}

Status RegionKernel::TransposeOutputs(KernelContext& ctx) {
  for (std::size_t i = 0; i < outputs_.size(); ++i) {
    const Shape& s = out_shapes_[i];
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(i, DType::kF32, s));
    const float* src = out_buffers_[i].data();
    float* dst = y->as<float>().data();
    if (s.rank() == 4) {
      // NHWC -> NCHW: per image, [HW][C] -> [C][HW].
      Transpose(ctx, src, dst, static_cast<std::size_t>(s[0]),
                static_cast<std::size_t>(s[2] * s[3]), static_cast<std::size_t>(s[1]));
    } else if (y->byte_size() > 0) {
      std::memcpy(dst, src, y->byte_size());
    }
  }
  return Status::Ok();
}

std::int64_t RegionKernel::OpMacs(const Op& op) const {
  const std::int64_t out =
      static_cast<std::int64_t>(Product(values_[static_cast<std::size_t>(op.out)].dims));
  switch (op.kind) {
    case OpKind::kConv:  // filter [C_out, KH, KW, C_in / group]
      return out *
             static_cast<std::int64_t>(op.filter_dims[1] * op.filter_dims[2] * op.filter_dims[3]);
    case OpKind::kDepthwiseConv:  // filter [1, KH, KW, C_out]
      return out * static_cast<std::int64_t>(op.filter_dims[1] * op.filter_dims[2]);
    case OpKind::kFullyConnected:  // filter [N_out, K]
      return out * static_cast<std::int64_t>(op.filter_dims[1]);
    default:
      return 0;
  }
}

std::int64_t RegionKernel::OpActivationBytes(const Op& op) const {
  std::size_t floats = Product(values_[static_cast<std::size_t>(op.out)].dims);
  for (int v : op.in) {
    const Value& val = values_[static_cast<std::size_t>(v)];
    if (!val.is_static) floats += Product(val.dims);
  }
  return static_cast<std::int64_t>(floats * sizeof(float));
}

void RegionKernel::AssignSlots(const std::vector<std::pair<std::size_t, std::size_t>>& ranges) {
  // Each value that one step writes and a later one reads is live from its producing
  // step to its last reading step. Walking the steps in order, a value takes a free slot
  // (the smallest that fits, else the largest, which grows) and gives it back after its
  // last reader: consecutive layers then reuse a few cache-warm buffers, as XNNPACK's
  // own planner does inside a runtime, instead of each value touching fresh memory.
  // Sharing at step granularity is also safe for profiling's one-op steps, which run
  // the same ops in the same order.
  std::vector<std::size_t> step_of(ops_.size(), 0);
  for (std::size_t s = 0; s < ranges.size(); ++s) {
    for (std::size_t j = ranges[s].first; j < ranges[s].second; ++j) step_of[j] = s;
  }
  std::vector<bool> external(values_.size(), false);
  for (int v : inputs_) external[static_cast<std::size_t>(v)] = true;
  for (int v : outputs_) external[static_cast<std::size_t>(v)] = true;
  constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::vector<std::size_t> last_read(values_.size(), kNone);
  for (std::size_t j = 0; j < ops_.size(); ++j) {
    for (int v : ops_[j].in) {
      const std::size_t vi = static_cast<std::size_t>(v);
      const Value& val = values_[vi];
      if (val.is_static || external[vi] || val.producer < 0) continue;
      if (step_of[static_cast<std::size_t>(val.producer)] == step_of[j]) continue;
      last_read[vi] = last_read[vi] == kNone ? step_of[j] : std::max(last_read[vi], step_of[j]);
    }
  }
  std::vector<std::size_t> slot_size;  // floats
  std::vector<bool> slot_free;
  for (std::size_t s = 0; s < ranges.size(); ++s) {
    for (std::size_t j = ranges[s].first; j < ranges[s].second; ++j) {
      const std::size_t v = static_cast<std::size_t>(ops_[j].out);
      if (last_read[v] == kNone) continue;
      const std::size_t need = Product(values_[v].dims) + kExtraFloats;
      int best = -1;
      for (std::size_t k = 0; k < slot_size.size(); ++k) {
        if (!slot_free[k]) continue;
        const bool fits = slot_size[k] >= need;
        if (best < 0) {
          best = static_cast<int>(k);
          continue;
        }
        const std::size_t b = slot_size[static_cast<std::size_t>(best)];
        const bool best_fits = b >= need;
        if ((fits && (!best_fits || slot_size[k] < b)) ||
            (!fits && !best_fits && slot_size[k] > b)) {
          best = static_cast<int>(k);
        }
      }
      if (best < 0) {
        best = static_cast<int>(slot_size.size());
        slot_size.push_back(0);
        slot_free.push_back(true);
      }
      const std::size_t k = static_cast<std::size_t>(best);
      slot_size[k] = std::max(slot_size[k], need);
      slot_free[k] = false;
      slot_of_[v] = best;
    }
    for (std::size_t v = 0; v < values_.size(); ++v) {
      if (slot_of_[v] >= 0 && last_read[v] == s)
        slot_free[static_cast<std::size_t>(slot_of_[v])] = true;
    }
  }
  slots_.resize(slot_size.size());
  for (std::size_t k = 0; k < slot_size.size(); ++k) slots_[k].assign(slot_size[k], 0.0f);
}

float* RegionKernel::ValueBuffer(int v) {
  // Region inputs and outputs live in the external buffers; other values crossing a
  // step border get a buffer of their own.
  for (std::size_t i = 0; i < inputs_.size(); ++i) {
    if (inputs_[i] == v) return in_buffers_[i].data();
  }
  for (std::size_t i = 0; i < outputs_.size(); ++i) {
    if (outputs_[i] == v) return out_buffers_[i].data();
  }
  const int slot = slot_of_[static_cast<std::size_t>(v)];
  if (slot >= 0) return slots_[static_cast<std::size_t>(slot)].data();
  AlignedFloats& b = value_buffers_[static_cast<std::size_t>(v)];
  if (b.empty()) b.assign(Product(values_[static_cast<std::size_t>(v)].dims) + kExtraFloats, 0.0f);
  return b.data();
}

Status RegionKernel::BuildSteps(const std::vector<std::pair<std::size_t, std::size_t>>& ranges,
                                std::vector<Step>& steps) {
  steps.clear();
  std::vector<bool> region_output(values_.size(), false);
  for (int v : outputs_) region_output[static_cast<std::size_t>(v)] = true;
  for (const auto& [begin, end] : ranges) {
    Step step;
    step.begin = begin;
    step.end = end;
    if (end == begin + 1 && ops_[begin].own_kernel()) {
      for (int v : ops_[begin].in) ValueBuffer(v);
      ValueBuffer(ops_[begin].out);
      steps.push_back(std::move(step));
      continue;
    }
    auto inside = [&](int producer) {
      return producer >= 0 && static_cast<std::size_t>(producer) >= begin &&
             static_cast<std::size_t>(producer) < end;
    };
    // Externals: activations read here but produced elsewhere, then values produced
    // here and read elsewhere (or region outputs).
    std::vector<int> ext_in, ext_out, internal;
    for (std::size_t j = begin; j < end; ++j) {
      for (int v : ops_[j].in) {
        const Value& val = values_[static_cast<std::size_t>(v)];
        if (!val.is_static && !inside(val.producer) &&
            std::find(ext_in.begin(), ext_in.end(), v) == ext_in.end()) {
          ext_in.push_back(v);
        }
      }
    }
    for (std::size_t j = begin; j < end; ++j) {
      const int v = ops_[j].out;
      bool read_outside = region_output[static_cast<std::size_t>(v)];
      for (std::size_t o = 0; o < ops_.size() && !read_outside; ++o) {
        if (o >= begin && o < end) continue;
        read_outside = std::find(ops_[o].in.begin(), ops_[o].in.end(), v) != ops_[o].in.end();
      }
      (read_outside ? ext_out : internal).push_back(v);
    }
    const Op* first = &ops_[begin];
    xnn_subgraph_t raw = nullptr;
    DEEPEDGE_RETURN_IF_ERROR(Check(
        xnn_create_subgraph(static_cast<std::uint32_t>(ext_in.size() + ext_out.size()), 0, &raw),
        first, "xnn_create_subgraph"));
    std::unique_ptr<xnn_subgraph, SubgraphDeleter> sg(raw);
    auto define = [&](int v, const float* data, std::uint32_t ext, std::uint32_t flags) {
      Value& val = values_[static_cast<std::size_t>(v)];
      return Check(xnn_define_tensor_value(sg.get(), xnn_datatype_fp32, val.dims.size(),
                                           val.dims.data(), data, ext, flags, &val.id),
                   first, "xnn_define_tensor_value");
    };
    for (std::size_t j = begin; j < end; ++j) {
      for (int v : ops_[j].in) {
        const Value& val = values_[static_cast<std::size_t>(v)];
        if (val.is_static) DEEPEDGE_RETURN_IF_ERROR(define(v, val.data, XNN_INVALID_VALUE_ID, 0));
      }
    }
    std::vector<xnn_external_value> bind;
    for (std::size_t e = 0; e < ext_in.size(); ++e) {
      const std::uint32_t id = static_cast<std::uint32_t>(e);
      DEEPEDGE_RETURN_IF_ERROR(define(ext_in[e], nullptr, id, XNN_VALUE_FLAG_EXTERNAL_INPUT));
      bind.push_back({id, ValueBuffer(ext_in[e])});
    }
    for (std::size_t e = 0; e < ext_out.size(); ++e) {
      const std::uint32_t id = static_cast<std::uint32_t>(ext_in.size() + e);
      DEEPEDGE_RETURN_IF_ERROR(define(ext_out[e], nullptr, id, XNN_VALUE_FLAG_EXTERNAL_OUTPUT));
      bind.push_back({id, ValueBuffer(ext_out[e])});
    }
    for (int v : internal) DEEPEDGE_RETURN_IF_ERROR(define(v, nullptr, XNN_INVALID_VALUE_ID, 0));
    for (std::size_t j = begin; j < end; ++j) DEEPEDGE_RETURN_IF_ERROR(DefineOp(sg.get(), ops_[j]));
    xnn_runtime_t rt = nullptr;
    pthreadpool_t pool = first->serial ? nullptr : built_pool_;
    DEEPEDGE_RETURN_IF_ERROR(
        Check(xnn_create_runtime_v2(sg.get(), pool, 0, &rt), first, "xnn_create_runtime_v2"));
    step.runtime.reset(rt);
    DEEPEDGE_RETURN_IF_ERROR(Check(xnn_setup_runtime(step.runtime.get(), bind.size(), bind.data()),
                                   first, "xnn_setup_runtime"));
    steps.push_back(std::move(step));
  }
  return Status::Ok();
}

Status RegionKernel::RunStep(KernelContext& ctx, const Step& step) {
  if (step.runtime != nullptr) {
    const xnn_status st = xnn_invoke_runtime(step.runtime.get());
    if (st != xnn_status_success) {
      const Op& op = ops_[step.begin];
      return Internal(node_desc_ + ": xnn_invoke_runtime failed" +
                      (op.node ? " for " + op.node->Describe() : std::string()) + ": " +
                      XnnStatusName(st));
    }
    return Status::Ok();
  }
  const Op& op = ops_[step.begin];
  KernelContext* threads = op.serial ? nullptr : &ctx;  // null: this thread only
  const std::vector<std::size_t>& x = values_[static_cast<std::size_t>(op.in[0])].dims;
  const std::vector<std::size_t>& y = values_[static_cast<std::size_t>(op.out)].dims;
  if (op.use_pointwise) {
    op.pointwise->Run(threads, ValueBuffer(op.in[0]), x[0] * x[1] * x[2], ValueBuffer(op.out));
    return Status::Ok();
  }
  if (op.kind == OpKind::kConcat) {
    std::vector<const float*> in;
    std::vector<std::size_t> channels;
    for (int v : op.in) {
      in.push_back(ValueBuffer(v));
      channels.push_back(values_[static_cast<std::size_t>(v)].dims.back());
    }
    ConcatLastAxis(threads, in, channels, Product(y) / y.back(), ValueBuffer(op.out));
    return Status::Ok();
  }
  if (op.kind == OpKind::kResizeNearest) {
    ResizeNearestNhwc(threads, ValueBuffer(op.in[0]), x, static_cast<std::size_t>(op.resize.h),
                      static_cast<std::size_t>(op.resize.w), ValueBuffer(op.out));
    return Status::Ok();
  }
  auto r =
      ResolveWindow(op.window, static_cast<std::int64_t>(x[1]), static_cast<std::int64_t>(x[2]));
  if (!r) return Internal(node_desc_ + ": " + r.status().message());
  if (op.use_conv_gemm) {
    const ConvGemmGeometry geo{x[0],
                               x[1],
                               x[2],
                               y[1],
                               y[2],
                               static_cast<std::size_t>(op.window.stride[0]),
                               static_cast<std::size_t>(op.window.stride[1]),
                               static_cast<std::size_t>(r->top),
                               static_cast<std::size_t>(r->left)};
    op.conv_gemm->Run(threads, ValueBuffer(op.in[0]), geo, ValueBuffer(op.out));
    return Status::Ok();
  }
  if (op.use_depthwise) {
    op.depthwise->Run(threads, ValueBuffer(op.in[0]), x[0], x[1], x[2],
                      static_cast<std::size_t>(r->top), static_cast<std::size_t>(r->left), y[1],
                      y[2], ValueBuffer(op.out));
    return Status::Ok();
  }
  op.winograd->Run(threads, ValueBuffer(op.in[0]), x[0], x[1], x[2],
                   static_cast<std::size_t>(r->top), static_cast<std::size_t>(r->left), y[1], y[2],
                   ValueBuffer(op.out));
  return Status::Ok();
}

Status RegionKernel::RunSteps(KernelContext& ctx, const std::vector<Step>& steps) {
  for (const Step& step : steps) DEEPEDGE_RETURN_IF_ERROR(RunStep(ctx, step));
  return Status::Ok();
}

// Profiling run: the fused runtime is timed as a whole (what a normal run costs),
// then every op runs again in a runtime of its own, timed, on the same NHWC buffers;
// its results are the outputs. Each original node (with the nodes fused into it)
// becomes one profile entry; the border transposes are entries of their own.
Status RegionKernel::RunProfiled(KernelContext& ctx) {
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
  };
  if (op_steps_.size() != ops_.size()) {
    std::vector<std::pair<std::size_t, std::size_t>> ranges;
    for (std::size_t i = 0; i < ops_.size(); ++i) ranges.emplace_back(i, i + 1);
    Status s = BuildSteps(ranges, op_steps_);
    if (!s.ok()) {
      op_steps_.clear();
      return s;
    }
  }
  const auto t0 = Clock::now();
  DEEPEDGE_RETURN_IF_ERROR(TransposeInputs(ctx));
  const auto t1 = Clock::now();
  if (runtime_ != nullptr) {
    const xnn_status st = xnn_invoke_runtime(runtime_.get());
    if (st != xnn_status_success) {
      return Internal(node_desc_ + ": xnn_invoke_runtime failed: " + XnnStatusName(st));
    }
  } else {
    DEEPEDGE_RETURN_IF_ERROR(RunSteps(ctx, steps_));
  }
  const auto t2 = Clock::now();
  std::vector<double> op_ms(ops_.size());
  for (std::size_t i = 0; i < ops_.size(); ++i) {
    const auto a = Clock::now();
    DEEPEDGE_RETURN_IF_ERROR(RunStep(ctx, op_steps_[i]));
    op_ms[i] = ms(a, Clock::now());
  }
  const auto t3 = Clock::now();
  DEEPEDGE_RETURN_IF_ERROR(TransposeOutputs(ctx));
  const auto t4 = Clock::now();
  const double fused = ms(t0, t1) + ms(t1, t2) + ms(t3, t4);

  auto entry = [&](std::string name, std::string type, double time, std::int64_t bytes,
                   std::int64_t macs) {
    NodeProfile p;
    p.name = std::move(name);
    p.op_type = std::move(type);
    p.time_ms = time;
    p.output_bytes = bytes;
    p.macs = macs;
    p.group = region_name_;
    p.group_time_ms = fused;
    ctx.AddNodeProfile(std::move(p));
  };
  std::int64_t in_bytes = 0, out_bytes = 0;
  for (std::size_t i = 0; i < inputs_.size(); ++i)
    in_bytes += static_cast<std::int64_t>(ctx.input(i)->byte_size());
  for (const Shape& sh : out_shapes_)
    out_bytes += sh.element_count() * static_cast<std::int64_t>(sizeof(float));
  entry(region_name_ + ":to_nhwc", "Transpose", ms(t0, t1), in_bytes, 0);
  for (std::size_t i = 0; i < ops_.size();) {
    // Consecutive ops of one node (a BatchNormalization as Mul + Add) are one entry.
    std::size_t j = i + 1;
    while (ops_[i].node != nullptr && j < ops_.size() && ops_[j].node == ops_[i].node) ++j;
    std::string name, type;
    auto add = [&](const ir::Node* n) {
      name += (name.empty() ? "" : "+") + n->name;
      type += (type.empty() ? "" : "+") + n->op_type;
    };
    double time = 0;
    std::int64_t macs = 0;
    for (std::size_t k = i; k < j; ++k) {
      if (k == i && ops_[k].node != nullptr) add(ops_[k].node);
      for (const ir::Node* n : ops_[k].absorbed) add(n);
      time += op_ms[k];
      macs += OpMacs(ops_[k]);
    }
    if (ops_[i].node == nullptr) {
      name = region_name_ + ":copy";
      type = "Identity";
    }
    const std::int64_t bytes = static_cast<std::int64_t>(
        Product(values_[static_cast<std::size_t>(ops_[j - 1].out)].dims) * sizeof(float));
    entry(std::move(name), std::move(type), time, bytes, macs);
    i = j;
  }
  entry(region_name_ + ":to_nchw", "Transpose", ms(t3, t4), out_bytes, 0);
  return Status::Ok();
}

}  // namespace

Status InitializeXnnpack() {
  static std::once_flag once;
  static xnn_status status = xnn_status_uninitialized;
  std::call_once(once, [] { status = xnn_initialize(nullptr); });
  if (status != xnn_status_success) {
    return Unavailable(std::string("xnn_initialize failed: ") + XnnStatusName(status));
  }
  return Status::Ok();
}

Expected<std::unique_ptr<OpKernel>> CreateRegionKernel(const ir::Node& node,
                                                       const PrepareContext& /*ctx*/,
                                                       pthreadpool_t shared_pool) {
  DEEPEDGE_RETURN_IF_ERROR(InitializeXnnpack());
  const ir::Attribute* body = node.Find("body");
  if (body == nullptr || body->kind != ir::Attribute::Kind::kGraph || body->graph == nullptr) {
    return InvalidArgument(node.Describe() + ": the 'body' graph attribute is missing");
  }
  if (body->graph->inputs.size() != node.inputs.size() ||
      body->graph->outputs.size() != node.outputs.size()) {
    return InvalidArgument(node.Describe() + ": inputs / outputs do not match the body's");
  }
  auto kernel = std::make_unique<RegionKernel>(node, body->graph, shared_pool);
  DEEPEDGE_RETURN_IF_ERROR(kernel->Translate());
  return std::unique_ptr<OpKernel>(std::move(kernel));
}

int RegionKernelBuildCount(const OpKernel& kernel) {
  const auto* k = dynamic_cast<const RegionKernel*>(&kernel);
  return k == nullptr ? -1 : k->builds();
}

}  // namespace deepedge::engine::xnn

namespace deepedge::engine {

void RegisterXnnpackKernels(KernelRegistry& r, pthreadpool_t pool) {
  r.AddFactory(kXnnpackDomain, kXnnpackRegionOp,
               [pool](const ir::Node& node, const PrepareContext& ctx) {
                 return xnn::CreateRegionKernel(node, ctx, pool);
               });
}

}  // namespace deepedge::engine
