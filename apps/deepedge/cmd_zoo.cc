// deepedge zoo list | zoo export NAME -o FILE
#include <cstdio>

#include "app.h"
#include "deepedge/zoo.h"

namespace deepedge::app {

void AddZooCommand(CLI::App& app, AppContext& ctx) {
  CLI::App* zoo =
      app.add_subcommand("zoo", "Classic edge architectures as ONNX models with synthetic weights");
  zoo->require_subcommand(1);

  CLI::App* list = zoo->add_subcommand("list", "List the zoo's models");
  list->callback([&ctx] {
    std::printf("%-24s %-14s %12s %12s  %s\n", "name", "input", "params", "MACs", "description");
    for (const ZooEntry& e : ZooList()) {
      std::printf("%-24s %-14s %10.2f M %10.1f M  %s\n", e.name.c_str(), e.input_shape.c_str(),
                  static_cast<double>(e.reference_params) / 1e6,
                  static_cast<double>(e.reference_macs) / 1e6, e.description.c_str());
    }
    std::printf(
        "\nAll zoo weights are synthetic (deterministic, generated): true timings, meaningless "
        "predictions.\nParameter and MAC figures are the published ones for each architecture.\n");
    ctx.exit_code = 0;
  });

  // CLI11 keeps pointers to these until parsing ends; statics outlive it.
  static std::string name_storage, out_storage;
  std::string* name = &name_storage;
  std::string* out = &out_storage;
  CLI::App* exp = zoo->add_subcommand("export", "Write a zoo model as an ONNX file");
  exp->add_option("name", *name, "Zoo model name (see `deepedge zoo list`)")->required();
  exp->add_option("-o,--output", *out, "Output .onnx file")->required();
  exp->callback([&ctx, name, out] {
    if (Status s = ZooExport(*name, *out); !s.ok()) {
      ctx.exit_code = ReportError(s);
      return;
    }
    std::printf("wrote %s (%s, synthetic weights)\n", out->c_str(), name->c_str());
    ctx.exit_code = 0;
  });
}

}  // namespace deepedge::app
