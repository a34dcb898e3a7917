// libFuzzer target for the KServe v2 request and response decoders (kserve.h).
// Input: one mode byte, then an HTTP body. An odd mode byte sends the body in the
// binary form with the JSON part ending at the body's last '}' (where a real binary
// request's JSON ends); an even one sends it as plain JSON. Whatever decodes must
// re-encode in the binary form and decode to the same tensors.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "deepedge/kserve.h"
#include "fuzz_check.h"

namespace {

using namespace deepedge;

using fuzz::Check;
using fuzz::CheckSame;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::optional<std::size_t> header_length;
  if (data[0] & 1) {
    const std::size_t brace = body.rfind('}');
    header_length = brace == std::string_view::npos ? 0 : brace + 1;
  }
  kserve::Limits limits;
  limits.max_tensor_bytes = 1 << 20;  // keep allocations small under the fuzzer
  limits.max_total_bytes = 4 << 20;

  (void)kserve::ParseHeaderLength(body.substr(0, 24), size);

  Expected<kserve::InferRequest> req = kserve::DecodeInferRequest(body, header_length, limits);
  if (req) {
    Expected<kserve::EncodedBody> again = kserve::EncodeInferRequest(*req, /*binary_inputs=*/true);
    Check(again.has_value());
    Expected<kserve::InferRequest> back =
        kserve::DecodeInferRequest(again->body, again->json_size, limits);
    Check(back.has_value());
    CheckSame(req->inputs, back->inputs);
    Check(req->id == back->id);
  }
  Expected<kserve::InferResponse> res = kserve::DecodeInferResponse(body, header_length, limits);
  if (res) {
    for (auto& o : res->outputs) o.binary = true;
    Expected<kserve::EncodedBody> again = kserve::EncodeInferResponse(*res);
    Check(again.has_value());
    Expected<kserve::InferResponse> back =
        kserve::DecodeInferResponse(again->body, again->json_size, limits);
    Check(back.has_value());
    CheckSame(res->outputs, back->outputs);
  }
  (void)kserve::DecodeModelMetadata(body);
  (void)kserve::DecodeServerMetadata(body);
  (void)kserve::DecodeError(body);
  return 0;
}
