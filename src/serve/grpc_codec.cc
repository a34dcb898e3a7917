#include "serve/grpc_codec.h"

#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

namespace deepedge::kserve {
namespace {

using google::protobuf::Map;
using google::protobuf::RepeatedField;
using inference::InferParameter;
using inference::InferTensorContents;

Expected<Parameters> ParametersFromProto(const Map<std::string, InferParameter>& in,
                                         const std::string& where) {
  Parameters out;
  for (const auto& [key, p] : in) {
    switch (p.parameter_choice_case()) {
      case InferParameter::kBoolParam:
        out[key] = p.bool_param();
        break;
      case InferParameter::kInt64Param:
        out[key] = static_cast<std::int64_t>(p.int64_param());
        break;
      case InferParameter::kStringParam:
        out[key] = p.string_param();
        break;
      case InferParameter::kDoubleParam:
        out[key] = p.double_param();
        break;
      case InferParameter::kUint64Param:
        if (p.uint64_param() >
            static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
          return InvalidArgument(where + ": parameter \"" + key + "\" is out of range");
        }
        out[key] = static_cast<std::int64_t>(p.uint64_param());
        break;
      case InferParameter::PARAMETER_CHOICE_NOT_SET:
        return InvalidArgument(where + ": parameter \"" + key + "\" has no value");
    }
  }
  return out;
}

void ParametersToProto(const Parameters& in, Map<std::string, InferParameter>& out) {
  for (const auto& [key, value] : in) {
    InferParameter& p = out[key];
    std::visit(
        [&p](const auto& v) {
          using V = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<V, bool>) {
            p.set_bool_param(v);
          } else if constexpr (std::is_same_v<V, std::int64_t>) {
            p.set_int64_param(v);
          } else if constexpr (std::is_same_v<V, double>) {
            p.set_double_param(v);
          } else {
            p.set_string_param(v);
          }
        },
        value);
  }
}

// Elements present in every typed field, and in the one `dtype` uses.
std::size_t TypedCount(const InferTensorContents& c) {
  return static_cast<std::size_t>(c.bool_contents_size()) +
         static_cast<std::size_t>(c.int_contents_size()) +
         static_cast<std::size_t>(c.int64_contents_size()) +
         static_cast<std::size_t>(c.uint_contents_size()) +
         static_cast<std::size_t>(c.uint64_contents_size()) +
         static_cast<std::size_t>(c.fp32_contents_size()) +
         static_cast<std::size_t>(c.fp64_contents_size()) +
         static_cast<std::size_t>(c.bytes_contents_size());
}

// The typed field a datatype uses, by its proto name; "" when it has none.
const char* TypedFieldName(DType t) {
  switch (t) {
    case DType::kF32:
      return "fp32_contents";
    case DType::kI8:
    case DType::kI16:
    case DType::kI32:
      return "int_contents";
    case DType::kU8:
      return "uint_contents";
    case DType::kI64:
      return "int64_contents";
    case DType::kBool:
      return "bool_contents";
    case DType::kF16:
    case DType::kBF16:
      return "";
  }
  return "";
}

template <typename To, typename From>
Status CopyInts(const RepeatedField<From>& in, Tensor& t, const std::string& what) {
  auto out = t.as<To>();
  for (int i = 0; i < in.size(); ++i) {
    const From v = in.Get(i);
    if (!std::in_range<To>(v)) {
      return InvalidArgument(what + ": element " + std::to_string(i) + " = " + std::to_string(v) +
                             " is out of range for its datatype");
    }
    out[static_cast<std::size_t>(i)] = static_cast<To>(v);
  }
  return Status::Ok();
}

Status FillTyped(const InferTensorContents& c, Tensor& t, const std::string& what) {
  switch (t.dtype()) {
    case DType::kF32:
      if (c.fp32_contents_size() > 0) {
        std::memcpy(t.data(), c.fp32_contents().data(), t.byte_size());
      }
      return Status::Ok();
    case DType::kI8:
      return CopyInts<std::int8_t>(c.int_contents(), t, what);
    case DType::kI16:
      return CopyInts<std::int16_t>(c.int_contents(), t, what);
    case DType::kI32:
      return CopyInts<std::int32_t>(c.int_contents(), t, what);
    case DType::kU8:
      return CopyInts<std::uint8_t>(c.uint_contents(), t, what);
    case DType::kI64:
      return CopyInts<std::int64_t>(c.int64_contents(), t, what);
    case DType::kBool: {
      auto out = t.as<std::uint8_t>();
      for (int i = 0; i < c.bool_contents_size(); ++i) {
        out[static_cast<std::size_t>(i)] = c.bool_contents(i) ? 1 : 0;
      }
      return Status::Ok();
    }
    case DType::kF16:
    case DType::kBF16:
      break;
  }
  return Internal(what + ": no typed form");
}

std::size_t FieldCount(const InferTensorContents& c, DType t) {
  switch (t) {
    case DType::kF32:
      return static_cast<std::size_t>(c.fp32_contents_size());
    case DType::kI8:
    case DType::kI16:
    case DType::kI32:
      return static_cast<std::size_t>(c.int_contents_size());
    case DType::kU8:
      return static_cast<std::size_t>(c.uint_contents_size());
    case DType::kI64:
      return static_cast<std::size_t>(c.int64_contents_size());
    case DType::kBool:
      return static_cast<std::size_t>(c.bool_contents_size());
    case DType::kF16:
    case DType::kBF16:
      return 0;
  }
  return 0;
}

// One tensor from its header and either `raw` (non-null) or typed `contents`.
// `total` accumulates the bytes of the message's tensors.
Expected<Tensor> DecodeTensor(const std::string& name, const std::string& datatype,
                              const RepeatedField<std::int64_t>& shape,
                              const InferTensorContents* contents, const std::string* raw,
                              const Limits& limits, std::uint64_t& total) {
  const std::string what = "tensor \"" + name + "\"";
  std::optional<DType> dtype = ParseDatatype(datatype);
  if (!dtype) {
    if (IsProtocolDatatype(datatype)) {
      return Unsupported(what + ": datatype " + datatype + " is not supported by DeepEdge");
    }
    return InvalidArgument(what + ": unknown datatype \"" + datatype + "\"");
  }
  if (static_cast<std::size_t>(shape.size()) > limits.max_rank) {
    return InvalidArgument(what + ": rank " + std::to_string(shape.size()) + " exceeds " +
                           std::to_string(limits.max_rank));
  }
  std::vector<std::int64_t> dims(shape.begin(), shape.end());
  std::uint64_t elements = 1, bytes = 0;
  bool overflow = false;
  for (std::int64_t d : dims) {
    if (d < 0) return InvalidArgument(what + ": dimension " + std::to_string(d) + " is negative");
    overflow =
        overflow || __builtin_mul_overflow(elements, static_cast<std::uint64_t>(d), &elements);
  }
  if (overflow || __builtin_mul_overflow(elements, DTypeSize(*dtype), &bytes)) {
    return InvalidArgument(what + ": shape " + Shape(dims).ToString() + " overflows");
  }
  if (bytes > limits.max_tensor_bytes) {
    return InvalidArgument(what + ": " + std::to_string(bytes) + " bytes exceeds the limit of " +
                           std::to_string(limits.max_tensor_bytes));
  }
  total += bytes;
  if (total > limits.max_total_bytes) {
    return InvalidArgument("the tensors of the message exceed the limit of " +
                           std::to_string(limits.max_total_bytes) + " bytes");
  }
  const std::size_t typed = contents ? TypedCount(*contents) : 0;
  if (raw) {
    if (typed > 0) {
      return InvalidArgument(what + " has both typed contents and raw contents");
    }
    if (raw->size() != bytes) {
      return InvalidArgument(what + ": raw contents of " + std::to_string(raw->size()) +
                             " bytes, but shape " + Shape(dims).ToString() + " of " + datatype +
                             " needs " + std::to_string(bytes) + " bytes");
    }
  } else {
    const char* field = TypedFieldName(*dtype);
    if (*field == '\0') {
      if (elements > 0) {
        return InvalidArgument(what + ": datatype " + datatype +
                               " has no typed contents; send it in raw contents");
      }
    } else if (FieldCount(*contents, *dtype) != typed) {
      return InvalidArgument(what + ": datatype " + datatype + " takes its elements in " + field +
                             ", but other content fields are set");
    } else if (typed != elements) {
      return InvalidArgument(what + ": " + field + " has " + std::to_string(typed) +
                             " elements, but shape " + Shape(dims).ToString() + " needs " +
                             std::to_string(elements));
    }
  }
  Expected<Tensor> t = Tensor::Allocate(*dtype, Shape(std::move(dims)));
  if (!t) return t.status().WithContext(what);
  if (raw) {
    if (!raw->empty()) std::memcpy(t->data(), raw->data(), raw->size());
    if (*dtype == DType::kBool) {
      for (std::uint8_t v : t->as<std::uint8_t>()) {
        if (v > 1) return InvalidArgument(what + ": a BOOL element is neither 0 nor 1");
      }
    }
  } else if (elements > 0) {
    if (Status s = FillTyped(*contents, *t, what); !s.ok()) return s;
  }
  return t;
}

template <typename Out, typename In>
void AppendAll(std::span<const In> in, RepeatedField<Out>* out) {
  out->Reserve(static_cast<int>(in.size()));
  for (In v : in) out->AddAlreadyReserved(static_cast<Out>(v));
}

Status EncodeTyped(const Tensor& t, const std::string& name, InferTensorContents& c) {
  switch (t.dtype()) {
    case DType::kF32:
      AppendAll(t.as<float>(), c.mutable_fp32_contents());
      return Status::Ok();
    case DType::kI8:
      AppendAll(t.as<std::int8_t>(), c.mutable_int_contents());
      return Status::Ok();
    case DType::kI16:
      AppendAll(t.as<std::int16_t>(), c.mutable_int_contents());
      return Status::Ok();
    case DType::kI32:
      AppendAll(t.as<std::int32_t>(), c.mutable_int_contents());
      return Status::Ok();
    case DType::kU8:
      AppendAll(t.as<std::uint8_t>(), c.mutable_uint_contents());
      return Status::Ok();
    case DType::kI64:
      AppendAll(t.as<std::int64_t>(), c.mutable_int64_contents());
      return Status::Ok();
    case DType::kBool:
      for (std::uint8_t v : t.as<std::uint8_t>()) c.add_bool_contents(v != 0);
      return Status::Ok();
    case DType::kF16:
    case DType::kBF16:
      break;
  }
  return InvalidArgument("tensor \"" + name + "\": datatype " +
                         std::string(DatatypeName(t.dtype())) +
                         " has no typed contents; send it in raw contents");
}

Status CheckEncodable(const NamedTensor& nt) {
  if (nt.name.empty()) return InvalidArgument("a tensor has an empty name");
  if (!nt.tensor.shape().is_static()) {
    return InvalidArgument("tensor \"" + nt.name + "\" has a dynamic shape " +
                           nt.tensor.shape().ToString());
  }
  return Status::Ok();
}

}  // namespace

Expected<InferRequest> RequestFromProto(const inference::ModelInferRequest& proto,
                                        const Limits& limits) {
  InferRequest r;
  r.id = proto.id();
  Expected<Parameters> params = ParametersFromProto(proto.parameters(), "request");
  if (!params) return params.status();
  r.parameters = std::move(*params);
  if (static_cast<std::size_t>(proto.inputs_size()) > limits.max_tensors ||
      static_cast<std::size_t>(proto.outputs_size()) > limits.max_tensors) {
    return InvalidArgument("more than " + std::to_string(limits.max_tensors) +
                           " inputs or outputs in one request");
  }
  if (proto.inputs_size() == 0) return InvalidArgument("the request has no inputs");
  const bool raw = proto.raw_input_contents_size() > 0;
  if (raw && proto.raw_input_contents_size() != proto.inputs_size()) {
    return InvalidArgument("the request has " + std::to_string(proto.inputs_size()) +
                           " inputs but " + std::to_string(proto.raw_input_contents_size()) +
                           " raw_input_contents entries");
  }
  std::uint64_t total = 0;
  for (int i = 0; i < proto.inputs_size(); ++i) {
    const auto& in = proto.inputs(i);
    if (in.name().empty()) {
      return InvalidArgument("input " + std::to_string(i) + " has an empty name");
    }
    for (const NamedTensor& prev : r.inputs) {
      if (prev.name == in.name()) {
        return InvalidArgument("tensor \"" + in.name() + "\" appears twice in \"inputs\"");
      }
    }
    Expected<Tensor> t = DecodeTensor(in.name(), in.datatype(), in.shape(), &in.contents(),
                                      raw ? &proto.raw_input_contents(i) : nullptr, limits, total);
    if (!t) return t.status();
    r.inputs.push_back({in.name(), std::move(*t), false});
  }
  for (const auto& out : proto.outputs()) {
    if (out.name().empty()) return InvalidArgument("a requested output has an empty name");
    for (const RequestedOutput& prev : r.outputs) {
      if (prev.name == out.name()) {
        return InvalidArgument("output \"" + out.name() + "\" is requested twice");
      }
    }
    r.outputs.push_back({out.name(), false});
  }
  return r;
}

Status ResponseToProto(const InferResponse& response, inference::ModelInferResponse& proto) {
  proto.set_model_name(response.model_name);
  proto.set_model_version(response.model_version);
  proto.set_id(response.id);
  ParametersToProto(response.parameters, *proto.mutable_parameters());
  for (const NamedTensor& nt : response.outputs) {
    if (Status s = CheckEncodable(nt); !s.ok()) return s;
    auto* out = proto.add_outputs();
    out->set_name(nt.name);
    out->set_datatype(std::string(DatatypeName(nt.tensor.dtype())));
    for (std::int64_t d : nt.tensor.shape().dims()) out->add_shape(d);
    proto.add_raw_output_contents(static_cast<const char*>(nt.tensor.data()),
                                  nt.tensor.byte_size());
  }
  return Status::Ok();
}

Status RequestToProto(const InferRequest& request, const std::string& model,
                      const std::string& version, bool raw, inference::ModelInferRequest& proto) {
  proto.set_model_name(model);
  proto.set_model_version(version);
  proto.set_id(request.id);
  ParametersToProto(request.parameters, *proto.mutable_parameters());
  for (const NamedTensor& nt : request.inputs) {
    if (Status s = CheckEncodable(nt); !s.ok()) return s;
    auto* in = proto.add_inputs();
    in->set_name(nt.name);
    in->set_datatype(std::string(DatatypeName(nt.tensor.dtype())));
    for (std::int64_t d : nt.tensor.shape().dims()) in->add_shape(d);
    if (raw) {
      proto.add_raw_input_contents(static_cast<const char*>(nt.tensor.data()),
                                   nt.tensor.byte_size());
    } else if (Status s = EncodeTyped(nt.tensor, nt.name, *in->mutable_contents()); !s.ok()) {
      return s;
    }
  }
  for (const RequestedOutput& o : request.outputs) proto.add_outputs()->set_name(o.name);
  return Status::Ok();
}

Expected<InferResponse> ResponseFromProto(const inference::ModelInferResponse& proto,
                                          const Limits& limits) {
  InferResponse r;
  r.model_name = proto.model_name();
  r.model_version = proto.model_version();
  r.id = proto.id();
  Expected<Parameters> params = ParametersFromProto(proto.parameters(), "response");
  if (!params) return params.status();
  r.parameters = std::move(*params);
  if (static_cast<std::size_t>(proto.outputs_size()) > limits.max_tensors) {
    return InvalidArgument("more than " + std::to_string(limits.max_tensors) +
                           " outputs in one response");
  }
  const bool raw = proto.raw_output_contents_size() > 0;
  if (raw && proto.raw_output_contents_size() != proto.outputs_size()) {
    return InvalidArgument("the response has " + std::to_string(proto.outputs_size()) +
                           " outputs but " + std::to_string(proto.raw_output_contents_size()) +
                           " raw_output_contents entries");
  }
  std::uint64_t total = 0;
  for (int i = 0; i < proto.outputs_size(); ++i) {
    const auto& out = proto.outputs(i);
    if (out.name().empty()) {
      return InvalidArgument("output " + std::to_string(i) + " has an empty name");
    }
    Expected<Tensor> t = DecodeTensor(out.name(), out.datatype(), out.shape(), &out.contents(),
                                      raw ? &proto.raw_output_contents(i) : nullptr, limits, total);
    if (!t) return t.status();
    r.outputs.push_back({out.name(), std::move(*t), raw});
  }
  return r;
}

}  // namespace deepedge::kserve
