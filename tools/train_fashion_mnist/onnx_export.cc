#include "onnx_export.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <climits>
#include <exception>
#include <set>

#include "model_spec.h"
#include "zoo/graph_builder.h"

namespace deepedge::train {

namespace {

std::string DimsString(const std::vector<std::int64_t>& dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

// The graph, layer for layer as the libtorch model computes it.
std::string BuildGraph(zoo::GraphBuilder& b, const std::string& input) {
  using zoo::Activation;
  std::int64_t channels = kStemChannels;
  std::string x =
      b.ConvBnAct("conv0", input,
                  {.in_channels = 1, .out_channels = channels, .kernel = 3, .stride = 1, .pad = 1},
                  Activation::kRelu);
  int i = 1;
  for (const BlockSpec& blk : kBlocks) {
    const std::string name = "block" + std::to_string(i++);
    x = b.ConvBnAct(name + ".dw", x,
                    {.in_channels = channels,
                     .out_channels = channels,
                     .kernel = 3,
                     .stride = blk.stride,
                     .pad = 1,
                     .group = channels},
                    Activation::kRelu);
    x = b.ConvBnAct(name + ".pw", x, {.in_channels = channels, .out_channels = blk.out},
                    Activation::kRelu);
    channels = blk.out;
  }
  x = b.GlobalAveragePool("pool", x);
  x = b.Flatten("flatten", x);
  x = b.Gemm("fc", x, channels, kClasses, /*last=*/true);
  return b.Softmax("output", x, 1);
}

}  // namespace

Expected<std::vector<std::uint8_t>> ExportOnnx(
    const WeightMap& weights, const std::vector<std::pair<std::string, std::string>>& metadata) {
  try {
    onnx::ModelProto model;
    model.set_ir_version(7);  // as the zoo: ONNX 1.8, opset 13
    model.set_producer_name("deepedge-train-fashion-mnist");
    model.set_producer_version("1");
    model.set_doc_string(
        "Fashion-MNIST classifier: a small MobileNet-style CNN trained by DeepEdge's "
        "tools/train_fashion_mnist (libtorch). Input: float [N, 1, 28, 28], grey "
        "pixel / 255, white garment on black as in the IDX files. Output: probabilities "
        "of the 10 classes (0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, "
        "5 Sandal, 6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot).");
    onnx::OperatorSetIdProto* opset = model.add_opset_import();
    opset->set_domain("");
    opset->set_version(13);
    auto add_meta = [&model](const std::string& key, const std::string& value) {
      onnx::StringStringEntryProto* p = model.add_metadata_props();
      p->set_key(key);
      p->set_value(value);
    };
    add_meta("deepedge.weights", "trained");
    for (const auto& [k, v] : metadata) add_meta(k, v);

    onnx::GraphProto* graph = model.mutable_graph();
    graph->set_name("fashion_mnist_cnn");
    zoo::SetFloatValueInfo(graph->add_input(), "input", {-1, 1, kImageSize, kImageSize}, "N");
    zoo::SetFloatValueInfo(graph->add_output(), "output", {-1, kClasses}, "N");

    // Every initializer must come from `weights`: a synthetic value in a trained
    // model would be a silent error.
    std::set<std::string> used;
    std::string error;
    zoo::GraphBuilder b(graph, /*seed=*/0);
    b.SetWeightSource([&](const std::string& name, const std::vector<std::int64_t>& dims,
                          std::span<float> values) {
      const auto it = weights.find(name);
      if (it == weights.end()) {
        if (error.empty()) error = "no trained weight '" + name + "' " + DimsString(dims);
        return false;
      }
      if (it->second.dims != dims || it->second.values.size() != values.size()) {
        if (error.empty()) {
          error = "weight '" + name + "' is " + DimsString(it->second.dims) + ", the graph needs " +
                  DimsString(dims);
        }
        return false;
      }
      std::copy(it->second.values.begin(), it->second.values.end(), values.begin());
      used.insert(name);
      return true;
    });
    BuildGraph(b, "input");
    if (!error.empty()) return InvalidArgument(error);
    for (const auto& [name, t] : weights) {
      if (!used.contains(name)) {
        return InvalidArgument("weight '" + name + "' " + DimsString(t.dims) +
                               " is not used by the exported graph");
      }
    }

    try {
      onnx::checker::check_model(model);
      // Shape inference in strict mode also catches inconsistent dims between nodes.
      onnx::ModelProto inferred = model;
      onnx::shape_inference::InferShapes(
          inferred, onnx::OpSchemaRegistry::Instance(),
          onnx::ShapeInferenceOptions(/*check_type_val=*/true, /*strict_mode_val=*/1));
    } catch (const std::exception& e) {
      return Internal(std::string("the ONNX checker rejects the exported model: ") + e.what());
    }

    const std::size_t size = model.ByteSizeLong();
    if (size > static_cast<std::size_t>(INT_MAX)) return Internal("model exceeds 2 GiB");
    std::vector<std::uint8_t> bytes(size);
    if (!model.SerializeToArray(bytes.data(), static_cast<int>(size))) {
      return Internal("protobuf serialization failed");
    }
    return bytes;
  } catch (const std::exception& e) {
    return Internal(std::string("exporting the model: ") + e.what());
  }
}

}  // namespace deepedge::train
