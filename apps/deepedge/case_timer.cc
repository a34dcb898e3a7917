#include "case_timer.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "common.h"
#include "deepedge/bench.h"
#include "deepedge/environment.h"

namespace deepedge::app {

double LowQuantile(std::vector<double> runs) {
  if (runs.empty()) return 0;
  const auto k = static_cast<std::ptrdiff_t>(kFastQuantile * static_cast<double>(runs.size() - 1));
  std::nth_element(runs.begin(), runs.begin() + k, runs.end());
  return runs[static_cast<std::size_t>(k)];
}

void EvictL2(std::vector<unsigned char>& buffer) {
  for (std::size_t k = 0; k < buffer.size(); k += 64) buffer[k] = static_cast<unsigned char>(k);
}

Status LoadedCase::RunOnce(bool warm) {
  DEEPEDGE_RETURN_IF_ERROR(session->Run(inputs, outputs));
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<LayerProfile> prof, session->LastProfile());
  double own = -1;
  for (const LayerProfile& l : prof)
    if (l.name == layer || l.name.rfind(layer + "+", 0) == 0) own = l.time_ms;
  if (own < 0)
    return Unsupported("backend " + backend + " has no profile entry for layer '" + layer +
                       "' (calibration needs per-layer profiles)");
  (warm ? warm_runs : cold_runs).push_back(own);
  return Status::Ok();
}

namespace {

// A session with per-layer profiling on the one pool all calibration sessions share, its
// inputs made and one warm-up run done.
struct ProfiledSession {
  std::string backend;
  std::unique_ptr<Session> session;
  std::vector<Tensor> inputs, outputs;
};

Expected<ProfiledSession> LoadProfiled(AppContext& ctx, const ModelSource& source,
                                       const MeasureOptions& o) {
  ProfiledSession p;
  DEEPEDGE_ASSIGN_OR_RETURN(p.backend, ChooseBackend(ctx, o.backend, source.format));
  DEEPEDGE_ASSIGN_OR_RETURN(auto options, ParseBackendOptions(o.backend_options));
  SessionOptions so;
  so.threads = o.threads;
  so.profile_layers = true;
  // One pool for all the cases, as a model's layers have: with a pool per case, the
  // workers of the case just run spun on while the next one ran (2 threads: 39 rounds
  // in 120 s, not 348-360, and 1-D convolutions of 0.03 ms timed at 2-4 ms).
  so.share_threads = true;
  so.backend_options = options;
  DEEPEDGE_ASSIGN_OR_RETURN(p.session, ctx.backends.Load(p.backend, source, so));
  DEEPEDGE_ASSIGN_OR_RETURN(p.inputs, MakeInputs(p.session->Inputs(), InputSpec{}, 1));
  DEEPEDGE_RETURN_IF_ERROR(p.session->Run(p.inputs, p.outputs));  // warm-up, not kept
  return p;
}

}  // namespace

Expected<LoadedCase> LoadCase(AppContext& ctx, const ModelSource& source,
                              const partition::CalibrationCase& cc, const MeasureOptions& o) {
  DEEPEDGE_ASSIGN_OR_RETURN(ProfiledSession p, LoadProfiled(ctx, source, o));
  LoadedCase c;
  c.description = cc.description;
  c.layer = cc.layer;
  c.backend = std::move(p.backend);
  c.session = std::move(p.session);
  c.inputs = std::move(p.inputs);
  c.outputs = std::move(p.outputs);
  return c;
}

Status LoadedNetwork::RunTwice() {
  DEEPEDGE_RETURN_IF_ERROR(session->Run(inputs, outputs));
  DEEPEDGE_RETURN_IF_ERROR(session->Run(inputs, outputs));
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<LayerProfile> prof, session->LastProfile());
  for (const LayerProfile& l : prof) entry_runs[l.name].push_back(l.time_ms);
  return Status::Ok();
}

Expected<LoadedNetwork> LoadNetwork(AppContext& ctx, const partition::ReferenceNetwork& network,
                                    const MeasureOptions& o) {
  const ModelSource src = ModelSource::FromBytes(ModelFormat::kOnnx, network.model);
  LoadedNetwork n;
  n.description = network.description;
  DEEPEDGE_ASSIGN_OR_RETURN(n.graph, partition::BuildLayerGraph(src));
  DEEPEDGE_ASSIGN_OR_RETURN(ProfiledSession p, LoadProfiled(ctx, src, o));
  n.session = std::move(p.session);
  n.inputs = std::move(p.inputs);
  n.outputs = std::move(p.outputs);
  return n;
}

Expected<int> RunRounds(std::vector<LoadedCase>& cases, int min_rounds, double min_seconds,
                        std::vector<LoadedNetwork>* networks) {
  const EnvironmentInfo env = CaptureEnvironment(MonitorPaths{}, "");
  std::vector<unsigned char> flush(
      static_cast<std::size_t>(2 * std::max<std::int64_t>(env.l2_cache_bytes, 512 * 1024)));
  const auto start = std::chrono::steady_clock::now();
  const auto elapsed_s = [&start] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  int rounds = 0;
  for (; rounds < min_rounds || elapsed_s() < min_seconds; ++rounds) {
    for (LoadedCase& c : cases) {
      for (bool warm : {false, true}) {
        if (warm) EvictL2(flush);
        if (Status s = c.RunOnce(warm); !s.ok()) return s.WithContext(c.description);
      }
    }
    if (networks == nullptr) continue;
    for (LoadedNetwork& n : *networks)
      if (Status s = n.RunTwice(); !s.ok()) return s.WithContext(n.description);
  }
  return rounds;
}

Expected<std::vector<LoadedCase>> LoadNamedCases(AppContext& ctx,
                                                 const std::map<std::string, double>& descriptions,
                                                 const MeasureOptions& o) {
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<partition::CalibrationCase> cases,
                            partition::CalibrationCases(/*quick=*/false));
  std::vector<LoadedCase> loaded;
  for (const partition::CalibrationCase& c : cases) {
    if (!descriptions.count(c.description)) continue;
    const ModelSource src = ModelSource::FromBytes(ModelFormat::kOnnx, c.model);
    Expected<LoadedCase> lc = LoadCase(ctx, src, c, o);
    if (!lc) return lc.status().WithContext(c.description);
    loaded.push_back(std::move(*lc));
  }
  return loaded;
}

Expected<std::map<std::string, double>> TimeWarmRuns(std::vector<LoadedCase>& cases,
                                                     double seconds) {
  DEEPEDGE_RETURN_IF_ERROR(RunRounds(cases, 10, seconds).status());
  std::map<std::string, double> times;
  for (LoadedCase& c : cases) {
    times[c.description] = LowQuantile(c.warm_runs);
    c.cold_runs.clear();
    c.warm_runs.clear();
  }
  return times;
}

}  // namespace deepedge::app
