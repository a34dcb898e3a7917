// The optional "accuracy" object of the bench JSON record (docs/bench-json.md).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "deepedge/report.h"

namespace deepedge {
namespace {

BenchRecord Minimal() {
  BenchRecord r;
  r.tool_version = "0";
  r.timestamp_utc = "2026-11-29T10:00:00Z";
  r.model.name = "m";
  r.model.format = "onnx";
  r.backend = "deepedge";
  return r;
}

TEST(AccuracyJson, AbsentFromTimingRecords) {
  const BenchRecord records[] = {Minimal()};
  const auto doc = nlohmann::json::parse(FormatBenchJson(records));
  EXPECT_FALSE(doc["records"][0].contains("accuracy"));
}

TEST(AccuracyJson, EveryField) {
  BenchRecord r = Minimal();
  AccuracyRecord a;
  a.metric = {"top1", 0.9085, 0.9027, 0.9140, 0.95};
  a.others.push_back({"top5", 0.998, 0.997, 0.999, 0.95});
  a.samples = 10000;
  a.bad_samples = 2;
  a.dataset = "IDX test: t10k";
  a.card = "models/fashion_mnist_cnn.yaml";
  r.accuracy = a;
  const BenchRecord records[] = {std::move(r)};
  const auto doc = nlohmann::json::parse(FormatBenchJson(records));
  EXPECT_EQ(doc["schema_version"], kBenchSchemaVersion);
  const auto& j = doc["records"][0]["accuracy"];
  EXPECT_EQ(j["name"], "top1");
  EXPECT_DOUBLE_EQ(j["value"].get<double>(), 0.9085);
  EXPECT_DOUBLE_EQ(j["ci_low"].get<double>(), 0.9027);
  EXPECT_DOUBLE_EQ(j["ci_high"].get<double>(), 0.9140);
  EXPECT_DOUBLE_EQ(j["confidence"].get<double>(), 0.95);
  ASSERT_EQ(j["other_metrics"].size(), 1u);
  EXPECT_EQ(j["other_metrics"][0]["name"], "top5");
  EXPECT_DOUBLE_EQ(j["other_metrics"][0]["value"].get<double>(), 0.998);
  EXPECT_EQ(j["samples"], 10000);
  EXPECT_EQ(j["bad_samples"], 2);
  EXPECT_EQ(j["dataset"], "IDX test: t10k");
  EXPECT_EQ(j["card"], "models/fashion_mnist_cnn.yaml");
}

}  // namespace
}  // namespace deepedge
