#include "zoo/graph_builder.h"

#include <bit>
#include <cmath>

namespace deepedge::zoo {

std::uint64_t SplitMix64::Next() {
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

float SplitMix64::NextSymmetric() {
  const auto top24 = static_cast<std::int32_t>(Next() >> 40);  // 0 .. 2^24-1
  return static_cast<float>(top24 - (1 << 23)) * (1.0f / static_cast<float>(1 << 23));
}

void AddIntAttr(onnx::NodeProto* node, const std::string& name, std::int64_t value) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

void AddIntsAttr(onnx::NodeProto* node, const std::string& name,
                 const std::vector<std::int64_t>& values) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (std::int64_t v : values) a->add_ints(v);
}

void AddFloatAttr(onnx::NodeProto* node, const std::string& name, float value) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(value);
}

void SetFloatValueInfo(onnx::ValueInfoProto* vi, const std::string& name,
                       const std::vector<std::int64_t>& dims, const std::string& symbol) {
  vi->set_name(name);
  onnx::TypeProto_Tensor* t = vi->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  onnx::TensorShapeProto* shape = t->mutable_shape();
  for (std::int64_t d : dims) {
    onnx::TensorShapeProto_Dimension* dim = shape->add_dim();
    if (d < 0) {
      dim->set_dim_param(symbol);
    } else {
      dim->set_dim_value(d);
    }
  }
}

namespace {

// raw_data is little-endian whatever the host is.
void StoreLittleEndian(float f, char* out) {
  const auto bits = std::bit_cast<std::uint32_t>(f);
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((bits >> (8 * i)) & 0xffu);
}

}  // namespace

onnx::TensorProto* GraphBuilder::AddInitializer(const std::string& name,
                                                const std::vector<std::int64_t>& dims,
                                                std::size_t count) {
  onnx::TensorProto* t = graph_->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (std::int64_t d : dims) t->add_dims(d);
  t->mutable_raw_data()->resize(count * 4);
  return t;
}

bool GraphBuilder::FromSource(const std::string& name, const std::vector<std::int64_t>& dims,
                              std::size_t count, onnx::TensorProto* t) {
  if (!source_) return false;
  std::vector<float> values(count);
  if (!source_(name, dims, values)) return false;
  char* out = t->mutable_raw_data()->data();
  for (std::size_t i = 0; i < count; ++i) StoreLittleEndian(values[i], out + 4 * i);
  return true;
}

std::string GraphBuilder::AddRandom(const std::string& name, const std::vector<std::int64_t>& dims,
                                    double limit) {
  std::size_t count = 1;
  for (std::int64_t d : dims) count *= static_cast<std::size_t>(d);
  onnx::TensorProto* t = AddInitializer(name, dims, count);
  if (FromSource(name, dims, count, t)) return name;
  char* out = t->mutable_raw_data()->data();
  const auto scale = static_cast<float>(limit);
  for (std::size_t i = 0; i < count; ++i)
    StoreLittleEndian(rng_.NextSymmetric() * scale, out + 4 * i);
  return name;
}

std::string GraphBuilder::AddFilled(const std::string& name, const std::vector<std::int64_t>& dims,
                                    float value) {
  std::size_t count = 1;
  for (std::int64_t d : dims) count *= static_cast<std::size_t>(d);
  onnx::TensorProto* t = AddInitializer(name, dims, count);
  if (FromSource(name, dims, count, t)) return name;
  char* out = t->mutable_raw_data()->data();
  for (std::size_t i = 0; i < count; ++i) StoreLittleEndian(value, out + 4 * i);
  return name;
}

onnx::NodeProto* GraphBuilder::AddNode(const std::string& op, const std::string& name,
                                       const std::vector<std::string>& inputs) {
  onnx::NodeProto* n = graph_->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const std::string& in : inputs) n->add_input(in);
  n->add_output(name);
  return n;
}

std::string GraphBuilder::Conv(const std::string& name, const std::string& x,
                               const ConvSpec& spec) {
  const std::int64_t in_per_group = spec.in_channels / spec.group;
  const std::int64_t fan_in = in_per_group * spec.kernel * spec.kernel;
  // He et al. 2015: std = sqrt(2 / fan_in); a uniform [-a, a] has std a / sqrt(3).
  const double limit = std::sqrt(6.0 / static_cast<double>(fan_in));
  std::vector<std::string> inputs = {
      x, AddRandom(name + ".weight", {spec.out_channels, in_per_group, spec.kernel, spec.kernel},
                   limit)};
  // Small biases, so that they are not all-zero constants a runtime could drop.
  if (spec.bias) inputs.push_back(AddRandom(name + ".bias", {spec.out_channels}, 0.01));
  onnx::NodeProto* n = AddNode("Conv", name, inputs);
  AddIntsAttr(n, "dilations", {1, 1});
  AddIntAttr(n, "group", spec.group);
  AddIntsAttr(n, "kernel_shape", {spec.kernel, spec.kernel});
  AddIntsAttr(n, "pads", {spec.pad, spec.pad, spec.pad, spec.pad});
  AddIntsAttr(n, "strides", {spec.stride, spec.stride});
  return name;
}

std::string GraphBuilder::BatchNorm(const std::string& name, const std::string& x,
                                    std::int64_t channels) {
  // Identity statistics (gamma 1, beta 0, mean 0, var 1) keep He-scaled activations
  // in range, and the runtime still does all of BatchNormalization's work.
  onnx::NodeProto* n = AddNode("BatchNormalization", name,
                               {x, AddFilled(name + ".weight", {channels}, 1.0f),
                                AddFilled(name + ".bias", {channels}, 0.0f),
                                AddFilled(name + ".running_mean", {channels}, 0.0f),
                                AddFilled(name + ".running_var", {channels}, 1.0f)});
  AddFloatAttr(n, "epsilon", 1e-5f);
  AddFloatAttr(n, "momentum", 0.9f);
  return name;
}

std::string GraphBuilder::Relu(const std::string& name, const std::string& x) {
  AddNode("Relu", name, {x});
  return name;
}

std::string GraphBuilder::Relu6(const std::string& name, const std::string& x) {
  if (!have_relu6_bounds_) {
    AddFilled("relu6.min", {}, 0.0f);
    AddFilled("relu6.max", {}, 6.0f);
    have_relu6_bounds_ = true;
  }
  AddNode("Clip", name, {x, "relu6.min", "relu6.max"});
  return name;
}

std::string GraphBuilder::Act(Activation act, const std::string& name, const std::string& x) {
  switch (act) {
    case Activation::kNone:
      return x;
    case Activation::kRelu:
      return Relu(name, x);
    case Activation::kRelu6:
      return Relu6(name, x);
  }
  return x;
}

std::string GraphBuilder::ConvBnAct(const std::string& name, const std::string& x, ConvSpec spec,
                                    Activation act) {
  spec.bias = false;
  const std::string c = Conv(name + ".conv", x, spec);
  const std::string b = BatchNorm(name + ".bn", c, spec.out_channels);
  return Act(act, name + ".act", b);
}

std::string GraphBuilder::MaxPool(const std::string& name, const std::string& x,
                                  std::int64_t kernel, std::int64_t stride, std::int64_t pad,
                                  bool ceil_mode) {
  onnx::NodeProto* n = AddNode("MaxPool", name, {x});
  if (ceil_mode) AddIntAttr(n, "ceil_mode", 1);
  AddIntsAttr(n, "kernel_shape", {kernel, kernel});
  AddIntsAttr(n, "pads", {pad, pad, pad, pad});
  AddIntsAttr(n, "strides", {stride, stride});
  return name;
}

std::string GraphBuilder::GlobalAveragePool(const std::string& name, const std::string& x) {
  AddNode("GlobalAveragePool", name, {x});
  return name;
}

std::string GraphBuilder::Flatten(const std::string& name, const std::string& x) {
  onnx::NodeProto* n = AddNode("Flatten", name, {x});
  AddIntAttr(n, "axis", 1);
  return name;
}

std::string GraphBuilder::Lrn(const std::string& name, const std::string& x, std::int64_t size,
                              float alpha, float beta, float bias) {
  onnx::NodeProto* n = AddNode("LRN", name, {x});
  AddFloatAttr(n, "alpha", alpha);
  AddFloatAttr(n, "beta", beta);
  AddFloatAttr(n, "bias", bias);
  AddIntAttr(n, "size", size);
  return name;
}

std::string GraphBuilder::Gemm(const std::string& name, const std::string& x, std::int64_t in,
                               std::int64_t out, bool last) {
  const double limit = std::sqrt((last ? 3.0 : 6.0) / static_cast<double>(in));
  onnx::NodeProto* n = AddNode(
      "Gemm", name,
      {x, AddRandom(name + ".weight", {out, in}, limit), AddRandom(name + ".bias", {out}, 0.01)});
  AddFloatAttr(n, "alpha", 1.0f);
  AddFloatAttr(n, "beta", 1.0f);
  AddIntAttr(n, "transB", 1);
  return name;
}

std::string GraphBuilder::Add(const std::string& name, const std::string& a, const std::string& b) {
  AddNode("Add", name, {a, b});
  return name;
}

std::string GraphBuilder::Concat(const std::string& name, const std::vector<std::string>& xs,
                                 std::int64_t axis) {
  onnx::NodeProto* n = AddNode("Concat", name, xs);
  AddIntAttr(n, "axis", axis);
  return name;
}

std::string GraphBuilder::Softmax(const std::string& name, const std::string& x,
                                  std::int64_t axis) {
  onnx::NodeProto* n = AddNode("Softmax", name, {x});
  AddIntAttr(n, "axis", axis);
  return name;
}

}  // namespace deepedge::zoo
