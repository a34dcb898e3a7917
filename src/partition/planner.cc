// The partition planner: plan costs, every-cut search for chains, minimum s-t cut
// (Dinic) for DAGs, brute force for checking, and pipelines over several devices.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <queue>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "deepedge/partition.h"

namespace deepedge::partition {

std::vector<int> LayerGraph::Predecessors(int i) const {
  std::vector<int> p;
  for (int t : layers[static_cast<std::size_t>(i)].inputs) {
    const int prod = tensors[static_cast<std::size_t>(t)].producer;
    if (prod >= 0 && std::find(p.begin(), p.end(), prod) == p.end()) p.push_back(prod);
  }
  return p;
}

bool LayerGraph::IsChain() const {
  for (std::size_t i = 0; i < layers.size(); ++i) {
    std::set<int> succ;
    for (int t : layers[i].outputs)
      for (int c : tensors[static_cast<std::size_t>(t)].consumers) succ.insert(c);
    if (i + 1 < layers.size()) {
      if (succ.size() != 1 || *succ.begin() != static_cast<int>(i) + 1) return false;
    }
  }
  // Graph inputs must feed the first layer only.
  for (const DataTensor& t : tensors) {
    if (t.producer < 0 &&
        (t.consumers.size() > 1 || (t.consumers.size() == 1 && t.consumers[0] != 0)))
      return false;
  }
  return true;
}

int LayerGraph::Find(std::string_view layer_name) const {
  for (std::size_t i = 0; i < layers.size(); ++i)
    if (layers[i].name == layer_name) return static_cast<int>(i);
  return -1;
}

Expected<double> ParseRate(std::string_view text) {
  std::string s;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c))) s.push_back(c);
  const std::string orig(text);
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str()) return InvalidArgument("rate '" + orig + "': no number");
  std::string unit(end);
  if (unit.empty()) return InvalidArgument("rate '" + orig + "': no unit (e.g. 5Mbit/s, 1MB/s)");
  struct U {
    const char* name;
    double bytes_per_s;
  };
  static const U kUnits[] = {{"bit/s", 1.0 / 8},  {"bps", 1.0 / 8},     {"kbit/s", 1e3 / 8},
                             {"kbps", 1e3 / 8},   {"Kbit/s", 1e3 / 8},  {"Kbps", 1e3 / 8},
                             {"Mbit/s", 1e6 / 8}, {"Mbps", 1e6 / 8},    {"Gbit/s", 1e9 / 8},
                             {"Gbps", 1e9 / 8},   {"B/s", 1},           {"kB/s", 1e3},
                             {"KB/s", 1e3},       {"MB/s", 1e6},        {"GB/s", 1e9},
                             {"KiB/s", 1024.0},   {"MiB/s", 1048576.0}, {"GiB/s", 1073741824.0}};
  for (const U& u : kUnits) {
    if (unit == u.name) {
      if (!std::isfinite(v) || v <= 0)
        return InvalidArgument("rate '" + orig + "' must be positive");
      return v * u.bytes_per_s;
    }
  }
  return InvalidArgument("rate '" + orig + "': unknown unit '" + unit +
                         "' (bit/s, kbit/s, Mbit/s, Gbit/s, bps..Gbps, B/s, kB/s, MB/s, GB/s, "
                         "KiB/s, MiB/s, GiB/s)");
}

bool IsValidPlan(const LayerGraph& graph, const std::vector<bool>& on_edge) {
  if (on_edge.size() != graph.layers.size()) return false;
  for (std::size_t i = 0; i < graph.layers.size(); ++i) {
    if (!on_edge[i]) continue;
    for (int p : graph.Predecessors(static_cast<int>(i)))
      if (!on_edge[static_cast<std::size_t>(p)]) return false;
  }
  return true;
}

Breakdown Evaluate(const LayerGraph& graph, const CostInputs& in,
                   const std::vector<bool>& on_edge) {
  Breakdown b;
  bool any_server = false;
  for (std::size_t i = 0; i < graph.layers.size(); ++i) {
    if (on_edge[i]) {
      b.edge_ms += in.edge_ms[i];
    } else {
      b.server_ms += in.server_ms[i];
      any_server = true;
    }
  }
  for (const DataTensor& t : graph.tensors) {
    const bool from_edge = t.producer < 0 || on_edge[static_cast<std::size_t>(t.producer)];
    bool to_server = false;
    for (int c : t.consumers) to_server |= !on_edge[static_cast<std::size_t>(c)];
    if (from_edge && to_server) b.upload_bytes += t.bytes;
    if (t.graph_output && !from_edge) b.download_bytes += t.bytes;
  }
  b.upload_ms = static_cast<double>(b.upload_bytes) / in.link.uplink_bps * 1e3;
  b.download_ms = static_cast<double>(b.download_bytes) / in.link.downlink_bps * 1e3;
  b.rtt_ms = any_server ? in.link.rtt_ms : 0;
  b.total_ms = b.edge_ms + b.upload_ms + b.server_ms + b.download_ms + b.rtt_ms;
  // W * ms = mJ.
  b.energy_mj = in.power.compute_w * b.edge_ms + in.power.radio_tx_w * b.upload_ms +
                in.power.radio_rx_w * b.download_ms + in.power.idle_w * (b.server_ms + b.rtt_ms);
  return b;
}

double ObjectiveValue(const CostInputs& in, const Breakdown& b) {
  return in.objective == Objective::kLatency ? b.total_ms : b.energy_mj;
}

MinCutResult MinCut(int n, const std::vector<std::tuple<int, int, double>>& edges, int s, int t) {
  struct E {
    int to;
    double cap;
  };
  std::vector<E> es;
  std::vector<std::vector<int>> adj(static_cast<std::size_t>(n));
  for (const auto& [u, v, c] : edges) {
    adj[static_cast<std::size_t>(u)].push_back(static_cast<int>(es.size()));
    es.push_back({v, c});
    adj[static_cast<std::size_t>(v)].push_back(static_cast<int>(es.size()));
    es.push_back({u, 0});
  }
  // Relative tolerance: capacities are sums of milliseconds; residuals below it are 0.
  double scale = 0;
  for (const auto& e : edges)
    if (std::isfinite(std::get<2>(e))) scale = std::max(scale, std::get<2>(e));
  const double eps = std::max(scale, 1.0) * 1e-12;
  std::vector<int> level(static_cast<std::size_t>(n)), it(static_cast<std::size_t>(n));
  auto bfs = [&]() {
    std::fill(level.begin(), level.end(), -1);
    std::queue<int> q;
    level[static_cast<std::size_t>(s)] = 0;
    q.push(s);
    while (!q.empty()) {
      const int u = q.front();
      q.pop();
      for (int id : adj[static_cast<std::size_t>(u)]) {
        const E& e = es[static_cast<std::size_t>(id)];
        if (e.cap > eps && level[static_cast<std::size_t>(e.to)] < 0) {
          level[static_cast<std::size_t>(e.to)] = level[static_cast<std::size_t>(u)] + 1;
          q.push(e.to);
        }
      }
    }
    return level[static_cast<std::size_t>(t)] >= 0;
  };
  // Iterative blocking-flow DFS along the level graph (no recursion depth limits).
  auto dfs = [&](double limit) {
    std::vector<int> path;  // edge ids
    int u = s;
    while (true) {
      if (u == t) {
        double f = limit;
        for (int id : path) f = std::min(f, es[static_cast<std::size_t>(id)].cap);
        for (int id : path) {
          es[static_cast<std::size_t>(id)].cap -= f;
          es[static_cast<std::size_t>(id ^ 1)].cap += f;
        }
        return f;
      }
      bool advanced = false;
      auto& i = it[static_cast<std::size_t>(u)];
      for (; i < static_cast<int>(adj[static_cast<std::size_t>(u)].size()); ++i) {
        const int id = adj[static_cast<std::size_t>(u)][static_cast<std::size_t>(i)];
        const E& e = es[static_cast<std::size_t>(id)];
        if (e.cap > eps &&
            level[static_cast<std::size_t>(e.to)] == level[static_cast<std::size_t>(u)] + 1) {
          path.push_back(id);
          u = e.to;
          advanced = true;
          break;
        }
      }
      if (!advanced) {
        if (path.empty()) return 0.0;
        // Dead end: retreat and skip the edge that led here.
        level[static_cast<std::size_t>(u)] = -1;
        const int back = path.back();
        path.pop_back();
        u = es[static_cast<std::size_t>(back ^ 1)].to;
      }
    }
  };
  double flow = 0;
  const double inf = std::numeric_limits<double>::infinity();
  while (bfs()) {
    std::fill(it.begin(), it.end(), 0);
    while (true) {
      const double f = dfs(inf);
      if (f <= 0) break;
      flow += f;
    }
  }
  MinCutResult r;
  r.value = flow;
  r.source_side.assign(static_cast<std::size_t>(n), false);
  std::vector<int> stack = {s};
  r.source_side[static_cast<std::size_t>(s)] = true;
  while (!stack.empty()) {
    const int u = stack.back();
    stack.pop_back();
    for (int id : adj[static_cast<std::size_t>(u)]) {
      const E& e = es[static_cast<std::size_t>(id)];
      if (e.cap > eps && !r.source_side[static_cast<std::size_t>(e.to)]) {
        r.source_side[static_cast<std::size_t>(e.to)] = true;
        stack.push_back(e.to);
      }
    }
  }
  return r;
}

namespace {

// Per-unit weights of the objective: what one ms of each activity costs.
struct Weights {
  double edge, server, up, down;
};
Weights ObjectiveWeights(const CostInputs& in) {
  if (in.objective == Objective::kLatency) return {1, 1, 1, 1};
  return {in.power.compute_w, in.power.idle_w, in.power.radio_tx_w, in.power.radio_rx_w};
}

// DADS-style construction. Source side = edge, sink side = server.
//   s -> layer: its server cost (cut when the layer is on the server)
//   layer -> t: its edge cost (cut when it is on the edge)
//   producer -> aux(tensor): upload cost, aux -> each consumer: infinite, so a
//     tensor read by several server layers is paid once; graph inputs hang off s;
//   consumer -> producer: infinite (no data flows server -> edge);
//   s -> producer of a graph output: download cost when that layer is on the server.
// The round trip is a constant for every plan with a server part.
Plan MinCutPlan(const LayerGraph& graph, const CostInputs& in) {
  const Weights w = ObjectiveWeights(in);
  const int L = static_cast<int>(graph.layers.size());
  const int T = static_cast<int>(graph.tensors.size());
  const int s = L + T, t = L + T + 1;
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<std::tuple<int, int, double>> edges;
  for (int i = 0; i < L; ++i) {
    edges.emplace_back(s, i, w.server * in.server_ms[static_cast<std::size_t>(i)]);
    edges.emplace_back(i, t, w.edge * in.edge_ms[static_cast<std::size_t>(i)]);
    for (int p : graph.Predecessors(i)) edges.emplace_back(i, p, inf);
  }
  for (int x = 0; x < T; ++x) {
    const DataTensor& d = graph.tensors[static_cast<std::size_t>(x)];
    const int aux = L + x;
    const int from = d.producer < 0 ? s : d.producer;
    edges.emplace_back(from, aux, w.up * static_cast<double>(d.bytes) / in.link.uplink_bps * 1e3);
    for (int c : d.consumers) edges.emplace_back(aux, c, inf);
    if (d.graph_output && d.producer >= 0)
      edges.emplace_back(s, d.producer,
                         w.down * static_cast<double>(d.bytes) / in.link.downlink_bps * 1e3);
  }
  const MinCutResult r = MinCut(L + T + 2, edges, s, t);
  Plan p;
  p.on_edge.assign(static_cast<std::size_t>(L), false);
  for (int i = 0; i < L; ++i)
    p.on_edge[static_cast<std::size_t>(i)] = r.source_side[static_cast<std::size_t>(i)];
  p.cost = Evaluate(graph, in, p.on_edge);
  p.method = "min s-t cut";
  return p;
}

}  // namespace

Plan PlanPartition(const LayerGraph& graph, const CostInputs& in) {
  const std::size_t L = graph.layers.size();
  Plan best;
  best.on_edge.assign(L, true);
  best.cost = Evaluate(graph, in, best.on_edge);
  if (graph.IsChain()) {
    best.method = "chain: every cut";
    for (std::size_t k = 0; k < L; ++k) {  // first k layers on the edge
      std::vector<bool> e(L, false);
      for (std::size_t i = 0; i < k; ++i) e[i] = true;
      const Breakdown b = Evaluate(graph, in, e);
      if (ObjectiveValue(in, b) < ObjectiveValue(in, best.cost)) {
        best.on_edge = e;
        best.cost = b;
      }
    }
    return best;
  }
  Plan cut = MinCutPlan(graph, in);
  if (ObjectiveValue(in, cut.cost) < ObjectiveValue(in, best.cost)) return cut;
  best.method = "min s-t cut";
  return best;
}

std::optional<Plan> BruteForcePlan(const LayerGraph& graph, const CostInputs& in,
                                   std::int64_t limit) {
  // Breadth-first over down-sets (valid edge sets), each reached by adding one layer
  // whose predecessors are all in.
  const std::size_t L = graph.layers.size();
  std::vector<std::vector<int>> preds(L);
  for (std::size_t i = 0; i < L; ++i) preds[i] = graph.Predecessors(static_cast<int>(i));
  auto key = [](const std::vector<bool>& v) {
    std::string k(v.size(), '0');
    for (std::size_t i = 0; i < v.size(); ++i)
      if (v[i]) k[i] = '1';
    return k;
  };
  std::unordered_set<std::string> seen;
  std::vector<std::vector<bool>> frontier = {std::vector<bool>(L, false)};
  seen.insert(key(frontier[0]));
  Plan best;
  bool have = false;
  while (!frontier.empty()) {
    std::vector<std::vector<bool>> next;
    for (const auto& e : frontier) {
      const Breakdown b = Evaluate(graph, in, e);
      if (!have || ObjectiveValue(in, b) < ObjectiveValue(in, best.cost)) {
        best.on_edge = e;
        best.cost = b;
        have = true;
      }
      for (std::size_t i = 0; i < L; ++i) {
        if (e[i]) continue;
        bool ok = true;
        for (int p : preds[i]) ok &= static_cast<bool>(e[static_cast<std::size_t>(p)]);
        if (!ok) continue;
        std::vector<bool> n = e;
        n[i] = true;
        if (seen.insert(key(n)).second) {
          if (static_cast<std::int64_t>(seen.size()) > limit) return std::nullopt;
          next.push_back(std::move(n));
        }
      }
    }
    frontier = std::move(next);
  }
  best.method = "brute force";
  return best;
}

PipelinePlan PlanPipeline(const LayerGraph& graph, const std::vector<double>& layer_ms,
                          const Link& link, int stages) {
  const int L = static_cast<int>(graph.layers.size());
  stages = std::max(1, std::min(stages, L));
  std::vector<double> prefix(static_cast<std::size_t>(L) + 1, 0);
  for (int i = 0; i < L; ++i)
    prefix[static_cast<std::size_t>(i) + 1] =
        prefix[static_cast<std::size_t>(i)] + layer_ms[static_cast<std::size_t>(i)];
  // cross[j]: bytes of tensors produced before layer j (or graph inputs) and read at or
  // after j, for a boundary just before layer j.
  std::vector<double> link_ms(static_cast<std::size_t>(L) + 1, 0);
  for (int j = 1; j < L; ++j) {
    std::int64_t bytes = 0;
    for (const DataTensor& t : graph.tensors) {
      if (t.producer >= j) continue;
      bool later = false;
      for (int c : t.consumers) later |= c >= j;
      if (later) bytes += t.bytes;
    }
    link_ms[static_cast<std::size_t>(j)] =
        static_cast<double>(bytes) / link.uplink_bps * 1e3 + link.rtt_ms / 2;
  }
  const double inf = std::numeric_limits<double>::infinity();
  // best[k][i]: smallest bottleneck for layers [0, i) in k stages; from[k][i]: start of the last.
  std::vector<std::vector<double>> best(static_cast<std::size_t>(stages) + 1,
                                        std::vector<double>(static_cast<std::size_t>(L) + 1, inf));
  std::vector<std::vector<int>> from(best.size(),
                                     std::vector<int>(static_cast<std::size_t>(L) + 1, -1));
  best[0][0] = 0;
  for (int k = 1; k <= stages; ++k) {
    for (int i = 1; i <= L; ++i) {
      for (int j = k - 1; j < i; ++j) {
        const double prev = best[static_cast<std::size_t>(k) - 1][static_cast<std::size_t>(j)];
        if (!std::isfinite(prev)) continue;
        double v = std::max(
            prev, prefix[static_cast<std::size_t>(i)] - prefix[static_cast<std::size_t>(j)]);
        if (j > 0) v = std::max(v, link_ms[static_cast<std::size_t>(j)]);
        if (v < best[static_cast<std::size_t>(k)][static_cast<std::size_t>(i)]) {
          best[static_cast<std::size_t>(k)][static_cast<std::size_t>(i)] = v;
          from[static_cast<std::size_t>(k)][static_cast<std::size_t>(i)] = j;
        }
      }
    }
  }
  int k_best = 1;
  for (int k = 1; k <= stages; ++k)
    if (best[static_cast<std::size_t>(k)][static_cast<std::size_t>(L)] <
        best[static_cast<std::size_t>(k_best)][static_cast<std::size_t>(L)] - 1e-12)
      k_best = k;
  PipelinePlan p;
  std::vector<int> begins;
  for (int k = k_best, i = L; k > 0; --k) {
    const int j = from[static_cast<std::size_t>(k)][static_cast<std::size_t>(i)];
    begins.push_back(j);
    i = j;
  }
  std::reverse(begins.begin(), begins.end());
  p.stage_begin = begins;
  for (std::size_t s = 0; s < begins.size(); ++s) {
    const int b = begins[s];
    const int e = s + 1 < begins.size() ? begins[s + 1] : L;
    p.stage_ms.push_back(prefix[static_cast<std::size_t>(e)] - prefix[static_cast<std::size_t>(b)]);
    if (s + 1 < begins.size()) p.link_ms.push_back(link_ms[static_cast<std::size_t>(e)]);
  }
  for (double v : p.stage_ms) {
    p.bottleneck_ms = std::max(p.bottleneck_ms, v);
    p.latency_ms += v;
  }
  for (double v : p.link_ms) {
    p.bottleneck_ms = std::max(p.bottleneck_ms, v);
    p.latency_ms += v;
  }
  return p;
}

}  // namespace deepedge::partition
