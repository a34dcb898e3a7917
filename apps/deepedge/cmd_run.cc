// deepedge run MODEL --server URL [--split auto|none|all|PLAN.json] [--queries N]:
// split inference over the network. The head of the model runs here, the crossing
// tensors go to a KServe v2 server in binary form, the server runs the tail. Each
// query's time is split into head compute, serialisation, upload, server queue and
// compute (reported by the server), download and deserialisation. When the server
// errors, times out or is unreachable the query finishes here (the tail runs
// locally), so no query is lost; the server is tried again after --retry-s.
//
// The server must serve the tails: `deepedge run MODEL --split S --write-repo DIR`
// writes them in Triton's layout (DIR/NAME/1/model.onnx) for `deepedge serve --models
// DIR` or Triton. Tail names are MODEL-cut-HASH (HASH of the device-side layer names),
// so a client and a repository written from the same model agree on them; the whole
// model is served as MODEL.
//
// --split auto plans with the partition planner from a measured profile of this
// device, a server speed estimated from the compute times the server reports, and
// link estimates from each transfer; it re-plans after every query and moves its cut
// when another served plan is predicted to be --hysteresis better twice in a row, or at
// once when an offload failed after so long that the uplink must have dropped far below
// its estimate (a rate drop stalls the running connection until the server gives up).
// While all on the device it offloads every --probe-every'th query, and also the first
// query when no --uplink was given (the rate planned with is then a 10 Mbit/s guess, which
// would keep a faster link's plan waiting for the first regular probe). A probe that
// finds the link much faster than estimated replaces the estimate and is followed by
// another at once, and a probed plan predicted better moves the cut at once (the next
// regular probe would be --probe-every queries away).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <map>
#include <optional>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

#include "app.h"
#include "common.h"
#include "deepedge/bench.h"
#include "deepedge/file_util.h"
#include "deepedge/partition.h"
#include "deepedge/remote.h"
#include "deepedge/stats.h"
#include "partition_util.h"
#include "store_util.h"

namespace deepedge::app {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

struct RunOptions {
  std::string model, server, split = "auto", write_repo, json_path;
  int queries = 100;
  double timeout_s = 5, retry_s = 2, interval_ms = 0;
  std::string uplink, downlink;
  double rtt_ms = -1;
  double server_speedup = 4;  // for planning tails to write, before any measurement
  double hysteresis = 0.15;
  int probe_every = 10;
  bool per_query = false;
  std::uint64_t seed = 42;
  MeasureOptions measure;
  StoreOptions store;
};

// One way of running the model: the layers on the device, the rest on the server.
struct Candidate {
  std::vector<bool> on_edge;
  std::string label;
  std::string server_model;  // "" for all-edge
  int edge_layers = 0;
  bool served = false;
  // Built on first use.
  std::optional<partition::SplitResult> split;
  std::unique_ptr<Session> head, tail_local;
  bool checked = false;  // outputs compared against a local run
  double max_abs_diff = -1;
};

bool AllEdge(const std::vector<bool>& e) {
  return std::all_of(e.begin(), e.end(), [](bool b) { return b; });
}
bool AllServer(const std::vector<bool>& e) {
  return std::none_of(e.begin(), e.end(), [](bool b) { return b; });
}

std::string TailName(const std::string& stem, const partition::LayerGraph& g,
                     const std::vector<bool>& on_edge) {
  if (AllServer(on_edge)) return stem;
  if (AllEdge(on_edge)) return "";
  // FNV-1a over the device-side layer names: stable across runs and machines.
  std::uint64_t h = 1469598103934665603ull;
  for (std::size_t i = 0; i < g.layers.size(); ++i) {
    if (!on_edge[i]) continue;
    for (char c : g.layers[i].name + "\n") {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ull;
    }
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%08llx", static_cast<unsigned long long>(h >> 32));
  return stem + "-cut-" + buf;
}

std::string Label(const partition::LayerGraph& g, const std::vector<bool>& on_edge) {
  if (AllEdge(on_edge)) return "all-device";
  if (AllServer(on_edge)) return "all-server";
  int n = 0, last = -1;
  for (std::size_t i = 0; i < on_edge.size(); ++i)
    if (on_edge[i]) ++n, last = static_cast<int>(i);
  return "split: " + std::to_string(n) + " layers on the device (last " + g.layers[last].name + ")";
}

struct QueryRecord {
  int index = 0;
  std::string plan, mode;  // mode: "offload", "local", "fallback"
  double head_ms = 0, serialize_ms = 0, upload_ms = 0, server_queue_ms = -1, server_compute_ms = -1,
         download_ms = 0, deserialize_ms = 0, local_ms = 0, total_ms = 0;
  std::uint64_t upload_bytes = 0, download_bytes = 0;
  std::string error;
};

struct Switch {
  int query;
  std::string from, to, why;
};

// Link and server estimates, updated from each offloaded query.
struct Estimates {
  double up_bps = 0, down_bps = 0;  // bytes/s
  double rtt_ms = 0;
  double server_factor = 0;  // server time / device time for the same layers
  // Observed device time / profiled time: per-layer profiles miss what a CPU quota
  // (cgroup throttling) or other load does to a whole run.
  double device_factor = 1;
  // A link or server estimate is the median of its last 5 samples: one cold start on the
  // server or one stalled transfer must not move the cut, a real change moves it in 3.
  std::map<const double*, std::deque<double>> window;
  void Add(double& v, double x) {
    const std::vector<double> sorted = Push(v, x, 5);
    v = sorted[sorted.size() / 2];
  }
  // The device factor is the mean of its last 10 samples less the highest and the lowest.
  // Under a CPU quota a run's time depends on where in the quota period it starts (4 to
  // 160 ms for SqueezeNet at 0.05 CPU on the testbed): the median of 5 such samples swings
  // with a few short runs, while the mean is the latency the device gives on average.
  void AddTrimmedMean(double& v, double x) {
    const std::vector<double> sorted = Push(v, x, 10);
    const std::size_t trim = sorted.size() >= 3 ? 1 : 0;
    double sum = 0;
    for (std::size_t i = trim; i < sorted.size() - trim; ++i) sum += sorted[i];
    v = sum / static_cast<double>(sorted.size() - 2 * trim);
  }
  // Adds x to v's window of its last n samples; returns the window sorted.
  std::vector<double> Push(const double& v, double x, std::size_t n) {
    std::deque<double>& w = window[&v];
    w.push_back(x);
    if (w.size() > n) w.pop_front();
    std::vector<double> sorted(w.begin(), w.end());
    std::sort(sorted.begin(), sorted.end());
    return sorted;
  }
  // A level shift seen at once (see Runner::LearnFailedTransfer): the window restarts.
  void Reset(double& v, double x) {
    window[&v] = {x};
    v = x;
  }
};

class Runner {
 public:
  Runner(AppContext& ctx, const RunOptions& o) : ctx_(ctx), o_(o) {}

  int Main() {
    if (Status s = Prepare(); !s.ok()) return ReportError(s);
    if (!o_.write_repo.empty()) return WriteRepo();
    if (o_.server.empty())
      return ReportError(InvalidArgument("--server URL is needed (or --write-repo DIR)"));
    if (Status s = Connect(); !s.ok()) return ReportError(s);
    std::vector<QueryRecord> records;
    for (int q = 0; q < o_.queries; ++q) {
      const Clock::time_point t0 = Clock::now();
      Expected<QueryRecord> r = Query(q);
      if (!r) return ReportError(r.status().WithContext("query " + std::to_string(q)));
      if (o_.per_query) {
        PrintQuery(*r);
        std::fflush(stdout);  // live, also when piped
      }
      records.push_back(std::move(*r));
      if (o_.interval_ms > 0) {
        const double left = o_.interval_ms - MsSince(t0);
        if (left > 0) std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(left));
      }
    }
    if (int rc = Report(records); rc != 0) return rc;
    return StoreRun(records);
  }

 private:
  Status Prepare() {
    DEEPEDGE_ASSIGN_OR_RETURN(source_, ModelSource::FromFile(o_.model));
    if (source_.format != ModelFormat::kOnnx)
      return InvalidArgument(o_.model + ": run splits ONNX models only");
    DEEPEDGE_ASSIGN_OR_RETURN(auto shapes, ParseInputShapes(o_.measure));
    DEEPEDGE_ASSIGN_OR_RETURN(graph_, partition::BuildLayerGraph(source_, shapes));
    stem_ = fs::path(o_.model).stem().string();
    DEEPEDGE_ASSIGN_OR_RETURN(backend_,
                              ChooseBackend(ctx_, o_.measure.backend, ModelFormat::kOnnx));
    DEEPEDGE_ASSIGN_OR_RETURN(backend_options_, ParseBackendOptions(o_.measure.backend_options));
    if (!o_.uplink.empty()) {
      DEEPEDGE_ASSIGN_OR_RETURN(est_.up_bps, partition::ParseRate(o_.uplink));
    }
    if (!o_.downlink.empty()) {
      DEEPEDGE_ASSIGN_OR_RETURN(est_.down_bps, partition::ParseRate(o_.downlink));
    }
    const std::size_t n = graph_.layers.size();
    std::vector<std::vector<bool>> sets;
    if (o_.split == "none") {
      sets.push_back(std::vector<bool>(n, true));
    } else if (o_.split == "all") {
      sets.push_back(std::vector<bool>(n, false));
    } else if (o_.split == "auto") {
      adaptive_ = true;
      DEEPEDGE_RETURN_IF_ERROR(MeasureDevice());
      sets = SweepPlans();
      // Running: any prefix of the layer order may be served too (tails written from
      // another measurement of this device); those not served are dropped.
      if (o_.write_repo.empty()) {
        const std::size_t n_layers = graph_.layers.size();
        for (std::size_t k = 1; k < n_layers; ++k) {
          std::vector<bool> prefix(n_layers, false);
          std::fill(prefix.begin(), prefix.begin() + static_cast<std::ptrdiff_t>(k), true);
          if (std::find(sets.begin(), sets.end(), prefix) == sets.end()) sets.push_back(prefix);
        }
      }
    } else {
      DEEPEDGE_ASSIGN_OR_RETURN(std::string text, ReadFileText(o_.split));
      Expected<std::vector<bool>> e = partition::ReadPlanEdgeSet(text, graph_);
      if (!e) return e.status().WithContext(o_.split);
      sets.push_back(*e);
    }
    for (auto& s : sets) {
      Candidate c;
      c.edge_layers = static_cast<int>(std::count(s.begin(), s.end(), true));
      c.label = Label(graph_, s);
      c.server_model = TailName(stem_, graph_, s);
      c.on_edge = std::move(s);
      candidates_.push_back(std::move(c));
    }
    // The whole model, for all-device queries, fallbacks and the output check.
    DEEPEDGE_ASSIGN_OR_RETURN(whole_, LoadLocal(source_));
    InputSpec spec;
    spec.seed = o_.seed;
    spec.shapes = shapes;
    DEEPEDGE_ASSIGN_OR_RETURN(inputs_, MakeInputs(whole_->Inputs(), spec, 1));
    // One unmeasured run: first runs pay one-off setup that no query should carry.
    std::vector<Tensor> warm;
    return whole_->Run(inputs_, warm);
  }

  Expected<std::unique_ptr<Session>> LoadLocal(const ModelSource& src) {
    SessionOptions so;
    so.threads = o_.measure.threads;
    so.backend_options = backend_options_;
    return ctx_.backends.Load(backend_, src, so);
  }

  Status MeasureDevice() {
    std::fprintf(stderr, "deepedge run: measuring %s's layers on this device (%s)\n", stem_.c_str(),
                 backend_.c_str());
    DEEPEDGE_ASSIGN_OR_RETURN(partition::DeviceProfile p,
                              MeasureProfile(ctx_, source_, graph_, o_.measure));
    DEEPEDGE_ASSIGN_OR_RETURN(auto costs, partition::LayerCosts(graph_, p));
    edge_ms_.clear();
    for (const auto& c : costs) edge_ms_.push_back(c.time_ms);
    return Status::Ok();
  }

  // The plans the planner picks over uplinks from 100 kbit/s to 1 Gbit/s (downlink 3x):
  // the tails worth serving. All-device and all-server are always among them.
  std::vector<std::vector<bool>> SweepPlans() {
    const std::size_t n = graph_.layers.size();
    std::vector<std::vector<bool>> sets{std::vector<bool>(n, true), std::vector<bool>(n, false)};
    for (int i = 0; i <= 16; ++i) {
      const double mbit = 0.1 * std::pow(10.0, i / 4.0);
      partition::CostInputs in = Inputs(1.0 / o_.server_speedup);
      in.link = {mbit * 1e6 / 8, 3 * mbit * 1e6 / 8, o_.rtt_ms > 0 ? o_.rtt_ms : 20};
      partition::Plan p = partition::PlanPartition(graph_, in);
      if (std::find(sets.begin(), sets.end(), p.on_edge) == sets.end()) sets.push_back(p.on_edge);
    }
    return sets;
  }

  partition::CostInputs Inputs(double factor) const {
    partition::CostInputs in;
    for (double t : edge_ms_) in.edge_ms.push_back(t * est_.device_factor);
    for (double t : edge_ms_) in.server_ms.push_back(t * factor);
    in.link = {est_.up_bps, est_.down_bps, est_.rtt_ms};
    return in;
  }

  int WriteRepo() {
    int written = 0;
    for (Candidate& c : candidates_) {
      if (c.server_model.empty()) continue;
      Status s = EnsureSplit(c);
      if (!s.ok()) return ReportError(s);
      // All-server: the whole model file; otherwise the tail of the cut.
      std::vector<std::uint8_t> bytes;
      if (AllServer(c.on_edge)) {
        Expected<std::vector<std::uint8_t>> b = ReadFileBytes(o_.model);
        if (!b) return ReportError(b.status());
        bytes = std::move(*b);
      } else {
        bytes = c.split->tail;
      }
      const fs::path dir = fs::path(o_.write_repo) / c.server_model / "1";
      std::error_code ec;
      fs::create_directories(dir, ec);
      if (ec) return ReportError(IoError(dir.string() + ": cannot create: " + ec.message()));
      s = WriteFileAtomic(dir / "model.onnx", bytes);
      if (!s.ok()) return ReportError(s);
      std::printf("wrote %s  (%s)\n", (dir / "model.onnx").c_str(), c.label.c_str());
      ++written;
    }
    std::printf("%d models in %s; serve them with: deepedge serve --models %s\n", written,
                o_.write_repo.c_str(), o_.write_repo.c_str());
    return 0;
  }

  Status EnsureSplit(Candidate& c) {
    if (c.split || AllEdge(c.on_edge) || AllServer(c.on_edge)) return Status::Ok();
    DEEPEDGE_ASSIGN_OR_RETURN(partition::SplitResult r,
                              partition::SplitModel(source_, graph_, c.on_edge));
    c.split = std::move(r);
    return Status::Ok();
  }

  // Finds out which candidates the server serves; false when it is unreachable.
  // `all`: ask about every candidate, else only those served before (fewer round trips).
  bool Probe(bool all) {
    if (!client_->Live().ok()) return false;
    std::vector<double> rtts;
    for (int i = 0; i < 5; ++i) {
      const Clock::time_point t0 = Clock::now();
      if (!client_->Live().ok()) return false;
      rtts.push_back(MsSince(t0));
    }
    // The least of them: a round trip is never shorter than the link's, and the device's
    // own CPU quota delays the others (to 29 ms on a 5 ms link at 0.05 CPU).
    if (o_.rtt_ms < 0) est_.rtt_ms = *std::min_element(rtts.begin(), rtts.end());
    for (Candidate& c : candidates_)
      if (all || c.served)
        c.served = !c.server_model.empty() && client_->ModelReady(c.server_model).ok();
    return true;
  }

  Status Connect() {
    if (o_.rtt_ms >= 0) est_.rtt_ms = o_.rtt_ms;
    remote::ClientOptions co;
    co.url = o_.server;
    co.timeout_s = o_.timeout_s;
    co.connect_timeout_s = std::min(o_.timeout_s, 2.0);
    DEEPEDGE_ASSIGN_OR_RETURN(client_, remote::Client::Create(co));
    if (!Probe(true)) {
      std::fprintf(
          stderr,
          "deepedge run: server %s unreachable: running on the device, retrying every %.1f s\n",
          o_.server.c_str(), o_.retry_s);
      down_until_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(o_.retry_s));
    } else {
      int served = 0;
      for (const Candidate& c : candidates_) {
        served += c.served;
        if (c.served)
          std::fprintf(stderr, "deepedge run: served: %s (%s)\n", c.server_model.c_str(),
                       c.label.c_str());
        else if (!c.server_model.empty() && candidates_.size() == 1)
          std::fprintf(stderr, "deepedge run: the server does not serve %s (%s)\n",
                       c.server_model.c_str(), c.label.c_str());
      }
      if (served == 0 && std::any_of(candidates_.begin(), candidates_.end(),
                                     [](const Candidate& c) { return !c.server_model.empty(); }))
        return NotFound("server " + o_.server + " serves none of this model's parts; write them " +
                        "with --write-repo DIR and run deepedge serve --models DIR");
    }
    // Without --uplink the rate is a guess until an upload measures it: a run that starts
    // all-device on the guess offloads its first query to measure it (see Query).
    uplink_guessed_ = est_.up_bps <= 0;
    if (uplink_guessed_) est_.up_bps = 10e6 / 8;
    if (est_.down_bps <= 0) est_.down_bps = 10e6 / 8;
    est_.server_factor = 1.0 / o_.server_speedup;
    current_ = Choose();
    std::fprintf(stderr, "deepedge run: starting with %s\n", candidates_[current_].label.c_str());
    return Status::Ok();
  }

  double Predict(const Candidate& c) const {
    if (edge_ms_.empty()) return 0;
    partition::CostInputs in = Inputs(est_.server_factor);
    return partition::ObjectiveValue(in, partition::Evaluate(graph_, in, c.on_edge));
  }

  // The best usable candidate under the current estimates.
  std::size_t Choose() const {
    std::size_t best = current_;
    double best_cost = 1e300;
    for (std::size_t i = 0; i < candidates_.size(); ++i) {
      const Candidate& c = candidates_[i];
      if (!c.server_model.empty() && !c.served) continue;
      const double cost = Predict(c);
      if (cost < best_cost) best = i, best_cost = cost;
    }
    return best;
  }

  // `urgent`: the current plan just failed a query, or this query probed the better plan
  // (probes come only every --probe-every queries); a better plan is taken at once.
  void Replan(int q, bool urgent = false) {
    if (!adaptive_ || candidates_.size() < 2) return;
    const std::size_t best = Choose();
    const double now_cost = Predict(candidates_[current_]), best_cost = Predict(candidates_[best]);
    if (best != current_ && best_cost < (1 - o_.hysteresis) * now_cost) {
      if (++better_streak_ >= 2 || urgent) {
        char why[256];
        std::snprintf(why, sizeof why,
                      "predicted %.1f -> %.1f ms (uplink %.2f Mbit/s, downlink %.2f Mbit/s, RTT "
                      "%.1f ms, device x%.2f, server x%.2f of the profile)",
                      now_cost, best_cost, est_.up_bps * 8 / 1e6, est_.down_bps * 8 / 1e6,
                      est_.rtt_ms, est_.device_factor, est_.server_factor);
        switches_.push_back({q, candidates_[current_].label, candidates_[best].label, why});
        std::fprintf(stderr, "deepedge run: query %d: moving to %s: %s\n", q,
                     candidates_[best].label.c_str(), why);
        current_ = best;
        better_streak_ = 0;
      }
    } else {
      better_streak_ = 0;
    }
  }

  // How much slower than profiled this device runs the `on_edge` layers right now.
  void LearnDevice(double observed_ms, const std::vector<bool>& on_edge) {
    double profiled = 0;
    for (std::size_t i = 0; i < edge_ms_.size(); ++i)
      if (on_edge[i]) profiled += edge_ms_[i];
    if (profiled > 0 && observed_ms > 0)
      est_.AddTrimmedMean(est_.device_factor, observed_ms / profiled);
  }

  // `first`: the plan's first offloaded query, whose server time carries the server's
  // one-off setup of that model (seconds for large weights): not a speed sample.
  // `probe`: an offload from all-device. Probes are the only uplink samples there, one
  // per --probe-every queries, so a window of samples from an earlier, slower link
  // would hold the estimate for 3 more probes; a probe at least twice as fast as the
  // estimate (a transfer cannot beat the link) restarts the window instead, and the next
  // query probes again: the first transfer after a while all-device runs on a cold TCP
  // connection (slow start after idle) and undersells a fast link.
  void Learn(const Candidate& c, const QueryRecord& r, bool first, bool probe) {
    if (r.head_ms > 0) LearnDevice(r.head_ms, c.on_edge);
    if (r.download_ms > 0.05 && r.download_bytes > 0)
      est_.Add(est_.down_bps, static_cast<double>(r.download_bytes) / (r.download_ms / 1e3));
    // An upload's time includes one round trip, so it bounds the RTT from above; less
    // the RTT, it is the wire time. When the RTT estimate (measured once, at the start)
    // leaves too little of it to trust, bytes / the whole upload time still bounds the
    // rate from below.
    if (r.upload_ms > 0 && r.upload_ms < est_.rtt_ms) est_.rtt_ms = r.upload_ms;
    const double wire = r.upload_ms - est_.rtt_ms;
    const double wire_ms = wire > 0.1 * r.upload_ms && wire > 0.05 ? wire : r.upload_ms;
    if (wire_ms > 0.05 && r.upload_bytes > 0) {
      const double bps = static_cast<double>(r.upload_bytes) / (wire_ms / 1e3);
      uplink_guessed_ = false;
      if (probe && bps > 2 * est_.up_bps) {
        est_.Reset(est_.up_bps, bps);
        probe_again_ = true;
      } else {
        est_.Add(est_.up_bps, bps);
      }
    }
    if (r.server_compute_ms > 0 && !edge_ms_.empty() && !first) {
      double device_ms = 0;
      for (std::size_t i = 0; i < c.on_edge.size(); ++i)
        if (!c.on_edge[i]) device_ms += edge_ms_[i];
      if (device_ms > 0) est_.Add(est_.server_factor, r.server_compute_ms / device_ms);
    }
  }

  // A request of `bytes` that failed after `elapsed_ms` got less than `bytes` through in
  // that time. When that bounds the uplink far below its estimate, the link dropped
  // under the connection (which stalls a running TCP stream until the server gives up
  // on it): the bound replaces the estimate rather than waiting for 3 of 5 samples.
  // Returns whether it did.
  bool LearnFailedTransfer(std::uint64_t bytes, double elapsed_ms) {
    if (bytes == 0 || elapsed_ms <= est_.rtt_ms) return false;
    const double bound = static_cast<double>(bytes) / ((elapsed_ms - est_.rtt_ms) / 1e3);
    if (!(bound < est_.up_bps / 4)) return false;
    est_.Reset(est_.up_bps, bound);
    return true;
  }

  // Runs the graph-input tensors through `session`, taking its inputs by name from
  // `values` and adding its outputs to it.
  Status RunPart(Session& session, std::map<std::string, Tensor>& values) {
    std::vector<Tensor> ins;
    for (const TensorInfo& info : session.Inputs()) {
      auto it = values.find(info.name);
      if (it == values.end()) return Internal("no value for tensor '" + info.name + "'");
      DEEPEDGE_ASSIGN_OR_RETURN(
          Tensor v, Tensor::Borrow(it->second.dtype(), it->second.shape(), it->second.data(),
                                   it->second.byte_size()));
      ins.push_back(std::move(v));
    }
    std::vector<Tensor> outs;
    DEEPEDGE_RETURN_IF_ERROR(session.Run(ins, outs));
    for (std::size_t i = 0; i < outs.size(); ++i)
      values[session.Outputs()[i].name] =
          outs[i].owns_data() ? std::move(outs[i]) : outs[i].Clone();
    return Status::Ok();
  }

  std::map<std::string, Tensor> GraphInputs() {
    std::map<std::string, Tensor> v;
    for (std::size_t i = 0; i < inputs_.size(); ++i)
      v[whole_->Inputs()[i].name] = inputs_[i].Clone();
    return v;
  }

  bool ServerDown() const { return down_until_ && Clock::now() < *down_until_; }

  Expected<QueryRecord> Query(int q) {
    QueryRecord r;
    r.index = q;
    // Back from a failure: see whether the server (and which parts) is there again.
    if (down_until_ && !ServerDown()) {
      const bool any_served = std::any_of(candidates_.begin(), candidates_.end(),
                                          [](const Candidate& c) { return c.served; });
      if (Probe(!any_served)) {
        down_until_.reset();
        std::fprintf(stderr, "deepedge run: query %d: server back, offloading again\n", q);
        if (candidates_[current_].server_model.empty() || !candidates_[current_].served)
          current_ = Choose();
      } else {
        down_until_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                         std::chrono::duration<double>(o_.retry_s));
      }
    }
    std::size_t use = current_;
    // On all-device, offload one query now and then to learn whether it pays again.
    // (Not while the server counts as down: such a query would run here anyway.)
    const bool probe_again = std::exchange(probe_again_, false);
    if (adaptive_ && candidates_[use].server_model.empty() && o_.probe_every > 0 &&
        (probe_again || uplink_guessed_ || q % o_.probe_every == o_.probe_every - 1) &&
        !ServerDown()) {
      double best = 1e300;
      for (std::size_t i = 0; i < candidates_.size(); ++i)
        if (candidates_[i].served && Predict(candidates_[i]) < best)
          use = i, best = Predict(candidates_[i]);
    }
    Candidate& c = candidates_[use];
    r.plan = c.label;
    if (c.server_model.empty() || !c.served || ServerDown()) {
      const Clock::time_point t0 = Clock::now();
      r.mode = "local";
      std::vector<Tensor> outs;
      DEEPEDGE_RETURN_IF_ERROR(whole_->Run(inputs_, outs));
      r.local_ms = MsSince(t0);
      r.total_ms = r.local_ms;
      LearnDevice(r.local_ms, std::vector<bool>(graph_.layers.size(), true));
      if (!c.server_model.empty())
        r.plan = c.label + (ServerDown() ? " (server down: all on the device)"
                                         : " (not served: all on the device)");
      return r;
    }
    // Parts are cut and loaded on first use, outside the query's timing.
    DEEPEDGE_RETURN_IF_ERROR(EnsureSplit(c));
    if (!AllServer(c.on_edge) && !c.head) {
      DEEPEDGE_ASSIGN_OR_RETURN(
          c.head, LoadLocal(ModelSource::FromBytes(ModelFormat::kOnnx, c.split->head)));
      std::map<std::string, Tensor> warm = GraphInputs();  // unmeasured first run
      DEEPEDGE_RETURN_IF_ERROR(RunPart(*c.head, warm));
    }
    std::map<std::string, Tensor> values = GraphInputs();
    const Clock::time_point t0 = Clock::now();
    if (!AllServer(c.on_edge)) {
      const Clock::time_point th = Clock::now();
      DEEPEDGE_RETURN_IF_ERROR(RunPart(*c.head, values));
      r.head_ms = MsSince(th);
    }
    const std::vector<std::string> tail_inputs =
        AllServer(c.on_edge) ? InputNames() : c.split->tail_inputs;
    std::vector<kserve::NamedTensor> send;
    for (const std::string& name : tail_inputs) {
      auto it = values.find(name);
      if (it == values.end()) return Internal("the head did not produce '" + name + "'");
      DEEPEDGE_ASSIGN_OR_RETURN(
          Tensor v, Tensor::Borrow(it->second.dtype(), it->second.shape(), it->second.data(),
                                   it->second.byte_size()));
      send.push_back({name, std::move(v), true});
    }
    remote::InferTiming t;
    std::uint64_t send_bytes = 0;
    for (const kserve::NamedTensor& n : send) send_bytes += n.tensor.byte_size();
    const Clock::time_point ts = Clock::now();
    Expected<std::vector<kserve::NamedTensor>> got = client_->Infer(c.server_model, send, &t);
    const double infer_ms = MsSince(ts);
    if (got) {
      r.mode = "offload";
      r.serialize_ms = t.serialize_ms;
      r.upload_ms = t.upload_ms;
      r.server_queue_ms = t.server_queue_ms;
      r.server_compute_ms = t.server_compute_ms;
      r.download_ms = t.download_ms;
      r.deserialize_ms = t.deserialize_ms;
      r.upload_bytes = t.request_bytes;
      r.download_bytes = t.response_bytes;
      r.total_ms = MsSince(t0);
      const bool first = !c.checked;
      if (first) Check(c, *got);
      const bool probe = use != current_;
      Learn(c, r, first, probe);
      Replan(q, probe);
      return r;
    }
    // The server failed this query: finish it here and stay local for a while.
    r.mode = "fallback";
    r.error = got.status().message();
    std::fprintf(stderr, "deepedge run: query %d: %s; finishing on the device, retry in %.1f s\n",
                 q, r.error.c_str(), o_.retry_s);
    if (adaptive_ && LearnFailedTransfer(send_bytes, infer_ms)) {
      std::fprintf(stderr,
                   "deepedge run: query %d: %llu bytes not through in %.0f ms: uplink below "
                   "%.2f Mbit/s\n",
                   q, static_cast<unsigned long long>(send_bytes), infer_ms, est_.up_bps * 8 / 1e6);
      Replan(q, true);
    }
    down_until_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(o_.retry_s));
    const Clock::time_point tl = Clock::now();
    if (AllServer(c.on_edge)) {
      std::vector<Tensor> outs;
      DEEPEDGE_RETURN_IF_ERROR(whole_->Run(inputs_, outs));
    } else {
      if (!c.tail_local) {
        DEEPEDGE_ASSIGN_OR_RETURN(
            c.tail_local, LoadLocal(ModelSource::FromBytes(ModelFormat::kOnnx, c.split->tail)));
      }
      DEEPEDGE_RETURN_IF_ERROR(RunPart(*c.tail_local, values));
    }
    r.local_ms = MsSince(tl);
    r.total_ms = MsSince(t0);
    return r;
  }

  std::vector<std::string> InputNames() const {
    std::vector<std::string> n;
    for (const TensorInfo& i : whole_->Inputs()) n.push_back(i.name);
    return n;
  }

  // The first answer of each plan against the whole model run here on the same inputs.
  void Check(Candidate& c, const std::vector<kserve::NamedTensor>& got) {
    c.checked = true;
    std::vector<Tensor> ref;
    if (!whole_->Run(inputs_, ref).ok()) return;
    double diff = 0;
    bool any = false;
    for (std::size_t i = 0; i < ref.size(); ++i) {
      for (const kserve::NamedTensor& t : got) {
        if (t.name != whole_->Outputs()[i].name || t.tensor.dtype() != DType::kF32 ||
            ref[i].dtype() != DType::kF32 || t.tensor.byte_size() != ref[i].byte_size())
          continue;
        any = true;
        auto a = t.tensor.as<float>();
        auto b = ref[i].as<float>();
        for (std::size_t k = 0; k < a.size(); ++k)
          diff = std::max(diff, static_cast<double>(std::fabs(a[k] - b[k])));
      }
    }
    if (any) c.max_abs_diff = diff;
  }

  void PrintQuery(const QueryRecord& r) const {
    std::printf(
        "query %3d %-8s total %8.2f ms  head %7.2f  ser %6.2f  up %7.2f  queue %6.2f  server "
        "%7.2f  down %7.2f  deser %6.2f  local %7.2f  (%s)\n",
        r.index, r.mode.c_str(), r.total_ms, r.head_ms, r.serialize_ms, r.upload_ms,
        r.server_queue_ms, r.server_compute_ms, r.download_ms, r.deserialize_ms, r.local_ms,
        r.plan.c_str());
  }

  static double Median(std::vector<double> v) {
    if (v.empty()) return -1;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  }

  // Prints the per-plan medians and writes --json; returns the exit status.
  int Report(const std::vector<QueryRecord>& records) {
    std::map<std::string, std::vector<const QueryRecord*>> by;
    for (const QueryRecord& r : records) by[r.mode + " | " + r.plan].push_back(&r);
    std::printf("%s on %s: %zu queries, all completed\n", stem_.c_str(), o_.server.c_str(),
                records.size());
    std::printf("%-9s %5s %9s %8s %8s %8s %8s %8s %8s %8s  %s\n", "mode", "n", "total", "head",
                "serial", "upload", "queue", "server", "download", "local", "plan");
    nlohmann::json groups = nlohmann::json::array();
    for (const auto& [key, rs] : by) {
      auto med = [&](auto f) {
        std::vector<double> v;
        for (const QueryRecord* r : rs) v.push_back(f(*r));
        return Median(v);
      };
      const double total = med([](const QueryRecord& r) { return r.total_ms; });
      const double head = med([](const QueryRecord& r) { return r.head_ms; });
      const double ser =
          med([](const QueryRecord& r) { return r.serialize_ms + r.deserialize_ms; });
      const double up = med([](const QueryRecord& r) { return r.upload_ms; });
      const double queue = med([](const QueryRecord& r) { return r.server_queue_ms; });
      const double server = med([](const QueryRecord& r) { return r.server_compute_ms; });
      const double down = med([](const QueryRecord& r) { return r.download_ms; });
      const double local = med([](const QueryRecord& r) { return r.local_ms; });
      std::printf("%-9s %5zu %9.2f %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f  %s\n",
                  rs.front()->mode.c_str(), rs.size(), total, head, ser, up, queue, server, down,
                  local, rs.front()->plan.c_str());
      groups.push_back({{"mode", rs.front()->mode},
                        {"plan", rs.front()->plan},
                        {"queries", rs.size()},
                        {"median_ms",
                         {{"total", total},
                          {"head", head},
                          {"serialization", ser},
                          {"upload", up},
                          {"server_queue", queue},
                          {"server_compute", server},
                          {"download", down},
                          {"local", local}}}});
    }
    std::printf(
        "(medians in ms; serial = serialisation + deserialisation; upload includes the "
        "round trip's latency)\n");
    for (const Candidate& c : candidates_)
      if (c.max_abs_diff >= 0)
        std::printf("%s: outputs agree with the whole model run here within %.3g (max |diff|)\n",
                    c.label.c_str(), c.max_abs_diff);
    for (const Switch& s : switches_)
      std::printf("query %d: %s -> %s: %s\n", s.query, s.from.c_str(), s.to.c_str(), s.why.c_str());
    if (o_.json_path.empty()) return 0;
    nlohmann::json j;
    j["schema"] = "deepedge.run";
    j["schema_version"] = 1;
    j["model"] = {{"name", stem_}, {"sha256", graph_.sha256}};
    j["server"] = o_.server;
    j["split"] = o_.split;
    j["backend"] = backend_;
    j["groups"] = groups;
    nlohmann::json qs = nlohmann::json::array();
    for (const QueryRecord& r : records)
      qs.push_back({{"index", r.index},
                    {"mode", r.mode},
                    {"plan", r.plan},
                    {"total_ms", r.total_ms},
                    {"head_ms", r.head_ms},
                    {"serialize_ms", r.serialize_ms},
                    {"upload_ms", r.upload_ms},
                    {"server_queue_ms", r.server_queue_ms},
                    {"server_compute_ms", r.server_compute_ms},
                    {"download_ms", r.download_ms},
                    {"deserialize_ms", r.deserialize_ms},
                    {"local_ms", r.local_ms},
                    {"upload_bytes", r.upload_bytes},
                    {"download_bytes", r.download_bytes},
                    {"error", r.error}});
    j["queries"] = qs;
    nlohmann::json sw = nlohmann::json::array();
    for (const Switch& s : switches_)
      sw.push_back({{"query", s.query}, {"from", s.from}, {"to", s.to}, {"why", s.why}});
    j["switches"] = sw;
    nlohmann::json cands = nlohmann::json::array();
    for (const Candidate& c : candidates_)
      cands.push_back({{"plan", c.label},
                       {"server_model", c.server_model},
                       {"served", c.served},
                       {"max_abs_diff", c.max_abs_diff}});
    j["candidates"] = cands;
    j["estimates"] = {{"uplink_mbit_s", est_.up_bps * 8 / 1e6},
                      {"downlink_mbit_s", est_.down_bps * 8 / 1e6},
                      {"rtt_ms", est_.rtt_ms},
                      {"device_time_factor", est_.device_factor},
                      {"server_time_factor", est_.server_factor}};
    if (Status s = WriteFileAtomic(o_.json_path, j.dump(2) + "\n"); !s.ok()) return ReportError(s);
    return 0;
  }

  // The results store's record of this run (kind "run"): end-to-end latency per query,
  // how many queries ran where, and each mode and plan's median breakdown as
  // split.<mode> <plan>@<server>.<component> in ms.
  int StoreRun(const std::vector<QueryRecord>& records) {
    if (o_.store.disabled) return 0;
    const Backend* local = ctx_.backends.Find(backend_);
    Expected<RunRecord> run =
        NewModelRun(o_.store, source_, "run", backend_, local ? local->Version() : "");
    if (!run) return ReportError(run.status().WithContext("run not stored"));
    run->config["server"] = o_.server;
    run->config["split"] = o_.split;
    run->config["queries"] = std::to_string(records.size());
    run->config["link"] = o_.server;
    std::map<std::string, std::vector<const QueryRecord*>> by;
    std::map<std::string, int> per_mode;
    for (const QueryRecord& r : records) {
      run->latency_samples_ms.push_back(r.total_ms);
      by[r.mode + " " + r.plan].push_back(&r);
      ++per_mode[r.mode];
    }
    const Summary total = Summarize(run->latency_samples_ms);
    run->metrics.push_back(
        {"latency.p50", total.p50, "ms", false,
         total.median_ci_valid ? std::optional(total.median_ci_low) : std::nullopt,
         total.median_ci_valid ? std::optional(total.median_ci_high) : std::nullopt});
    run->metrics.push_back({"latency.mean", total.mean, "ms", false, {}, {}});
    run->metrics.push_back({"latency.p99", total.p99, "ms", false, {}, {}});
    for (const auto& [mode, n] : per_mode) {
      run->metrics.push_back(
          {"run.queries_" + mode, static_cast<double>(n), "queries", false, {}, {}});
    }
    for (const auto& [key, rs] : by) {
      auto med = [&rs](auto f) {
        std::vector<double> v;
        for (const QueryRecord* r : rs) v.push_back(std::max(0.0, f(*r)));
        return Median(v);
      };
      const std::string prefix = "split." + key + "@" + o_.server + ".";
      for (const auto& [component, value] :
           {std::pair{"head", med([](const QueryRecord& r) { return r.head_ms; })},
            std::pair{"serialization",
                      med([](const QueryRecord& r) { return r.serialize_ms + r.deserialize_ms; })},
            std::pair{"upload", med([](const QueryRecord& r) { return r.upload_ms; })},
            std::pair{"server_queue", med([](const QueryRecord& r) { return r.server_queue_ms; })},
            std::pair{"server", med([](const QueryRecord& r) { return r.server_compute_ms; })},
            std::pair{"download", med([](const QueryRecord& r) { return r.download_ms; })},
            std::pair{"local", med([](const QueryRecord& r) { return r.local_ms; })}}) {
        run->metrics.push_back({prefix + component, value, "ms", false, {}, {}});
      }
    }
    for (const Switch& sw : switches_) {
      run->warnings.push_back("query " + std::to_string(sw.query) + ": moved from " + sw.from +
                              " to " + sw.to + ": " + sw.why);
    }
    return StoreRuns(o_.store, std::span<const RunRecord>(&*run, 1));
  }

  AppContext& ctx_;
  const RunOptions& o_;
  ModelSource source_;
  partition::LayerGraph graph_;
  std::string stem_, backend_;
  std::map<std::string, std::string> backend_options_;
  std::vector<double> edge_ms_;
  std::vector<Candidate> candidates_;
  std::unique_ptr<Session> whole_;
  std::vector<Tensor> inputs_;
  std::unique_ptr<remote::Client> client_;
  std::optional<Clock::time_point> down_until_;
  std::size_t current_ = 0;
  bool adaptive_ = false;
  int better_streak_ = 0;
  bool probe_again_ = false;     // the last probe restarted the uplink estimate (see Learn)
  bool uplink_guessed_ = false;  // no --uplink and no upload yet: est_.up_bps is a guess
  Estimates est_;
  std::vector<Switch> switches_;
};

}  // namespace

void AddRunCommand(CLI::App& app, AppContext& ctx) {
  static RunOptions o;
  CLI::App* cmd = app.add_subcommand("run", kRunDescription);
  cmd->add_option("model", o.model, "ONNX model")->required();
  cmd->add_option("--server", o.server, "KServe v2 server URL, http://HOST:PORT");
  cmd->add_option("--split", o.split,
                  "auto (planner, adaptive), none (all on the device), all (all on the server) "
                  "or a plan JSON from deepedge partition --json");
  cmd->add_option("--queries", o.queries, "Queries to run")->check(CLI::Range(1, 10000000));
  cmd->add_option("--interval-ms", o.interval_ms,
                  "Start queries at most this often (0: back to back)")
      ->check(CLI::Range(0.0, 3600e3));
  cmd->add_option("--timeout", o.timeout_s, "Seconds to wait for the server per read or write")
      ->check(CLI::Range(0.001, 3600.0));
  cmd->add_option("--retry-s", o.retry_s, "After a server failure, seconds before trying again")
      ->check(CLI::Range(0.0, 3600.0));
  cmd->add_option("--uplink", o.uplink, "Initial uplink estimate (5Mbit/s); measured afterwards");
  cmd->add_option("--downlink", o.downlink, "Initial downlink estimate; measured afterwards");
  cmd->add_option("--rtt", o.rtt_ms, "Round-trip time in ms (default: measured)")
      ->check(CLI::Range(0.0, 60000.0));
  cmd->add_option("--server-speedup", o.server_speedup,
                  "Server speed over this device, until the server reports compute times")
      ->check(CLI::Range(0.001, 1e6));
  cmd->add_option("--hysteresis", o.hysteresis,
                  "Move the cut when another plan is predicted this much faster (twice running)")
      ->check(CLI::Range(0.0, 0.99));
  cmd->add_option("--probe-every", o.probe_every,
                  "While all on the device, offload every Nth query to re-measure (0: never)");
  cmd->add_option("--write-repo", o.write_repo,
                  "Write the parts the server must serve (Triton layout) to DIR and exit");
  cmd->add_option("--json", o.json_path, "Write every query's breakdown as JSON");
  cmd->add_flag("--per-query", o.per_query, "Print one line per query");
  cmd->add_option("--seed", o.seed, "Seed of the random inputs");
  AddMeasureOptions(cmd, o.measure);
  AddStoreOptions(cmd, o.store);
  cmd->callback([&ctx] {
    Runner runner(ctx, o);
    ctx.exit_code = runner.Main();
  });
}

}  // namespace deepedge::app
