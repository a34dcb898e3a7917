// The OpenCV DNN backend.
//
// OpenCV 4.6 has no API that lists a network's inputs, so the session describes them
// from the model file itself: the ONNX graph (through deepedge_onnx), the Caffe
// prototxt's input declaration, or the Darknet cfg's [net] section. TensorFlow frozen
// graphs declare nothing readable without TensorFlow's protos: their one input has a
// dynamic shape that the caller supplies (--input-shape).
#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/dnn.hpp>

#include <regex>
#include <sstream>

#include "deepedge/backends.h"
#include "deepedge/file_util.h"
#include "deepedge/onnx_model.h"
#include "onnx_compat.h"

namespace deepedge {
namespace {

constexpr std::string_view kName = "opencv";

std::string Where(const ModelSource& src) {
  return src.display_name();
}

Expected<std::string> DescriptionText(const ModelSource& src) {
  if (src.in_memory()) return std::string(src.bytes.begin(), src.bytes.end());
  return ReadFileText(src.path);
}

// Caffe: `input: "data"` with four `input_dim:` lines, or an `input_shape { dim: .. }`
// block, or an Input layer with `shape { dim: .. }`.
Expected<std::vector<TensorInfo>> CaffeInputs(const ModelSource& src) {
  DEEPEDGE_ASSIGN_OR_RETURN(std::string text, DescriptionText(src));
  TensorInfo info{"data", DType::kF32, Shape{}};
  std::smatch m;
  if (std::regex_search(text, m, std::regex(R"(\binput\s*:\s*"([^"]+)\")"))) info.name = m[1];
  std::size_t from = text.find("input_dim");
  std::regex dim_re(R"(\binput_dim\s*:\s*(\d+))");
  if (from == std::string::npos) {
    from = text.find("input_shape");
    if (from == std::string::npos) from = text.find("input_param");
    dim_re = std::regex(R"(\bdim\s*:\s*(\d+))");
    if (from == std::string::npos) {
      return InvalidArgument(Where(src) + ": the prototxt declares no input shape");
    }
  }
  std::vector<std::int64_t> dims;
  const std::string rest = text.substr(from);
  for (auto it = std::sregex_iterator(rest.begin(), rest.end(), dim_re);
       it != std::sregex_iterator() && dims.size() < 4; ++it) {
    dims.push_back(std::stoll((*it)[1]));
  }
  if (dims.empty()) return InvalidArgument(Where(src) + ": cannot read the input dimensions");
  if (dims.size() == 4) dims[0] = Shape::kDynamic;  // the batch is the caller's choice
  info.shape = Shape(std::move(dims));
  return std::vector<TensorInfo>{info};
}

// Darknet: width, height and channels from the [net] section.
Expected<std::vector<TensorInfo>> DarknetInputs(const ModelSource& src) {
  DEEPEDGE_ASSIGN_OR_RETURN(std::string text, DescriptionText(src));
  std::istringstream in(text);
  std::string line;
  bool in_net = false;
  std::map<std::string, std::int64_t> kv;
  while (std::getline(in, line)) {
    line.erase(0, line.find_first_not_of(" \t"));
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line[0] == '[') {
      in_net = line.rfind("[net]", 0) == 0 || line.rfind("[network]", 0) == 0;
      continue;
    }
    const std::size_t eq = line.find('=');
    if (!in_net || eq == std::string::npos) continue;
    std::string key = line.substr(0, eq);
    key.erase(key.find_last_not_of(" \t") + 1);
    try {
      kv[key] = std::stoll(line.substr(eq + 1));
    } catch (const std::exception&) {
      // Non-numeric [net] keys (policy=steps, ...) do not describe the input.
    }
  }
  if (!kv.count("width") || !kv.count("height")) {
    return InvalidArgument(Where(src) + ": the cfg's [net] section has no width/height");
  }
  const std::int64_t channels = kv.count("channels") ? kv["channels"] : 3;
  return std::vector<TensorInfo>{
      {"data", DType::kF32, Shape{Shape::kDynamic, channels, kv["height"], kv["width"]}}};
}

class OpenCvSession final : public Session {
 public:
  OpenCvSession(cv::dnn::Net net, std::vector<TensorInfo> inputs, std::vector<TensorInfo> outputs,
                int threads)
      : net_(std::move(net)),
        inputs_(std::move(inputs)),
        outputs_(std::move(outputs)),
        threads_(threads) {
    for (const TensorInfo& o : outputs_) output_names_.push_back(o.name);
  }

  const std::vector<TensorInfo>& Inputs() const override { return inputs_; }
  const std::vector<TensorInfo>& Outputs() const override { return outputs_; }

  Status Run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs) override {
    if (inputs.size() != inputs_.size()) {
      return InvalidArgument("expected " + std::to_string(inputs_.size()) + " inputs, got " +
                             std::to_string(inputs.size()));
    }
    try {
      if (threads_ > 0 && cv::getNumThreads() != threads_) cv::setNumThreads(threads_);
      for (std::size_t i = 0; i < inputs.size(); ++i) {
        const Tensor& t = inputs[i];
        if (t.dtype() != DType::kF32) {
          return Unsupported("opencv takes f32 inputs; input '" + inputs_[i].name + "' is " +
                             std::string(DTypeName(t.dtype())));
        }
        std::vector<int> dims(t.shape().dims().begin(), t.shape().dims().end());
        // OpenCV only reads the blob; the cast drops const for its Mat header.
        cv::Mat blob(static_cast<int>(dims.size()), dims.data(), CV_32F,
                     const_cast<void*>(t.data()));
        net_.setInput(blob, unnamed_input_ ? "" : inputs_[i].name);
      }
      net_.forward(blobs_, output_names_);
    } catch (const cv::Exception& e) {
      return Internal("opencv: " + std::string(e.err));
    } catch (const std::exception& e) {
      return Internal(std::string("opencv: ") + e.what());
    }
    outputs.resize(blobs_.size());
    for (std::size_t i = 0; i < blobs_.size(); ++i) {
      const cv::Mat& m = blobs_[i];
      if (m.depth() != CV_32F) return Internal("opencv returned a non-f32 output");
      std::vector<std::int64_t> dims(m.size.p, m.size.p + m.dims);
      Shape shape(std::move(dims));
      if (outputs[i].shape() != shape || outputs[i].dtype() != DType::kF32) {
        DEEPEDGE_ASSIGN_OR_RETURN(outputs[i], Tensor::Allocate(DType::kF32, shape));
      }
      std::memcpy(outputs[i].data(), m.ptr(), outputs[i].byte_size());
    }
    return Status::Ok();
  }

  Expected<std::vector<LayerProfile>> LastProfile() const override {
    try {
      std::vector<double> ticks;
      net_.getPerfProfile(ticks);
      const std::vector<cv::String> names = net_.getLayerNames();
      const double ms_per_tick = 1e3 / cv::getTickFrequency();
      std::vector<LayerProfile> layers;
      for (std::size_t i = 0; i < ticks.size() && i < names.size(); ++i) {
        // Layers fused into their neighbour report 0 ticks: they took no time of their own.
        const cv::Ptr<cv::dnn::Layer> layer = net_.getLayer(names[i]);
        layers.push_back({names[i], layer ? layer->type : "", ticks[i] * ms_per_tick});
      }
      return layers;
    } catch (const cv::Exception& e) {
      return Internal("opencv: " + std::string(e.err));
    }
  }

  void set_unnamed_input(bool v) { unnamed_input_ = v; }

 private:
  mutable cv::dnn::Net net_;  // getPerfProfile is not const in OpenCV's API
  std::vector<TensorInfo> inputs_;
  std::vector<TensorInfo> outputs_;
  std::vector<cv::String> output_names_;
  std::vector<cv::Mat> blobs_;
  int threads_ = 0;
  bool unnamed_input_ = false;
};

class OpenCvBackend final : public Backend {
 public:
  OpenCvBackend() {
    // OpenCV logs its own multi-line errors to stderr; DeepEdge reports them as Status.
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
  }

  std::string_view Name() const override { return kName; }
  std::string Version() const override { return CV_VERSION; }
  Capabilities GetCapabilities() const override {
    Capabilities caps;
    caps.formats = {ModelFormat::kOnnx, ModelFormat::kCaffe, ModelFormat::kTensorFlow,
                    ModelFormat::kDarknet};
    caps.input_dtypes = {DType::kF32};
    caps.per_layer_profile = true;
    caps.load_from_bytes = true;
    return caps;
  }
  std::vector<OptionSpec> Options() const override {
    return {
        {"target", "where OpenCV runs the network", "cpu", {"cpu", "opencl", "opencl-fp16"}},
        {"fusion", "let OpenCV fuse layers (conv + batch norm + activation)", "on", {"on", "off"}},
    };
  }

  Expected<std::unique_ptr<Session>> Load(const ModelSource& src,
                                          const SessionOptions& options) const override {
    std::vector<TensorInfo> inputs;
    std::vector<TensorInfo> outputs;
    bool unnamed_input = false;
    if (src.format == ModelFormat::kOnnx) {
      // Parsing first turns a corrupt file into a clear error before OpenCV sees it.
      DEEPEDGE_ASSIGN_OR_RETURN(ModelInfo info, InspectOnnx(src));
      inputs = info.inputs;
      outputs = info.outputs;
    } else if (src.format == ModelFormat::kCaffe) {
      DEEPEDGE_ASSIGN_OR_RETURN(inputs, CaffeInputs(src));
    } else if (src.format == ModelFormat::kDarknet) {
      DEEPEDGE_ASSIGN_OR_RETURN(inputs, DarknetInputs(src));
      unnamed_input = true;
    } else if (src.format == ModelFormat::kTensorFlow) {
      inputs = {{"input", DType::kF32,
                 Shape{Shape::kDynamic, Shape::kDynamic, Shape::kDynamic, Shape::kDynamic}}};
      unnamed_input = true;
    }
    for (const TensorInfo& in : inputs) {
      if (in.dtype != DType::kF32) {
        return Unsupported(Where(src) + ": input '" + in.name + "' is " +
                           std::string(DTypeName(in.dtype)) + "; opencv takes f32 inputs");
      }
    }
    cv::dnn::Net net;
    try {
      if (src.format == ModelFormat::kOnnx) {
        DEEPEDGE_ASSIGN_OR_RETURN(std::vector<std::uint8_t> rewritten,
                                  opencv_backend::RewriteClipBoundsForOpenCv(src));
        net = rewritten.empty()
                  ? ReadNet(src)
                  : cv::dnn::readNetFromONNX(reinterpret_cast<const char*>(rewritten.data()),
                                             rewritten.size());
      } else {
        net = ReadNet(src);
      }
      if (net.empty()) return Corrupt(Where(src) + ": opencv could not read the model");
      const auto target = Option(options, "target", "cpu");
      net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
      if (target != "cpu") {
        const int id =
            target == "opencl" ? cv::dnn::DNN_TARGET_OPENCL : cv::dnn::DNN_TARGET_OPENCL_FP16;
        const auto avail = cv::dnn::getAvailableTargets(cv::dnn::DNN_BACKEND_OPENCV);
        if (std::find(avail.begin(), avail.end(), id) == avail.end()) {
          return Unavailable("opencv target '" + target + "' is not available on this machine");
        }
        net.setPreferableTarget(id);
      }
      net.enableFusion(Option(options, "fusion", "on") == "on");
      if (options.threads > 0) cv::setNumThreads(options.threads);
      if (outputs.empty()) {
        for (const cv::String& name : net.getUnconnectedOutLayersNames()) {
          outputs.push_back({name, DType::kF32, Shape{Shape::kDynamic}});
        }
      }
    } catch (const cv::Exception& e) {
      return LoadError(src, e.err);
    } catch (const std::exception& e) {
      return LoadError(src, e.what());
    }
    auto session = std::make_unique<OpenCvSession>(std::move(net), std::move(inputs),
                                                   std::move(outputs), options.threads);
    session->set_unnamed_input(unnamed_input);
    return std::unique_ptr<Session>(std::move(session));
  }

 private:
  static std::string Option(const SessionOptions& o, const std::string& key,
                            const std::string& fallback) {
    auto it = o.backend_options.find(key);
    return it == o.backend_options.end() ? fallback : it->second;
  }
  // OpenCV's importer messages span lines and repeat its source location; keep the
  // first line, without the "> " quoting and the "OpenCV(4.6.0) file:line:" prefix.
  static Status LoadError(const ModelSource& src, const std::string& what) {
    std::string line = what.substr(0, what.find('\n'));
    if (line.rfind("> ", 0) == 0) line.erase(0, 2);
    if (const auto p = line.find(" OpenCV("); p != std::string::npos) {
      const auto err = line.find("error: ", p);
      if (err != std::string::npos) line = line.substr(0, p) + " " + line.substr(err + 7);
    }
    // ONNX files were parsed successfully before OpenCV saw them: a failure now is an
    // operator or construct OpenCV does not support, not a corrupt file.
    const std::string msg = Where(src) + ": opencv cannot load it: " + line;
    return src.format == ModelFormat::kOnnx ? Unsupported(msg) : Corrupt(msg);
  }

  static cv::dnn::Net ReadNet(const ModelSource& src) {
    const auto* b = reinterpret_cast<const char*>(src.bytes.data());
    const auto* w = reinterpret_cast<const char*>(src.weights_bytes.data());
    switch (src.format) {
      case ModelFormat::kOnnx:
        return src.in_memory() ? cv::dnn::readNetFromONNX(b, src.bytes.size())
                               : cv::dnn::readNetFromONNX(src.path.string());
      case ModelFormat::kCaffe:
        return src.in_memory()
                   ? cv::dnn::readNetFromCaffe(b, src.bytes.size(), w, src.weights_bytes.size())
                   : cv::dnn::readNetFromCaffe(src.path.string(), src.weights_path.string());
      case ModelFormat::kTensorFlow:
        return src.in_memory()
                   ? cv::dnn::readNetFromTensorflow(b, src.bytes.size(), w,
                                                    src.weights_bytes.size())
                   : cv::dnn::readNetFromTensorflow(src.path.string(), src.weights_path.string());
      case ModelFormat::kDarknet:
        return src.in_memory()
                   ? cv::dnn::readNetFromDarknet(b, src.bytes.size(), w, src.weights_bytes.size())
                   : cv::dnn::readNetFromDarknet(src.path.string(), src.weights_path.string());
      case ModelFormat::kTflite:
        break;
    }
    return {};
  }
};

}  // namespace

std::unique_ptr<Backend> MakeOpenCvBackend() {
  return std::make_unique<OpenCvBackend>();
}

}  // namespace deepedge
