// Trains DeepEdge's Fashion-MNIST classifier with libtorch and exports it to ONNX.
//
//   train_fashion_mnist -o models/fashion_mnist_cnn.onnx [--epochs 4] [--seed 1]
//   train_fashion_mnist --compare DIR   (libtorch vs `deepedge infer` on the test set)
//
// Deterministic for a given seed and thread count: the weights' initialisation, the
// shuffling and the augmentation all draw from libtorch's CPU generator seeded once.
#include <torch/torch.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "deepedge/file_util.h"
#include "deepedge/idx.h"
#include "deepedge/npy.h"
#include "deepedge/tensor.h"
#include "model_spec.h"
#include "onnx_export.h"

namespace deepedge::train {
namespace {

// Conv (no bias) -> BatchNorm -> ReLU; the submodule names give the parameter names
// the exporter expects ("conv0.conv.weight", "conv0.bn.running_var", ...).
struct ConvBnImpl : torch::nn::Module {
  ConvBnImpl(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride,
             std::int64_t groups)
      : conv(register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel)
                                                           .stride(stride)
                                                           .padding(kernel / 2)
                                                           .groups(groups)
                                                           .bias(false)))),
        bn(register_module("bn", torch::nn::BatchNorm2d(out))) {}
  torch::Tensor forward(const torch::Tensor& x) { return torch::relu(bn(conv(x))); }
  torch::nn::Conv2d conv;
  torch::nn::BatchNorm2d bn;
};
TORCH_MODULE(ConvBn);

struct BlockImpl : torch::nn::Module {
  BlockImpl(std::int64_t in, std::int64_t out, std::int64_t stride)
      : dw(register_module("dw", ConvBn(in, in, 3, stride, in))),
        pw(register_module("pw", ConvBn(in, out, 1, 1, 1))) {}
  torch::Tensor forward(const torch::Tensor& x) { return pw(dw(x)); }
  ConvBn dw;
  ConvBn pw;
};
TORCH_MODULE(Block);

struct NetImpl : torch::nn::Module {
  NetImpl() : conv0(register_module("conv0", ConvBn(1, kStemChannels, 3, 1, 1))) {
    std::int64_t channels = kStemChannels;
    int i = 1;
    for (const BlockSpec& b : kBlocks) {
      blocks.push_back(
          register_module("block" + std::to_string(i++), Block(channels, b.out, b.stride)));
      channels = b.out;
    }
    fc = register_module("fc", torch::nn::Linear(channels, kClasses));
  }
  // Logits [N, 10].
  torch::Tensor forward(torch::Tensor x) {
    x = conv0(x);
    for (Block& b : blocks) x = b(x);
    return fc(x.mean({2, 3}));
  }
  ConvBn conv0;
  std::vector<Block> blocks;
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(Net);

// uint8 [N, 28, 28] -> float [N, 1, 28, 28], pixel / 255.
torch::Tensor ToInput(const IdxImages& im) {
  torch::Tensor u8 = torch::from_blob(const_cast<std::uint8_t*>(im.pixels.data()),
                                      {im.count, 1, im.rows, im.cols}, torch::kUInt8);
  return u8.to(torch::kFloat32).div_(255.0f);
}

torch::Tensor ToLabels(const std::vector<std::uint8_t>& labels) {
  return torch::from_blob(const_cast<std::uint8_t*>(labels.data()),
                          {static_cast<std::int64_t>(labels.size())}, torch::kUInt8)
      .to(torch::kInt64);
}

// Class probabilities [N, 10] in eval mode, in batches of the training size (batches
// of 1000 made oneDNN's convolutions many times slower per image).
torch::Tensor Predict(Net& net, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  net->eval();
  std::vector<torch::Tensor> parts;
  constexpr std::int64_t kBatch = 128;
  for (std::int64_t i = 0; i < x.size(0); i += kBatch) {
    parts.push_back(
        torch::softmax(net->forward(x.slice(0, i, std::min(i + kBatch, x.size(0)))), 1));
  }
  return torch::cat(parts);
}

WeightMap Weights(Net& net) {
  WeightMap out;
  auto add = [&out](const std::string& name, const torch::Tensor& t) {
    torch::Tensor c = t.detach().to(torch::kFloat32).contiguous();
    FloatTensor ft;
    ft.dims = c.sizes().vec();
    ft.values.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
    out[name] = std::move(ft);
  };
  for (const auto& p : net->named_parameters()) add(p.key(), p.value());
  for (const auto& b : net->named_buffers()) {
    // A training-only counter, not part of the inference graph.
    if (b.key().ends_with("num_batches_tracked")) continue;
    add(b.key(), b.value());
  }
  return out;
}

Status WriteNpy(const std::filesystem::path& path, const torch::Tensor& t) {
  torch::Tensor c = t.to(torch::kFloat32).contiguous();
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor out, Tensor::Allocate(DType::kF32, Shape(c.sizes().vec())));
  std::memcpy(out.data(), c.data_ptr<float>(), out.byte_size());
  return WriteFileAtomic(path, EncodeNpy(out));
}

// "0.003", not std::to_string's "0.003000".
std::string Shortest(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

struct Options {
  std::string data = kFashionMnistDebianDir;
  std::string output;
  int epochs = 4;
  std::uint64_t seed = 1;
  int batch = 128;
  double lr = 3e-3;
  int threads = 2;
  std::int64_t train_limit = 0;
  std::string check_dir;
  std::string checkpoint;
  std::string compare_dir;
  std::string command;
};

int Fail(const Status& s) {
  std::fprintf(stderr, "train_fashion_mnist: error: %s\n", s.message().c_str());
  return 2;
}

int Train(const Options& o) {
  torch::set_num_threads(o.threads);
  torch::manual_seed(o.seed);
  Expected<IdxLabelledImages> train = ReadFashionMnist(o.data, "train");
  if (!train) return Fail(train.status());
  Expected<IdxLabelledImages> test = ReadFashionMnist(o.data, "test");
  if (!test) return Fail(test.status());
  torch::Tensor x_train = ToInput(train->images);
  torch::Tensor y_train = ToLabels(train->labels);
  if (o.train_limit > 0 && o.train_limit < x_train.size(0)) {
    x_train = x_train.slice(0, 0, o.train_limit);
    y_train = y_train.slice(0, 0, o.train_limit);
  }
  const torch::Tensor x_test = ToInput(test->images);
  const torch::Tensor y_test = ToLabels(test->labels);
  const std::int64_t n = x_train.size(0);

  Net net;
  std::int64_t params = 0;
  for (const auto& p : net->parameters()) params += p.numel();
  std::printf(
      "train %lld images, test %lld, %lld parameters, %d epochs, batch %d, seed %llu, "
      "%d threads\n",
      static_cast<long long>(n), static_cast<long long>(x_test.size(0)),
      static_cast<long long>(params), o.epochs, o.batch, static_cast<unsigned long long>(o.seed),
      o.threads);
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(o.lr));
  const std::int64_t steps_per_epoch = (n + o.batch - 1) / o.batch;
  const std::int64_t total_steps = steps_per_epoch * o.epochs;
  std::int64_t step = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int epoch = 1; epoch <= o.epochs; ++epoch) {
    net->train();
    const torch::Tensor perm = torch::randperm(n, torch::kInt64);
    double loss_sum = 0;
    std::int64_t correct = 0;
    for (std::int64_t i = 0; i < n; i += o.batch) {
      // Cosine decay to zero over the whole run, per step.
      const double lr =
          0.5 * o.lr *
          (1 + std::cos(M_PI * static_cast<double>(step) / static_cast<double>(total_steps)));
      for (auto& g : opt.param_groups())
        static_cast<torch::optim::AdamOptions&>(g.options()).lr(lr);
      const torch::Tensor idx = perm.slice(0, i, std::min(i + o.batch, n));
      torch::Tensor x = x_train.index_select(0, idx);
      const torch::Tensor y = y_train.index_select(0, idx);
      // Augmentation: mirror half the images left-right (garments are symmetric
      // enough that a mirrored shirt is still a shirt).
      const torch::Tensor flip = torch::rand({x.size(0), 1, 1, 1}) < 0.5;
      x = torch::where(flip, x.flip({3}), x);
      opt.zero_grad();
      const torch::Tensor logits = net->forward(x);
      const torch::Tensor loss = torch::nn::functional::cross_entropy(logits, y);
      loss.backward();
      opt.step();
      loss_sum += loss.item<double>() * static_cast<double>(x.size(0));
      correct += logits.argmax(1).eq(y).sum().item<std::int64_t>();
      ++step;
      if (step % 100 == 0) {
        std::printf("  step %lld / %lld, %.0f s elapsed\n", static_cast<long long>(step),
                    static_cast<long long>(total_steps),
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        std::fflush(stdout);
      }
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // The test set is scored once, after training: it plays no part in choosing
    // anything, and scoring it each epoch cost as much as a third of an epoch.
    std::printf("epoch %d: loss %.4f, train acc %.2f %%, %.0f s elapsed\n", epoch,
                loss_sum / static_cast<double>(n),
                100.0 * static_cast<double>(correct) / static_cast<double>(n), secs);
    std::fflush(stdout);
  }
  const double train_secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!o.checkpoint.empty()) torch::save(net, o.checkpoint);
  const torch::Tensor probs = Predict(net, x_test);
  const std::int64_t right = probs.argmax(1).eq(y_test).sum().item<std::int64_t>();
  const double acc = static_cast<double>(right) / static_cast<double>(y_test.size(0));
  char acc_text[64];
  std::snprintf(acc_text, sizeof acc_text, "%.4f", acc);
  std::printf("final test accuracy %s (%lld / %lld), training %.0f s\n", acc_text,
              static_cast<long long>(right), static_cast<long long>(y_test.size(0)), train_secs);

  const std::vector<std::pair<std::string, std::string>> meta = {
      {"deepedge.task", "classification"},
      {"deepedge.dataset", "Fashion-MNIST (Debian dataset-fashion-mnist)"},
      {"deepedge.preprocessing", "grey uint8 pixel / 255 -> float [N, 1, 28, 28]"},
      {"deepedge.labels",
       "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot"},
      {"deepedge.train.command", o.command},
      {"deepedge.train.seed", std::to_string(o.seed)},
      {"deepedge.train.epochs", std::to_string(o.epochs)},
      {"deepedge.train.batch", std::to_string(o.batch)},
      {"deepedge.train.optimizer",
       "Adam, lr " + Shortest(o.lr) + ", cosine decay to 0, no weight decay"},
      {"deepedge.train.images", std::to_string(n)},
      {"deepedge.train.threads", std::to_string(o.threads)},
      {"deepedge.train.framework", "libtorch " TORCH_VERSION},
      {"deepedge.test.accuracy", acc_text},
      {"deepedge.test.correct", std::to_string(right) + "/" + std::to_string(y_test.size(0))},
  };
  Expected<std::vector<std::uint8_t>> model = ExportOnnx(Weights(net), meta);
  if (!model) return Fail(model.status());
  if (Status s = WriteFileAtomic(o.output, *model); !s.ok()) return Fail(s);
  std::printf("wrote %s (%zu bytes)\n", o.output.c_str(), model->size());

  if (!o.check_dir.empty()) {
    // Inputs for `deepedge infer` in chunks of 1000 (the engine's intermediates for
    // 10,000 images at once would need gigabytes), and libtorch's probabilities.
    std::filesystem::create_directories(o.check_dir);
    for (std::int64_t i = 0; i < x_test.size(0); i += 1000) {
      const std::string k = std::to_string(i / 1000);
      if (Status s = WriteNpy(std::filesystem::path(o.check_dir) / ("input_" + k + ".npy"),
                              x_test.slice(0, i, i + 1000));
          !s.ok()) {
        return Fail(s);
      }
    }
    if (Status s = WriteNpy(std::filesystem::path(o.check_dir) / "torch_output.npy", probs);
        !s.ok()) {
      return Fail(s);
    }
    std::printf("wrote the test set and libtorch's outputs to %s\n", o.check_dir.c_str());
  }
  return 0;
}

// Compares `deepedge infer`'s outputs (DIR/engine_K/output.npy) with libtorch's
// (DIR/torch_output.npy) and both with the labels.
int Compare(const Options& o) {
  const std::filesystem::path dir = o.compare_dir;
  Expected<IdxLabelledImages> test = ReadFashionMnist(o.data, "test");
  if (!test) return Fail(test.status());
  Expected<Tensor> ref = ReadNpy(dir / "torch_output.npy");
  if (!ref) return Fail(ref.status());
  const std::int64_t n = static_cast<std::int64_t>(test->labels.size());
  if (ref->shape() != Shape{n, kClasses}) return Fail(Corrupt("torch_output.npy: wrong shape"));
  const float* r = static_cast<const float*>(ref->data());
  std::int64_t agree = 0, engine_right = 0, torch_right = 0;
  double max_diff = 0;
  for (std::int64_t chunk = 0; chunk * 1000 < n; ++chunk) {
    const auto path = dir / ("engine_" + std::to_string(chunk)) / "output.npy";
    Expected<Tensor> e = ReadNpy(path);
    if (!e) return Fail(e.status());
    if (e->shape() != Shape{1000, kClasses} || e->dtype() != DType::kF32) {
      return Fail(
          Corrupt(path.string() + ": expected float 1000x10, got " + e->shape().ToString()));
    }
    const float* p = static_cast<const float*>(e->data());
    for (std::int64_t i = 0; i < 1000; ++i) {
      const std::int64_t s = chunk * 1000 + i;
      const float* pe = p + i * kClasses;
      const float* pt = r + s * kClasses;
      const auto ae = std::max_element(pe, pe + kClasses) - pe;
      const auto at = std::max_element(pt, pt + kClasses) - pt;
      agree += ae == at;
      engine_right += ae == test->labels[s];
      torch_right += at == test->labels[s];
      for (int c = 0; c < kClasses; ++c) {
        max_diff = std::max(max_diff, static_cast<double>(std::fabs(pe[c] - pt[c])));
      }
    }
  }
  std::printf("engine vs libtorch: top-1 agrees on %lld / %lld, max |prob diff| %.3g\n",
              static_cast<long long>(agree), static_cast<long long>(n), max_diff);
  std::printf("top-1 accuracy: engine %.4f (%lld), libtorch %.4f (%lld)\n",
              static_cast<double>(engine_right) / static_cast<double>(n),
              static_cast<long long>(engine_right),
              static_cast<double>(torch_right) / static_cast<double>(n),
              static_cast<long long>(torch_right));
  return agree == n ? 0 : 1;
}

}  // namespace
}  // namespace deepedge::train

int main(int argc, char** argv) {
  deepedge::train::Options o;
  CLI::App app{"Train DeepEdge's Fashion-MNIST classifier (libtorch) and export it to ONNX"};
  app.add_option("--data", o.data, "Directory of the Fashion-MNIST IDX files")
      ->capture_default_str();
  app.add_option("-o,--output", o.output, "The ONNX model to write");
  app.add_option("--epochs", o.epochs, "Passes over the training set")->capture_default_str();
  app.add_option("--seed", o.seed, "Seed of initialisation, shuffling and augmentation")
      ->capture_default_str();
  app.add_option("--batch", o.batch, "Mini-batch size")->capture_default_str();
  app.add_option("--lr", o.lr, "Adam's initial learning rate")->capture_default_str();
  app.add_option("--threads", o.threads, "libtorch threads")->capture_default_str();
  app.add_option("--train-limit", o.train_limit, "Use only the first N training images (tests)");
  app.add_option("--check-dir", o.check_dir,
                 "Also write the test inputs (.npy) and libtorch's outputs here");
  app.add_option("--checkpoint", o.checkpoint, "Also save the trained libtorch model here");
  app.add_option("--compare", o.compare_dir,
                 "Compare `deepedge infer` outputs in DIR with libtorch's (no training)");
  CLI11_PARSE(app, argc, argv);
  // The options that determine the model (not the paths), for its metadata.
  o.command = "train_fashion_mnist --epochs " + std::to_string(o.epochs) + " --seed " +
              std::to_string(o.seed) + " --batch " + std::to_string(o.batch) + " --lr " +
              deepedge::train::Shortest(o.lr) + " --threads " + std::to_string(o.threads);
  if (o.train_limit > 0) o.command += " --train-limit " + std::to_string(o.train_limit);
  try {
    if (!o.compare_dir.empty()) return deepedge::train::Compare(o);
    if (o.output.empty()) {
      std::fprintf(stderr, "train_fashion_mnist: error: -o/--output is required\n");
      return 2;
    }
    return deepedge::train::Train(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_fashion_mnist: error: %s\n", e.what());
    return 2;
  }
}
