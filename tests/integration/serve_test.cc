// `deepedge serve`, the real binary, over raw HTTP on loopback: the KServe v2 REST
// protocol (health, metadata, JSON and binary inference), its errors, a stalled
// client, back-pressure and SIGTERM.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <future>
#include <thread>

#include "deepedge/file_util.h"
#include "deepedge/kserve.h"
#include "deepedge/npy.h"
#include "support/cli_runner.h"
#include "support/raw_http.h"
#include "support/serve_process.h"
#include "support/temp_dir.h"

namespace deepedge {
namespace {

using testing::Http;
using testing::HttpReply;

using testing::ServeProcess;

class ServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string model = (dir_ / "repo/mobilenet/1/model.onnx").string();
    std::filesystem::create_directories(dir_ / "repo/mobilenet/1");
    testing::CliResult r = testing::RunCli(DEEPEDGE_BINARY, dir_.path(),
                                           "zoo export mobilenet_v1_0.25_224 -o " + model);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    model_ = model;
    // A deterministic input, also written as .npy for `deepedge infer`.
    input_ = Tensor::Allocate(DType::kF32, Shape{1, 3, 224, 224}).value();
    auto v = input_.as<float>();
    for (std::size_t i = 0; i < v.size(); ++i) {
      v[i] = static_cast<float>((i * 7919) % 1000) / 500.0f - 1.0f;
    }
    ASSERT_TRUE(WriteFileAtomic(dir_ / "input.npy", EncodeNpy(input_)).ok());
  }

  std::unique_ptr<ServeProcess> Serve(std::vector<std::string> extra = {}) {
    extra.insert(extra.begin(), {"--models", (dir_ / "repo").string()});
    auto p = std::make_unique<ServeProcess>(DEEPEDGE_BINARY, dir_.path(), extra);
    EXPECT_GT(p->port(), 0) << p->stdout_text() << p->err();
    return p;
  }

  // The model's input name, from the server's metadata.
  std::string InputName(int port) {
    HttpReply r = Http(port, "GET", "/v2/models/mobilenet");
    Expected<kserve::ModelMetadata> m = kserve::DecodeModelMetadata(r.body);
    if (!m || m->inputs.empty()) return "";
    return m->inputs[0].name;
  }

  kserve::EncodedBody Request(const std::string& input_name, bool binary_in, bool binary_out) {
    kserve::InferRequest req;
    req.id = "q1";
    req.inputs.push_back({input_name, input_.Clone()});
    if (binary_out) req.parameters["binary_data_output"] = true;
    return kserve::EncodeInferRequest(req, binary_in).value();
  }

  static HttpReply Post(int port, const kserve::EncodedBody& body,
                        const std::string& path = "/v2/models/mobilenet/infer") {
    std::string headers;
    if (body.has_binary()) {
      headers = "Inference-Header-Content-Length: " + std::to_string(body.json_size) +
                "\r\nContent-Type: application/octet-stream\r\n";
    }
    return Http(port, "POST", path, body.body, headers);
  }

  static Expected<kserve::InferResponse> Decode(const HttpReply& r) {
    const std::string hl = r.header("inference-header-content-length");
    std::optional<std::size_t> len;
    if (!hl.empty()) len = std::stoul(hl);
    return kserve::DecodeInferResponse(r.body, len);
  }

  testing::TempDir dir_;
  std::string model_;
  Tensor input_;
};

TEST_F(ServeTest, HealthMetadataAndMetrics) {
  auto server = Serve();
  const int port = server->port();
  EXPECT_EQ(Http(port, "GET", "/v2/health/live").status, 200);
  EXPECT_EQ(Http(port, "GET", "/v2/health/ready").status, 200);
  HttpReply meta = Http(port, "GET", "/v2");
  ASSERT_EQ(meta.status, 200);
  EXPECT_NE(meta.body.find("binary_tensor_data"), std::string::npos);
  HttpReply model = Http(port, "GET", "/v2/models/mobilenet");
  ASSERT_EQ(model.status, 200) << model.body;
  Expected<kserve::ModelMetadata> m = kserve::DecodeModelMetadata(model.body);
  ASSERT_TRUE(m) << model.body;
  EXPECT_EQ(m->platform, "onnx");
  EXPECT_EQ(m->versions, std::vector<std::string>{"1"});
  ASSERT_EQ(m->inputs.size(), 1u);
  EXPECT_EQ(m->inputs[0].datatype, "FP32");
  EXPECT_EQ(m->inputs[0].shape, (std::vector<std::int64_t>{-1, 3, 224, 224}));  // dynamic batch
  ASSERT_EQ(m->outputs.size(), 1u);
  EXPECT_EQ(Http(port, "GET", "/v2/models/mobilenet/ready").status, 200);
  EXPECT_EQ(Http(port, "GET", "/v2/models/mobilenet/versions/1/ready").status, 200);
  HttpReply metrics = Http(port, "GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("# TYPE deepedge_inference_requests_total counter"),
            std::string::npos);
  EXPECT_EQ(server->Signal(SIGTERM), 0) << server->err();
}

TEST_F(ServeTest, JsonAndBinaryInferenceEqualDeepedgeInfer) {
  // The reference: `deepedge infer` on the same input file.
  testing::CliResult ref =
      testing::RunCli(DEEPEDGE_BINARY, dir_.path(),
                      "infer " + model_ + " --input " + (dir_ / "input.npy").string() + " -o " +
                          (dir_ / "ref").string());
  ASSERT_EQ(ref.exit_code, 0) << ref.err;

  auto server = Serve();
  const int port = server->port();
  const std::string name = InputName(port);
  ASSERT_FALSE(name.empty());

  HttpReply bin = Post(port, Request(name, true, true));
  ASSERT_EQ(bin.status, 200) << bin.body.substr(0, 300);
  EXPECT_EQ(bin.header("content-type"), "application/octet-stream");
  Expected<kserve::InferResponse> b = Decode(bin);
  ASSERT_TRUE(b) << b.status().ToString();
  EXPECT_EQ(b->id, "q1");
  EXPECT_EQ(b->model_version, "1");
  ASSERT_TRUE(b->parameters.count("queue_time_us"));
  ASSERT_TRUE(b->parameters.count("compute_time_us"));
  EXPECT_GT(std::get<std::int64_t>(b->parameters.at("compute_time_us")), 0);

  HttpReply js = Post(port, Request(name, false, false));
  ASSERT_EQ(js.status, 200) << js.body.substr(0, 300);
  EXPECT_EQ(js.header("content-type"), "application/json");
  Expected<kserve::InferResponse> j = Decode(js);
  ASSERT_TRUE(j) << j.status().ToString();

  ASSERT_EQ(b->outputs.size(), 1u);
  ASSERT_EQ(j->outputs.size(), 1u);
  const Tensor& tb = b->outputs[0].tensor;
  const Tensor& tj = j->outputs[0].tensor;
  ASSERT_EQ(tb.shape(), tj.shape());
  // JSON floats round-trip exactly: the same server, the same input, the same bytes.
  EXPECT_EQ(std::memcmp(tb.data(), tj.data(), tb.byte_size()), 0);

  Expected<Tensor> want = Tensor();
  for (const auto& f : std::filesystem::directory_iterator(dir_ / "ref")) {
    want = ReadNpy(f.path());
  }
  ASSERT_TRUE(want) << want.status().ToString();
  ASSERT_EQ(want->shape(), tb.shape());
  const auto w = want->as<float>();
  const auto g = tb.as<float>();
  double max_diff = 0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    max_diff = std::max(max_diff, static_cast<double>(std::fabs(w[i] - g[i])));
  }
  EXPECT_LE(max_diff, 1e-5) << "server output differs from `deepedge infer`";
  EXPECT_EQ(server->Signal(SIGTERM), 0) << server->err();
}

TEST_F(ServeTest, BadRequestsGetTheirStatusAndTheServerKeepsServing) {
  auto server = Serve({"--max-request-mib", "1"});
  const int port = server->port();
  const std::string name = InputName(port);
  ASSERT_FALSE(name.empty());

  HttpReply malformed = Http(port, "POST", "/v2/models/mobilenet/infer", "{\"inputs\": [}");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_NE(kserve::DecodeError(malformed.body).find("malformed JSON"), std::string::npos);

  const std::string wrong_shape = "{\"inputs\":[{\"name\":\"" + name +
                                  "\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[1,2,3]}]}";
  HttpReply shape = Http(port, "POST", "/v2/models/mobilenet/infer", wrong_shape);
  EXPECT_EQ(shape.status, 400);
  EXPECT_NE(kserve::DecodeError(shape.body).find("model expects ?x3x224x224"), std::string::npos)
      << shape.body;

  HttpReply unknown = Http(port, "POST", "/v2/models/resnet/infer", wrong_shape);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(kserve::DecodeError(unknown.body).find("unknown model"), std::string::npos);

  // The JSON form of a 1x3x224x224 input is over 1 MiB: 413; the binary form fits.
  HttpReply big = Post(port, Request(name, false, false));
  EXPECT_EQ(big.status, 413);
  EXPECT_NE(kserve::DecodeError(big.body).find("exceeds the limit"), std::string::npos);
  HttpReply ok = Post(port, Request(name, true, true));
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(server->Signal(SIGTERM), 0) << server->err();
}

TEST_F(ServeTest, StalledClientDoesNotStopOthers) {
  auto server = Serve();
  const int port = server->port();
  const std::string name = InputName(port);
  const int stalled = testing::ConnectLoopback(port);
  ASSERT_GE(stalled, 0);
  ASSERT_TRUE(testing::WriteAll(stalled,
                                "POST /v2/models/mobilenet/infer HTTP/1.1\r\nHost: x\r\n"
                                "Content-Length: 100000\r\n\r\n{\"inputs\":[{\"name\""));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Post(port, Request(name, true, true)).status, 200);
  ::close(stalled);
  EXPECT_EQ(server->Signal(SIGTERM), 0) << server->err();
}

TEST_F(ServeTest, ConcurrentRequestsBeyondTheQueueGet503OrAnAnswer) {
  // One worker, queue of one: of 12 simultaneous requests, those that find the queue
  // full get 503 with a JSON error at once; every other one gets the right answer.
  // (Whether any arrive together is up to the scheduler; the unit test makes the
  // full-queue case deterministic with a gated session.)
  auto server = Serve({"--workers", "1", "--queue", "1"});
  const int port = server->port();
  const std::string name = InputName(port);
  const kserve::EncodedBody body = Request(name, true, true);
  std::vector<std::future<HttpReply>> replies;
  for (int i = 0; i < 12; ++i) {
    replies.push_back(std::async(std::launch::async, [&] { return Post(port, body); }));
  }
  int ok = 0, full = 0;
  for (auto& f : replies) {
    HttpReply r = f.get();
    if (r.status == 200) {
      ++ok;
      EXPECT_TRUE(Decode(r));
    } else {
      EXPECT_EQ(r.status, 503) << r.body;
      EXPECT_NE(kserve::DecodeError(r.body).find("queue full"), std::string::npos) << r.body;
      ++full;
    }
  }
  EXPECT_GE(ok, 1);
  EXPECT_EQ(ok + full, 12);
  std::printf("[ info ] 12 concurrent requests, queue 1: %d answered, %d refused with 503\n", ok,
              full);
  const std::string metrics = Http(port, "GET", "/metrics").body;
  EXPECT_NE(metrics.find("deepedge_inference_requests_total{model=\"mobilenet\",code=\"200\"} " +
                         std::to_string(ok)),
            std::string::npos)
      << metrics;
  EXPECT_EQ(server->Signal(SIGTERM), 0) << server->err();
}

TEST_F(ServeTest, SigtermDuringLoadFinishesCleanly) {
  auto server = Serve({"--workers", "2"});
  const int port = server->port();
  const std::string name = InputName(port);
  const kserve::EncodedBody body = Request(name, true, true);
  std::atomic<bool> stop{false};
  std::atomic<int> answered{0};
  std::vector<std::future<std::pair<int, int>>> clients;
  for (int c = 0; c < 4; ++c) {
    clients.push_back(std::async(std::launch::async, [&] {
      int ok = 0, other = 0;
      while (!stop.load()) {
        HttpReply r = Post(port, body);
        if (r.status == 200) {
          ++ok;
          ++answered;
        } else if (r.status == -1) {
          break;  // the listener is closed
        } else {
          EXPECT_EQ(r.status, 503) << r.body;  // refused while draining, never half-served
          ++other;
        }
      }
      return std::pair{ok, other};
    }));
  }
  // SIGTERM once the server is busy answering (not after a fixed sleep: the machine
  // may be loaded).
  for (int i = 0; i < 3000 && answered.load() < 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(server->Signal(SIGTERM), 0) << server->err();
  stop = true;
  int ok = 0;
  for (auto& c : clients) ok += c.get().first;
  EXPECT_GT(ok, 0);
  EXPECT_NE(server->stdout_text().find("stopped"), std::string::npos) << server->stdout_text();
}

TEST_F(ServeTest, BadCommandLinesAreRefused) {
  testing::CliResult r = testing::RunCli(DEEPEDGE_BINARY, dir_.path(),
                                         "serve --models " + (dir_ / "nothing").string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not a directory"), std::string::npos) << r.err;
  r = testing::RunCli(DEEPEDGE_BINARY, dir_.path(),
                      "serve --models " + (dir_ / "repo").string() + " --http localhost");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("ADDRESS:PORT"), std::string::npos) << r.err;
  // A corrupt model fails the start, naming the model.
  std::filesystem::create_directories(dir_ / "bad/broken/1");
  std::ofstream(dir_ / "bad/broken/1/model.onnx") << "not a model";
  r = testing::RunCli(DEEPEDGE_BINARY, dir_.path(),
                      "serve --http 127.0.0.1:0 --models " + (dir_ / "bad").string());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("model \"broken\""), std::string::npos) << r.err;
}

}  // namespace
}  // namespace deepedge
