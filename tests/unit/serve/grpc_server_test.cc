// GrpcInferenceServer in-process, through KServeGrpcClient and the raw generated stub,
// with a fake session whose Run can be held at a gate: every RPC, the status code of
// each failure (queue full, timeout, unknown model, bad input, oversized message),
// the metrics, and a graceful stop with a request in flight.
#include "deepedge/grpc_server.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "deepedge/kserve_grpc_client.h"
#include "grpc_inference.grpc.pb.h"
#include "support/temp_dir.h"

namespace deepedge {
namespace {

struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = true;
  int running = 0;

  void Close() {
    std::lock_guard<std::mutex> l(mu);
    open = false;
  }
  void Open() {
    {
      std::lock_guard<std::mutex> l(mu);
      open = true;
    }
    cv.notify_all();
  }
  bool WaitRunning(int n) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, std::chrono::seconds(20), [&] { return running == n; });
  }
};

// y = 2x + 1 on FP32 [1,4].
class FakeSession : public Session {
 public:
  explicit FakeSession(Gate* gate) : gate_(gate) {
    inputs_.push_back({"x", DType::kF32, Shape{1, 4}});
    outputs_.push_back({"y", DType::kF32, Shape{1, 4}});
  }
  const std::vector<TensorInfo>& Inputs() const override { return inputs_; }
  const std::vector<TensorInfo>& Outputs() const override { return outputs_; }
  Status Run(std::span<const Tensor> in, std::vector<Tensor>& out) override {
    {
      std::unique_lock<std::mutex> l(gate_->mu);
      ++gate_->running;
      gate_->cv.notify_all();
      gate_->cv.wait(l, [&] { return gate_->open; });
      --gate_->running;
    }
    out.clear();
    out.push_back(Tensor::Allocate(DType::kF32, Shape{1, 4}).value());
    for (int i = 0; i < 4; ++i) out[0].as<float>()[i] = 2.0f * in[0].as<float>()[i] + 1.0f;
    return Status::Ok();
  }

 private:
  Gate* gate_;
  std::vector<TensorInfo> inputs_, outputs_;
};

kserve::InferRequest Request(float base = 0.0f) {
  kserve::InferRequest r;
  r.id = "r1";
  Tensor x = Tensor::Allocate(DType::kF32, Shape{1, 4}).value();
  for (int i = 0; i < 4; ++i) x.as<float>()[i] = base + static_cast<float>(i);
  r.inputs.push_back({"x", std::move(x)});
  return r;
}

class GrpcServerTest : public ::testing::Test {
 protected:
  void Start(ServerOptions o = {}, GrpcServerOptions g = {}) {
    dir_.Write("fake/1/model.onnx", "x");
    dir_.Write("fake/2/model.onnx", "x");
    o.port = 0;
    o.warm_up = false;
    Expected<ModelRepository> repo = ModelRepository::Scan(dir_.path());
    ASSERT_TRUE(repo) << repo.status().ToString();
    Expected<std::unique_ptr<InferenceServer>> s = InferenceServer::Create(
        std::move(*repo),
        [this](const ModelSource&) -> Expected<std::unique_ptr<Session>> {
          return std::unique_ptr<Session>(new FakeSession(&gate_));
        },
        o);
    ASSERT_TRUE(s) << s.status().ToString();
    core_ = std::move(*s);
    ASSERT_TRUE(core_->Start().ok());
    g.port = 0;
    Expected<std::unique_ptr<GrpcInferenceServer>> gs = GrpcInferenceServer::Start(*core_, g);
    ASSERT_TRUE(gs) << gs.status().ToString();
    grpc_ = std::move(*gs);
    ASSERT_GT(grpc_->port(), 0);
    target_ = "127.0.0.1:" + std::to_string(grpc_->port());
    Expected<std::unique_ptr<KServeGrpcClient>> c = KServeGrpcClient::Connect("grpc://" + target_);
    ASSERT_TRUE(c) << c.status().ToString();
    client_ = std::move(*c);
  }
  void TearDown() override {
    gate_.Open();
    if (core_) core_->BeginDrain();
    if (grpc_) grpc_->Stop();
    if (core_) core_->Stop();
  }
  // A raw stub, for messages the project's client would never send.
  std::unique_ptr<inference::GRPCInferenceService::Stub> Stub() {
    return inference::GRPCInferenceService::NewStub(
        grpc::CreateChannel(target_, grpc::InsecureChannelCredentials()));
  }

  testing::TempDir dir_;
  Gate gate_;
  std::unique_ptr<InferenceServer> core_;
  std::unique_ptr<GrpcInferenceServer> grpc_;
  std::unique_ptr<KServeGrpcClient> client_;
  std::string target_;
};

TEST_F(GrpcServerTest, HealthAndMetadata) {
  Start();
  EXPECT_EQ(client_->ServerLive().value(), true);
  EXPECT_EQ(client_->ServerReady().value(), true);
  EXPECT_EQ(client_->ModelReady("fake").value(), true);
  EXPECT_EQ(client_->ModelReady("fake", "2").value(), true);
  Expected<bool> old = client_->ModelReady("fake", "1");
  ASSERT_FALSE(old);
  EXPECT_EQ(old.status().code(), StatusCode::kNotFound);
  EXPECT_NE(old.status().message().find("NOT_FOUND: model \"fake\" has no loaded version"),
            std::string::npos)
      << old.status().message();

  Expected<kserve::ServerMetadata> sm = client_->ServerMetadata();
  ASSERT_TRUE(sm) << sm.status().ToString();
  EXPECT_EQ(sm->name, "deepedge");
  EXPECT_EQ(sm->extensions, std::vector<std::string>{"binary_tensor_data"});
  Expected<kserve::ModelMetadata> mm = client_->ModelMetadata("fake");
  ASSERT_TRUE(mm) << mm.status().ToString();
  EXPECT_EQ(mm->name, "fake");
  EXPECT_EQ(mm->versions, std::vector<std::string>{"2"});
  EXPECT_EQ(mm->platform, "onnx");
  ASSERT_EQ(mm->inputs.size(), 1u);
  EXPECT_EQ(mm->inputs[0].name, "x");
  EXPECT_EQ(mm->inputs[0].datatype, "FP32");
  EXPECT_EQ(mm->inputs[0].shape, (std::vector<std::int64_t>{1, 4}));
  ASSERT_EQ(mm->outputs.size(), 1u);
  EXPECT_EQ(mm->outputs[0].name, "y");
  Expected<kserve::ModelMetadata> none = client_->ModelMetadata("nope");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_NE(none.status().message().find("unknown model \"nope\""), std::string::npos);
}

TEST_F(GrpcServerTest, InferRawAndTyped) {
  Start();
  for (bool raw : {true, false}) {
    Expected<kserve::InferResponse> r = client_->Infer("fake", Request(1.0f), "", raw);
    ASSERT_TRUE(r) << r.status().ToString();
    EXPECT_EQ(r->model_name, "fake");
    EXPECT_EQ(r->model_version, "2");
    EXPECT_EQ(r->id, "r1");
    EXPECT_TRUE(r->parameters.count("queue_time_us"));
    EXPECT_TRUE(r->parameters.count("compute_time_us"));
    ASSERT_EQ(r->outputs.size(), 1u);
    EXPECT_EQ(r->outputs[0].name, "y");
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(r->outputs[0].tensor.as<float>()[i], 2.0f * (1.0f + static_cast<float>(i)) + 1.0f);
    }
  }
  // A named output, and a version.
  kserve::InferRequest req = Request();
  req.outputs.push_back({"y", false});
  Expected<kserve::InferResponse> r = client_->Infer("fake", req, "2");
  ASSERT_TRUE(r) << r.status().ToString();
  EXPECT_EQ(r->outputs.size(), 1u);
}

TEST_F(GrpcServerTest, BadRequestsGetTheirCodeAndTheServerKeepsServing) {
  GrpcServerOptions g;
  g.max_message_bytes = 4096;
  Start({}, g);
  auto expect = [&](const Expected<kserve::InferResponse>& r, StatusCode code,
                    const std::string& text) {
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.status().code(), code) << r.status().ToString();
    EXPECT_NE(r.status().message().find(text), std::string::npos) << r.status().message();
  };
  expect(client_->Infer("nope", Request()), StatusCode::kNotFound,
         "NOT_FOUND: unknown model \"nope\"");
  expect(client_->Infer("fake", Request(), "1"), StatusCode::kNotFound, "no loaded version");

  kserve::InferRequest shape;
  shape.inputs.push_back({"x", Tensor::Allocate(DType::kF32, Shape{1, 5}).value()});
  expect(client_->Infer("fake", shape), StatusCode::kInvalidArgument,
         "INVALID_ARGUMENT: input \"x\": shape");
  kserve::InferRequest dtype;
  dtype.inputs.push_back({"x", Tensor::Allocate(DType::kI32, Shape{1, 4}).value()});
  expect(client_->Infer("fake", dtype), StatusCode::kInvalidArgument, "datatype INT32");
  kserve::InferRequest name;
  name.inputs.push_back({"q", Tensor::Allocate(DType::kF32, Shape{1, 4}).value()});
  expect(client_->Infer("fake", name), StatusCode::kInvalidArgument, "needs \"x\"");
  kserve::InferRequest output = Request();
  output.outputs.push_back({"zz", false});
  expect(client_->Infer("fake", output), StatusCode::kInvalidArgument, "no output \"zz\"");
  kserve::InferRequest big;
  big.inputs.push_back({"x", Tensor::Allocate(DType::kF32, Shape{1, 4096}).value()});
  expect(client_->Infer("fake", big), StatusCode::kUnavailable, "RESOURCE_EXHAUSTED");

  // Raw contents of the wrong size, and an unknown model with a malformed request.
  auto stub = Stub();
  inference::ModelInferRequest p;
  p.set_model_name("fake");
  auto* in = p.add_inputs();
  in->set_name("x");
  in->set_datatype("FP32");
  in->add_shape(1);
  in->add_shape(4);
  p.add_raw_input_contents(std::string(15, '\0'));
  {
    grpc::ClientContext ctx;
    inference::ModelInferResponse res;
    grpc::Status s = stub->ModelInfer(&ctx, p, &res);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("raw contents of 15 bytes"), std::string::npos)
        << s.error_message();
  }
  p.set_model_name("nope");
  {
    grpc::ClientContext ctx;
    inference::ModelInferResponse res;
    EXPECT_EQ(stub->ModelInfer(&ctx, p, &res).error_code(), grpc::StatusCode::NOT_FOUND);
  }

  // Still serving.
  Expected<kserve::InferResponse> ok = client_->Infer("fake", Request());
  ASSERT_TRUE(ok) << ok.status().ToString();
  const std::string metrics = core_->MetricsText();
  EXPECT_NE(metrics.find(R"(deepedge_grpc_requests_total{model="fake",code="OK"} 1)"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(R"(deepedge_grpc_requests_total{model="fake",code="INVALID_ARGUMENT"} 5)"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(R"(deepedge_grpc_requests_total{model="_unknown",code="NOT_FOUND"} 3)"),
            std::string::npos)
      << metrics;
}

TEST_F(GrpcServerTest, FullQueueIsResourceExhausted) {
  ServerOptions o;
  o.workers = 1;
  o.queue_capacity = 1;
  Start(o);
  gate_.Close();
  auto first = std::async(std::launch::async, [&] { return client_->Infer("fake", Request()); });
  ASSERT_TRUE(gate_.WaitRunning(1));  // running on the only worker
  auto second = std::async(std::launch::async, [&] { return client_->Infer("fake", Request()); });
  // The second waits in the queue (seen in the queue-depth gauge); a third finds it full.
  bool queued = false;
  for (int i = 0; i < 2000 && !queued; ++i) {
    queued = core_->MetricsText().find("deepedge_queue_depth 1\n") != std::string::npos;
    if (!queued) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(queued);
  Expected<kserve::InferResponse> third = client_->Infer("fake", Request());
  ASSERT_FALSE(third);
  EXPECT_NE(third.status().message().find("RESOURCE_EXHAUSTED: queue full"), std::string::npos)
      << third.status().message();
  gate_.Open();
  EXPECT_TRUE(first.get());
  EXPECT_TRUE(second.get());
}

TEST_F(GrpcServerTest, SlowInferenceIsDeadlineExceeded) {
  ServerOptions o;
  o.request_timeout_s = 0.2;
  Start(o);
  gate_.Close();
  Expected<kserve::InferResponse> r = client_->Infer("fake", Request());
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("DEADLINE_EXCEEDED: inference did not finish"),
            std::string::npos)
      << r.status().message();
  gate_.Open();
  EXPECT_TRUE(client_->Infer("fake", Request()));
}

TEST_F(GrpcServerTest, StopFinishesTheRequestInFlightAndRefusesNewOnes) {
  Start();
  gate_.Close();
  auto inflight = std::async(std::launch::async, [&] { return client_->Infer("fake", Request()); });
  ASSERT_TRUE(gate_.WaitRunning(1));
  core_->BeginDrain();
  EXPECT_EQ(client_->ServerReady().value(), false);
  Expected<kserve::InferResponse> refused = client_->Infer("fake", Request());
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.status().message().find("UNAVAILABLE"), std::string::npos);
  auto stopping = std::async(std::launch::async, [&] { grpc_->Stop(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  gate_.Open();
  stopping.get();
  Expected<kserve::InferResponse> done = inflight.get();
  EXPECT_TRUE(done) << done.status().ToString();
  Expected<bool> after = client_->ServerLive();
  EXPECT_FALSE(after);  // the listener is closed
}

TEST_F(GrpcServerTest, PortInUseIsAnError) {
  Start();
  GrpcServerOptions g;
  g.port = grpc_->port();
  Expected<std::unique_ptr<GrpcInferenceServer>> second = GrpcInferenceServer::Start(*core_, g);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
}

TEST(GrpcClient, BadTargetIsRefused) {
  EXPECT_FALSE(KServeGrpcClient::Connect("nocolon"));
  EXPECT_FALSE(KServeGrpcClient::Connect(""));
}

}  // namespace
}  // namespace deepedge
