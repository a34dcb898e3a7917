// deepedge-linkdelay: the testbed's user-space delay stage. A TCP relay that holds
// every chunk `--delay-ms` before passing it on, in both directions.
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <fstream>

#include "testbed/relay.h"

namespace {

deepedge::testbed::Relay* g_relay = nullptr;

void OnSignal(int) {
  if (g_relay != nullptr) g_relay->Stop();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "deepedge-linkdelay: a TCP relay adding a one-way delay to each direction (the "
      "emulated testbed's delay stage; rate limits are tc's job)"};
  deepedge::testbed::RelayOptions o;
  double delay_ms = 0;
  std::size_t buffer_kib = 256;
  std::string ready_file;
  app.add_option("--listen", o.listen, "Address to accept on, ADDR:PORT")->required();
  app.add_option("--upstream", o.upstream, "Address to forward to, HOST:PORT")->required();
  app.add_option("--delay-ms", delay_ms, "One-way delay added to each direction (ms)")
      ->check(CLI::Range(0.0, 60000.0));
  app.add_option("--buffer-kib", buffer_kib, "Bytes held per direction and connection (KiB)")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--ready-file", ready_file, "Written with the port once listening");
  CLI11_PARSE(app, argc, argv);
  o.delay = std::chrono::nanoseconds(static_cast<std::int64_t>(delay_ms * 1e6));
  o.buffer_bytes = buffer_kib * 1024;
  auto relay = deepedge::testbed::Relay::Create(o);
  if (!relay) {
    std::fprintf(stderr, "deepedge-linkdelay: error: %s\n", relay.status().message().c_str());
    return 2;
  }
  g_relay = relay->get();
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  std::fprintf(stderr, "deepedge-linkdelay: %s -> %s, %.1f ms each way (port %d)\n",
               o.listen.c_str(), o.upstream.c_str(), delay_ms, (*relay)->port());
  if (!ready_file.empty()) std::ofstream(ready_file) << (*relay)->port() << "\n";
  const deepedge::Status s = (*relay)->Run();
  const deepedge::testbed::RelayStats st = (*relay)->stats();
  std::fprintf(stderr,
               "deepedge-linkdelay: %llu connections (%llu upstream failures), %llu bytes up, "
               "%llu down\n",
               static_cast<unsigned long long>(st.connections),
               static_cast<unsigned long long>(st.upstream_failed),
               static_cast<unsigned long long>(st.bytes_up),
               static_cast<unsigned long long>(st.bytes_down));
  g_relay = nullptr;
  if (!s.ok()) {
    std::fprintf(stderr, "deepedge-linkdelay: error: %s\n", s.message().c_str());
    return 1;
  }
  return 0;
}
