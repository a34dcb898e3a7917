#include "partition_util.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <string_view>
#include <thread>

#include "common.h"
#include "deepedge/bench.h"
#include "deepedge/npy.h"
#include "deepedge/stats.h"

namespace deepedge::app {

void AddMeasureOptions(CLI::App* cmd, MeasureOptions& o) {
  AddBackendOptions(cmd, o.backend, o.backend_options, o.threads,
                    "Backend that measures (default: the first that reads ONNX)");
  cmd->add_option("--runs", o.runs, "Measured runs per model (medians are kept)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--input-shape", o.input_shapes,
                  "NAME=DIMS or DIMS (e.g. 1x3x640x640) for inputs with dynamic dimensions");
}

Expected<std::map<std::string, Shape>> ParseInputShapes(const MeasureOptions& o) {
  std::map<std::string, Shape> out;
  for (const std::string& s : o.input_shapes) {
    const auto [name, dims] = SplitAssignment(s);
    Expected<Shape> shape = Shape::Parse(dims);
    if (!shape) return shape.status().WithContext("--input-shape " + s);
    out[name] = *shape;
  }
  return out;
}

void AddGraphInputOptions(CLI::App* cmd, MeasureOptions& o) {
  cmd->add_option("-i,--input", o.inputs,
                  "NAME=FILE (.npy) or FILE: fixed inputs for the measured runs; an integer "
                  "input's value also picks the branches of the Ifs that read it");
}

Expected<InputSpec> MeasureInputSpec(const MeasureOptions& o) {
  InputOptions io;
  io.inputs = o.inputs;
  io.input_shapes = o.input_shapes;
  InputSpec spec;
  std::string description;
  DEEPEDGE_RETURN_IF_ERROR(ParseInputs(io, spec, description));
  return spec;
}

Expected<GraphInputs> ParseGraphInputs(const MeasureOptions& o) {
  GraphInputs g;
  DEEPEDGE_ASSIGN_OR_RETURN(g.shapes, ParseInputShapes(o));
  DEEPEDGE_ASSIGN_OR_RETURN(InputSpec spec, MeasureInputSpec(o));
  for (const auto& [name, path] : spec.files) {
    if (path.extension() != ".npy") continue;  // raw bytes: no shape, no dtype
    Expected<Tensor> t = ReadNpy(path);
    if (!t) return t.status().WithContext("--input " + path.string());
    g.shapes.emplace(name, t->shape());  // --input-shape wins
    if (name.empty() || t->element_count() > 4096) continue;
    partition::InputValue v;
    v.dims = t->shape().dims();
    switch (t->dtype()) {
      case DType::kI64:
        for (std::int64_t x : t->as<std::int64_t>()) v.data.push_back(x);
        break;
      case DType::kI32:
        for (std::int32_t x : t->as<std::int32_t>()) v.data.push_back(x);
        break;
      case DType::kBool:
        for (std::uint8_t x : t->as<std::uint8_t>()) v.data.push_back(x != 0);
        break;
      default:
        continue;  // a float input: its shape only
    }
    g.values[name] = std::move(v);
  }
  return g;
}

Expected<LayerTimes> CollectLayerTimes(Session& session, const std::vector<Tensor>& inputs,
                                       int runs) {
  LayerTimes lt;
  std::vector<Tensor> outputs;
  for (int r = 0; r < runs; ++r) {
    DEEPEDGE_RETURN_IF_ERROR(session.Run(inputs, outputs));
    DEEPEDGE_ASSIGN_OR_RETURN(std::vector<LayerProfile> prof, session.LastProfile());
    for (const LayerProfile& l : prof) {
      if (!lt.info.count(l.name)) {
        lt.order.push_back(l.name);
        lt.info[l.name] = l;
      }
      lt.times[l.name].push_back(l.time_ms);
    }
  }
  return lt;
}

// The carrier (the convolution of "mul+add+conv", the last node of a HardSwish chain), not
// the group's first node, so that per-layer and per-type errors compare like with like.
int CarrierLayer(const partition::LayerGraph& graph, const std::vector<partition::LayerCost>& pred,
                 const std::string& entry) {
  const int whole = partition::MatchProfileEntry(graph, entry);
  if (graph.Find(entry) >= 0 || entry.find('+') == std::string::npos) return whole;
  for (std::size_t begin = 0; begin <= entry.size();) {
    const std::size_t end = std::min(entry.find('+', begin), entry.size());
    const int i = graph.Find(std::string_view(entry).substr(begin, end - begin));
    if (i >= 0 && !pred[static_cast<std::size_t>(i)].fused &&
        !pred[static_cast<std::size_t>(i)].shape_computation)
      return i;
    begin = end + 1;
  }
  return whole;
}

int ResolvedThreads(int threads) {
  return threads > 0 ? threads
                     : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

namespace {

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

Expected<std::unique_ptr<Session>> Load(AppContext& ctx, const ModelSource& source,
                                        const MeasureOptions& o, bool profile, std::string* name) {
  DEEPEDGE_ASSIGN_OR_RETURN(*name, ChooseBackend(ctx, o.backend, source.format));
  DEEPEDGE_ASSIGN_OR_RETURN(auto options, ParseBackendOptions(o.backend_options));
  SessionOptions so;
  so.threads = o.threads;
  so.profile_layers = profile;
  so.backend_options = options;
  return ctx.backends.Load(*name, source, so);
}

}  // namespace

Expected<partition::DeviceProfile> MeasureProfile(AppContext& ctx, const ModelSource& source,
                                                  const partition::LayerGraph& graph,
                                                  const MeasureOptions& o) {
  partition::DeviceProfile p;
  p.device = HostName();
  p.threads = o.threads;
  p.model_name = graph.model_name;
  p.model_sha256 = graph.sha256;
  DEEPEDGE_ASSIGN_OR_RETURN(auto session, Load(ctx, source, o, true, &p.backend));
  DEEPEDGE_ASSIGN_OR_RETURN(InputSpec spec, MeasureInputSpec(o));
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<Tensor> inputs, MakeInputs(session->Inputs(), spec, 1));
  std::vector<Tensor> outputs;
  DEEPEDGE_RETURN_IF_ERROR(session->Run(inputs, outputs));
  DEEPEDGE_ASSIGN_OR_RETURN(LayerTimes lt, CollectLayerTimes(*session, inputs, o.runs));
  for (const std::string& n : lt.order) {
    LayerProfile l = lt.info[n];
    l.time_ms = Median(lt.times[n]);
    p.layers.push_back(l);
  }
  session.reset();
  // The whole model as it normally runs (no per-layer timing overhead).
  std::string backend;
  DEEPEDGE_ASSIGN_OR_RETURN(auto plain, Load(ctx, source, o, false, &backend));
  DEEPEDGE_RETURN_IF_ERROR(plain->Run(inputs, outputs));
  std::vector<double> wall;
  for (int r = 0; r < o.runs; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    DEEPEDGE_RETURN_IF_ERROR(plain->Run(inputs, outputs));
    wall.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  p.model_total_ms = Median(wall);
  return p;
}

Expected<double> TimeSingleLayer(AppContext& ctx, const ModelSource& source,
                                 const std::string& layer, const MeasureOptions& o) {
  std::string backend;
  DEEPEDGE_ASSIGN_OR_RETURN(auto session, Load(ctx, source, o, true, &backend));
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<Tensor> inputs,
                            MakeInputs(session->Inputs(), InputSpec{}, 1));
  std::vector<Tensor> outputs;
  DEEPEDGE_RETURN_IF_ERROR(session->Run(inputs, outputs));
  std::vector<double> v;
  for (int r = 0; r < o.runs; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    DEEPEDGE_RETURN_IF_ERROR(session->Run(inputs, outputs));
    const double wall =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    Expected<std::vector<LayerProfile>> prof = session->LastProfile();
    // The layer's own entry (or its fused group's); else everything profiled.
    double sum = 0, own = -1;
    if (prof) {
      for (const LayerProfile& l : *prof) {
        sum += l.time_ms;
        if (l.name == layer || l.name.rfind(layer + "+", 0) == 0) own = l.time_ms;
      }
      if (own >= 0) sum = own;
    }
    v.push_back(prof && sum > 0 ? sum : wall);
  }
  return Median(v);
}

}  // namespace deepedge::app
