// libFuzzer target for the KServe v2 gRPC codec (src/serve/grpc_codec.h).
// Input: a serialized inference.ModelInferRequest; bytes that do not parse are
// rejected (kept out of the corpus). A parsed request goes through RequestFromProto
// with the gRPC server's default limits, as the server's ModelInfer does. Whatever
// decodes must survive both encoders: as a client request (raw, and typed where the
// datatypes have a typed form) and as a server response (ResponseToProto), each
// serialized, parsed and decoded again to the same tensors, id, parameters and names.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <variant>
#include <vector>

#include "deepedge/grpc_server.h"
#include "deepedge/kserve.h"
#include "fuzz_check.h"
#include "serve/grpc_codec.h"

namespace {

using namespace deepedge;

using fuzz::Check;
using fuzz::CheckSame;

// Doubles by their bits: a NaN parameter must survive too, and NaN != NaN.
void CheckSame(const kserve::Parameters& a, const kserve::Parameters& b) {
  Check(a.size() == b.size());
  for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib) {
    Check(ia->first == ib->first);
    Check(ia->second.index() == ib->second.index());
    if (const double* da = std::get_if<double>(&ia->second)) {
      Check(std::memcmp(da, &std::get<double>(ib->second), sizeof(double)) == 0);
    } else {
      Check(ia->second == ib->second);
    }
  }
}

// A message through the wire and back, as gRPC would carry it.
template <typename Message>
Message Reparse(const Message& m) {
  std::string wire;
  Check(m.SerializeToString(&wire));
  Message back;
  Check(back.ParseFromString(wire));
  return back;
}

void CheckRequestRoundTrip(const kserve::InferRequest& req, bool raw,
                           const kserve::Limits& limits) {
  inference::ModelInferRequest proto;
  const Status s = kserve::RequestToProto(req, "m", "", raw, proto);
  if (!s.ok()) {
    // Only FP16 / BF16 lack a typed form; every decoded request encodes raw.
    Check(!raw && s.code() == StatusCode::kInvalidArgument);
    return;
  }
  Expected<kserve::InferRequest> back = kserve::RequestFromProto(Reparse(proto), limits);
  Check(back.has_value());
  CheckSame(req.inputs, back->inputs);
  Check(req.id == back->id);
  CheckSame(req.parameters, back->parameters);
  Check(req.outputs.size() == back->outputs.size());
  for (std::size_t i = 0; i < req.outputs.size(); ++i) {
    Check(req.outputs[i].name == back->outputs[i].name);
  }
}

void CheckResponseRoundTrip(const kserve::InferRequest& req, const kserve::Limits& limits) {
  // An echo model's response: the inputs as outputs.
  kserve::InferResponse res;
  res.model_name = "echo";
  res.id = req.id;
  res.parameters = req.parameters;
  for (const kserve::NamedTensor& in : req.inputs) {
    res.outputs.push_back({in.name, in.tensor.Clone(), true});
  }
  inference::ModelInferResponse proto;
  Check(kserve::ResponseToProto(res, proto).ok());
  Expected<kserve::InferResponse> back = kserve::ResponseFromProto(Reparse(proto), limits);
  Check(back.has_value());
  CheckSame(res.outputs, back->outputs);
  Check(res.id == back->id);
  CheckSame(res.parameters, back->parameters);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  // libprotobuf logs every string field of invalid UTF-8 it refuses; the fuzzer makes
  // thousands. Refusing them is expected, the log is noise.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The server's limits: what `deepedge serve --grpc` decodes with by default.
  static const kserve::Limits limits = GrpcServerOptions{}.limits;
  inference::ModelInferRequest proto;
  if (size > static_cast<std::size_t>(INT32_MAX) ||
      !proto.ParseFromArray(data, static_cast<int>(size))) {
    return -1;
  }
  Expected<kserve::InferRequest> req = kserve::RequestFromProto(proto, limits);
  if (!req) {
    Check(!req.status().ok() && !req.status().message().empty());
    return 0;
  }
  Check(req->inputs.size() == static_cast<std::size_t>(proto.inputs_size()));
  for (std::size_t i = 0; i < req->inputs.size(); ++i) {
    const Tensor& t = req->inputs[i].tensor;
    Check(req->inputs[i].name == proto.inputs(static_cast<int>(i)).name());
    Check(t.shape().is_static());
    Check(t.byte_size() ==
          static_cast<std::size_t>(t.shape().element_count()) * DTypeSize(t.dtype()));
    if (t.dtype() == DType::kBool) {
      for (std::uint8_t v : t.as<std::uint8_t>()) Check(v <= 1);
    }
  }
  CheckRequestRoundTrip(*req, /*raw=*/true, limits);
  CheckRequestRoundTrip(*req, /*raw=*/false, limits);
  CheckResponseRoundTrip(*req, limits);
  return 0;
}
