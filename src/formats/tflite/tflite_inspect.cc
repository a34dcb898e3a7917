// InspectTflite: interface, operators, tensor types, parameters and MACs of a TFLite model.
#include "deepedge/tflite_model.h"
#include "tflite_reader.h"

namespace deepedge {
namespace {

using namespace tflite_internal;  // NOLINT: private helpers of this library

std::int64_t Dim(const tfl::Tensor* t, std::size_t k) {
  return t->shape() != nullptr && k < t->shape()->size()
             ? t->shape()->Get(static_cast<flatbuffers::uoffset_t>(k))
             : -1;
}

std::int64_t Elements(const tfl::Tensor* t) {
  return ElementCount(t->shape()).value_or(-1);
}

// MACs of one operator from the stored shapes; nullopt when unknown, 0 when not counted.
std::optional<std::int64_t> OperatorMacs(const tfl::SubGraph* sg, const tfl::Operator* op, int code,
                                         const std::string& custom) {
  auto tensor = [&](std::size_t k, bool output) -> const tfl::Tensor* {
    const auto* list = output ? op->outputs() : op->inputs();
    if (list == nullptr || k >= list->size()) return nullptr;
    const std::int32_t i = list->Get(static_cast<flatbuffers::uoffset_t>(k));
    return i < 0 ? nullptr : sg->tensors()->Get(static_cast<flatbuffers::uoffset_t>(i));
  };
  switch (code) {
    case 3:     // CONV_2D: out elements * KH * KW * I
    case 67: {  // TRANSPOSE_CONV: input elements * O * KH * KW
      const tfl::Tensor* w = tensor(1, false);
      const tfl::Tensor* y = code == 3 ? tensor(0, true) : tensor(2, false);
      if (w == nullptr || y == nullptr || Elements(y) < 0 || Elements(w) < 0) return std::nullopt;
      if (code == 3) return Elements(y) * Dim(w, 1) * Dim(w, 2) * Dim(w, 3);
      return Elements(y) * Dim(w, 0) * Dim(w, 1) * Dim(w, 2);
    }
    case 32: {  // CUSTOM: MediaPipe's Convolution2DTransposeBias as TRANSPOSE_CONV
      if (custom != "Convolution2DTransposeBias") return 0;
      const tfl::Tensor* x = tensor(0, false);
      const tfl::Tensor* w = tensor(1, false);
      if (x == nullptr || w == nullptr || Elements(x) < 0 || Elements(w) < 0) return std::nullopt;
      return Elements(x) * Dim(w, 0) * Dim(w, 1) * Dim(w, 2);
    }
    case 4: {  // DEPTHWISE_CONV_2D: out elements * KH * KW
      const tfl::Tensor* w = tensor(1, false);
      const tfl::Tensor* y = tensor(0, true);
      if (w == nullptr || y == nullptr || Elements(y) < 0) return std::nullopt;
      return Elements(y) * Dim(w, 1) * Dim(w, 2);
    }
    case 9: {  // FULLY_CONNECTED: out elements * K
      const tfl::Tensor* w = tensor(1, false);
      const tfl::Tensor* y = tensor(0, true);
      if (w == nullptr || y == nullptr || Elements(y) < 0) return std::nullopt;
      return Elements(y) * Dim(w, 1);
    }
    case 126: {  // BATCH_MATMUL: out elements * K (a's last dim)
      const tfl::Tensor* a = tensor(0, false);
      const tfl::Tensor* y = tensor(0, true);
      if (a == nullptr || y == nullptr || Elements(y) < 0 || a->shape() == nullptr ||
          a->shape()->size() == 0) {
        return std::nullopt;
      }
      return Elements(y) * Dim(a, a->shape()->size() - 1);
    }
    case 44: {  // UNIDIRECTIONAL_SEQUENCE_LSTM: steps * batch * 4H * (I + H)
      const tfl::Tensor* x = tensor(0, false);
      const tfl::Tensor* w = tensor(2, false);
      if (x == nullptr || w == nullptr || Elements(x) < 0 || Dim(w, 1) <= 0) return std::nullopt;
      const std::int64_t steps_batch = Elements(x) / Dim(w, 1);
      const std::int64_t H = Dim(w, 0);
      return steps_batch * 4 * H * (Dim(w, 1) + H);
    }
    case 118:  // IF
    case 119:  // WHILE
      return std::nullopt;
    default:
      return 0;
  }
}

Expected<TensorInfo> Info(const tfl::SubGraph* sg, int index) {
  const tfl::Tensor* t = sg->tensors()->Get(static_cast<flatbuffers::uoffset_t>(index));
  TensorInfo info;
  info.name = t->name() ? t->name()->str() : "tensor_" + std::to_string(index);
  const std::optional<DType> dt = ToDType(t->type());
  if (!dt) {
    return Unsupported(DescribeTensor(sg, index) + " has type " + TensorTypeName(t->type()) +
                       ", which DeepEdge lacks");
  }
  info.dtype = *dt;
  info.shape = TensorShape(t);
  info.quantization = TensorQuantization(t);
  if (info.quantization && info.quantization->scale.size() == 1 &&
      info.quantization->scale[0] == 0) {
    info.quantization.reset();
  }
  return info;
}

}  // namespace

Expected<ModelInfo> InspectTflite(const ModelSource& source) {
  DEEPEDGE_ASSIGN_OR_RETURN(auto m, LoadTflite(source));
  ModelInfo info;
  info.name = source.in_memory() ? "<memory>" : source.path.stem().string();
  info.format = ModelFormat::kTflite;
  if (m->model->description() != nullptr) info.producer = m->model->description()->str();
  const tfl::SubGraph* main = m->subgraph(0);
  auto fail = [&](const Status& s) {
    return Status(s.code(), m->display_name + ": " + s.message());
  };
  if (main->inputs()) {
    for (std::int32_t i : *main->inputs()) {
      auto t = Info(main, i);
      if (!t) return fail(t.status());
      info.inputs.push_back(std::move(t).value());
    }
  }
  if (main->outputs()) {
    for (std::int32_t i : *main->outputs()) {
      auto t = Info(main, i);
      if (!t) return fail(t.status());
      info.outputs.push_back(std::move(t).value());
    }
  }
  std::int64_t params = 0;
  std::optional<std::int64_t> macs = 0;
  for (std::size_t s = 0; s < m->subgraph_count(); ++s) {
    const tfl::SubGraph* sg = m->subgraph(s);
    if (sg->tensors()) {
      for (const tfl::Tensor* t : *sg->tensors()) {
        info.tensor_type_counts[TensorTypeName(t->type())]++;
        const auto data = m->BufferData(t->buffer());
        if (data.empty() && t->sparsity() == nullptr) continue;
        if (t->sparsity() != nullptr) {
          const std::size_t es = TensorTypeSize(t->type());
          params += es ? static_cast<std::int64_t>(data.size() / es) : 0;
        } else {
          params += std::max<std::int64_t>(Elements(t), 0);
        }
      }
    }
    if (sg->operators() == nullptr) continue;
    for (const tfl::Operator* op : *sg->operators()) {
      const tfl::OperatorCode* oc = m->model->operator_codes()->Get(op->opcode_index());
      info.operator_counts[OperatorName(oc)]++;
      if (s == 0 && macs) {
        const std::string custom = oc->custom_code() ? oc->custom_code()->str() : "";
        const std::optional<std::int64_t> n = OperatorMacs(sg, op, BuiltinCode(oc), custom);
        if (!n || *n < 0) {
          macs.reset();
        } else {
          *macs += *n;
        }
      }
    }
  }
  info.parameter_count = params;
  info.macs = macs;
  return info;
}

}  // namespace deepedge
