// deepedge split MODEL --plan PLAN.json -o DIR: the head (edge) and tail (server) models.
#include <cstdio>
#include <filesystem>
#include <system_error>

#include <nlohmann/json.hpp>

#include "app.h"
#include "deepedge/file_util.h"
#include "deepedge/onnx_model.h"
#include "deepedge/partition.h"

namespace deepedge::app {
namespace {

struct SplitOptions {
  std::string model, plan, out_dir;
};

int RunSplit(const SplitOptions& o, AppContext&) {
  namespace fs = std::filesystem;
  Expected<ModelSource> src = ModelSource::FromFile(o.model);
  if (!src) return ReportError(src.status());
  if (src->format != ModelFormat::kOnnx)
    return ReportError(InvalidArgument(o.model + ": split needs an ONNX model"));
  Expected<partition::LayerGraph> g = partition::BuildLayerGraph(*src);
  if (!g) return ReportError(g.status());
  Expected<std::string> plan_text = ReadFileText(o.plan);
  if (!plan_text) return ReportError(plan_text.status());
  Expected<std::vector<bool>> on_edge = partition::ReadPlanEdgeSet(*plan_text, *g);
  if (!on_edge) return ReportError(on_edge.status().WithContext(o.plan));
  Expected<partition::SplitResult> r = partition::SplitModel(*src, *g, *on_edge);
  if (!r) return ReportError(r.status());
  // Both parts must be valid ONNX before anything is written.
  for (const auto* part : {&r->head, &r->tail}) {
    if (part->empty()) continue;
    if (Status s = CheckOnnx(ModelSource::FromBytes(ModelFormat::kOnnx, *part)); !s.ok())
      return ReportError(Internal("a split part fails the ONNX checker: " + s.message()));
  }
  std::error_code ec;
  if (fs::exists(o.out_dir, ec) && !fs::is_directory(o.out_dir, ec))
    return ReportError(InvalidArgument(o.out_dir + ": exists and is not a directory"));
  fs::create_directories(o.out_dir, ec);
  if (ec) return ReportError(IoError(o.out_dir + ": cannot create: " + ec.message()));
  nlohmann::json manifest = {{"schema", "deepedge.split"},
                             {"schema_version", 1},
                             {"model", {{"name", g->model_name}, {"sha256", g->sha256}}},
                             {"cut_tensors", r->cut_tensors}};
  std::vector<fs::path> written;
  auto write = [&](const fs::path& p, const std::vector<std::uint8_t>& bytes) -> Status {
    Status s = WriteFileAtomic(p, bytes);
    if (s.ok()) written.push_back(p);
    return s;
  };
  Status s = Status::Ok();
  if (!r->head.empty()) {
    s = write(fs::path(o.out_dir) / "head.onnx", r->head);
    manifest["head"] = {{"file", "head.onnx"},
                        {"runs_on", "edge"},
                        {"inputs", r->head_inputs},
                        {"outputs", r->head_outputs}};
  }
  if (s.ok() && !r->tail.empty()) {
    s = write(fs::path(o.out_dir) / "tail.onnx", r->tail);
    manifest["tail"] = {{"file", "tail.onnx"},
                        {"runs_on", "server"},
                        {"inputs", r->tail_inputs},
                        {"outputs", r->tail_outputs}};
  }
  if (s.ok()) s = WriteFileAtomic(fs::path(o.out_dir) / "manifest.json", manifest.dump(2) + "\n");
  if (!s.ok()) {
    for (const fs::path& p : written) fs::remove(p, ec);
    return ReportError(s);
  }
  std::printf("wrote %s: %s%s%s, %zu tensors cross the cut\n", o.out_dir.c_str(),
              r->head.empty() ? "" : "head.onnx (edge) ",
              r->tail.empty() ? "" : "tail.onnx (server) ", "manifest.json", r->cut_tensors.size());
  for (const std::string& t : r->cut_tensors) std::printf("  %s\n", t.c_str());
  return 0;
}

}  // namespace

void AddSplitCommand(CLI::App& app, AppContext& ctx) {
  static SplitOptions o;
  CLI::App* cmd = app.add_subcommand(
      "split",
      "Cut an ONNX model by a partition plan into head.onnx (edge) and tail.onnx (server)");
  cmd->add_option("model", o.model, "ONNX model")->required();
  cmd->add_option("--plan", o.plan, "Plan JSON from deepedge partition --json")->required();
  cmd->add_option("-o,--output", o.out_dir, "Output directory")->required();
  cmd->callback([&ctx] { ctx.exit_code = RunSplit(o, ctx); });
}

}  // namespace deepedge::app
