// deepedge backends: what is available here, what each can do, and why not.
#include <cstdio>

#include "app.h"

namespace deepedge::app {

void AddBackendsCommand(CLI::App& app, AppContext& ctx) {
  CLI::App* cmd =
      app.add_subcommand("backends", "List inference backends, their status and options");
  cmd->callback([&ctx] {
    for (const Backend* b : ctx.backends.All()) {
      const Status avail = b->Available();
      const Capabilities caps = b->GetCapabilities();
      std::string formats;
      for (ModelFormat f : caps.formats)
        formats += std::string(formats.empty() ? "" : ", ") + std::string(ModelFormatName(f));
      std::string dtypes;
      for (DType t : caps.input_dtypes)
        dtypes += std::string(dtypes.empty() ? "" : ", ") + std::string(DTypeName(t));
      std::printf("%s %s: %s\n", std::string(b->Name()).c_str(), b->Version().c_str(),
                  avail.ok() ? "available" : ("unavailable: " + avail.message()).c_str());
      std::printf("  formats: %s\n  input types: %s\n  per-layer profile: %s\n", formats.c_str(),
                  dtypes.c_str(), caps.per_layer_profile ? "yes" : "no");
      for (const OptionSpec& o : b->Options()) {
        std::string choices;
        for (const std::string& c : o.choices) choices += (choices.empty() ? "" : "|") + c;
        std::printf("  option %s=%s (default %s): %s\n", o.name.c_str(),
                    choices.empty() ? "VALUE" : choices.c_str(), o.default_value.c_str(),
                    o.help.c_str());
      }
    }
    ctx.exit_code = 0;
  });
}

}  // namespace deepedge::app
