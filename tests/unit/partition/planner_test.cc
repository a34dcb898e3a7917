#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "deepedge/partition.h"

namespace deepedge::partition {
namespace {

// A graph where layer i produces one tensor of out_bytes[i] read by the layers listed
// in succ[i]; one graph input (in_bytes) read by layer 0 and those in extra_input_readers;
// the last layer's tensor is the graph output.
LayerGraph MakeGraph(const std::vector<std::vector<int>>& succ,
                     const std::vector<std::int64_t>& out_bytes, std::int64_t in_bytes,
                     std::vector<int> input_readers = {0}) {
  LayerGraph g;
  const int n = static_cast<int>(succ.size());
  DataTensor in;
  in.name = "input";
  in.bytes = in_bytes;
  in.producer = -1;
  in.consumers = input_readers;
  g.tensors.push_back(in);
  for (int i = 0; i < n; ++i) {
    Layer l;
    l.name = "l" + std::to_string(i);
    l.type = "Conv";
    l.outputs = {i + 1};
    g.layers.push_back(l);
    DataTensor t;
    t.name = "t" + std::to_string(i);
    t.bytes = out_bytes[static_cast<std::size_t>(i)];
    t.producer = i;
    t.consumers = succ[static_cast<std::size_t>(i)];
    t.graph_output = succ[static_cast<std::size_t>(i)].empty();
    g.tensors.push_back(t);
  }
  for (const DataTensor& t : g.tensors) {
    const int ti = static_cast<int>(&t - g.tensors.data());
    for (int c : t.consumers) g.layers[static_cast<std::size_t>(c)].inputs.push_back(ti);
  }
  return g;
}

CostInputs Costs(std::vector<double> edge, std::vector<double> server, double up, double down,
                 double rtt) {
  CostInputs c;
  c.edge_ms = std::move(edge);
  c.server_ms = std::move(server);
  c.link = {up, down, rtt};
  return c;
}

TEST(ParseRate, UnitsAndErrors) {
  EXPECT_DOUBLE_EQ(*ParseRate("5Mbit/s"), 625000.0);
  EXPECT_DOUBLE_EQ(*ParseRate("1MB/s"), 1e6);
  EXPECT_DOUBLE_EQ(*ParseRate("100 kbps"), 12500.0);
  EXPECT_DOUBLE_EQ(*ParseRate("2MiB/s"), 2097152.0);
  EXPECT_DOUBLE_EQ(*ParseRate("8bit/s"), 1.0);
  EXPECT_FALSE(ParseRate("0Mbit/s").has_value());
  EXPECT_FALSE(ParseRate("-1MB/s").has_value());
  EXPECT_FALSE(ParseRate("5").has_value());
  EXPECT_FALSE(ParseRate("5 furlongs/s").has_value());
  EXPECT_FALSE(ParseRate("fast").has_value());
  EXPECT_NE(ParseRate("0MB/s").status().message().find("positive"), std::string::npos);
}

TEST(MinCut, ClassicNetwork) {
  // CLRS figure 26.1: max flow 23.
  std::vector<std::tuple<int, int, double>> e = {{0, 1, 16}, {0, 2, 13}, {1, 3, 12},
                                                 {2, 1, 4},  {2, 4, 14}, {3, 2, 9},
                                                 {3, 5, 20}, {4, 3, 7},  {4, 5, 4}};
  const MinCutResult r = MinCut(6, e, 0, 5);
  EXPECT_NEAR(r.value, 23.0, 1e-9);
  EXPECT_TRUE(r.source_side[0]);
  EXPECT_FALSE(r.source_side[5]);
  double cut = 0;
  for (auto [u, v, c] : e)
    if (r.source_side[static_cast<std::size_t>(u)] && !r.source_side[static_cast<std::size_t>(v)])
      cut += c;
  EXPECT_NEAR(cut, 23.0, 1e-9);
}

TEST(Evaluate, SharedTensorUploadedOnce) {
  // l0 -> {l1, l2} -> l3 (diamond); l0's tensor is read by two server layers.
  LayerGraph g = MakeGraph({{1, 2}, {3}, {3}, {}}, {1000, 10, 10, 4}, 500);
  CostInputs c = Costs({1, 1, 1, 1}, {0.5, 0.5, 0.5, 0.5}, 1000.0, 1000.0, 10);
  const Breakdown b = Evaluate(g, c, {true, false, false, false});
  EXPECT_EQ(b.upload_bytes, 1000);
  EXPECT_EQ(b.download_bytes, 4);
  EXPECT_NEAR(b.upload_ms, 1000.0, 1e-9);
  EXPECT_NEAR(b.total_ms, 1 + 1000 + 1.5 + 4 + 10, 1e-9);
  const Breakdown all_edge = Evaluate(g, c, {true, true, true, true});
  EXPECT_EQ(all_edge.upload_bytes, 0);
  EXPECT_EQ(all_edge.rtt_ms, 0);
  const Breakdown all_server = Evaluate(g, c, {false, false, false, false});
  EXPECT_EQ(all_server.upload_bytes, 500);
  EXPECT_FALSE(IsValidPlan(g, {false, true, true, true}));
  EXPECT_FALSE(IsValidPlan(g, {true, false, true, true}));
  EXPECT_TRUE(IsValidPlan(g, {true, false, true, false}));
}

TEST(PlanPartition, ChainPicksTheSmallTensor) {
  // Big early tensors, small one after layer 2: cut there with a slow uplink.
  LayerGraph g = MakeGraph({{1}, {2}, {3}, {4}, {}}, {100000, 100000, 100, 100000, 10}, 150000);
  ASSERT_TRUE(g.IsChain());
  CostInputs c = Costs({2, 2, 2, 40, 2}, {0.2, 0.2, 0.2, 4, 0.2}, 1e5, 1e6, 5);
  const Plan p = PlanPartition(g, c);
  EXPECT_EQ(p.method, "chain: every cut");
  EXPECT_EQ(p.on_edge, (std::vector<bool>{true, true, true, false, false}));
  auto bf = BruteForcePlan(g, c);
  ASSERT_TRUE(bf.has_value());
  EXPECT_NEAR(bf->cost.total_ms, p.cost.total_ms, 1e-9);
}

TEST(PlanPartition, AllEdgeWhenTheLinkIsHopeless) {
  LayerGraph g = MakeGraph({{1}, {}}, {1000, 1000}, 1000);
  CostInputs c = Costs({1, 1}, {0.001, 0.001}, 1.0, 1.0, 100);
  const Plan p = PlanPartition(g, c);
  EXPECT_EQ(p.on_edge, (std::vector<bool>{true, true}));
  EXPECT_EQ(p.cost.rtt_ms, 0);
}

// Random DAGs (each layer reads 1-3 earlier layers; some read the graph input):
// the min-cut plan must cost exactly what the best of all valid plans costs.
void CheckRandomDags(Objective objective) {
  std::mt19937_64 rng(1234 + static_cast<int>(objective));
  for (int trial = 0; trial < 300; ++trial) {
    const int n = 2 + static_cast<int>(rng() % 11);
    std::vector<std::vector<int>> succ(static_cast<std::size_t>(n));
    std::vector<int> input_readers = {0};
    for (int i = 1; i < n; ++i) {
      const int k = 1 + static_cast<int>(rng() % 3);
      for (int j = 0; j < k; ++j) {
        const int p = static_cast<int>(rng() % static_cast<std::uint64_t>(i));
        auto& s = succ[static_cast<std::size_t>(p)];
        if (std::find(s.begin(), s.end(), i) == s.end()) s.push_back(i);
      }
      if (rng() % 5 == 0) input_readers.push_back(i);
    }
    for (auto& s : succ) std::sort(s.begin(), s.end());
    std::vector<std::int64_t> bytes;
    std::vector<double> edge, server;
    for (int i = 0; i < n; ++i) {
      bytes.push_back(static_cast<std::int64_t>(rng() % 200000));
      edge.push_back(static_cast<double>(rng() % 1000) / 10);
      server.push_back(edge.back() / (1 + static_cast<double>(rng() % 16)));
    }
    LayerGraph g = MakeGraph(succ, bytes, static_cast<std::int64_t>(rng() % 300000), input_readers);
    const double up = 1e4 * static_cast<double>(1 + rng() % 1000);
    CostInputs c = Costs(edge, server, up, up * 4, static_cast<double>(rng() % 100));
    c.objective = objective;
    const Plan p = PlanPartition(g, c);
    ASSERT_TRUE(IsValidPlan(g, p.on_edge));
    const auto bf = BruteForcePlan(g, c);
    ASSERT_TRUE(bf.has_value());
    const double want = ObjectiveValue(c, bf->cost), got = ObjectiveValue(c, p.cost);
    ASSERT_NEAR(got, want, 1e-9 * std::max(1.0, want)) << "trial " << trial << " n " << n;
  }
}

TEST(PlanPartition, MinCutEqualsBruteForceLatency) {
  CheckRandomDags(Objective::kLatency);
}
TEST(PlanPartition, MinCutEqualsBruteForceEnergy) {
  CheckRandomDags(Objective::kEnergy);
}

TEST(PlanPartition, ResidualBlockMustUploadBothBranches) {
  // l0 -> l1 -> l2 -> add(l3); l0 -> l3 (skip): cutting after l1 sends t0 and t1.
  LayerGraph g = MakeGraph({{1, 3}, {2}, {3}, {}}, {100, 100, 100, 10}, 1000);
  EXPECT_FALSE(g.IsChain());
  CostInputs c = Costs({1, 1, 1, 1}, {0, 0, 0, 0}, 1000.0, 1000.0, 0);
  const Breakdown b = Evaluate(g, c, {true, true, false, false});
  EXPECT_EQ(b.upload_bytes, 200);
}

TEST(PlanPipeline, MatchesExhaustiveBoundaries) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 100; ++trial) {
    const int n = 2 + static_cast<int>(rng() % 8);
    std::vector<std::vector<int>> succ(static_cast<std::size_t>(n));
    for (int i = 0; i + 1 < n; ++i) succ[static_cast<std::size_t>(i)] = {i + 1};
    std::vector<std::int64_t> bytes;
    std::vector<double> ms;
    for (int i = 0; i < n; ++i) {
      bytes.push_back(static_cast<std::int64_t>(rng() % 10000));
      ms.push_back(static_cast<double>(rng() % 100));
    }
    LayerGraph g = MakeGraph(succ, bytes, 100);
    const Link link{1e6, 1e6, 2};
    const int stages = 1 + static_cast<int>(rng() % 4);
    const PipelinePlan p = PlanPipeline(g, ms, link, stages);
    // Exhaustive: every subset of the n-1 boundaries with at most stages-1 members.
    double best = 1e300;
    for (unsigned mask = 0; mask < (1u << (n - 1)); ++mask) {
      if (__builtin_popcount(mask) > stages - 1) continue;
      double bottleneck = 0, stage = 0;
      for (int i = 0; i < n; ++i) {
        stage += ms[static_cast<std::size_t>(i)];
        if (i + 1 < n && (mask >> i & 1u)) {
          bottleneck =
              std::max({bottleneck, stage,
                        static_cast<double>(bytes[static_cast<std::size_t>(i)]) / 1e6 * 1e3 + 1});
          stage = 0;
        }
      }
      best = std::min(best, std::max(bottleneck, stage));
    }
    ASSERT_NEAR(p.bottleneck_ms, best, 1e-9) << "trial " << trial;
    ASSERT_LE(static_cast<int>(p.stage_ms.size()), stages);
  }
}

}  // namespace
}  // namespace deepedge::partition
