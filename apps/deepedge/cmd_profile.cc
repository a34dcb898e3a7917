// deepedge profile MODEL: per-layer time, output bytes and MACs.
#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

#include "app.h"
#include "common.h"
#include "deepedge/file_util.h"
#include "deepedge/stats.h"
#include "model_info_util.h"
#include "store_util.h"

namespace deepedge::app {
namespace {

struct ProfileOptions {
  std::string model;
  std::string weights;
  std::string backend;
  std::vector<std::string> backend_options;
  int threads = 0;
  int runs = 20;
  int top = 0;
  InputOptions in;
  std::string json_path;
  StoreOptions store;
};

struct LayerStats {
  std::string name, type;
  std::vector<double> times_ms;
  std::int64_t output_bytes = -1;
  std::int64_t macs = -1;
  std::string group;
  std::vector<double> group_times_ms;
};

// A fused group (an XNNPACK region): its layers were timed one at a time, the group
// as a whole as it normally runs.
struct GroupStats {
  std::string name;
  std::size_t layers = 0;
  double fused_ms = 0;       // median of the group's fused time
  double layers_sum_ms = 0;  // sum of its layers' medians
};

std::string Bytes(std::int64_t b) {
  if (b < 0) return "n/a";
  char buf[32];
  if (b >= (1 << 20))
    std::snprintf(buf, sizeof buf, "%.2f MiB", static_cast<double>(b) / (1 << 20));
  else if (b >= 1024)
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(b) / 1024);
  else
    std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(b));
  return buf;
}

int RunProfile(const ProfileOptions& o, AppContext& ctx) {
  if (Status s = CheckOutputPath(o.json_path, "--json"); !s.ok()) return ReportError(s);
  if (o.runs < 1) return ReportError(InvalidArgument("--runs must be at least 1"));
  Expected<ModelSource> src = ResolveModel(o.model, o.weights);
  if (!src) return ReportError(src.status());
  InputSpec spec;
  std::string description;
  if (Status s = ParseInputs(o.in, spec, description); !s.ok()) return ReportError(s);
  Expected<std::string> backend = ChooseBackend(ctx, o.backend, src->format);
  if (!backend) return ReportError(backend.status());
  Expected<std::map<std::string, std::string>> options = ParseBackendOptions(o.backend_options);
  if (!options) return ReportError(options.status());

  SessionOptions so;
  so.threads = o.threads;
  so.profile_layers = true;
  so.backend_options = *options;
  Expected<std::unique_ptr<Session>> session = ctx.backends.Load(*backend, *src, so);
  if (!session) return ReportError(session.status());
  Expected<std::vector<Tensor>> inputs = MakeInputs((*session)->Inputs(), spec, 1);
  if (!inputs) return ReportError(inputs.status());
  std::vector<Tensor> outputs;
  // One unmeasured run: first-run costs (allocation, kernel preparation) are not a layer's.
  if (Status s = (*session)->Run(*inputs, outputs); !s.ok()) return ReportError(s);

  std::vector<LayerStats> layers;
  for (int r = 0; r < o.runs; ++r) {
    if (Status s = (*session)->Run(*inputs, outputs); !s.ok()) return ReportError(s);
    Expected<std::vector<LayerProfile>> profile = (*session)->LastProfile();
    if (!profile) return ReportError(profile.status().WithContext("backend " + *backend));
    if (layers.empty()) {
      for (const LayerProfile& l : *profile)
        layers.push_back({l.name, l.type, {}, l.output_bytes, l.macs, l.group, {}});
    }
    for (std::size_t i = 0; i < profile->size() && i < layers.size(); ++i) {
      layers[i].times_ms.push_back((*profile)[i].time_ms);
      if ((*profile)[i].group_time_ms >= 0)
        layers[i].group_times_ms.push_back((*profile)[i].group_time_ms);
    }
  }
  double total = 0;
  std::int64_t total_macs = 0;
  std::vector<double> medians;
  for (const LayerStats& l : layers) {
    medians.push_back(Summarize(l.times_ms).p50);
    total += medians.back();
    if (l.macs > 0) total_macs += l.macs;
  }
  std::vector<GroupStats> groups;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const LayerStats& l = layers[i];
    if (l.group.empty()) continue;
    if (groups.empty() || groups.back().name != l.group) {
      groups.push_back(
          {l.group, 0, l.group_times_ms.empty() ? -1 : Summarize(l.group_times_ms).p50, 0});
    }
    ++groups.back().layers;
    groups.back().layers_sum_ms += medians[i];
  }
  // What a normal run costs: fused groups at their fused time, other layers at theirs.
  double as_run = total;
  for (const GroupStats& g : groups) {
    if (g.fused_ms >= 0) as_run += g.fused_ms - g.layers_sum_ms;
  }
  const std::optional<std::int64_t> arena = (*session)->ArenaBytes();

  std::printf("model %s, backend %s, %d runs, input %s\n", src->display_name().c_str(),
              backend->c_str(), o.runs, description.c_str());
  if (!groups.empty()) {
    std::printf(
        "timing: layers inside fused groups (XNNPACK regions) were timed one at a time, each\n"
        "        in a runtime of its own; each group was also timed fused, as it normally "
        "runs\n");
  }
  std::printf("%-4s %-36s %-20s %11s %7s %11s %12s %9s\n", "#", "layer", "type", "median", "share",
              "output", "MACs", "GMAC/s");
  std::vector<std::size_t> order(layers.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (o.top > 0) {
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return medians[a] > medians[b]; });
    if (order.size() > static_cast<std::size_t>(o.top))
      order.resize(static_cast<std::size_t>(o.top));
  }
  for (std::size_t i : order) {
    const LayerStats& l = layers[i];
    const double gmacs =
        l.macs > 0 && medians[i] > 0 ? static_cast<double>(l.macs) / (medians[i] * 1e6) : 0;
    std::printf("%-4zu %-36.36s %-20.20s %8.3f ms %6.1f%% %11s %12s %9s\n", i, l.name.c_str(),
                l.type.c_str(), medians[i], total > 0 ? medians[i] / total * 100 : 0.0,
                Bytes(l.output_bytes).c_str(), l.macs >= 0 ? std::to_string(l.macs).c_str() : "n/a",
                gmacs > 0 ? std::to_string(gmacs).substr(0, 6).c_str() : "");
  }
  std::printf("total: %zu layers, %.3f ms (sum of layer medians), %.1f M MACs\n", layers.size(),
              total, static_cast<double>(total_macs) / 1e6);
  for (const GroupStats& g : groups) {
    if (g.fused_ms < 0) continue;
    std::printf("group %s: %zu layers, fused %.3f ms, layers one at a time %.3f ms (%.2fx)\n",
                g.name.c_str(), g.layers, g.fused_ms, g.layers_sum_ms,
                g.fused_ms > 0 ? g.layers_sum_ms / g.fused_ms : 0.0);
  }
  if (!groups.empty()) {
    std::printf("as run (fused groups at their fused time): %.3f ms\n", as_run);
  }
  if (arena) {
    std::printf("intermediate-buffer arena: %.2f MiB (%lld bytes)\n",
                static_cast<double>(*arena) / (1 << 20), static_cast<long long>(*arena));
  } else {
    std::printf("intermediate-buffer arena: not reported by the backend\n");
  }

  if (!o.json_path.empty()) {
    nlohmann::json doc = {{"schema", "deepedge.profile"},
                          {"schema_version", 1},
                          {"model", src->display_name()},
                          {"backend", *backend},
                          {"threads", o.threads},
                          {"runs", o.runs},
                          {"total_ms", total},
                          {"as_run_ms", as_run},
                          {"arena_bytes", arena ? nlohmann::json(*arena) : nlohmann::json(nullptr)},
                          {"groups", nlohmann::json::array()},
                          {"layers", nlohmann::json::array()}};
    for (const GroupStats& g : groups) {
      doc["groups"].push_back(
          {{"name", g.name},
           {"layers", g.layers},
           {"fused_median_ms", g.fused_ms >= 0 ? nlohmann::json(g.fused_ms) : nlohmann::json()},
           {"layers_sum_ms", g.layers_sum_ms}});
    }
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const LayerStats& l = layers[i];
      doc["layers"].push_back(
          {{"index", i},
           {"name", l.name},
           {"type", l.type},
           {"median_ms", medians[i]},
           {"output_bytes",
            l.output_bytes >= 0 ? nlohmann::json(l.output_bytes) : nlohmann::json(nullptr)},
           {"macs", l.macs >= 0 ? nlohmann::json(l.macs) : nlohmann::json(nullptr)},
           {"group", l.group.empty() ? nlohmann::json(nullptr) : nlohmann::json(l.group)}});
    }
    if (Status s = WriteFileAtomic(o.json_path, doc.dump(2) + "\n"); !s.ok()) return ReportError(s);
  }
  ProfileSummary summary{*backend,    ctx.backends.Find(*backend)->Version(),
                         o.threads,   o.runs,
                         description, *options,
                         {},          total,
                         as_run,      arena};
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const LayerStats& l = layers[i];
    summary.layers.push_back({l.name, l.type, medians[i], l.output_bytes, l.macs});
  }
  return StoreProfileRun(o.store, *src, summary);
}

}  // namespace

void AddProfileCommand(CLI::App& app, AppContext& ctx) {
  static ProfileOptions o;
  CLI::App* cmd = app.add_subcommand("profile", "Per-layer time, output bytes and MACs of a model");
  cmd->add_option("model", o.model, "Model file")->required();
  cmd->add_option("--weights", o.weights, "Weights file for two-file formats");
  AddBackendOptions(cmd, o.backend, o.backend_options, o.threads);
  cmd->add_option("--runs", o.runs, "Profiled runs; each layer's median is reported")
      ->capture_default_str();
  cmd->add_option("--top", o.top, "Show only the N slowest layers (0: all, in graph order)");
  AddInputOptions(cmd, o.in);
  cmd->add_option("--json", o.json_path, "Write the per-layer profile as JSON");
  AddStoreOptions(cmd, o.store);
  cmd->callback([&ctx] { ctx.exit_code = RunProfile(o, ctx); });
}

}  // namespace deepedge::app
