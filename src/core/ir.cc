#include "deepedge/ir.h"

namespace deepedge::ir {

const Attribute* Node::Find(std::string_view attr) const {
  auto it = attributes.find(std::string(attr));
  return it == attributes.end() ? nullptr : &it->second;
}

std::int64_t Node::GetInt(std::string_view attr, std::int64_t fallback) const {
  const Attribute* a = Find(attr);
  return a ? a->i : fallback;
}

float Node::GetFloat(std::string_view attr, float fallback) const {
  const Attribute* a = Find(attr);
  return a ? a->f : fallback;
}

std::string Node::GetString(std::string_view attr, std::string fallback) const {
  const Attribute* a = Find(attr);
  return a ? a->s : fallback;
}

std::vector<std::int64_t> Node::GetInts(std::string_view attr,
                                        std::vector<std::int64_t> fallback) const {
  const Attribute* a = Find(attr);
  return a ? a->ints : fallback;
}

std::vector<float> Node::GetFloats(std::string_view attr, std::vector<float> fallback) const {
  const Attribute* a = Find(attr);
  return a ? a->floats : fallback;
}

std::string Node::Describe() const {
  return op_type + " '" + name + "' (" + (domain.empty() ? std::string("ai.onnx") : domain) +
         " opset " + std::to_string(opset) + ")";
}

}  // namespace deepedge::ir
