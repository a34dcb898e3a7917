// Operator census and MAC counting for ONNX graphs (private to deepedge_onnx).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <onnx/onnx_pb.h>

namespace deepedge::onnx_internal {

struct OpCensus {
  std::map<std::string, std::int64_t> counts;  // op_type -> nodes, subgraphs included
  bool mac_ops_in_subgraphs = false;           // a Conv/Gemm/MatMul inside If/Loop/Scan
};

// Counts the nodes of `graph` and of every subgraph held in node attributes.
OpCensus CountOperators(const onnx::GraphProto& graph);

// Multiply-accumulates of the main graph's Conv, ConvTranspose, Gemm, MatMul and
// their integer / QLinear forms, for one inference with every dynamic input
// dimension set to 1. Modifies `model` to get there: fixes those dimensions,
// replaces value_info with the result of shape inference. nullopt when shape
// inference fails or leaves a needed shape unknown.
std::optional<std::int64_t> ComputeMacs(onnx::ModelProto* model);

}  // namespace deepedge::onnx_internal
