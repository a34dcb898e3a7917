// Comparing stored runs along one axis (device, backend, model, precision): the logic
// behind `deepedge compare`, kept apart from printing so that it is tested directly.
//
// Each group is represented by its NEWEST run that reports the metric (latest
// timestamp_utc, then highest id): a re-measurement replaces an older figure instead
// of being averaged with it, since conditions may have changed in between. Groups are
// ordered by their first run's id (the order they were first measured in).
// Pure functions of their arguments; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "deepedge/run_record.h"
#include "deepedge/status.h"

namespace deepedge {

enum class CompareAxis { kDevice, kBackend, kModel, kPrecision };
std::optional<CompareAxis> ParseCompareAxis(std::string_view name);  // "device", ...
std::string_view CompareAxisName(CompareAxis axis);
// The run's value on `axis` (device name, backend, model name, precision).
std::string AxisValue(const RunRecord& run, CompareAxis axis);

// Whether two confidence intervals [low, high] overlap (touching counts as overlap):
// then the difference between the two figures is within the measurement noise.
bool IntervalsOverlap(double low_a, double high_a, double low_b, double high_b);

struct CompareRow {
  std::string group;
  std::int64_t run_id = 0;          // the run shown; 0 when no run of the group has the metric
  std::string timestamp_utc;        // of that run
  int runs = 0;                     // runs in the group (all, with or without the metric)
  std::optional<RunMetric> metric;  // nullopt: no run of the group reports it
  bool baseline = false;
  std::optional<double> ratio;  // value / the baseline's value; nullopt when either is absent or 0
  // nullopt: unknown (a CI is missing on this row or the baseline's, or this is the
  // baseline); false: the CIs overlap, the difference is within the noise.
  std::optional<bool> significant;
};

struct CompareTable {
  CompareAxis axis = CompareAxis::kDevice;
  std::string metric;
  std::string baseline;  // the baseline group
  std::vector<CompareRow> rows;
  // Caveats: the runs compared also differ in another axis (model, backend, ...), units
  // differ between groups, or a group lacks the metric.
  std::vector<std::string> notes;
};

// Groups `runs` by `axis` and tabulates `metric` with ratios to `baseline` (a group
// value; "" = the first group that reports the metric). Errors: no runs (kNotFound),
// no run reports the metric (kNotFound, listing the metrics that exist), an unknown
// baseline (kInvalidArgument, listing the groups).
Expected<CompareTable> CompareRuns(std::span<const RunRecord> runs, CompareAxis axis,
                                   std::string_view metric, std::string_view baseline = {});

}  // namespace deepedge
