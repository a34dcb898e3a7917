// `deepedge serve --grpc`, the real binary, on loopback with a zoo model: every RPC of
// inference.GRPCInferenceService through the project's client (KServeGrpcClient), the
// answer against the REST answer of the same server, the error codes, the server still
// serving after them, /metrics, and SIGTERM under gRPC load.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <future>
#include <thread>

#include "deepedge/file_util.h"
#include "deepedge/kserve.h"
#include "deepedge/kserve_grpc_client.h"
#include "deepedge/npy.h"
#include "grpc_inference.grpc.pb.h"
#include "support/cli_runner.h"
#include "support/raw_http.h"
#include "support/serve_process.h"
#include "support/temp_dir.h"

namespace deepedge {
namespace {

using testing::Http;
using testing::HttpReply;

using testing::ServeProcess;

class ServeGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string model = (dir_ / "repo/mobilenet/1/model.onnx").string();
    std::filesystem::create_directories(dir_ / "repo/mobilenet/1");
    testing::CliResult r = testing::RunCli(DEEPEDGE_BINARY, dir_.path(),
                                           "zoo export mobilenet_v1_0.25_224 -o " + model);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    input_ = Tensor::Allocate(DType::kF32, Shape{1, 3, 224, 224}).value();
    auto v = input_.as<float>();
    for (std::size_t i = 0; i < v.size(); ++i) {
      v[i] = static_cast<float>((i * 7919) % 1000) / 500.0f - 1.0f;
    }
  }

  std::unique_ptr<ServeProcess> Serve(std::vector<std::string> extra = {}) {
    extra.insert(extra.begin(), {"--models", (dir_ / "repo").string()});
    auto p = std::make_unique<ServeProcess>(DEEPEDGE_BINARY, dir_.path(), extra, true);
    EXPECT_GT(p->http_port(), 0) << p->stdout_text() << p->err();
    EXPECT_GT(p->grpc_port(), 0) << p->stdout_text() << p->err();
    return p;
  }

  std::unique_ptr<KServeGrpcClient> Client(const ServeProcess& p) {
    Expected<std::unique_ptr<KServeGrpcClient>> c = KServeGrpcClient::Connect(p.target());
    EXPECT_TRUE(c) << c.status().ToString();
    return c ? std::move(*c) : nullptr;
  }

  kserve::InferRequest Request(const std::string& input_name) const {
    kserve::InferRequest req;
    req.id = "g1";
    req.inputs.push_back({input_name, input_.Clone()});
    return req;
  }

  testing::TempDir dir_;
  Tensor input_;
};

TEST_F(ServeGrpcTest, HealthMetadataAndInferenceEqualTheRestAnswer) {
  auto server = Serve();
  auto client = Client(*server);
  ASSERT_TRUE(client);
  EXPECT_EQ(client->ServerLive().value(), true);
  EXPECT_EQ(client->ServerReady().value(), true);
  EXPECT_EQ(client->ModelReady("mobilenet").value(), true);
  EXPECT_EQ(client->ModelReady("mobilenet", "1").value(), true);

  Expected<kserve::ServerMetadata> sm = client->ServerMetadata();
  ASSERT_TRUE(sm) << sm.status().ToString();
  EXPECT_EQ(sm->name, "deepedge");
  EXPECT_FALSE(sm->version.empty());
  Expected<kserve::ModelMetadata> m = client->ModelMetadata("mobilenet");
  ASSERT_TRUE(m) << m.status().ToString();
  EXPECT_EQ(m->name, "mobilenet");
  EXPECT_EQ(m->platform, "onnx");
  EXPECT_EQ(m->versions, std::vector<std::string>{"1"});
  ASSERT_EQ(m->inputs.size(), 1u);
  EXPECT_EQ(m->inputs[0].datatype, "FP32");
  EXPECT_EQ(m->inputs[0].shape, (std::vector<std::int64_t>{-1, 3, 224, 224}));
  ASSERT_EQ(m->outputs.size(), 1u);
  const std::string name = m->inputs[0].name;

  // gRPC raw, gRPC typed contents, REST binary: the same server, input and output.
  Expected<kserve::InferResponse> raw = client->Infer("mobilenet", Request(name));
  ASSERT_TRUE(raw) << raw.status().ToString();
  EXPECT_EQ(raw->id, "g1");
  EXPECT_EQ(raw->model_name, "mobilenet");
  EXPECT_EQ(raw->model_version, "1");
  ASSERT_TRUE(raw->parameters.count("compute_time_us"));
  ASSERT_EQ(raw->outputs.size(), 1u);
  EXPECT_EQ(raw->outputs[0].name, m->outputs[0].name);
  Expected<kserve::InferResponse> typed =
      client->Infer("mobilenet", Request(name), "", /*raw=*/false);
  ASSERT_TRUE(typed) << typed.status().ToString();

  kserve::InferRequest rest_req = Request(name);
  rest_req.parameters["binary_data_output"] = true;
  kserve::EncodedBody body = kserve::EncodeInferRequest(rest_req, true).value();
  HttpReply rest = Http(server->http_port(), "POST", "/v2/models/mobilenet/infer", body.body,
                        "Inference-Header-Content-Length: " + std::to_string(body.json_size) +
                            "\r\nContent-Type: application/octet-stream\r\n");
  ASSERT_EQ(rest.status, 200) << rest.body.substr(0, 300);
  Expected<kserve::InferResponse> r = kserve::DecodeInferResponse(
      rest.body, std::stoul(rest.header("inference-header-content-length")));
  ASSERT_TRUE(r) << r.status().ToString();

  const Tensor& g = raw->outputs[0].tensor;
  const Tensor& t = typed->outputs[0].tensor;
  const Tensor& h = r->outputs[0].tensor;
  ASSERT_EQ(g.shape(), h.shape());
  ASSERT_EQ(t.shape(), h.shape());
  // The model's output signature, batch 1.
  ASSERT_EQ(g.shape().rank(), m->outputs[0].shape.size());
  for (std::size_t d = 1; d < g.shape().rank(); ++d)
    EXPECT_EQ(g.shape()[d], m->outputs[0].shape[d]);
  EXPECT_EQ(g.shape()[0], 1);
  double max_diff = 0;
  for (std::size_t i = 0; i < h.as<float>().size(); ++i) {
    max_diff =
        std::max(max_diff, static_cast<double>(std::fabs(g.as<float>()[i] - h.as<float>()[i])));
    max_diff =
        std::max(max_diff, static_cast<double>(std::fabs(t.as<float>()[i] - h.as<float>()[i])));
  }
  EXPECT_LE(max_diff, 1e-6) << "gRPC and REST answers differ";
  EXPECT_EQ(server->Signal(SIGTERM), 0) << server->err();
}

TEST_F(ServeGrpcTest, ErrorsGetTheirCodeAndTheServerKeepsServing) {
  auto server = Serve({"--max-request-mib", "1"});
  auto client = Client(*server);
  ASSERT_TRUE(client);
  Expected<kserve::ModelMetadata> m = client->ModelMetadata("mobilenet");
  ASSERT_TRUE(m) << m.status().ToString();
  const std::string name = m->inputs[0].name;

  Expected<kserve::InferResponse> unknown = client->Infer("resnet", Request(name));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  EXPECT_NE(unknown.status().message().find("NOT_FOUND: unknown model \"resnet\""),
            std::string::npos)
      << unknown.status().message();
  EXPECT_FALSE(client->ModelReady("resnet"));

  kserve::InferRequest shape;
  shape.inputs.push_back({name, Tensor::Allocate(DType::kF32, Shape{1, 3}).value()});
  Expected<kserve::InferResponse> bad_shape = client->Infer("mobilenet", shape);
  ASSERT_FALSE(bad_shape);
  EXPECT_EQ(bad_shape.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_shape.status().message().find("model expects ?x3x224x224"), std::string::npos)
      << bad_shape.status().message();

  kserve::InferRequest dtype;
  dtype.inputs.push_back({name, Tensor::Allocate(DType::kI32, Shape{1, 3, 224, 224}).value()});
  Expected<kserve::InferResponse> bad_dtype = client->Infer("mobilenet", dtype);
  ASSERT_FALSE(bad_dtype);
  EXPECT_EQ(bad_dtype.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_dtype.status().message().find("datatype INT32, model expects FP32"),
            std::string::npos)
      << bad_dtype.status().message();

  // Raw contents one float short, through the generated stub (the client would not).
  auto stub = inference::GRPCInferenceService::NewStub(
      grpc::CreateChannel(server->target(), grpc::InsecureChannelCredentials()));
  inference::ModelInferRequest p;
  p.set_model_name("mobilenet");
  auto* in = p.add_inputs();
  in->set_name(name);
  in->set_datatype("FP32");
  for (std::int64_t d : {1, 3, 224, 224}) in->add_shape(d);
  p.add_raw_input_contents(std::string(input_.byte_size() - 4, '\0'));
  {
    grpc::ClientContext ctx;
    inference::ModelInferResponse res;
    grpc::Status s = stub->ModelInfer(&ctx, p, &res);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("needs 602112 bytes"), std::string::npos) << s.error_message();
  }

  // Batch 2 is 1.15 MiB: over --max-request-mib 1.
  kserve::InferRequest big;
  big.inputs.push_back({name, Tensor::Allocate(DType::kF32, Shape{2, 3, 224, 224}).value()});
  Expected<kserve::InferResponse> too_big = client->Infer("mobilenet", big);
  ASSERT_FALSE(too_big);
  EXPECT_NE(too_big.status().message().find("RESOURCE_EXHAUSTED"), std::string::npos)
      << too_big.status().message();

  // Still serving, over both protocols.
  Expected<kserve::InferResponse> ok = client->Infer("mobilenet", Request(name));
  EXPECT_TRUE(ok) << ok.status().ToString();
  EXPECT_EQ(Http(server->http_port(), "GET", "/v2/health/ready").status, 200);
  const std::string metrics = Http(server->http_port(), "GET", "/metrics").body;
  EXPECT_NE(metrics.find(R"(deepedge_grpc_requests_total{model="mobilenet",code="OK"} 1)"),
            std::string::npos)
      << metrics;
  EXPECT_NE(
      metrics.find(R"(deepedge_grpc_requests_total{model="mobilenet",code="INVALID_ARGUMENT"} 3)"),
      std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(R"(deepedge_grpc_requests_total{model="_unknown",code="NOT_FOUND"} 1)"),
            std::string::npos)
      << metrics;
  EXPECT_EQ(server->Signal(SIGTERM), 0) << server->err();
}

TEST_F(ServeGrpcTest, SigtermUnderGrpcLoadFinishesCleanly) {
  auto server = Serve({"--workers", "2"});
  auto client = Client(*server);
  ASSERT_TRUE(client);
  Expected<kserve::ModelMetadata> m = client->ModelMetadata("mobilenet");
  ASSERT_TRUE(m) << m.status().ToString();
  const kserve::InferRequest req = Request(m->inputs[0].name);
  std::atomic<bool> stop{false};
  std::atomic<int> answered{0};
  std::vector<std::future<int>> clients;
  for (int c = 0; c < 4; ++c) {
    clients.push_back(std::async(std::launch::async, [&] {
      int ok = 0;
      while (!stop.load()) {
        Expected<kserve::InferResponse> r = client->Infer("mobilenet", req);
        if (r) {
          ++ok;
          ++answered;
          EXPECT_EQ(r->outputs.size(), 1u);
        } else {
          // Refused while draining or the listener closed: never half-served.
          EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
          if (!stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
      }
      return ok;
    }));
  }
  for (int i = 0; i < 3000 && answered.load() < 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(server->Signal(SIGTERM), 0) << server->err();
  stop = true;
  int ok = 0;
  for (auto& c : clients) ok += c.get();
  EXPECT_GT(ok, 0);
  EXPECT_NE(server->stdout_text().find("stopped"), std::string::npos) << server->stdout_text();
}

// The `remote` backend with server=grpc://: `deepedge infer` through the server gives
// what `deepedge infer` gives in process.
TEST_F(ServeGrpcTest, RemoteBackendOverGrpcEqualsLocalInference) {
  ASSERT_TRUE(WriteFileAtomic(dir_ / "input.npy", EncodeNpy(input_)).ok());
  const std::string model = (dir_ / "repo/mobilenet/1/model.onnx").string();
  const std::string input = " --input " + (dir_ / "input.npy").string();
  testing::CliResult local = testing::RunCli(
      DEEPEDGE_BINARY, dir_.path(), "infer " + model + input + " -o " + (dir_ / "local").string());
  ASSERT_EQ(local.exit_code, 0) << local.err;
  auto server = Serve();
  testing::CliResult remote =
      testing::RunCli(DEEPEDGE_BINARY, dir_.path(),
                      "infer " + model + " -b remote -O server=grpc://" + server->target() +
                          " -O model=mobilenet" + input + " -o " + (dir_ / "remote").string());
  ASSERT_EQ(remote.exit_code, 0) << remote.err;
  int compared = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir_ / "local")) {
    Expected<Tensor> want = ReadNpy(f.path());
    Expected<Tensor> got = ReadNpy(dir_ / "remote" / f.path().filename());
    ASSERT_TRUE(want) << want.status().ToString();
    ASSERT_TRUE(got) << got.status().ToString();
    ASSERT_EQ(want->shape(), got->shape());
    double max_diff = 0;
    for (std::size_t i = 0; i < want->as<float>().size(); ++i) {
      max_diff = std::max(
          max_diff, static_cast<double>(std::fabs(want->as<float>()[i] - got->as<float>()[i])));
    }
    EXPECT_LE(max_diff, 1e-5) << f.path().filename();
    ++compared;
  }
  EXPECT_EQ(compared, 1);
  // An unknown model on the server is a clear error, not a crash.
  testing::CliResult unknown =
      testing::RunCli(DEEPEDGE_BINARY, dir_.path(),
                      "infer " + model + " -b remote -O server=grpc://" + server->target() +
                          " -O model=nope" + input + " -o " + (dir_ / "nope").string());
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.err.find("NOT_FOUND: unknown model \"nope\""), std::string::npos)
      << unknown.err;
  EXPECT_EQ(server->Signal(SIGTERM), 0) << server->err();
}

TEST_F(ServeGrpcTest, BadGrpcOptionsAreRefused) {
  testing::CliResult r = testing::RunCli(
      DEEPEDGE_BINARY, dir_.path(),
      "serve --http 127.0.0.1:0 --models " + (dir_ / "repo").string() + " --grpc localhost");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--grpc localhost: expected ADDRESS:PORT"), std::string::npos) << r.err;
  // A port already taken by another server.
  auto server = Serve();
  r = testing::RunCli(DEEPEDGE_BINARY, dir_.path(),
                      "serve --http 127.0.0.1:0 --models " + (dir_ / "repo").string() + " --grpc " +
                          server->target());
  EXPECT_NE(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("deepedge: error: cannot bind gRPC to " + server->target()),
            std::string::npos)
      << r.err;
  EXPECT_EQ(server->Signal(SIGTERM), 0) << server->err();
}

}  // namespace
}  // namespace deepedge
