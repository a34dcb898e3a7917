// Reading ONNX models without running them: interface, size and validity.
//
// Library: deepedge_onnx. The ONNX and protobuf headers stay private to it.
// Thread-safety: the functions keep no state and may be called concurrently.
#pragma once

#include <filesystem>

#include "deepedge/ir.h"
#include "deepedge/model.h"
#include "deepedge/status.h"
#include "deepedge/tensor.h"

namespace deepedge {

// Describes an ONNX model given as a file (`source.path`) or bytes (`source.bytes`).
//
// Fills, in ModelInfo:
//  - name: the file stem, or for in-memory bytes the graph name ("<memory>" when unnamed);
//  - inputs: the graph inputs that are not initializers; outputs: the graph outputs.
//    Dimensions given by a symbol (dim_param) or not given at all are Shape::kDynamic;
//  - operator_counts: op_type -> number of nodes, nodes of If/Loop/Scan bodies included;
//  - parameter_count: the elements of all initializers (sparse ones: their stored values);
//  - macs: multiply-accumulates of Conv, ConvTranspose, Gemm and MatMul (and their
//    integer / QLinear forms) for one inference with every dynamic input dimension
//    set to 1, from ONNX shape inference. Other operators count 0. Left empty when a
//    needed shape cannot be inferred, or when such an operator sits in a subgraph
//    (how often a loop body or which If branch runs is not known statically);
//  - producer: "producer_name producer_version";
//  - synthetic_weights: metadata_props has "deepedge.weights" = "synthetic".
//
// Errors (messages name the file, or "<memory>"):
//  - NotFound / IoError: the file cannot be read;
//  - InvalidArgument: `source.format` is not ModelFormat::kOnnx;
//  - Corrupt: not a parseable ModelProto, or no graph / no nodes / no ir_version /
//    no opset_import (a truncated or garbage file lands here);
//  - Unsupported: an input or output is not a tensor, or has an element type that
//    DeepEdge lacks (double, uint16/32/64, string, complex); the message names it.
// Inspection does not validate the model: see CheckOnnx.
Expected<ModelInfo> InspectOnnx(const ModelSource& source);

// Validates an ONNX model as `onnx.checker.check_model(model, full_check=True)`
// does: the structural checker, then strict shape and type inference.
// OK when the model is valid; otherwise Corrupt with the checker's message (on one
// line, prefixed with the file name), Unsupported when its IR version or an opset
// is newer than the ONNX library DeepEdge was built with knows, or the errors
// InspectOnnx gives for files that cannot be read or parsed.
Status CheckOnnx(const ModelSource& source);

}  // namespace deepedge

namespace deepedge {

// Imports an ONNX model into the graph IR: opsets 7 and later, initializers of
// every DeepEdge dtype (f32, f16, bf16, i8, u8, i16, i32, i64, bool; raw_data or
// typed fields), external data files (resolved beside the model file), nested
// graphs (If / Loop / Scan bodies), and the model's opset per domain on every node.
// Errors: as InspectOnnx; Unsupported names the tensor whose type DeepEdge lacks.
Expected<ir::Model> ImportOnnx(const ModelSource& source);

// Reads one serialized onnx.TensorProto (the ONNX test suite's input_N.pb /
// output_N.pb files). Errors name the file.
Expected<Tensor> ReadOnnxTensorFile(const std::filesystem::path& path);

}  // namespace deepedge
