// deepedge partition MODEL --edge E.json --server S.json --uplink R --downlink R --rtt MS:
// where to run each layer (edge device or server), or --stages N: a pipeline.
#include <cmath>
#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

#include "app.h"
#include "common.h"
#include "deepedge/file_util.h"
#include "deepedge/partition.h"
#include "partition_util.h"
#include "store_util.h"

namespace deepedge::app {
namespace {

using nlohmann::json;

struct PartitionOptions {
  std::string model;
  std::string edge, server;
  bool edge_measure = false;
  double server_speedup = 0;
  std::string uplink, downlink;
  double rtt_ms = 0;
  double server_load = 0;
  std::string objective = "latency";
  int stages = 0;
  std::string json_path;
  MeasureOptions m;
  StoreOptions store;
};

json BreakdownJson(const partition::Breakdown& b) {
  return {{"edge_ms", b.edge_ms},
          {"upload_ms", b.upload_ms},
          {"server_ms", b.server_ms},
          {"download_ms", b.download_ms},
          {"rtt_ms", b.rtt_ms},
          {"total_ms", b.total_ms},
          {"energy_mj", b.energy_mj},
          {"upload_bytes", b.upload_bytes},
          {"download_bytes", b.download_bytes}};
}

void PrintRow(const char* name, const partition::Breakdown& b) {
  std::printf("%-12s %9.2f %9.2f %9.2f %9.2f %7.1f %10.2f %10.1f %12lld\n", name, b.edge_ms,
              b.upload_ms, b.server_ms, b.download_ms, b.rtt_ms, b.total_ms, b.energy_mj,
              static_cast<long long>(b.upload_bytes));
}

Expected<std::vector<double>> Times(const partition::LayerGraph& g,
                                    const partition::DeviceProfile& d, const std::string& what) {
  Expected<std::vector<partition::LayerCost>> c = partition::LayerCosts(g, d);
  if (!c) return c.status().WithContext(what);
  std::vector<double> t;
  for (const auto& x : *c) t.push_back(x.time_ms);
  return t;
}

int RunPartition(const PartitionOptions& o, AppContext& ctx) {
  if (Status s = CheckOutputPath(o.json_path, "--json"); !s.ok()) return ReportError(s);
  if (o.edge.empty() == !o.edge_measure)
    return ReportError(InvalidArgument("give exactly one of --edge FILE and --edge-measure"));
  if (o.stages == 0 && o.server.empty() == !(o.server_speedup > 0))
    return ReportError(InvalidArgument("give exactly one of --server FILE and --server-speedup F"));
  if (o.server_load < 0 || o.server_load >= 1)
    return ReportError(InvalidArgument("--server-load must be in [0, 1)"));
  if (!(o.rtt_ms >= 0) || !std::isfinite(o.rtt_ms))
    return ReportError(InvalidArgument("--rtt must be a non-negative number of ms"));
  partition::Objective objective;
  if (o.objective == "latency") {
    objective = partition::Objective::kLatency;
  } else if (o.objective == "energy") {
    objective = partition::Objective::kEnergy;
  } else {
    return ReportError(InvalidArgument("--objective must be latency or energy"));
  }
  Expected<double> up = partition::ParseRate(o.uplink);
  if (!up) return ReportError(up.status().WithContext("--uplink"));
  Expected<double> down = partition::ParseRate(o.downlink.empty() ? o.uplink : o.downlink);
  if (!down) return ReportError(down.status().WithContext("--downlink"));

  Expected<ModelSource> src = ModelSource::FromFile(o.model);
  if (!src) return ReportError(src.status());
  Expected<GraphInputs> gin = ParseGraphInputs(o.m);
  if (!gin) return ReportError(gin.status());
  Expected<partition::LayerGraph> g = partition::BuildLayerGraph(*src, gin->shapes, gin->values);
  if (!g) return ReportError(g.status());
  Expected<partition::DeviceProfile> edge =
      o.edge_measure ? MeasureProfile(ctx, *src, *g, o.m) : partition::ReadDeviceProfile(o.edge);
  if (!edge) return ReportError(edge.status());
  Expected<std::vector<double>> edge_ms = Times(*g, *edge, o.edge_measure ? "edge" : o.edge);
  if (!edge_ms) return ReportError(edge_ms.status());
  partition::Link link{*up, *down, o.rtt_ms};
  json doc = {{"schema", "deepedge.partition_plan"},
              {"schema_version", 1},
              {"model", {{"name", g->model_name}, {"sha256", g->sha256}}},
              {"layers", g->layers.size()},
              {"link", {{"uplink_Bps", *up}, {"downlink_Bps", *down}, {"rtt_ms", o.rtt_ms}}}};

  if (o.stages > 0) {
    const partition::PipelinePlan p = partition::PlanPipeline(*g, *edge_ms, link, o.stages);
    std::printf(
        "model %s: %zu layers over up to %d devices (edge profile each), link %.3g MB/s, %.1f ms "
        "RTT\n",
        g->model_name.c_str(), g->layers.size(), o.stages, *up / 1e6, o.rtt_ms);
    json stages = json::array();
    for (std::size_t s = 0; s < p.stage_begin.size(); ++s) {
      const int b = p.stage_begin[s];
      const int e =
          s + 1 < p.stage_begin.size() ? p.stage_begin[s + 1] : static_cast<int>(g->layers.size());
      std::printf("stage %zu: layers %d..%d (%s .. %s) %.2f ms", s + 1, b, e - 1,
                  g->layers[static_cast<std::size_t>(b)].name.c_str(),
                  g->layers[static_cast<std::size_t>(e) - 1].name.c_str(), p.stage_ms[s]);
      if (s < p.link_ms.size()) std::printf(", then link %.2f ms", p.link_ms[s]);
      std::printf("\n");
      json layers = json::array();
      for (int i = b; i < e; ++i) layers.push_back(g->layers[static_cast<std::size_t>(i)].name);
      stages.push_back({{"layers", layers},
                        {"compute_ms", p.stage_ms[s]},
                        {"link_ms", s < p.link_ms.size() ? json(p.link_ms[s]) : json()}});
    }
    double single = 0;
    for (double v : *edge_ms) single += v;
    std::printf(
        "bottleneck %.2f ms: %.1f inferences/s (one device: %.1f/s, %.2fx); latency %.2f ms\n",
        p.bottleneck_ms, 1e3 / p.bottleneck_ms, 1e3 / single, single / p.bottleneck_ms,
        p.latency_ms);
    doc["pipeline"] = {{"stages", stages},
                       {"bottleneck_ms", p.bottleneck_ms},
                       {"throughput_per_s", 1e3 / p.bottleneck_ms},
                       {"latency_ms", p.latency_ms},
                       {"note", "contiguous stages of the topological order"}};
    if (!o.json_path.empty()) {
      if (Status s = WriteFileAtomic(o.json_path, doc.dump(2) + "\n"); !s.ok())
        return ReportError(s);
    }
    return 0;
  }

  partition::DeviceProfile server_prof;
  if (!o.server.empty()) {
    Expected<partition::DeviceProfile> s = partition::ReadDeviceProfile(o.server);
    if (!s) return ReportError(s.status());
    server_prof = *s;
  } else {
    server_prof = partition::ScaleProfile(*edge, o.server_speedup);
  }
  Expected<std::vector<double>> server_ms =
      Times(*g, server_prof, o.server.empty() ? "server" : o.server);
  if (!server_ms) return ReportError(server_ms.status());
  // Queueing on a shared server: utilisation F stretches service times by 1 / (1 - F).
  for (double& v : *server_ms) v /= (1 - o.server_load);

  partition::CostInputs in;
  in.edge_ms = *edge_ms;
  in.server_ms = *server_ms;
  in.link = link;
  in.objective = objective;
  in.power = edge->power;
  const partition::Plan plan = partition::PlanPartition(*g, in);
  const std::size_t L = g->layers.size();
  const partition::Breakdown all_edge = partition::Evaluate(*g, in, std::vector<bool>(L, true));
  const partition::Breakdown all_server = partition::Evaluate(*g, in, std::vector<bool>(L, false));

  std::size_t n_edge = 0;
  for (bool b : plan.on_edge) n_edge += b;
  std::printf("model %s: %zu layers (%s), objective %s, method: %s\n", g->model_name.c_str(), L,
              g->IsChain() ? "chain" : "branching", o.objective.c_str(), plan.method.c_str());
  std::printf("link: up %.4g MB/s, down %.4g MB/s, RTT %.1f ms; server load %.2f\n", *up / 1e6,
              *down / 1e6, o.rtt_ms, o.server_load);
  std::printf("%-12s %9s %9s %9s %9s %7s %10s %10s %12s\n", "plan", "edge ms", "up ms", "server ms",
              "down ms", "RTT ms", "total ms", "energy mJ", "up bytes");
  PrintRow("all-edge", all_edge);
  PrintRow("all-server", all_server);
  PrintRow("chosen", plan.cost);
  std::printf("chosen: %zu layers on the edge, %zu on the server", n_edge, L - n_edge);
  std::printf("; speed-up %.2fx over all-edge, %.2fx over all-server",
              all_edge.total_ms / plan.cost.total_ms, all_server.total_ms / plan.cost.total_ms);
  if (objective == partition::Objective::kEnergy)
    std::printf("; energy %.2fx less than all-edge", all_edge.energy_mj / plan.cost.energy_mj);
  std::printf("%s\n", edge->power.estimated && objective == partition::Objective::kEnergy
                          ? " (power ESTIMATED)"
                          : "");
  json cut = json::array(), edge_layers = json::array(), table = json::array(),
       tensors = json::array();
  for (const partition::DataTensor& t : g->tensors) {
    const bool from_edge = t.producer < 0 || plan.on_edge[static_cast<std::size_t>(t.producer)];
    bool to_server = false;
    for (int c : t.consumers) to_server |= !plan.on_edge[static_cast<std::size_t>(c)];
    if (from_edge && to_server) {
      cut.push_back({{"name", t.name}, {"bytes", t.bytes}});
      std::printf("  upload %-40s %10lld bytes\n", t.name.c_str(), static_cast<long long>(t.bytes));
    }
    tensors.push_back({{"name", t.name},
                       {"bytes", t.bytes},
                       {"producer", t.producer},
                       {"consumers", t.consumers},
                       {"graph_output", t.graph_output}});
  }
  for (std::size_t i = 0; i < L; ++i) {
    if (plan.on_edge[i]) edge_layers.push_back(g->layers[i].name);
    table.push_back({{"name", g->layers[i].name},
                     {"type", g->layers[i].type},
                     {"edge_ms", in.edge_ms[i]},
                     {"server_ms", in.server_ms[i]},
                     {"on_edge", static_cast<bool>(plan.on_edge[i])}});
  }
  doc["objective"] = o.objective;
  doc["method"] = plan.method;
  doc["server_load"] = o.server_load;
  doc["power"] = {{"compute_w", in.power.compute_w},
                  {"idle_w", in.power.idle_w},
                  {"radio_tx_w", in.power.radio_tx_w},
                  {"radio_rx_w", in.power.radio_rx_w},
                  {"provenance", in.power.estimated ? "estimated" : "measured"}};
  doc["edge_layers"] = edge_layers;
  doc["cut_tensors"] = cut;
  doc["plan"] = BreakdownJson(plan.cost);
  doc["all_edge"] = BreakdownJson(all_edge);
  doc["all_server"] = BreakdownJson(all_server);
  doc["layer_table"] = table;
  doc["tensors"] = tensors;
  if (!o.json_path.empty()) {
    if (Status s = WriteFileAtomic(o.json_path, doc.dump(2) + "\n"); !s.ok()) return ReportError(s);
  }
  if (o.store.disabled) return 0;
  // The stored run: each plan's predicted breakdown as split.<plan>@<link>.<component>
  // (the report stacks them per link), the whole plan document as details.
  Expected<RunRecord> run = NewModelRun(o.store, *src, "partition", "planner", DEEPEDGE_VERSION);
  if (!run) return ReportError(run.status().WithContext("run not stored"));
  char link_name[96];
  std::snprintf(link_name, sizeof link_name, "up %.3g MB/s, down %.3g MB/s, RTT %.0f ms", *up / 1e6,
                *down / 1e6, o.rtt_ms);
  run->config["link"] = link_name;
  run->config["objective"] = o.objective;
  run->config["server_load"] = std::to_string(o.server_load);
  for (const auto& [name, b] : {std::pair{"chosen", plan.cost}, std::pair{"all-edge", all_edge},
                                std::pair{"all-server", all_server}}) {
    const std::string prefix = std::string("split.") + name + "@" + link_name + ".";
    for (const auto& [component, ms] :
         {std::pair{"edge", b.edge_ms}, std::pair{"upload", b.upload_ms},
          std::pair{"server", b.server_ms}, std::pair{"download", b.download_ms},
          std::pair{"rtt", b.rtt_ms}}) {
      run->metrics.push_back({prefix + component, ms, "ms", true, {}, {}});
    }
  }
  run->metrics.push_back({"partition.speedup_over_all_edge",
                          all_edge.total_ms / plan.cost.total_ms,
                          "x",
                          true,
                          {},
                          {}});
  run->details_json = doc.dump();
  return StoreRuns(o.store, std::span<const RunRecord>(&*run, 1));
}

}  // namespace

void AddPartitionCommand(CLI::App& app, AppContext& ctx) {
  static PartitionOptions o;
  CLI::App* cmd = app.add_subcommand(
      "partition", "Plan which layers run on the edge device and which on the server");
  cmd->add_option("model", o.model, "ONNX model")->required();
  cmd->add_option("--edge", o.edge, "Edge device profile (JSON: measured layers or fits)");
  cmd->add_flag("--edge-measure", o.edge_measure, "Measure the edge profile now, on this machine");
  cmd->add_option("--server", o.server, "Server device profile (JSON)");
  cmd->add_option("--server-speedup", o.server_speedup,
                  "Instead of --server: the server is F times faster than the edge");
  cmd->add_option("--uplink", o.uplink, "Edge -> server rate with unit (5Mbit/s, 1MB/s)")
      ->required();
  cmd->add_option("--downlink", o.downlink, "Server -> edge rate (default: the uplink's)");
  cmd->add_option("--rtt", o.rtt_ms, "Round-trip time, ms")->capture_default_str();
  cmd->add_option("--server-load", o.server_load,
                  "Server utilisation in [0, 1): server times grow by 1 / (1 - F)")
      ->capture_default_str();
  cmd->add_option("--objective", o.objective, "latency or energy (the edge's)")
      ->capture_default_str();
  cmd->add_option("--stages", o.stages,
                  "Plan a pipeline over N devices like the edge instead (throughput)");
  cmd->add_option("--json", o.json_path, "Write the plan as JSON (input of deepedge split)");
  AddMeasureOptions(cmd, o.m);
  AddGraphInputOptions(cmd, o.m);
  AddStoreOptions(cmd, o.store);
  cmd->callback([&ctx] { ctx.exit_code = RunPartition(o, ctx); });
}

}  // namespace deepedge::app
