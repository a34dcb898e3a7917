// int8 QConv (engine/kernels/qlinear.h) against the float Conv the `deepedge` backend
// runs (through XNNPACK regions), on MobileNet v1 sized layers, in the same run.
//
// Both run through the engine's executor on one-node graphs: the float graph is
// partitioned for XNNPACK as the backend does (f32 NCHW in and out, so each region
// pays its NCHW <-> NHWC transposes, as a lone layer does in a model); the int8
// graph is one QConv (i8 NCHW in and out). Prints the median of `--reps` runs per
// layer and thread count, and the ratio int8 / f32 (issue 4 wants <= 0.6 for whole
// models). Beside them, the peer: XNNPACK's own operators on the same layer in NHWC
// (f32 and qc8: per-channel int8 weights, as `deepedge quantize` writes), timed alone,
// so that the ratio this CPU allows int8 over f32 in XNNPACK is measured in the same run.
// Usage: qconv_vs_f32 [--reps N] [--threads 1,2] [--only SUBSTRING] [--no-simd | --avx2]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <pthreadpool.h>
#include <xnnpack.h>

#include "engine/executor.h"
#include "engine/kernel.h"
#include "engine/kernels/qlinear.h"
#include "engine/xnnpack/xnn_pass.h"

namespace {

using namespace deepedge;
using i64 = std::int64_t;

struct Layer {
  const char* name;
  i64 C, H, M, k, stride, group;
};

std::shared_ptr<const Tensor> Filled(DType t, Shape s, unsigned seed) {
  Tensor x = Tensor::Allocate(t, std::move(s)).value();
  auto* b = static_cast<std::uint8_t*>(x.data());
  for (std::size_t i = 0; i < x.byte_size(); ++i) {
    seed = seed * 1664525u + 1013904223u;
    b[i] = static_cast<std::uint8_t>(seed >> 24);
  }
  if (t == DType::kF32) {
    for (float& f : x.as<float>()) {
      seed = seed * 1664525u + 1013904223u;
      f = static_cast<float>(seed >> 8) / 16777216.0f - 0.5f;
    }
  }
  return std::make_shared<const Tensor>(std::move(x));
}

std::shared_ptr<ir::Model> Graph(const Layer& l, bool int8) {
  auto m = std::make_shared<ir::Model>();
  const DType t = int8 ? DType::kI8 : DType::kF32;
  const i64 oh = (l.H + 2 * (l.k / 2) - l.k) / l.stride + 1;
  m->graph.inputs = {{"x", t, Shape{1, l.C, l.H, l.H}}};
  m->graph.outputs = {{"y", t, Shape{1, l.M, oh, oh}}};
  m->graph.initializers["w"] = Filled(t, Shape{l.M, l.C / l.group, l.k, l.k}, 3);
  m->graph.initializers["b"] =
      int8 ? Filled(DType::kI32, Shape{l.M}, 4) : Filled(DType::kF32, Shape{l.M}, 4);
  ir::Node n;
  n.name = "conv";
  n.op_type = int8 ? "QConv" : "Conv";
  n.domain = int8 ? engine::kQLinearDomain : "";
  n.opset = int8 ? 1 : 13;
  n.inputs = {"x", "w", "b"};
  n.outputs = {"y"};
  const i64 p = l.k / 2;
  n.attributes["kernel_shape"] = ir::Attribute::Ints({l.k, l.k});
  n.attributes["strides"] = ir::Attribute::Ints({l.stride, l.stride});
  n.attributes["pads"] = ir::Attribute::Ints({p, p, p, p});
  n.attributes["group"] = ir::Attribute::Int(l.group);
  if (int8) {
    n.attributes["x_scale"] = ir::Attribute::Float(0.02f);
    n.attributes["x_zero_point"] = ir::Attribute::Int(-3);
    n.attributes["w_scale"] =
        ir::Attribute::Floats(std::vector<float>(static_cast<std::size_t>(l.M), 0.001f));
    n.attributes["y_scale"] = ir::Attribute::Float(0.05f);
    n.attributes["y_zero_point"] = ir::Attribute::Int(-128);
    n.attributes["y_type"] = ir::Attribute::String("i8");
    // As the QDQ pass sets it for ONNX models (what `deepedge quantize` writes).
    n.attributes["requant"] = ir::Attribute::String("float");
  }
  m->graph.nodes.push_back(std::move(n));
  if (!int8) {
    auto part = engine::PartitionForXnnpack(m->graph);
    if (part) m->graph = std::move(part).value();
  }
  return m;
}

// The classifier: x [1, 1024] times W [1000, 1024]^T + b (Gemm / QGemm).
std::shared_ptr<ir::Model> FcGraph(bool int8) {
  auto m = std::make_shared<ir::Model>();
  const DType t = int8 ? DType::kI8 : DType::kF32;
  m->graph.inputs = {{"x", t, Shape{1, 1024}}};
  m->graph.outputs = {{"y", t, Shape{1, 1000}}};
  m->graph.initializers["w"] = Filled(t, Shape{1000, 1024}, 3);
  m->graph.initializers["b"] =
      int8 ? Filled(DType::kI32, Shape{1000}, 4) : Filled(DType::kF32, Shape{1000}, 4);
  ir::Node n;
  n.name = "fc";
  n.op_type = int8 ? "QGemm" : "Gemm";
  n.domain = int8 ? engine::kQLinearDomain : "";
  n.opset = int8 ? 1 : 13;
  n.inputs = {"x", "w", "b"};
  n.outputs = {"y"};
  if (int8) {
    n.attributes["x_scale"] = ir::Attribute::Float(0.02f);
    n.attributes["w_scale"] = ir::Attribute::Floats({0.001f});
    n.attributes["y_scale"] = ir::Attribute::Float(0.05f);
    n.attributes["y_type"] = ir::Attribute::String("i8");
  } else {
    n.attributes["transB"] = ir::Attribute::Int(1);
  }
  m->graph.nodes.push_back(std::move(n));
  if (!int8) {
    auto part = engine::PartitionForXnnpack(m->graph);
    if (part) m->graph = std::move(part).value();
  }
  return m;
}

double MedianMs(const std::shared_ptr<ir::Model>& m, const engine::KernelRegistry& reg, int threads,
                int reps, const Tensor& x) {
  engine::ExecutorOptions o;
  o.threads = threads;
  auto exec = engine::Executor::Create(m, reg, o);
  if (!exec) {
    std::fprintf(stderr, "error: %s\n", exec.status().ToString().c_str());
    return -1;
  }
  std::vector<Tensor> out;
  for (int i = 0; i < 3; ++i) (void)(*exec)->Run(std::span<const Tensor>(&x, 1), out);
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const auto a = std::chrono::steady_clock::now();
    Status s = (*exec)->Run(std::span<const Tensor>(&x, 1), out);
    const auto b = std::chrono::steady_clock::now();
    if (!s.ok()) {
      std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
      return -1;
    }
    t.push_back(std::chrono::duration<double, std::milli>(b - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// XNNPACK's convolution operator alone on layer l in NHWC: f32, or qc8 (int8 activations,
// per-channel int8 weights, int32 bias). The median of `reps` runs in ms; -1 on failure.
double XnnMedianMs(const Layer& l, bool int8, int threads, int reps) {
  const i64 p = l.k / 2;
  const i64 oh = (l.H + 2 * p - l.k) / l.stride + 1;
  const auto cg = static_cast<std::size_t>(l.C / l.group),
             mg = static_cast<std::size_t>(l.M / l.group);
  const std::size_t wsize =
      static_cast<std::size_t>(l.M) * cg * static_cast<std::size_t>(l.k * l.k);
  const auto in_size = static_cast<std::size_t>(l.C * l.H * l.H);
  const auto out_size = static_cast<std::size_t>(l.M * oh * oh);
  pthreadpool_t pool =
      threads > 1 ? pthreadpool_create(static_cast<std::size_t>(threads)) : nullptr;
  xnn_operator_t op = nullptr;
  std::vector<float> wf(wsize, 0.01f), bf(static_cast<std::size_t>(l.M), 0.1f),
      scales(static_cast<std::size_t>(l.M), 0.001f);
  std::vector<std::int8_t> wq(wsize, 3);
  std::vector<std::int32_t> bq(static_cast<std::size_t>(l.M), 7);
  std::vector<float> xf(in_size, 0.5f), yf(out_size);
  std::vector<std::int8_t> xq(in_size, 5), yq(out_size);
  const auto u = [](i64 v) { return static_cast<std::uint32_t>(v); };
  xnn_status st;
  if (int8) {
    st = xnn_create_convolution2d_nhwc_qc8(
        u(p), u(p), u(p), u(p), u(l.k), u(l.k), u(l.stride), u(l.stride), 1, 1, u(l.group), cg, mg,
        static_cast<std::size_t>(l.C), static_cast<std::size_t>(l.M), -3, 0.02f, scales.data(),
        wq.data(), bq.data(), -128, 0.05f, -128, 127, 0, &op);
    if (st == xnn_status_success) {
      st = xnn_setup_convolution2d_nhwc_qc8(op, 1, static_cast<std::size_t>(l.H),
                                            static_cast<std::size_t>(l.H), xq.data(), yq.data(),
                                            pool);
    }
  } else {
    st = xnn_create_convolution2d_nhwc_f32(
        u(p), u(p), u(p), u(p), u(l.k), u(l.k), u(l.stride), u(l.stride), 1, 1, u(l.group), cg, mg,
        static_cast<std::size_t>(l.C), static_cast<std::size_t>(l.M), wf.data(), bf.data(), 0.0f,
        6.0f, 0, &op);
    if (st == xnn_status_success) {
      st = xnn_setup_convolution2d_nhwc_f32(op, 1, static_cast<std::size_t>(l.H),
                                            static_cast<std::size_t>(l.H), xf.data(), yf.data(),
                                            pool);
    }
  }
  double median = -1;
  if (st == xnn_status_success) {
    for (int i = 0; i < 3; ++i) (void)xnn_run_operator(op, pool);
    std::vector<double> t;
    for (int i = 0; i < reps; ++i) {
      const auto a = std::chrono::steady_clock::now();
      st = xnn_run_operator(op, pool);
      t.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
    }
    std::sort(t.begin(), t.end());
    if (st == xnn_status_success) median = t[t.size() / 2];
  }
  if (op != nullptr) xnn_delete_operator(op);
  if (pool != nullptr) pthreadpool_destroy(pool);
  return median;
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 50;
  std::vector<int> threads = {1, 2};
  const char* only = "";  // --only SUBSTRING: the layers whose name contains it
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--no-simd") == 0) engine::SetQLinearIsa(engine::QLinearIsa::kPlain);
    if (std::strcmp(argv[i], "--avx2") == 0) engine::SetQLinearIsa(engine::QLinearIsa::kAvx2);
  }
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--reps") == 0) reps = std::max(1, std::atoi(argv[i + 1]));
    if (std::strcmp(argv[i], "--only") == 0) only = argv[i + 1];
    if (std::strcmp(argv[i], "--threads") == 0) {
      threads.clear();
      for (const char* p = argv[i + 1]; *p;) {
        threads.push_back(std::max(1, std::atoi(p)));
        while (*p && *p != ',') ++p;
        if (*p == ',') ++p;
      }
    }
  }
  engine::KernelRegistry reg;
  engine::RegisterAllKernels(reg);
  engine::RegisterXnnpackKernels(reg);
  const Layer layers[] = {
      {"conv1 3x3 s2 3->32 @224", 3, 224, 32, 3, 2, 1},
      {"dw2 3x3 32 @112", 32, 112, 32, 3, 1, 32},
      {"pw2 1x1 32->64 @112", 32, 112, 64, 1, 1, 1},
      {"dw4 3x3 s2 128 @56", 128, 56, 128, 3, 2, 128},
      {"pw6 1x1 256->256 @28", 256, 28, 256, 1, 1, 1},
      {"pw8 1x1 512->512 @14", 512, 14, 512, 1, 1, 1},
      {"dw8 3x3 512 @14", 512, 14, 512, 3, 1, 512},
      {"pw13 1x1 1024->1024 @7", 1024, 7, 1024, 1, 1, 1},
      // MobileNet v2's narrow layers: expansion, depthwise and projection at 14 and 7.
      {"v2 expand 1x1 96->576 @14", 96, 14, 576, 1, 1, 1},
      {"v2 dw 3x3 576 @14", 576, 14, 576, 3, 1, 576},
      {"v2 project 1x1 576->96 @14", 576, 14, 96, 1, 1, 1},
      {"v2 dw 3x3 960 @7", 960, 7, 960, 3, 1, 960},
      {"v2 project 1x1 960->160 @7", 960, 7, 160, 1, 1, 1},
  };
  std::printf("QConv (int8) vs Conv (f32, XNNPACK region), median of %d runs; SIMD int8 path: %s\n",
              reps, engine::QLinearIsaName(engine::QLinearActiveIsa()));
  if (xnn_initialize(nullptr) != xnn_status_success) {
    std::fprintf(stderr, "error: xnn_initialize failed\n");
    return 1;
  }
  std::printf("%-28s %7s %9s %9s %8s %11s %11s %8s\n", "layer", "threads", "f32 ms", "int8 ms",
              "int8/f32", "XNN f32 ms", "XNN qc8 ms", "qc8/f32");
  for (const Layer& l : layers) {
    if (std::strstr(l.name, only) == nullptr) continue;
    auto f = Graph(l, false);
    auto q = Graph(l, true);
    const Tensor xf = Filled(DType::kF32, Shape{1, l.C, l.H, l.H}, 1)->Clone();
    const Tensor xq = Filled(DType::kI8, Shape{1, l.C, l.H, l.H}, 1)->Clone();
    for (int t : threads) {
      const double a = MedianMs(f, reg, t, reps, xf);
      const double b = MedianMs(q, reg, t, reps, xq);
      const double xa = XnnMedianMs(l, false, t, reps);
      const double xb = XnnMedianMs(l, true, t, reps);
      std::printf("%-28s %7d %9.3f %9.3f %8.2f %11.3f %11.3f %8.2f\n", l.name, t, a, b,
                  a > 0 ? b / a : 0.0, xa, xb, xa > 0 ? xb / xa : 0.0);
    }
  }
  {
    auto f = FcGraph(false);
    auto q = FcGraph(true);
    const Tensor xf = Filled(DType::kF32, Shape{1, 1024}, 1)->Clone();
    const Tensor xq = Filled(DType::kI8, Shape{1, 1024}, 1)->Clone();
    for (int t : threads) {
      const double a = MedianMs(f, reg, t, reps, xf);
      const double b = MedianMs(q, reg, t, reps, xq);
      std::printf("%-28s %7d %9.3f %9.3f %8.2f\n", "fc 1024->1000 (Gemm)", t, a, b,
                  a > 0 ? b / a : 0.0);
    }
  }
  return 0;
}
