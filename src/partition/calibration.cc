// Single-layer models for the calibration sweep, written with the zoo's graph builder.
#include <onnx/onnx_pb.h>

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "deepedge/partition.h"
#include "zoo/graph_builder.h"
#include "zoo/models.h"

namespace deepedge::partition {
namespace {

using Dims = std::vector<std::int64_t>;
using Build = std::function<std::string(zoo::GraphBuilder&, const std::string& x)>;

// A model of opset 13 whose graph, "calib", the caller fills.
onnx::GraphProto* NewCalibrationGraph(onnx::ModelProto& m) {
  m.set_ir_version(7);
  m.set_producer_name("deepedge-calibrate");
  auto* opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(13);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("calib");
  return g;
}

// `m` serialized: a calibration case's or a reference network's model bytes.
Expected<std::vector<std::uint8_t>> Serialized(const onnx::ModelProto& m) {
  std::string bytes;
  if (!m.SerializeToString(&bytes)) return Internal("serializing a calibration model failed");
  return std::vector<std::uint8_t>(bytes.begin(), bytes.end());
}

// The calibration case of model `m`, whose timed node is `layer`.
Expected<CalibrationCase> CaseOf(const onnx::ModelProto& m, const std::string& cls,
                                 const std::string& desc, const std::string& layer) {
  CalibrationCase c;
  c.layer_class = cls;
  c.description = desc;
  c.layer = layer;
  DEEPEDGE_ASSIGN_OR_RETURN(c.model, Serialized(m));
  return c;
}

Expected<CalibrationCase> Make(const std::string& cls, const std::string& desc, const Dims& in,
                               const Dims& out, const Build& build, int extra_inputs = 0) {
  onnx::ModelProto m;
  onnx::GraphProto* g = NewCalibrationGraph(m);
  zoo::SetFloatValueInfo(g->add_input(), "x", in, "");
  for (int i = 0; i < extra_inputs; ++i)
    zoo::SetFloatValueInfo(g->add_input(), "x" + std::to_string(i + 1), in, "");
  zoo::GraphBuilder b(g, 7);
  const std::string y = build(b, "x");
  zoo::SetFloatValueInfo(g->add_output(), y, out, "");
  return CaseOf(m, cls, desc, g->node(g->node_size() - 1).name());
}

void AddWeights(onnx::GraphProto* g, const std::string& name, const Dims& dims);

// An INTS attribute of `n`.
void AddInts(onnx::NodeProto* n, const char* name, const Dims& values) {
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (std::int64_t v : values) a->add_ints(v);
}

// One node of `op` on input "x" (Resize: nearest, with constant `scales`, after a 1x1
// convolution;
// Transpose: `perm`).
Expected<CalibrationCase> MakeNode(const std::string& cls, const Dims& in, const Dims& out,
                                   const std::string& op, const std::vector<float>& scales,
                                   const Dims& perm = {}) {
  onnx::ModelProto m;
  onnx::GraphProto* g = NewCalibrationGraph(m);
  zoo::SetFloatValueInfo(g->add_input(), "x", in, "");
  if (op == "Resize") {
    // In a model a nearest upsampling follows a convolution, inside an XNNPACK region,
    // where it copies NHWC pixels whole: 0.9 ms for 96x80x80 -> 160x160 in PP-OCRv4's
    // neck. Alone (a region needs a convolution) it ran on the NCHW kernel, 2.5 ms.
    AddWeights(g, "pre_w", {in[1], in[1], 1, 1});
    onnx::NodeProto* pre = g->add_node();
    pre->set_op_type("Conv");
    pre->set_name("pre");
    pre->add_input("x");
    pre->add_input("pre_w");
    pre->add_output("x_conv");
  }
  onnx::NodeProto* n = g->add_node();
  n->set_op_type(op);
  n->set_name("layer");
  n->add_input(op == "Resize" ? "x_conv" : "x");
  if (op == "Resize") {
    n->add_input("");  // roi
    n->add_input("scales");
    onnx::TensorProto* t = g->add_initializer();
    t->set_name("scales");
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->add_dims(static_cast<std::int64_t>(scales.size()));
    for (float v : scales) t->add_float_data(v);
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name("mode");
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s("nearest");
  }
  if (op == "Transpose") AddInts(n, "perm", perm);
  n->add_output("layer");
  zoo::SetFloatValueInfo(g->add_output(), "layer", out, "");
  std::string desc;
  for (std::size_t i = 1; i < in.size(); ++i) desc += (i > 1 ? "x" : "") + std::to_string(in[i]);
  return CaseOf(m, cls, op + " " + desc, "layer");
}

std::int64_t OutSize(std::int64_t hw, std::int64_t k, std::int64_t s, std::int64_t pad) {
  return (hw + 2 * pad - k) / s + 1;
}

Expected<CalibrationCase> ConvCase(const std::string& cls, std::int64_t cin, std::int64_t cout,
                                   std::int64_t hw, std::int64_t k, std::int64_t s,
                                   std::int64_t group) {
  const std::int64_t pad = k / 2, o = OutSize(hw, k, s, pad);
  std::string desc = "conv " + std::to_string(cin) + "->" + std::to_string(cout) + " " +
                     std::to_string(k) + "x" + std::to_string(k) + " s" + std::to_string(s) + " " +
                     std::to_string(hw) + "x" + std::to_string(hw);
  if (group > 1) desc += " g" + std::to_string(group);
  return Make(cls, desc, {1, cin, hw, hw}, {1, cout, o, o},
              [&](zoo::GraphBuilder& b, const std::string& x) {
                return b.Conv("layer", x,
                              {.in_channels = cin,
                               .out_channels = cout,
                               .kernel = k,
                               .stride = s,
                               .pad = pad,
                               .group = group,
                               .bias = true});
              });
}

// A float initializer of `dims` with small repeating values.
void AddWeights(onnx::GraphProto* g, const std::string& name, const Dims& dims) {
  onnx::TensorProto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  std::int64_t count = 1;
  for (std::int64_t d : dims) {
    t->add_dims(d);
    count *= d;
  }
  for (std::int64_t i = 0; i < count; ++i) t->add_float_data(0.01f * static_cast<float>(i % 7));
}

// One LSTM node (forward, batch 1, weights and biases as initializers, zero initial
// state): x [steps, 1, input] -> Y [steps, 1, 1, hidden].
Expected<CalibrationCase> LstmCase(std::int64_t steps, std::int64_t input, std::int64_t hidden) {
  onnx::ModelProto m;
  onnx::GraphProto* g = NewCalibrationGraph(m);
  zoo::SetFloatValueInfo(g->add_input(), "x", {steps, 1, input}, "");
  AddWeights(g, "w", {1, 4 * hidden, input});
  AddWeights(g, "r", {1, 4 * hidden, hidden});
  AddWeights(g, "b", {1, 8 * hidden});
  onnx::NodeProto* n = g->add_node();
  n->set_op_type("LSTM");
  n->set_name("layer");
  for (const char* in : {"x", "w", "r", "b"}) n->add_input(in);
  n->add_output("layer");
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name("hidden_size");
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(hidden);
  zoo::SetFloatValueInfo(g->add_output(), "layer", {steps, 1, 1, hidden}, "");
  return CaseOf(m, "lstm",
                "lstm " + std::to_string(input) + "->" + std::to_string(hidden) + " x" +
                    std::to_string(steps) + " steps",
                "layer");
}

// One ConvTranspose node: x [1, cin, hw, hw] -> [1, cout, hw * s, hw * s] (kernel k, stride
// s, pads (k - s) / 2 each side), weights [cin, cout, k, k] and a bias.
Expected<CalibrationCase> DeconvCase(std::int64_t cin, std::int64_t cout, std::int64_t hw,
                                     std::int64_t k, std::int64_t s) {
  onnx::ModelProto m;
  onnx::GraphProto* g = NewCalibrationGraph(m);
  const std::int64_t pad = (k - s) / 2, o = hw * s;
  zoo::SetFloatValueInfo(g->add_input(), "x", {1, cin, hw, hw}, "");
  AddWeights(g, "w", {cin, cout, k, k});
  AddWeights(g, "b", {cout});
  onnx::NodeProto* n = g->add_node();
  n->set_op_type("ConvTranspose");
  n->set_name("layer");
  for (const char* in : {"x", "w", "b"}) n->add_input(in);
  n->add_output("layer");
  AddInts(n, "kernel_shape", {k, k});
  AddInts(n, "strides", {s, s});
  AddInts(n, "pads", {pad, pad, pad, pad});
  zoo::SetFloatValueInfo(g->add_output(), "layer", {1, cout, o, o}, "");
  return CaseOf(m, "deconv",
                "deconv " + std::to_string(cin) + "->" + std::to_string(cout) + " " +
                    std::to_string(k) + "x" + std::to_string(k) + " s" + std::to_string(s) + " " +
                    std::to_string(hw) + "x" + std::to_string(hw),
                "layer");
}

// One Conv node of any rank and kernel (the zoo's builder makes square 2-D ones only):
// x [1, cin, spatial...], weights [cout, cin, kernel...] and a bias, no padding but
// `pads` (begins then ends).
Expected<CalibrationCase> ShapedConvCase(const std::string& cls, const std::string& desc,
                                         std::int64_t cin, std::int64_t cout, const Dims& spatial,
                                         const Dims& kernel, const Dims& strides,
                                         const Dims& pads) {
  onnx::ModelProto m;
  onnx::GraphProto* g = NewCalibrationGraph(m);
  Dims in = {1, cin}, out = {1, cout}, wdims = {cout, cin};
  for (std::size_t i = 0; i < spatial.size(); ++i) {
    in.push_back(spatial[i]);
    out.push_back((spatial[i] + pads[i] + pads[i + spatial.size()] - kernel[i]) / strides[i] + 1);
    wdims.push_back(kernel[i]);
  }
  zoo::SetFloatValueInfo(g->add_input(), "x", in, "");
  AddWeights(g, "w", wdims);
  AddWeights(g, "b", {cout});
  onnx::NodeProto* n = g->add_node();
  n->set_op_type("Conv");
  n->set_name("layer");
  n->add_input("x");
  n->add_input("w");
  n->add_input("b");
  n->add_output("layer");
  AddInts(n, "kernel_shape", kernel);
  AddInts(n, "strides", strides);
  AddInts(n, "pads", pads);
  zoo::SetFloatValueInfo(g->add_output(), "layer", out, "");
  return CaseOf(m, cls, desc, "layer");
}

}  // namespace

Expected<std::vector<CalibrationCase>> CalibrationCases(bool quick) {
  std::vector<CalibrationCase> cases;
  auto add = [&](Expected<CalibrationCase> c) -> Status {
    if (!c) return c.status();
    cases.push_back(std::move(*c));
    return Status::Ok();
  };
  auto pick = [&](auto v) {
    if (quick && v.size() > 3) v.resize(3);
    return v;
  };
  struct C {
    std::int64_t cin, cout, hw, k, s, group = 1;
  };
  // Four classes, as LayerClass splits them: kxk (3x3 stride 1 apart), 1x1 and grouped
  // convolutions.
  std::map<std::string, std::vector<C>> kxk;
  for (const C& c : std::vector<C>{{3, 32, 224, 3, 2},
                                   {32, 64, 56, 3, 1},
                                   {64, 128, 28, 3, 1},
                                   {16, 32, 112, 3, 1},
                                   {128, 128, 28, 3, 1},
                                   {256, 256, 14, 3, 1},
                                   {512, 512, 7, 3, 1},
                                   {3, 64, 224, 7, 2},
                                   {3, 96, 227, 11, 4},
                                   {96, 256, 27, 5, 1},
                                   // Detector-sized maps (PP-OCR at 640x640): few
                                   // channels, large planes, out of the caches.
                                   {8, 16, 320, 3, 1},
                                   {32, 32, 160, 3, 1},
                                   // Narrow layers (keyword spotters, MobileNet 0.25):
                                   // under 5 M MACs.
                                   {32, 32, 28, 3, 1},
                                   {1, 24, 76, 3, 1},
                                   {24, 32, 38, 3, 1},
                                   {64, 64, 14, 3, 1},
                                   // Strided 3x3 (ResNet's downsampling) and small maps.
                                   {64, 128, 56, 3, 2},
                                   {128, 256, 28, 3, 2},
                                   {256, 512, 14, 3, 2},
                                   {256, 256, 7, 3, 1},
                                   {16, 16, 56, 3, 1},
                                   {64, 64, 56, 3, 1},
                                   {3, 16, 320, 3, 2},
                                   // Narrow stems (MobileNet 0.25) and an FPN head's
                                   // wide-in, narrow-out 3x3 on a large map.
                                   {3, 8, 224, 3, 2},
                                   {3, 16, 224, 3, 2},
                                   {96, 24, 160, 3, 1},
                                   // Expanding 3x3 (SqueezeNet's fire modules): few
                                   // input channels, four times as many out.
                                   {16, 64, 48, 3, 1},
                                   {32, 128, 24, 3, 1},
                                   {48, 192, 12, 3, 1},
                                   // Layers whose data fit the caches, for the warm
                                   // fits (RunsFromCaches): 5+ per class.
                                   {64, 64, 7, 3, 1},
                                   {128, 128, 7, 3, 1},
                                   {128, 128, 14, 3, 1}}) {
    // Classed by LayerClass itself: 3x3 stride 1 may be "conv3x3".
    Layer l;
    l.type = "Conv";
    l.kernel_size = c.k * c.k;
    l.kernel_shape = {c.k, c.k};
    l.strides = {c.s, c.s};
    l.channels_per_group = c.cin;
    const std::int64_t o = OutSize(c.hw, c.k, c.s, c.k / 2);
    l.output_dims = {1, c.cout, o, o};
    kxk[LayerClass(l)].push_back(c);
  }
  for (const auto& [cls, convs] : kxk) {
    for (const C& c : pick(convs))
      DEEPEDGE_RETURN_IF_ERROR(add(ConvCase(cls, c.cin, c.cout, c.hw, c.k, c.s, 1)));
  }
  // One-sided filters (keyword spotters: 1x3 and 3x1), which run on the engine's im2col
  // product at MAC rates unlike the square filters', and 1-D convolutions (a
  // spectrogram's STFT and a VAD's front end: one channel, long filters, few outputs,
  // bound by their weights; a VAD's encoder), a class of their own.
  if (!quick) {
    DEEPEDGE_RETURN_IF_ERROR(add(ShapedConvCase("conv", "conv 24->24 1x3 76x32", 24, 24, {76, 32},
                                                {1, 3}, {1, 1}, {0, 1, 0, 1})));
    DEEPEDGE_RETURN_IF_ERROR(add(ShapedConvCase("conv", "conv 48->48 3x1 38x16", 48, 48, {38, 16},
                                                {3, 1}, {1, 1}, {0, 0, 0, 0})));
    DEEPEDGE_RETURN_IF_ERROR(add(ShapedConvCase("conv", "conv 96->96 1x3 9x4", 96, 96, {9, 4},
                                                {1, 3}, {1, 1}, {0, 1, 0, 1})));
  }
  struct C1 {
    std::int64_t cin, cout, len, k, s;
  };
  for (const C1& c : pick(std::vector<C1>{{1, 257, 1760, 512, 160},
                                          {129, 128, 4, 3, 1},
                                          {1, 258, 640, 256, 128},
                                          {64, 64, 256, 3, 1},
                                          {16, 32, 512, 5, 2},
                                          {1, 129, 1024, 256, 64},
                                          // A VAD's narrow encoder and one-channel head:
                                          // 2-20 us, which the large cases' 30 us
                                          // intercept over-predicted 3-10x.
                                          {128, 64, 4, 3, 2},
                                          {64, 64, 2, 3, 2},
                                          {128, 1, 1, 1, 1}})) {
    const std::int64_t pad = c.k <= 5 ? c.k / 2 : 0;
    DEEPEDGE_RETURN_IF_ERROR(add(ShapedConvCase(
        "conv1d",
        "conv 1-D " + std::to_string(c.cin) + "->" + std::to_string(c.cout) + " k" +
            std::to_string(c.k) + " s" + std::to_string(c.s) + " " + std::to_string(c.len),
        c.cin, c.cout, {c.len}, {c.k}, {c.s}, {pad, pad})));
  }
  for (const C& c : pick(std::vector<C>{{64, 64, 56, 1, 1},
                                        {128, 256, 28, 1, 2},
                                        {256, 512, 14, 1, 1},
                                        {16, 64, 160, 1, 1},
                                        {32, 64, 112, 1, 1},
                                        {512, 512, 14, 1, 1},
                                        {1024, 1024, 7, 1, 1},
                                        {24, 144, 56, 1, 1},
                                        {144, 24, 56, 1, 1},
                                        {64, 64, 14, 1, 1},
                                        {256, 256, 7, 1, 1},
                                        {960, 160, 7, 1, 1},
                                        {512, 512, 7, 1, 1},
                                        {128, 512, 14, 1, 1}})) {
    DEEPEDGE_RETURN_IF_ERROR(add(ConvCase("conv1x1", c.cin, c.cout, c.hw, c.k, c.s, 1)));
  }
  for (const C& c : pick(std::vector<C>{{96, 256, 27, 5, 1, 2},
                                        {256, 384, 13, 3, 1, 2},
                                        {384, 384, 13, 3, 1, 2},
                                        {384, 256, 13, 3, 1, 2},
                                        {128, 128, 28, 3, 1, 8},
                                        {256, 256, 14, 3, 1, 32},
                                        {64, 64, 56, 3, 1, 4},
                                        {240, 240, 28, 1, 1, 3}})) {
    DEEPEDGE_RETURN_IF_ERROR(add(ConvCase("gconv", c.cin, c.cout, c.hw, c.k, c.s, c.group)));
  }
  struct D {
    std::int64_t c, hw, s, k = 3;
  };
  // 5x5 too (PP-LCNet, MobileNet v3): at the same bytes it does 2.8x the MACs.
  for (const D& d : pick(std::vector<D>{{32, 112, 1},
                                        {64, 112, 2},
                                        {128, 56, 1},
                                        {256, 28, 1},
                                        {512, 14, 1},
                                        {1024, 7, 1},
                                        {144, 56, 1},
                                        {384, 14, 1},
                                        {16, 320, 1},
                                        {64, 160, 1},
                                        {96, 40, 1, 5},
                                        {192, 20, 1, 5},
                                        {48, 80, 2, 5},
                                        // Narrow layers (MobileNet 0.25): 8 to 64 channels.
                                        {8, 112, 1},
                                        {16, 112, 2},
                                        {32, 56, 1},
                                        {64, 28, 1}})) {
    const std::int64_t pad = d.k / 2, o = OutSize(d.hw, d.k, d.s, pad);
    DEEPEDGE_RETURN_IF_ERROR(add(Make(
        "depthwise",
        "depthwise " + std::to_string(d.c) + " " + std::to_string(d.k) + "x" + std::to_string(d.k) +
            " s" + std::to_string(d.s) + " " + std::to_string(d.hw) + "x" + std::to_string(d.hw),
        {1, d.c, d.hw, d.hw}, {1, d.c, o, o}, [&](zoo::GraphBuilder& b, const std::string& x) {
          return b.Conv("layer", x,
                        {.in_channels = d.c,
                         .out_channels = d.c,
                         .kernel = d.k,
                         .stride = d.s,
                         .pad = pad,
                         .group = d.c,
                         .bias = true});
        })));
  }
  struct F {
    std::int64_t in, out;
  };
  for (const F& f : pick(std::vector<F>{{512, 1000},
                                        {1024, 1000},
                                        {256, 100},
                                        {2048, 1000},
                                        {4096, 4096},
                                        {9216, 4096},
                                        {1280, 1000},
                                        // Weights streamed from memory (16-32 MB, as
                                        // VGG's and AlexNet's heads): with two such cases
                                        // of twelve the fit ran 13 % under them.
                                        {4096, 1000},
                                        {2048, 2048},
                                        {8192, 1024},
                                        // Cache-resident and tiny (keyword spotters'
                                        // heads: 0.8-20 us).
                                        {1536, 128},
                                        {128, 128},
                                        {128, 1},
                                        {512, 256},
                                        {96, 64}})) {
    DEEPEDGE_RETURN_IF_ERROR(
        add(Make("fc", "fc " + std::to_string(f.in) + "->" + std::to_string(f.out), {1, f.in},
                 {1, f.out}, [&](zoo::GraphBuilder& b, const std::string& x) {
                   return b.Gemm("layer", x, f.in, f.out);
                 })));
  }
  // Several rows: the products of attention and feed-forward layers (PP-OCRv4's
  // recogniser: 40 tokens of 120 channels).
  struct R {
    std::int64_t rows, in, out;
  };
  for (const R& f :
       pick(std::vector<R>{{40, 120, 360},
                           {40, 120, 240},
                           {80, 64, 256},
                           {196, 256, 1024},
                           {40, 480, 120},
                           // A spectrogram's mel filter bank (8 frames, 257 bins, 32 mels): 9 us.
                           {8, 257, 32}})) {
    DEEPEDGE_RETURN_IF_ERROR(
        add(Make("matmul",
                 "matmul " + std::to_string(f.rows) + "x" + std::to_string(f.in) + "->" +
                     std::to_string(f.out),
                 {f.rows, f.in}, {f.rows, f.out}, [&](zoo::GraphBuilder& b, const std::string& x) {
                   return b.Gemm("layer", x, f.in, f.out);
                 })));
  }
  // Transposed convolutions (a segmentation or text detector's upsampling head: PP-OCRv4's
  // 24 -> 24 2x2 from 160x160, 8 ms, which the conv fit put at 1.8 ms).
  for (const C& t : pick(std::vector<C>{{24, 24, 160, 2, 2},
                                        {24, 1, 320, 2, 2},
                                        {64, 64, 40, 2, 2},
                                        {96, 96, 20, 2, 2},
                                        {32, 16, 80, 4, 2},
                                        {16, 16, 28, 2, 2}}))
    DEEPEDGE_RETURN_IF_ERROR(add(DeconvCase(t.cin, t.cout, t.hw, t.k, t.s)));
  // Recurrent layers (a VAD's LSTM: one step, 128 -> 128), by MACs.
  struct L {
    std::int64_t steps, input, hidden;
  };
  for (const L& l : pick(std::vector<L>{
           {1, 128, 128}, {1, 64, 64}, {10, 32, 64}, {1, 256, 256}, {20, 40, 128}, {4, 128, 128}}))
    DEEPEDGE_RETURN_IF_ERROR(add(LstmCase(l.steps, l.input, l.hidden)));
  struct P {
    std::int64_t c, hw, k, s;  // k == 0: global average pool
  };
  for (const P& p : pick(std::vector<P>{{64, 112, 3, 2},
                                        {512, 7, 0, 0},
                                        {96, 55, 3, 2},
                                        {256, 27, 3, 2},
                                        {1024, 7, 0, 0},
                                        {64, 56, 0, 0},
                                        {256, 13, 3, 2},
                                        {512, 14, 0, 0},
                                        {128, 28, 3, 2}})) {
    const std::int64_t o = p.k == 0 ? 1 : OutSize(p.hw, p.k, p.s, p.hw == 112 ? 1 : 0);
    DEEPEDGE_RETURN_IF_ERROR(add(
        Make("pool",
             (p.k == 0 ? "global average pool " : "max pool 3x3 s2 ") + std::to_string(p.c) + "x" +
                 std::to_string(p.hw) + "x" + std::to_string(p.hw),
             {1, p.c, p.hw, p.hw}, {1, p.c, o, o}, [&](zoo::GraphBuilder& b, const std::string& x) {
               // In a model a pooling follows a convolution, inside its XNNPACK region
               // (NHWC); alone (a region needs a convolution) it ran on the NCHW kernel,
               // 7x slower (AlexNet's first max pool: 0.24 ms alone, 0.033 ms in the model).
               const std::string conv = b.Conv(
                   "pre", x, {.in_channels = p.c, .out_channels = p.c, .kernel = 1, .bias = true});
               return p.k == 0 ? b.GlobalAveragePool("layer", conv)
                               : b.MaxPool("layer", conv, p.k, p.s, p.hw == 112 ? 1 : 0);
             })));
  }
  struct E {
    std::int64_t c, hw;
  };
  // Down to 128 values (a keyword spotter's LayerNorm arithmetic, 0.3-1.5 us): from the
  // large cases alone the intercept came out at 3 us, and every small element-wise
  // layer, and every uncalibrated one priced by this fit, 2-10x too slow.
  const std::vector<E> sizes = {{64, 56}, {128, 28}, {32, 112}, {256, 14}, {512, 7},
                                {24, 56}, {64, 112}, {16, 320}, {64, 160}, {128, 1},
                                {96, 4},  {64, 14},  {32, 28}};
  for (const E& e : pick(sizes)) {
    const Dims d = {1, e.c, e.hw, e.hw};
    const std::string sz =
        std::to_string(e.c) + "x" + std::to_string(e.hw) + "x" + std::to_string(e.hw);
    DEEPEDGE_RETURN_IF_ERROR(add(Make(
        "eltwise", "add " + sz, d, d,
        [&](zoo::GraphBuilder& b, const std::string& x) { return b.Add("layer", x, "x1"); }, 1)));
  }
  int flip = 0;
  for (const E& e : pick(sizes)) {
    const Dims d = {1, e.c, e.hw, e.hw};
    const bool relu6 = (flip++ % 2) == 1;
    const std::string sz =
        std::to_string(e.c) + "x" + std::to_string(e.hw) + "x" + std::to_string(e.hw);
    DEEPEDGE_RETURN_IF_ERROR(add(Make("activation", (relu6 ? "relu6 " : "relu ") + sz, d, d,
                                      [&](zoo::GraphBuilder& b, const std::string& x) {
                                        return relu6 ? b.Relu6("layer", x) : b.Relu("layer", x);
                                      })));
  }
  for (const E& e : pick(std::vector<E>{{32, 112}, {64, 56}, {256, 14}, {512, 7}, {128, 28}})) {
    const Dims d = {1, e.c, e.hw, e.hw};
    DEEPEDGE_RETURN_IF_ERROR(add(Make(
        "batchnorm", "batchnorm " + std::to_string(e.c) + "x" + std::to_string(e.hw), d, d,
        [&](zoo::GraphBuilder& b, const std::string& x) { return b.BatchNorm("layer", x, e.c); })));
  }
  for (const E& e : pick(std::vector<E>{{96, 55}, {256, 27}, {64, 56}, {128, 28}})) {
    const Dims d = {1, e.c, e.hw, e.hw};
    DEEPEDGE_RETURN_IF_ERROR(
        add(Make("lrn", "lrn " + std::to_string(e.c) + "x" + std::to_string(e.hw), d, d,
                 [&](zoo::GraphBuilder& b, const std::string& x) {
                   return b.Lrn("layer", x, 5, 1e-4f, 0.75f, 1.0f);
                 })));
  }
  for (std::int64_t n : pick(std::vector<std::int64_t>{1000, 10, 4096, 21841})) {
    DEEPEDGE_RETURN_IF_ERROR(add(Make(
        "softmax", "softmax " + std::to_string(n), {1, n}, {1, n},
        [&](zoo::GraphBuilder& b, const std::string& x) { return b.Softmax("layer", x, 1); })));
  }
  // A Sigmoid costs an exp per element, 10-20x a Relu of the same size: a class of its
  // own. (Tanh, 20x a Sigmoid in this engine, is left uncalibrated.)
  for (const E& e : pick(std::vector<E>{{64, 56}, {32, 112}, {256, 14}, {16, 160}, {128, 28}})) {
    const Dims d = {1, e.c, e.hw, e.hw};
    DEEPEDGE_RETURN_IF_ERROR(add(MakeNode("sigmoid", d, d, "Sigmoid", {})));
  }
  // Nearest-neighbour upsampling (FPN necks): a class of its own, by bytes.
  for (const E& e : pick(std::vector<E>{{96, 20}, {96, 40}, {24, 80}, {96, 80}, {256, 14}})) {
    const Dims in = {1, e.c, e.hw, e.hw}, out = {1, e.c, 2 * e.hw, 2 * e.hw};
    DEEPEDGE_RETURN_IF_ERROR(add(MakeNode("resize", in, out, "Resize", {1, 1, 2, 2})));
  }
  // Transposes move every element to a strided place: 5-7 us for a spectrogram's 8x257
  // frames, where a Flatten (a view) costs 0.5 us.
  for (const E& e : pick(std::vector<E>{
           {8, 257}, {40, 120}, {196, 64}, {784, 256}, {256, 1}, {3136, 64}, {128, 196}})) {
    DEEPEDGE_RETURN_IF_ERROR(
        add(MakeNode("transpose", {1, e.c, e.hw}, {1, e.hw, e.c}, "Transpose", {}, {0, 2, 1})));
  }
  // Two convolutions' maps joined on channels, inside their XNNPACK region as in a
  // model (SqueezeNet's fire modules, a detector's neck).
  for (const E& e : pick(std::vector<E>{
           {64, 55}, {128, 27}, {256, 13}, {32, 56}, {96, 28}, {64, 80}, {16, 160}, {128, 14}})) {
    const std::string sz =
        std::to_string(e.c) + "x" + std::to_string(e.hw) + "x" + std::to_string(e.hw);
    DEEPEDGE_RETURN_IF_ERROR(
        add(Make("concat", "concat 2x " + sz, {1, e.c, e.hw, e.hw}, {1, 2 * e.c, e.hw, e.hw},
                 [&](zoo::GraphBuilder& b, const std::string& x) {
                   const zoo::ConvSpec one{.in_channels = e.c, .out_channels = e.c, .bias = true};
                   return b.Concat("layer", {b.Conv("pre_a", x, one), b.Conv("pre_b", x, one)}, 1);
                 })));
  }
  // From 128 bytes (an LSTM's state reshaped) to 200 KiB: without the small cases the
  // fit's intercept put every tiny Squeeze / Identity at 1.5 us, 3-8x what it takes.
  for (const E& e :
       pick(std::vector<E>{{512, 1}, {32, 1}, {64, 14}, {256, 6}, {1024, 1}, {128, 2}})) {
    DEEPEDGE_RETURN_IF_ERROR(add(
        Make("memory", "flatten " + std::to_string(e.c) + "x" + std::to_string(e.hw),
             {1, e.c, e.hw, e.hw}, {1, e.c * e.hw * e.hw},
             [&](zoo::GraphBuilder& b, const std::string& x) { return b.Flatten("layer", x); })));
  }
  return cases;
}

Expected<std::vector<ReferenceNetwork>> InModelReferenceNetworks(bool quick) {
  struct Spec {
    const char* description;
    std::int64_t size;  // H = W
    std::function<std::string(zoo::GraphBuilder&, const std::string&)> build;
  };
  std::vector<Spec> specs;
  if (quick) {
    specs.push_back(
        {"MobileNet v1 0.25, 96x96", 96,
         [](zoo::GraphBuilder& b, const std::string& x) { return zoo::MobileNetV1(b, x, 0.25); }});
  } else {
    specs.push_back({"MobileNet v2 1.0, 160x160", 160, zoo::MobileNetV2});
    specs.push_back({"ResNet-18, 160x160", 160, zoo::ResNet18});
  }
  std::vector<ReferenceNetwork> out;
  for (const Spec& spec : specs) {
    onnx::ModelProto m;
    onnx::GraphProto* g = NewCalibrationGraph(m);
    zoo::SetFloatValueInfo(g->add_input(), "x", {1, 3, spec.size, spec.size}, "");
    zoo::GraphBuilder b(g, 11);
    const std::string y = spec.build(b, "x");
    zoo::SetFloatValueInfo(g->add_output(), y, {1, 1000}, "");
    DEEPEDGE_ASSIGN_OR_RETURN(std::vector<std::uint8_t> bytes, Serialized(m));
    out.push_back({std::string(spec.description) + " (synthetic weights)", std::move(bytes)});
  }
  return out;
}

}  // namespace deepedge::partition
