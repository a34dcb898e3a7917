#include <gtest/gtest.h>

#include <string>

#include "deepedge/monitors.h"
#include "monitors/energy_sources.h"
#include "unit/monitors/fake_tree.h"

namespace deepedge {
namespace {

using testing::FakeTree;
using testing::HasMetric;
using testing::HasNoteContaining;
using testing::Hz;
using testing::ManualClock;
using testing::MetricValue;
using testing::PidStatLine;

constexpr std::uint64_t kRaplRange = 262143328850;  // a real package's max_energy_range_uj

class EnergyMonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Every tree has a process, so the estimate is possible; sensor tests must win over it.
    tree_.Write("proc/4242/stat", PidStatLine(4242, "bench", 0, 0));
  }

  std::unique_ptr<Monitor> Make(const PowerModel& model = DefaultPowerModel()) {
    return MakeEnergyMonitor(tree_.Paths(), clock_.AsClock(), model);
  }

  void RaplZone(const std::string& zone, const std::string& name, std::uint64_t energy_uj,
                std::uint64_t range = kRaplRange) {
    const std::string dir = "sys/class/powercap/" + zone + "/";
    tree_.Write(dir + "name", name + "\n");
    tree_.Write(dir + "energy_uj", std::to_string(energy_uj) + "\n");
    tree_.Write(dir + "max_energy_range_uj", std::to_string(range) + "\n");
    tree_.Write(dir + "enabled", "1\n");
  }
  void SetRapl(const std::string& zone, std::uint64_t energy_uj) {
    tree_.Write("sys/class/powercap/" + zone + "/energy_uj", std::to_string(energy_uj) + "\n");
  }

  void Battery(const std::string& name, const std::string& status) {
    const std::string dir = "sys/class/power_supply/" + name + "/";
    tree_.Write(dir + "type", "Battery\n");
    tree_.Write(dir + "present", "1\n");
    tree_.Write(dir + "status", status + "\n");
    tree_.Write(dir + "technology", "Li-ion\n");
  }
  void Supply(const std::string& name, const std::string& file, std::int64_t value) {
    tree_.Write("sys/class/power_supply/" + name + "/" + file, std::to_string(value) + "\n");
  }

  void Hwmon(const std::string& id, const std::string& name) {
    tree_.Write("sys/class/hwmon/" + id + "/name", name + "\n");
  }
  void HwmonFile(const std::string& id, const std::string& file, const std::string& value) {
    tree_.Write("sys/class/hwmon/" + id + "/" + file, value + "\n");
  }

  FakeTree tree_;
  ManualClock clock_;
};

void ExpectAllMeasured(const MonitorReport& r) {
  EXPECT_TRUE(r.supported) << r.unsupported_reason;
  EXPECT_FALSE(r.metrics.empty());
  for (const Metric& m : r.metrics) EXPECT_EQ(m.provenance, Provenance::kMeasured) << m.name;
}

// ---- RAPL ----

TEST_F(EnergyMonitorTest, RaplSumsTwoPackagesWithWrapAroundAndIgnoresSubZones) {
  RaplZone("intel-rapl:0", "package-0", 1'000'000);
  RaplZone("intel-rapl:1", "package-1", kRaplRange - 1'000'000);
  RaplZone("intel-rapl:0:0", "core", 500);          // inside package-0: must not be added
  RaplZone("intel-rapl-mmio:0", "package-0", 700);  // the same package through MMIO
  tree_.Write("sys/class/powercap/intel-rapl/enabled", "1\n");  // the control type
  auto m = Make();
  ASSERT_TRUE(m->Start().ok());
  clock_.AdvanceSeconds(2);
  SetRapl("intel-rapl:0", 6'000'000);  // +5 J
  SetRapl("intel-rapl:1", 2'000'000);  // wrapped: 1 J to the top + 2 J = 3 J
  SetRapl("intel-rapl:0:0", 900'000'000);
  SetRapl("intel-rapl-mmio:0", 900'000'000);
  ASSERT_TRUE(m->Stop().ok());

  const MonitorReport r = m->Report();
  ExpectAllMeasured(r);
  EXPECT_EQ(r.monitor, "energy");
  EXPECT_EQ(r.source, "rapl:intel-rapl:0+intel-rapl:1");
  EXPECT_DOUBLE_EQ(MetricValue(r, "energy_j"), 8.0);
  EXPECT_DOUBLE_EQ(MetricValue(r, "average_power_w"), 4.0);
  EXPECT_DOUBLE_EQ(MetricValue(r, "package_0_energy_j"), 5.0);
  EXPECT_DOUBLE_EQ(MetricValue(r, "package_1_energy_j"), 3.0);
  EXPECT_DOUBLE_EQ(MetricValue(r, "package_1_average_power_w"), 1.5);
  EXPECT_FALSE(HasMetric(r, "core_energy_j"));
  EXPECT_EQ(testing::FindMetric(r, "energy_j")->unit, "J");
  EXPECT_EQ(testing::FindMetric(r, "average_power_w")->unit, "W");
  EXPECT_TRUE(r.timelines.empty());  // counters give no power timeline
}

TEST_F(EnergyMonitorTest, RaplCountsSeveralWrapsWhenSampled) {
  RaplZone("intel-rapl:0", "package-0", 9'000'000, 10'000'000);
  auto m = Make();
  ASSERT_TRUE(m->Start().ok());
  clock_.AdvanceSeconds(1);
  SetRapl("intel-rapl:0", 5'000'000);  // +1 J to the top, +5 J
  m->Sample();
  clock_.AdvanceSeconds(1);
  SetRapl("intel-rapl:0", 1'000'000);  // +5 J, +1 J
  m->Sample();
  clock_.AdvanceSeconds(1);
  SetRapl("intel-rapl:0", 3'000'000);  // +2 J
  ASSERT_TRUE(m->Stop().ok());
  EXPECT_DOUBLE_EQ(MetricValue(m->Report(), "energy_j"), 14.0);
}

TEST_F(EnergyMonitorTest, RaplPsysIsReportedButNotAdded) {
  RaplZone("intel-rapl:0", "package-0", 0);
  RaplZone("intel-rapl:1", "psys", 0);
  auto m = Make();
  ASSERT_TRUE(m->Start().ok());
  clock_.AdvanceSeconds(1);
  SetRapl("intel-rapl:0", 3'000'000);
  SetRapl("intel-rapl:1", 7'000'000);
  ASSERT_TRUE(m->Stop().ok());
  const MonitorReport r = m->Report();
  EXPECT_DOUBLE_EQ(MetricValue(r, "energy_j"), 3.0);
  EXPECT_DOUBLE_EQ(MetricValue(r, "psys_energy_j"), 7.0);
  EXPECT_TRUE(HasNoteContaining(r, "psys")) << ::testing::PrintToString(r.notes);
}

TEST_F(EnergyMonitorTest, UnreadableRaplFallsThroughWithANote) {
  // A directory where energy_uj should be fails to read like a root-only file does for
  // an ordinary user (and, unlike chmod 000, also for root).
  tree_.Write("sys/class/powercap/intel-rapl:0/name", "package-0\n");
  tree_.MakeDir("sys/class/powercap/intel-rapl:0/energy_uj");
  Battery("BAT0", "Discharging");
  Supply("BAT0", "energy_now", 1'000'000);
  auto m = Make();
  ASSERT_TRUE(m->Start().ok());
  clock_.AdvanceSeconds(1);
  ASSERT_TRUE(m->Stop().ok());
  const MonitorReport r = m->Report();
  EXPECT_EQ(r.source, "battery:BAT0(energy_now)");
  EXPECT_TRUE(HasNoteContaining(r, "RAPL zone intel-rapl:0 (package-0) skipped"))
      << ::testing::PrintToString(r.notes);
  EXPECT_TRUE(HasNoteContaining(r, "root"));
}

TEST_F(EnergyMonitorTest, RaplWinsOverOtherSensors) {
  RaplZone("intel-rapl:0", "package-0", 0);
  Battery("BAT0", "Discharging");
  Supply("BAT0", "energy_now", 1'000'000);
  Hwmon("hwmon0", "ina3221");
  auto m = Make();
  ASSERT_TRUE(m->Start().ok());
  ASSERT_TRUE(m->Stop().ok());
  EXPECT_EQ(m->Report().source, "rapl:intel-rapl:0");
}

// ---- Batteries ----

TEST_F(EnergyMonitorTest, BatteryEnergyNowDeltas) {
  Battery("BAT0", "Discharging");
  Supply("BAT0", "energy_now", 50'000'000);  // uWh
  Supply("BAT0", "power_now", 9'000'000);    // present, but energy_now comes first
  tree_.Write("sys/class/power_supply/AC/type", "Mains\n");
  tree_.Write("sys/class/power_supply/AC/online", "0\n");
  // A wireless mouse: a battery, but not this machine's.
  tree_.Write("sys/class/power_supply/hidpp_battery_0/type", "Battery\n");
  tree_.Write("sys/class/power_supply/hidpp_battery_0/scope", "Device\n");
  tree_.Write("sys/class/power_supply/hidpp_battery_0/energy_now", "5000\n");
  auto m = Make();
  ASSERT_TRUE(m->Start().ok());
  clock_.AdvanceSeconds(10);
  Supply("BAT0", "energy_now", 49'999'000);  // 1000 uWh = 3.6 J used
  tree_.Write("sys/class/power_supply/hidpp_battery_0/energy_now", "1000\n");
  ASSERT_TRUE(m->Stop().ok());
  const MonitorReport r = m->Report();
  ExpectAllMeasured(r);
  EXPECT_EQ(r.source, "battery:BAT0(energy_now)");
  EXPECT_DOUBLE_EQ(MetricValue(r, "energy_j"), 3.6);
  EXPECT_DOUBLE_EQ(MetricValue(r, "average_power_w"), 0.36);
  EXPECT_DOUBLE_EQ(MetricValue(r, "bat0_energy_j"), 3.6);
  EXPECT_FALSE(HasNoteContaining(r, "charging"));
}

TEST_F(EnergyMonitorTest, BatteryEnergyNowThatDoesNotMoveIsNoted) {
  Battery("BAT0", "Discharging");
  Supply("BAT0", "energy_now", 50'000'000);
  auto m = Make();
  ASSERT_TRUE(m->Start().ok());
  clock_.AdvanceSeconds(1);
  ASSERT_TRUE(m->Stop().ok());
  EXPECT_DOUBLE_EQ(MetricValue(m->Report(), "energy_j"), 0.0);
  EXPECT_TRUE(HasNoteContaining(m->Report(), "did not change"));
}

TEST_F(EnergyMonitorTest, BatteryPowerNowIsIntegratedWithTheTrapezoidRule) {
  Battery("BAT1", "Discharging");
  Supply("BAT1", "power_now", 10'000'000);  // 10 W
  auto m = Make();
  ASSERT_TRUE(m->Start().ok());
  clock_.AdvanceSeconds(1);
  Supply("BAT1", "power_now", -12'000'000);  // some drivers sign the discharge
  m->Sample();
  clock_.AdvanceSeconds(2);
  Supply("BAT1", "power_now", 8'000'000);
  ASSERT_TRUE(m->Stop().ok());
  const MonitorReport r = m->Report();
  ExpectAllMeasured(r);
  EXPECT_EQ(r.source, "battery:BAT1(power_now)");
  // (10 + 12) / 2 * 1 s + (12 + 8) / 2 * 2 s
  EXPECT_DOUBLE_EQ(MetricValue(r, "energy_j"), 31.0);
  EXPECT_DOUBLE_EQ(MetricValue(r, "average_power_w"), 31.0 / 3.0);
  ASSERT_EQ(r.timelines.size(), 1u);
  EXPECT_EQ(r.timelines[0].name, "power");
  EXPECT_EQ(r.timelines[0].unit, "W");
  EXPECT_EQ(r.timelines[0].t_s, (std::vector<double>{0.0, 1.0, 3.0}));
  EXPECT_EQ(r.timelines[0].values, (std::vector<double>{10.0, 12.0, 8.0}));
  EXPECT_FALSE(HasNoteContaining(r, "only at Start()"));
}

TEST_F(EnergyMonitorTest, BatteryCurrentTimesVoltage) {
  Battery("BAT0", "Discharging");
  Supply("BAT0", "current_now", 1'000'000);   // 1 A
  Supply("BAT0", "voltage_now", 12'000'000);  // 12 V
  auto m = Make();
  ASSERT_TRUE(m->Start().ok());
  clock_.AdvanceSeconds(2);
  Supply("BAT0", "current_now", 2'000'000);
  Supply("BAT0", "voltage_now", 11'000'000);
  ASSERT_TRUE(m->Stop().ok());
  const MonitorReport r = m->Report();
  ExpectAllMeasured(r);
  EXPECT_EQ(r.source, "battery:BAT0(current_now*voltage_now)");
  EXPECT_DOUBLE_EQ(MetricValue(r, "energy_j"), (12.0 + 22.0) / 2 * 2);
  // No Sample(): the integral is a straight line between the two readings.
  EXPECT_TRUE(HasNoteContaining(r, "only at Start() and Stop()"));
}

TEST_F(EnergyMonitorTest, ChargingBatteryIsNoted) {
  Battery("BAT0", "Charging");
  Supply("BAT0", "energy_now", 40'000'000);
  auto m = Make();
  ASSERT_TRUE(m->Start().ok());
  clock_.AdvanceSeconds(5);
  Supply("BAT0", "energy_now", 40'001'000);
  ASSERT_TRUE(m->Stop().ok());
  const MonitorReport r = m->Report();
  EXPECT_TRUE(HasNoteContaining(r, "BAT0 is charging")) << ::testing::PrintToString(r.notes);
  EXPECT_DOUBLE_EQ(MetricValue(r, "energy_j"), -3.6);  // kept as read, explained by the note
}

TEST_F(EnergyMonitorTest, BatteryOnExternalPowerIsNoted) {
  Battery("BAT0", "Discharging");
  Supply("BAT0", "energy_now", 40'000'000);
  auto m = Make();
  ASSERT_TRUE(m->Start().ok());
  tree_.Write("sys/class/power_supply/BAT0/status", "Not charging\n");
  ASSERT_TRUE(m->Stop().ok());
  EXPECT_TRUE(HasNoteContaining(m->Report(), "reports 'Not charging'"));
}

// ---- hwmon ----

TEST_F(EnergyMonitorTest, HwmonEnergyCountersUseTheSocketAsTotal) {
  Hwmon("hwmon0", "coretemp");
  HwmonFile("hwmon0", "temp1_input", "45000");
  Hwmon("hwmon1", "amd_energy");
  HwmonFile("hwmon1", "energy1_input", "1000000");
  HwmonFile("hwmon1", "energy1_label", "Ecore000");
  HwmonFile("hwmon1", "energy17_input", "10000000");
  HwmonFile("hwmon1", "energy17_label", "Esocket0");
  auto m = Make();
  ASSERT_TRUE(m->Start().ok());
  clock_.AdvanceSeconds(2);
  HwmonFile("hwmon1", "energy1_input", "3000000");
  HwmonFile("hwmon1", "energy17_input", "20000000");
  ASSERT_TRUE(m->Stop().ok());
  const MonitorReport r = m->Report();
  ExpectAllMeasured(r);
  EXPECT_EQ(r.source, "hwmon:hwmon1(amd_energy)");
  EXPECT_DOUBLE_EQ(MetricValue(r, "energy_j"), 10.0);
  EXPECT_DOUBLE_EQ(MetricValue(r, "average_power_w"), 5.0);
  EXPECT_DOUBLE_EQ(MetricValue(r, "esocket0_energy_j"), 10.0);
  EXPECT_DOUBLE_EQ(MetricValue(r, "ecore000_energy_j"), 2.0);
}

TEST_F(EnergyMonitorTest, HwmonPowerIsIntegratedAndOrderedNumerically) {
  Hwmon("hwmon10", "later_meter");
  HwmonFile("hwmon10", "power1_input", "99000000");
  Hwmon("hwmon2", "power_meter");
  HwmonFile("hwmon2", "power1_input", "5000000");  // uW
  auto m = Make();
  ASSERT_TRUE(m->Start().ok());
  clock_.AdvanceSeconds(1);
  HwmonFile("hwmon2", "power1_input", "7000000");
  m->Sample();
  clock_.AdvanceSeconds(1);
  ASSERT_TRUE(m->Stop().ok());
  const MonitorReport r = m->Report();
  ExpectAllMeasured(r);
  EXPECT_EQ(r.source, "hwmon:hwmon2(power_meter)");
  EXPECT_DOUBLE_EQ(MetricValue(r, "energy_j"), (5.0 + 7.0) / 2 + 7.0);
  EXPECT_DOUBLE_EQ(MetricValue(r, "power_meter_power1_energy_j"), 13.0);
}

// Jetson Orin / Xavier NX layout of the mainline ina3221 hwmon driver.
TEST_F(EnergyMonitorTest, Ina3221RailsWithInputRailAsTotal) {
  Hwmon("hwmon1", "ina3221");
  const auto rail = [&](int n, const std::string& label, int mv, int ma) {
    const std::string i = std::to_string(n);
    if (!label.empty()) HwmonFile("hwmon1", "in" + i + "_label", label);
    HwmonFile("hwmon1", "in" + i + "_input", std::to_string(mv));
    HwmonFile("hwmon1", "curr" + i + "_input", std::to_string(ma));
    HwmonFile("hwmon1", "shunt" + i + "_resistor", "5000");
  };
  rail(1, "VDD_IN", 5000, 1000);           // 5 W
  rail(2, "VDD_CPU_GPU_CV", 5000, 400);    // 2 W
  rail(3, "VDD_SOC", 5000, 200);           // 1 W
  HwmonFile("hwmon1", "in4_input", "40");  // shunt voltages: no current, not a rail
  HwmonFile("hwmon1", "in7_label", "sum of shunt voltages");
  HwmonFile("hwmon1", "in7_input", "100");
  auto m = Make();
  ASSERT_TRUE(m->Start().ok());
  clock_.AdvanceSeconds(2);
  HwmonFile("hwmon1", "curr1_input", "1200");  // 6 W
  HwmonFile("hwmon1", "curr2_input", "600");   // 3 W
  m->Sample();
  ASSERT_TRUE(m->Stop().ok());  // same time as the sample: adds nothing
  const MonitorReport r = m->Report();
  ExpectAllMeasured(r);
  EXPECT_EQ(r.source, "hwmon:hwmon1(ina3221)");
  EXPECT_DOUBLE_EQ(MetricValue(r, "vdd_in_energy_j"), 11.0);
  EXPECT_DOUBLE_EQ(MetricValue(r, "vdd_cpu_gpu_cv_energy_j"), 5.0);
  EXPECT_DOUBLE_EQ(MetricValue(r, "vdd_soc_energy_j"), 2.0);
  EXPECT_DOUBLE_EQ(MetricValue(r, "vdd_in_average_power_w"), 5.5);
  // VDD_IN feeds the other rails: the total is VDD_IN alone.
  EXPECT_DOUBLE_EQ(MetricValue(r, "energy_j"), 11.0);
  EXPECT_DOUBLE_EQ(MetricValue(r, "average_power_w"), 5.5);
  EXPECT_FALSE(HasMetric(r, "sum_of_shunt_voltages_energy_j"));
  EXPECT_TRUE(HasNoteContaining(r, "energy_j counts vdd_in"));
  ASSERT_EQ(r.timelines.size(), 1u);
  EXPECT_EQ(r.timelines[0].values, (std::vector<double>{5.0, 6.0, 6.0}));
}

// Jetson AGX Xavier: two INA3221 chips, no input rail: the rails are summed.
TEST_F(EnergyMonitorTest, Ina3221WithoutInputRailSumsRailsOfAllChips) {
  Hwmon("hwmon0", "ina3221");
  HwmonFile("hwmon0", "in1_label", "GPU");
  HwmonFile("hwmon0", "in1_input", "10000");
  HwmonFile("hwmon0", "curr1_input", "100");  // 1 W
  HwmonFile("hwmon0", "in2_label", "NC");     // unconnected channel
  HwmonFile("hwmon0", "in2_input", "0");
  HwmonFile("hwmon0", "curr2_input", "0");
  Hwmon("hwmon1", "ina3221");
  HwmonFile("hwmon1", "in1_label", "CPU");
  HwmonFile("hwmon1", "in1_input", "10000");
  HwmonFile("hwmon1", "curr1_input", "300");  // 3 W
  auto m = Make();
  ASSERT_TRUE(m->Start().ok());
  clock_.AdvanceSeconds(4);
  ASSERT_TRUE(m->Stop().ok());
  const MonitorReport r = m->Report();
  EXPECT_EQ(r.source, "hwmon:hwmon0(ina3221)+hwmon1(ina3221)");
  EXPECT_DOUBLE_EQ(MetricValue(r, "gpu_energy_j"), 4.0);
  EXPECT_DOUBLE_EQ(MetricValue(r, "cpu_energy_j"), 12.0);
  EXPECT_DOUBLE_EQ(MetricValue(r, "energy_j"), 16.0);
  EXPECT_FALSE(HasMetric(r, "nc_energy_j"));
}

// Jetson Nano / TX1 / TX2 with the downstream ina3221x iio driver.
TEST_F(EnergyMonitorTest, Ina3221xIioRails) {
  const std::string dir = "sys/bus/i2c/drivers/ina3221x/6-0040/iio:device0/";
  const auto rail = [&](int i, const std::string& name, int mw) {
    tree_.Write(dir + "rail_name_" + std::to_string(i), name + "\n");
    tree_.Write(dir + "in_power" + std::to_string(i) + "_input", std::to_string(mw) + "\n");
  };
  rail(0, "POM_5V_IN", 4000);
  rail(1, "POM_5V_GPU", 1000);
  rail(2, "POM_5V_CPU", 1500);
  auto m = Make();
  ASSERT_TRUE(m->Start().ok());
  clock_.AdvanceSeconds(1);
  rail(0, "POM_5V_IN", 5000);
  rail(2, "POM_5V_CPU", 2000);
  ASSERT_TRUE(m->Stop().ok());
  const MonitorReport r = m->Report();
  ExpectAllMeasured(r);
  EXPECT_EQ(r.source, "ina3221x:6-0040/iio:device0");
  EXPECT_DOUBLE_EQ(MetricValue(r, "pom_5v_in_energy_j"), 4.5);
  EXPECT_DOUBLE_EQ(MetricValue(r, "pom_5v_gpu_energy_j"), 1.0);
  EXPECT_DOUBLE_EQ(MetricValue(r, "pom_5v_cpu_energy_j"), 1.75);
  EXPECT_DOUBLE_EQ(MetricValue(r, "energy_j"), 4.5);
}

TEST_F(EnergyMonitorTest, SensorVanishingDuringTheWindowIsAnError) {
  RaplZone("intel-rapl:0", "package-0", 0);
  auto m = Make();
  ASSERT_TRUE(m->Start().ok());
  tree_.Remove("sys/class/powercap/intel-rapl:0");
  EXPECT_FALSE(m->Stop().ok());
  const MonitorReport r = m->Report();
  EXPECT_FALSE(r.supported);
  EXPECT_NE(r.unsupported_reason.find("unreadable"), std::string::npos);
  EXPECT_TRUE(r.metrics.empty());
}

// ---- Estimate ----

TEST_F(EnergyMonitorTest, WithoutSensorEstimatesFromCpuTimeAndLabelsIt) {
  const std::uint64_t hz = Hz();
  tree_.Write("proc/4242/stat", PidStatLine(4242, "bench", hz, hz));
  PowerModel model{"test-model", 4.0, 3.0, false};
  auto m = Make(model);
  ASSERT_TRUE(m->Start().ok());
  clock_.AdvanceSeconds(5);
  m->Sample();
  tree_.Write("proc/4242/stat", PidStatLine(4242, "bench", 3 * hz, hz + hz / 2));  // +2.5 s
  ASSERT_TRUE(m->Stop().ok());
  const MonitorReport r = m->Report();
  EXPECT_TRUE(r.supported);
  EXPECT_EQ(r.source, "estimated: cpu-time x power model (test-model)");
  EXPECT_DOUBLE_EQ(MetricValue(r, "energy_j"), 10.0);  // idle not included
  EXPECT_DOUBLE_EQ(MetricValue(r, "average_power_w"), 2.0);
  ASSERT_EQ(r.metrics.size(), 2u);
  for (const Metric& metric : r.metrics) {
    EXPECT_EQ(metric.provenance, Provenance::kEstimated) << metric.name;
  }
  EXPECT_TRUE(HasNoteContaining(r, "no readable energy sensor"));
  EXPECT_TRUE(HasNoteContaining(r, "4 W per busy core x 2.5 s"));
  EXPECT_TRUE(r.timelines.empty());
}

TEST_F(EnergyMonitorTest, EstimateAddsIdlePowerOnlyWhenAsked) {
  const std::uint64_t hz = Hz();
  PowerModel model{"with-idle", 4.0, 3.0, true};
  auto m = Make(model);
  ASSERT_TRUE(m->Start().ok());
  clock_.AdvanceSeconds(5);
  tree_.Write("proc/4242/stat", PidStatLine(4242, "bench", hz, 0));
  ASSERT_TRUE(m->Stop().ok());
  EXPECT_DOUBLE_EQ(MetricValue(m->Report(), "energy_j"), 4.0 * 1 + 3.0 * 5);
}

TEST_F(EnergyMonitorTest, DefaultPowerModelIsAnAttributableEstimate) {
  const PowerModel model = DefaultPowerModel();
  EXPECT_FALSE(model.name.empty());
  EXPECT_GT(model.active_w_per_core, 0.0);
  EXPECT_FALSE(model.include_idle);
}

TEST_F(EnergyMonitorTest, NoSensorAndNoProcessIsUnsupported) {
  tree_.Remove("proc/4242");
  auto m = Make();
  ASSERT_TRUE(m->Start().ok());
  m->Sample();
  clock_.AdvanceSeconds(1);
  ASSERT_TRUE(m->Stop().ok());
  const MonitorReport r = m->Report();
  EXPECT_FALSE(r.supported);
  EXPECT_NE(r.unsupported_reason.find("no readable energy sensor"), std::string::npos);
  EXPECT_NE(r.unsupported_reason.find("4242/stat"), std::string::npos) << r.unsupported_reason;
  EXPECT_TRUE(r.metrics.empty());
}

TEST_F(EnergyMonitorTest, InvalidPowerModelIsRejectedAtStart) {
  PowerModel model{"broken", -1.0, 0.0, false};
  auto m = Make(model);
  EXPECT_EQ(m->Start().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(m->Report().supported);
  EXPECT_TRUE(m->Stop().ok());
}

TEST_F(EnergyMonitorTest, EnforcesTheLifeCycle) {
  auto m = Make();
  EXPECT_EQ(m->Stop().code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(m->Start().ok());
  EXPECT_EQ(m->Start().code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(m->Stop().ok());
  EXPECT_EQ(m->Stop().code(), StatusCode::kInvalidArgument);
}

TEST(IsAggregateLabel, RecognisesInputsAndPackages) {
  using monitors_internal::IsAggregateLabel;
  EXPECT_TRUE(IsAggregateLabel("VDD_IN"));
  EXPECT_TRUE(IsAggregateLabel("POM_5V_IN"));
  EXPECT_TRUE(IsAggregateLabel("package-0"));
  EXPECT_TRUE(IsAggregateLabel("Esocket0"));
  EXPECT_FALSE(IsAggregateLabel("VDD_CPU_GPU_CV"));
  EXPECT_FALSE(IsAggregateLabel("psys"));
  EXPECT_FALSE(IsAggregateLabel("VIN_SYS_5V0"));
}

}  // namespace
}  // namespace deepedge
