// Rewrites that let OpenCV 4.6's ONNX importer read valid models it would reject.
#pragma once

#include <cstdint>
#include <vector>

#include "deepedge/model.h"
#include "deepedge/status.h"

namespace deepedge::opencv_backend {

// OpenCV 4.6 only imports Clip in its opset-6 form (bounds as `min` / `max`
// attributes); since opset 11 the bounds are inputs, which is how every exporter
// writes ReLU6. Returns the model with each Clip whose bounds are constant
// (initializers or Constant nodes) rewritten to the attribute form, or an empty
// vector when the model needs no rewrite. Non-constant bounds are left alone (OpenCV
// then reports the node). Errors: Corrupt when the bytes are not an ONNX model.
Expected<std::vector<std::uint8_t>> RewriteClipBoundsForOpenCv(const ModelSource& source);

}  // namespace deepedge::opencv_backend
