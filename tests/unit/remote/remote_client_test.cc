// The KServe client and the `remote` backend against a real InferenceServer on
// loopback, serving a small session written here (y = x + 1; a slow one for timeouts).
#include "deepedge/remote.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "deepedge/backends.h"
#include "deepedge/server.h"

namespace deepedge::remote {
namespace {

namespace fs = std::filesystem;

class AddOneSession final : public Session {
 public:
  explicit AddOneSession(int sleep_ms) : sleep_ms_(sleep_ms) {}
  const std::vector<TensorInfo>& Inputs() const override { return in_; }
  const std::vector<TensorInfo>& Outputs() const override { return out_; }
  Status Run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs) override {
    if (sleep_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms_));
    outputs.resize(1);
    Expected<Tensor> t = Tensor::Allocate(DType::kF32, inputs[0].shape());
    if (!t) return t.status();
    for (std::size_t i = 0; i < t->as<float>().size(); ++i)
      t->as<float>()[i] = inputs[0].as<float>()[i] + 1.0f;
    outputs[0] = std::move(*t);
    return Status::Ok();
  }

 private:
  int sleep_ms_;
  std::vector<TensorInfo> in_{{"x", DType::kF32, Shape{1, 4}}};
  std::vector<TensorInfo> out_{{"y", DType::kF32, Shape{1, 4}}};
};

// A repository with "addone" and "slow" (the files' bytes are never read: the
// factory below builds the sessions).
class RemoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("remote_test_" + std::to_string(getpid()));
    for (const char* m : {"addone", "slow"}) {
      fs::create_directories(dir_ / m / "1");
      std::ofstream(dir_ / m / "1" / "model.onnx") << "not read";
    }
    Expected<ModelRepository> repo = ModelRepository::Scan(dir_);
    ASSERT_TRUE(repo.has_value()) << repo.status().ToString();
    ServerOptions o;
    o.port = 0;
    auto server = InferenceServer::Create(
        std::move(*repo),
        [](const ModelSource& s) -> Expected<std::unique_ptr<Session>> {
          const bool slow = s.path.parent_path().parent_path().filename() == "slow";
          return std::unique_ptr<Session>(std::make_unique<AddOneSession>(slow ? 1500 : 0));
        },
        o);
    ASSERT_TRUE(server.has_value()) << server.status().ToString();
    server_ = std::move(*server);
    ASSERT_TRUE(server_->Start().ok());
    url_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override {
    if (server_) server_->Stop();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::unique_ptr<Client> MakeClient(double timeout_s = 10) {
    auto c = Client::Create({.url = url_, .timeout_s = timeout_s});
    EXPECT_TRUE(c.has_value()) << c.status().ToString();
    return std::move(*c);
  }
  static std::vector<kserve::NamedTensor> Input(std::initializer_list<float> v) {
    Tensor t = Tensor::Allocate(DType::kF32, Shape{1, static_cast<std::int64_t>(v.size())}).value();
    std::copy(v.begin(), v.end(), t.as<float>().begin());
    std::vector<kserve::NamedTensor> in;
    in.push_back({"x", std::move(t), true});
    return in;
  }

  fs::path dir_;
  std::unique_ptr<InferenceServer> server_;
  std::string url_;
};

TEST(RemoteUrl, Parses) {
  Expected<Url> u = ParseUrl("http://10.77.0.2:8000");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->host, "10.77.0.2");
  EXPECT_EQ(u->port, 8000);
  u = ParseUrl("http://example.org/kserve/");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->base_path, "/kserve");
  u = ParseUrl("http://[::1]:9000");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(ParseUrl("https://a:1").status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(ParseUrl("a:1").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseUrl("http://a:0").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseUrl("http://a:99999").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseUrl("http://:80").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(RemoteTest, HealthReadinessAndMetadata) {
  auto c = MakeClient();
  EXPECT_TRUE(c->Live().ok());
  EXPECT_TRUE(c->ModelReady("addone").ok());
  EXPECT_EQ(c->ModelReady("nope").code(), StatusCode::kNotFound);
  Expected<kserve::ModelMetadata> m = c->ModelMetadata("addone");
  ASSERT_TRUE(m.has_value()) << m.status().ToString();
  ASSERT_EQ(m->inputs.size(), 1u);
  EXPECT_EQ(m->inputs[0].name, "x");
  EXPECT_EQ(m->inputs[0].datatype, "FP32");
  EXPECT_EQ(m->outputs[0].shape, (std::vector<std::int64_t>{1, 4}));
}

TEST_F(RemoteTest, InferWithBinaryTensorsAndTiming) {
  auto c = MakeClient();
  InferTiming t;
  auto out = c->Infer("addone", Input({1, 2, 3, -4}), &t);
  ASSERT_TRUE(out.has_value()) << out.status().ToString();
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].name, "y");
  const auto y = (*out)[0].tensor.as<float>();
  EXPECT_EQ(std::vector<float>(y.begin(), y.end()), (std::vector<float>{2, 3, 4, -3}));
  EXPECT_GE(t.server_queue_ms, 0);
  EXPECT_GE(t.server_compute_ms, 0);
  EXPECT_GT(t.round_trip_ms, 0);
  EXPECT_GE(t.round_trip_ms, t.server_compute_ms);
  // Binary: the four floats travel as 16 raw bytes after the JSON part.
  EXPECT_GT(t.request_bytes, 16u);
  EXPECT_GT(t.response_bytes, 16u);
}

TEST_F(RemoteTest, ErrorsAreStatuses) {
  auto c = MakeClient();
  auto out = c->Infer("nope", Input({1, 2, 3, 4}));
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.status().code(), StatusCode::kNotFound);
  out = c->Infer("addone", Input({1, 2, 3}));  // wrong shape
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(out.status().message().find("HTTP 400"), std::string::npos) << out.status().message();
}

TEST_F(RemoteTest, TimeoutIsUnavailable) {
  auto c = MakeClient(/*timeout_s=*/0.3);
  auto out = c->Infer("slow", Input({1, 2, 3, 4}));
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.status().code(), StatusCode::kUnavailable) << out.status().ToString();
}

TEST_F(RemoteTest, StoppedServerIsUnavailable) {
  auto c = MakeClient();
  ASSERT_TRUE(c->Infer("addone", Input({0, 0, 0, 0})).has_value());
  server_->Stop();
  auto out = c->Infer("addone", Input({0, 0, 0, 0}));
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(out.status().message().find(url_), std::string::npos);
  EXPECT_EQ(c->Live().code(), StatusCode::kUnavailable);
}

TEST_F(RemoteTest, RemoteBackendRunsTheServedModel) {
  BackendRegistry reg;
  ASSERT_TRUE(reg.Register(MakeRemoteBackend()).ok());
  SessionOptions so;
  so.backend_options = {{"server", url_}, {"model", "addone"}};
  auto s = reg.Load("remote", ModelSource::FromBytes(ModelFormat::kOnnx, {1}), so);
  ASSERT_TRUE(s.has_value()) << s.status().ToString();
  ASSERT_EQ((*s)->Inputs().size(), 1u);
  EXPECT_EQ((*s)->Inputs()[0].shape, (Shape{1, 4}));
  std::vector<Tensor> in;
  in.push_back(std::move(Input({5, 6, 7, 8})[0].tensor));
  std::vector<Tensor> out;
  ASSERT_TRUE((*s)->Run(in, out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].as<float>()[3], 9.0f);

  so.backend_options = {{"model", "addone"}};
  auto bad = reg.Load("remote", ModelSource::FromBytes(ModelFormat::kOnnx, {1}), so);
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.status().message().find("server="), std::string::npos);
  so.backend_options = {{"server", url_}, {"model", "missing"}};
  bad = reg.Load("remote", ModelSource::FromBytes(ModelFormat::kOnnx, {1}), so);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace deepedge::remote
