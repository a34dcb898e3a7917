// The emulated testbed (scripts/testbed.sh): each profile's link measured end to end
// with deepedge-linkprobe (rate and RTT within 30 % of the profile: the point of
// the testbed), a live rate change, the device CPU quota and its period, and teardown.
// Needs root and
// network namespaces; skips and says why elsewhere.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <ostream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

namespace {

const std::string kScript = std::string(DEEPEDGE_SOURCE_DIR) + "/scripts/testbed.sh";
const std::string kProbe = DEEPEDGE_LINKPROBE;
const std::string kName = "detbit";  // not the demo's default name

struct ShResult {
  int rc = -1;
  std::string out;  // stdout and stderr
};

ShResult Sh(const std::string& cmd) {
  ShResult r;
  const std::string full =
      "DEEPEDGE_LINKDELAY='" + std::string(DEEPEDGE_LINKDELAY) + "' " + cmd + " 2>&1 </dev/null";
  FILE* p = popen(full.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

ShResult Testbed(const std::string& args) {
  return Sh("'" + kScript + "' " + args);
}

std::string SkipReason() {
  static const std::string reason = [] {
    const ShResult r = Testbed("check");
    return r.rc == 0 ? std::string() : r.out;
  }();
  return reason;
}

class TestbedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!SkipReason().empty()) GTEST_SKIP() << SkipReason();
    (void)Testbed("down --name " + kName);  // a leftover from an interrupted run
  }
  void TearDown() override {
    if (SkipReason().empty()) {
      const ShResult r = Testbed("down --name " + kName);
      EXPECT_EQ(r.rc, 0) << r.out;
    }
  }

  void Up(const std::string& args) {
    const ShResult r = Testbed("up --name " + kName + " --ports 5201 " + args);
    ASSERT_EQ(r.rc, 0) << r.out;
    // The probe server runs in the server namespace until 'down' stops it.
    const ShResult s = Testbed("exec --name " + kName + " server '" + kProbe +
                               "' server --listen 127.0.0.1:5201 >/dev/null 2>&1 &");
    ASSERT_EQ(s.rc, 0) << s.out;
  }

  // Measures from the device namespace; retries while the probe server starts.
  nlohmann::json Measure(long long up_bytes, long long down_bytes) {
    ShResult r;
    for (int attempt = 0; attempt < 30; ++attempt) {
      r = Testbed("exec --name " + kName + " device '" + kProbe +
                  "' measure --connect 10.77.0.2:5201 --json --pings 7 --up-bytes " +
                  std::to_string(up_bytes) + " --down-bytes " + std::to_string(down_bytes));
      if (r.rc == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(r.rc, 0) << r.out;
    return r.rc == 0 ? nlohmann::json::parse(r.out) : nlohmann::json{};
  }
};

struct Profile {
  const char* name;
  double up_mbit, down_mbit, rtt_ms;
};

void PrintTo(const Profile& p, std::ostream* os) {
  *os << p.name;
}

class TestbedProfileTest : public TestbedTest, public ::testing::WithParamInterface<Profile> {};

bool Near30(double measured, double expected) {
  return measured >= 0.7 * expected && measured <= 1.3 * expected;
}
void ExpectNear30(double measured, double expected, const std::string& what) {
  EXPECT_GE(measured, 0.7 * expected) << what;
  EXPECT_LE(measured, 1.3 * expected) << what;
}

// The link is emulated by processes that share the CPU with everything else on the
// machine; a transfer measured while another process hogs it comes out slow. So a
// measurement that misses is taken once more, and the second one is judged.
nlohmann::json MeasureTwiceIfOff(const std::function<nlohmann::json()>& measure, double up,
                                 double down, double rtt) {
  nlohmann::json m = measure();
  if (m.is_null()) return m;
  if (Near30(m["up_mbit_s"].get<double>(), up) && Near30(m["down_mbit_s"].get<double>(), down) &&
      Near30(m["rtt_ms"]["median"].get<double>(), rtt)) {
    return m;
  }
  return measure();
}

TEST_P(TestbedProfileTest, LinkHasTheProfilesRateAndDelay) {
  const Profile p = GetParam();
  ASSERT_NO_FATAL_FAILURE(Up(std::string("--profile ") + p.name));
  // About 1.5 s per direction at the profile's rate.
  const nlohmann::json m = MeasureTwiceIfOff(
      [&] {
        return Measure(static_cast<long long>(p.up_mbit * 1e6 / 8 * 1.5),
                       static_cast<long long>(p.down_mbit * 1e6 / 8 * 1.5));
      },
      p.up_mbit, p.down_mbit, p.rtt_ms);
  ASSERT_FALSE(m.is_null());
  std::printf("[ testbed  ] %s: rtt median %.2f ms, up %.3f Mbit/s, down %.3f Mbit/s\n", p.name,
              m["rtt_ms"]["median"].get<double>(), m["up_mbit_s"].get<double>(),
              m["down_mbit_s"].get<double>());
  // The delay stage can only add time: the RTT is never below the profile's.
  EXPECT_GE(m["rtt_ms"]["min"].get<double>(), 0.98 * p.rtt_ms);
  ExpectNear30(m["rtt_ms"]["median"].get<double>(), p.rtt_ms, "RTT (ms)");
  ExpectNear30(m["up_mbit_s"].get<double>(), p.up_mbit, "uplink (Mbit/s)");
  ExpectNear30(m["down_mbit_s"].get<double>(), p.down_mbit, "downlink (Mbit/s)");
}

INSTANTIATE_TEST_SUITE_P(Profiles, TestbedProfileTest,
                         ::testing::Values(Profile{"3g", 1, 2, 100}, Profile{"lte", 10, 30, 50},
                                           Profile{"wifi", 50, 100, 10}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_F(TestbedTest, SetRateChangesTheLinkLive) {
  ASSERT_NO_FATAL_FAILURE(Up("--profile 3g"));
  const ShResult r = Testbed("set-rate --name " + kName + " --up 4mbit --down 8mbit");
  ASSERT_EQ(r.rc, 0) << r.out;
  const nlohmann::json m = MeasureTwiceIfOff(
      [this] { return Measure(4'000'000 / 8 * 3 / 2, 8'000'000 / 8 * 3 / 2); }, 4, 8, 100);
  ASSERT_FALSE(m.is_null());
  ExpectNear30(m["up_mbit_s"].get<double>(), 4, "uplink after set-rate (Mbit/s)");
  ExpectNear30(m["down_mbit_s"].get<double>(), 8, "downlink after set-rate (Mbit/s)");
  ExpectNear30(m["rtt_ms"]["median"].get<double>(), 100, "RTT after set-rate (ms)");
}

// The device cgroup's quota and period (microseconds) as the kernel holds them.
struct CpuLimit {
  std::string quota, period;
};

CpuLimit ReadCpuLimit() {
  namespace fs = std::filesystem;
  const std::string cg_name = "deepedge-testbed-" + kName;
  CpuLimit l;
  if (fs::exists("/sys/fs/cgroup/" + cg_name + "/cpu.max")) {
    std::ifstream("/sys/fs/cgroup/" + cg_name + "/cpu.max") >> l.quota >> l.period;
  } else {
    std::ifstream("/sys/fs/cgroup/cpu/" + cg_name + "/cpu.cfs_quota_us") >> l.quota;
    std::ifstream("/sys/fs/cgroup/cpu/" + cg_name + "/cpu.cfs_period_us") >> l.period;
  }
  return l;
}

TEST_F(TestbedTest, DeviceProcessesRunUnderTheCpuQuota) {
  ASSERT_NO_FATAL_FAILURE(Up("--profile wifi --device-cpus 0.5"));
  const std::string cg_name = "deepedge-testbed-" + kName;
  const ShResult cg = Testbed("exec --name " + kName + " device cat /proc/self/cgroup");
  ASSERT_EQ(cg.rc, 0) << cg.out;
  EXPECT_NE(cg.out.find(cg_name), std::string::npos) << cg.out;
  const ShResult server = Testbed("exec --name " + kName + " server cat /proc/self/cgroup");
  EXPECT_EQ(server.out.find(cg_name), std::string::npos) << "server processes are not limited";

  // The quota as the kernel holds it: 0.5 CPU = 5 ms per (default) 10 ms period.
  const CpuLimit l = ReadCpuLimit();
  EXPECT_EQ(l.period, "10000");
  EXPECT_EQ(l.quota, "5000");

  // And enforced: one spinning thread gets at most about half a CPU.
  const ShResult burn =
      Testbed("exec --name " + kName + " device '" + kProbe + "' burn --seconds 1.5");
  ASSERT_EQ(burn.rc, 0) << burn.out;
  const double share = nlohmann::json::parse(burn.out)["cpu_share"].get<double>();
  std::printf("[ testbed  ] a spinning thread under --device-cpus 0.5 got %.2f CPU\n", share);
  EXPECT_LE(share, 0.65);
  EXPECT_GT(share, 0.0);
}

// --cpu-period-us sets the period; quota = CPUs x period. Without it, a share too small
// for the kernel's least quota (1 ms) in 10 ms gets the shortest period that allows it.
TEST_F(TestbedTest, CpuPeriodIsConfigurable) {
  ASSERT_NO_FATAL_FAILURE(Up("--profile wifi --device-cpus 0.25 --cpu-period-us 40000"));
  CpuLimit l = ReadCpuLimit();
  EXPECT_EQ(l.period, "40000");
  EXPECT_EQ(l.quota, "10000");
  const ShResult status = Testbed("status --name " + kName);
  EXPECT_NE(status.out.find("cpu_period_us=40000"), std::string::npos) << status.out;
  ASSERT_EQ(Testbed("down --name " + kName).rc, 0);

  ASSERT_NO_FATAL_FAILURE(Up("--profile wifi --device-cpus 0.05"));
  l = ReadCpuLimit();
  EXPECT_EQ(l.period, "20000");
  EXPECT_EQ(l.quota, "1000");
  // Still enforced at the lengthened period.
  const ShResult burn =
      Testbed("exec --name " + kName + " device '" + kProbe + "' burn --seconds 1");
  ASSERT_EQ(burn.rc, 0) << burn.out;
  const double share = nlohmann::json::parse(burn.out)["cpu_share"].get<double>();
  EXPECT_LE(share, 0.1);
  EXPECT_GT(share, 0.0);
}

TEST_F(TestbedTest, DownRemovesEverythingAndIsIdempotent) {
  ASSERT_NO_FATAL_FAILURE(Up("--profile lte"));
  const ShResult again = Testbed("up --name " + kName + " --profile lte");
  EXPECT_EQ(again.rc, 2);
  EXPECT_NE(again.out.find("already up"), std::string::npos) << again.out;
  ASSERT_EQ(Testbed("down --name " + kName).rc, 0);
  EXPECT_EQ(Testbed("down --name " + kName).rc, 0);
  const ShResult ns = Sh("ip netns list");
  EXPECT_EQ(ns.out.find(kName + "-dev"), std::string::npos) << ns.out;
  EXPECT_EQ(ns.out.find(kName + "-srv"), std::string::npos) << ns.out;
  EXPECT_FALSE(std::filesystem::exists("/sys/fs/cgroup/cpu/deepedge-testbed-" + kName));
  EXPECT_FALSE(std::filesystem::exists("/sys/fs/cgroup/deepedge-testbed-" + kName));
  EXPECT_FALSE(std::filesystem::exists("/run/deepedge-testbed/" + kName));
  const ShResult links = Sh("ip link show");
  EXPECT_EQ(links.out.find(kName + "-d"), std::string::npos) << links.out;
}

TEST_F(TestbedTest, BadInputIsNamed) {
  ShResult r = Testbed("up --name " + kName + " --profile 5g");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("unknown profile '5g'"), std::string::npos) << r.out;
  r = Testbed("up --name " + kName + " --profile lte --up fast");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("rate 'fast'"), std::string::npos) << r.out;
  r = Testbed("up --name " + kName + " --profile lte --cpu-period-us 500");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("--cpu-period-us '500'"), std::string::npos) << r.out;
  r = Testbed("up --name " + kName + " --profile lte --device-cpus 0.05 --cpu-period-us 10000");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("below the kernel's 1000 us"), std::string::npos) << r.out;
  r = Testbed("set-rate --name " + kName + " --up 1mbit");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("is not up"), std::string::npos) << r.out;
  r = Testbed("exec --name " + kName + " device true");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("is not up"), std::string::npos) << r.out;
  // Nothing was left behind by the refused commands.
  EXPECT_EQ(Sh("ip netns list").out.find(kName), std::string::npos);
}

}  // namespace
