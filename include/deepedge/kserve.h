// The KServe v2 / Open Inference Protocol codec (REST form), shared by the server
// (`deepedge serve`) and by clients.
//
// Library: deepedge_serve. Written from the public protocol description:
//  - an inference request is a JSON object {"id"?, "parameters"?, "inputs": [...],
//    "outputs"?: [...]}; each input is {"name", "shape", "datatype", "parameters"?,
//    "data"?}; a response is {"model_name", "model_version"?, "id"?, "parameters"?,
//    "outputs": [...]} with outputs in the same tensor form;
//  - the binary tensor data extension: the body is the JSON object followed by raw
//    little-endian, row-major tensor bytes; the HTTP header
//    `Inference-Header-Content-Length` gives the JSON object's length, and a tensor
//    sent this way carries "parameters": {"binary_data_size": BYTES} instead of
//    "data", in body order. A client asks for binary outputs with the request
//    parameter "binary_data_output": true or per output with "binary_data": true;
//  - errors are {"error": "message"}.
//
// Every decoder checks everything before it trusts it: JSON syntax, field types,
// datatype names, dimensions (non-negative, rank and element limits, no overflow of
// element count x element size), the data's element count against the shape, the
// value range of each element for its datatype, binary_data_size against the shape,
// and the binary sizes against the bytes actually present (none missing, none left
// over). Bad input gives one InvalidArgument (or Unsupported for a valid datatype
// DeepEdge has no type for, such as BYTES or FP64) naming the tensor and the problem;
// nothing here throws or crashes on any input.
//
// Thread-safety: all functions are pure; call them from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "deepedge/dtype.h"
#include "deepedge/status.h"
#include "deepedge/tensor.h"

namespace deepedge::kserve {

// The HTTP header that carries the JSON part's length in the binary form.
inline constexpr std::string_view kHeaderLengthHeader = "Inference-Header-Content-Length";

// "FP32", "FP16", "BF16", "INT8", "UINT8", "INT16", "INT32", "INT64", "BOOL".
std::string_view DatatypeName(DType t);
// Inverse of DatatypeName (case-sensitive, as the protocol is). The protocol's other
// names (UINT16, UINT32, UINT64, FP64, BYTES) are valid but have no DType: nullopt.
std::optional<DType> ParseDatatype(std::string_view name);
// True for every datatype name the protocol defines, supported here or not.
bool IsProtocolDatatype(std::string_view name);

// A protocol parameter value ("parameters" maps): bool, int64, double or string.
using Parameter = std::variant<bool, std::int64_t, double, std::string>;
using Parameters = std::map<std::string, Parameter>;

// Bounds on what a decoder accepts; a request beyond any of them is refused with an
// error naming the bound, before any large allocation.
struct Limits {
  std::size_t max_tensors = 256;                // inputs or outputs per message
  std::size_t max_rank = 16;                    // dimensions per tensor
  std::uint64_t max_tensor_bytes = 1ull << 30;  // one tensor's data, 1 GiB
  std::uint64_t max_total_bytes = 2ull << 30;   // all tensors of one message
  std::size_t max_json_depth = 64;              // nesting of JSON arrays/objects
};

struct NamedTensor {
  std::string name;
  Tensor tensor;
  // Output tensors (responses): send as binary data rather than JSON "data".
  // Ignored for inputs: EncodeInferRequest's `binary_inputs` decides.
  bool binary = false;
};

struct RequestedOutput {
  std::string name;
  bool binary = false;  // "parameters": {"binary_data": true}
};

struct InferRequest {
  std::string id;                        // "" when absent; echoed in the response
  Parameters parameters;                 // request parameters, binary_data_output included
  std::vector<NamedTensor> inputs;       // in message order
  std::vector<RequestedOutput> outputs;  // empty: every output, in JSON unless
                                         // binary_data_output is true
  // The request parameter "binary_data_output" (false when absent).
  bool binary_data_output() const;
};

struct InferResponse {
  std::string model_name;
  std::string model_version;  // "" when absent
  std::string id;             // "" when absent
  Parameters parameters;      // the server puts queue_time_us and compute_time_us here
  std::vector<NamedTensor> outputs;
};

// An encoded HTTP body. `json_size` is the length of the JSON part; when it is less
// than body.size(), binary tensor data follows and the sender must set the
// Inference-Header-Content-Length header to json_size (and should use the content
// type application/octet-stream).
struct EncodedBody {
  std::string body;
  std::size_t json_size = 0;
  bool has_binary() const { return json_size < body.size(); }
};

// Parses the Inference-Header-Content-Length value: a decimal byte count, no sign,
// no spaces, at most `body_size`. nullopt when `value` is empty (no header sent).
Expected<std::optional<std::size_t>> ParseHeaderLength(std::string_view value,
                                                       std::size_t body_size);

// Client side: the request as JSON (binary_inputs false: every input's data in
// "data") or in the binary form (every input's bytes after the JSON part). Fails on
// an empty tensor name or a dynamic shape.
Expected<EncodedBody> EncodeInferRequest(const InferRequest& request, bool binary_inputs);
// Server side: decodes a request body. `header_length` is the parsed
// Inference-Header-Content-Length (nullopt: the whole body is JSON).
Expected<InferRequest> DecodeInferRequest(std::string_view body,
                                          std::optional<std::size_t> header_length,
                                          const Limits& limits = {});

// Server side: encodes a response; each output goes binary when its `binary` is set.
Expected<EncodedBody> EncodeInferResponse(const InferResponse& response);
// Client side: decodes a response body (same checks as the request decoder).
Expected<InferResponse> DecodeInferResponse(std::string_view body,
                                            std::optional<std::size_t> header_length,
                                            const Limits& limits = {});

// Model and server metadata (GET /v2/models/NAME, GET /v2).
struct TensorMetadata {
  std::string name;
  std::string datatype;             // protocol name, "FP32"
  std::vector<std::int64_t> shape;  // -1 for a dynamic dimension
};
struct ModelMetadata {
  std::string name;
  std::vector<std::string> versions;
  std::string platform;  // "onnx", "tflite", ...
  std::vector<TensorMetadata> inputs;
  std::vector<TensorMetadata> outputs;
};
struct ServerMetadata {
  std::string name;
  std::string version;
  std::vector<std::string> extensions;
};
std::string EncodeModelMetadata(const ModelMetadata& m);
Expected<ModelMetadata> DecodeModelMetadata(std::string_view body);
std::string EncodeServerMetadata(const ServerMetadata& m);
Expected<ServerMetadata> DecodeServerMetadata(std::string_view body);

// {"error": message}.
std::string EncodeError(std::string_view message);
// The message of an error body; the body itself (shortened) when it is not one.
std::string DecodeError(std::string_view body);

}  // namespace deepedge::kserve
