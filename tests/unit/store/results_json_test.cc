// The deepedge.results JSON form: exact round trips and refusals with reasons.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>

#include "deepedge/store.h"
#include "unit/store/record_fixture.h"

namespace deepedge {
namespace {

using testing::ExpectSameRecord;
using testing::FullRecord;

std::string TwoRecords() {
  std::vector<RunRecord> in = {FullRecord(0), FullRecord(1)};
  in[0].id = 7;
  in[1].id = 8;
  return FormatResultsJson(in);
}

TEST(ResultsJson, RoundTripIsExact) {
  std::vector<RunRecord> in;
  for (int seq = 0; seq < 5; ++seq) {
    in.push_back(FullRecord(seq));
    in.back().id = seq + 10;
  }
  const std::string text = FormatResultsJson(in);
  Expected<std::vector<RunRecord>> out = ParseResultsJson(text, "r.json");
  ASSERT_TRUE(out) << out.status().message();
  ASSERT_EQ(out->size(), in.size());
  for (std::size_t i = 0; i < in.size(); ++i) ExpectSameRecord(in[i], (*out)[i]);
  // Writing what was read gives the same text: nothing is lost or reformatted.
  EXPECT_EQ(FormatResultsJson(*out), text);
}

TEST(ResultsJson, HeaderNamesSchemaAndVersion) {
  const nlohmann::json doc = nlohmann::json::parse(TwoRecords());
  EXPECT_EQ(doc["schema"], "deepedge.results");
  EXPECT_EQ(doc["schema_version"], kRunRecordVersion);
  EXPECT_EQ(doc["records"].size(), 2u);
  EXPECT_EQ(doc["records"][1]["metrics"][0]["ci_low"].get<double>(), 1.3);
  EXPECT_TRUE(doc["records"][0]["metrics"][1]["ci_low"].is_null());
  EXPECT_TRUE(doc["records"][1]["model"]["parameters"].is_null());
  EXPECT_TRUE(ParseResultsJson(FormatResultsJson({}), "empty.json").value().empty());
}

TEST(ResultsJson, WrongOrUnknownVersionIsRefused) {
  nlohmann::json doc = nlohmann::json::parse(TwoRecords());
  doc["schema_version"] = kRunRecordVersion + 1;
  Expected<std::vector<RunRecord>> r = ParseResultsJson(doc.dump(), "future.json");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(r.status().message().find("future.json"), std::string::npos);
  EXPECT_NE(r.status().message().find("schema_version " + std::to_string(kRunRecordVersion + 1)),
            std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("newer"), std::string::npos);

  doc["schema_version"] = "1";
  r = ParseResultsJson(doc.dump(), "x.json");
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("schema_version"), std::string::npos);

  doc["schema_version"] = kRunRecordVersion;
  doc["schema"] = "deepedge.bench";
  r = ParseResultsJson(doc.dump(), "bench.json");
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("schema 'deepedge.bench'"), std::string::npos)
      << r.status().message();
}

TEST(ResultsJson, MissingFieldIsRefusedNamingFieldAndRecord) {
  struct Case {
    nlohmann::json::json_pointer where;
    std::string field;
  };
  const Case cases[] = {
      {nlohmann::json::json_pointer("/records/1/model/precision"), "model.precision"},
      {nlohmann::json::json_pointer("/records/0/kind"), "kind"},
      {nlohmann::json::json_pointer("/records/1/metrics/2/unit"), "metrics[2].unit"},
      {nlohmann::json::json_pointer("/records/0/device"), "device"},
      {nlohmann::json::json_pointer("/records/1/latency_samples_ms"), "latency_samples_ms"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.field);
    nlohmann::json doc = nlohmann::json::parse(TwoRecords());
    doc[c.where.parent_pointer()].erase(c.where.back());
    Expected<std::vector<RunRecord>> r = ParseResultsJson(doc.dump(), "in.json");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
    const std::string record = "record " + c.where.to_string().substr(9, 1);
    EXPECT_NE(r.status().message().find("in.json: " + record + ": missing field '" + c.field + "'"),
              std::string::npos)
        << r.status().message();
  }
}

TEST(ResultsJson, WrongTypesAndNonJsonAreRefused) {
  nlohmann::json doc = nlohmann::json::parse(TwoRecords());
  doc["records"][0]["metrics"][0]["value"] = "fast";
  Expected<std::vector<RunRecord>> r = ParseResultsJson(doc.dump(), "t.json");
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("record 0: field 'metrics[0].value' must be a number"),
            std::string::npos)
      << r.status().message();

  doc = nlohmann::json::parse(TwoRecords());
  doc["records"][1]["model"]["name"] = nullptr;
  r = ParseResultsJson(doc.dump(), "t.json");
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("record 1: field 'model.name' is null"), std::string::npos);

  r = ParseResultsJson(TwoRecords().substr(0, 200), "cut.json");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(r.status().message().find("cut.json: not valid JSON"), std::string::npos);

  r = ParseResultsJson("[1, 2]", "array.json");
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("not a DeepEdge results file"), std::string::npos);
}

}  // namespace
}  // namespace deepedge
