// Single-layer calibration cases, loaded and timed: deepedge calibrate's rounds, and
// predict --measure's check of how fast the host runs them now.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "app.h"
#include "deepedge/backend.h"
#include "deepedge/model.h"
#include "deepedge/partition.h"
#include "partition_util.h"

namespace deepedge::app {

// The share of a case's runs faster than the time it is given: a low quantile, neither
// the median nor the fastest run. On a shared machine a run is only ever slowed
// (preemption; with 2+ threads a parallel kernel waits a whole scheduler tick for a
// descheduled worker): medians of small layers came out 100x their real time. And the
// fastest of a few hundred runs lies further in the tail than a model's layers do run
// after run: with 120 s of rounds the fits came out 15-25 % under the zoo models.
inline constexpr double kFastQuantile = 0.1;

// The calibration cases a profile keeps as its reference (DeviceProfile::
// reference_cases): a compute-bound 3x3, a 1x1, a depthwise, a weights-bound fully
// connected layer and a memory-bound add, each 0.03-0.3 ms.
inline constexpr const char* kReferenceCases[] = {
    "conv 32->64 3x3 s1 56x56", "conv 64->64 1x1 s1 56x56", "depthwise 128 3x3 s1 56x56",
    "fc 1024->1000", "add 64x112x112"};

// The kFastQuantile of `runs` (ms); 0 when empty.
double LowQuantile(std::vector<double> runs);

// Writes one byte per cache line of `buffer`: evicts L1 and L2 (make the buffer twice
// L2) and leaves what the last-level cache holds mostly in place.
void EvictL2(std::vector<unsigned char>& buffer);

// One calibration case, loaded and warmed up. Its time: the layer's own profile entry
// (or its fused group's, "layer+relu"). The node's own entry leaves out the session's
// per-run overhead and the layout transposes at the borders of the single-layer model.
// Not thread-safe; the sessions of one process's cases share one worker pool.
struct LoadedCase {
  std::string description;  // for errors: "conv 32->64 3x3 s1 56x56"
  std::string layer;
  std::string backend;
  std::unique_ptr<Session> session;
  std::vector<Tensor> inputs, outputs;
  std::vector<double> cold_runs, warm_runs;  // ms

  // One run; its time joins the cold or the warm runs'.
  Status RunOnce(bool warm);
};

Expected<LoadedCase> LoadCase(AppContext& ctx, const ModelSource& source,
                              const partition::CalibrationCase& c, const MeasureOptions& o);

// A whole reference network (partition::ReferenceNetwork), loaded with per-layer
// profiling and warmed up, timed once a round beside the cases so that its layers and
// the cases see the same phases of a drifting host. Not thread-safe.
struct LoadedNetwork {
  std::string description;
  partition::LayerGraph graph;
  std::unique_ptr<Session> session;
  std::vector<Tensor> inputs, outputs;
  std::map<std::string, std::vector<double>> entry_runs;  // profile entry -> ms, one a round

  // Two runs back to back, the second's profile kept: as a model runs run after run,
  // its weights in the last-level cache where they fit, not evicted by the cases.
  Status RunTwice();
};

Expected<LoadedNetwork> LoadNetwork(AppContext& ctx, const partition::ReferenceNetwork& network,
                                    const MeasureOptions& o);

// Runs `cases` round robin until at least `min_rounds` rounds and `min_seconds` have
// passed; in a round each case runs twice: a cold run (its data evicted by the other
// cases) and, after L2 is evicted, a warm run (its weights and input in the last-level
// cache); then each of `networks` (RunTwice). Returns the number of rounds; an error names
// the case or network.
Expected<int> RunRounds(std::vector<LoadedCase>& cases, int min_rounds, double min_seconds,
                        std::vector<LoadedNetwork>* networks = nullptr);

// Loads the calibration cases whose descriptions are keys of `descriptions` (those the
// sweep still has; the values are not read).
Expected<std::vector<LoadedCase>> LoadNamedCases(AppContext& ctx,
                                                 const std::map<std::string, double>& descriptions,
                                                 const MeasureOptions& o);

// Runs `cases` round robin (RunRounds) for `seconds`, at least 10 rounds, and returns
// description -> the kFastQuantile of the warm runs of this call (ms): timed as calibrate
// times its warm runs. The runs are cleared afterwards, so a later call stands alone.
Expected<std::map<std::string, double>> TimeWarmRuns(std::vector<LoadedCase>& cases,
                                                     double seconds);

}  // namespace deepedge::app
