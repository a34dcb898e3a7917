// Where to run each layer: the layer graph of a model, device profiles, latency
// prediction, and the edge/server partition planner (Neurosurgeon, ASPLOS 2017;
// DADS, INFOCOM 2019), plus the graph cutter that writes the two parts.
//
// Library: deepedge_partition (depends on deepedge_core; the ONNX protobuf classes
// stay private to it). Units: times in milliseconds, sizes in bytes, rates in bytes
// per second, power in watts, energy in millijoules.
// Thread-safety: the functions keep no state and may be called concurrently; the
// structs are plain values.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "deepedge/backend.h"
#include "deepedge/model.h"
#include "deepedge/status.h"
#include "deepedge/tensor.h"

namespace deepedge::partition {

// ---- The layer graph -----------------------------------------------------------------

// A value that flows between layers (never a weight: initializers and Constant nodes
// exist on both sides of a cut and are not transferred).
struct DataTensor {
  std::string name;
  std::int64_t bytes = 0;      // one inference, dynamic dimensions set to 1
  int producer = -1;           // layer index; -1: a graph input (it starts on the edge)
  std::vector<int> consumers;  // layer indices, ascending, each once
  bool graph_output = false;
};

struct LayerGraph;

struct Layer {
  std::string name;          // the ONNX node name (unique; generated as "op_N" when empty)
  std::string type;          // the ONNX op_type
  std::vector<int> inputs;   // DataTensor indices (weights left out)
  std::vector<int> outputs;  // DataTensor indices
  std::int64_t macs = 0;     // Conv, ConvTranspose, Gemm, MatMul, LSTM / GRU / RNN; else 0
  std::int64_t input_bytes = 0;
  std::int64_t output_bytes = 0;
  // Initializers it reads (and a recurrent layer's computed W, R, B): what it streams
  // besides its inputs, and whether that stays in a cache between inferences.
  std::int64_t weight_bytes = 0;
  std::int64_t group = 1;  // Conv's group attribute
  // Conv weight dimension 1: input channels per group (0 when unknown). A convolution is
  // depthwise when group > 1 and each group reads one channel; AlexNet's group-2
  // convolutions are ordinary convolutions split in two.
  std::int64_t channels_per_group = 0;
  std::int64_t kernel_size = 0;  // Conv: kernel height x width (0 when unknown)
  // Conv: the spatial kernel, its strides and the output's dims (N, C, spatial...);
  // Concat: the output's dims; empty when unknown.
  std::vector<std::int64_t> kernel_shape = {}, strides = {}, output_dims = {};
  // Its outputs follow from shapes, constants and the given input values alone (a
  // Shape -> Gather -> Concat chain, an If's condition): small integer tensors the
  // engine folds or computes in a microsecond.
  bool shape_computation = false;
  // An If whose condition depends on data (a detector's score): the layer graphs of the
  // model with this If replaced by its then branch and by its else branch (their layers
  // "<If name>/<node>"), for costing; empty for other layers, or when a branch could not
  // be built.
  std::vector<LayerGraph> branches = {};
};

// Layers in topological order (the ONNX node order). Constant nodes are not layers.
struct LayerGraph {
  std::string model_name;
  std::string sha256;  // of the model file; "" for in-memory models
  std::vector<Layer> layers;
  std::vector<DataTensor> tensors;

  // Predecessor layers of layer i (producers of its inputs), each once.
  std::vector<int> Predecessors(int i) const;
  // True when every layer but the last has exactly one consumer layer and it is the
  // next one: then the valid cuts are exactly the prefixes of the layer order.
  bool IsChain() const;
  int Find(std::string_view layer_name) const;  // -1 when absent
};

// The value of a small integer or bool graph input that a model's control flow depends
// on (Silero VAD's sample rate `sr` picks one of two whole networks through an If).
struct InputValue {
  std::vector<std::int64_t> dims;  // the input's shape ({} for a scalar)
  std::vector<std::int64_t> data;  // row-major; bools as 0 / 1
};

// Builds the layer graph of an ONNX model with ONNX shape inference. `input_shapes`
// gives whole shapes of graph inputs by name ("" for every input); dynamic dimensions
// left are set to 1. `input_values` fixes integer inputs: shape computations and If
// conditions that follow from them are folded, and an If whose condition is then known
// is replaced by the nodes of the branch it takes, each named "<If node>/<node>" (a
// branch node without a name by its first output), as the engine's per-layer profile
// names the nodes it runs inside an If; nested Ifs likewise. An If whose condition stays
// unknown is one layer. Errors: those of reading/parsing the model; InvalidArgument for an
// override of another rank or a value of another shape or of a non-integer input;
// Unsupported when shape inference leaves the size of a tensor between layers unknown
// (named; for an If's output, with a hint to give the inputs its condition reads).
Expected<LayerGraph> BuildLayerGraph(const ModelSource& source,
                                     const std::map<std::string, Shape>& input_shapes = {},
                                     const std::map<std::string, InputValue>& input_values = {});

// ---- Device profiles and latency prediction --------------------------------------------

// Regression class of a layer for prediction: "conv", "stem" (a kxk convolution of 1-4
// input channels: an image's), "deconv" (ConvTranspose), "conv3x3", "conv1x1", "gconv",
// "conv1d", "depthwise", "fc" (one row: a classifier), "matmul" (Gemm / MatMul of several
// rows),
// "pool", "eltwise", "activation", "sigmoid", "resize", "batchnorm", "lrn", "softmax",
// "lstm", "transpose", "concat" (of feature maps, N x C x H x W: a copy inside an XNNPACK
// region), "memory" (views and other copies: Reshape, Flatten, other Concats, ...); ""
// when the op has no class (LayerCosts then estimates it, labelled).
// Convolutions are split by what the engine runs them with: 3x3 stride-1 ones of 16 or
// more channels on maps of about 12x12 and more through Winograd F(2x2, 3x3) (about
// twice the MAC rate of the other kxk ones), 1x1 ones as one matrix product (2-3x the
// MAC rate of a 3x3 on narrow layers), grouped ones (AlexNet's halves) group by group at
// about half the rate of a whole one, 1-D ones outside XNNPACK (a spectrogram's STFT,
// bound by its weights).
std::string LayerClass(const Layer& layer);

// The class whose fit stands in when a device profile lacks `layer_class`'s (profiles
// written before the class existed): "conv3x3", "conv1x1", "gconv", "conv1d", "stem" and
// "deconv" -> "conv",
// "matmul" -> "fc", "transpose" and "concat" -> "memory"; "" for the others.
std::string ParentLayerClass(const std::string& layer_class);

// One latency model: time_ms = f(macs, input_bytes, output_bytes, weight_bytes).
//   linear:  t = c0 + c1*macs + c2*in + c3*out + c4*weights
//   loglog:  ln t = c0 + c1*ln(1+macs) + c2*ln(1+in) + c3*ln(1+out) + c4*ln(1+weights)
// Weights are a feature of their own because a layer reads them once per inference:
// ResNet-18's 3x3 convolutions on 14x14 maps (2.3 MB of weights) take 0.72 ms cold
// where one on 56x56 with the same MACs and 0.14 MB takes 0.53.
struct LatencyFit {
  std::string form;          // "linear" or "loglog"
  std::vector<double> coef;  // 5 values, as above; 4 (no weights term, c4 = 0) are accepted
  double error = 0;          // leave-one-out mean |relative error| on the samples
  int samples = 0;
  double Predict(std::int64_t macs, std::int64_t in_bytes, std::int64_t out_bytes,
                 std::int64_t weight_bytes) const;
};

struct Sample {
  std::int64_t macs = 0, input_bytes = 0, output_bytes = 0, weight_bytes = 0;
  double time_ms = 0;
};

// Fits both forms by least squares on the relative error (linear: weights 1/t^2, so
// small layers count as much as large ones; loglog residuals are relative already),
// over every subset of the three features, and keeps the one with the smaller leave-one-out
// error. Needs at least 2 samples with positive times; InvalidArgument otherwise.
Expected<LatencyFit> FitLatency(const std::vector<Sample>& samples);

struct PowerModel {
  double compute_w = 4.0;   // edge busy computing
  double idle_w = 1.0;      // edge waiting (server compute, round trip)
  double radio_tx_w = 1.3;  // sending
  double radio_rx_w = 0.9;  // receiving
  bool estimated = true;    // documented defaults, not measured
};

// A device profile (schema: docs/partition.md). Either or both of: measured layers of
// one model (model_sha256 set), per-class latency fits from `deepedge calibrate`.
struct DeviceProfile {
  std::string device;  // host name or a user label
  std::string backend;
  int threads = 0;
  std::string model_name;
  std::string model_sha256;    // "" when the profile holds no model's layers
  double model_total_ms = -1;  // measured whole-model latency; -1 unknown
  std::vector<LayerProfile> layers;
  // LayerClass -> fit, of cold runs (each calibration layer after all the others, its
  // data out of the caches).
  std::map<std::string, LatencyFit> fits;
  // LayerClass -> the median ratio of warm to cold time over the class's calibration
  // cases that RunsFromCaches (warm: right after a cold run, with L2 flushed, the data in
  // the last-level cache): 0.3-0.5 for memory-bound classes, 0.95-1 for convolutions.
  // Empty in profiles written before calibration measured warm runs; a class without an
  // entry keeps its cold time.
  std::map<std::string, double> warm_ratios;
  // LayerClass -> those cases one by one (their features, time_ms = warm / cold), for
  // LayerCosts to take the ratio of the case nearest a layer: within a class it runs from
  // 0.24 (a 128-value Add: mostly misses on a cold run) to 0.6 (a spectrogram's STFT,
  // weights-bound) and 0.8 (the other 1-D convolutions). Empty in older profiles.
  std::map<std::string, std::vector<Sample>> warm_cases;
  // LayerClass -> the calibration cases one by one (their features, time_ms = cold time),
  // for LayerCosts to correct the class's fit by the residual of the case nearest a layer:
  // one linear fit spans kernels of different rates (a 3x3 convolution may run Winograd
  // F(2x2), F(4x4) or direct). Empty in profiles written before; then the fits alone.
  std::map<std::string, std::vector<Sample>> cold_cases;
  // A few calibration cases by description ("conv 32->64 3x3 s1 56x56") -> their warm
  // time at calibration (ms): `predict --measure` times them again beside the model, so
  // that a host now slower or faster than when it was calibrated (a shared VM drifts
  // 20-30 % for minutes at a time) is measured and named. Empty in older profiles.
  std::map<std::string, double> reference_cases;
  // LayerClass -> the ratio of in-model to predicted time of the class's layers in whole
  // reference networks (InModelRatios), which LayerCosts multiplies predicted layers by.
  // With 2+ threads a layer inside a model ran 20-40 % slower than the same layer alone
  // (its input split over both cores' caches by the layer before); single-layer cases do
  // not see that. `deepedge calibrate` measures them with 2+ threads only (on 1 thread they
  // came out 0.77-0.98 and made predictions no better). Empty in older profiles.
  std::map<std::string, double> in_model_ratios;
  // Of the calibrated CPU, in bytes; 0 when unknown (then only `fits` are used). The
  // last level is recorded, not used by the rule.
  std::int64_t l2_cache_bytes = 0;
  std::int64_t last_level_cache_bytes = 0;
  PowerModel power;
};

Expected<DeviceProfile> ParseDeviceProfile(std::string_view json, std::string_view origin);
Expected<DeviceProfile> ReadDeviceProfile(const std::filesystem::path& path);
std::string DeviceProfileToJson(const DeviceProfile& profile);

// A copy with every time (layers, whole model, fits) divided by `factor`: a device
// `factor` times faster. Fits stay fits (linear: coefficients scaled; loglog: c0 shifted).
DeviceProfile ScaleProfile(const DeviceProfile& profile, double factor);

// The layer of `graph` a profile entry times: the node of that name, or for a fused
// group "a+b+c" (the engine's XNNPACK regions) its first node, to which the group's
// time belongs (the others are folded into it). -1 for entries that are no node
// (region-border layout transposes).
int MatchProfileEntry(const LayerGraph& graph, std::string_view entry_name);

struct LayerCost {
  double time_ms = 0;
  bool measured = false;  // from the profile's layers, else predicted
  // Predicted layers only. fused: folded by the engine into the op producing its input
  // (0 ms). fallback_class: the layer's type has no fit in the profile (not calibrated)
  // and it was predicted from this class's fit instead ("" when its own class's was).
  bool fused = false;
  std::string fallback_class = {};
  bool shape_computation = false;  // Layer::shape_computation: predicted as 0 ms
  bool warm = false;               // scaled by the profile's warm ratio
  // An If with Layer::branches: the predicted time of its costlier branch.
  bool costlier_branch = false;
  // The class whose fit priced the layer (its own, the parent's or "eltwise"); "" for
  // measured, fused, shape-computation and If layers.
  std::string fit_class = {};
  bool in_model = false;  // scaled by the profile's in-model ratio of fit_class
};

// Per-layer times of `graph` on `device`. When the profile holds layers it must be of
// this model (InvalidArgument naming both hashes otherwise); layers it lacks (folded
// by the engine, e.g. a BatchNormalization after a Conv) cost 0. Without layers, each
// layer is predicted from its class's fit, with the engine's fusions mirrored (0 ms,
// `fused`): a BatchNormalization whose input comes from a Conv or Gemm with no other
// consumer; a Relu or Clip whose input comes, with no other consumer, from a Conv,
// Gemm, MatMul, pooling or two-input Add/Sub/Mul/Div (or a BatchNormalization folded
// into one). A layer whose class has no fit (or that has no class) is predicted from
// the "eltwise" fit, a memory-bound estimate by its bytes, and labelled
// (`fallback_class`). A fit's prediction is corrected by the residual of the class's
// calibration case nearest the layer (`cold_cases`; by log MACs, input, output and
// weight bytes): times (measured / fitted)^w, w = 1 at the case itself, 1/2 with every
// feature a factor 2 away, falling on from there. A layer that RunsFromCaches (its input
// and output fit the L2 cache and its weights twice that: in a model run its input was
// just written by the layer before, and weights that size stay cached from one inference to the
// next; larger ones stream at memory-like rates) has its time scaled by a warm ratio (`warm`): that
// of the class's warm case nearest the layer (by log MACs, input, output and weight bytes), else
// the class's median. An If with branches costs its costlier branch's layers
// (`costlier_branch`). Last, a predicted layer is scaled by the profile's in-model ratio
// of its fit's class, where there is one (`in_model`). Errors: InvalidArgument when
// neither fit exists ("unknown layer type").
Expected<std::vector<LayerCost>> LayerCosts(const LayerGraph& graph, const DeviceProfile& device);

// Predicted and measured time of one class's layers in reference networks, summed.
struct ClassTimes {
  int layers = 0;
  double predicted_ms = 0, measured_ms = 0;
};

// Adds a reference network's layers to `sums` by fit class: `predicted` from LayerCosts
// (a profile without in-model ratios), `measured_ms` per layer (the engine's profile
// entries, a fused group's on the layer carrying its cost; < 0: no entry). Layers with
// no fit class (fused, shape computation, If) or no measurement are left out.
void AddClassTimes(const std::vector<LayerCost>& predicted, const std::vector<double>& measured_ms,
                   std::map<std::string, ClassTimes>& sums);

// Per class, measured / predicted over `sums`, for the classes whose layers were predicted
// at kMinInModelMs or more in all (below that a ratio is mostly timer noise), clamped to
// [0.5, 2]: a calibration disturbed by load should not scale a class by more.
inline constexpr double kMinInModelMs = 0.05;
std::map<std::string, double> InModelRatios(const std::map<std::string, ClassTimes>& sums);

// The rule by which LayerCosts takes a warm ratio: a layer's input and output bytes
// (`activation_bytes`) within `l2_bytes`, and its `weight_bytes` within twice that; false
// when the L2 size is unknown (0).
bool RunsFromCaches(std::int64_t activation_bytes, std::int64_t weight_bytes,
                    std::int64_t l2_bytes);

// One single-layer ONNX model of the calibration sweep.
struct CalibrationCase {
  std::string layer_class;          // as LayerClass
  std::string layer;                // the node to time (the model's only node)
  std::string description;          // "conv 32->64 3x3 s1 56x56"
  std::vector<std::uint8_t> model;  // serialized ONNX, static shapes, synthetic weights
};

// The sweep `deepedge calibrate` runs: convolution, depthwise (3x3 and 5x5), fully
// connected, pooling, element-wise, activation, sigmoid, resize (nearest 2x), batch
// norm, LRN, softmax and memory layers at sizes spanning the zoo's and a 640x640 OCR
// detector's (`quick`: fewer per class, for tests).
Expected<std::vector<CalibrationCase>> CalibrationCases(bool quick);

// A whole network `deepedge calibrate` times beside the cases, for in-model ratios.
struct ReferenceNetwork {
  std::string description;          // "MobileNet v2 1.0, 160x160 (synthetic weights)"
  std::vector<std::uint8_t> model;  // serialized ONNX, static input [1, 3, H, W]
};

// Zoo architectures at a resolution the zoo itself does not use (so that no zoo model is
// its own reference): MobileNet v2 (1x1, depthwise, residual adds) and ResNet-18 (3x3,
// strided and 1x1 convolutions, max pooling) at 160x160; `quick`: MobileNet v1 0.25 at
// 96x96.
Expected<std::vector<ReferenceNetwork>> InModelReferenceNetworks(bool quick);

// ---- The planner ---------------------------------------------------------------------

// "5Mbit/s", "1MB/s", "100kbps", "2.5 MiB/s" -> bytes per second. InvalidArgument for a
// missing or unknown unit, zero, a negative or non-finite value.
Expected<double> ParseRate(std::string_view text);

struct Link {
  double uplink_bps = 0;    // bytes/s, edge -> server
  double downlink_bps = 0;  // bytes/s, server -> edge
  double rtt_ms = 0;        // paid once when anything runs on the server
};

enum class Objective { kLatency, kEnergy };

struct CostInputs {
  std::vector<double> edge_ms;    // per layer
  std::vector<double> server_ms;  // per layer, server load already applied
  Link link;
  Objective objective = Objective::kLatency;
  PowerModel power;  // the edge's (energy objective)
};

struct Breakdown {
  double edge_ms = 0, upload_ms = 0, server_ms = 0, download_ms = 0, rtt_ms = 0;
  double total_ms = 0;   // the sum: inference is sequential
  double energy_mj = 0;  // edge energy: compute, radio, idle while waiting
  std::int64_t upload_bytes = 0, download_bytes = 0;
};

// A plan: on_edge[i] says where layer i runs. Valid when no data flows from the
// server back to the edge (every predecessor of an edge layer is on the edge).
bool IsValidPlan(const LayerGraph& graph, const std::vector<bool>& on_edge);
// Costs of a plan: tensors produced on the edge (or graph inputs) and consumed on the
// server are uploaded once each; graph outputs produced on the server are downloaded.
Breakdown Evaluate(const LayerGraph& graph, const CostInputs& in, const std::vector<bool>& on_edge);
double ObjectiveValue(const CostInputs& in, const Breakdown& b);

struct Plan {
  std::vector<bool> on_edge;
  Breakdown cost;
  std::string method;  // "chain: every cut", "min s-t cut"
};

// The best plan: every prefix for chains, a minimum s-t cut (Dinic) otherwise; all-edge
// is always a candidate (it pays no round trip).
Plan PlanPartition(const LayerGraph& graph, const CostInputs& in);
// Every valid plan (down-sets of the layer DAG), for checking: nullopt past `limit`.
std::optional<Plan> BruteForcePlan(const LayerGraph& graph, const CostInputs& in,
                                   std::int64_t limit = 2'000'000);

// Minimum s-t cut by Dinic's algorithm on a graph with real capacities (exposed for
// tests). Returns the cut value and, per node, whether it is on the source side.
struct MinCutResult {
  double value = 0;
  std::vector<bool> source_side;
};
MinCutResult MinCut(int nodes, const std::vector<std::tuple<int, int, double>>& edges, int s,
                    int t);

// ---- Pipelines over several devices ----------------------------------------------------

struct PipelinePlan {
  std::vector<int> stage_begin;  // first layer of each stage, in topological order
  std::vector<double> stage_ms;
  std::vector<double> link_ms;  // transfer after each stage but the last
  double bottleneck_ms = 0;     // max of stages and links: 1 / throughput
  double latency_ms = 0;        // stages + links + rtt per hop
};

// Splits the topological order into at most `stages` consecutive parts over identical
// devices (`layer_ms`) joined by links of `link`, minimising the bottleneck (DP,
// O(stages * layers^2)). For DAGs every tensor produced before a boundary and used after
// it crosses it: exact for the contiguous stages of that order, not over all orders.
PipelinePlan PlanPipeline(const LayerGraph& graph, const std::vector<double>& layer_ms,
                          const Link& link, int stages);

// ---- Plans as JSON and the graph cutter ------------------------------------------------

// Reads the edge layer set from a plan JSON written by `deepedge partition --json`
// and checks it against `graph`: the model hash (when both have one), every layer
// named exists, and the plan is valid. InvalidArgument naming the problem otherwise.
Expected<std::vector<bool>> ReadPlanEdgeSet(std::string_view plan_json, const LayerGraph& graph);

struct SplitResult {
  std::vector<std::uint8_t> head;        // empty when no layer runs on the edge
  std::vector<std::uint8_t> tail;        // empty when no layer runs on the server
  std::vector<std::string> cut_tensors;  // outputs of the head, inputs of the tail
  std::vector<std::string> head_inputs, head_outputs, tail_inputs, tail_outputs;
};

// Cuts an ONNX model: the head holds the edge layers, the tail the others; every
// tensor crossing the cut is an output of the head and an input of the tail (graph
// inputs the tail reads are inputs of the tail too); graph outputs stay outputs of the
// part producing them. Weights and Constant nodes are copied into each part using them.
Expected<SplitResult> SplitModel(const ModelSource& source, const LayerGraph& graph,
                                 const std::vector<bool>& on_edge);

}  // namespace deepedge::partition
