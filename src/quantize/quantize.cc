// Post-training quantization to ONNX QDQ: fold BN, plan which nodes go int8,
// calibrate activations through the caller's backend, rewrite the graph.
#include "deepedge/quantize.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "deepedge/onnx_model.h"
#include "quantize/calibration.h"

namespace deepedge {

namespace {

using quantize::ActivationParams;
using quantize::Histogram;
using quantize::MinMax;
using quantize::SampleSource;

const std::set<std::string>& QuantizableOps() {
  static const std::set<std::string> kOps = {
      "Conv",         "Gemm", "MatMul", "Add", "Mul", "MaxPool", "AveragePool", "GlobalAveragePool",
      "GlobalMaxPool"};
  return kOps;
}

bool IsDefaultDomain(const std::string& d) {
  return d.empty() || d == "ai.onnx";
}

std::string NodeId(const onnx::NodeProto& n) {
  if (!n.name().empty()) return n.name();
  return n.output_size() > 0 ? n.output(0) : std::string();
}

void CollectNames(const onnx::GraphProto& g, std::set<std::string>& out) {
  for (const auto& v : g.input()) out.insert(v.name());
  for (const auto& v : g.output()) out.insert(v.name());
  for (const auto& v : g.value_info()) out.insert(v.name());
  for (const auto& t : g.initializer()) out.insert(t.name());
  for (const auto& n : g.node()) {
    out.insert(n.name());
    for (const auto& s : n.input()) out.insert(s);
    for (const auto& s : n.output()) out.insert(s);
    for (const auto& a : n.attribute()) {
      if (a.has_g()) CollectNames(a.g(), out);
      for (const auto& sub : a.graphs()) CollectNames(sub, out);
    }
  }
}

// Every tensor name read by a node of `g` or its subgraphs (outer-scope reads too).
void CollectReads(const onnx::GraphProto& g, std::set<std::string>& out) {
  for (const auto& n : g.node()) {
    for (const auto& s : n.input()) out.insert(s);
    for (const auto& a : n.attribute()) {
      if (a.has_g()) CollectReads(a.g(), out);
      for (const auto& sub : a.graphs()) CollectReads(sub, out);
    }
  }
}

// New names that clash with nothing in the model.
class Names {
 public:
  explicit Names(const onnx::GraphProto& g) { CollectNames(g, used_); }
  std::string Make(const std::string& base) {
    std::string s = base;
    for (int i = 1; used_.count(s); ++i) s = base + "_" + std::to_string(i);
    used_.insert(s);
    return s;
  }

 private:
  std::set<std::string> used_;
};

std::int64_t ElementCount(const onnx::TensorProto& t) {
  std::int64_t n = 1;
  for (std::int64_t d : t.dims()) n *= d;
  return n;
}

// The values of a float32 tensor held in the model; nullopt for other types or
// external data.
std::optional<std::vector<float>> FloatValues(const onnx::TensorProto& t) {
  if (t.data_type() != onnx::TensorProto::FLOAT ||
      t.data_location() == onnx::TensorProto::EXTERNAL) {
    return std::nullopt;
  }
  const std::int64_t n = ElementCount(t);
  if (n < 0) return std::nullopt;
  std::vector<float> v(static_cast<std::size_t>(n));
  if (t.has_raw_data()) {
    if (t.raw_data().size() != v.size() * sizeof(float)) return std::nullopt;
    std::memcpy(v.data(), t.raw_data().data(), t.raw_data().size());  // little-endian hosts
  } else {
    if (t.float_data_size() != n) return std::nullopt;
    std::copy(t.float_data().begin(), t.float_data().end(), v.begin());
  }
  return v;
}

// Initializers and Constant-node values of the main graph, by name. Pointers stay
// valid until the graph is modified.
std::map<std::string, const onnx::TensorProto*> Constants(const onnx::GraphProto& g) {
  std::map<std::string, const onnx::TensorProto*> c;
  for (const auto& t : g.initializer()) c[t.name()] = &t;
  for (const auto& n : g.node()) {
    if (n.op_type() != "Constant" || !IsDefaultDomain(n.domain()) || n.output_size() != 1) continue;
    for (const auto& a : n.attribute()) {
      if (a.name() == "value" && a.has_t()) c[n.output(0)] = &a.t();
    }
  }
  return c;
}

template <typename T>
void SetTensor(onnx::TensorProto* t, const std::string& name, int type,
               const std::vector<std::int64_t>& dims, const std::vector<T>& values) {
  t->set_name(name);
  t->set_data_type(type);
  for (std::int64_t d : dims) t->add_dims(d);
  t->set_raw_data(std::string(reinterpret_cast<const char*>(values.data()),
                              values.size() * sizeof(T)));  // little-endian hosts
}

const onnx::AttributeProto* FindAttr(const onnx::NodeProto& n, const std::string& name) {
  for (const auto& a : n.attribute()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

std::int64_t IntAttr(const onnx::NodeProto& n, const std::string& name, std::int64_t def) {
  const onnx::AttributeProto* a = FindAttr(n, name);
  return a != nullptr ? a->i() : def;
}

float FloatAttr(const onnx::NodeProto& n, const std::string& name, float def) {
  const onnx::AttributeProto* a = FindAttr(n, name);
  return a != nullptr ? a->f() : def;
}

// Replaces the main graph's nodes with `nodes`.
void SetNodes(onnx::GraphProto& g, std::vector<onnx::NodeProto> nodes) {
  g.clear_node();
  for (auto& n : nodes) *g.add_node() = std::move(n);
}

// Drops the initializers in `candidates` (and their graph-input entries, IR < 4)
// and the Constant nodes among them that nothing reads any more.
void RemoveUnread(onnx::GraphProto& g, const std::set<std::string>& candidates) {
  std::set<std::string> read;
  CollectReads(g, read);
  for (const auto& o : g.output()) read.insert(o.name());
  auto dead = [&](const std::string& name) { return candidates.count(name) && !read.count(name); };
  auto* inits = g.mutable_initializer();
  inits->erase(std::remove_if(inits->begin(), inits->end(),
                              [&](const onnx::TensorProto& t) { return dead(t.name()); }),
               inits->end());
  auto* inputs = g.mutable_input();
  inputs->erase(std::remove_if(inputs->begin(), inputs->end(),
                               [&](const onnx::ValueInfoProto& v) { return dead(v.name()); }),
                inputs->end());
  auto* nodes = g.mutable_node();
  nodes->erase(std::remove_if(nodes->begin(), nodes->end(),
                              [&](const onnx::NodeProto& n) {
                                return n.op_type() == "Constant" && n.output_size() == 1 &&
                                       dead(n.output(0));
                              }),
               nodes->end());
}

// Main-graph consumers of each tensor: (node index, input slot).
std::map<std::string, std::vector<std::pair<int, int>>> Consumers(const onnx::GraphProto& g) {
  std::map<std::string, std::vector<std::pair<int, int>>> c;
  for (int i = 0; i < g.node_size(); ++i) {
    for (int s = 0; s < g.node(i).input_size(); ++s) {
      if (!g.node(i).input(s).empty()) c[g.node(i).input(s)].emplace_back(i, s);
    }
  }
  return c;
}

std::set<std::string> GraphOutputs(const onnx::GraphProto& g) {
  std::set<std::string> s;
  for (const auto& o : g.output()) s.insert(o.name());
  return s;
}

// Folds Conv -> BatchNormalization (inference form, the Conv's only consumer) into
// the Conv: w' = w * gamma / sqrt(var + eps), b' = (b - mean) * gamma / sqrt(var + eps) + beta.
int FoldBatchNorms(onnx::GraphProto& g, Names& names) {
  const auto consts = Constants(g);
  const auto consumers = Consumers(g);
  const auto outputs = GraphOutputs(g);
  std::set<std::string> subgraph_reads;
  for (const auto& n : g.node()) {
    for (const auto& a : n.attribute()) {
      if (a.has_g()) CollectReads(a.g(), subgraph_reads);
      for (const auto& sub : a.graphs()) CollectReads(sub, subgraph_reads);
    }
  }
  std::map<std::string, int> producer;
  for (int i = 0; i < g.node_size(); ++i) {
    for (const auto& o : g.node(i).output()) producer[o] = i;
  }
  auto values = [&](const std::string& name) -> std::optional<std::vector<float>> {
    auto it = consts.find(name);
    if (it == consts.end()) return std::nullopt;
    return FloatValues(*it->second);
  };

  struct Fold {
    int conv, bn;
    std::vector<float> w, b;
  };
  std::vector<Fold> folds;
  for (int i = 0; i < g.node_size(); ++i) {
    const onnx::NodeProto& bn = g.node(i);
    if (bn.op_type() != "BatchNormalization" || !IsDefaultDomain(bn.domain())) continue;
    if (bn.input_size() != 5 || IntAttr(bn, "training_mode", 0) != 0 ||
        IntAttr(bn, "spatial", 1) != 1) {
      continue;
    }
    bool extra_outputs = false;
    for (int o = 1; o < bn.output_size(); ++o) extra_outputs |= !bn.output(o).empty();
    if (extra_outputs) continue;
    const std::string& x = bn.input(0);
    auto p = producer.find(x);
    if (p == producer.end() || outputs.count(x) || subgraph_reads.count(x)) continue;
    if (consumers.at(x).size() != 1) continue;
    const onnx::NodeProto& conv = g.node(p->second);
    if (conv.op_type() != "Conv" || !IsDefaultDomain(conv.domain()) || conv.output_size() != 1 ||
        conv.input_size() < 2) {
      continue;
    }
    auto wit = consts.find(conv.input(1));
    if (wit == consts.end() || wit->second->dims_size() < 1) continue;
    auto w = FloatValues(*wit->second);
    auto gamma = values(bn.input(1)), beta = values(bn.input(2)), mean = values(bn.input(3)),
         var = values(bn.input(4));
    if (!w || !gamma || !beta || !mean || !var) continue;
    const auto channels = static_cast<std::size_t>(wit->second->dims(0));
    if (channels == 0 || gamma->size() != channels || beta->size() != channels ||
        mean->size() != channels || var->size() != channels) {
      continue;
    }
    std::vector<float> b(channels, 0.0f);
    if (conv.input_size() > 2 && !conv.input(2).empty()) {
      auto cb = values(conv.input(2));
      if (!cb || cb->size() != channels) continue;
      b = *cb;
    }
    const float eps = FloatAttr(bn, "epsilon", 1e-5f);
    const std::size_t per_channel = w->size() / channels;
    for (std::size_t c = 0; c < channels; ++c) {
      const double k =
          static_cast<double>((*gamma)[c]) / std::sqrt(static_cast<double>((*var)[c]) + eps);
      for (std::size_t j = 0; j < per_channel; ++j) {
        float& v = (*w)[c * per_channel + j];
        v = static_cast<float>(v * k);
      }
      b[c] = static_cast<float>((static_cast<double>(b[c]) - (*mean)[c]) * k + (*beta)[c]);
    }
    folds.push_back({p->second, i, std::move(*w), std::move(b)});
  }

  std::set<std::string> replaced;
  std::set<int> drop;
  for (Fold& f : folds) {
    onnx::NodeProto* conv = g.mutable_node(f.conv);
    const onnx::NodeProto& bn = g.node(f.bn);
    const onnx::TensorProto& wt = *consts.at(conv->input(1));
    std::vector<std::int64_t> dims(wt.dims().begin(), wt.dims().end());
    const std::string w_name = names.Make(conv->input(1) + "_bnfolded");
    const std::string b_name = names.Make(NodeId(*conv) + ".bias_bnfolded");
    SetTensor(g.add_initializer(), w_name, onnx::TensorProto::FLOAT, dims, f.w);
    SetTensor(g.add_initializer(), b_name, onnx::TensorProto::FLOAT,
              {static_cast<std::int64_t>(f.b.size())}, f.b);
    for (int s = 1; s < conv->input_size(); ++s) replaced.insert(conv->input(s));
    for (int s = 1; s < bn.input_size(); ++s) replaced.insert(bn.input(s));
    conv->set_input(1, w_name);
    if (conv->input_size() > 2) {
      conv->set_input(2, b_name);
    } else {
      conv->add_input(b_name);
    }
    conv->set_output(0, bn.output(0));
    drop.insert(f.bn);
  }
  if (!folds.empty()) {
    std::vector<onnx::NodeProto> kept;
    for (int i = 0; i < g.node_size(); ++i) {
      if (!drop.count(i)) kept.push_back(g.node(i));
    }
    SetNodes(g, std::move(kept));
    RemoveUnread(g, replaced);
  }
  return static_cast<int>(folds.size());
}

struct WeightUse {
  int slot;
  int axis;  // -1: per tensor
};

// How one node is quantized.
struct NodePlan {
  int node = -1;
  std::vector<int> act_slots;      // inputs read through an activation Q/DQ pair
  std::vector<WeightUse> weights;  // constant inputs stored as int8
  int bias_slot = -1;              // int32 bias: scale = input(0) scale * weight scale
  int bias_weight_slot = -1;
  std::string out;  // the tensor quantized after the node (or after its Relu/Clip)
};

// Decides which nodes can be quantized and how, before calibration. Nodes whose
// activations turn out not to be float are dropped after it.
std::vector<NodePlan> Plan(const onnx::GraphProto& g, const std::set<std::string>& exclude,
                           bool per_channel) {
  const auto consts = Constants(g);
  const auto consumers = Consumers(g);
  const auto outputs = GraphOutputs(g);
  std::set<std::string> subgraph_reads;
  for (const auto& n : g.node()) {
    for (const auto& a : n.attribute()) {
      if (a.has_g()) CollectReads(a.g(), subgraph_reads);
      for (const auto& sub : a.graphs()) CollectReads(sub, subgraph_reads);
    }
  }
  auto is_const = [&](const std::string& s) { return consts.count(s) > 0; };
  auto float_const = [&](const std::string& s) {
    auto it = consts.find(s);
    return it != consts.end() && FloatValues(*it->second).has_value();
  };
  auto dims = [&](const std::string& s) {
    const onnx::TensorProto* t = consts.at(s);
    return std::vector<std::int64_t>(t->dims().begin(), t->dims().end());
  };

  std::vector<NodePlan> plans;
  for (int i = 0; i < g.node_size(); ++i) {
    const onnx::NodeProto& n = g.node(i);
    if (!IsDefaultDomain(n.domain()) || !QuantizableOps().count(n.op_type())) continue;
    if (exclude.count(NodeId(n)) || n.output_size() < 1 || n.output(0).empty()) continue;
    const std::string& op = n.op_type();
    NodePlan p;
    p.node = i;
    bool ok = true;
    // A data input: an activation, or a constant stored as int8 (per tensor unless given).
    auto data_input = [&](int slot, int axis) {
      const std::string& s = n.input(slot);
      if (s.empty()) return;
      if (!is_const(s)) {
        p.act_slots.push_back(slot);
      } else if (float_const(s)) {
        p.weights.push_back({slot, per_channel ? axis : -1});
      } else {
        ok = false;
      }
    };
    if (op == "Conv") {
      if (n.input_size() < 2 || is_const(n.input(0))) continue;
      data_input(0, -1);
      data_input(1, 0);
      const bool w_const = is_const(n.input(1));
      if (ok && n.input_size() > 2 && !n.input(2).empty() && w_const && float_const(n.input(2)) &&
          dims(n.input(2)).size() == 1 && dims(n.input(1)).size() >= 1 &&
          dims(n.input(2))[0] == dims(n.input(1))[0]) {
        p.bias_slot = 2;
        p.bias_weight_slot = 1;
      }
    } else if (op == "Gemm") {
      if (n.input_size() < 2) continue;
      const bool trans_b = IntAttr(n, "transB", 0) != 0;
      data_input(0, -1);
      if (is_const(n.input(1)) && dims(n.input(1)).size() != 2) ok = false;
      data_input(1, trans_b ? 0 : 1);
      if (ok && n.input_size() > 2 && !n.input(2).empty() && !is_const(n.input(0)) &&
          is_const(n.input(1)) && float_const(n.input(2)) && FloatAttr(n, "alpha", 1) == 1.0f &&
          FloatAttr(n, "beta", 1) == 1.0f && dims(n.input(2)).size() == 1 &&
          dims(n.input(2))[0] == dims(n.input(1))[trans_b ? 0 : 1]) {
        p.bias_slot = 2;
        p.bias_weight_slot = 1;
      }
    } else if (op == "MatMul") {
      if (n.input_size() != 2) continue;
      data_input(0, -1);
      data_input(1, is_const(n.input(1)) && dims(n.input(1)).size() == 2 ? 1 : -1);
    } else if (op == "Add" || op == "Mul") {
      if (n.input_size() != 2) continue;
      data_input(0, -1);
      data_input(1, -1);
    } else {  // pools
      bool extra = false;
      for (int o = 1; o < n.output_size(); ++o) extra |= !n.output(o).empty();
      if (extra || n.input_size() < 1 || is_const(n.input(0))) continue;
      data_input(0, -1);
    }
    if (!ok || p.act_slots.empty()) continue;
    // The output, or the Relu / Clip that is its only reader: Q/DQ go after the activation.
    p.out = n.output(0);
    auto c = consumers.find(p.out);
    if (c != consumers.end() && c->second.size() == 1 && !outputs.count(p.out) &&
        !subgraph_reads.count(p.out)) {
      const onnx::NodeProto& act = g.node(c->second[0].first);
      bool fusable = IsDefaultDomain(act.domain()) && !exclude.count(NodeId(act)) &&
                     act.output_size() == 1 && c->second[0].second == 0 &&
                     (act.op_type() == "Relu" || act.op_type() == "Clip");
      for (int s = 1; fusable && s < act.input_size(); ++s) {
        fusable = act.input(s).empty() || is_const(act.input(s));
      }
      if (fusable) p.out = act.output(0);
    }
    plans.push_back(std::move(p));
  }
  return plans;
}

std::set<std::string> ActivationTensors(const onnx::GraphProto& g,
                                        const std::vector<NodePlan>& plans) {
  std::set<std::string> t;
  for (const NodePlan& p : plans) {
    for (int s : p.act_slots) t.insert(g.node(p.node).input(s));
    t.insert(p.out);
  }
  return t;
}

struct TensorStats {
  MinMax minmax;
  std::optional<Histogram> histogram;
  bool is_float = true;
  bool seen = false;
};

// Runs the float model on every sample and records statistics of `tensors`.
Status Calibrate(
    const onnx::ModelProto& model, const std::set<std::string>& tensors, const Backend& backend,
    const QuantizeOptions& options,
    const std::function<Expected<std::unique_ptr<SampleSource>>(const std::vector<TensorInfo>&)>&
        make_source,
    std::map<std::string, TensorStats>& stats, std::string& description, int& sample_count) {
  onnx::ModelProto calib = model;
  onnx::GraphProto* g = calib.mutable_graph();
  std::set<std::string> present = GraphOutputs(*g);
  std::set<std::string> inputs;
  for (const auto& v : g->input()) inputs.insert(v.name());
  for (const std::string& t : tensors) {
    if (!present.count(t) && !inputs.count(t)) g->add_output()->set_name(t);
  }
  std::string bytes;
  if (!calib.SerializeToString(&bytes)) {
    return Internal("cannot serialize the calibration model (out of memory?)");
  }
  if (!backend.GetCapabilities().load_from_bytes) {
    return Unsupported("backend " + std::string(backend.Name()) +
                       " cannot load models from memory, which calibration needs");
  }
  ModelSource src = ModelSource::FromBytes(ModelFormat::kOnnx,
                                           std::vector<std::uint8_t>(bytes.begin(), bytes.end()));
  Expected<std::unique_ptr<Session>> session = backend.Load(src, options.session);
  if (!session) return session.status().WithContext("calibration: loading the float model");
  const std::vector<TensorInfo>& in_info = (*session)->Inputs();
  const std::vector<TensorInfo>& out_info = (*session)->Outputs();
  DEEPEDGE_ASSIGN_OR_RETURN(std::unique_ptr<SampleSource> source, make_source(in_info));
  description = source->Describe();
  sample_count = source->size();

  auto observe = [&](const std::string& name, const Tensor& t, bool second_pass) {
    auto it = stats.find(name);
    if (it == stats.end()) return;
    TensorStats& s = it->second;
    s.seen = true;
    if (t.dtype() != DType::kF32) {
      s.is_float = false;
      return;
    }
    if (!second_pass) {
      s.minmax.Observe(t.as<float>());
    } else if (s.histogram) {
      s.histogram->Observe(t.as<float>());
    }
  };
  for (const std::string& t : tensors) stats[t];
  const int passes = options.method == CalibrationMethod::kPercentile ? 2 : 1;
  std::vector<Tensor> outs;
  for (int pass = 0; pass < passes; ++pass) {
    if (pass == 1) {
      for (auto& [name, s] : stats) {
        if (s.is_float && !s.minmax.empty()) s.histogram.emplace(s.minmax.min, s.minmax.max);
      }
    }
    for (int i = 0; i < source->size(); ++i) {
      DEEPEDGE_ASSIGN_OR_RETURN(quantize::Sample sample, source->Get(i));
      for (std::size_t k = 0; k < sample.size() && k < in_info.size(); ++k) {
        observe(in_info[k].name, sample[k], pass == 1);
      }
      if (Status s = (*session)->Run(sample, outs); !s.ok()) {
        return s.WithContext("calibration: running the float model on sample " +
                             std::to_string(i + 1));
      }
      for (std::size_t k = 0; k < outs.size() && k < out_info.size(); ++k) {
        observe(out_info[k].name, outs[k], pass == 1);
      }
    }
  }
  return Status::Ok();
}

struct Rewriter {
  onnx::GraphProto& g;
  Names& names;
  int quantize_linear = 0, dequantize_linear = 0;

  onnx::NodeProto MakeNode(const std::string& op, const std::string& name,
                           std::vector<std::string> in, const std::string& out) {
    onnx::NodeProto n;
    n.set_op_type(op);
    n.set_name(names.Make(name));
    for (auto& s : in) n.add_input(s);
    n.add_output(out);
    return n;
  }
  void SetAxis(onnx::NodeProto& n, int axis) {
    onnx::AttributeProto* a = n.add_attribute();
    a->set_name("axis");
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(axis);
  }
};

}  // namespace

Expected<QuantizeResult> QuantizeOnnx(const ModelSource& source, const Backend& backend,
                                      const QuantizeOptions& options) {
  const bool from_dir = !options.calibration_dir.empty();
  if (from_dir == (options.calibration_random > 0)) {
    return InvalidArgument(
        "give calibration data: either a directory of .npy samples or a number of random "
        "samples, not both");
  }
  if (options.calibration_random < 0) {
    return InvalidArgument("the number of random calibration samples must be positive");
  }
  if (options.method == CalibrationMethod::kPercentile &&
      !(options.percentile > 0 && options.percentile <= 100)) {
    return InvalidArgument("percentile " + std::to_string(options.percentile) +
                           " is not in (0, 100]");
  }
  DEEPEDGE_RETURN_IF_ERROR(InspectOnnx(source).status());
  onnx::ModelProto model;
  {
    std::vector<std::uint8_t> bytes = source.bytes;
    if (!source.in_memory()) {
      std::FILE* f = std::fopen(source.path.c_str(), "rb");
      if (f == nullptr) return IoError(source.display_name() + ": cannot open");
      std::vector<std::uint8_t> buf(1 << 20);
      std::size_t got;
      while ((got = std::fread(buf.data(), 1, buf.size(), f)) > 0) {
        bytes.insert(bytes.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(got));
      }
      std::fclose(f);
    }
    if (bytes.size() > static_cast<std::size_t>(INT32_MAX) ||
        !model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      return Corrupt(source.display_name() + ": not a parseable ONNX model");
    }
  }
  const std::string name = source.display_name();
  onnx::GraphProto& g = *model.mutable_graph();

  std::int64_t opset = 0;
  for (const auto& o : model.opset_import()) {
    if (IsDefaultDomain(o.domain())) opset = o.version();
  }
  if (opset < 10) {
    return Unsupported(name + ": opset " + std::to_string(opset) +
                       " has no QuantizeLinear (needs 10 or later)");
  }
  if (opset < 13 && options.per_channel_weights) {
    return Unsupported(name + ": opset " + std::to_string(opset) +
                       " has no per-channel DequantizeLinear (needs 13 or later): use "
                       "--per-tensor-weights or convert the model to opset 13");
  }
  for (const auto& n : g.node()) {
    const std::string& op = n.op_type();
    if (op == "QuantizeLinear" || op == "DequantizeLinear" || op.rfind("QLinear", 0) == 0 ||
        op == "ConvInteger" || op == "MatMulInteger" || op == "DynamicQuantizeLinear") {
      return Unsupported(name + ": the model is already quantized (node '" + NodeId(n) + "' is " +
                         op + ")");
    }
  }
  std::set<std::string> exclude(options.exclude.begin(), options.exclude.end());
  {
    std::set<std::string> ids;
    for (const auto& n : g.node()) ids.insert(NodeId(n));
    for (const std::string& e : exclude) {
      if (!ids.count(e))
        return InvalidArgument("--exclude: the model has no node named '" + e + "'");
    }
  }

  QuantizeResult result;
  Names names(g);
  result.folded_batch_norms = FoldBatchNorms(g, names);
  std::vector<NodePlan> plans = Plan(g, exclude, options.per_channel_weights);

  // Calibrate every activation a plan needs.
  std::map<std::string, TensorStats> stats;
  std::string calib_description;
  auto make_source = [&](const std::vector<TensorInfo>& inputs) {
    return from_dir ? quantize::DirectorySamples(options.calibration_dir, inputs)
                    : quantize::RandomSamples(options.calibration_random, options.seed, inputs);
  };
  DEEPEDGE_RETURN_IF_ERROR(Calibrate(model, ActivationTensors(g, plans), backend, options,
                                     make_source, stats, calib_description,
                                     result.calibration_samples)
                               .WithContext(name));

  // Keep only the nodes whose activations are float tensors.
  {
    std::vector<NodePlan> kept;
    for (NodePlan& p : plans) {
      bool ok = stats[p.out].is_float && stats[p.out].seen;
      for (int s : p.act_slots) {
        const TensorStats& st = stats[g.node(p.node).input(s)];
        ok = ok && st.is_float && st.seen;
      }
      if (ok) kept.push_back(std::move(p));
    }
    plans = std::move(kept);
  }
  const std::set<std::string> acts = ActivationTensors(g, plans);
  std::map<std::string, ActivationParams> params;
  for (const std::string& t : acts) {
    const TensorStats& s = stats[t];
    float lo = s.minmax.empty() ? 0.0f : s.minmax.min, hi = s.minmax.empty() ? 0.0f : s.minmax.max;
    if (s.histogram) {
      const Histogram::Range r = s.histogram->PercentileRange(options.percentile);
      lo = r.lo;
      hi = r.hi;
    }
    params[t] = quantize::ComputeActivationParams(lo, hi);
  }

  // Rewrite: activation Q/DQ pairs, int8 weights and int32 biases behind DQ.
  Rewriter rw{g, names};
  const auto consts_map = Constants(g);
  std::map<std::string, std::vector<float>> const_values;
  std::map<std::string, std::vector<std::int64_t>> const_dims;
  for (const NodePlan& p : plans) {
    const onnx::NodeProto& n = g.node(p.node);
    std::vector<int> slots;
    for (const WeightUse& w : p.weights) slots.push_back(w.slot);
    if (p.bias_slot >= 0) slots.push_back(p.bias_slot);
    for (int s : slots) {
      const onnx::TensorProto* t = consts_map.at(n.input(s));
      const_values[n.input(s)] = *FloatValues(*t);
      const_dims[n.input(s)] = std::vector<std::int64_t>(t->dims().begin(), t->dims().end());
    }
  }
  const std::set<std::string> graph_outputs = GraphOutputs(g);
  std::set<std::string> graph_inputs;
  for (const auto& v : g.input()) graph_inputs.insert(v.name());

  std::map<std::string, std::string> dq_name;                     // activation -> its DQ output
  std::map<std::string, std::vector<onnx::NodeProto>> qdq_after;  // producer output -> Q, DQ
  std::vector<onnx::NodeProto> qdq_first;                         // for graph inputs
  std::map<std::string, std::string> renamed_outputs;             // graph output -> float source
  for (const std::string& t : acts) {
    if (graph_inputs.count(t) && graph_outputs.count(t)) continue;
    const ActivationParams& ap = params[t];
    const std::string scale = names.Make(t + "_scale"), zp = names.Make(t + "_zero_point");
    SetTensor(g.add_initializer(), scale, onnx::TensorProto::FLOAT, {},
              std::vector<float>{ap.scale});
    SetTensor(g.add_initializer(), zp, onnx::TensorProto::INT8, {},
              std::vector<std::int8_t>{ap.zero_point});
    std::string src = t, dq_out;
    if (graph_outputs.count(t)) {
      src = names.Make(t + "_float");
      renamed_outputs[t] = src;
      dq_out = t;
    } else {
      dq_out = names.Make(t + "_dequantized");
      dq_name[t] = dq_out;
    }
    const std::string q_out = names.Make(t + "_quantized");
    std::vector<onnx::NodeProto> pair;
    pair.push_back(rw.MakeNode("QuantizeLinear", t + "_QuantizeLinear", {src, scale, zp}, q_out));
    pair.push_back(
        rw.MakeNode("DequantizeLinear", t + "_DequantizeLinear", {q_out, scale, zp}, dq_out));
    rw.quantize_linear++;
    rw.dequantize_linear++;
    auto& dst = graph_inputs.count(t) ? qdq_first : qdq_after[t];
    for (auto& n : pair) dst.push_back(std::move(n));
  }

  std::map<int, std::vector<onnx::NodeProto>> dq_before;  // node index -> weight/bias DQs
  std::set<std::string> replaced;
  std::map<std::pair<std::string, int>, std::pair<std::string, std::vector<float>>> weight_cache;
  for (const NodePlan& p : plans) {
    onnx::NodeProto* n = g.mutable_node(p.node);
    std::vector<float> bias_weight_scales;
    for (const WeightUse& w : p.weights) {
      const std::string wname = n->input(w.slot);
      auto key = std::make_pair(wname, w.axis);
      auto cached = weight_cache.find(key);
      if (cached == weight_cache.end()) {
        const std::vector<std::int64_t>& dims = const_dims[wname];
        quantize::QuantizedWeights q =
            quantize::QuantizeWeightsSymmetric(const_values[wname], dims, w.axis);
        const std::string qn = names.Make(wname + "_quantized");
        const std::string sn = names.Make(wname + "_scale");
        const std::string zn = names.Make(wname + "_zero_point");
        SetTensor(g.add_initializer(), qn, onnx::TensorProto::INT8, dims, q.values);
        const std::vector<std::int64_t> sdims =
            w.axis >= 0 ? std::vector<std::int64_t>{static_cast<std::int64_t>(q.scales.size())}
                        : std::vector<std::int64_t>{};
        SetTensor(g.add_initializer(), sn, onnx::TensorProto::FLOAT, sdims, q.scales);
        SetTensor(g.add_initializer(), zn, onnx::TensorProto::INT8, sdims,
                  std::vector<std::int8_t>(q.scales.size(), 0));
        const std::string out = names.Make(wname + "_dequantized");
        onnx::NodeProto dq =
            rw.MakeNode("DequantizeLinear", wname + "_DequantizeLinear", {qn, sn, zn}, out);
        if (w.axis >= 0) rw.SetAxis(dq, w.axis);
        rw.dequantize_linear++;
        dq_before[p.node].push_back(std::move(dq));
        cached = weight_cache.emplace(key, std::make_pair(out, q.scales)).first;
      }
      n->set_input(w.slot, cached->second.first);
      if (w.slot == p.bias_weight_slot) bias_weight_scales = cached->second.second;
      replaced.insert(wname);
    }
    if (p.bias_slot >= 0 && !bias_weight_scales.empty()) {
      const std::string bname = n->input(p.bias_slot);
      const float in_scale = params[n->input(0)].scale;
      quantize::QuantizedBias q =
          quantize::QuantizeBias(const_values[bname], in_scale, bias_weight_scales);
      bool finite = true;
      for (float s : q.scales) finite = finite && std::isfinite(s) && s > 0;
      if (finite) {
        const std::string qn = names.Make(bname + "_quantized");
        const std::string sn = names.Make(bname + "_scale");
        const std::string zn = names.Make(bname + "_zero_point");
        const std::vector<std::int64_t> dims = {static_cast<std::int64_t>(q.values.size())};
        SetTensor(g.add_initializer(), qn, onnx::TensorProto::INT32, dims, q.values);
        // Per-tensor weights give one bias scale: a scalar, which opsets 10-12 need.
        const bool per_axis = bias_weight_scales.size() > 1;
        if (!per_axis) q.scales.resize(1);
        const std::vector<std::int64_t> sdims = per_axis ? dims : std::vector<std::int64_t>{};
        SetTensor(g.add_initializer(), sn, onnx::TensorProto::FLOAT, sdims, q.scales);
        SetTensor(g.add_initializer(), zn, onnx::TensorProto::INT32, sdims,
                  std::vector<std::int32_t>(q.scales.size(), 0));
        const std::string out = names.Make(bname + "_dequantized");
        onnx::NodeProto dq =
            rw.MakeNode("DequantizeLinear", bname + "_DequantizeLinear", {qn, sn, zn}, out);
        if (per_axis) rw.SetAxis(dq, 0);
        rw.dequantize_linear++;
        dq_before[p.node].push_back(std::move(dq));
        n->set_input(p.bias_slot, out);
        replaced.insert(bname);
      }
    }
  }

  // Rewire readers of quantized activations, rename graph outputs' producers, and
  // lay the nodes out in topological order.
  std::vector<onnx::NodeProto> nodes;
  for (auto& q : qdq_first) nodes.push_back(std::move(q));
  for (int i = 0; i < g.node_size(); ++i) {
    onnx::NodeProto n = g.node(i);
    for (int s = 0; s < n.input_size(); ++s) {
      auto it = dq_name.find(n.input(s));
      if (it != dq_name.end()) n.set_input(s, it->second);
    }
    for (int o = 0; o < n.output_size(); ++o) {
      auto it = renamed_outputs.find(n.output(o));
      if (it != renamed_outputs.end()) n.set_output(o, it->second);
    }
    auto before = dq_before.find(i);
    if (before != dq_before.end()) {
      for (auto& dq : before->second) nodes.push_back(std::move(dq));
    }
    const std::vector<std::string> outs(g.node(i).output().begin(), g.node(i).output().end());
    nodes.push_back(std::move(n));
    for (const std::string& o : outs) {
      auto after = qdq_after.find(o);
      if (after == qdq_after.end()) continue;
      for (auto& q : after->second) nodes.push_back(std::move(q));
    }
  }
  result.quantized_nodes = static_cast<int>(plans.size());
  SetNodes(g, std::move(nodes));
  RemoveUnread(g, replaced);
  result.float_nodes =
      g.node_size() - result.quantized_nodes - rw.quantize_linear - rw.dequantize_linear;
  result.quantize_linear = rw.quantize_linear;
  result.dequantize_linear = rw.dequantize_linear;

  std::string method = options.method == CalibrationMethod::kMinMax ? "minmax" : "percentile ";
  if (options.method == CalibrationMethod::kPercentile) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", options.percentile);
    method += buf;
  }
  result.description = method + "; calibration: " + calib_description + "; int8 QDQ, " +
                       (options.per_channel_weights ? "per-channel" : "per-tensor") + " weights";
  bool found = false;
  for (auto& p : *model.mutable_metadata_props()) {
    if (p.key() == "deepedge.quantized") {
      p.set_value(result.description);
      found = true;
    }
  }
  if (!found) {
    onnx::StringStringEntryProto* p = model.add_metadata_props();
    p->set_key("deepedge.quantized");
    p->set_value(result.description);
  }
  if (!from_dir) {
    result.warnings.push_back(
        "calibrated on random inputs: activation ranges are unlike real data's, so this "
        "model's accuracy means nothing; use it for speed measurements only");
  }

  std::string out;
  if (!model.SerializeToString(&out)) return Internal(name + ": cannot serialize the result");
  result.model.assign(out.begin(), out.end());
  if (Status s = CheckOnnx(ModelSource::FromBytes(ModelFormat::kOnnx, result.model)); !s.ok()) {
    return Internal(name + ": the quantized model fails the ONNX checker (a bug): " + s.message());
  }
  return result;
}

}  // namespace deepedge
