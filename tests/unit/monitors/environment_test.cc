#include "deepedge/environment.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "unit/monitors/fake_tree.h"

namespace deepedge {
namespace {

using testing::FakeTree;

bool AnyContains(const std::vector<std::string>& lines, const std::string& text) {
  for (const std::string& l : lines) {
    if (l.find(text) != std::string::npos) return true;
  }
  return false;
}

// A laptop-like x86 machine with four CPUs.
class EnvironmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tree_.Write("proc/cpuinfo",
                "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 142\n"
                "model name\t: Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz\nstepping\t: 10\n\n"
                "processor\t: 1\nvendor_id\t: GenuineIntel\n"
                "model name\t: Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz\n\n");
    tree_.Write("sys/devices/system/cpu/online", "0-3\n");
    tree_.Write("sys/devices/system/cpu/possible", "0-7\n");
    const char* governors[] = {"powersave", "powersave", "performance", "performance"};
    const int cur_khz[] = {800000, 1900000, 4000000, 1000000};
    for (int cpu = 0; cpu < 4; ++cpu) {
      const std::string dir = "sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/";
      tree_.Write(dir + "cpufreq/scaling_governor", std::string(governors[cpu]) + "\n");
      tree_.Write(dir + "cpufreq/scaling_cur_freq", std::to_string(cur_khz[cpu]) + "\n");
      tree_.Write(dir + "cpufreq/cpuinfo_max_freq", "4200000\n");
      tree_.Write(dir + "cpufreq/scaling_max_freq", "4200000\n");
      tree_.Write(dir + "thermal_throttle/core_throttle_count", cpu == 1 ? "12\n" : "0\n");
      tree_.Write(dir + "thermal_throttle/package_throttle_count", "0\n");
    }
    tree_.MakeDir("sys/devices/system/cpu/cpufreq/policy0");
    tree_.MakeDir("sys/devices/system/cpu/cpuidle");
    tree_.Write("sys/class/thermal/thermal_zone0/type", "acpitz\n");
    tree_.Write("sys/class/thermal/thermal_zone0/temp", "45000\n");
    tree_.Write("sys/class/thermal/thermal_zone1/type", "x86_pkg_temp\n");
    tree_.Write("sys/class/thermal/thermal_zone1/temp", "85500\n");
    tree_.Write("sys/class/thermal/thermal_zone2/type", "iwlwifi_1\n");  // temp unreadable
    tree_.Write("sys/class/thermal/cooling_device0/type", "Processor\n");
    // cpu0's caches as the kernel lists them: L1 data and instruction, L2, L3.
    const char* caches[][3] = {{"1", "Data", "32K"},
                               {"1", "Instruction", "32K"},
                               {"2", "Unified", "256K"},
                               {"3", "Unified", "8M"}};
    for (int i = 0; i < 4; ++i) {
      const std::string dir = "sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
      tree_.Write(dir + "level", std::string(caches[i][0]) + "\n");
      tree_.Write(dir + "type", std::string(caches[i][1]) + "\n");
      tree_.Write(dir + "size", std::string(caches[i][2]) + "\n");
    }
    tree_.Write("proc/sys/kernel/osrelease", "6.1.0-18-amd64\n");
    tree_.Write("proc/sys/kernel/hostname", "bench-host\n");
    tree_.Write("proc/loadavg", "1.50 0.80 0.40 2/345 6789\n");
    tree_.Write("etc/os-release",
                "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n"
                "VERSION_ID=\"12\"\nID=debian\n");
  }

  EnvironmentInfo Capture(const std::string& build_type = "Release") {
    EnvironmentPaths paths;
    paths.monitor = tree_.Paths();
    paths.os_release = tree_.root() / "etc" / "os-release";
    return CaptureEnvironment(paths, build_type);
  }

  FakeTree tree_;
};

TEST_F(EnvironmentTest, CapturesEveryField) {
  const EnvironmentInfo info = Capture("Debug");
  EXPECT_EQ(info.cpu_model, "Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz");
  EXPECT_EQ(info.logical_cores, 4);
  ASSERT_EQ(info.frequencies.size(), 4u);
  EXPECT_EQ(info.frequencies[0].cpu, 0);
  EXPECT_EQ(info.frequencies[0].governor, "powersave");
  EXPECT_EQ(info.frequencies[0].current_mhz, 800.0);
  EXPECT_EQ(info.frequencies[0].max_mhz, 4200.0);
  EXPECT_EQ(info.frequencies[0].limit_mhz, 4200.0);
  EXPECT_EQ(info.frequencies[2].governor, "performance");
  ASSERT_EQ(info.thermal_zones.size(), 2u);
  EXPECT_EQ(info.thermal_zones[0].zone, "thermal_zone0");
  EXPECT_EQ(info.thermal_zones[0].type, "acpitz");
  EXPECT_DOUBLE_EQ(info.thermal_zones[0].celsius, 45.0);
  EXPECT_DOUBLE_EQ(info.thermal_zones[1].celsius, 85.5);
  ASSERT_EQ(info.throttle_counts.size(), 4u);
  EXPECT_EQ(info.throttle_counts[1].cpu, 1);
  EXPECT_EQ(info.throttle_counts[1].core_throttle_count, 12u);
  EXPECT_EQ(info.throttle_counts[1].package_throttle_count, 0u);
  EXPECT_EQ(info.kernel, "6.1.0-18-amd64");
  EXPECT_EQ(info.hostname, "bench-host");
  EXPECT_EQ(info.os, "Debian GNU/Linux 12 (bookworm)");
  ASSERT_TRUE(info.load_average.has_value());
  EXPECT_DOUBLE_EQ(info.load_average->one_min, 1.5);
  EXPECT_DOUBLE_EQ(info.load_average->five_min, 0.8);
  EXPECT_DOUBLE_EQ(info.load_average->fifteen_min, 0.4);
  EXPECT_EQ(info.build_type, "Debug");
  EXPECT_EQ(info.l2_cache_bytes, 256 * 1024);
  EXPECT_EQ(info.cache_source, "sysfs");
  EXPECT_EQ(info.last_level_cache_bytes, 8 * 1024 * 1024);
  EXPECT_TRUE(EnvironmentNotes(info).empty()) << ::testing::PrintToString(EnvironmentNotes(info));
}

TEST_F(EnvironmentTest, WarnsAboutEachProblemOnItsOwnLine) {
  const std::vector<std::string> w = EnvironmentWarnings(Capture("Debug"));
  EXPECT_EQ(w.size(), 6u) << ::testing::PrintToString(w);
  EXPECT_TRUE(AnyContains(w, "governor is 'powersave' on cpu0-1, not 'performance'"))
      << ::testing::PrintToString(w);
  EXPECT_TRUE(AnyContains(w, "cpu3 run(s) as low as 1000 MHz under the performance governor"))
      << ::testing::PrintToString(w);
  EXPECT_TRUE(AnyContains(w, "thermal throttling has occurred since boot on cpu1 (up to 12"));
  EXPECT_TRUE(AnyContains(w, "1-minute load average is 1.50"));
  EXPECT_TRUE(AnyContains(w, "build type is 'Debug'"));
  EXPECT_TRUE(AnyContains(w, "thermal_zone1 (x86_pkg_temp) is at 85.5 °C"));
  for (const std::string& line : w) EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST_F(EnvironmentTest, QuietMachineHasNoWarnings) {
  for (int cpu = 0; cpu < 4; ++cpu) {
    const std::string dir = "sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/";
    tree_.Write(dir + "cpufreq/scaling_governor", "performance\n");
    tree_.Write(dir + "cpufreq/scaling_cur_freq", "4100000\n");
    tree_.Write(dir + "thermal_throttle/core_throttle_count", "0\n");
  }
  tree_.Write("sys/class/thermal/thermal_zone1/temp", "60000\n");
  tree_.Write("proc/loadavg", "0.10 0.20 0.30 1/345 6789\n");
  EXPECT_TRUE(EnvironmentWarnings(Capture("Release")).empty())
      << ::testing::PrintToString(EnvironmentWarnings(Capture("Release")));
}

TEST_F(EnvironmentTest, WarnsAboutAFrequencyCapNotAsThrottling) {
  EnvironmentInfo info;
  info.build_type = "Release";
  CoreFrequency f;
  f.cpu = 2;
  f.governor = "performance";
  f.current_mhz = 1400.0;
  f.max_mhz = 4200.0;
  f.limit_mhz = 1500.0;
  info.frequencies.push_back(f);
  const std::vector<std::string> w = EnvironmentWarnings(info);
  ASSERT_EQ(w.size(), 1u) << ::testing::PrintToString(w);
  EXPECT_TRUE(AnyContains(w, "cpu2 capped at 1500 MHz of 4200 MHz"));
}

TEST(EnvironmentWarnings, BuildTypeAndLoadThresholds) {
  EnvironmentInfo info;
  info.build_type = "Release";
  info.load_average = LoadAverage{kBusyLoadAverage, 0, 0};  // at the threshold: fine
  EXPECT_TRUE(EnvironmentWarnings(info).empty());
  info.load_average->one_min = kBusyLoadAverage + 0.01;
  EXPECT_EQ(EnvironmentWarnings(info).size(), 1u);
  info.load_average.reset();
  info.build_type = "";
  EXPECT_TRUE(AnyContains(EnvironmentWarnings(info), "build type is not set"));
  info.build_type = "RelWithDebInfo";
  EXPECT_TRUE(AnyContains(EnvironmentWarnings(info), "not 'Release'"));
}

TEST(EnvironmentWarnings, HotZoneThreshold) {
  EnvironmentInfo info;
  info.build_type = "Release";
  info.thermal_zones.push_back({"thermal_zone0", "cpu-thermal", kHotCelsius});
  EXPECT_TRUE(EnvironmentWarnings(info).empty());
  info.thermal_zones[0].celsius = kHotCelsius + 0.5;
  EXPECT_TRUE(AnyContains(EnvironmentWarnings(info), "thermal_zone0 (cpu-thermal) is at 80.5 °C"));
}

// This machine's caches: from its sysfs, or where that lists none (some VMs) from CPUID.
TEST(CaptureEnvironment, ThisMachinesCachesFromSysfsElseCpuid) {
  const EnvironmentInfo info = CaptureEnvironment(MonitorPaths{}, "Release");
  const bool sysfs = std::filesystem::exists("/sys/devices/system/cpu/cpu0/cache/index0/size");
#if !defined(__x86_64__) && !defined(__i386__)
  if (!sysfs) GTEST_SKIP() << "no cache sizes in sysfs and no CPUID on this architecture";
#endif
  EXPECT_EQ(info.cache_source, sysfs ? "sysfs" : "cpuid");
  // Every level-2 cache made since 2000 is between 64 KiB and 64 MiB.
  EXPECT_GE(info.l2_cache_bytes, 64 * 1024);
  EXPECT_LE(info.l2_cache_bytes, 64 << 20);
  if (info.last_level_cache_bytes > 0) {
    EXPECT_GE(info.last_level_cache_bytes, info.l2_cache_bytes);
  }
}

// A container or VM: no cpufreq, no thermal zones, no throttle counters.
TEST(CaptureEnvironment, BareMachineGivesNotesNotWarnings) {
  FakeTree tree;
  tree.Write("proc/stat", testing::ProcStat({testing::CpuTicks{}, testing::CpuTicks{}}));
  tree.Write("proc/loadavg", "0.00 0.01 0.05 1/83 5791\n");
  tree.Write("sys/devices/system/cpu/cpu0/uevent", "");
  tree.Write("sys/devices/system/cpu/cpu1/uevent", "");
  const EnvironmentInfo info = CaptureEnvironment(tree.Paths(), "Release");
  EXPECT_EQ(info.logical_cores, 2);  // from /proc/stat: no "online" file
  EXPECT_TRUE(info.frequencies.empty());
  EXPECT_TRUE(info.throttle_counts.empty());
  EXPECT_EQ(info.l2_cache_bytes, 0);  // no cache directory: unknown
  EXPECT_EQ(info.last_level_cache_bytes, 0);
  EXPECT_EQ(info.cache_source, "");  // a test tree is never completed from this CPU
  EXPECT_TRUE(EnvironmentWarnings(info).empty())
      << ::testing::PrintToString(EnvironmentWarnings(info));
  const std::vector<std::string> notes = EnvironmentNotes(info);
  EXPECT_TRUE(AnyContains(notes, "frequency scaling is not visible"));
  EXPECT_TRUE(AnyContains(notes, "no thermal zones"));
  EXPECT_TRUE(AnyContains(notes, "CPU model is unknown"));
  // Kernel and hostname fall back to uname() when <proc>/sys/kernel is absent.
  EXPECT_FALSE(info.kernel.empty());
}

// A Jetson / Raspberry Pi: arm64 cpuinfo has no "model name".
TEST(CaptureEnvironment, ArmModelFromCpuinfoOrDeviceTree) {
  FakeTree tree;
  tree.Write("proc/cpuinfo",
             "processor\t: 0\nBogoMIPS\t: 108.00\nCPU part\t: 0xd03\n\n"
             "Hardware\t: BCM2835\nRevision\t: a02082\n"
             "Model\t\t: Raspberry Pi 3 Model B Rev 1.2\n");
  EXPECT_EQ(CaptureEnvironment(tree.Paths(), "Release").cpu_model,
            "Raspberry Pi 3 Model B Rev 1.2");
  tree.Write("proc/cpuinfo", "processor\t: 0\nBogoMIPS\t: 38.40\nCPU part\t: 0xd04\n");
  tree.Write("sys/firmware/devicetree/base/model",
             std::string("NVIDIA Jetson Nano Developer Kit\0", 33));
  EXPECT_EQ(CaptureEnvironment(tree.Paths(), "Release").cpu_model,
            "NVIDIA Jetson Nano Developer Kit");
}

TEST(CaptureEnvironment, OsReleaseWithoutPrettyName) {
  FakeTree tree;
  tree.Write("etc/os-release", "# comment\nNAME='Alpine Linux'\nVERSION_ID=3.19.1\n");
  EnvironmentPaths paths;
  paths.monitor = tree.Paths();
  paths.os_release = tree.root() / "etc" / "os-release";
  EXPECT_EQ(CaptureEnvironment(paths, "Release").os, "Alpine Linux 3.19.1");
}

}  // namespace
}  // namespace deepedge
