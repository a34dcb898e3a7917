// The KServe v2 gRPC codec (src/serve/grpc_codec.h): proto <-> tensors in both
// directions, raw and typed contents, and every refusal of a malformed message.
#include "serve/grpc_codec.h"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <limits>

namespace deepedge::kserve {
namespace {

Tensor Make(DType t, Shape s) {
  Tensor x = Tensor::Allocate(t, std::move(s)).value();
  auto b = x.bytes();
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::byte>((i * 37 + 11) % 251);
  return x;
}

bool SameBytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && a.byte_size() == b.byte_size() &&
         std::memcmp(a.data(), b.data(), a.byte_size()) == 0;
}

// A request with one FP32 [2,3] input "x", raw.
inference::ModelInferRequest RawRequest() {
  InferRequest r;
  r.id = "id7";
  r.inputs.push_back({"x", Make(DType::kF32, Shape{2, 3})});
  inference::ModelInferRequest p;
  EXPECT_TRUE(RequestToProto(r, "m", "", true, p).ok());
  return p;
}

TEST(GrpcCodec, RawRequestRoundTripsEveryDatatype) {
  for (DType t : kAllDTypes) {
    InferRequest r;
    r.id = "abc";
    r.parameters["flag"] = true;
    r.parameters["n"] = std::int64_t{-5};
    r.parameters["s"] = std::string("text");
    r.parameters["d"] = 0.25;
    Tensor x = Make(t, Shape{3, 2});
    if (t == DType::kBool) {
      for (auto& v : x.as<std::uint8_t>()) v &= 1;
    }
    r.inputs.push_back({"in0", x.Clone()});
    r.outputs.push_back({"out", false});
    inference::ModelInferRequest p;
    ASSERT_TRUE(RequestToProto(r, "model", "3", true, p).ok()) << DTypeName(t);
    EXPECT_EQ(p.model_name(), "model");
    EXPECT_EQ(p.model_version(), "3");
    ASSERT_EQ(p.raw_input_contents_size(), 1);
    EXPECT_EQ(p.inputs(0).datatype(), DatatypeName(t));

    // Through the wire format, as gRPC would carry it.
    inference::ModelInferRequest wire;
    ASSERT_TRUE(wire.ParseFromString(p.SerializeAsString()));
    Expected<InferRequest> back = RequestFromProto(wire);
    ASSERT_TRUE(back) << DTypeName(t) << ": " << back.status().ToString();
    EXPECT_EQ(back->id, "abc");
    EXPECT_EQ(back->parameters, r.parameters);
    ASSERT_EQ(back->inputs.size(), 1u);
    EXPECT_EQ(back->inputs[0].name, "in0");
    EXPECT_TRUE(SameBytes(back->inputs[0].tensor, x)) << DTypeName(t);
    ASSERT_EQ(back->outputs.size(), 1u);
    EXPECT_EQ(back->outputs[0].name, "out");
  }
}

TEST(GrpcCodec, TypedRequestRoundTripsEveryDatatypeThatHasATypedForm) {
  for (DType t : kAllDTypes) {
    InferRequest r;
    Tensor x = Make(t, Shape{4});
    if (t == DType::kBool) {
      for (auto& v : x.as<std::uint8_t>()) v &= 1;
    }
    r.inputs.push_back({"x", x.Clone()});
    inference::ModelInferRequest p;
    Status s = RequestToProto(r, "m", "", false, p);
    if (t == DType::kF16 || t == DType::kBF16) {
      EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << DTypeName(t);
      EXPECT_NE(s.message().find("raw"), std::string::npos);
      continue;
    }
    ASSERT_TRUE(s.ok()) << DTypeName(t) << ": " << s.ToString();
    EXPECT_EQ(p.raw_input_contents_size(), 0);
    Expected<InferRequest> back = RequestFromProto(p);
    ASSERT_TRUE(back) << DTypeName(t) << ": " << back.status().ToString();
    EXPECT_TRUE(SameBytes(back->inputs[0].tensor, x)) << DTypeName(t);
  }
}

TEST(GrpcCodec, TypedFp32ValuesAreTakenAsGiven) {
  inference::ModelInferRequest p;
  auto* in = p.add_inputs();
  in->set_name("x");
  in->set_datatype("FP32");
  in->add_shape(1);
  in->add_shape(3);
  for (float v : {1.5f, -2.0f, 1e-3f}) in->mutable_contents()->add_fp32_contents(v);
  Expected<InferRequest> r = RequestFromProto(p);
  ASSERT_TRUE(r) << r.status().ToString();
  const auto v = r->inputs[0].tensor.as<float>();
  EXPECT_EQ(v[0], 1.5f);
  EXPECT_EQ(v[1], -2.0f);
  EXPECT_EQ(v[2], 1e-3f);
}

TEST(GrpcCodec, ResponseRoundTripsAsRaw) {
  InferResponse r;
  r.model_name = "m";
  r.model_version = "2";
  r.id = "q";
  r.parameters["compute_time_us"] = std::int64_t{42};
  Tensor y = Make(DType::kF32, Shape{1, 10});
  Tensor z = Make(DType::kI64, Shape{2});
  r.outputs.push_back({"y", y.Clone()});
  r.outputs.push_back({"z", z.Clone()});
  inference::ModelInferResponse p;
  ASSERT_TRUE(ResponseToProto(r, p).ok());
  EXPECT_EQ(p.raw_output_contents_size(), 2);
  Expected<InferResponse> back = ResponseFromProto(p);
  ASSERT_TRUE(back) << back.status().ToString();
  EXPECT_EQ(back->model_name, "m");
  EXPECT_EQ(back->model_version, "2");
  EXPECT_EQ(back->id, "q");
  EXPECT_EQ(std::get<std::int64_t>(back->parameters.at("compute_time_us")), 42);
  ASSERT_EQ(back->outputs.size(), 2u);
  EXPECT_TRUE(SameBytes(back->outputs[0].tensor, y));
  EXPECT_TRUE(SameBytes(back->outputs[1].tensor, z));
}

TEST(GrpcCodec, ResponseWithTypedContentsDecodes) {
  inference::ModelInferResponse p;
  auto* out = p.add_outputs();
  out->set_name("y");
  out->set_datatype("INT32");
  out->add_shape(2);
  out->mutable_contents()->add_int_contents(-7);
  out->mutable_contents()->add_int_contents(9);
  Expected<InferResponse> r = ResponseFromProto(p);
  ASSERT_TRUE(r) << r.status().ToString();
  EXPECT_EQ(r->outputs[0].tensor.as<std::int32_t>()[0], -7);
  EXPECT_EQ(r->outputs[0].tensor.as<std::int32_t>()[1], 9);
}

TEST(GrpcCodec, EmptyTensorIsAccepted) {
  inference::ModelInferRequest p;
  auto* in = p.add_inputs();
  in->set_name("x");
  in->set_datatype("FP32");
  in->add_shape(0);
  in->add_shape(4);
  Expected<InferRequest> r = RequestFromProto(p);
  ASSERT_TRUE(r) << r.status().ToString();
  EXPECT_EQ(r->inputs[0].tensor.element_count(), 0);
}

// Each malformed request is refused with one error naming the problem.
TEST(GrpcCodec, MalformedRequestsAreRefusedWithAClearError) {
  struct Case {
    const char* what;
    std::function<void(inference::ModelInferRequest&)> mutate;
    StatusCode code;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"raw too short", [](auto& p) { p.mutable_raw_input_contents(0)->resize(23); },
       StatusCode::kInvalidArgument, "raw contents of 23 bytes"},
      {"raw too long", [](auto& p) { p.mutable_raw_input_contents(0)->append("x"); },
       StatusCode::kInvalidArgument, "needs 24 bytes"},
      {"raw count", [](auto& p) { p.add_raw_input_contents("abcd"); }, StatusCode::kInvalidArgument,
       "2 raw_input_contents"},
      {"raw and typed",
       [](auto& p) { p.mutable_inputs(0)->mutable_contents()->add_fp32_contents(1); },
       StatusCode::kInvalidArgument, "both typed contents and raw"},
      {"unknown datatype", [](auto& p) { p.mutable_inputs(0)->set_datatype("FLOAT"); },
       StatusCode::kInvalidArgument, "unknown datatype \"FLOAT\""},
      {"unsupported datatype", [](auto& p) { p.mutable_inputs(0)->set_datatype("FP64"); },
       StatusCode::kUnsupported, "FP64"},
      {"negative dim", [](auto& p) { p.mutable_inputs(0)->set_shape(0, -1); },
       StatusCode::kInvalidArgument, "negative"},
      {"overflow",
       [](auto& p) {
         p.mutable_inputs(0)->set_shape(0, std::numeric_limits<std::int64_t>::max());
         p.mutable_inputs(0)->set_shape(1, 4);
       },
       StatusCode::kInvalidArgument, "overflows"},
      {"rank",
       [](auto& p) {
         for (int i = 0; i < 20; ++i) p.mutable_inputs(0)->add_shape(1);
       },
       StatusCode::kInvalidArgument, "rank 22 exceeds 16"},
      {"empty name", [](auto& p) { p.mutable_inputs(0)->set_name(""); },
       StatusCode::kInvalidArgument, "empty name"},
      {"duplicate input",
       [](auto& p) {
         *p.add_inputs() = p.inputs(0);
         p.add_raw_input_contents(p.raw_input_contents(0));
       },
       StatusCode::kInvalidArgument, "appears twice"},
      {"duplicate output",
       [](auto& p) {
         p.add_outputs()->set_name("y");
         p.add_outputs()->set_name("y");
       },
       StatusCode::kInvalidArgument, "requested twice"},
      {"no inputs",
       [](auto& p) {
         p.clear_inputs();
         p.clear_raw_input_contents();
       },
       StatusCode::kInvalidArgument, "no inputs"},
      {"parameter without value", [](auto& p) { (*p.mutable_parameters())["k"]; },
       StatusCode::kInvalidArgument, "parameter \"k\" has no value"},
      {"uint64 parameter out of range",
       [](auto& p) {
         (*p.mutable_parameters())["k"].set_uint64_param(std::numeric_limits<std::uint64_t>::max());
       },
       StatusCode::kInvalidArgument, "out of range"},
  };
  for (const Case& c : cases) {
    inference::ModelInferRequest p = RawRequest();
    c.mutate(p);
    Expected<InferRequest> r = RequestFromProto(p);
    ASSERT_FALSE(r) << c.what;
    EXPECT_EQ(r.status().code(), c.code) << c.what << ": " << r.status().ToString();
    EXPECT_NE(r.status().message().find(c.message), std::string::npos)
        << c.what << ": " << r.status().message();
  }
}

TEST(GrpcCodec, MalformedTypedContentsAreRefused) {
  auto typed = [](const char* datatype, std::int64_t n) {
    inference::ModelInferRequest p;
    auto* in = p.add_inputs();
    in->set_name("x");
    in->set_datatype(datatype);
    in->add_shape(n);
    return p;
  };
  {  // too few elements
    auto p = typed("FP32", 3);
    p.mutable_inputs(0)->mutable_contents()->add_fp32_contents(1);
    Expected<InferRequest> r = RequestFromProto(p);
    ASSERT_FALSE(r);
    EXPECT_NE(r.status().message().find("fp32_contents has 1 elements"), std::string::npos)
        << r.status().message();
  }
  {  // the wrong field for the datatype
    auto p = typed("FP32", 1);
    p.mutable_inputs(0)->mutable_contents()->add_int_contents(1);
    Expected<InferRequest> r = RequestFromProto(p);
    ASSERT_FALSE(r);
    EXPECT_NE(r.status().message().find("takes its elements in fp32_contents"), std::string::npos)
        << r.status().message();
  }
  {  // a value out of range
    auto p = typed("INT8", 2);
    p.mutable_inputs(0)->mutable_contents()->add_int_contents(5);
    p.mutable_inputs(0)->mutable_contents()->add_int_contents(300);
    Expected<InferRequest> r = RequestFromProto(p);
    ASSERT_FALSE(r);
    EXPECT_NE(r.status().message().find("element 1 = 300 is out of range"), std::string::npos)
        << r.status().message();
  }
  {  // FP16 has no typed form
    auto p = typed("FP16", 1);
    Expected<InferRequest> r = RequestFromProto(p);
    ASSERT_FALSE(r);
    EXPECT_NE(r.status().message().find("send it in raw contents"), std::string::npos);
  }
  {  // a raw BOOL byte that is not 0 or 1
    auto p = typed("BOOL", 2);
    p.add_raw_input_contents(std::string("\x01\x02", 2));
    Expected<InferRequest> r = RequestFromProto(p);
    ASSERT_FALSE(r);
    EXPECT_NE(r.status().message().find("neither 0 nor 1"), std::string::npos);
  }
}

TEST(GrpcCodec, LimitsAreEnforcedBeforeAllocation) {
  Limits limits;
  limits.max_tensor_bytes = 16;
  Expected<InferRequest> r = RequestFromProto(RawRequest(), limits);  // 24 bytes
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("exceeds the limit of 16"), std::string::npos);
  limits = {};
  limits.max_total_bytes = 40;
  inference::ModelInferRequest p = RawRequest();
  auto* second = p.add_inputs();
  *second = p.inputs(0);
  second->set_name("x2");
  p.add_raw_input_contents(p.raw_input_contents(0));
  r = RequestFromProto(p, limits);
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("exceed the limit of 40"), std::string::npos);
}

TEST(GrpcCodec, MalformedResponsesAreRefused) {
  InferResponse r;
  r.outputs.push_back({"y", Make(DType::kF32, Shape{4})});
  inference::ModelInferResponse p;
  ASSERT_TRUE(ResponseToProto(r, p).ok());
  p.mutable_raw_output_contents(0)->pop_back();
  Expected<InferResponse> back = ResponseFromProto(p);
  ASSERT_FALSE(back);
  EXPECT_NE(back.status().message().find("needs 16 bytes"), std::string::npos);
  p.add_raw_output_contents("x");
  back = ResponseFromProto(p);
  ASSERT_FALSE(back);
  EXPECT_NE(back.status().message().find("2 raw_output_contents"), std::string::npos);
}

TEST(GrpcCodec, UnnamedTensorsCannotBeEncoded) {
  InferRequest r;
  r.inputs.push_back({"", Make(DType::kF32, Shape{1})});
  inference::ModelInferRequest p;
  Status s = RequestToProto(r, "m", "", true, p);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("empty name"), std::string::npos);
}

}  // namespace
}  // namespace deepedge::kserve
