// The backends that live in modules (apps/deepedge/module_backend.h) and the split
// of the command into deepedge and deepedge-net.
#include "module_backend.h"

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "support/cli_runner.h"
#include "support/temp_dir.h"

namespace deepedge::app {
namespace {

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(ModuleBackend, TheRemoteModuleLoadsOnFirstUse) {
  auto b = MakeModuleBackend("remote", DEEPEDGE_REMOTE_MODULE_PATH);
  EXPECT_EQ(b->Name(), "remote");
  EXPECT_TRUE(b->Available().ok()) << b->Available().message();
  const auto options = b->Options();
  EXPECT_TRUE(std::any_of(options.begin(), options.end(),
                          [](const OptionSpec& o) { return o.name == "server"; }));
}

#ifdef DEEPEDGE_OPENCV_MODULE_PATH
TEST(ModuleBackend, TheOpenCvModuleReportsOpenCvsCapabilities) {
  auto b = MakeModuleBackend("opencv", DEEPEDGE_OPENCV_MODULE_PATH);
  ASSERT_TRUE(b->Available().ok()) << b->Available().message();
  const Capabilities caps = b->GetCapabilities();
  EXPECT_NE(std::find(caps.formats.begin(), caps.formats.end(), ModelFormat::kOnnx),
            caps.formats.end());
  EXPECT_NE(b->Version().find('.'), std::string::npos) << b->Version();
}
#endif

TEST(ModuleBackend, AMissingModuleIsUnavailableAndNamesTheFile) {
  auto b = MakeModuleBackend("opencv", "/nonexistent/deepedge-backend-opencv.so");
  EXPECT_EQ(b->Name(), "opencv");  // answered without the module
  const Status s = b->Available();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_TRUE(Contains(s.message(), "/nonexistent/deepedge-backend-opencv.so")) << s.message();
  EXPECT_TRUE(b->GetCapabilities().formats.empty());
  ModelSource src;
  src.path = "model.onnx";
  EXPECT_EQ(b->Load(src, {}).status().code(), StatusCode::kUnavailable);
}

TEST(ModuleBackend, ALibraryWithoutTheEntryPointIsRefused) {
  Dl_info info{};
  ASSERT_NE(dladdr(reinterpret_cast<void*>(&dlopen), &info), 0);
  auto b = MakeModuleBackend("opencv", info.dli_fname);  // the C library
  const Status s = b->Available();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_TRUE(Contains(s.message(), "no entry point")) << s.message();
}

TEST(ModuleBackend, AModuleHoldingAnotherBackendIsRefused) {
  auto b = MakeModuleBackend("opencv", DEEPEDGE_REMOTE_MODULE_PATH);
  const Status s = b->Available();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_TRUE(Contains(s.message(), "holds backend 'remote'")) << s.message();
}

class NetSplit : public ::testing::Test {
 protected:
  testing::TempDir dir_;
};

// The point of the split: the command that benchmarks maps none of these.
TEST_F(NetSplit, TheCommandLinksNoNetworkOrOpenCvLibrary) {
  const testing::CliResult r = testing::RunCli("ldd", dir_.path(), DEEPEDGE_BINARY);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(Contains(r.out, "libc.so")) << r.out;
  for (const char* lib : {"libopencv", "libssl", "libcrypto", "libgrpc", "libcpp-httplib"}) {
    EXPECT_FALSE(Contains(r.out, lib)) << lib << " in\n" << r.out;
  }
}

TEST_F(NetSplit, ServeAndRunAreListedAndCarriedOutByDeepEdgeNet) {
  const testing::CliResult help = testing::RunCli(DEEPEDGE_BINARY, dir_.path(), "--help");
  EXPECT_TRUE(Contains(help.out, "serve")) << help.out;
  EXPECT_TRUE(Contains(help.out, "run")) << help.out;
  const testing::CliResult serve = testing::RunCli(DEEPEDGE_BINARY, dir_.path(), "serve --help");
  EXPECT_EQ(serve.exit_code, 0) << serve.err;
  EXPECT_TRUE(Contains(serve.out, "--models")) << serve.out;
  const testing::CliResult bad = testing::RunCli(DEEPEDGE_BINARY, dir_.path(), "run");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_TRUE(Contains(bad.err, "model")) << bad.err;
}

}  // namespace
}  // namespace deepedge::app
