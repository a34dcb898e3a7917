// RunRecords for the store tests, and an exact field-by-field comparison.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "deepedge/run_record.h"

namespace deepedge::testing {

// A record with every field set; `seq` varies the content. Numbers are chosen to need
// all 17 significant digits (1/3, 0.1 + 0.2) or be extreme, so that a lossy round trip
// shows.
inline RunRecord FullRecord(int seq, std::string device = "board-a",
                            std::string backend = "deepedge", std::string precision = "fp32") {
  RunRecord r;
  r.kind = seq % 2 == 0 ? "bench" : "profile";
  r.tool_version = "0.1.0";
  r.timestamp_utc = "2026-11-29T10:00:" + std::to_string(10 + seq % 50) + "Z";
  r.device = {device,          "AMD EPYC 7B13 \"quoted\"",       2,
              8'338'718'720LL, "Debian GNU/Linux 12 (bookworm)", "6.1.0-18-amd64"};
  r.backend = backend;
  r.backend_version = "0.1.0 (XNNPACK)";
  r.model.name = "mobilenet_v1_1.0_224";
  r.model.sha256 = std::string(64, 'a' + static_cast<char>(seq % 6));
  r.model.format = "onnx";
  r.model.precision = precision;
  r.model.synthetic_weights = seq % 3 == 0;
  if (seq % 2 == 0) r.model.parameters = 4'231'976 + seq;
  if (seq % 4 == 0) r.model.macs = 568'740'352LL * 1000;
  r.config = {{"threads", std::to_string(seq % 4)},
              {"scenario", "single-stream"},
              {"option.xnnpack", "on"},
              {"input", "random (seed 42), ümlaut ✓"}};
  RunMetric p50{"latency.p50", 1.0 / 3.0 + seq, "ms", false, 0.3 + seq, 0.1 + 0.2 + seq};
  RunMetric energy{"energy.per_inference", 137.25e-3 * (seq + 1), "mJ", true, {}, {}};
  RunMetric tiny{"memory.tiny", 4.9e-324, "MiB", false, {}, {}};
  RunMetric huge{"throughput.samples_per_s", 1.7976931348623157e308, "samples/s", false, {}, {}};
  r.metrics = {p50, energy, tiny, huge};
  for (int i = 0; i < 50 + seq; ++i) r.latency_samples_ms.push_back(1.0 / (i + 7) + seq);
  r.layers = {{"conv1", "Conv", 0.123456789012345678, 802816, 10838016},
              {"relu", "Relu", 1e-9, -1, -1}};
  r.warnings = {"load average 1.2 is high", "build type Debug: \n timings are not representative"};
  r.details_json = seq % 2 == 0 ? "" : R"({"plan":{"cut":3,"links":["wifi","lte"]}})";
  return r;
}

inline void ExpectSameRecord(const RunRecord& a, const RunRecord& b, bool with_id = true) {
  if (with_id) {
    EXPECT_EQ(a.id, b.id);
  }
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.tool_version, b.tool_version);
  EXPECT_EQ(a.timestamp_utc, b.timestamp_utc);
  EXPECT_EQ(a.device.name, b.device.name);
  EXPECT_EQ(a.device.cpu_model, b.device.cpu_model);
  EXPECT_EQ(a.device.cores, b.device.cores);
  EXPECT_EQ(a.device.memory_bytes, b.device.memory_bytes);
  EXPECT_EQ(a.device.os, b.device.os);
  EXPECT_EQ(a.device.kernel, b.device.kernel);
  EXPECT_EQ(a.backend, b.backend);
  EXPECT_EQ(a.backend_version, b.backend_version);
  EXPECT_EQ(a.model.name, b.model.name);
  EXPECT_EQ(a.model.sha256, b.model.sha256);
  EXPECT_EQ(a.model.format, b.model.format);
  EXPECT_EQ(a.model.precision, b.model.precision);
  EXPECT_EQ(a.model.synthetic_weights, b.model.synthetic_weights);
  EXPECT_EQ(a.model.parameters, b.model.parameters);
  EXPECT_EQ(a.model.macs, b.model.macs);
  EXPECT_EQ(a.config, b.config);
  ASSERT_EQ(a.metrics.size(), b.metrics.size());
  for (std::size_t i = 0; i < a.metrics.size(); ++i) {
    SCOPED_TRACE(a.metrics[i].name);
    EXPECT_EQ(a.metrics[i].name, b.metrics[i].name);
    EXPECT_EQ(a.metrics[i].value, b.metrics[i].value);  // exact: the round trip loses nothing
    EXPECT_EQ(a.metrics[i].unit, b.metrics[i].unit);
    EXPECT_EQ(a.metrics[i].estimated, b.metrics[i].estimated);
    EXPECT_EQ(a.metrics[i].ci_low, b.metrics[i].ci_low);
    EXPECT_EQ(a.metrics[i].ci_high, b.metrics[i].ci_high);
  }
  EXPECT_EQ(a.latency_samples_ms, b.latency_samples_ms);
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (std::size_t i = 0; i < a.layers.size(); ++i) {
    EXPECT_EQ(a.layers[i].name, b.layers[i].name);
    EXPECT_EQ(a.layers[i].type, b.layers[i].type);
    EXPECT_EQ(a.layers[i].time_ms, b.layers[i].time_ms);
    EXPECT_EQ(a.layers[i].output_bytes, b.layers[i].output_bytes);
    EXPECT_EQ(a.layers[i].macs, b.layers[i].macs);
  }
  EXPECT_EQ(a.warnings, b.warnings);
  EXPECT_EQ(a.details_json, b.details_json);
}

}  // namespace deepedge::testing

namespace deepedge::testing {

// A larger record for the kill test: many child rows, so that a kill often lands in
// the middle of a transaction. Its sequence number is kept in config "seq".
inline RunRecord KillTestRecord(int seq) {
  RunRecord r = FullRecord(seq);
  r.config["seq"] = std::to_string(seq);
  for (int i = 0; i < 200; ++i) {
    r.metrics.push_back({"extra.m" + std::to_string(i), seq * 1000.0 + i / 7.0, "ms", i % 2 == 0,
                         std::nullopt, std::nullopt});
  }
  for (int i = 0; i < 100; ++i) {
    r.layers.push_back({"layer" + std::to_string(i), "Conv", i / 3.0 + seq, i * 100, i * 1000});
  }
  r.latency_samples_ms.assign(5000, 0.0);
  for (int i = 0; i < 5000; ++i) r.latency_samples_ms[i] = seq + i / 9.0;
  return r;
}

}  // namespace deepedge::testing
