#include <gtest/gtest.h>

#include "deepedge/backend.h"

namespace deepedge {
namespace {

class EchoSession final : public Session {
 public:
  const std::vector<TensorInfo>& Inputs() const override { return io_; }
  const std::vector<TensorInfo>& Outputs() const override { return io_; }
  Status Run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs) override {
    outputs.clear();
    for (const Tensor& t : inputs) outputs.push_back(t.Clone());
    return Status::Ok();
  }

 private:
  std::vector<TensorInfo> io_{{"x", DType::kF32, Shape{1}}};
};

class FakeBackend final : public Backend {
 public:
  explicit FakeBackend(std::string name, bool available = true)
      : name_(std::move(name)), available_(available) {}
  std::string_view Name() const override { return name_; }
  std::string Version() const override { return "1"; }
  Capabilities GetCapabilities() const override {
    return {
        .formats = {ModelFormat::kOnnx}, .input_dtypes = {DType::kF32}, .load_from_bytes = true};
  }
  std::vector<OptionSpec> Options() const override {
    return {{.name = "mode", .help = "", .default_value = "fast", .choices = {"fast", "slow"}},
            {.name = "path", .help = "", .default_value = "", .choices = {}}};
  }
  Status Available() const override {
    return available_ ? Status::Ok() : Unavailable("library not installed");
  }
  Expected<std::unique_ptr<Session>> Load(const ModelSource&,
                                          const SessionOptions&) const override {
    return std::unique_ptr<Session>(std::make_unique<EchoSession>());
  }

 private:
  std::string name_;
  bool available_;
};

ModelSource OnnxBytes() {
  return ModelSource::FromBytes(ModelFormat::kOnnx, {1, 2, 3});
}

TEST(BackendRegistryTest, RegistersInOrderAndRejectsDuplicates) {
  BackendRegistry reg;
  ASSERT_TRUE(reg.Register(std::make_unique<FakeBackend>("a")).ok());
  ASSERT_TRUE(reg.Register(std::make_unique<FakeBackend>("b")).ok());
  EXPECT_FALSE(reg.Register(std::make_unique<FakeBackend>("a")).ok());
  EXPECT_EQ(reg.Names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(reg.Find("c"), nullptr);
}

TEST(BackendRegistryTest, LoadValidatesBackendFormatAndOptions) {
  BackendRegistry reg;
  ASSERT_TRUE(reg.Register(std::make_unique<FakeBackend>("fake")).ok());
  ASSERT_TRUE(reg.Register(std::make_unique<FakeBackend>("gone", false)).ok());
  SessionOptions opts;

  auto unknown = reg.Load("nope", OnnxBytes(), opts);
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  EXPECT_NE(unknown.status().message().find("available: fake, gone"), std::string::npos);

  EXPECT_EQ(reg.Load("gone", OnnxBytes(), opts).status().code(), StatusCode::kUnavailable);

  auto wrong_format = reg.Load("fake", ModelSource::FromBytes(ModelFormat::kDarknet, {1}), opts);
  EXPECT_EQ(wrong_format.status().code(), StatusCode::kUnsupported);

  opts.backend_options = {{"colour", "red"}};
  auto bad_opt = reg.Load("fake", OnnxBytes(), opts);
  EXPECT_EQ(bad_opt.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_opt.status().message().find("no option 'colour'"), std::string::npos);

  opts.backend_options = {{"mode", "medium"}};
  EXPECT_EQ(reg.Load("fake", OnnxBytes(), opts).status().code(), StatusCode::kInvalidArgument);

  opts.backend_options = {{"mode", "slow"}, {"path", "anything"}};
  auto ok = reg.Load("fake", OnnxBytes(), opts);
  ASSERT_TRUE(ok.has_value()) << ok.status().ToString();
  EXPECT_EQ((*ok)->Inputs().size(), 1u);
}

}  // namespace
}  // namespace deepedge
