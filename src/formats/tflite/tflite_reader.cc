// Loading and validating TFLite flatbuffers.
#include "tflite_reader.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "deepedge/file_util.h"

namespace deepedge::tflite_internal {
namespace {

constexpr std::int64_t kMaxElements = std::int64_t{1} << 48;

const char* const kBuiltinNames[] = {
#include "tflite_builtin_names.inc"
};

template <typename T>
std::size_t Size(const flatbuffers::Vector<T>* v) {
  return v == nullptr ? 0 : v->size();
}

Status CheckIndexList(const flatbuffers::Vector<std::int32_t>* list, std::size_t tensors,
                      bool allow_omitted, const std::string& what) {
  if (list == nullptr) return Status::Ok();
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::int32_t v = list->Get(static_cast<flatbuffers::uoffset_t>(i));
    if (v == -1 && allow_omitted) continue;
    if (v < 0 || static_cast<std::size_t>(v) >= tensors) {
      return Corrupt(what + " refers to tensor " + std::to_string(v) + ", but the subgraph has " +
                     std::to_string(tensors) + " tensors");
    }
  }
  return Status::Ok();
}

Status CheckTensor(const LoadedModel& m, const tfl::SubGraph* sg, int index) {
  const tfl::Tensor* t = sg->tensors()->Get(static_cast<flatbuffers::uoffset_t>(index));
  const std::string what = DescribeTensor(sg, index);
  const auto type = static_cast<int>(t->type());
  if (type < static_cast<int>(tfl::TensorType::MIN) ||
      type > static_cast<int>(tfl::TensorType::MAX)) {
    return Corrupt(what + " has unknown type " + std::to_string(type));
  }
  const std::optional<std::int64_t> count = ElementCount(t->shape());
  if (!count) return Corrupt(what + " has a negative or too large dimension in its shape");
  if (const auto* sig = t->shape_signature()) {
    if (sig->size() != Size(t->shape())) {
      return Corrupt(what + ": shape_signature rank differs from shape rank");
    }
    for (std::int32_t d : *sig) {
      if (d < -1) return Corrupt(what + ": shape_signature has dimension " + std::to_string(d));
    }
  }
  const std::size_t buffers = Size(m.model->buffers());
  if (t->buffer() >= buffers && !(t->buffer() == 0 && buffers == 0)) {
    return Corrupt(what + " refers to buffer " + std::to_string(t->buffer()) +
                   ", but the model has " + std::to_string(buffers) + " buffers");
  }
  const std::span<const std::uint8_t> data = m.BufferData(t->buffer());
  const std::size_t esize = TensorTypeSize(t->type());
  if (!data.empty() && t->sparsity() == nullptr && esize != 0) {
    const auto expected = static_cast<std::uint64_t>(*count) * esize;
    if (data.size() != expected) {
      return Corrupt(what + " has shape " + TensorShape(t).ToString() + " and type " +
                     TensorTypeName(t->type()) + " (" + std::to_string(expected) +
                     " bytes), but its buffer holds " + std::to_string(data.size()) + " bytes");
    }
  }
  if (const tfl::QuantizationParameters* q = t->quantization()) {
    const std::size_t ns = Size(q->scale()), nz = Size(q->zero_point());
    if (nz != 0 && nz != ns) {
      return Corrupt(what + " has " + std::to_string(ns) + " quantization scales but " +
                     std::to_string(nz) + " zero points");
    }
    if (ns > 1) {
      const std::size_t rank = Size(t->shape());
      const std::int32_t axis = q->quantized_dimension();
      // Older converters copied the filter's axis onto rank-1 biases: the axis is 0 there.
      const bool bias_like = rank == 1 && t->shape()->Get(0) == static_cast<std::int32_t>(ns);
      if (!bias_like && (axis < 0 || static_cast<std::size_t>(axis) >= rank)) {
        return Corrupt(what + " has quantized_dimension " + std::to_string(axis) +
                       " outside its rank " + std::to_string(rank));
      }
      const std::int32_t dim =
          t->shape()->Get(static_cast<flatbuffers::uoffset_t>(bias_like ? 0 : axis));
      if (static_cast<std::size_t>(dim) != ns) {
        return Corrupt(what + " has " + std::to_string(ns) + " per-channel scales but dimension " +
                       std::to_string(axis) + " is " + std::to_string(dim));
      }
    }
    if (q->scale() != nullptr) {
      for (float s : *q->scale()) {
        if (!(s > 0) || !std::isfinite(s)) {
          if (s == 0 && ns == 1) continue;  // converters write scale 0 for unquantized ints
          return Corrupt(what + " has quantization scale " + std::to_string(s) +
                         " (must be positive and finite)");
        }
      }
    }
  }
  return Status::Ok();
}

Status CheckModel(const LoadedModel& m) {
  const tfl::Model* model = m.model;
  if (model->subgraphs() == nullptr || model->subgraphs()->size() == 0) {
    return Corrupt("the model has no subgraphs");
  }
  const std::size_t file_size = m.bytes.size();
  if (const auto* buffers = model->buffers()) {
    for (flatbuffers::uoffset_t b = 0; b < buffers->size(); ++b) {
      const tfl::Buffer* buf = buffers->Get(b);
      if (buf->offset() > 1) {
        if (buf->data() != nullptr && buf->data()->size() != 0) {
          return Corrupt("buffer " + std::to_string(b) + " has both inline data and an offset");
        }
        if (buf->offset() > file_size || buf->size() > file_size - buf->offset()) {
          return Corrupt("buffer " + std::to_string(b) + " (offset " +
                         std::to_string(buf->offset()) + ", " + std::to_string(buf->size()) +
                         " bytes) lies outside the file of " + std::to_string(file_size) +
                         " bytes");
        }
      }
    }
  }
  const std::size_t codes = Size(model->operator_codes());
  for (std::size_t s = 0; s < model->subgraphs()->size(); ++s) {
    const tfl::SubGraph* sg = m.subgraph(s);
    const std::string where = "subgraph " + std::to_string(s);
    const std::size_t tensors = Size(sg->tensors());
    for (std::size_t t = 0; t < tensors; ++t) {
      Status st = CheckTensor(m, sg, static_cast<int>(t));
      if (!st.ok()) return st.WithContext(where);
    }
    DEEPEDGE_RETURN_IF_ERROR(CheckIndexList(sg->inputs(), tensors, false, where + " inputs"));
    DEEPEDGE_RETURN_IF_ERROR(CheckIndexList(sg->outputs(), tensors, false, where + " outputs"));
    if (const auto* ops = sg->operators()) {
      for (flatbuffers::uoffset_t o = 0; o < ops->size(); ++o) {
        const tfl::Operator* op = ops->Get(o);
        const std::string what = where + " operator " + std::to_string(o);
        if (op->opcode_index() >= codes) {
          return Corrupt(what + " has opcode index " + std::to_string(op->opcode_index()) +
                         ", but the model has " + std::to_string(codes) + " operator codes");
        }
        DEEPEDGE_RETURN_IF_ERROR(CheckIndexList(op->inputs(), tensors, true, what + " input"));
        DEEPEDGE_RETURN_IF_ERROR(CheckIndexList(op->outputs(), tensors, true, what + " output"));
        DEEPEDGE_RETURN_IF_ERROR(
            CheckIndexList(op->intermediates(), tensors, false, what + " intermediate"));
      }
    }
  }
  const std::size_t buffers = Size(model->buffers());
  if (const auto* meta = model->metadata()) {
    for (const tfl::Metadata* md : *meta) {
      if (md->buffer() >= buffers) {
        return Corrupt("metadata entry refers to buffer " + std::to_string(md->buffer()) +
                       ", but the model has " + std::to_string(buffers) + " buffers");
      }
    }
  }
  if (const auto* sigs = model->signature_defs()) {
    for (const tfl::SignatureDef* sig : *sigs) {
      if (sig->subgraph_index() >= model->subgraphs()->size()) {
        return Corrupt("signature refers to subgraph " + std::to_string(sig->subgraph_index()) +
                       ", but the model has " + std::to_string(model->subgraphs()->size()));
      }
      const std::size_t tensors = Size(m.subgraph(sig->subgraph_index())->tensors());
      for (const auto* list : {sig->inputs(), sig->outputs()}) {
        if (list == nullptr) continue;
        for (const tfl::TensorMap* tm : *list) {
          if (tm->tensor_index() >= tensors) {
            return Corrupt("signature refers to tensor " + std::to_string(tm->tensor_index()) +
                           ", but its subgraph has " + std::to_string(tensors) + " tensors");
          }
        }
      }
    }
  }
  return Status::Ok();
}

}  // namespace

std::span<const std::uint8_t> LoadedModel::BufferData(std::uint32_t index) const {
  const auto* buffers = model->buffers();
  if (buffers == nullptr || index >= buffers->size()) return {};
  const tfl::Buffer* b = buffers->Get(index);
  if (b->offset() > 1) return {bytes.data() + b->offset(), static_cast<std::size_t>(b->size())};
  if (b->data() == nullptr) return {};
  return {b->data()->data(), b->data()->size()};
}

Expected<std::unique_ptr<LoadedModel>> LoadTflite(const ModelSource& source) {
  const std::string name = source.display_name();
  if (source.format != ModelFormat::kTflite) {
    return InvalidArgument(name + ": not a TFLite model source (format " +
                           std::string(ModelFormatName(source.format)) + ")");
  }
  auto m = std::make_unique<LoadedModel>();
  m->display_name = name;
  if (source.in_memory()) {
    m->bytes = source.bytes;
  } else {
    DEEPEDGE_ASSIGN_OR_RETURN(m->bytes, ReadFileBytes(source.path));
  }
  // Flatbuffer offsets are 32-bit; 8 bytes hold the root offset and the identifier.
  if (m->bytes.size() < 8) {
    return Corrupt(name + ": " + std::to_string(m->bytes.size()) +
                   " bytes is too small to be a TFLite model");
  }
  if (m->bytes.size() >= (std::size_t{1} << 31)) {
    return Unsupported(name + ": TFLite models of 2 GiB and more are not supported");
  }
  if (!flatbuffers::BufferHasIdentifier(m->bytes.data(), tfl::ModelIdentifier())) {
    return Corrupt(name + ": not a TFLite model (the flatbuffer identifier is not \"TFL3\")");
  }
  flatbuffers::Verifier verifier(m->bytes.data(), m->bytes.size(), /*max_depth=*/64,
                                 /*max_tables=*/10'000'000);
  if (!tfl::VerifyModelBuffer(verifier)) {
    return Corrupt(name +
                   ": the TFLite flatbuffer is truncated or malformed (verification failed)");
  }
  m->model = tfl::GetModel(m->bytes.data());
  Status st = CheckModel(*m);
  if (!st.ok()) return Status(st.code(), name + ": " + st.message());
  return m;
}

int BuiltinCode(const tfl::OperatorCode* code) {
  return std::max(static_cast<int>(code->deprecated_builtin_code()), code->builtin_code());
}

std::string BuiltinName(int code) {
  constexpr int n = static_cast<int>(std::size(kBuiltinNames));
  if (code >= 0 && code < n) return kBuiltinNames[code];
  return "BUILTIN_" + std::to_string(code);
}

std::string OperatorName(const tfl::OperatorCode* code) {
  const int c = BuiltinCode(code);
  if (c == 32) {  // CUSTOM
    return "CUSTOM:" + (code->custom_code() ? code->custom_code()->str() : std::string("?"));
  }
  return BuiltinName(c);
}

std::optional<DType> ToDType(tfl::TensorType t) {
  switch (t) {
    case tfl::TensorType::FLOAT32:
      return DType::kF32;
    case tfl::TensorType::FLOAT16:
      return DType::kF16;
    case tfl::TensorType::INT32:
      return DType::kI32;
    case tfl::TensorType::UINT8:
      return DType::kU8;
    case tfl::TensorType::INT64:
      return DType::kI64;
    case tfl::TensorType::BOOL:
      return DType::kBool;
    case tfl::TensorType::INT16:
      return DType::kI16;
    case tfl::TensorType::INT8:
      return DType::kI8;
    default:
      return std::nullopt;
  }
}

std::string TensorTypeName(tfl::TensorType t) {
  switch (t) {
    case tfl::TensorType::FLOAT32:
      return "float32";
    case tfl::TensorType::FLOAT16:
      return "float16";
    case tfl::TensorType::INT32:
      return "int32";
    case tfl::TensorType::UINT8:
      return "uint8";
    case tfl::TensorType::INT64:
      return "int64";
    case tfl::TensorType::STRING:
      return "string";
    case tfl::TensorType::BOOL:
      return "bool";
    case tfl::TensorType::INT16:
      return "int16";
    case tfl::TensorType::COMPLEX64:
      return "complex64";
    case tfl::TensorType::INT8:
      return "int8";
    case tfl::TensorType::FLOAT64:
      return "float64";
    case tfl::TensorType::COMPLEX128:
      return "complex128";
    case tfl::TensorType::UINT64:
      return "uint64";
    case tfl::TensorType::RESOURCE:
      return "resource";
    case tfl::TensorType::VARIANT:
      return "variant";
    case tfl::TensorType::UINT32:
      return "uint32";
    case tfl::TensorType::UINT16:
      return "uint16";
    case tfl::TensorType::INT4:
      return "int4";
  }
  return "type " + std::to_string(static_cast<int>(t));
}

std::size_t TensorTypeSize(tfl::TensorType t) {
  switch (t) {
    case tfl::TensorType::FLOAT32:
    case tfl::TensorType::INT32:
    case tfl::TensorType::UINT32:
      return 4;
    case tfl::TensorType::FLOAT16:
    case tfl::TensorType::INT16:
    case tfl::TensorType::UINT16:
      return 2;
    case tfl::TensorType::UINT8:
    case tfl::TensorType::INT8:
    case tfl::TensorType::BOOL:
      return 1;
    case tfl::TensorType::INT64:
    case tfl::TensorType::UINT64:
    case tfl::TensorType::FLOAT64:
    case tfl::TensorType::COMPLEX64:
      return 8;
    case tfl::TensorType::COMPLEX128:
      return 16;
    default:
      return 0;
  }
}

std::string DescribeTensor(const tfl::SubGraph* sg, int index) {
  std::string s = "tensor " + std::to_string(index);
  if (sg->tensors() != nullptr && index >= 0 &&
      static_cast<std::size_t>(index) < sg->tensors()->size()) {
    const tfl::Tensor* t = sg->tensors()->Get(static_cast<flatbuffers::uoffset_t>(index));
    if (t->name() != nullptr && t->name()->size() != 0) s += " '" + t->name()->str() + "'";
  }
  return s;
}

Shape TensorShape(const tfl::Tensor* t) {
  std::vector<std::int64_t> dims;
  if (t->shape() != nullptr) {
    for (std::int32_t d : *t->shape()) dims.push_back(d);
  }
  if (const auto* sig = t->shape_signature(); sig != nullptr && sig->size() == dims.size()) {
    for (std::size_t i = 0; i < dims.size(); ++i) {
      if (sig->Get(static_cast<flatbuffers::uoffset_t>(i)) == -1) dims[i] = Shape::kDynamic;
    }
  }
  return Shape(std::move(dims));
}

std::optional<QuantizationInfo> TensorQuantization(const tfl::Tensor* t) {
  const tfl::QuantizationParameters* q = t->quantization();
  if (q == nullptr || q->scale() == nullptr || q->scale()->size() == 0) return std::nullopt;
  QuantizationInfo info;
  info.scale.assign(q->scale()->begin(), q->scale()->end());
  if (q->zero_point() != nullptr && q->zero_point()->size() == info.scale.size()) {
    info.zero_point.assign(q->zero_point()->begin(), q->zero_point()->end());
  } else {
    info.zero_point.assign(info.scale.size(), 0);
  }
  if (info.scale.size() > 1) {
    const std::size_t rank = t->shape() ? t->shape()->size() : 0;
    // A rank-1 tensor (bias) is quantized along its only axis, whatever the file says.
    info.axis = rank == 1 ? 0 : q->quantized_dimension();
  }
  return info;
}

std::optional<std::int64_t> ElementCount(const flatbuffers::Vector<std::int32_t>* dims) {
  std::int64_t n = 1;
  if (dims == nullptr) return n;
  for (std::int32_t d : *dims) {
    if (d < 0) return std::nullopt;
    if (d != 0 && n > kMaxElements / d) return std::nullopt;
    n *= d;
  }
  return n;
}

namespace {

// Reads element i of a sparse index vector (any of its three integer widths).
struct IndexVector {
  tfl::SparseIndexVector type = tfl::SparseIndexVector::NONE;
  const void* table = nullptr;
  std::size_t size() const {
    switch (type) {
      case tfl::SparseIndexVector::Int32Vector:
        return Size(static_cast<const tfl::Int32Vector*>(table)->values());
      case tfl::SparseIndexVector::Uint16Vector:
        return Size(static_cast<const tfl::Uint16Vector*>(table)->values());
      case tfl::SparseIndexVector::Uint8Vector:
        return Size(static_cast<const tfl::Uint8Vector*>(table)->values());
      default:
        return 0;
    }
  }
  std::int64_t operator[](std::size_t i) const {
    const auto k = static_cast<flatbuffers::uoffset_t>(i);
    switch (type) {
      case tfl::SparseIndexVector::Int32Vector:
        return static_cast<const tfl::Int32Vector*>(table)->values()->Get(k);
      case tfl::SparseIndexVector::Uint16Vector:
        return static_cast<const tfl::Uint16Vector*>(table)->values()->Get(k);
      case tfl::SparseIndexVector::Uint8Vector:
        return static_cast<const tfl::Uint8Vector*>(table)->values()->Get(k);
      default:
        return 0;
    }
  }
};

struct DensifyState {
  std::size_t n = 0;                     // dense rank
  std::vector<int> order;                // traversal order (n + k entries)
  std::vector<int> block_map;            // k entries
  std::vector<std::int64_t> block_size;  // per block dim
  std::vector<int> fmt;                  // per level: 0 dense, 1 CSR
  std::vector<std::int64_t> dense_size;  // per level
  std::vector<IndexVector> segments, indices;
  std::vector<std::int64_t> level_extent;  // per level: how far a coordinate may go
  std::vector<std::int64_t> coord;         // per traversal dim id
  const Shape* shape = nullptr;
  std::span<const std::uint8_t> values;
  std::size_t esize = 0;
  std::byte* out = nullptr;
  std::string what;
};

Status DensifyLevel(DensifyState& s, std::size_t level, std::int64_t pos) {
  if (level == s.order.size()) {
    // Leaf: map the traversal coordinates back to a dense offset.
    std::vector<std::int64_t> idx(s.n);
    for (std::size_t d = 0; d < s.n; ++d) idx[d] = s.coord[d];
    for (std::size_t b = 0; b < s.block_map.size(); ++b) {
      const auto d = static_cast<std::size_t>(s.block_map[b]);
      idx[d] = idx[d] * s.block_size[b] + s.coord[s.n + b];
    }
    std::int64_t off = 0;
    for (std::size_t d = 0; d < s.n; ++d) {
      if (idx[d] < 0 || idx[d] >= (*s.shape)[d]) {
        return Corrupt(s.what + ": sparse index out of range in dimension " + std::to_string(d));
      }
      off = off * (*s.shape)[d] + idx[d];
    }
    const auto vbytes = static_cast<std::size_t>(pos) * s.esize;
    if (pos < 0 || vbytes + s.esize > s.values.size()) {
      return Corrupt(s.what + ": sparse value " + std::to_string(pos) +
                     " lies beyond the stored values");
    }
    std::memcpy(s.out + static_cast<std::size_t>(off) * s.esize, s.values.data() + vbytes, s.esize);
    return Status::Ok();
  }
  const auto dim = static_cast<std::size_t>(s.order[level]);
  if (s.fmt[level] == 0) {
    const std::int64_t size = s.dense_size[level];
    for (std::int64_t i = 0; i < size; ++i) {
      s.coord[dim] = i;
      DEEPEDGE_RETURN_IF_ERROR(DensifyLevel(s, level + 1, pos * size + i));
    }
    return Status::Ok();
  }
  const IndexVector& seg = s.segments[level];
  const IndexVector& ind = s.indices[level];
  if (pos < 0 || static_cast<std::size_t>(pos) + 1 >= seg.size()) {
    return Corrupt(s.what + ": sparse segment " + std::to_string(pos) + " out of range");
  }
  const std::int64_t begin = seg[static_cast<std::size_t>(pos)];
  const std::int64_t end = seg[static_cast<std::size_t>(pos) + 1];
  if (begin < 0 || end < begin || static_cast<std::size_t>(end) > ind.size()) {
    return Corrupt(s.what + ": sparse segment bounds out of range");
  }
  for (std::int64_t j = begin; j < end; ++j) {
    const std::int64_t c = ind[static_cast<std::size_t>(j)];
    if (c < 0 || c >= s.level_extent[level]) {
      return Corrupt(s.what + ": sparse index " + std::to_string(c) + " out of range");
    }
    s.coord[dim] = c;
    DEEPEDGE_RETURN_IF_ERROR(DensifyLevel(s, level + 1, j));
  }
  return Status::Ok();
}

}  // namespace

Expected<Tensor> Densify(const tfl::Tensor* t, const std::string& what, DType dtype,
                         const Shape& dense_shape, std::span<const std::uint8_t> values) {
  const tfl::SparsityParameters* sp = t->sparsity();
  if (sp == nullptr) return Corrupt(what + ": no sparsity parameters");
  DensifyState s;
  s.what = what;
  s.n = dense_shape.rank();
  s.shape = &dense_shape;
  s.values = values;
  s.esize = DTypeSize(dtype);
  const std::size_t levels = Size(sp->traversal_order());
  if (levels < s.n || Size(sp->dim_metadata()) != levels || Size(sp->block_map()) != levels - s.n) {
    return Corrupt(what + ": sparsity traversal order, block map and dimension metadata disagree");
  }
  for (std::int32_t v : *sp->traversal_order()) {
    if (v < 0 || static_cast<std::size_t>(v) >= levels) {
      return Corrupt(what + ": sparsity traversal order entry " + std::to_string(v));
    }
    s.order.push_back(v);
  }
  std::vector<int> seen(levels, 0);
  for (int v : s.order) {
    if (seen[static_cast<std::size_t>(v)]++) {
      return Corrupt(what + ": sparsity traversal order is not a permutation");
    }
  }
  if (sp->block_map() != nullptr) {
    for (std::int32_t v : *sp->block_map()) {
      if (v < 0 || static_cast<std::size_t>(v) >= s.n) {
        return Corrupt(what + ": sparsity block map entry " + std::to_string(v));
      }
      s.block_map.push_back(v);
    }
  }
  s.block_size.assign(s.block_map.size(), 1);
  std::vector<std::int64_t> size_of_dim(levels, 0);  // by traversal dim id
  for (std::size_t l = 0; l < levels; ++l) {
    const tfl::DimensionMetadata* md =
        sp->dim_metadata()->Get(static_cast<flatbuffers::uoffset_t>(l));
    const int f = static_cast<int>(md->format());
    s.fmt.push_back(f == 1 ? 1 : 0);
    s.dense_size.push_back(md->dense_size());
    s.segments.push_back({md->array_segments_type(), md->array_segments()});
    s.indices.push_back({md->array_indices_type(), md->array_indices()});
    if (f == 0) {
      if (md->dense_size() < 0) return Corrupt(what + ": negative dense size");
      size_of_dim[static_cast<std::size_t>(s.order[l])] = md->dense_size();
    }
  }
  for (std::size_t b = 0; b < s.block_map.size(); ++b) {
    s.block_size[b] = size_of_dim[s.n + b];
    if (s.block_size[b] <= 0)
      return Corrupt(what + ": block dimension must be dense and non-empty");
  }
  // Extent of each traversal dim: a block dim its block size, an outer dim its size
  // divided by its block size.
  std::vector<std::int64_t> extent(levels);
  for (std::size_t d = 0; d < s.n; ++d) extent[d] = dense_shape[d];
  for (std::size_t b = 0; b < s.block_map.size(); ++b) {
    const auto d = static_cast<std::size_t>(s.block_map[b]);
    if (extent[d] % s.block_size[b] != 0) return Corrupt(what + ": block size does not divide");
    extent[d] /= s.block_size[b];
    extent[s.n + b] = s.block_size[b];
  }
  for (std::size_t l = 0; l < levels; ++l) {
    s.level_extent.push_back(extent[static_cast<std::size_t>(s.order[l])]);
    if (s.fmt[l] == 0 && s.dense_size[l] != s.level_extent[l]) {
      return Corrupt(what + ": dense size " + std::to_string(s.dense_size[l]) +
                     " does not match the dimension (" + std::to_string(s.level_extent[l]) + ")");
    }
  }
  s.coord.assign(levels, 0);
  // A sparse file can claim any dense size: refuse what cannot be a real weight tensor.
  if (!dense_shape.is_static() ||
      dense_shape.element_count() > (std::int64_t{1} << 31) / static_cast<std::int64_t>(s.esize)) {
    return Corrupt(what + ": dense shape " + dense_shape.ToString() + " is too large to densify");
  }
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor dense, Tensor::Allocate(dtype, dense_shape));
  s.out = static_cast<std::byte*>(dense.data());
  DEEPEDGE_RETURN_IF_ERROR(DensifyLevel(s, 0, 0));
  return dense;
}

}  // namespace deepedge::tflite_internal
