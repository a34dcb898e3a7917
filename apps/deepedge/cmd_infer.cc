// deepedge infer MODEL --output-dir DIR: one inference, every output as .npy.
#include <cstdio>
#include <filesystem>

#include "app.h"
#include "common.h"
#include "deepedge/file_util.h"
#include "deepedge/npy.h"
#include "model_info_util.h"

namespace deepedge::app {
namespace {

struct InferOptions {
  std::string model;
  std::string weights;
  std::string backend;
  std::vector<std::string> backend_options;
  int threads = 0;
  InputOptions in;
  std::string output_dir;
};

// An output name as a file name: path separators and odd characters become '_'.
std::string FileNameFor(const std::string& name, std::size_t index) {
  std::string s;
  for (char c : name) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
    s += ok ? c : '_';
  }
  if (s.empty() || s == "." || s == "..") s = "output_" + std::to_string(index);
  return s + ".npy";
}

int RunInfer(const InferOptions& o, AppContext& ctx) {
  Expected<ModelSource> src = ResolveModel(o.model, o.weights);
  if (!src) return ReportError(src.status());
  InputSpec spec;
  std::string description;
  if (Status s = ParseInputs(o.in, spec, description); !s.ok()) return ReportError(s);
  Expected<std::string> backend = ChooseBackend(ctx, o.backend, src->format);
  if (!backend) return ReportError(backend.status());
  Expected<std::map<std::string, std::string>> options = ParseBackendOptions(o.backend_options);
  if (!options) return ReportError(options.status());
  std::error_code ec;
  std::filesystem::create_directories(o.output_dir, ec);
  if (ec || !std::filesystem::is_directory(o.output_dir)) {
    return ReportError(IoError("--output-dir " + o.output_dir + ": cannot create it"));
  }

  SessionOptions so;
  so.threads = o.threads;
  so.backend_options = *options;
  Expected<std::unique_ptr<Session>> session = ctx.backends.Load(*backend, *src, so);
  if (!session) return ReportError(session.status());
  Expected<std::vector<Tensor>> inputs = MakeInputs((*session)->Inputs(), spec, 1);
  if (!inputs) return ReportError(inputs.status());
  std::vector<Tensor> outputs;
  if (Status s = (*session)->Run(*inputs, outputs); !s.ok()) return ReportError(s);

  const auto& infos = (*session)->Outputs();
  std::printf("model %s, backend %s, input %s\n", src->display_name().c_str(), backend->c_str(),
              description.c_str());
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const std::string name = i < infos.size() ? infos[i].name : "output_" + std::to_string(i);
    const std::filesystem::path file = std::filesystem::path(o.output_dir) / FileNameFor(name, i);
    if (Status s = WriteFileAtomic(file, EncodeNpy(outputs[i])); !s.ok()) return ReportError(s);
    std::printf("  %-24s %-5s %-16s -> %s\n", name.c_str(),
                std::string(DTypeName(outputs[i].dtype())).c_str(),
                outputs[i].shape().ToString().c_str(), file.c_str());
  }
  return 0;
}

}  // namespace

void AddInferCommand(CLI::App& app, AppContext& ctx) {
  static InferOptions o;
  CLI::App* cmd = app.add_subcommand(
      "infer", "Run one inference and write every output as NAME.npy in --output-dir");
  cmd->add_option("model", o.model, "Model file")->required();
  cmd->add_option("--weights", o.weights, "Weights file for two-file formats");
  AddBackendOptions(cmd, o.backend, o.backend_options, o.threads);
  AddInputOptions(cmd, o.in);
  cmd->add_option("-o,--output-dir", o.output_dir, "Directory for the .npy outputs (created)")
      ->required();
  cmd->callback([&ctx] { ctx.exit_code = RunInfer(o, ctx); });
}

}  // namespace deepedge::app
