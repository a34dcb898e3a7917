// InferenceServer in-process, over raw HTTP, with a fake session whose Run can be held
// at a gate: queue-full, timeout and graceful-stop cases become deterministic.
#include "deepedge/server.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "support/raw_http.h"
#include "support/temp_dir.h"

namespace deepedge {
namespace {

using testing::Http;
using testing::HttpReply;

// Holds every Run until opened; counts runs in progress.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = true;
  int running = 0;
  int runs = 0;

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
  // Waits until `n` runs are held inside Run.
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
      ++gate_->runs;
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

const std::string kJsonRequest =
    R"({"id":"r1","inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4.5]}]})";

class ServerTest : public ::testing::Test {
 protected:
  void StartServer(ServerOptions o = {}) {
    dir_.Write("fake/1/model.onnx", "x");
    dir_.Write("fake/2/model.onnx", "x");
    o.port = 0;
    Expected<ModelRepository> repo = ModelRepository::Scan(dir_.path());
    ASSERT_TRUE(repo) << repo.status().ToString();
    Expected<std::unique_ptr<InferenceServer>> s = InferenceServer::Create(
        std::move(*repo),
        [this](const ModelSource&) -> Expected<std::unique_ptr<Session>> {
          return std::unique_ptr<Session>(new FakeSession(&gate_));
        },
        o);
    ASSERT_TRUE(s) << s.status().ToString();
    server_ = std::move(*s);
    ASSERT_TRUE(server_->Start().ok());
    port_ = server_->port();
    ASSERT_GT(port_, 0);
  }
  void TearDown() override {
    gate_.Open();
    if (server_) server_->Stop();
  }
  HttpReply Infer(const std::string& body, const std::string& path = "/v2/models/fake/infer",
                  const std::string& headers = "") {
    return Http(port_, "POST", path, body, headers);
  }

  testing::TempDir dir_;
  Gate gate_;
  std::unique_ptr<InferenceServer> server_;
  int port_ = 0;
};

TEST_F(ServerTest, HealthAndMetadata) {
  StartServer();
  EXPECT_EQ(Http(port_, "GET", "/v2/health/live").status, 200);
  EXPECT_EQ(Http(port_, "GET", "/v2/health/ready").status, 200);
  HttpReply meta = Http(port_, "GET", "/v2");
  ASSERT_EQ(meta.status, 200);
  Expected<kserve::ServerMetadata> sm = kserve::DecodeServerMetadata(meta.body);
  ASSERT_TRUE(sm) << meta.body;
  EXPECT_EQ(sm->extensions, std::vector<std::string>{"binary_tensor_data"});

  HttpReply model = Http(port_, "GET", "/v2/models/fake");
  ASSERT_EQ(model.status, 200);
  Expected<kserve::ModelMetadata> mm = kserve::DecodeModelMetadata(model.body);
  ASSERT_TRUE(mm) << model.body;
  EXPECT_EQ(mm->versions, std::vector<std::string>{"2"});  // the highest version
  ASSERT_EQ(mm->inputs.size(), 1u);
  EXPECT_EQ(mm->inputs[0].datatype, "FP32");
  EXPECT_EQ(mm->inputs[0].shape, (std::vector<std::int64_t>{1, 4}));
  EXPECT_EQ(Http(port_, "GET", "/v2/models/fake/versions/2").status, 200);
  EXPECT_EQ(Http(port_, "GET", "/v2/models/fake/ready").status, 200);
  EXPECT_EQ(Http(port_, "GET", "/v2/models/fake/versions/2/ready").status, 200);

  HttpReply unknown = Http(port_, "GET", "/v2/models/nope");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(kserve::DecodeError(unknown.body).find("unknown model \"nope\""), std::string::npos);
  EXPECT_EQ(Http(port_, "GET", "/v2/models/nope/ready").status, 404);
  HttpReply old = Http(port_, "GET", "/v2/models/fake/versions/1");
  EXPECT_EQ(old.status, 404);
  EXPECT_NE(old.body.find("no loaded version"), std::string::npos);
  HttpReply path = Http(port_, "GET", "/v3/whatever");
  EXPECT_EQ(path.status, 404);
  EXPECT_NE(kserve::DecodeError(path.body).find("no such endpoint"), std::string::npos);
}

TEST_F(ServerTest, InferJsonAndBinary) {
  StartServer();
  HttpReply r = Infer(kJsonRequest);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json");
  Expected<kserve::InferResponse> res = kserve::DecodeInferResponse(r.body, std::nullopt);
  ASSERT_TRUE(res) << res.status().ToString();
  EXPECT_EQ(res->model_name, "fake");
  EXPECT_EQ(res->model_version, "2");
  EXPECT_EQ(res->id, "r1");
  EXPECT_TRUE(res->parameters.count("queue_time_us"));
  EXPECT_TRUE(res->parameters.count("compute_time_us"));
  ASSERT_EQ(res->outputs.size(), 1u);
  EXPECT_EQ(res->outputs[0].name, "y");
  const float want[4] = {3, 5, 7, 10};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(res->outputs[0].tensor.as<float>()[i], want[i]);

  // Binary in, binary out.
  kserve::InferRequest req;
  Tensor x = Tensor::Allocate(DType::kF32, Shape{1, 4}).value();
  for (int i = 0; i < 4; ++i) x.as<float>()[i] = -static_cast<float>(i);
  req.inputs.push_back({"x", std::move(x)});
  req.parameters["binary_data_output"] = true;
  kserve::EncodedBody body = kserve::EncodeInferRequest(req, true).value();
  HttpReply b = Infer(body.body, "/v2/models/fake/versions/2/infer",
                      "Inference-Header-Content-Length: " + std::to_string(body.json_size) +
                          "\r\nContent-Type: application/octet-stream\r\n");
  ASSERT_EQ(b.status, 200) << b.body;
  const std::string hl = b.header("inference-header-content-length");
  ASSERT_FALSE(hl.empty());
  Expected<kserve::InferResponse> bres = kserve::DecodeInferResponse(b.body, std::stoul(hl));
  ASSERT_TRUE(bres) << bres.status().ToString();
  ASSERT_EQ(bres->outputs.size(), 1u);
  EXPECT_TRUE(bres->outputs[0].binary);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(bres->outputs[0].tensor.as<float>()[i], -2.0f * static_cast<float>(i) + 1.0f);
  }

  // Per-output binary_data.
  HttpReply per =
      Infer(R"({"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[0,0,0,0]}],)"
            R"("outputs":[{"name":"y","parameters":{"binary_data":true}}]})");
  ASSERT_EQ(per.status, 200);
  EXPECT_EQ(per.header("inference-header-content-length").empty(), false);
}

TEST_F(ServerTest, BadRequestsGetTheRightStatusAndAJsonError) {
  ServerOptions o;
  o.max_request_bytes = 4096;
  StartServer(o);
  struct Case {
    std::string body, path, headers;
    int status;
    std::string message_part;
  };
  const std::string x = R"({"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]})";
  const Case cases[] = {
      {"{not json", "/v2/models/fake/infer", "", 400, "malformed JSON"},
      {R"({"inputs":[{"name":"x","shape":[4],"datatype":"FP32","data":[1,2,3,4]}]})",
       "/v2/models/fake/infer", "", 400, "shape 4, model expects 1x4"},
      {R"({"inputs":[{"name":"x","shape":[1,4],"datatype":"INT32","data":[1,2,3,4]}]})",
       "/v2/models/fake/infer", "", 400, "datatype INT32, model expects FP32"},
      {R"({"inputs":[{"name":"z","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]})",
       "/v2/models/fake/infer", "", 400, "needs \"x\""},
      {"{\"inputs\":[" + x + "," + R"({"name":"w","shape":[1],"datatype":"FP32","data":[1]}]})",
       "/v2/models/fake/infer", "", 400, "takes 1 inputs"},
      {"{\"inputs\":[" + x + R"(],"outputs":[{"name":"q"}]})", "/v2/models/fake/infer", "", 400,
       "no output \"q\""},
      {"{\"inputs\":[" + x + "]}", "/v2/models/nope/infer", "", 404, "unknown model"},
      {"{\"inputs\":[" + x + "]}", "/v2/models/fake/versions/7/infer", "", 404,
       "no loaded version"},
      {"{\"inputs\":[" + x + "]}", "/v2/models/fake/infer",
       "Inference-Header-Content-Length: abc\r\n", 400, "not a byte count"},
      {std::string(5000, ' '), "/v2/models/fake/infer", "", 413, "exceeds the limit of 4096"},
  };
  for (const Case& c : cases) {
    HttpReply r = Infer(c.body, c.path, c.headers);
    EXPECT_EQ(r.status, c.status) << c.body.substr(0, 100) << " -> " << r.body;
    EXPECT_EQ(r.header("content-type"), "application/json") << c.body.substr(0, 100);
    EXPECT_NE(kserve::DecodeError(r.body).find(c.message_part), std::string::npos)
        << c.body.substr(0, 100) << " -> " << r.body;
  }
  // The server is still healthy and serving.
  EXPECT_EQ(Infer(kJsonRequest).status, 200);
  const std::string metrics = Http(port_, "GET", "/metrics").body;
  EXPECT_NE(metrics.find(R"(deepedge_inference_requests_total{model="fake",code="400"} 7)"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(R"(deepedge_inference_requests_total{model="fake",code="200"} 1)"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("deepedge_inference_compute_seconds_count{model=\"fake\"} 1"),
            std::string::npos)
      << metrics;
}

TEST_F(ServerTest, FullQueueIsRefusedWith503) {
  ServerOptions o;
  o.workers = 1;
  o.queue_capacity = 1;
  StartServer(o);
  gate_.Close();
  auto a = std::async(std::launch::async, [&] { return Infer(kJsonRequest); });
  ASSERT_TRUE(gate_.WaitRunning(1));  // A runs (held); the queue is empty
  auto b = std::async(std::launch::async, [&] { return Infer(kJsonRequest); });
  // Wait until B sits in the queue.
  for (int i = 0; i < 2000; ++i) {
    if (server_->MetricsText().find("deepedge_queue_depth 1") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_NE(server_->MetricsText().find("deepedge_queue_depth 1"), std::string::npos);
  HttpReply c = Infer(kJsonRequest);
  EXPECT_EQ(c.status, 503);
  EXPECT_NE(kserve::DecodeError(c.body).find("queue full"), std::string::npos) << c.body;
  gate_.Open();
  EXPECT_EQ(a.get().status, 200);
  EXPECT_EQ(b.get().status, 200);
}

TEST_F(ServerTest, SlowInferenceTimesOutWith504AndTheServerRecovers) {
  ServerOptions o;
  o.workers = 1;
  o.request_timeout_s = 0.3;
  StartServer(o);
  gate_.Close();
  HttpReply r = Infer(kJsonRequest);
  EXPECT_EQ(r.status, 504);
  EXPECT_NE(kserve::DecodeError(r.body).find("did not finish within"), std::string::npos);
  gate_.Open();
  EXPECT_EQ(Infer(kJsonRequest).status, 200);
}

TEST_F(ServerTest, StopFinishesAdmittedRequestsAndRefusesNewOnes) {
  ServerOptions o;
  o.workers = 1;
  o.keep_alive_timeout_s = 1;
  o.warm_up = false;  // count only the client's run
  StartServer(o);
  gate_.Close();
  auto a = std::async(std::launch::async, [&] { return Infer(kJsonRequest); });
  ASSERT_TRUE(gate_.WaitRunning(1));
  auto stopper = std::async(std::launch::async, [&] { server_->Stop(); });
  // Stop waits for A; meanwhile new requests are refused (connection refused, or 503).
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(stopper.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  HttpReply late = Infer(kJsonRequest);
  EXPECT_TRUE(late.status == -1 || late.status == 503) << late.status;
  gate_.Open();
  HttpReply ra = a.get();
  EXPECT_EQ(ra.status, 200);
  EXPECT_TRUE(kserve::DecodeInferResponse(ra.body, std::nullopt));
  stopper.get();
  EXPECT_EQ(gate_.runs, 1);
}

TEST_F(ServerTest, EverySessionIsWarmedUpOnceAtLoad) {
  ServerOptions o;
  o.workers = 3;
  StartServer(o);
  EXPECT_EQ(gate_.runs, 3);
}

TEST_F(ServerTest, StalledClientDoesNotBlockOthers) {
  ServerOptions o;
  o.http_threads = 2;  // one for the staller, one for everyone else
  o.read_timeout_s = 1;
  StartServer(o);
  const int stalled = testing::ConnectLoopback(port_);
  ASSERT_GE(stalled, 0);
  ASSERT_TRUE(testing::WriteAll(
      stalled,
      "POST /v2/models/fake/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{\"in"));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Infer(kJsonRequest).status, 200);
  // The staller is dropped after the read timeout (400 or a closed connection).
  HttpReply dropped = testing::ReadReply(stalled, 10000);
  EXPECT_TRUE(dropped.status == -1 || dropped.status == 400) << dropped.status;
  ::close(stalled);
  EXPECT_EQ(Infer(kJsonRequest).status, 200);
}

// The server's own connection stream: two requests written at once on one keep-alive
// connection (pipelined) both get answered, in order; a client that asks for
// "100 Continue" gets it before sending its body; a chunked body over the limit gets
// 413 and the connection closes (its rest is never read as a request).
TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer();
  const int fd = testing::ConnectLoopback(port_);
  ASSERT_GE(fd, 0);
  const std::string one = "POST /v2/models/fake/infer HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                          std::to_string(kJsonRequest.size()) + "\r\n\r\n" + kJsonRequest;
  const std::string two = "GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(testing::WriteAll(fd, one + two));
  testing::ReplyReader replies(fd);
  HttpReply first = replies.Next();
  EXPECT_EQ(first.status, 200) << first.body;
  EXPECT_NE(first.body.find("\"outputs\""), std::string::npos) << first.body;
  HttpReply second = replies.Next();
  EXPECT_EQ(second.status, 200);
  EXPECT_EQ(second.body.find("\"outputs\""), std::string::npos) << second.body;
  ::close(fd);
}

TEST_F(ServerTest, ExpectContinueGetsAnInterimReplyBeforeTheBody) {
  StartServer();
  const int fd = testing::ConnectLoopback(port_);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(testing::WriteAll(fd,
                                "POST /v2/models/fake/infer HTTP/1.1\r\nHost: x\r\n"
                                "Expect: 100-continue\r\nContent-Length: " +
                                    std::to_string(kJsonRequest.size()) + "\r\n\r\n"));
  // Without the body sent, the server must already have answered "100 Continue".
  testing::ReplyReader replies(fd);
  HttpReply interim = replies.Next();
  EXPECT_EQ(interim.status, 100);
  ASSERT_TRUE(testing::WriteAll(fd, kJsonRequest));
  HttpReply final_reply = replies.Next();
  EXPECT_EQ(final_reply.status, 200) << final_reply.body;
  ::close(fd);
}

TEST_F(ServerTest, ChunkedBodyOverTheLimitGets413AndTheConnectionCloses) {
  ServerOptions o;
  o.max_request_bytes = 4096;
  StartServer(o);
  const int fd = testing::ConnectLoopback(port_);
  ASSERT_GE(fd, 0);
  std::string req =
      "POST /v2/models/fake/infer HTTP/1.1\r\nHost: x\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  const std::string chunk(1000, ' ');
  for (int i = 0; i < 6; ++i) req += "3e8\r\n" + chunk + "\r\n";
  req += "0\r\n\r\n";
  // What follows the refused body must not be served as a request of its own.
  req += "GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(testing::WriteAll(fd, req));
  testing::ReplyReader replies(fd);
  HttpReply r = replies.Next();
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_EQ(r.header("connection"), "close");
  HttpReply after = replies.Next(3000);
  EXPECT_EQ(after.status, -1) << "a request after the refused body was served";
  ::close(fd);
  EXPECT_EQ(Infer(kJsonRequest).status, 200);
}

TEST(ServerCreate, RefusesBadOptionsAndFailedLoads) {
  testing::TempDir dir;
  dir.Write("m/1/model.onnx", "x");
  ModelSessionFactory fails = [](const ModelSource&) -> Expected<std::unique_ptr<Session>> {
    return Corrupt("not an ONNX model");
  };
  Expected<std::unique_ptr<InferenceServer>> s =
      InferenceServer::Create(ModelRepository::Scan(dir.path()).value(), fails, {});
  ASSERT_FALSE(s);
  EXPECT_NE(s.status().message().find("model \"m\""), std::string::npos);
  EXPECT_NE(s.status().message().find("not an ONNX model"), std::string::npos);
  ServerOptions bad;
  bad.workers = 0;
  EXPECT_FALSE(InferenceServer::Create(ModelRepository::Scan(dir.path()).value(), fails, bad));
}

}  // namespace
}  // namespace deepedge
