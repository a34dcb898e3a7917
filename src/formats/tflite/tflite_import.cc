// TFLite -> graph IR (see include/deepedge/tflite_model.h for the mapping).
#include <algorithm>
#include <cstring>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <set>

#include <flatbuffers/flexbuffers.h>

#include "deepedge/tflite_model.h"
#include "tflite_reader.h"

namespace deepedge {
namespace {

using tflite_internal::LoadedModel;
using Ints = std::vector<std::int64_t>;

constexpr int kOpset = 14;

// TFLite builtin operator codes used below.
enum Op : int {
  kAdd = 0,
  kAveragePool2d = 1,
  kConcatenation = 2,
  kConv2d = 3,
  kDepthwiseConv2d = 4,
  kDepthToSpace = 5,
  kDequantize = 6,
  kFloor = 8,
  kFullyConnected = 9,
  kL2Normalization = 11,
  kLogistic = 14,
  kMaxPool2d = 17,
  kMul = 18,
  kRelu = 19,
  kReluN1To1 = 20,
  kRelu6 = 21,
  kReshape = 22,
  kResizeBilinear = 23,
  kSoftmax = 25,
  kSpaceToDepth = 26,
  kTanh = 28,
  kCustom = 32,
  kPad = 34,
  kGather = 36,
  kTranspose = 39,
  kMean = 40,
  kSub = 41,
  kDiv = 42,
  kSqueeze = 43,
  kUnidirectionalSequenceLstm = 44,
  kStridedSlice = 45,
  kExp = 47,
  kSplit = 49,
  kLogSoftmax = 50,
  kCast = 53,
  kPrelu = 54,
  kMaximum = 55,
  kArgMax = 56,
  kMinimum = 57,
  kLess = 58,
  kNeg = 59,
  kPadV2 = 60,
  kGreater = 61,
  kGreaterEqual = 62,
  kLessEqual = 63,
  kSelect = 64,
  kSlice = 65,
  kSin = 66,
  kTransposeConv = 67,
  kTile = 69,
  kExpandDims = 70,
  kEqual = 71,
  kNotEqual = 72,
  kLog = 73,
  kSum = 74,
  kSqrt = 75,
  kRsqrt = 76,
  kShape = 77,
  kPow = 78,
  kArgMin = 79,
  kReduceProd = 81,
  kReduceMax = 82,
  kPack = 83,
  kLogicalOr = 84,
  kLogicalAnd = 86,
  kLogicalNot = 87,
  kUnpack = 88,
  kReduceMin = 89,
  kSquare = 92,
  kResizeNearest = 97,
  kLeakyRelu = 98,
  kSquaredDifference = 99,
  kMirrorPad = 100,
  kAbs = 101,
  kSplitV = 102,
  kCeil = 104,
  kGatherNd = 107,
  kCos = 108,
  kElu = 111,
  kQuantize = 114,
  kRound = 116,
  kHardSwish = 117,
  kIf = 118,
  kWhile = 119,
  kSelectV2 = 123,
  kDensify = 124,
  kBatchMatMul = 126,
  kCumsum = 128,
  kGelu = 150,
};

// Custom operators the importer maps (every other custom code is refused up front).
constexpr const char* kTransposeConvBiasCode = "Convolution2DTransposeBias";

// TFLite Micro's audio front-end operators ("signal" library), mapped one to one onto the
// engine's kernels in this domain (op type = custom code without "Signal").
constexpr const char* kSignalDomain = "com.deepedge.signal";
constexpr const char* kSignalCodes[] = {"SignalWindow",
                                        "SignalFftAutoScale",
                                        "SignalRfft",
                                        "SignalEnergy",
                                        "SignalFilterBank",
                                        "SignalFilterBankSquareRoot",
                                        "SignalFilterBankSpectralSubtraction",
                                        "SignalPCAN",
                                        "SignalFilterBankLog"};

bool IsSignalCustom(const std::string& custom_code) {
  return std::find(std::begin(kSignalCodes), std::end(kSignalCodes), custom_code) !=
         std::end(kSignalCodes);
}

bool IsMappedCustom(const std::string& custom_code) {
  return custom_code == kTransposeConvBiasCode || IsSignalCustom(custom_code);
}

bool IsUnsignedWide(tfl::TensorType t) {
  return t == tfl::TensorType::UINT32 || t == tfl::TensorType::UINT64;
}

using Attrs = std::map<std::string, ir::Attribute>;

// Permutes a dense row-major tensor's elements (any dtype) by `perm`.
Tensor PermuteTensor(const Tensor& in, const std::vector<std::size_t>& perm) {
  const Shape& s = in.shape();
  const std::size_t rank = s.rank();
  std::vector<std::int64_t> out_dims(rank);
  for (std::size_t i = 0; i < rank; ++i) out_dims[i] = s[perm[i]];
  Tensor out = std::move(Tensor::Allocate(in.dtype(), Shape(out_dims))).value();
  const std::size_t esize = DTypeSize(in.dtype());
  std::vector<std::int64_t> in_strides(rank, 1);
  for (std::size_t i = rank; i-- > 1;) in_strides[i - 1] = in_strides[i] * s[i];
  const std::int64_t n = in.element_count();
  std::vector<std::int64_t> idx(rank, 0);
  const auto* src = static_cast<const std::byte*>(in.data());
  auto* dst = static_cast<std::byte*>(out.data());
  for (std::int64_t o = 0; o < n; ++o) {
    std::int64_t off = 0;
    for (std::size_t i = 0; i < rank; ++i) off += idx[i] * in_strides[perm[i]];
    std::memcpy(dst + static_cast<std::size_t>(o) * esize,
                src + static_cast<std::size_t>(off) * esize, esize);
    for (std::size_t i = rank; i-- > 0;) {
      if (++idx[i] < out_dims[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}

// Control flow: bounds on what IF / WHILE may nest, so that a hostile file cannot exhaust
// the stack (nesting) or the memory (a chain of subgraphs each calling the next twice).
constexpr std::size_t kMaxNesting = 32;
constexpr int kMaxNestedImports = 1'000;

// Shared by every subgraph import of one model.
struct ImportState {
  std::vector<std::size_t> stack;  // subgraphs being imported, outermost first
  int nested_imports = 0;          // also gives each nested import its own name scope
  // Constant tensors by (subgraph, tensor): a subgraph imported twice (a WHILE condition)
  // shares its weights.
  std::map<std::pair<std::size_t, int>, std::shared_ptr<const Tensor>> constants;
};

ir::Attribute GraphAttr(std::shared_ptr<const ir::Graph> g) {
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::kGraph;
  a.graph = std::move(g);
  return a;
}

class SubgraphImporter {
 public:
  // `scope` is empty for the main subgraph (its tensors keep their TFLite names); a nested
  // import (IF branch, WHILE condition or body) gets a scope unique in the model, and all
  // of its value names carry it, so that imports of one subgraph never collide.
  SubgraphImporter(const LoadedModel& m, std::size_t index, ir::Graph& g, ImportState& state,
                   std::string scope = "")
      : m_(m),
        sg_(m.subgraph(index)),
        index_(index),
        g_(g),
        state_(state),
        scope_(std::move(scope)),
        tmp_prefix_("tfl/" + (scope_.empty() ? std::to_string(index) : scope_) + "/") {}

  // Imports the subgraph into the graph: the main one, with its inputs as graph inputs
  // and its outputs as graph outputs.
  Status Run();
  // Imports the operators into the graph. `bound` null: the subgraph inputs become graph
  // inputs (appended to g.inputs); else bound[k] is the existing value that input k reads
  // (a value of this graph or of an enclosing one). Fills outputs().
  Status Import(const std::vector<std::string>* bound);
  // The subgraph's outputs as values of the graph (after Import).
  const std::vector<ir::ValueInfo>& outputs() const { return outputs_; }

 private:
  // --- tensors -----------------------------------------------------------------
  std::size_t TensorCount() const { return sg_->tensors() ? sg_->tensors()->size() : 0; }
  const tfl::Tensor* T(int i) const {
    return sg_->tensors()->Get(static_cast<flatbuffers::uoffset_t>(i));
  }
  std::string Desc(int i) const { return tflite_internal::DescribeTensor(sg_, i); }
  Expected<DType> DT(int i) const {
    // uint32 / uint64 travel as i32 / i64 holding the same bits (the engine has no
    // unsigned wide types); only the signal kernels and bit-preserving CAST / RESHAPE
    // touch them (checked per operator).
    if (T(i)->type() == tfl::TensorType::UINT32) return DType::kI32;
    if (T(i)->type() == tfl::TensorType::UINT64) return DType::kI64;
    auto d = tflite_internal::ToDType(T(i)->type());
    if (!d) {
      return Unsupported(Desc(i) + " has type " + tflite_internal::TensorTypeName(T(i)->type()) +
                         ", which DeepEdge lacks");
    }
    return *d;
  }
  Shape ShapeOf(int i) const { return tflite_internal::TensorShape(T(i)); }
  Ints Dims(int i) const { return ShapeOf(i).dims(); }
  bool IsConst(int i) const {
    if (bound_.count(i) != 0) return false;  // reads the value it is bound to
    return T(i)->sparsity() != nullptr || !m_.BufferData(T(i)->buffer()).empty();
  }
  std::optional<QuantizationInfo> Quant(int i) const {
    const tfl::TensorType t = T(i)->type();
    if (t != tfl::TensorType::INT8 && t != tfl::TensorType::UINT8 && t != tfl::TensorType::INT16 &&
        t != tfl::TensorType::INT32) {
      return std::nullopt;
    }
    auto q = tflite_internal::TensorQuantization(T(i));
    if (q && q->scale.size() == 1 && q->scale[0] == 0) return std::nullopt;
    return q;
  }
  bool SameQuant(int a, int b) const {
    auto qa = Quant(a), qb = Quant(b);
    if (qa.has_value() != qb.has_value()) return false;
    if (!qa) return true;
    return T(a)->type() == T(b)->type() && qa->scale == qb->scale &&
           qa->zero_point == qb->zero_point && qa->axis == qb->axis;
  }

  Expected<std::shared_ptr<const Tensor>> ConstTensor(int i);
  // Constant integer values (int32 / int64 tensors), e.g. shapes and axes.
  Expected<Ints> ConstInts(int i);

  // The IR value holding tensor i as stored (integers stay integers).
  Expected<std::string> Value(int i);
  // Tensor i as real numbers: the value itself for float32, DequantizeLinear of it for
  // quantized tensors, Cast for float16.
  Expected<std::string> Float(int i);
  // Writes real-valued `v` into tensor i: QuantizeLinear when i is quantized.
  Status Store(int i, const std::string& v);
  // Tensor i's name when it is a graph output, else a fresh name.
  std::string Tmp(const std::string& hint);

  std::string AddInit(std::shared_ptr<const Tensor> t, const std::string& hint);
  std::string ConstI64(const Ints& v, const std::string& hint);
  std::string ScalarF32(float v, const std::string& hint);
  Expected<std::pair<std::string, std::string>> QParams(const QuantizationInfo& q, DType zp_type,
                                                        bool with_zp, const std::string& hint);

  std::string Emit(const std::string& op, std::vector<std::string> ins, Attrs attrs = {},
                   const std::string& hint = "");
  void EmitTo(const std::string& op, std::vector<std::string> ins, std::vector<std::string> outs,
              Attrs attrs = {});

  Expected<std::string> Activation(int act, std::string v);
  // A weight as real numbers with its dims permuted by `perm` (constant weights are
  // permuted at import, keeping their integer type and remapping a per-channel axis).
  Expected<std::string> PermutedWeight(int i, const std::vector<std::size_t>& perm);
  Expected<std::string> ToNchw(const std::string& v) {
    return Emit("Transpose", {v}, {{"perm", ir::Attribute::Ints({0, 3, 1, 2})}}, "nchw");
  }
  Expected<std::string> ToNhwc(const std::string& v) {
    return Emit("Transpose", {v}, {{"perm", ir::Attribute::Ints({0, 2, 3, 1})}}, "nhwc");
  }
  // Explicit pads [top, left, bottom, right] for TFLite SAME / VALID.
  Expected<Ints> SpatialPads(int x, tfl::Padding padding, Ints kernel, Ints strides, Ints dil);

  // --- operators -----------------------------------------------------------------
  Status ImportOperator(const tfl::Operator* op, int code);
  Status Unsup(const std::string& why) const { return Unsupported(op_label_ + ": " + why); }
  int In(std::size_t k) const { return k < ins_.size() ? ins_[k] : -1; }
  Status NeedInputs(std::size_t n) const {
    for (std::size_t k = 0; k < n; ++k) {
      if (In(k) < 0)
        return Corrupt(op_label_ + ": required input " + std::to_string(k) + " missing");
    }
    return Status::Ok();
  }
  Status NeedOutputs(std::size_t n) const {
    if (outs_.size() < n)
      return Corrupt(op_label_ + ": expected " + std::to_string(n) + " outputs");
    for (std::size_t k = 0; k < n; ++k) {
      if (outs_[k] < 0) return Corrupt(op_label_ + ": output " + std::to_string(k) + " missing");
    }
    return Status::Ok();
  }

  Status Conv(const tfl::Operator* op, bool depthwise);
  Status Pool(const tfl::Operator* op, const std::string& onnx_op);
  Status TransposeConv(const tfl::Operator* op);
  // MediaPipe's custom Convolution2DTransposeBias (see kTransposeConvBiasCode).
  Status TransposeConvBias(const tfl::Operator* op);
  // TFLite Micro's Signal* custom operators (kSignalCodes); custom_options is a flexbuffer
  // map, every field checked.
  Status SignalOp(const tfl::Operator* op, const std::string& code);
  // uint32 / uint64 tensors (carried as signed, see DT) may only meet builtins that keep
  // their bits: RESHAPE, and CAST between a wide unsigned type and its signed twin.
  Status UnsignedWideCheck(const tfl::Operator* op, int code) const;
  Status FullyConnected(const tfl::Operator* op);
  Status Lstm(const tfl::Operator* op);
  Status Resize(const tfl::Operator* op, bool bilinear);
  Status Binary(const std::string& onnx_op, int act);
  Status Unary(const std::string& onnx_op, Attrs attrs = {});
  Status Reduce(const std::string& onnx_op, bool keep_dims);
  // Data movement to the declared output shape. `by_axes`: for EXPAND_DIMS / SQUEEZE,
  // the ONNX op and axes to use when the declared shape has several unknown dimensions.
  struct AxesOp {
    std::string op;
    Ints axes;
  };
  Status ReshapeLike(int in, int out, const AxesOp* by_axes = nullptr);
  Status Compare(const std::string& onnx_op, bool negate);
  Status StridedSlice(const tfl::Operator* op);

  // --- control flow (IF -> ONNX If, WHILE -> ONNX Loop) ------------------------------
  Status If(const tfl::Operator* op);
  Status While(const tfl::Operator* op);
  Status Invalid(const std::string& why) const { return InvalidArgument(op_label_ + ": " + why); }
  // The operator's inputs from `first` on (or its outputs), none of them omitted.
  Expected<std::vector<int>> AllPresent(const std::vector<int>& list, std::size_t first,
                                        const char* what) const;
  // Checks subgraph `index` (named `role` in messages) exists, is not being imported
  // already (recursion) and has `n_in` inputs and `n_out` outputs of the TFLite types of
  // this subgraph's tensors `ins` and `outs` (`outs` empty: only the count is checked).
  Status CheckCallee(std::int64_t index, const std::string& role, const std::vector<int>& ins,
                     std::size_t n_out, const std::vector<int>& outs) const;
  // Imports subgraph `index` into `g` (see Import), in a fresh scope.
  Expected<std::vector<ir::ValueInfo>> ImportCallee(std::size_t index, const std::string& role,
                                                    ir::Graph& g,
                                                    const std::vector<std::string>* bound);
  bool IsTemp(const std::string& v) const { return v.rfind(tmp_prefix_, 0) == 0; }

  const LoadedModel& m_;
  const tfl::SubGraph* sg_;
  std::size_t index_;
  ir::Graph& g_;
  ImportState& state_;
  std::string scope_;
  std::string tmp_prefix_;  // every temporary value's name starts with it
  std::set<int> bound_;     // inputs bound to existing values (nested imports)
  std::vector<ir::ValueInfo> outputs_;
  std::vector<std::string> names_;
  std::map<int, std::string> float_cache_;
  std::set<int> defined_;  // tensors whose value exists in the graph
  std::string op_label_;
  std::vector<int> ins_, outs_;
  int counter_ = 0;
};

Expected<std::shared_ptr<const Tensor>> SubgraphImporter::ConstTensor(int i) {
  auto& cache = state_.constants;
  if (auto it = cache.find({index_, i}); it != cache.end()) return it->second;
  DEEPEDGE_ASSIGN_OR_RETURN(DType dt, DT(i));
  const Shape shape = ShapeOf(i);
  if (!shape.is_static()) return Corrupt(Desc(i) + " is constant but has a dynamic shape");
  const auto data = m_.BufferData(T(i)->buffer());
  std::shared_ptr<const Tensor> t;
  if (T(i)->sparsity() != nullptr) {
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor d, tflite_internal::Densify(T(i), Desc(i), dt, shape, data));
    t = std::make_shared<const Tensor>(std::move(d));
  } else {
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor d, Tensor::Allocate(dt, shape));
    if (d.byte_size() != data.size()) {
      return Corrupt(Desc(i) + ": buffer size does not match its shape and type");
    }
    if (!data.empty()) std::memcpy(d.data(), data.data(), data.size());
    t = std::make_shared<const Tensor>(std::move(d));
  }
  cache[{index_, i}] = t;
  return t;
}

Expected<Ints> SubgraphImporter::ConstInts(int i) {
  if (i < 0 || !IsConst(i))
    return Unsup("needs a constant " + (i < 0 ? std::string("input") : Desc(i)));
  DEEPEDGE_ASSIGN_OR_RETURN(auto t, ConstTensor(i));
  Ints v;
  if (t->dtype() == DType::kI32) {
    for (std::int32_t x : t->as<std::int32_t>()) v.push_back(x);
  } else if (t->dtype() == DType::kI64) {
    for (std::int64_t x : t->as<std::int64_t>()) v.push_back(x);
  } else {
    return Corrupt(op_label_ + ": " + Desc(i) + " must be int32 or int64");
  }
  return v;
}

std::string SubgraphImporter::Tmp(const std::string& hint) {
  return tmp_prefix_ + hint + "_" + std::to_string(counter_++);
}

std::string SubgraphImporter::AddInit(std::shared_ptr<const Tensor> t, const std::string& hint) {
  const std::string name = Tmp(hint);
  g_.initializers[name] = std::move(t);
  return name;
}

std::string SubgraphImporter::ConstI64(const Ints& v, const std::string& hint) {
  Tensor t =
      std::move(Tensor::Allocate(DType::kI64, Shape{static_cast<std::int64_t>(v.size())})).value();
  std::copy(v.begin(), v.end(), t.as<std::int64_t>().begin());
  return AddInit(std::make_shared<const Tensor>(std::move(t)), hint);
}

std::string SubgraphImporter::ScalarF32(float v, const std::string& hint) {
  Tensor t = std::move(Tensor::Allocate(DType::kF32, Shape{})).value();
  t.as<float>()[0] = v;
  return AddInit(std::make_shared<const Tensor>(std::move(t)), hint);
}

Expected<std::pair<std::string, std::string>> SubgraphImporter::QParams(const QuantizationInfo& q,
                                                                        DType zp_type, bool with_zp,
                                                                        const std::string& hint) {
  const bool per_axis = q.scale.size() > 1;
  const Shape s = per_axis ? Shape{static_cast<std::int64_t>(q.scale.size())} : Shape{};
  Tensor scale = std::move(Tensor::Allocate(DType::kF32, s)).value();
  std::copy(q.scale.begin(), q.scale.end(), scale.as<float>().begin());
  std::string sname = AddInit(std::make_shared<const Tensor>(std::move(scale)), hint + "_scale");
  if (!with_zp) return std::make_pair(sname, std::string());
  Tensor zp = std::move(Tensor::Allocate(zp_type, s)).value();
  for (std::size_t k = 0; k < q.zero_point.size(); ++k) {
    const std::int64_t z = q.zero_point[k];
    switch (zp_type) {
      case DType::kI8:
        if (z < -128 || z > 127)
          return Corrupt(op_label_ + ": int8 zero point " + std::to_string(z));
        zp.as<std::int8_t>()[k] = static_cast<std::int8_t>(z);
        break;
      case DType::kU8:
        if (z < 0 || z > 255) return Corrupt(op_label_ + ": uint8 zero point " + std::to_string(z));
        zp.as<std::uint8_t>()[k] = static_cast<std::uint8_t>(z);
        break;
      case DType::kI16:
        if (z < -32768 || z > 32767)
          return Corrupt(op_label_ + ": int16 zero point " + std::to_string(z));
        zp.as<std::int16_t>()[k] = static_cast<std::int16_t>(z);
        break;
      default:
        return Unsup("quantized type " + std::string(DTypeName(zp_type)) + " with a zero point");
    }
  }
  std::string zname = AddInit(std::make_shared<const Tensor>(std::move(zp)), hint + "_zp");
  return std::make_pair(sname, zname);
}

std::string SubgraphImporter::Emit(const std::string& op, std::vector<std::string> ins, Attrs attrs,
                                   const std::string& hint) {
  std::string out = Tmp(hint.empty() ? op : hint);
  EmitTo(op, std::move(ins), {out}, std::move(attrs));
  return out;
}

void SubgraphImporter::EmitTo(const std::string& op, std::vector<std::string> ins,
                              std::vector<std::string> outs, Attrs attrs) {
  ir::Node n;
  n.name = op_label_.empty() ? outs[0] : op_label_ + "/" + op + "_" + std::to_string(counter_++);
  if (!scope_.empty()) n.name = scope_ + "/" + n.name;
  n.op_type = op;
  n.opset = kOpset;
  n.inputs = std::move(ins);
  n.outputs = std::move(outs);
  n.attributes = std::move(attrs);
  g_.nodes.push_back(std::move(n));
}

Expected<std::string> SubgraphImporter::Value(int i) {
  if (i < 0) return std::string();
  if (defined_.count(i) == 0) {
    if (!IsConst(i)) {
      return Corrupt(op_label_ + ": " + Desc(i) +
                     " is read before any operator writes it (and is not a constant or input)");
    }
    DEEPEDGE_ASSIGN_OR_RETURN(auto t, ConstTensor(i));
    g_.initializers[names_[static_cast<std::size_t>(i)]] = t;
    defined_.insert(i);
  }
  return names_[static_cast<std::size_t>(i)];
}

Expected<std::string> SubgraphImporter::Float(int i) {
  if (i < 0) return std::string();
  if (auto it = float_cache_.find(i); it != float_cache_.end()) return it->second;
  DEEPEDGE_ASSIGN_OR_RETURN(std::string v, Value(i));
  DEEPEDGE_ASSIGN_OR_RETURN(DType dt, DT(i));
  std::string f = v;
  if (auto q = Quant(i)) {
    const bool is_i32 = dt == DType::kI32;
    if (is_i32 && std::any_of(q->zero_point.begin(), q->zero_point.end(),
                              [](std::int64_t z) { return z != 0; })) {
      return Unsup(Desc(i) + " is quantized int32 with a non-zero zero point");
    }
    DEEPEDGE_ASSIGN_OR_RETURN(auto p, QParams(*q, dt, !is_i32, "dq"));
    Attrs a;
    if (q->axis) a["axis"] = ir::Attribute::Int(*q->axis);
    std::vector<std::string> ins{v, p.first};
    if (!p.second.empty()) ins.push_back(p.second);
    f = Emit("DequantizeLinear", ins, std::move(a), "dq");
  } else if (dt == DType::kF16) {
    f = Emit("Cast", {v}, {{"to", ir::Attribute::Int(1)}}, "f32");
  }
  float_cache_[i] = f;
  return f;
}

Status SubgraphImporter::Store(int i, const std::string& v) {
  if (i < 0) return Status::Ok();
  const std::string& target = names_[static_cast<std::size_t>(i)];
  DEEPEDGE_ASSIGN_OR_RETURN(DType dt, DT(i));
  auto q = Quant(i);
  if (q && dt != DType::kI32) {
    DEEPEDGE_ASSIGN_OR_RETURN(auto p, QParams(*q, dt, true, "q"));
    Attrs a;
    if (q->axis) a["axis"] = ir::Attribute::Int(*q->axis);
    // Readers dequantize the stored integers again (not `v`): TFLite rounds and clamps
    // every quantized tensor, and QDQ fusion matches exactly this q -> dq form.
    EmitTo("QuantizeLinear", {v, p.first, p.second}, {target}, std::move(a));
  } else {
    // Rename the producing node's output instead of adding an Identity, when possible.
    ir::Node* last = g_.nodes.empty() ? nullptr : &g_.nodes.back();
    const bool cached = std::any_of(float_cache_.begin(), float_cache_.end(),
                                    [&](const auto& kv) { return kv.second == v; });
    if (last != nullptr && !last->outputs.empty() && last->outputs[0] == v && !cached &&
        IsTemp(v)) {
      last->outputs[0] = target;
    } else {
      EmitTo("Identity", {v}, {target});
    }
  }
  defined_.insert(i);
  return Status::Ok();
}

Expected<std::string> SubgraphImporter::Activation(int act, std::string v) {
  switch (static_cast<tfl::ActivationFunctionType>(act)) {
    case tfl::ActivationFunctionType::NONE:
      return v;
    case tfl::ActivationFunctionType::RELU:
      return Emit("Relu", {v});
    case tfl::ActivationFunctionType::RELU6:
      return Emit("Clip", {v, ScalarF32(0, "min"), ScalarF32(6, "max")}, {}, "relu6");
    case tfl::ActivationFunctionType::RELU_N1_TO_1:
      return Emit("Clip", {v, ScalarF32(-1, "min"), ScalarF32(1, "max")}, {}, "relu1");
    case tfl::ActivationFunctionType::TANH:
      return Emit("Tanh", {v});
    case tfl::ActivationFunctionType::SIGN_BIT:
      return Emit("Sign", {v});
  }
  return Unsup("unknown fused activation " + std::to_string(act));
}

Expected<std::string> SubgraphImporter::PermutedWeight(int i,
                                                       const std::vector<std::size_t>& perm) {
  if (!IsConst(i)) {
    DEEPEDGE_ASSIGN_OR_RETURN(std::string f, Float(i));
    Ints p(perm.begin(), perm.end());
    return Emit("Transpose", {f}, {{"perm", ir::Attribute::Ints(p)}}, "w");
  }
  DEEPEDGE_ASSIGN_OR_RETURN(auto t, ConstTensor(i));
  if (t->shape().rank() != perm.size()) {
    return Corrupt(op_label_ + ": " + Desc(i) + " has rank " + std::to_string(t->shape().rank()) +
                   ", expected " + std::to_string(perm.size()));
  }
  auto permuted = std::make_shared<const Tensor>(PermuteTensor(*t, perm));
  const std::string w = AddInit(permuted, "w");
  auto q = Quant(i);
  if (!q) {
    if (t->dtype() == DType::kF16) return Emit("Cast", {w}, {{"to", ir::Attribute::Int(1)}}, "f32");
    return w;
  }
  if (t->dtype() == DType::kI16) return Unsup(Desc(i) + " is an int16 weight");
  QuantizationInfo qp = *q;
  if (qp.axis) {
    const int old_axis = *qp.axis;
    for (std::size_t k = 0; k < perm.size(); ++k) {
      if (static_cast<int>(perm[k]) == old_axis) qp.axis = static_cast<int>(k);
    }
  }
  DEEPEDGE_ASSIGN_OR_RETURN(auto p, QParams(qp, t->dtype(), t->dtype() != DType::kI32, "w"));
  Attrs a;
  if (qp.axis) a["axis"] = ir::Attribute::Int(*qp.axis);
  std::vector<std::string> ins{w, p.first};
  if (!p.second.empty()) ins.push_back(p.second);
  return Emit("DequantizeLinear", ins, std::move(a), "wdq");
}

Expected<Ints> SubgraphImporter::SpatialPads(int x, tfl::Padding padding, Ints kernel, Ints strides,
                                             Ints dil) {
  const Ints xd = Dims(x);
  if (xd.size() != 4)
    return Corrupt(op_label_ + ": input must be 4-D NHWC, got rank " + std::to_string(xd.size()));
  Ints pads(4, 0);
  if (padding == tfl::Padding::VALID) return pads;
  for (std::size_t a = 0; a < 2; ++a) {
    const std::int64_t in = xd[1 + a];
    if (in < 0) return Unsup("SAME padding needs static spatial dimensions");
    if (strides[a] <= 0 || dil[a] <= 0 || kernel[a] <= 0) {
      return Corrupt(op_label_ + ": strides, dilations and kernel sizes must be positive");
    }
    const std::int64_t out = (in + strides[a] - 1) / strides[a];
    const std::int64_t eff = (kernel[a] - 1) * dil[a] + 1;
    const std::int64_t total = std::max<std::int64_t>((out - 1) * strides[a] + eff - in, 0);
    pads[a] = total / 2;
    pads[a + 2] = total - total / 2;
  }
  return pads;
}

Status SubgraphImporter::Conv(const tfl::Operator* op, bool depthwise) {
  DEEPEDGE_RETURN_IF_ERROR(NeedInputs(2));
  DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
  const int x = In(0), w = In(1), b = In(2);
  const Ints wd = Dims(w), xd = Dims(x);
  if (wd.size() != 4 || xd.size() != 4)
    return Corrupt(op_label_ + ": input and filter must be 4-D");
  tfl::Padding padding;
  Ints strides, dil;
  int act;
  std::int64_t group = 1;
  if (depthwise) {
    const auto* o = op->builtin_options_as_DepthwiseConv2DOptions();
    if (o == nullptr) return Corrupt(op_label_ + ": missing DepthwiseConv2DOptions");
    padding = o->padding();
    strides = {o->stride_h(), o->stride_w()};
    dil = {o->dilation_h_factor(), o->dilation_w_factor()};
    act = static_cast<int>(o->fused_activation_function());
    group = xd[3];
    if (group <= 0 || wd[0] != 1 || wd[3] % group != 0) {
      return Corrupt(op_label_ + ": depthwise filter " + ShapeOf(w).ToString() +
                     " does not fit input channels " + std::to_string(group));
    }
  } else {
    const auto* o = op->builtin_options_as_Conv2DOptions();
    if (o == nullptr) return Corrupt(op_label_ + ": missing Conv2DOptions");
    padding = o->padding();
    strides = {o->stride_h(), o->stride_w()};
    dil = {o->dilation_h_factor(), o->dilation_w_factor()};
    act = static_cast<int>(o->fused_activation_function());
    if (xd[3] > 0) {
      if (wd[3] <= 0 || xd[3] % wd[3] != 0) {
        return Corrupt(op_label_ + ": filter " + ShapeOf(w).ToString() +
                       " does not fit input channels " + std::to_string(xd[3]));
      }
      group = xd[3] / wd[3];
    }
  }
  const Ints kernel = {wd[1], wd[2]};
  DEEPEDGE_ASSIGN_OR_RETURN(Ints pads, SpatialPads(x, padding, kernel, strides, dil));
  DEEPEDGE_ASSIGN_OR_RETURN(std::string xf, Float(x));
  DEEPEDGE_ASSIGN_OR_RETURN(std::string xt, ToNchw(xf));
  DEEPEDGE_ASSIGN_OR_RETURN(std::string wf, depthwise ? PermutedWeight(w, {3, 0, 1, 2})
                                                      : PermutedWeight(w, {0, 3, 1, 2}));
  DEEPEDGE_ASSIGN_OR_RETURN(std::string bf, Float(b));
  std::vector<std::string> ins{xt, wf};
  if (!bf.empty()) ins.push_back(bf);
  std::string y = Emit("Conv", ins,
                       {{"kernel_shape", ir::Attribute::Ints(kernel)},
                        {"strides", ir::Attribute::Ints(strides)},
                        {"dilations", ir::Attribute::Ints(dil)},
                        {"pads", ir::Attribute::Ints(pads)},
                        {"group", ir::Attribute::Int(group)}});
  DEEPEDGE_ASSIGN_OR_RETURN(y, Activation(act, y));
  DEEPEDGE_ASSIGN_OR_RETURN(y, ToNhwc(y));
  return Store(outs_[0], y);
}

Status SubgraphImporter::Pool(const tfl::Operator* op, const std::string& onnx_op) {
  DEEPEDGE_RETURN_IF_ERROR(NeedInputs(1));
  DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
  const auto* o = op->builtin_options_as_Pool2DOptions();
  if (o == nullptr) return Corrupt(op_label_ + ": missing Pool2DOptions");
  const Ints kernel = {o->filter_height(), o->filter_width()};
  const Ints strides = {o->stride_h(), o->stride_w()};
  DEEPEDGE_ASSIGN_OR_RETURN(Ints pads, SpatialPads(In(0), o->padding(), kernel, strides, {1, 1}));
  DEEPEDGE_ASSIGN_OR_RETURN(std::string xf, Float(In(0)));
  DEEPEDGE_ASSIGN_OR_RETURN(std::string xt, ToNchw(xf));
  Attrs a{{"kernel_shape", ir::Attribute::Ints(kernel)},
          {"strides", ir::Attribute::Ints(strides)},
          {"pads", ir::Attribute::Ints(pads)}};
  std::string y = Emit(onnx_op, {xt}, std::move(a));
  DEEPEDGE_ASSIGN_OR_RETURN(y, Activation(static_cast<int>(o->fused_activation_function()), y));
  DEEPEDGE_ASSIGN_OR_RETURN(y, ToNhwc(y));
  return Store(outs_[0], y);
}

Status SubgraphImporter::TransposeConv(const tfl::Operator* op) {
  // Inputs: output shape, filter [O, KH, KW, I], input, optional bias.
  DEEPEDGE_RETURN_IF_ERROR(NeedInputs(3));
  DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
  const auto* o = op->builtin_options_as_TransposeConvOptions();
  if (o == nullptr) return Corrupt(op_label_ + ": missing TransposeConvOptions");
  DEEPEDGE_ASSIGN_OR_RETURN(Ints out_shape, ConstInts(In(0)));
  const Ints wd = Dims(In(1)), xd = Dims(In(2));
  if (out_shape.size() != 4 || wd.size() != 4 || xd.size() != 4) {
    return Corrupt(op_label_ + ": output shape, filter and input must be 4-D");
  }
  const Ints strides = {o->stride_h(), o->stride_w()};
  Ints pads(4, 0), out_pad(2, 0);
  for (std::size_t a = 0; a < 2; ++a) {
    if (strides[a] <= 0) return Corrupt(op_label_ + ": strides must be positive");
    const std::int64_t total = (xd[1 + a] - 1) * strides[a] + wd[1 + a] - out_shape[1 + a];
    if (total >= 0) {
      pads[a] = total / 2;
      pads[a + 2] = total - total / 2;
    } else {
      out_pad[a] = -total;
    }
  }
  DEEPEDGE_ASSIGN_OR_RETURN(std::string xf, Float(In(2)));
  DEEPEDGE_ASSIGN_OR_RETURN(std::string xt, ToNchw(xf));
  DEEPEDGE_ASSIGN_OR_RETURN(std::string wf, PermutedWeight(In(1), {3, 0, 1, 2}));
  DEEPEDGE_ASSIGN_OR_RETURN(std::string bf, Float(In(3)));
  std::vector<std::string> ins{xt, wf};
  if (!bf.empty()) ins.push_back(bf);
  std::string y = Emit("ConvTranspose", ins,
                       {{"kernel_shape", ir::Attribute::Ints({wd[1], wd[2]})},
                        {"strides", ir::Attribute::Ints(strides)},
                        {"pads", ir::Attribute::Ints(pads)},
                        {"output_padding", ir::Attribute::Ints(out_pad)}});
  DEEPEDGE_ASSIGN_OR_RETURN(y, Activation(static_cast<int>(o->fused_activation_function()), y));
  DEEPEDGE_ASSIGN_OR_RETURN(y, ToNhwc(y));
  return Store(outs_[0], y);
}

Status SubgraphImporter::UnsignedWideCheck(const tfl::Operator* op, int code) const {
  std::vector<int> ins, outs;
  if (op->inputs()) ins.assign(op->inputs()->begin(), op->inputs()->end());
  if (op->outputs()) outs.assign(op->outputs()->begin(), op->outputs()->end());
  const int n = static_cast<int>(TensorCount());
  auto wide = [&](int i) { return i >= 0 && i < n && IsUnsignedWide(T(i)->type()); };
  const bool any =
      std::any_of(ins.begin(), ins.end(), wide) || std::any_of(outs.begin(), outs.end(), wide);
  if (!any) return Status::Ok();
  if (code == kReshape) return Status::Ok();
  if (code == kCast && !ins.empty() && !outs.empty() && ins[0] >= 0 && ins[0] < n && outs[0] >= 0 &&
      outs[0] < n) {
    const tfl::TensorType a = T(ins[0])->type(), b = T(outs[0])->type();
    auto twins = [](tfl::TensorType x, tfl::TensorType y) {
      auto is32 = [](tfl::TensorType t) {
        return t == tfl::TensorType::UINT32 || t == tfl::TensorType::INT32;
      };
      auto is64 = [](tfl::TensorType t) {
        return t == tfl::TensorType::UINT64 || t == tfl::TensorType::INT64;
      };
      return (is32(x) && is32(y)) || (is64(x) && is64(y));
    };
    if (twins(a, b)) return Status::Ok();
  }
  return Unsup(
      "uint32 / uint64 tensors are supported only between TFLite Micro signal operators, "
      "RESHAPE and bit-preserving CAST (uint32 <-> int32, uint64 <-> int64)");
}

Status SubgraphImporter::SignalOp(const tfl::Operator* op, const std::string& code) {
  // Options and tensor types as TFLite Micro's signal kernels read them
  // (tflite-micro signal/micro/kernels): every option field is required (TFLM reads the
  // map by position), none other is allowed.
  auto bad = [&](const std::string& why) { return InvalidArgument(op_label_ + ": " + why); };
  using TT = tfl::TensorType;
  struct Field {
    const char* key;
    std::int64_t lo, hi;
  };
  struct Spec {
    const char* code;
    std::vector<Field> fields;
    std::vector<TT> ins, outs;
  };
  constexpr std::int64_t kU32 = 0xFFFFFFFFll;
  static const std::vector<Spec> kSpecs = {
      {"SignalWindow", {{"shift", 0, 31}}, {TT::INT16, TT::INT16}, {TT::INT16}},
      {"SignalFftAutoScale", {}, {TT::INT16}, {TT::INT16, TT::INT32}},
      {"SignalRfft", {{"T", 0, 255}, {"fft_length", 2, 32768}}, {TT::INT16}, {TT::INT16}},
      {"SignalEnergy",
       {{"end_index", 0, 32767}, {"start_index", 0, 32767}},
       {TT::INT16},
       {TT::UINT32}},
      {"SignalFilterBank",
       {{"num_channels", 1, 32767}},
       {TT::UINT32, TT::INT16, TT::INT16, TT::INT16, TT::INT16, TT::INT16},
       {TT::UINT64}},
      {"SignalFilterBankSquareRoot", {}, {TT::UINT64, TT::INT32}, {TT::UINT32}},
      {"SignalFilterBankSpectralSubtraction",
       {{"alternate_one_minus_smoothing", 0, kU32},
        {"alternate_smoothing", 0, kU32},
        {"clamping", 0, 1},
        {"min_signal_remaining", 0, kU32},
        {"num_channels", 1, 1 << 20},
        {"one_minus_smoothing", 0, kU32},
        {"smoothing", 0, kU32},
        {"smoothing_bits", 0, 31},
        {"spectral_subtraction_bits", 0, 63}},
       {TT::UINT32},
       {TT::UINT32, TT::UINT32}},
      {"SignalPCAN", {{"snr_shift", 0, 63}}, {TT::UINT32, TT::UINT32, TT::INT16}, {TT::UINT32}},
      {"SignalFilterBankLog",
       {{"input_correction_bits", 0, 31}, {"output_scale", 0, kU32}},
       {TT::UINT32},
       {TT::INT16}},
  };
  const auto spec =
      std::find_if(kSpecs.begin(), kSpecs.end(), [&](const Spec& s) { return code == s.code; });
  if (spec == kSpecs.end()) return Internal(op_label_ + ": no mapping for " + code);
  if (ins_.size() != spec->ins.size() || outs_.size() != spec->outs.size()) {
    return bad("expects " + std::to_string(spec->ins.size()) + " inputs and " +
               std::to_string(spec->outs.size()) + " outputs, got " + std::to_string(ins_.size()) +
               " and " + std::to_string(outs_.size()));
  }
  auto check_type = [&](int t, TT want, const std::string& what) -> Status {
    if (t < 0) return bad(what + " is missing");
    if (T(t)->type() != want) {
      return bad(what + " (" + Desc(t) + ") must be " + tflite_internal::TensorTypeName(want) +
                 ", got " + tflite_internal::TensorTypeName(T(t)->type()));
    }
    return Status::Ok();
  };
  for (std::size_t k = 0; k < ins_.size(); ++k)
    DEEPEDGE_RETURN_IF_ERROR(check_type(ins_[k], spec->ins[k], "input " + std::to_string(k)));
  for (std::size_t k = 0; k < outs_.size(); ++k)
    DEEPEDGE_RETURN_IF_ERROR(check_type(outs_[k], spec->outs[k], "output " + std::to_string(k)));

  // custom_options: a flexbuffer map of integers / booleans.
  std::map<std::string, std::int64_t> opts;
  const auto* raw = op->custom_options();
  const std::size_t nbytes = raw ? raw->size() : 0;
  if (nbytes > 0) {
    const std::uint8_t* data = raw->data();
    if (!flexbuffers::VerifyBuffer(data, nbytes)) {
      return bad("custom_options is not a valid flexbuffer (" + std::to_string(nbytes) + " bytes)");
    }
    const flexbuffers::Reference root = flexbuffers::GetRoot(data, nbytes);
    if (!root.IsMap()) return bad("custom_options must be a flexbuffer map");
    const flexbuffers::Map map = root.AsMap();
    const flexbuffers::TypedVector keys = map.Keys();
    const flexbuffers::Vector values = map.Values();
    for (std::size_t k = 0; k < keys.size(); ++k) {
      const std::string key = keys[k].AsKey();
      const flexbuffers::Reference v = values[k];
      std::int64_t x = 0;
      if (v.IsBool()) {
        x = v.AsBool() ? 1 : 0;
      } else if (v.IsUInt()) {
        const std::uint64_t u = v.AsUInt64();
        if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
          return bad("option '" + key + "' is out of range");
        x = static_cast<std::int64_t>(u);
      } else if (v.IsInt()) {
        x = v.AsInt64();
      } else {
        return bad("option '" + key + "' must be an integer or a boolean");
      }
      opts[key] = x;
    }
  }
  Attrs attrs;
  for (const Field& f : spec->fields) {
    auto it = opts.find(f.key);
    if (it == opts.end()) return bad("custom_options lacks '" + std::string(f.key) + "'");
    if (it->second < f.lo || it->second > f.hi) {
      return bad("option '" + std::string(f.key) + "' must be in [" + std::to_string(f.lo) + ", " +
                 std::to_string(f.hi) + "], got " + std::to_string(it->second));
    }
    attrs[f.key] = ir::Attribute::Int(it->second);
  }
  for (const auto& [key, v] : opts) {
    if (std::none_of(spec->fields.begin(), spec->fields.end(),
                     [&](const Field& f) { return key == f.key; })) {
      return bad("unknown option '" + key + "'");
    }
  }
  // Cross-field rules.
  if (code == "SignalRfft") {
    constexpr std::int64_t kTfliteInt16 = 7, kTfliteFloat32 = 1, kTfliteInt32 = 2;
    const std::int64_t t = attrs["T"].i;
    if (t == kTfliteFloat32 || t == kTfliteInt32) {
      return Unsup("SignalRfft of type " + std::string(t == 1 ? "float32" : "int32") +
                   " is not implemented (int16 only)");
    }
    if (t != kTfliteInt16)
      return bad("option 'T' must be a TFLite type (7 = int16), got " + std::to_string(t));
    const std::int64_t n = attrs["fft_length"].i;
    if ((n & (n - 1)) != 0) {
      return Unsup("SignalRfft fft_length must be a power of two, got " + std::to_string(n));
    }
    attrs.erase("T");
    const Ints xd = Dims(ins_[0]);
    if (!xd.empty() && xd.back() > n) {
      return bad("input " + ShapeOf(ins_[0]).ToString() + " is longer than fft_length " +
                 std::to_string(n));
    }
  }
  if (code == "SignalEnergy" && attrs["start_index"].i > attrs["end_index"].i) {
    return bad("start_index " + std::to_string(attrs["start_index"].i) + " exceeds end_index " +
               std::to_string(attrs["end_index"].i));
  }
  std::vector<std::string> ins;
  for (int i : ins_) {
    DEEPEDGE_ASSIGN_OR_RETURN(std::string v, Value(i));
    ins.push_back(v);
  }
  std::vector<std::string> outs;
  for (int o : outs_) {
    outs.push_back(names_[static_cast<std::size_t>(o)]);
    defined_.insert(o);
  }
  EmitTo(code.substr(6), std::move(ins), outs, std::move(attrs));
  g_.nodes.back().domain = kSignalDomain;
  g_.nodes.back().opset = 1;
  return Status::Ok();
}

Status SubgraphImporter::TransposeConvBias(const tfl::Operator* op) {
  // MediaPipe's TRANSPOSE_CONV with a bias and a fixed output size. Inputs: input NHWC,
  // filter [O, KH, KW, I] (TRANSPOSE_CONV's layout), bias [O]; no output-shape operand.
  // custom_options is a raw little-endian C struct, not a flexbuffer: int32 padding
  // (TfLitePadding: 1 SAME, 2 VALID), int32 stride_width, int32 stride_height; fields
  // after those (filter size, activation) are not used by the operator.
  auto bad = [&](const std::string& why) { return InvalidArgument(op_label_ + ": " + why); };
  if (ins_.size() != 3 || outs_.size() != 1) {
    return bad("expects 3 inputs (input, filter, bias) and 1 output, got " +
               std::to_string(ins_.size()) + " and " + std::to_string(outs_.size()));
  }
  for (std::size_t k = 0; k < 3; ++k) {
    if (ins_[k] < 0) return bad("input " + std::to_string(k) + " is missing");
  }
  if (outs_[0] < 0) return bad("output 0 is missing");
  const auto* opts = op->custom_options();
  const std::size_t nbytes = opts ? opts->size() : 0;
  if (nbytes < 12 || nbytes % 4 != 0) {
    return bad(
        "custom_options must be int32 fields (padding, stride_width, stride_height, ...): "
        "at least 12 bytes and a multiple of 4, got " +
        std::to_string(nbytes));
  }
  auto field = [&](std::size_t k) {
    std::uint32_t u = 0;
    for (std::size_t b = 0; b < 4; ++b)
      u |= std::uint32_t{opts->Get(static_cast<flatbuffers::uoffset_t>(4 * k + b))} << (8 * b);
    return static_cast<std::int32_t>(u);
  };
  const std::int32_t padding = field(0);
  const Ints strides = {field(2), field(1)};  // [h, w]; the struct stores width first
  // TfLitePadding, the C API's enum (the schema's Padding counts from SAME = 0).
  constexpr std::int32_t kTfLitePaddingSame = 1, kTfLitePaddingValid = 2;
  if (padding != kTfLitePaddingSame && padding != kTfLitePaddingValid) {
    return bad("padding must be 1 (SAME) or 2 (VALID), got " + std::to_string(padding));
  }
  const bool same = padding == kTfLitePaddingSame;
  if (strides[0] <= 0 || strides[1] <= 0) {
    return bad("strides must be positive, got stride_height " + std::to_string(strides[0]) +
               ", stride_width " + std::to_string(strides[1]));
  }
  const int x = ins_[0], w = ins_[1], b = ins_[2];
  const Ints xd = Dims(x), wd = Dims(w), bd = Dims(b), yd = Dims(outs_[0]);
  if (xd.size() != 4) return bad("input must be 4-D NHWC, got " + ShapeOf(x).ToString());
  if (wd.size() != 4) return bad("filter must be 4-D [O, KH, KW, I], got " + ShapeOf(w).ToString());
  if (bd.size() != 1) return bad("bias must be 1-D [O], got " + ShapeOf(b).ToString());
  if (std::any_of(wd.begin(), wd.end(), [](std::int64_t d) { return d <= 0; }))
    return bad("filter needs static positive dimensions, got " + ShapeOf(w).ToString());
  if (xd[3] >= 0 && xd[3] != wd[3]) {
    return bad("filter " + ShapeOf(w).ToString() + " does not fit input channels " +
               std::to_string(xd[3]));
  }
  if (bd[0] >= 0 && bd[0] != wd[0]) {
    return bad("bias " + ShapeOf(b).ToString() + " does not fit output channels " +
               std::to_string(wd[0]));
  }
  // SAME: output = input * stride, as TRANSPOSE_CONV with that output shape, whose pads
  // total kernel - stride (begin gets the smaller half); a kernel smaller than the stride
  // leaves bias-only rows and columns at the end (output_padding). VALID: no padding,
  // output = (input - 1) * stride + kernel.
  Ints pads(4, 0), out_pad(2, 0);
  for (std::size_t a = 0; a < 2; ++a) {
    const std::int64_t k = wd[1 + a], s = strides[a], in = xd[1 + a];
    if (same) {
      const std::int64_t total = k - s;
      if (total >= 0) {
        pads[a] = total / 2;
        pads[a + 2] = total - total / 2;
      } else {
        out_pad[a] = -total;
      }
    }
    if (in >= 0 && yd.size() == 4 && yd[1 + a] >= 0) {
      const std::int64_t expect = same ? in * s : (in - 1) * s + k;
      if (yd[1 + a] != expect) {
        return bad("output " + ShapeOf(outs_[0]).ToString() + " does not match input " +
                   ShapeOf(x).ToString() + ", filter " + ShapeOf(w).ToString() + " and stride " +
                   std::to_string(s) + " (" + (same ? "SAME" : "VALID") + ")");
      }
    }
  }
  DEEPEDGE_ASSIGN_OR_RETURN(std::string xf, Float(x));
  DEEPEDGE_ASSIGN_OR_RETURN(std::string xt, ToNchw(xf));
  DEEPEDGE_ASSIGN_OR_RETURN(std::string wf, PermutedWeight(w, {3, 0, 1, 2}));
  DEEPEDGE_ASSIGN_OR_RETURN(std::string bf, Float(b));
  std::string y = Emit("ConvTranspose", {xt, wf, bf},
                       {{"kernel_shape", ir::Attribute::Ints({wd[1], wd[2]})},
                        {"strides", ir::Attribute::Ints(strides)},
                        {"pads", ir::Attribute::Ints(pads)},
                        {"output_padding", ir::Attribute::Ints(out_pad)}});
  DEEPEDGE_ASSIGN_OR_RETURN(y, ToNhwc(y));
  return Store(outs_[0], y);
}

Status SubgraphImporter::FullyConnected(const tfl::Operator* op) {
  DEEPEDGE_RETURN_IF_ERROR(NeedInputs(2));
  DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
  const auto* o = op->builtin_options_as_FullyConnectedOptions();
  int act = 0;
  if (o != nullptr) {
    if (o->weights_format() != 0) return Unsup("shuffled FULLY_CONNECTED weights");
    act = static_cast<int>(o->fused_activation_function());
  }
  const Ints wd = Dims(In(1));
  if (wd.size() != 2 || wd[1] <= 0)
    return Corrupt(op_label_ + ": weights must be 2-D [units, depth]");
  DEEPEDGE_ASSIGN_OR_RETURN(std::string xf, Float(In(0)));
  std::string x2 = Emit("Reshape", {xf, ConstI64({-1, wd[1]}, "shape")});
  DEEPEDGE_ASSIGN_OR_RETURN(std::string wf, Float(In(1)));
  DEEPEDGE_ASSIGN_OR_RETURN(std::string bf, Float(In(2)));
  std::vector<std::string> ins{x2, wf};
  if (!bf.empty()) ins.push_back(bf);
  std::string y = Emit("Gemm", ins, {{"transB", ir::Attribute::Int(1)}});
  DEEPEDGE_ASSIGN_OR_RETURN(y, Activation(act, y));
  const Shape os = ShapeOf(outs_[0]);
  if (os.rank() != 2) {
    Ints od = os.dims();
    if (o != nullptr && o->keep_num_dims()) {
      od = Dims(In(0));
      od.back() = wd[0];
    }
    for (auto& d : od) d = d < 0 ? -1 : d;
    if (std::count(od.begin(), od.end(), -1) > 1)
      return Unsup("output shape with several unknown dims");
    y = Emit("Reshape", {y, ConstI64(od, "shape")});
  }
  return Store(outs_[0], y);
}

Status SubgraphImporter::Lstm(const tfl::Operator* op) {
  DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
  const auto* o = op->builtin_options_as_UnidirectionalSequenceLSTMOptions();
  if (o == nullptr) return Corrupt(op_label_ + ": missing UnidirectionalSequenceLSTMOptions");
  if (ins_.size() != 20 && ins_.size() != 24) {
    return Corrupt(op_label_ + ": expected 20 or 24 inputs, got " + std::to_string(ins_.size()));
  }
  for (int k : {0, 2, 3, 4, 6, 7, 8, 13, 14, 15}) {
    if (In(static_cast<std::size_t>(k)) < 0) {
      return Corrupt(op_label_ + ": required input " + std::to_string(k) + " missing");
    }
  }
  if (In(16) >= 0 || In(17) >= 0)
    return Unsup("LSTM with a projection layer has no ONNX LSTM mapping");
  for (int k = 20; k < 24; ++k) {
    if (In(k) >= 0) return Unsup("layer-normalized LSTM has no ONNX LSTM mapping");
  }
  if (o->diagonal_recurrent_tensors()) return Unsup("diagonal recurrent weights");
  const bool cifg = In(1) < 0;
  // Weights as float (dequantized here: the ONNX LSTM kernel computes in float).
  auto as_float = [&](int i) -> Expected<std::vector<float>> {
    if (!IsConst(i)) return Unsup(Desc(i) + ": LSTM weights must be constant");
    DEEPEDGE_ASSIGN_OR_RETURN(auto t, ConstTensor(i));
    std::vector<float> v(static_cast<std::size_t>(t->element_count()));
    auto q = Quant(i);
    const std::size_t n = v.size();
    const std::size_t channels = q && q->axis ? q->scale.size() : 1;
    const std::size_t inner = channels > 1 ? n / channels : n;  // per-channel on axis 0 only
    if (q && q->axis && *q->axis != 0) return Unsup(Desc(i) + ": per-channel axis other than 0");
    for (std::size_t k = 0; k < n; ++k) {
      double raw = 0;
      switch (t->dtype()) {
        case DType::kF32:
          raw = t->as<float>()[k];
          break;
        case DType::kF16:
          raw = F16ToF32(t->as<std::uint16_t>()[k]);
          break;
        case DType::kI8:
          raw = t->as<std::int8_t>()[k];
          break;
        case DType::kU8:
          raw = t->as<std::uint8_t>()[k];
          break;
        case DType::kI16:
          raw = t->as<std::int16_t>()[k];
          break;
        case DType::kI32:
          raw = t->as<std::int32_t>()[k];
          break;
        default:
          return Unsup(Desc(i) + " has an unsupported LSTM weight type");
      }
      if (q) {
        const std::size_t c = channels > 1 ? k / inner : 0;
        raw = (raw - static_cast<double>(q->zero_point[c])) * q->scale[c];
      }
      v[k] = static_cast<float>(raw);
    }
    return v;
  };
  // Sizes come from constant weights only, whose data sizes were checked at load.
  for (int k : {2, 6}) {
    if (!IsConst(In(static_cast<std::size_t>(k))))
      return Unsup(Desc(In(static_cast<std::size_t>(k))) + ": LSTM weights must be constant");
  }
  const Ints f_dims = Dims(In(2)), r_dims = Dims(In(6));
  if (f_dims.size() != 2 || r_dims.size() != 2)
    return Corrupt(op_label_ + ": LSTM weights must be 2-D");
  const std::int64_t H = f_dims[0], I = f_dims[1];
  if (r_dims[0] != H || r_dims[1] != H)
    return Corrupt(op_label_ + ": recurrent weights must be [H, H]");
  // ONNX gate order: input, output, forget, cell. TFLite input indices per gate.
  const int w_idx[4] = {1, 4, 2, 3}, r_idx[4] = {5, 8, 6, 7}, b_idx[4] = {12, 15, 13, 14};
  std::vector<float> W(static_cast<std::size_t>(4 * H * I), 0.f),
      R(static_cast<std::size_t>(4 * H * H), 0.f), B(static_cast<std::size_t>(8 * H), 0.f);
  for (int g = 0; g < 4; ++g) {
    if (cifg && g == 0) continue;
    for (auto [idx, dst, size] : {std::tuple{w_idx[g], &W, H * I}, std::tuple{r_idx[g], &R, H * H},
                                  std::tuple{b_idx[g], &B, H}}) {
      if (idx < 0 || In(static_cast<std::size_t>(idx)) < 0) continue;
      DEEPEDGE_ASSIGN_OR_RETURN(std::vector<float> v, as_float(In(static_cast<std::size_t>(idx))));
      if (static_cast<std::int64_t>(v.size()) != size) {
        return Corrupt(op_label_ + ": " + Desc(In(static_cast<std::size_t>(idx))) +
                       " has the wrong size");
      }
      std::copy(v.begin(), v.end(), dst->begin() + g * size);
    }
  }
  auto make = [&](std::vector<float>& v, Shape s, const std::string& hint) {
    Tensor t = std::move(Tensor::Allocate(DType::kF32, std::move(s))).value();
    std::copy(v.begin(), v.end(), t.as<float>().begin());
    return AddInit(std::make_shared<const Tensor>(std::move(t)), hint);
  };
  const std::string wn = make(W, Shape{1, 4 * H, I}, "lstm_W");
  const std::string rn = make(R, Shape{1, 4 * H, H}, "lstm_R");
  const std::string bn = make(B, Shape{1, 8 * H}, "lstm_B");
  std::string pn;
  if (In(9) >= 0 || In(10) >= 0 || In(11) >= 0) {
    std::vector<float> P(static_cast<std::size_t>(3 * H), 0.f);
    const int p_idx[3] = {9, 11, 10};  // ONNX order input, output, forget
    for (int g = 0; g < 3; ++g) {
      if (In(static_cast<std::size_t>(p_idx[g])) < 0) continue;
      DEEPEDGE_ASSIGN_OR_RETURN(std::vector<float> v,
                                as_float(In(static_cast<std::size_t>(p_idx[g]))));
      if (static_cast<std::int64_t>(v.size()) != H) return Corrupt(op_label_ + ": peephole size");
      std::copy(v.begin(), v.end(), P.begin() + g * H);
    }
    pn = make(P, Shape{1, 3 * H}, "lstm_P");
  }
  Attrs a{{"hidden_size", ir::Attribute::Int(H)},
          {"layout", ir::Attribute::Int(o->time_major() ? 0 : 1)}};
  if (cifg) a["input_forget"] = ir::Attribute::Int(1);
  if (o->cell_clip() > 0) a["clip"] = ir::Attribute::Float(o->cell_clip());
  switch (o->fused_activation_function()) {
    case tfl::ActivationFunctionType::TANH:
      break;
    case tfl::ActivationFunctionType::RELU: {
      ir::Attribute acts;
      acts.kind = ir::Attribute::Kind::kStrings;
      acts.strings = {"Sigmoid", "Relu", "Relu"};
      a["activations"] = acts;
      break;
    }
    default:
      return Unsup("LSTM activation other than TANH or RELU");
  }
  DEEPEDGE_ASSIGN_OR_RETURN(std::string xf, Float(In(0)));
  std::vector<std::string> ins{xf, wn, rn, bn, "", "", ""};
  if (!pn.empty()) ins.push_back(pn);
  std::string y = Emit("LSTM", ins, std::move(a), "lstm_Y");
  // Y is [B, T, 1, H] (or [T, 1, B, H]); TFLite's output drops the direction axis.
  Ints od = Dims(outs_[0]);
  for (auto& d : od) d = d < 0 ? -1 : d;
  y = Emit("Reshape", {y, ConstI64(od, "shape")});
  return Store(outs_[0], y);
}

Status SubgraphImporter::Resize(const tfl::Operator* op, bool bilinear) {
  DEEPEDGE_RETURN_IF_ERROR(NeedInputs(2));
  DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
  bool align = false, half = false;
  if (bilinear) {
    if (const auto* o = op->builtin_options_as_ResizeBilinearOptions()) {
      align = o->align_corners();
      half = o->half_pixel_centers();
    }
  } else if (const auto* o = op->builtin_options_as_ResizeNearestNeighborOptions()) {
    align = o->align_corners();
    half = o->half_pixel_centers();
  }
  DEEPEDGE_ASSIGN_OR_RETURN(Ints size, ConstInts(In(1)));
  const Ints xd = Dims(In(0));
  if (size.size() != 2 || xd.size() != 4)
    return Corrupt(op_label_ + ": needs 4-D input and 2 sizes");
  Attrs a;
  a["mode"] = ir::Attribute::String(bilinear ? "linear" : "nearest");
  std::string coord = align  ? "align_corners"
                      : half ? (bilinear ? "half_pixel" : "tf_half_pixel_for_nn")
                             : "asymmetric";
  a["coordinate_transformation_mode"] = ir::Attribute::String(coord);
  if (!bilinear) a["nearest_mode"] = ir::Attribute::String(align ? "round_prefer_ceil" : "floor");
  DEEPEDGE_ASSIGN_OR_RETURN(std::string xf, Float(In(0)));
  DEEPEDGE_ASSIGN_OR_RETURN(std::string xt, ToNchw(xf));
  std::string y = Emit("Resize", {xt, "", "", ConstI64({xd[0], xd[3], size[0], size[1]}, "sizes")},
                       std::move(a));
  DEEPEDGE_ASSIGN_OR_RETURN(y, ToNhwc(y));
  return Store(outs_[0], y);
}

Status SubgraphImporter::Binary(const std::string& onnx_op, int act) {
  DEEPEDGE_RETURN_IF_ERROR(NeedInputs(2));
  DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
  DEEPEDGE_ASSIGN_OR_RETURN(std::string a, Float(In(0)));
  DEEPEDGE_ASSIGN_OR_RETURN(std::string b, Float(In(1)));
  std::string y = Emit(onnx_op, {a, b});
  DEEPEDGE_ASSIGN_OR_RETURN(y, Activation(act, y));
  return Store(outs_[0], y);
}

Status SubgraphImporter::Unary(const std::string& onnx_op, Attrs attrs) {
  DEEPEDGE_RETURN_IF_ERROR(NeedInputs(1));
  DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
  DEEPEDGE_ASSIGN_OR_RETURN(std::string x, Float(In(0)));
  return Store(outs_[0], Emit(onnx_op, {x}, std::move(attrs)));
}

Status SubgraphImporter::Compare(const std::string& onnx_op, bool negate) {
  DEEPEDGE_RETURN_IF_ERROR(NeedInputs(2));
  DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
  DEEPEDGE_ASSIGN_OR_RETURN(std::string a, Float(In(0)));
  DEEPEDGE_ASSIGN_OR_RETURN(std::string b, Float(In(1)));
  std::string y = Emit(onnx_op, {a, b});
  if (negate) y = Emit("Not", {y});
  return Store(outs_[0], y);
}

Status SubgraphImporter::Reduce(const std::string& onnx_op, bool keep_dims) {
  DEEPEDGE_RETURN_IF_ERROR(NeedInputs(2));
  DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
  DEEPEDGE_ASSIGN_OR_RETURN(Ints axes, ConstInts(In(1)));
  DEEPEDGE_ASSIGN_OR_RETURN(std::string x, Float(In(0)));
  std::string y;
  if (onnx_op == "ReduceSum") {  // opset 13+: axes is an input
    y = Emit(onnx_op, {x, ConstI64(axes, "axes")}, {{"keepdims", ir::Attribute::Int(keep_dims)}});
  } else {
    y = Emit(onnx_op, {x},
             {{"axes", ir::Attribute::Ints(axes)}, {"keepdims", ir::Attribute::Int(keep_dims)}});
  }
  return Store(outs_[0], y);
}

Status SubgraphImporter::ReshapeLike(int in, int out, const AxesOp* by_axes) {
  Ints od = Dims(out);
  for (auto& d : od) d = d < 0 ? -1 : d;
  if (std::count(od.begin(), od.end(), -1) > 1) {
    // A reshape to a shape cannot say which unknown dimension is which; EXPAND_DIMS and
    // SQUEEZE still can, by their axes (ONNX Unsqueeze / Squeeze take negative axes).
    if (by_axes == nullptr) {
      return Unsup("output " + Desc(out) + " has more than one unknown dimension");
    }
    std::vector<std::string> inputs(1);
    if (!by_axes->axes.empty()) inputs.push_back(ConstI64(by_axes->axes, "axes"));
    if (SameQuant(in, out) && T(in)->type() == T(out)->type()) {
      DEEPEDGE_ASSIGN_OR_RETURN(inputs[0], Value(in));
      EmitTo(by_axes->op, inputs, {names_[static_cast<std::size_t>(out)]});
      defined_.insert(out);
      return Status::Ok();
    }
    DEEPEDGE_ASSIGN_OR_RETURN(inputs[0], Float(in));
    return Store(out, Emit(by_axes->op, inputs));
  }
  if (SameQuant(in, out) && T(in)->type() == T(out)->type()) {
    DEEPEDGE_ASSIGN_OR_RETURN(std::string x, Value(in));
    EmitTo("Reshape", {x, ConstI64(od, "shape")}, {names_[static_cast<std::size_t>(out)]});
    defined_.insert(out);
    return Status::Ok();
  }
  DEEPEDGE_ASSIGN_OR_RETURN(std::string x, Float(in));
  return Store(out, Emit("Reshape", {x, ConstI64(od, "shape")}));
}

Status SubgraphImporter::StridedSlice(const tfl::Operator* op) {
  DEEPEDGE_RETURN_IF_ERROR(NeedInputs(4));
  DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
  const auto* o = op->builtin_options_as_StridedSliceOptions();
  if (o == nullptr) return Corrupt(op_label_ + ": missing StridedSliceOptions");
  if (o->ellipsis_mask() != 0 || o->new_axis_mask() != 0) {
    return Unsup("STRIDED_SLICE with ellipsis or new-axis masks");
  }
  DEEPEDGE_ASSIGN_OR_RETURN(Ints begin, ConstInts(In(1)));
  DEEPEDGE_ASSIGN_OR_RETURN(Ints end, ConstInts(In(2)));
  DEEPEDGE_ASSIGN_OR_RETURN(Ints strides, ConstInts(In(3)));
  if (begin.size() != end.size() || begin.size() != strides.size() || begin.size() > 30) {
    return Corrupt(op_label_ + ": begin, end and strides differ in length");
  }
  constexpr std::int64_t kBig = std::int64_t{1} << 62;
  Ints axes;
  for (std::size_t k = 0; k < begin.size(); ++k) {
    axes.push_back(static_cast<std::int64_t>(k));
    if (strides[k] == 0) return Corrupt(op_label_ + ": stride 0");
    if (o->offset()) end[k] += begin[k];
    if (o->begin_mask() & (1 << k)) begin[k] = strides[k] > 0 ? 0 : kBig;
    if (o->end_mask() & (1 << k)) end[k] = strides[k] > 0 ? kBig : -kBig;
    if (o->shrink_axis_mask() & (1 << k)) {
      end[k] = begin[k] == -1 ? kBig : begin[k] + 1;
      strides[k] = 1;
    }
  }
  const bool ints = SameQuant(In(0), outs_[0]);
  DEEPEDGE_ASSIGN_OR_RETURN(std::string x, ints ? Value(In(0)) : Float(In(0)));
  std::string y = Emit("Slice", {x, ConstI64(begin, "starts"), ConstI64(end, "ends"),
                                 ConstI64(axes, "axes"), ConstI64(strides, "steps")});
  Ints od = Dims(outs_[0]);
  for (auto& d : od) d = d < 0 ? -1 : d;
  y = Emit("Reshape", {y, ConstI64(od, "shape")});
  if (ints) {
    g_.nodes.back().outputs[0] = names_[static_cast<std::size_t>(outs_[0])];
    defined_.insert(outs_[0]);
    return Status::Ok();
  }
  return Store(outs_[0], y);
}

Status SubgraphImporter::ImportOperator(const tfl::Operator* op, int code) {
  ins_.clear();
  outs_.clear();
  if (op->inputs()) ins_.assign(op->inputs()->begin(), op->inputs()->end());
  if (op->outputs()) outs_.assign(op->outputs()->begin(), op->outputs()->end());
  auto fused = [&](auto* o) { return o ? static_cast<int>(o->fused_activation_function()) : 0; };
  switch (code) {
    case kConv2d:
      return Conv(op, false);
    case kDepthwiseConv2d:
      return Conv(op, true);
    case kAveragePool2d:
      return Pool(op, "AveragePool");
    case kMaxPool2d:
      return Pool(op, "MaxPool");
    case kTransposeConv:
      return TransposeConv(op);
    case kFullyConnected:
      return FullyConnected(op);
    case kUnidirectionalSequenceLstm:
      return Lstm(op);
    case kResizeBilinear:
      return Resize(op, true);
    case kResizeNearest:
      return Resize(op, false);
    case kAdd:
      return Binary("Add", fused(op->builtin_options_as_AddOptions()));
    case kSub:
      return Binary("Sub", fused(op->builtin_options_as_SubOptions()));
    case kMul:
      return Binary("Mul", fused(op->builtin_options_as_MulOptions()));
    case kDiv:
      return Binary("Div", fused(op->builtin_options_as_DivOptions()));
    case kMaximum:
      return Binary("Max", 0);
    case kMinimum:
      return Binary("Min", 0);
    case kPow:
      return Binary("Pow", 0);
    case kPrelu:
      return Binary("PRelu", 0);
    case kSquaredDifference: {
      DEEPEDGE_RETURN_IF_ERROR(NeedInputs(2));
      DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
      DEEPEDGE_ASSIGN_OR_RETURN(std::string a, Float(In(0)));
      DEEPEDGE_ASSIGN_OR_RETURN(std::string b, Float(In(1)));
      std::string d = Emit("Sub", {a, b});
      return Store(outs_[0], Emit("Mul", {d, d}));
    }
    case kLess:
      return Compare("Less", false);
    case kLessEqual:
      return Compare("LessOrEqual", false);
    case kGreater:
      return Compare("Greater", false);
    case kGreaterEqual:
      return Compare("GreaterOrEqual", false);
    case kEqual:
      return Compare("Equal", false);
    case kNotEqual:
      return Compare("Equal", true);
    case kLogicalAnd:
      return Compare("And", false);
    case kLogicalOr:
      return Compare("Or", false);
    case kLogicalNot:
      return Unary("Not");
    case kLogistic:
      return Unary("Sigmoid");
    case kTanh:
      return Unary("Tanh");
    case kRelu:
      return Unary("Relu");
    case kRelu6:
    case kReluN1To1: {
      DEEPEDGE_RETURN_IF_ERROR(NeedInputs(1));
      DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
      DEEPEDGE_ASSIGN_OR_RETURN(std::string x, Float(In(0)));
      DEEPEDGE_ASSIGN_OR_RETURN(std::string y, Activation(code == kRelu6 ? 3 : 2, x));
      return Store(outs_[0], y);
    }
    case kHardSwish:
      return Unary("HardSwish");
    case kElu:
      return Unary("Elu");
    case kExp:
      return Unary("Exp");
    case kLog:
      return Unary("Log");
    case kSqrt:
      return Unary("Sqrt");
    case kAbs:
      return Unary("Abs");
    case kNeg:
      return Unary("Neg");
    case kFloor:
      return Unary("Floor");
    case kCeil:
      return Unary("Ceil");
    case kRound:
      return Unary("Round");
    case kSin:
      return Unary("Sin");
    case kCos:
      return Unary("Cos");
    case kGelu: {
      DEEPEDGE_RETURN_IF_ERROR(NeedInputs(1));
      DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
      // 0.5 x (1 + erf(x / sqrt 2)).
      DEEPEDGE_ASSIGN_OR_RETURN(std::string x, Float(In(0)));
      std::string e = Emit("Erf", {Emit("Mul", {x, ScalarF32(0.70710678f, "c")})});
      std::string p = Emit("Add", {e, ScalarF32(1.f, "one")});
      return Store(outs_[0], Emit("Mul", {Emit("Mul", {x, p}), ScalarF32(0.5f, "half")}));
    }
    case kRsqrt: {
      DEEPEDGE_RETURN_IF_ERROR(NeedInputs(1));
      DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
      DEEPEDGE_ASSIGN_OR_RETURN(std::string x, Float(In(0)));
      return Store(outs_[0], Emit("Reciprocal", {Emit("Sqrt", {x})}));
    }
    case kSquare: {
      DEEPEDGE_RETURN_IF_ERROR(NeedInputs(1));
      DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
      DEEPEDGE_ASSIGN_OR_RETURN(std::string x, Float(In(0)));
      return Store(outs_[0], Emit("Mul", {x, x}));
    }
    case kLeakyRelu: {
      const auto* o = op->builtin_options_as_LeakyReluOptions();
      return Unary("LeakyRelu", {{"alpha", ir::Attribute::Float(o ? o->alpha() : 0.2f)}});
    }
    case kSoftmax:
    case kLogSoftmax: {
      DEEPEDGE_RETURN_IF_ERROR(NeedInputs(1));
      DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
      DEEPEDGE_ASSIGN_OR_RETURN(std::string x, Float(In(0)));
      const auto* o = op->builtin_options_as_SoftmaxOptions();
      if (code == kSoftmax && o != nullptr && o->beta() != 1.f) {
        x = Emit("Mul", {x, ScalarF32(o->beta(), "beta")});
      }
      return Store(outs_[0], Emit(code == kSoftmax ? "Softmax" : "LogSoftmax", {x},
                                  {{"axis", ir::Attribute::Int(-1)}}));
    }
    case kL2Normalization: {
      DEEPEDGE_RETURN_IF_ERROR(NeedInputs(1));
      DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
      DEEPEDGE_ASSIGN_OR_RETURN(std::string x, Float(In(0)));
      std::string ss = Emit("ReduceSum", {Emit("Mul", {x, x}), ConstI64({-1}, "axes")},
                            {{"keepdims", ir::Attribute::Int(1)}});
      std::string n = Emit("Sqrt", {Emit("Max", {ss, ScalarF32(1e-12f, "eps")})});
      return Store(outs_[0], Emit("Div", {x, n}));
    }
    case kMean: {
      const auto* o = op->builtin_options_as_ReducerOptions();
      return Reduce("ReduceMean", o && o->keep_dims());
    }
    case kSum:
    case kReduceMax:
    case kReduceMin:
    case kReduceProd: {
      const auto* o = op->builtin_options_as_ReducerOptions();
      const char* name = code == kSum         ? "ReduceSum"
                         : code == kReduceMax ? "ReduceMax"
                         : code == kReduceMin ? "ReduceMin"
                                              : "ReduceProd";
      return Reduce(name, o && o->keep_dims());
    }
    case kReshape:
      DEEPEDGE_RETURN_IF_ERROR(NeedInputs(1));
      DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
      return ReshapeLike(In(0), outs_[0]);
    case kSqueeze: {
      DEEPEDGE_RETURN_IF_ERROR(NeedInputs(1));
      DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
      AxesOp squeeze{"Squeeze", {}};
      if (const auto* o = op->builtin_options_as_SqueezeOptions(); o && o->squeeze_dims())
        for (int d : *o->squeeze_dims()) squeeze.axes.push_back(d);
      return ReshapeLike(In(0), outs_[0], &squeeze);
    }
    case kExpandDims: {
      DEEPEDGE_RETURN_IF_ERROR(NeedInputs(2));
      DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
      DEEPEDGE_ASSIGN_OR_RETURN(Ints axis, ConstInts(In(1)));
      if (axis.size() != 1) return Corrupt(op_label_ + ": EXPAND_DIMS axis must be one value");
      AxesOp unsqueeze{"Unsqueeze", axis};
      return ReshapeLike(In(0), outs_[0], &unsqueeze);
    }
    case kTranspose: {
      DEEPEDGE_RETURN_IF_ERROR(NeedInputs(2));
      DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
      DEEPEDGE_ASSIGN_OR_RETURN(Ints perm, ConstInts(In(1)));
      if (SameQuant(In(0), outs_[0])) {
        DEEPEDGE_ASSIGN_OR_RETURN(std::string x, Value(In(0)));
        EmitTo("Transpose", {x}, {names_[static_cast<std::size_t>(outs_[0])]},
               {{"perm", ir::Attribute::Ints(perm)}});
        defined_.insert(outs_[0]);
        return Status::Ok();
      }
      DEEPEDGE_ASSIGN_OR_RETURN(std::string x, Float(In(0)));
      return Store(outs_[0], Emit("Transpose", {x}, {{"perm", ir::Attribute::Ints(perm)}}));
    }
    case kPad:
    case kPadV2:
    case kMirrorPad: {
      DEEPEDGE_RETURN_IF_ERROR(NeedInputs(2));
      DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
      DEEPEDGE_ASSIGN_OR_RETURN(Ints p, ConstInts(In(1)));
      const std::size_t rank = p.size() / 2;
      if (p.size() % 2 != 0) return Corrupt(op_label_ + ": paddings must be [rank, 2]");
      Ints pads(2 * rank);
      for (std::size_t k = 0; k < rank; ++k) {
        pads[k] = p[2 * k];
        pads[rank + k] = p[2 * k + 1];
      }
      Attrs a;
      if (code == kMirrorPad) {
        const auto* o = op->builtin_options_as_MirrorPadOptions();
        if (o && o->mode() == tfl::MirrorPadMode::SYMMETRIC)
          return Unsup("SYMMETRIC mirror padding");
        a["mode"] = ir::Attribute::String("reflect");
      }
      const bool ints = SameQuant(In(0), outs_[0]) && code != kPadV2;
      if (ints && Quant(In(0))) {
        // Pad the integers with the zero point: real 0.
        DEEPEDGE_ASSIGN_OR_RETURN(DType dt, DT(In(0)));
        auto q = Quant(In(0));
        if (q->axis) return Unsup("PAD of a per-channel quantized tensor");
        DEEPEDGE_ASSIGN_OR_RETURN(auto qp, QParams(*q, dt, true, "padv"));
        DEEPEDGE_ASSIGN_OR_RETURN(std::string x, Value(In(0)));
        EmitTo("Pad", {x, ConstI64(pads, "pads"), qp.second},
               {names_[static_cast<std::size_t>(outs_[0])]}, a);
        defined_.insert(outs_[0]);
        return Status::Ok();
      }
      DEEPEDGE_ASSIGN_OR_RETURN(std::string x, Float(In(0)));
      std::vector<std::string> ins{x, ConstI64(pads, "pads")};
      if (code == kPadV2 && In(2) >= 0) {
        DEEPEDGE_ASSIGN_OR_RETURN(std::string cv, Float(In(2)));
        ins.push_back(Emit("Reshape", {cv, ConstI64({}, "scalar")}));
      }
      return Store(outs_[0], Emit("Pad", ins, a));
    }
    case kConcatenation: {
      DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
      const auto* o = op->builtin_options_as_ConcatenationOptions();
      const std::int64_t axis = o ? o->axis() : 0;
      const int act = fused(o);
      bool ints = act == 0;
      for (int i : ins_) ints = ints && i >= 0 && SameQuant(i, outs_[0]);
      std::vector<std::string> parts;
      for (int i : ins_) {
        if (i < 0) return Corrupt(op_label_ + ": omitted CONCATENATION input");
        DEEPEDGE_ASSIGN_OR_RETURN(std::string v, ints ? Value(i) : Float(i));
        parts.push_back(v);
      }
      if (ints) {
        EmitTo("Concat", parts, {names_[static_cast<std::size_t>(outs_[0])]},
               {{"axis", ir::Attribute::Int(axis)}});
        defined_.insert(outs_[0]);
        return Status::Ok();
      }
      std::string y = Emit("Concat", parts, {{"axis", ir::Attribute::Int(axis)}});
      DEEPEDGE_ASSIGN_OR_RETURN(y, Activation(act, y));
      return Store(outs_[0], y);
    }
    case kGather: {
      DEEPEDGE_RETURN_IF_ERROR(NeedInputs(2));
      DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
      const auto* o = op->builtin_options_as_GatherOptions();
      if (o && o->batch_dims() != 0) return Unsup("GATHER with batch_dims");
      const bool ints = SameQuant(In(0), outs_[0]);
      DEEPEDGE_ASSIGN_OR_RETURN(std::string x, ints ? Value(In(0)) : Float(In(0)));
      DEEPEDGE_ASSIGN_OR_RETURN(std::string idx, Value(In(1)));
      Attrs a{{"axis", ir::Attribute::Int(o ? o->axis() : 0)}};
      if (ints) {
        EmitTo("Gather", {x, idx}, {names_[static_cast<std::size_t>(outs_[0])]}, a);
        defined_.insert(outs_[0]);
        return Status::Ok();
      }
      return Store(outs_[0], Emit("Gather", {x, idx}, a));
    }
    case kGatherNd: {
      DEEPEDGE_RETURN_IF_ERROR(NeedInputs(2));
      DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
      DEEPEDGE_ASSIGN_OR_RETURN(std::string x, Float(In(0)));
      DEEPEDGE_ASSIGN_OR_RETURN(std::string idx, Value(In(1)));
      return Store(outs_[0],
                   Emit("GatherND", {x, Emit("Cast", {idx}, {{"to", ir::Attribute::Int(7)}})}));
    }
    case kStridedSlice:
      return StridedSlice(op);
    case kSlice: {
      DEEPEDGE_RETURN_IF_ERROR(NeedInputs(3));
      DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
      DEEPEDGE_ASSIGN_OR_RETURN(Ints begin, ConstInts(In(1)));
      DEEPEDGE_ASSIGN_OR_RETURN(Ints size, ConstInts(In(2)));
      if (begin.size() != size.size())
        return Corrupt(op_label_ + ": begin and size differ in length");
      Ints end(begin.size()), axes(begin.size());
      for (std::size_t k = 0; k < begin.size(); ++k) {
        end[k] = size[k] < 0 ? (std::int64_t{1} << 62) : begin[k] + size[k];
        axes[k] = static_cast<std::int64_t>(k);
      }
      DEEPEDGE_ASSIGN_OR_RETURN(std::string x, Float(In(0)));
      return Store(outs_[0], Emit("Slice", {x, ConstI64(begin, "starts"), ConstI64(end, "ends"),
                                            ConstI64(axes, "axes")}));
    }
    case kSplit:
    case kSplitV: {
      // SPLIT: (axis, input); SPLIT_V: (input, sizes, axis).
      const int data = code == kSplit ? In(1) : In(0);
      const int axis_t = code == kSplit ? In(0) : In(2);
      DEEPEDGE_ASSIGN_OR_RETURN(Ints axis, ConstInts(axis_t));
      if (axis.size() != 1) return Corrupt(op_label_ + ": axis must be a scalar");
      DEEPEDGE_ASSIGN_OR_RETURN(std::string x, Float(data));
      std::vector<std::string> ins{x};
      const Ints xd = Dims(data);
      std::int64_t ax = axis[0] < 0 ? axis[0] + static_cast<std::int64_t>(xd.size()) : axis[0];
      if (ax < 0 || ax >= static_cast<std::int64_t>(xd.size()))
        return Corrupt(op_label_ + ": axis out of range");
      Ints sizes;
      for (int o : outs_) {
        if (o < 0) return Corrupt(op_label_ + ": omitted output");
        const Ints od = Dims(o);
        if (od.size() != xd.size()) return Corrupt(op_label_ + ": output rank differs");
        sizes.push_back(od[static_cast<std::size_t>(ax)]);
      }
      ins.push_back(ConstI64(sizes, "split"));
      std::vector<std::string> tmp;
      for (std::size_t k = 0; k < outs_.size(); ++k) tmp.push_back(Tmp("split"));
      EmitTo("Split", ins, tmp, {{"axis", ir::Attribute::Int(ax)}});
      for (std::size_t k = 0; k < outs_.size(); ++k) {
        EmitTo("Identity", {tmp[k]}, {Tmp("part")});
        DEEPEDGE_RETURN_IF_ERROR(Store(outs_[k], g_.nodes.back().outputs[0]));
      }
      return Status::Ok();
    }
    case kPack: {
      DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
      const auto* o = op->builtin_options_as_PackOptions();
      const std::int64_t axis = o ? o->axis() : 0;
      std::vector<std::string> parts;
      for (int i : ins_) {
        DEEPEDGE_ASSIGN_OR_RETURN(std::string v, Float(i));
        parts.push_back(Emit("Unsqueeze", {v, ConstI64({axis}, "axes")}));
      }
      return Store(outs_[0], Emit("Concat", parts, {{"axis", ir::Attribute::Int(axis)}}));
    }
    case kUnpack: {
      DEEPEDGE_RETURN_IF_ERROR(NeedInputs(1));
      const auto* o = op->builtin_options_as_UnpackOptions();
      std::int64_t axis = o ? o->axis() : 0;
      const Ints xd = Dims(In(0));
      if (axis < 0) axis += static_cast<std::int64_t>(xd.size());
      DEEPEDGE_ASSIGN_OR_RETURN(std::string x, Float(In(0)));
      std::vector<std::string> tmp;
      for (std::size_t k = 0; k < outs_.size(); ++k) tmp.push_back(Tmp("unpack"));
      EmitTo("Split", {x, ConstI64(Ints(outs_.size(), 1), "split")}, tmp,
             {{"axis", ir::Attribute::Int(axis)}});
      for (std::size_t k = 0; k < outs_.size(); ++k) {
        DEEPEDGE_RETURN_IF_ERROR(
            Store(outs_[k], Emit("Squeeze", {tmp[k], ConstI64({axis}, "axes")})));
      }
      return Status::Ok();
    }
    case kTile: {
      DEEPEDGE_RETURN_IF_ERROR(NeedInputs(2));
      DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
      DEEPEDGE_ASSIGN_OR_RETURN(std::string x, Float(In(0)));
      DEEPEDGE_ASSIGN_OR_RETURN(std::string r, Value(In(1)));
      return Store(outs_[0], Emit("Tile", {x, Emit("Cast", {r}, {{"to", ir::Attribute::Int(7)}})}));
    }
    case kSelect:
    case kSelectV2: {
      DEEPEDGE_RETURN_IF_ERROR(NeedInputs(3));
      DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
      DEEPEDGE_ASSIGN_OR_RETURN(std::string c, Value(In(0)));
      DEEPEDGE_ASSIGN_OR_RETURN(std::string a, Float(In(1)));
      DEEPEDGE_ASSIGN_OR_RETURN(std::string b, Float(In(2)));
      return Store(outs_[0], Emit("Where", {c, a, b}));
    }
    case kCast: {
      DEEPEDGE_RETURN_IF_ERROR(NeedInputs(1));
      DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
      DEEPEDGE_ASSIGN_OR_RETURN(DType to, DT(outs_[0]));
      static const std::map<DType, int> kOnnx = {
          {DType::kF32, 1}, {DType::kU8, 2},  {DType::kI8, 3},   {DType::kI16, 5},
          {DType::kI32, 6}, {DType::kI64, 7}, {DType::kBool, 9}, {DType::kF16, 10}};
      DEEPEDGE_ASSIGN_OR_RETURN(std::string x, Value(In(0)));
      EmitTo("Cast", {x}, {names_[static_cast<std::size_t>(outs_[0])]},
             {{"to", ir::Attribute::Int(kOnnx.at(to))}});
      defined_.insert(outs_[0]);
      return Status::Ok();
    }
    case kArgMax:
    case kArgMin: {
      DEEPEDGE_RETURN_IF_ERROR(NeedInputs(2));
      DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
      DEEPEDGE_ASSIGN_OR_RETURN(Ints axis, ConstInts(In(1)));
      if (axis.size() != 1) return Corrupt(op_label_ + ": axis must be a scalar");
      DEEPEDGE_ASSIGN_OR_RETURN(std::string x, Float(In(0)));
      std::string y =
          Emit(code == kArgMax ? "ArgMax" : "ArgMin", {x},
               {{"axis", ir::Attribute::Int(axis[0])}, {"keepdims", ir::Attribute::Int(0)}});
      DEEPEDGE_ASSIGN_OR_RETURN(DType to, DT(outs_[0]));
      if (to == DType::kI32) y = Emit("Cast", {y}, {{"to", ir::Attribute::Int(6)}});
      return Store(outs_[0], y);
    }
    case kShape: {
      DEEPEDGE_RETURN_IF_ERROR(NeedInputs(1));
      DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
      DEEPEDGE_ASSIGN_OR_RETURN(std::string x, Value(In(0)));
      std::string y = Emit("Shape", {x});
      DEEPEDGE_ASSIGN_OR_RETURN(DType to, DT(outs_[0]));
      if (to == DType::kI32) y = Emit("Cast", {y}, {{"to", ir::Attribute::Int(6)}});
      return Store(outs_[0], y);
    }
    case kDepthToSpace:
    case kSpaceToDepth: {
      DEEPEDGE_RETURN_IF_ERROR(NeedInputs(1));
      DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
      int block = 0;
      if (code == kDepthToSpace) {
        if (const auto* o = op->builtin_options_as_DepthToSpaceOptions()) block = o->block_size();
      } else if (const auto* o = op->builtin_options_as_SpaceToDepthOptions()) {
        block = o->block_size();
      }
      if (block <= 0) return Corrupt(op_label_ + ": block size must be positive");
      DEEPEDGE_ASSIGN_OR_RETURN(std::string x, Float(In(0)));
      DEEPEDGE_ASSIGN_OR_RETURN(std::string xt, ToNchw(x));
      Attrs a{{"blocksize", ir::Attribute::Int(block)}};
      if (code == kDepthToSpace)
        a["mode"] = ir::Attribute::String("DCR");  // TensorFlow's channel order
      std::string y = Emit(code == kDepthToSpace ? "DepthToSpace" : "SpaceToDepth", {xt}, a);
      DEEPEDGE_ASSIGN_OR_RETURN(y, ToNhwc(y));
      return Store(outs_[0], y);
    }
    case kBatchMatMul: {
      DEEPEDGE_RETURN_IF_ERROR(NeedInputs(2));
      DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
      const auto* o = op->builtin_options_as_BatchMatMulOptions();
      DEEPEDGE_ASSIGN_OR_RETURN(std::string a, Float(In(0)));
      DEEPEDGE_ASSIGN_OR_RETURN(std::string b, Float(In(1)));
      auto swap_last = [&](const std::string& v, int t) {
        const std::size_t r = Dims(t).size();
        Ints perm(r);
        for (std::size_t k = 0; k < r; ++k) perm[k] = static_cast<std::int64_t>(k);
        if (r >= 2) std::swap(perm[r - 1], perm[r - 2]);
        return Emit("Transpose", {v}, {{"perm", ir::Attribute::Ints(perm)}});
      };
      if (o && o->adj_x()) a = swap_last(a, In(0));
      if (o && o->adj_y()) b = swap_last(b, In(1));
      return Store(outs_[0], Emit("MatMul", {a, b}));
    }
    case kCumsum: {
      DEEPEDGE_RETURN_IF_ERROR(NeedInputs(2));
      DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
      const auto* o = op->builtin_options_as_CumsumOptions();
      DEEPEDGE_ASSIGN_OR_RETURN(std::string x, Float(In(0)));
      DEEPEDGE_ASSIGN_OR_RETURN(std::string ax, Value(In(1)));
      return Store(outs_[0], Emit("CumSum", {x, ax},
                                  {{"exclusive", ir::Attribute::Int(o && o->exclusive())},
                                   {"reverse", ir::Attribute::Int(o && o->reverse())}}));
    }
    case kDequantize: {
      // int -> float (DequantizeLinear); float16 -> float32 (Cast, folded for constants).
      DEEPEDGE_RETURN_IF_ERROR(NeedInputs(1));
      DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
      DEEPEDGE_ASSIGN_OR_RETURN(std::string x, Float(In(0)));
      return Store(outs_[0], x);
    }
    case kQuantize: {
      DEEPEDGE_RETURN_IF_ERROR(NeedInputs(1));
      DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
      DEEPEDGE_ASSIGN_OR_RETURN(std::string x, Float(In(0)));
      return Store(outs_[0], x);
    }
    case kDensify: {
      // The sparse constant is densified at import: the operator is the constant itself.
      DEEPEDGE_RETURN_IF_ERROR(NeedInputs(1));
      DEEPEDGE_RETURN_IF_ERROR(NeedOutputs(1));
      if (!IsConst(In(0))) return Unsup("DENSIFY of a non-constant tensor");
      DEEPEDGE_ASSIGN_OR_RETURN(auto t, ConstTensor(In(0)));
      g_.initializers[names_[static_cast<std::size_t>(outs_[0])]] = t;
      if (Quant(In(0)) && !SameQuant(In(0), outs_[0]))
        return Unsup("DENSIFY changing quantization");
      defined_.insert(outs_[0]);
      return Status::Ok();
    }
    case kIf:
      return If(op);
    case kWhile:
      return While(op);
    default:
      return Unsup("builtin operator " + tflite_internal::BuiltinName(code) + " (" +
                   std::to_string(code) + ") has no DeepEdge mapping");
  }
}

Expected<std::vector<int>> SubgraphImporter::AllPresent(const std::vector<int>& list,
                                                        std::size_t first, const char* what) const {
  std::vector<int> v;
  for (std::size_t k = first; k < list.size(); ++k) {
    if (list[k] < 0) return Invalid(std::string(what) + " " + std::to_string(k) + " is omitted");
    v.push_back(list[k]);
  }
  return v;
}

Status SubgraphImporter::CheckCallee(std::int64_t index, const std::string& role,
                                     const std::vector<int>& ins, std::size_t n_out,
                                     const std::vector<int>& outs) const {
  const std::size_t count = m_.subgraph_count();
  if (index < 0 || static_cast<std::size_t>(index) >= count) {
    return Invalid(role + " subgraph index " + std::to_string(index) +
                   " is out of range (the model has " + std::to_string(count) + " subgraphs)");
  }
  const auto callee = static_cast<std::size_t>(index);
  if (std::find(state_.stack.begin(), state_.stack.end(), callee) != state_.stack.end()) {
    std::string chain;
    for (std::size_t s : state_.stack) chain += std::to_string(s) + " -> ";
    return Invalid(role + " subgraph " + std::to_string(callee) +
                   " is already being imported: subgraphs call each other recursively (" + chain +
                   std::to_string(callee) + ")");
  }
  if (state_.stack.size() >= kMaxNesting) {
    return Invalid("control flow nests more than " + std::to_string(kMaxNesting) +
                   " subgraphs deep");
  }
  const tfl::SubGraph* sg = m_.subgraph(callee);
  const std::string name = role + " subgraph " + std::to_string(callee);
  auto types_match = [&](const flatbuffers::Vector<std::int32_t>* list,
                         const std::vector<int>& mine, const char* what) -> Status {
    for (std::size_t k = 0; k < mine.size(); ++k) {
      const auto i = list->Get(static_cast<flatbuffers::uoffset_t>(k));
      const tfl::TensorType theirs =
          sg->tensors()->Get(static_cast<flatbuffers::uoffset_t>(i))->type();
      if (theirs != T(mine[k])->type()) {
        return Invalid(name + " " + what + " " + std::to_string(k) + " is " +
                       tflite_internal::TensorTypeName(theirs) + ", but the operator's " +
                       Desc(mine[k]) + " is " +
                       tflite_internal::TensorTypeName(T(mine[k])->type()));
      }
    }
    return Status::Ok();
  };
  const std::size_t n_in = sg->inputs() ? sg->inputs()->size() : 0;
  if (n_in != ins.size()) {
    return Invalid(name + " has " + std::to_string(n_in) + " inputs, but the operator passes it " +
                   std::to_string(ins.size()));
  }
  DEEPEDGE_RETURN_IF_ERROR(types_match(sg->inputs(), ins, "input"));
  const std::size_t got_out = sg->outputs() ? sg->outputs()->size() : 0;
  if (got_out != n_out) {
    return Invalid(name + " has " + std::to_string(got_out) + " outputs, but the operator needs " +
                   std::to_string(n_out));
  }
  return types_match(sg->outputs(), outs, "output");
}

Expected<std::vector<ir::ValueInfo>> SubgraphImporter::ImportCallee(
    std::size_t index, const std::string& role, ir::Graph& g,
    const std::vector<std::string>* bound) {
  if (++state_.nested_imports > kMaxNestedImports) {
    return Invalid("control flow expands to more than " + std::to_string(kMaxNestedImports) +
                   " subgraph imports");
  }
  state_.stack.push_back(index);
  SubgraphImporter child(m_, index, g, state_,
                         "s" + std::to_string(index) + "." + std::to_string(state_.nested_imports));
  Status st = child.Import(bound);
  state_.stack.pop_back();
  if (!st.ok()) return Status(st.code(), op_label_ + ", " + role + ": " + st.message());
  return child.outputs();
}

// TFLite IF (cond, args...) with then / else subgraphs taking args: ONNX If, whose
// branches have no formal inputs. Each branch subgraph is imported into its own graph
// with its inputs bound to the outer values of args (read from the enclosing graph).
Status SubgraphImporter::If(const tfl::Operator* op) {
  const auto* o = op->builtin_options_as_IfOptions();
  if (o == nullptr) return Invalid("IfOptions (the then / else subgraph indices) are missing");
  if (In(0) < 0) return Invalid("the condition (input 0) is missing");
  const int cond = In(0);
  if (T(cond)->type() != tfl::TensorType::BOOL) {
    return Invalid("the condition " + Desc(cond) + " is " +
                   tflite_internal::TensorTypeName(T(cond)->type()) + ", it must be bool");
  }
  if (const Shape cs = ShapeOf(cond); cs.is_static() && cs.element_count() != 1) {
    return Invalid("the condition " + Desc(cond) + " has shape " + cs.ToString() +
                   ", it must hold one value");
  }
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<int> args, AllPresent(ins_, 1, "input"));
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<int> res, AllPresent(outs_, 0, "output"));
  struct Branch {
    const char* attr;
    const char* role;
    std::int64_t index;
  };
  const Branch branches[] = {{"then_branch", "then branch", o->then_subgraph_index()},
                             {"else_branch", "else branch", o->else_subgraph_index()}};
  for (const Branch& b : branches)
    DEEPEDGE_RETURN_IF_ERROR(CheckCallee(b.index, b.role, args, res.size(), res));
  std::vector<std::string> vals;
  for (int a : args) {
    DEEPEDGE_ASSIGN_OR_RETURN(std::string v, Value(a));
    vals.push_back(std::move(v));
  }
  for (int r : res) {
    if (defined_.count(r) != 0) return Invalid(Desc(r) + " is an output but already has a value");
  }
  DEEPEDGE_ASSIGN_OR_RETURN(std::string c, Value(cond));
  Attrs attrs;
  for (const Branch& b : branches) {
    auto g = std::make_shared<ir::Graph>();
    g->name = std::string(b.role) + " (subgraph " + std::to_string(b.index) + ")";
    DEEPEDGE_ASSIGN_OR_RETURN(g->outputs,
                              ImportCallee(static_cast<std::size_t>(b.index), b.role, *g, &vals));
    attrs[b.attr] = GraphAttr(std::move(g));
  }
  std::vector<std::string> outs;
  for (int r : res) outs.push_back(names_[static_cast<std::size_t>(r)]);
  EmitTo("If", {c}, outs, std::move(attrs));
  for (int r : res) defined_.insert(r);
  return Status::Ok();
}

// TFLite WHILE (values...) with cond(values) -> bool and body(values) -> values: ONNX
// Loop(M omitted, cond0, values...) whose body (iteration, cond_in, values...) computes
// body(values) and then cond(new values) as its condition output. cond0 is the condition
// subgraph inlined once here, on the initial values. Each loop-carried value keeps
// whatever shape the body gives it (the body's inputs declare no shape).
Status SubgraphImporter::While(const tfl::Operator* op) {
  const auto* o = op->builtin_options_as_WhileOptions();
  if (o == nullptr) return Invalid("WhileOptions (the cond / body subgraph indices) are missing");
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<int> args, AllPresent(ins_, 0, "input"));
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<int> res, AllPresent(outs_, 0, "output"));
  if (args.size() != res.size()) {
    return Invalid("has " + std::to_string(args.size()) + " inputs but " +
                   std::to_string(res.size()) +
                   " outputs (each loop-carried value is an input and an output)");
  }
  for (std::size_t k = 0; k < res.size(); ++k) {
    if (T(res[k])->type() != T(args[k])->type()) {
      return Invalid("output " + std::to_string(k) + " " + Desc(res[k]) + " is " +
                     tflite_internal::TensorTypeName(T(res[k])->type()) + ", but input " +
                     std::to_string(k) + " " + Desc(args[k]) + " is " +
                     tflite_internal::TensorTypeName(T(args[k])->type()));
    }
  }
  const std::int64_t cond_index = o->cond_subgraph_index();
  const std::int64_t body_index = o->body_subgraph_index();
  DEEPEDGE_RETURN_IF_ERROR(CheckCallee(cond_index, "condition", args, 1, {}));
  {
    const tfl::SubGraph* cg = m_.subgraph(static_cast<std::size_t>(cond_index));
    const tfl::Tensor* ct =
        cg->tensors()->Get(static_cast<flatbuffers::uoffset_t>(cg->outputs()->Get(0)));
    if (ct->type() != tfl::TensorType::BOOL) {
      return Invalid("condition subgraph " + std::to_string(cond_index) + " outputs " +
                     tflite_internal::TensorTypeName(ct->type()) + ", it must output bool");
    }
  }
  DEEPEDGE_RETURN_IF_ERROR(CheckCallee(body_index, "body", args, args.size(), res));
  std::vector<std::string> vals;
  for (int a : args) {
    DEEPEDGE_ASSIGN_OR_RETURN(std::string v, Value(a));
    vals.push_back(std::move(v));
  }
  for (int r : res) {
    if (defined_.count(r) != 0) return Invalid(Desc(r) + " is an output but already has a value");
  }
  DEEPEDGE_ASSIGN_OR_RETURN(
      std::vector<ir::ValueInfo> cond0,
      ImportCallee(static_cast<std::size_t>(cond_index), "condition", g_, &vals));
  auto body = std::make_shared<ir::Graph>();
  body->name = "body (subgraph " + std::to_string(body_index) + ")";
  body->inputs.push_back({Tmp("loop_iteration"), DType::kI64, Shape{}});
  body->inputs.push_back({Tmp("loop_cond"), DType::kBool, Shape{}});
  DEEPEDGE_ASSIGN_OR_RETURN(
      std::vector<ir::ValueInfo> next,
      ImportCallee(static_cast<std::size_t>(body_index), "body", *body, nullptr));
  for (std::size_t k = 2; k < body->inputs.size(); ++k) body->inputs[k].shape.reset();
  std::vector<std::string> next_vals;
  for (const ir::ValueInfo& v : next) next_vals.push_back(v.name);
  DEEPEDGE_ASSIGN_OR_RETURN(
      std::vector<ir::ValueInfo> cond_next,
      ImportCallee(static_cast<std::size_t>(cond_index), "condition", *body, &next_vals));
  body->outputs.push_back(cond_next[0]);
  for (ir::ValueInfo& v : next) {
    v.shape.reset();
    body->outputs.push_back(std::move(v));
  }
  std::vector<std::string> ins = {"", cond0[0].name};
  ins.insert(ins.end(), vals.begin(), vals.end());
  std::vector<std::string> outs;
  for (int r : res) outs.push_back(names_[static_cast<std::size_t>(r)]);
  EmitTo("Loop", std::move(ins), std::move(outs), {{"body", GraphAttr(std::move(body))}});
  for (int r : res) defined_.insert(r);
  return Status::Ok();
}

Status SubgraphImporter::Run() {
  g_.name = sg_->name() ? sg_->name()->str() : "subgraph_" + std::to_string(index_);
  DEEPEDGE_RETURN_IF_ERROR(Import(nullptr));
  for (const ir::ValueInfo& v : outputs_) g_.outputs.push_back(v);
  return Status::Ok();
}

Status SubgraphImporter::Import(const std::vector<std::string>* bound) {
  const std::size_t n = TensorCount();
  // Unique value names: the TFLite name when it is unique and non-empty.
  std::map<std::string, int> uses;
  for (std::size_t i = 0; i < n; ++i) {
    const auto* nm = T(static_cast<int>(i))->name();
    if (nm != nullptr && nm->size() != 0) uses[nm->str()]++;
  }
  names_.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto* nm = T(static_cast<int>(i))->name();
    std::string s = nm != nullptr ? nm->str() : std::string();
    if (s.empty() || uses[s] > 1 || s.rfind("tfl/", 0) == 0)
      s = "tensor_" + std::to_string(i) + (s.empty() ? "" : "_" + s);
    // Nested: "tfl/<scope>:<name>", apart from temporaries ("tfl/<scope>/...").
    names_[i] = scope_.empty() ? s : "tfl/" + scope_ + ":" + s;
  }
  if (sg_->inputs()) {
    const std::size_t n_in = sg_->inputs()->size();
    if (bound != nullptr && bound->size() != n_in) {
      return Internal("subgraph " + std::to_string(index_) + " bound to " +
                      std::to_string(bound->size()) + " values, it has " + std::to_string(n_in) +
                      " inputs");
    }
    for (std::size_t k = 0; k < n_in; ++k) {
      const int i = sg_->inputs()->Get(static_cast<flatbuffers::uoffset_t>(k));
      op_label_ = "subgraph " + std::to_string(index_) + " input " + std::to_string(k);
      DEEPEDGE_ASSIGN_OR_RETURN(DType dt, DT(i));
      if (bound != nullptr) {
        names_[static_cast<std::size_t>(i)] = (*bound)[k];
        bound_.insert(i);
      } else {
        g_.inputs.push_back({names_[static_cast<std::size_t>(i)], dt, ShapeOf(i)});
      }
      defined_.insert(i);
    }
  }
  // Custom operators first, all named at once: no mapping can cover them.
  std::vector<std::string> custom;
  int first_custom = -1;
  const auto* ops = sg_->operators();
  const std::size_t nops = ops ? ops->size() : 0;
  for (std::size_t o = 0; o < nops; ++o) {
    const tfl::OperatorCode* oc = m_.model->operator_codes()->Get(
        ops->Get(static_cast<flatbuffers::uoffset_t>(o))->opcode_index());
    if (tflite_internal::BuiltinCode(oc) == kCustom) {
      const std::string c = oc->custom_code() ? oc->custom_code()->str() : "?";
      if (IsMappedCustom(c)) continue;
      if (std::find(custom.begin(), custom.end(), c) == custom.end()) custom.push_back(c);
      if (first_custom < 0) first_custom = static_cast<int>(o);
    }
  }
  if (!custom.empty()) {
    std::string list;
    for (const auto& c : custom) list += (list.empty() ? "" : ", ") + c;
    return Unsupported("subgraph " + std::to_string(index_) + " uses custom operator" +
                       (custom.size() > 1 ? "s " : " ") + list + " (first at operator " +
                       std::to_string(first_custom) +
                       "); DeepEdge runs builtin TFLite operators, MediaPipe's " +
                       kTransposeConvBiasCode + " and TFLite Micro's Signal* operators only");
  }
  for (std::size_t o = 0; o < nops; ++o) {
    const tfl::Operator* op = ops->Get(static_cast<flatbuffers::uoffset_t>(o));
    const tfl::OperatorCode* oc = m_.model->operator_codes()->Get(op->opcode_index());
    const int code = tflite_internal::BuiltinCode(oc);
    op_label_ = "operator " + std::to_string(o) + " (" + tflite_internal::OperatorName(oc) + ")";
    if (index_ != 0) op_label_ = "subgraph " + std::to_string(index_) + " " + op_label_;
    if (code == kCustom) {
      // Only mapped custom codes get here (the others were refused above).
      ins_.clear();
      outs_.clear();
      if (op->inputs()) ins_.assign(op->inputs()->begin(), op->inputs()->end());
      if (op->outputs()) outs_.assign(op->outputs()->begin(), op->outputs()->end());
      const std::string custom = oc->custom_code() ? oc->custom_code()->str() : "";
      if (IsSignalCustom(custom)) {
        DEEPEDGE_RETURN_IF_ERROR(SignalOp(op, custom));
      } else {
        DEEPEDGE_RETURN_IF_ERROR(TransposeConvBias(op));
      }
      continue;
    }
    DEEPEDGE_RETURN_IF_ERROR(UnsignedWideCheck(op, code));
    DEEPEDGE_RETURN_IF_ERROR(ImportOperator(op, code));
  }
  op_label_.clear();
  if (sg_->outputs()) {
    for (std::int32_t i : *sg_->outputs()) {
      DEEPEDGE_ASSIGN_OR_RETURN(std::string v, Value(i));
      DEEPEDGE_ASSIGN_OR_RETURN(DType dt, DT(i));
      // An output that is a bound input (a value of an enclosing graph) is copied here:
      // the engine keeps outer values alive for the nested graphs that read them as node
      // inputs, not for ones that only name them as outputs.
      if (bound_.count(i) != 0) v = Emit("Identity", {v}, {}, "passthrough");
      outputs_.push_back({v, dt, ShapeOf(i)});
    }
  }
  return Status::Ok();
}

}  // namespace

Expected<ir::Model> ImportTflite(const ModelSource& source) {
  DEEPEDGE_ASSIGN_OR_RETURN(auto loaded, tflite_internal::LoadTflite(source));
  ir::Model model;
  model.opsets[""] = kOpset;
  model.ir_version = 8;
  model.producer = "tflite v" + std::to_string(loaded->model->version()) +
                   (loaded->model->description() ? " " + loaded->model->description()->str() : "");
  if (const auto* sigs = loaded->model->signature_defs()) {
    for (const tfl::SignatureDef* s : *sigs) {
      if (s->signature_key()) {
        model.metadata["tflite.signature." + s->signature_key()->str()] =
            "subgraph " + std::to_string(s->subgraph_index());
      }
    }
  }
  if (const auto* meta = loaded->model->metadata()) {
    for (const tfl::Metadata* md : *meta) {
      if (md->name()) {
        model.metadata["tflite.metadata." + md->name()->str()] =
            std::to_string(loaded->BufferData(md->buffer()).size()) + " bytes";
      }
    }
  }
  ImportState state;
  state.stack.push_back(0);
  SubgraphImporter importer(*loaded, 0, model.graph, state);
  Status st = importer.Run();
  if (!st.ok()) return Status(st.code(), loaded->display_name + ": " + st.message());
  for (const ir::Node& n : model.graph.nodes) {
    if (n.domain == kSignalDomain) model.opsets[kSignalDomain] = 1;
  }
  return model;
}

}  // namespace deepedge
