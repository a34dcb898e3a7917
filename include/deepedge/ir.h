// The graph IR that model importers produce and the DeepEdge engine runs.
//
// A Graph is a list of nodes in topological order over named values. Values are
// referred to by name (as in ONNX); the engine maps names to slots once, when it
// prepares a graph. Constant tensors (initializers, tensor attributes) are shared
// and immutable: several sessions of one model may point at the same weights.
// Nested graphs (the bodies of If, Loop, Scan) hang off node attributes and may
// read values of the enclosing graphs by name.
//
// Thread-safety: a Graph is built once and then only read; concurrent readers are safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "deepedge/dtype.h"
#include "deepedge/status.h"
#include "deepedge/tensor.h"

namespace deepedge::ir {

struct Graph;

struct Attribute {
  enum class Kind { kInt, kFloat, kString, kInts, kFloats, kStrings, kTensor, kGraph, kGraphs };
  Kind kind = Kind::kInt;
  std::int64_t i = 0;
  float f = 0;
  std::string s;
  std::vector<std::int64_t> ints;
  std::vector<float> floats;
  std::vector<std::string> strings;
  std::shared_ptr<const Tensor> tensor;
  std::shared_ptr<const Graph> graph;
  std::vector<std::shared_ptr<const Graph>> graphs;

  // Builders for the kinds that passes and importers create.
  static Attribute Int(std::int64_t v) {
    Attribute a;
    a.kind = Kind::kInt;
    a.i = v;
    return a;
  }
  static Attribute Float(float v) {
    Attribute a;
    a.kind = Kind::kFloat;
    a.f = v;
    return a;
  }
  static Attribute String(std::string v) {
    Attribute a;
    a.kind = Kind::kString;
    a.s = std::move(v);
    return a;
  }
  static Attribute Ints(std::vector<std::int64_t> v) {
    Attribute a;
    a.kind = Kind::kInts;
    a.ints = std::move(v);
    return a;
  }
  static Attribute Floats(std::vector<float> v) {
    Attribute a;
    a.kind = Kind::kFloats;
    a.floats = std::move(v);
    return a;
  }
};

struct Node {
  std::string name;
  std::string op_type;
  std::string domain;                // "" is the default ONNX domain (ai.onnx)
  int opset = 0;                     // the model's opset version for `domain`
  std::vector<std::string> inputs;   // value names; "" marks an omitted optional input
  std::vector<std::string> outputs;  // value names; "" marks an omitted optional output
  std::map<std::string, Attribute> attributes;

  const Attribute* Find(std::string_view attr) const;
  bool Has(std::string_view attr) const { return Find(attr) != nullptr; }
  // Typed getters: the default when the attribute is absent.
  std::int64_t GetInt(std::string_view attr, std::int64_t fallback) const;
  float GetFloat(std::string_view attr, float fallback) const;
  std::string GetString(std::string_view attr, std::string fallback) const;
  std::vector<std::int64_t> GetInts(std::string_view attr,
                                    std::vector<std::int64_t> fallback = {}) const;
  std::vector<float> GetFloats(std::string_view attr, std::vector<float> fallback = {}) const;
  // "Conv 'conv1' (ai.onnx opset 13)": how errors name a node.
  std::string Describe() const;
};

struct ValueInfo {
  std::string name;
  std::optional<DType> dtype;  // nullopt: unknown or a type DeepEdge lacks
  std::optional<Shape> shape;  // nullopt: rank unknown; dims may be Shape::kDynamic
};

struct Graph {
  std::string name;
  std::vector<ValueInfo> inputs;  // graph inputs that are not initializers
  std::vector<ValueInfo> outputs;
  std::map<std::string, std::shared_ptr<const Tensor>> initializers;
  std::vector<Node> nodes;            // topological order
  std::vector<ValueInfo> value_info;  // types of intermediate values, where known
};

struct Model {
  Graph graph;
  std::map<std::string, int> opsets;  // domain -> version ("" = ai.onnx)
  std::int64_t ir_version = 0;
  std::string producer;
  std::map<std::string, std::string> metadata;
};

}  // namespace deepedge::ir
