#include "deepedge/kserve.h"

#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <string>

namespace deepedge::kserve {
namespace {

Tensor MakeF32(Shape shape, float start) {
  Tensor t = Tensor::Allocate(DType::kF32, std::move(shape)).value();
  auto v = t.as<float>();
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = start + 0.37f * static_cast<float>(i);
  return t;
}

bool SameBytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && a.byte_size() == b.byte_size() &&
         (a.byte_size() == 0 || std::memcmp(a.data(), b.data(), a.byte_size()) == 0);
}

InferRequest SampleRequest() {
  InferRequest r;
  r.id = "req-1";
  r.parameters["binary_data_output"] = true;
  r.parameters["priority"] = std::int64_t{3};
  r.inputs.push_back({"x", MakeF32({1, 3, 2, 2}, -1.5f)});
  Tensor i8 = Tensor::Allocate(DType::kI8, Shape{4}).value();
  const std::int8_t vals[4] = {-128, -1, 0, 127};
  std::memcpy(i8.data(), vals, 4);
  r.inputs.push_back({"q", std::move(i8)});
  Tensor b = Tensor::Allocate(DType::kBool, Shape{2}).value();
  static_cast<std::uint8_t*>(b.data())[1] = 1;
  r.inputs.push_back({"mask", std::move(b)});
  Tensor i64 = Tensor::Allocate(DType::kI64, Shape{2}).value();
  i64.as<std::int64_t>()[0] = std::numeric_limits<std::int64_t>::min();
  i64.as<std::int64_t>()[1] = std::numeric_limits<std::int64_t>::max();
  r.inputs.push_back({"big", std::move(i64)});
  Tensor h = Tensor::Allocate(DType::kF16, Shape{2}).value();
  h.as<std::uint16_t>()[0] = F32ToF16(0.333f);
  h.as<std::uint16_t>()[1] = F32ToF16(-65504.0f);
  r.inputs.push_back({"half", std::move(h)});
  r.outputs.push_back({"y", true});
  r.outputs.push_back({"z", false});
  return r;
}

void ExpectSameRequest(const InferRequest& a, const InferRequest& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.parameters, b.parameters);
  ASSERT_EQ(a.inputs.size(), b.inputs.size());
  for (std::size_t i = 0; i < a.inputs.size(); ++i) {
    EXPECT_EQ(a.inputs[i].name, b.inputs[i].name);
    EXPECT_TRUE(SameBytes(a.inputs[i].tensor, b.inputs[i].tensor)) << a.inputs[i].name;
  }
  ASSERT_EQ(a.outputs.size(), b.outputs.size());
  for (std::size_t i = 0; i < a.outputs.size(); ++i) {
    EXPECT_EQ(a.outputs[i].name, b.outputs[i].name);
    EXPECT_EQ(a.outputs[i].binary, b.outputs[i].binary);
  }
}

TEST(KserveDatatype, NamesRoundTripAndUnknownsAreRefused) {
  for (DType t : kAllDTypes) {
    const std::string_view name = DatatypeName(t);
    ASSERT_FALSE(name.empty());
    EXPECT_EQ(ParseDatatype(name), t) << name;
    EXPECT_TRUE(IsProtocolDatatype(name));
  }
  EXPECT_EQ(DatatypeName(DType::kF32), "FP32");
  EXPECT_EQ(DatatypeName(DType::kI8), "INT8");
  EXPECT_FALSE(ParseDatatype("fp32"));  // the protocol is case-sensitive
  EXPECT_FALSE(ParseDatatype("FP64"));
  EXPECT_TRUE(IsProtocolDatatype("BYTES"));
  EXPECT_FALSE(IsProtocolDatatype("FLOAT"));
}

TEST(KserveCodec, JsonRequestRoundTrip) {
  const InferRequest r = SampleRequest();
  EncodedBody e = EncodeInferRequest(r, /*binary_inputs=*/false).value();
  EXPECT_FALSE(e.has_binary());
  Expected<InferRequest> d = DecodeInferRequest(e.body, std::nullopt);
  ASSERT_TRUE(d) << d.status().ToString();
  ExpectSameRequest(r, *d);
  EXPECT_TRUE(d->binary_data_output());
  for (const NamedTensor& t : d->inputs) EXPECT_FALSE(t.binary);
}

TEST(KserveCodec, BinaryRequestRoundTrip) {
  const InferRequest r = SampleRequest();
  EncodedBody e = EncodeInferRequest(r, /*binary_inputs=*/true).value();
  ASSERT_TRUE(e.has_binary());
  EXPECT_EQ(e.body.size() - e.json_size, 48u + 4 + 2 + 16 + 4);
  Expected<InferRequest> d = DecodeInferRequest(e.body, e.json_size);
  ASSERT_TRUE(d) << d.status().ToString();
  ExpectSameRequest(r, *d);
  for (const NamedTensor& t : d->inputs) EXPECT_TRUE(t.binary);
}

TEST(KserveCodec, ResponseRoundTripMixedBinaryAndJson) {
  InferResponse r;
  r.model_name = "m";
  r.model_version = "3";
  r.id = "abc";
  r.parameters["queue_time_us"] = std::int64_t{12};
  r.parameters["ratio"] = 0.5;
  r.parameters["note"] = std::string("x\"y");
  r.outputs.push_back({"y", MakeF32({2, 5}, 100.0f), true});
  r.outputs.push_back({"z", MakeF32({3}, -1e-30f), false});
  Tensor empty = Tensor::Allocate(DType::kI32, Shape{0, 4}).value();
  r.outputs.push_back({"none", std::move(empty), true});
  EncodedBody e = EncodeInferResponse(r).value();
  ASSERT_TRUE(e.has_binary());
  Expected<InferResponse> d = DecodeInferResponse(e.body, e.json_size);
  ASSERT_TRUE(d) << d.status().ToString();
  EXPECT_EQ(d->model_name, "m");
  EXPECT_EQ(d->model_version, "3");
  EXPECT_EQ(d->id, "abc");
  EXPECT_EQ(d->parameters, r.parameters);
  ASSERT_EQ(d->outputs.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(d->outputs[i].name, r.outputs[i].name);
    EXPECT_EQ(d->outputs[i].binary, r.outputs[i].binary);
    EXPECT_TRUE(SameBytes(d->outputs[i].tensor, r.outputs[i].tensor)) << i;
  }
}

TEST(KserveCodec, FloatsSurviveJsonExactly) {
  InferResponse r;
  r.model_name = "m";
  Tensor t = Tensor::Allocate(DType::kF32, Shape{6}).value();
  const float vals[6] = {0.1f,
                         -0.0f,
                         std::numeric_limits<float>::min(),
                         std::numeric_limits<float>::max(),
                         std::numeric_limits<float>::denorm_min(),
                         3.14159274f};
  std::memcpy(t.data(), vals, sizeof vals);
  r.outputs.push_back({"y", std::move(t), false});
  EncodedBody e = EncodeInferResponse(r).value();
  Expected<InferResponse> d = DecodeInferResponse(e.body, std::nullopt);
  ASSERT_TRUE(d) << d.status().ToString();
  EXPECT_TRUE(SameBytes(d->outputs[0].tensor, r.outputs[0].tensor)) << e.body;
}

TEST(KserveCodec, NonFiniteFloatsCannotGoAsJson) {
  InferResponse r;
  r.model_name = "m";
  Tensor t = Tensor::Allocate(DType::kF32, Shape{2}).value();
  t.as<float>()[1] = std::numeric_limits<float>::infinity();
  r.outputs.push_back({"y", std::move(t), false});
  Expected<EncodedBody> e = EncodeInferResponse(r);
  ASSERT_FALSE(e);
  EXPECT_NE(e.status().message().find("element 1"), std::string::npos);
  r.outputs[0].binary = true;  // binary data carries them
  EXPECT_TRUE(EncodeInferResponse(r));
}

TEST(KserveCodec, NestedJsonDataIsFlattenedRowMajor) {
  const std::string body =
      R"({"inputs":[{"name":"x","shape":[2,3],"datatype":"INT32","data":[[1,2,3],[4,5,6]]}]})";
  Expected<InferRequest> d = DecodeInferRequest(body, std::nullopt);
  ASSERT_TRUE(d) << d.status().ToString();
  auto v = d->inputs[0].tensor.as<std::int32_t>();
  ASSERT_EQ(v.size(), 6u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(v[i], i + 1);
}

TEST(KserveCodec, ScalarAndEmptyTensors) {
  Expected<InferRequest> d =
      DecodeInferRequest(R"({"inputs":[{"name":"s","shape":[],"datatype":"FP32","data":[2.5]},)"
                         R"({"name":"e","shape":[0,3],"datatype":"FP32","data":[]}]})",
                         std::nullopt);
  ASSERT_TRUE(d) << d.status().ToString();
  EXPECT_EQ(d->inputs[0].tensor.as<float>()[0], 2.5f);
  EXPECT_EQ(d->inputs[1].tensor.element_count(), 0);
}

struct BadCase {
  const char* what;
  std::string body;
  std::optional<std::size_t> header_length;
  const char* message_part;
};

class KserveMalformed : public ::testing::TestWithParam<BadCase> {};

TEST_P(KserveMalformed, IsRefusedWithAClearError) {
  const BadCase& c = GetParam();
  Expected<InferRequest> d = DecodeInferRequest(c.body, c.header_length);
  ASSERT_FALSE(d) << c.what;
  EXPECT_NE(d.status().message().find(c.message_part), std::string::npos)
      << c.what << ": " << d.status().message();
}

// A binary-form case: `json`, then `binary_bytes` bytes, header length = the JSON's.
BadCase Binary(const char* what, const std::string& json, std::size_t binary_bytes,
               const char* message_part) {
  return {what, json + std::string(binary_bytes, '\x01'), json.size(), message_part};
}

const std::string kX = R"({"name":"x","datatype":"FP32","shape":[2,2])";

INSTANTIATE_TEST_SUITE_P(
    All, KserveMalformed,
    ::testing::Values(
        BadCase{"not JSON", "{\"inputs\": [", std::nullopt, "malformed JSON"},
        BadCase{"empty body", "", std::nullopt, "malformed JSON"},
        BadCase{"not an object", "[1,2]", std::nullopt, "not a JSON object"},
        BadCase{"no inputs", "{}", std::nullopt, "no \"inputs\""},
        BadCase{"inputs not array", R"({"inputs":{}})", std::nullopt, "not an array"},
        BadCase{"input not object", R"({"inputs":[3]})", std::nullopt, "not an object"},
        BadCase{"no name", R"({"inputs":[{"datatype":"FP32","shape":[1],"data":[1]}]})",
                std::nullopt, "no \"name\""},
        BadCase{"no datatype", R"({"inputs":[{"name":"x","shape":[1],"data":[1]}]})", std::nullopt,
                "no \"datatype\""},
        BadCase{"unknown datatype",
                R"({"inputs":[{"name":"x","datatype":"FLOAT","shape":[1],"data":[1]}]})",
                std::nullopt, "unknown datatype \"FLOAT\""},
        BadCase{"unsupported datatype",
                R"({"inputs":[{"name":"x","datatype":"BYTES","shape":[1],"data":["a"]}]})",
                std::nullopt, "BYTES is not supported"},
        BadCase{"no shape", R"({"inputs":[{"name":"x","datatype":"FP32","data":[1]}]})",
                std::nullopt, "no \"shape\""},
        BadCase{"negative dim",
                R"({"inputs":[{"name":"x","datatype":"FP32","shape":[-1,2],"data":[1,2]}]})",
                std::nullopt, "dimension -1 is negative"},
        BadCase{"fractional dim",
                R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1.5],"data":[1]}]})",
                std::nullopt, "non-integer dimension"},
        BadCase{
            "element count overflow",
            R"({"inputs":[{"name":"x","datatype":"FP32","shape":[4294967296,4294967296,16],"data":[1]}]})",
            std::nullopt, "overflows"},
        BadCase{
            "byte size overflow",
            R"({"inputs":[{"name":"x","datatype":"INT64","shape":[2305843009213693952,4],"data":[1]}]})",
            std::nullopt, "overflows"},
        BadCase{
            "huge dim",
            R"({"inputs":[{"name":"x","datatype":"FP32","shape":[18446744073709551615],"data":[1]}]})",
            std::nullopt, "too large"},
        BadCase{"over tensor limit",
                R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1000000000],"data":[1]}]})",
                std::nullopt, "exceeds the limit"},
        BadCase{
            "rank limit",
            R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],"data":[1]}]})",
            std::nullopt, "rank 17"},
        BadCase{"too few data", "{\"inputs\":[" + kX + R"(,"data":[1,2,3]}]})", std::nullopt,
                "\"data\" has 3 elements but its shape needs 4"},
        BadCase{"too many data", "{\"inputs\":[" + kX + R"(,"data":[[1,2],[3,4],[5]]}]})",
                std::nullopt, "has 5 elements"},
        BadCase{"string element", "{\"inputs\":[" + kX + R"(,"data":[1,2,"3",4]}]})", std::nullopt,
                "element 2 (\"3\") is not a number"},
        BadCase{"float out of range", "{\"inputs\":[" + kX + R"(,"data":[1,2,1e39,4]}]})",
                std::nullopt, "out of range"},
        BadCase{"int8 out of range",
                R"({"inputs":[{"name":"x","datatype":"INT8","shape":[2],"data":[1,128]}]})",
                std::nullopt, "element 1 (128) out of range"},
        BadCase{"uint8 negative",
                R"({"inputs":[{"name":"x","datatype":"UINT8","shape":[1],"data":[-1]}]})",
                std::nullopt, "out of range"},
        BadCase{"int from float",
                R"({"inputs":[{"name":"x","datatype":"INT32","shape":[1],"data":[1.5]}]})",
                std::nullopt, "is not an integer"},
        BadCase{"bool from number",
                R"({"inputs":[{"name":"x","datatype":"BOOL","shape":[1],"data":[1]}]})",
                std::nullopt, "not true or false"},
        BadCase{"fp16 out of range",
                R"({"inputs":[{"name":"x","datatype":"FP16","shape":[1],"data":[70000]}]})",
                std::nullopt, "out of range"},
        BadCase{"no data", "{\"inputs\":[" + kX + "}]}", std::nullopt, "neither \"data\""},
        BadCase{"duplicate input",
                "{\"inputs\":[" + kX + R"(,"data":[1,2,3,4]},)" + kX + R"(,"data":[1,2,3,4]}]})",
                std::nullopt, "appears twice"},
        BadCase{
            "data and binary",
            "{\"inputs\":[" + kX + R"(,"data":[1,2,3,4],"parameters":{"binary_data_size":16}}]})",
            std::nullopt, "both"},
        Binary("binary size vs shape",
               "{\"inputs\":[" + kX + R"(,"parameters":{"binary_data_size":12}}]})", 12,
               "binary_data_size 12 but shape [2,2] of FP32 needs 16 bytes"),
        BadCase{"negative binary size",
                "{\"inputs\":[" + kX + R"(,"parameters":{"binary_data_size":-16}}]})", std::nullopt,
                "not a non-negative integer"},
        Binary("binary missing",
               "{\"inputs\":[" + kX + R"(,"parameters":{"binary_data_size":16}}]})", 10,
               "binary data is 10 bytes"),
        Binary("binary left over",
               "{\"inputs\":[" + kX + R"(,"parameters":{"binary_data_size":16}}]})", 20,
               "binary data is 20 bytes"),
        BadCase{"binary without header length",
                "{\"inputs\":[" + kX + R"(,"parameters":{"binary_data_size":16}}]})", std::nullopt,
                "binary data is 0 bytes"},
        BadCase{"header length beyond body", R"({"inputs":[]})", std::size_t{100}, "exceeds"},
        BadCase{"header length splits JSON", "{\"inputs\":[" + kX + R"(,"data":[1,2,3,4]}]})",
                std::size_t{20}, "malformed JSON"},
        BadCase{"deep nesting", std::string(100, '[') + std::string(100, ']'), std::nullopt,
                "nested deeper"},
        BadCase{"binary_data_output not bool",
                R"({"parameters":{"binary_data_output":1},"inputs":[]})", std::nullopt,
                "binary_data_output is not a bool"},
        BadCase{"parameter array", R"({"parameters":{"p":[1]},"inputs":[]})", std::nullopt,
                "parameter \"p\""},
        BadCase{"id not string", R"({"id":5,"inputs":[]})", std::nullopt, "\"id\" is not a string"},
        BadCase{"output without name", R"({"inputs":[],"outputs":[{}]})", std::nullopt,
                "no \"name\""},
        BadCase{"output binary_data not bool",
                R"({"inputs":[],"outputs":[{"name":"y","parameters":{"binary_data":"yes"}}]})",
                std::nullopt, "binary_data is not a bool"},
        BadCase{"output twice", R"({"inputs":[],"outputs":[{"name":"y"},{"name":"y"}]})",
                std::nullopt, "requested twice"}),
    [](const ::testing::TestParamInfo<BadCase>& info) {
      std::string s;
      for (const char* p = info.param.what; *p; ++p) s += std::isalnum(*p) ? *p : '_';
      return s;
    });

TEST(KserveCodec, HeaderLengthParsing) {
  EXPECT_FALSE(ParseHeaderLength("", 10).value().has_value());
  EXPECT_EQ(ParseHeaderLength("7", 10).value(), std::size_t{7});
  EXPECT_FALSE(ParseHeaderLength("11", 10));
  EXPECT_FALSE(ParseHeaderLength("-1", 10));
  EXPECT_FALSE(ParseHeaderLength("1x", 10));
  EXPECT_FALSE(ParseHeaderLength(" 1", 10));
  EXPECT_FALSE(ParseHeaderLength("99999999999999999999999", 10));
}

TEST(KserveCodec, TotalBytesLimit) {
  Limits limits;
  limits.max_total_bytes = 20;
  const std::string body = "{\"inputs\":[" + kX + R"(,"data":[1,2,3,4]},)" +
                           R"({"name":"y","datatype":"FP32","shape":[2],"data":[1,2]}]})";
  EXPECT_TRUE(DecodeInferRequest(body, std::nullopt));
  Expected<InferRequest> d = DecodeInferRequest(body, std::nullopt, limits);
  ASSERT_FALSE(d);
  EXPECT_NE(d.status().message().find("more than 20 bytes"), std::string::npos);
}

TEST(KserveCodec, EncoderRefusesDynamicShapesAndEmptyNames) {
  InferRequest r;
  r.inputs.push_back({"", MakeF32({2}, 0.0f)});
  EXPECT_FALSE(EncodeInferRequest(r, false));
}

TEST(KserveCodec, ErrorBodies) {
  EXPECT_EQ(DecodeError(EncodeError("bad \"thing\"\n")), "bad \"thing\"\n");
  EXPECT_EQ(DecodeError("plain text"), "plain text");
  Expected<InferResponse> r = DecodeInferResponse(EncodeError("queue full"), std::nullopt);
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("queue full"), std::string::npos);
  // Invalid UTF-8 in a message does not throw.
  EXPECT_FALSE(EncodeError(std::string("\xff\xfe", 2)).empty());
}

TEST(KserveCodec, MetadataRoundTrip) {
  ModelMetadata m{"mobilenet",
                  {"1", "2"},
                  "onnx",
                  {{"x", "FP32", {-1, 3, 224, 224}}},
                  {{"y", "FP32", {1, 1000}}}};
  Expected<ModelMetadata> d = DecodeModelMetadata(EncodeModelMetadata(m));
  ASSERT_TRUE(d) << d.status().ToString();
  EXPECT_EQ(d->name, m.name);
  EXPECT_EQ(d->versions, m.versions);
  EXPECT_EQ(d->platform, "onnx");
  ASSERT_EQ(d->inputs.size(), 1u);
  EXPECT_EQ(d->inputs[0].shape, m.inputs[0].shape);
  EXPECT_EQ(d->outputs[0].datatype, "FP32");
  ServerMetadata s{"deepedge", "0.1.0", {"binary_tensor_data"}};
  Expected<ServerMetadata> sd = DecodeServerMetadata(EncodeServerMetadata(s));
  ASSERT_TRUE(sd);
  EXPECT_EQ(sd->extensions, s.extensions);
  EXPECT_FALSE(DecodeModelMetadata("{\"versions\":[]}"));
  EXPECT_FALSE(DecodeModelMetadata("{\"name\":\"m\",\"inputs\":[{\"name\":1}]}"));
}

}  // namespace
}  // namespace deepedge::kserve
