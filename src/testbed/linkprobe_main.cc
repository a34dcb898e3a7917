// deepedge-linkprobe: measures an emulated link (RTT, uplink and downlink rate) and
// a CPU quota, for the testbed's tests and demo.
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

#include "testbed/net.h"
#include "testbed/probe.h"

namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) {
  g_stop.store(true);
}

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

int Fail(const deepedge::Status& s) {
  std::fprintf(stderr, "deepedge-linkprobe: error: %s\n", s.message().c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"deepedge-linkprobe: measure an emulated link or a CPU quota"};
  app.require_subcommand(1);
  std::string listen;
  CLI::App* server = app.add_subcommand("server", "Answer probe requests");
  server->add_option("--listen", listen, "ADDR:PORT")->required();

  deepedge::testbed::ProbeRequest req;
  bool json = false;
  CLI::App* measure = app.add_subcommand("measure", "Measure RTT and rates to a probe server");
  measure->add_option("--connect", req.server, "HOST:PORT of the probe server")->required();
  measure->add_option("--pings", req.pings, "Round trips to time")->check(CLI::Range(0, 100000));
  measure->add_option("--up-bytes", req.up_bytes, "Bytes to send (0: skip)");
  measure->add_option("--down-bytes", req.down_bytes, "Bytes to receive (0: skip)");
  measure->add_flag("--json", json, "Print JSON");

  double seconds = 1.0;
  CLI::App* burn = app.add_subcommand("burn", "Spin one thread; print wall and CPU seconds");
  burn->add_option("--seconds", seconds, "Wall time to spin")->check(CLI::Range(0.01, 600.0));
  CLI11_PARSE(app, argc, argv);

  if (*server) {
    auto addr = deepedge::testbed::ResolveHostPort(listen);
    if (!addr) return Fail(addr.status());
    auto fd = deepedge::testbed::ListenTcp(*addr);
    if (!fd) return Fail(fd.status());
    std::signal(SIGTERM, OnSignal);
    std::signal(SIGINT, OnSignal);
    std::fprintf(stderr, "deepedge-linkprobe: serving on %s\n", listen.c_str());
    const deepedge::Status s = deepedge::testbed::ServeProbe(*fd, g_stop);
    close(*fd);
    return s.ok() ? 0 : Fail(s);
  }
  if (*measure) {
    auto r = deepedge::testbed::MeasureLink(req);
    if (!r) return Fail(r.status());
    std::vector<double> sorted = r->rtt_ms;
    std::sort(sorted.begin(), sorted.end());
    const double rtt_min = sorted.empty() ? -1 : sorted.front();
    const double rtt_med = sorted.empty() ? -1 : sorted[sorted.size() / 2];
    if (json) {
      nlohmann::json j = {{"rtt_ms", {{"min", rtt_min}, {"median", rtt_med}, {"all", r->rtt_ms}}},
                          {"up_mbit_s", r->up_bps < 0 ? -1.0 : r->up_bps / 1e6},
                          {"down_mbit_s", r->down_bps < 0 ? -1.0 : r->down_bps / 1e6},
                          {"up_bytes", r->up_bytes},
                          {"down_bytes", r->down_bytes}};
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      std::printf("rtt  min %.2f ms, median %.2f ms (%zu pings)\n", rtt_min, rtt_med,
                  r->rtt_ms.size());
      if (r->up_bps >= 0) std::printf("up   %.3f Mbit/s\n", r->up_bps / 1e6);
      if (r->down_bps >= 0) std::printf("down %.3f Mbit/s\n", r->down_bps / 1e6);
    }
    return 0;
  }
  // burn: how much CPU one spinning thread gets in `seconds` of wall time.
  const auto t0 = deepedge::testbed::MonotonicNs();
  const double c0 = CpuSeconds();
  volatile std::uint64_t x = 0;
  while (deepedge::testbed::MonotonicNs() - t0 < static_cast<std::uint64_t>(seconds * 1e9))
    for (int i = 0; i < 10000; ++i) x = x + 1;
  const double wall = static_cast<double>(deepedge::testbed::MonotonicNs() - t0) * 1e-9;
  const double cpu = CpuSeconds() - c0;
  std::printf("{\"wall_s\": %.4f, \"cpu_s\": %.4f, \"cpu_share\": %.4f}\n", wall, cpu, cpu / wall);
  return 0;
}
