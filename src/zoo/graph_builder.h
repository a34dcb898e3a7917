// A small helper for writing ONNX graphs layer by layer (private to deepedge_zoo; also
// used by tools/train_fashion_mnist to export its trained model).
//
// Every layer is named by the caller; the node, its output tensor and its
// initializers derive their names from that name ("conv1" -> node "conv1", output
// "conv1", weights "conv1.weight"), so a model's names do not depend on build order.
// Initializer values come from one splitmix64 stream seeded by the caller, so the
// same calls in the same order give byte-identical models on every platform, unless
// a WeightSource supplies (trained) values instead.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

namespace deepedge::zoo {

// splitmix64 (Steele, Lea, Flood 2014): tiny, fast, and exactly reproducible.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t Next();
  // Uniform in [-1, 1), from the top 24 bits so the float is exact.
  float NextSymmetric();

 private:
  std::uint64_t state_;
};

struct ConvSpec {
  std::int64_t in_channels = 0;
  std::int64_t out_channels = 0;
  std::int64_t kernel = 1;  // square kernels only: all the zoo needs
  std::int64_t stride = 1;
  std::int64_t pad = 0;  // same on every side
  std::int64_t group = 1;
  bool bias = false;  // false when a BatchNormalization follows
};

enum class Activation { kNone, kRelu, kRelu6 };

// Supplies the values of a float initializer: called with its name (e.g.
// "conv0.conv.weight", "conv0.bn.running_var", "fc.bias"), its dims and a buffer of
// their product to fill; returns false to keep the synthetic values.
using WeightSource = std::function<bool(
    const std::string& name, const std::vector<std::int64_t>& dims, std::span<float> values)>;

class GraphBuilder {
 public:
  GraphBuilder(onnx::GraphProto* graph, std::uint64_t seed) : graph_(graph), rng_(seed) {}

  // Applies to the initializers of the layers added after the call.
  void SetWeightSource(WeightSource source) { source_ = std::move(source); }

  // Each layer returns the name of its output tensor. `name` must be unique.
  std::string Conv(const std::string& name, const std::string& x, const ConvSpec& spec);
  std::string BatchNorm(const std::string& name, const std::string& x, std::int64_t channels);
  std::string Relu(const std::string& name, const std::string& x);
  // ReLU6 as exported models write it: Clip(x, 0, 6).
  std::string Relu6(const std::string& name, const std::string& x);
  std::string Act(Activation act, const std::string& name, const std::string& x);
  // Conv (no bias) -> BatchNormalization -> activation, named name.conv/.bn/.act.
  std::string ConvBnAct(const std::string& name, const std::string& x, ConvSpec spec,
                        Activation act);

  std::string MaxPool(const std::string& name, const std::string& x, std::int64_t kernel,
                      std::int64_t stride, std::int64_t pad, bool ceil_mode = false);
  std::string GlobalAveragePool(const std::string& name, const std::string& x);
  std::string Flatten(const std::string& name, const std::string& x);
  std::string Lrn(const std::string& name, const std::string& x, std::int64_t size, float alpha,
                  float beta, float bias);
  // Y = X * W^T + b with W stored [out, in] (transB = 1), as frameworks export it.
  // `last` scales the weights for the logits layer (std 1/sqrt(in), not He).
  std::string Gemm(const std::string& name, const std::string& x, std::int64_t in, std::int64_t out,
                   bool last = false);
  std::string Add(const std::string& name, const std::string& a, const std::string& b);
  std::string Concat(const std::string& name, const std::vector<std::string>& xs,
                     std::int64_t axis);
  std::string Softmax(const std::string& name, const std::string& x, std::int64_t axis);

 private:
  onnx::NodeProto* AddNode(const std::string& op, const std::string& name,
                           const std::vector<std::string>& inputs);
  // A float initializer with values uniform in [-limit, limit].
  std::string AddRandom(const std::string& name, const std::vector<std::int64_t>& dims,
                        double limit);
  std::string AddFilled(const std::string& name, const std::vector<std::int64_t>& dims,
                        float value);
  onnx::TensorProto* AddInitializer(const std::string& name, const std::vector<std::int64_t>& dims,
                                    std::size_t count);

  // Stores the source's values for `name` in `t`; false when there is no source or
  // it declines.
  bool FromSource(const std::string& name, const std::vector<std::int64_t>& dims, std::size_t count,
                  onnx::TensorProto* t);

  onnx::GraphProto* graph_;
  SplitMix64 rng_;
  WeightSource source_;
  bool have_relu6_bounds_ = false;
};

// Helpers for the model frame.
void AddIntAttr(onnx::NodeProto* node, const std::string& name, std::int64_t value);
void AddIntsAttr(onnx::NodeProto* node, const std::string& name,
                 const std::vector<std::int64_t>& values);
void AddFloatAttr(onnx::NodeProto* node, const std::string& name, float value);
// A float tensor graph input/output; a negative dimension is written as dim_param
// `symbol` (the dynamic batch).
void SetFloatValueInfo(onnx::ValueInfoProto* vi, const std::string& name,
                       const std::vector<std::int64_t>& dims, const std::string& symbol);

}  // namespace deepedge::zoo
