// Conversion between the KServe v2 gRPC messages (grpc_inference.proto, generated
// into the build tree) and the protocol-neutral kserve:: types of
// include/deepedge/kserve.h. Private to deepedge_serve_grpc (server and client) and
// its tests.
//
// Decoders check everything before trusting it, as the REST codec does: tensor names,
// datatype names (Unsupported for a protocol datatype DeepEdge has no type for),
// dimensions (non-negative, rank and byte limits, no overflow), raw contents (one
// entry per tensor, each exactly the bytes the shape needs, never mixed with typed
// contents), typed contents (the field the datatype uses, exactly the element count,
// each value in range), parameters. Bad input gives one InvalidArgument naming the
// tensor and the problem; nothing throws.
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "deepedge/kserve.h"
#include "deepedge/status.h"
#include "grpc_inference.pb.h"

namespace deepedge::kserve {

// Server side: a ModelInferRequest's tensors, id, parameters and requested outputs.
// Inputs may come as raw_input_contents or as typed contents.
Expected<InferRequest> RequestFromProto(const inference::ModelInferRequest& proto,
                                        const Limits& limits = {});
// Server side: every output as raw_output_contents (the form gRPC clients expect).
Status ResponseToProto(const InferResponse& response, inference::ModelInferResponse& proto);

// Client side: `request` for `model` / `version` ("" = the server's choice), inputs as
// raw_input_contents when `raw`, else as typed contents (FP16 / BF16 inputs have no
// typed form: InvalidArgument).
Status RequestToProto(const InferRequest& request, const std::string& model,
                      const std::string& version, bool raw, inference::ModelInferRequest& proto);
// Client side: the outputs, from raw_output_contents or typed contents.
Expected<InferResponse> ResponseFromProto(const inference::ModelInferResponse& proto,
                                          const Limits& limits = {});

}  // namespace deepedge::kserve
