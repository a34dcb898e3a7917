// Describing a model for records and `deepedge info`, whatever its format.
#pragma once

#include <string>

#include "deepedge/model.h"
#include "deepedge/record.h"

namespace deepedge::app {

// Resolves MODEL (+ optional weights) and reads what can be known without running
// it: for ONNX the full ModelInfo; for other formats name and format only.
Expected<ModelSource> ResolveModel(const std::string& path, const std::string& weights);
Expected<ModelInfo> DescribeModel(const ModelSource& source);
// The record's model block, with the file's SHA-256.
Expected<ModelRecord> MakeModelRecord(const ModelSource& source, const ModelInfo& info);

}  // namespace deepedge::app
