// Factories of the built-in backends. The application registers the ones it
// wants (see apps/deepedge); nothing registers itself.
#pragma once

#include <memory>

#include "deepedge/backend.h"

namespace deepedge {

// `deepedge`: DeepEdge's own engine. ONNX models imported into the graph IR, run by
// the executor on XNNPACK regions and reference kernels; every dtype; per-node
// time, output bytes and MACs. Options: `xnnpack=on|off`. A TFLite model's sessions
// report each quantized input's and output's scale and zero point (per channel with
// its axis) as the file records them, in TensorInfo::quantization.
std::unique_ptr<Backend> MakeDeepEdgeBackend();

// `null`: loads nothing and runs nothing; benchmarking it measures the harness's own
// per-query overhead. It accepts every model format and reports no inputs.
std::unique_ptr<Backend> MakeNullBackend();

// `remote`: a model served by a KServe v2 server (deepedge serve, Triton, ...), run
// over REST with binary tensors. Options: `server=http://HOST:PORT` (required),
// `model=NAME` (default: the model file's stem), `timeout_s`.
std::unique_ptr<Backend> MakeRemoteBackend();

// `opencv`: OpenCV DNN (Debian's 4.6). Loads ONNX, Caffe (prototxt + caffemodel),
// TensorFlow frozen graphs (.pb) and Darknet (cfg + weights), f32 inputs, per-layer
// timings from OpenCV's performance profile. OpenCV's thread count is process-wide:
// a session sets it before each run when it differs.
// Null when DeepEdge was built without OpenCV (DEEPEDGE_WITH_OPENCV=OFF).
std::unique_ptr<Backend> MakeOpenCvBackend();

}  // namespace deepedge
