// Pieces shared by the partition subcommands (calibrate, predict, partition, split).
#pragma once

#include <CLI/CLI.hpp>

#include <map>
#include <string>
#include <vector>

#include "app.h"
#include "deepedge/bench.h"
#include "deepedge/model.h"
#include "deepedge/partition.h"

namespace deepedge::app {

// -b, -O, -t, --runs: how profiles are measured on this machine.
struct MeasureOptions {
  std::string backend;
  std::vector<std::string> backend_options;
  int threads = 0;
  int runs = 10;
  std::vector<std::string> input_shapes;  // NAME=DIMS or DIMS
  std::vector<std::string> inputs;        // NAME=FILE or FILE (AddGraphInputOptions)
};
// --input-shape values as whole shapes by input name ("" for every input).
Expected<std::map<std::string, Shape>> ParseInputShapes(const MeasureOptions& o);
void AddMeasureOptions(CLI::App* cmd, MeasureOptions& o);
// -i/--input NAME=FILE: fixed inputs, for the commands whose layer graph may depend on
// an input's value (predict, partition).
void AddGraphInputOptions(CLI::App* cmd, MeasureOptions& o);

// What the layer graph is built from: shapes by input name (--input-shape, else the
// shape of the --input file) and the values of the integer inputs given as files.
struct GraphInputs {
  std::map<std::string, Shape> shapes;
  std::map<std::string, partition::InputValue> values;
};
Expected<GraphInputs> ParseGraphInputs(const MeasureOptions& o);
// The inputs measured runs use: the --input files when given, else random ones of the
// --input-shape shapes.
Expected<InputSpec> MeasureInputSpec(const MeasureOptions& o);

// Runs `source` with per-layer profiling: each layer's median time over `runs` runs
// (after one unmeasured run), and the whole model's median latency from a second
// session without profiling. The profile names the model by `graph.sha256`.
Expected<partition::DeviceProfile> MeasureProfile(AppContext& ctx, const ModelSource& source,
                                                  const partition::LayerGraph& graph,
                                                  const MeasureOptions& o);

// Median time of `layer` in runs of `source` (ms): its profile entry (or its fused
// group's), else the sum of all entries, else the run's wall time.
Expected<double> TimeSingleLayer(AppContext& ctx, const ModelSource& source,
                                 const std::string& layer, const MeasureOptions& o);

// Each layer's times over `runs` profiled runs of `session` (which must have been
// loaded with profile_layers), layers in the order they first appear.
struct LayerTimes {
  std::vector<std::string> order;
  std::map<std::string, std::vector<double>> times;  // ms, one per run
  std::map<std::string, LayerProfile> info;          // the first run's entry
};
Expected<LayerTimes> CollectLayerTimes(Session& session, const std::vector<Tensor>& inputs,
                                       int runs);

// The layer a profile entry's time is compared with: for a fused group "a+b+c" (the
// engine names it by its members in graph order) the member whose prediction (`pred`,
// from LayerCosts) carries the group's cost; else as MatchProfileEntry (-1: no layer).
int CarrierLayer(const partition::LayerGraph& graph, const std::vector<partition::LayerCost>& pred,
                 const std::string& entry);

// A thread count as the engine runs it: 0 is every core of this machine.
int ResolvedThreads(int threads);

std::string HostName();

}  // namespace deepedge::app
