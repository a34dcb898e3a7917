// `deepedge run` against a real `deepedge serve`: the split's answers equal the whole
// model's, every query completes when the server is killed in the middle of a run,
// offloading resumes when it is back, and an unreachable server costs no query.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "deepedge/file_util.h"
#include "deepedge/partition.h"
#include "deepedge/zoo.h"
#include "support/cli_runner.h"
#include "support/temp_dir.h"

extern char** environ;

namespace deepedge {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A free loopback port (bound, read, released).
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// `sh -c CMD` in the background; its pid.
pid_t Spawn(const std::string& cmd) {
  pid_t pid = -1;
  const char* argv[] = {"/bin/sh", "-c", cmd.c_str(), nullptr};
  posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ);
  return pid;
}

int Wait(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class RunCli : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = (dir_ / "mobilenet_v1_0.25_224.onnx").string();
    ASSERT_TRUE(ZooExport("mobilenet_v1_0.25_224", model_).ok());
    auto g = partition::BuildLayerGraph(ModelSource::FromFile(model_).value());
    ASSERT_TRUE(g.has_value());
    // The device runs the first third of the layers.
    json plan = {{"schema", "deepedge.partition_plan"},
                 {"model", {{"sha256", g->sha256}}},
                 {"edge_layers", json::array()}};
    for (std::size_t i = 0; i < g->layers.size() / 3; ++i)
      plan["edge_layers"].push_back(g->layers[i].name);
    plan_ = dir_.Write("plan.json", plan.dump()).string();
  }
  void TearDown() override {
    if (server_ > 0) {
      kill(server_, SIGKILL);
      Wait(server_);
    }
  }
  testing::CliResult Cli(const std::string& args) {
    return testing::RunCli(DEEPEDGE_BINARY, dir_.path(), args);
  }
  // Starts `deepedge serve` on `port_` and waits until it is ready.
  void StartServer() {
    server_ = Spawn("exec '" + std::string(DEEPEDGE_BINARY) + "' serve --models '" +
                    (dir_ / "repo").string() + "' --http 127.0.0.1:" + std::to_string(port_) +
                    " >>'" + (dir_ / "serve.log").string() + "' 2>&1");
    httplib::Client c("127.0.0.1", port_);
    for (int i = 0; i < 300; ++i) {
      if (auto r = c.Get("/v2/health/ready"); r && r->status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "deepedge serve did not become ready: " << ReadFileText(dir_ / "serve.log").value();
  }
  // Successful inference requests the server has answered (its /metrics).
  int ServedRequests() {
    httplib::Client c("127.0.0.1", port_);
    auto r = c.Get("/metrics");
    if (!r || r->status != 200) return -1;
    std::istringstream in(r->body);
    std::string line;
    int n = 0;
    while (std::getline(in, line))
      if (line.rfind("deepedge_inference_requests_total{", 0) == 0 &&
          line.find("code=\"200\"") != std::string::npos)
        n += std::stoi(line.substr(line.rfind(' ') + 1));
    return n;
  }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  testing::TempDir dir_;
  std::string model_, plan_;
  int port_ = FreePort();
  pid_t server_ = -1;
};

TEST_F(RunCli, SplitRunAgreesWithTheWholeModelAndReportsTheBreakdown) {
  auto w = Cli("run " + model_ + " --split " + plan_ + " --write-repo " + (dir_ / "repo").string());
  ASSERT_EQ(w.exit_code, 0) << w.err;
  ASSERT_NO_FATAL_FAILURE(StartServer());
  const std::string out = (dir_ / "run.json").string();
  auto r = Cli("run " + model_ + " --server " + Url() + " --split " + plan_ +
               " --queries 8 --json " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(ReadFileText(out).value());
  ASSERT_EQ(j["queries"].size(), 8u);
  for (const json& q : j["queries"]) {
    EXPECT_EQ(q["mode"], "offload") << q.dump();
    EXPECT_GT(q["head_ms"].get<double>(), 0);
    EXPECT_GE(q["server_compute_ms"].get<double>(), 0);
    EXPECT_GE(q["server_queue_ms"].get<double>(), 0);
    EXPECT_GT(q["upload_bytes"].get<double>(), 0);
  }
  ASSERT_EQ(j["candidates"].size(), 1u);
  const double diff = j["candidates"][0]["max_abs_diff"].get<double>();
  EXPECT_GE(diff, 0);
  EXPECT_LT(diff, 1e-4);
}

TEST_F(RunCli, ServerKilledMidRunLosesNoQueryAndOffloadingResumes) {
  auto w = Cli("run " + model_ + " --split " + plan_ + " --write-repo " + (dir_ / "repo").string());
  ASSERT_EQ(w.exit_code, 0) << w.err;
  ASSERT_NO_FATAL_FAILURE(StartServer());
  const std::string out = (dir_ / "run.json").string();
  const int queries = 80;
  const pid_t run =
      Spawn("'" + std::string(DEEPEDGE_BINARY) + "' run " + model_ + " --server " + Url() +
            " --split " + plan_ + " --queries " + std::to_string(queries) +
            " --interval-ms 30 --retry-s 0.2 --timeout 2 --json " + out + " >'" +
            (dir_ / "run.out").string() + "' 2>'" + (dir_ / "run.err").string() + "'");
  // Kill the server once it has answered some queries, then bring it back.
  for (int i = 0; i < 600 && ServedRequests() < 8; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_GE(ServedRequests(), 8);
  kill(server_, SIGKILL);
  Wait(server_);
  server_ = -1;
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_NO_FATAL_FAILURE(StartServer());
  ASSERT_EQ(Wait(run), 0) << ReadFileText(dir_ / "run.err").value();

  // What the runner said about the outage, for the log.
  std::printf("%s", ReadFileText(dir_ / "run.err").value().c_str());
  const json j = json::parse(ReadFileText(out).value());
  ASSERT_EQ(j["queries"].size(), static_cast<std::size_t>(queries));
  int offload_before = 0, not_offloaded = 0, offload_after = 0, fallback = 0;
  for (const json& q : j["queries"]) {
    const std::string mode = q["mode"];
    ASSERT_TRUE(mode == "offload" || mode == "local" || mode == "fallback") << mode;
    if (mode == "fallback") ++fallback;
    if (mode == "offload")
      (not_offloaded == 0 ? offload_before : offload_after)++;
    else
      ++not_offloaded;
  }
  EXPECT_GE(offload_before, 8);
  EXPECT_GE(not_offloaded, 1);
  EXPECT_GE(fallback, 1) << "the query in flight when the server died finished on the device";
  EXPECT_GE(offload_after, 1) << "offloading resumed once the server was back";
  EXPECT_NE(ReadFileText(dir_ / "run.err").value().find("server back"), std::string::npos);
}

TEST_F(RunCli, UnreachableServerRunsEverythingOnTheDevice) {
  const std::string out = (dir_ / "run.json").string();
  auto r = Cli("run " + model_ + " --server " + Url() +
               " --split all --queries 5 --timeout 0.5 --json " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("unreachable"), std::string::npos) << r.err;
  const json j = json::parse(ReadFileText(out).value());
  ASSERT_EQ(j["queries"].size(), 5u);
  for (const json& q : j["queries"]) EXPECT_EQ(q["mode"], "local");
}

// --split auto that starts all-device (here: told the server is 100x slower) on a guessed
// uplink offloads its first query to measure the link; told the uplink, it does not
// (its next probe is the --probe-every'th query).
TEST_F(RunCli, AutoMeasuresAGuessedUplinkWithItsFirstQuery) {
  auto w = Cli("run " + model_ + " --split auto --runs 1 --write-repo " + (dir_ / "repo").string());
  ASSERT_EQ(w.exit_code, 0) << w.err;
  ASSERT_NO_FATAL_FAILURE(StartServer());
  const std::string base = "run " + model_ + " --server " + Url() +
                           " --split auto --runs 1 --queries 2 --server-speedup 0.01 --json ";
  const std::string guessed = (dir_ / "guessed.json").string();
  auto r = Cli(base + guessed);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("starting with all-device"), std::string::npos) << r.err;
  json j = json::parse(ReadFileText(guessed).value());
  ASSERT_EQ(j["queries"].size(), 2u);
  EXPECT_EQ(j["queries"][0]["mode"], "offload") << j["queries"][0].dump();
  EXPECT_GT(j["queries"][0]["upload_bytes"].get<double>(), 0);

  const std::string told = (dir_ / "told.json").string();
  r = Cli(base + told + " --uplink 10Mbit/s");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  j = json::parse(ReadFileText(told).value());
  ASSERT_EQ(j["queries"].size(), 2u);
  EXPECT_EQ(j["queries"][0]["mode"], "local") << j["queries"][0].dump();
}

TEST_F(RunCli, BadInputIsNamed) {
  auto r = Cli("run " + model_ + " --split " + plan_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--server"), std::string::npos) << r.err;
  r = Cli("run " + model_ + " --server https://x:1 --split all");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("https"), std::string::npos) << r.err;
  r = Cli("run " + model_ + " --server " + Url() + " --split " + (dir_ / "nope.json").string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("nope.json"), std::string::npos) << r.err;
  // A server that serves none of the parts.
  auto w = Cli("run " + model_ + " --split all --write-repo " + (dir_ / "repo").string());
  ASSERT_EQ(w.exit_code, 0) << w.err;
  ASSERT_NO_FATAL_FAILURE(StartServer());
  r = Cli("run " + model_ + " --server " + Url() + " --split " + plan_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--write-repo"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace deepedge
