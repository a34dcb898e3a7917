#include <algorithm>
#include <cstring>
#include <random>

#include "deepedge/bench.h"
#include "deepedge/file_util.h"
#include "deepedge/npy.h"

namespace deepedge {

namespace {

std::string Describe(const TensorInfo& info, const Shape& shape) {
  return "input '" + info.name + "' (" + std::string(DTypeName(info.dtype)) + " " +
         shape.ToString() + ")";
}

Expected<Shape> ResolveShape(const TensorInfo& info, const InputSpec& spec, int batch) {
  for (const std::string& key : {info.name, std::string()}) {
    if (auto it = spec.shapes.find(key); it != spec.shapes.end()) {
      if (!it->second.is_static()) {
        return InvalidArgument("shape " + it->second.ToString() + " for input '" + info.name +
                               "' still has dynamic dimensions");
      }
      return it->second;
    }
  }
  Shape shape = info.shape;
  if (shape.rank() > 0 && (shape[0] == Shape::kDynamic || batch != 1)) shape[0] = batch;
  if (!shape.is_static()) {
    return InvalidArgument(Describe(info, info.shape) +
                           " has dynamic dimensions; give its shape with --input-shape " +
                           info.name + "=DIMS");
  }
  return shape;
}

void FillRandom(Tensor& t, std::mt19937_64& rng) {
  switch (t.dtype()) {
    case DType::kF32: {
      std::uniform_real_distribution<float> d(-1.0f, 1.0f);
      for (float& v : t.as<float>()) v = d(rng);
      break;
    }
    case DType::kF16:
    case DType::kBF16: {
      std::uniform_real_distribution<float> d(-1.0f, 1.0f);
      const bool half = t.dtype() == DType::kF16;
      for (std::uint16_t& v : t.as<std::uint16_t>())
        v = half ? F32ToF16(d(rng)) : F32ToBF16(d(rng));
      break;
    }
    case DType::kBool:
      for (std::uint8_t& v : t.as<std::uint8_t>()) v = rng() & 1u;
      break;
    case DType::kI32:
    case DType::kI64: {
      // Integer inputs are usually indices or lengths: keep them small and non-negative.
      std::uniform_int_distribution<int> d(0, 9);
      if (t.dtype() == DType::kI32) {
        for (std::int32_t& v : t.as<std::int32_t>()) v = d(rng);
      } else {
        for (std::int64_t& v : t.as<std::int64_t>()) v = d(rng);
      }
      break;
    }
    default:  // i8, u8, i16: every bit pattern is a valid value
      for (std::byte& b : t.bytes()) b = static_cast<std::byte>(rng() & 0xFFu);
      break;
  }
}

Expected<Tensor> LoadInputFile(const TensorInfo& info, const Shape& shape,
                               const std::filesystem::path& path) {
  if (path.extension() == ".npy") {
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor t, ReadNpy(path));
    if (t.dtype() != info.dtype) {
      return InvalidArgument(path.string() + ": holds " + std::string(DTypeName(t.dtype())) +
                             " but " + Describe(info, shape) + " needs " +
                             std::string(DTypeName(info.dtype)));
    }
    if (t.element_count() != shape.element_count()) {
      return InvalidArgument(path.string() + ": shape " + t.shape().ToString() + " does not fit " +
                             Describe(info, shape));
    }
    if (t.shape() == shape) return t;
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor reshaped, Tensor::Allocate(info.dtype, shape));
    std::memcpy(reshaped.data(), t.data(), t.byte_size());
    return reshaped;
  }
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<std::uint8_t> bytes, ReadFileBytes(path));
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(info.dtype, shape));
  if (bytes.size() != t.byte_size()) {
    return InvalidArgument(path.string() + ": is " + std::to_string(bytes.size()) + " bytes but " +
                           Describe(info, shape) + " needs " + std::to_string(t.byte_size()));
  }
  std::memcpy(t.data(), bytes.data(), bytes.size());
  return t;
}

}  // namespace

Expected<std::vector<Tensor>> MakeInputs(const std::vector<TensorInfo>& infos,
                                         const InputSpec& spec, int batch) {
  if (batch < 1) return InvalidArgument("batch must be at least 1");
  if (spec.kind == InputKind::kFile) {
    for (const auto& [name, path] : spec.files) {
      const bool known = std::any_of(infos.begin(), infos.end(),
                                     [&](const TensorInfo& i) { return i.name == name; });
      if (name.empty() && infos.size() != 1) {
        return InvalidArgument("the model has " + std::to_string(infos.size()) +
                               " inputs: name each one, --input NAME=" + path.string());
      }
      if (!name.empty() && !known) {
        return InvalidArgument("the model has no input named '" + name + "'");
      }
    }
  }
  std::mt19937_64 rng(spec.seed);
  std::vector<Tensor> tensors;
  for (const TensorInfo& info : infos) {
    if (spec.kind == InputKind::kFile) {
      auto it = spec.files.find(info.name);
      if (it == spec.files.end()) it = spec.files.find("");
      if (it == spec.files.end()) {
        return InvalidArgument("no --input file given for input '" + info.name + "'");
      }
      Expected<Shape> resolved = ResolveShape(info, spec, batch);
      if (!resolved && it->second.extension() == ".npy") {
        // A .npy file carries its shape: it fills the dynamic dimensions when it fits.
        DEEPEDGE_ASSIGN_OR_RETURN(Tensor t, ReadNpy(it->second));
        bool fits = t.shape().rank() == info.shape.rank();
        for (std::size_t d = 0; fits && d < info.shape.rank(); ++d) {
          fits = info.shape[d] == Shape::kDynamic || info.shape[d] == t.shape()[d];
        }
        if (fits) resolved = t.shape();
      }
      if (!resolved) return resolved.status();
      DEEPEDGE_ASSIGN_OR_RETURN(Tensor t, LoadInputFile(info, *resolved, it->second));
      tensors.push_back(std::move(t));
      continue;
    }
    DEEPEDGE_ASSIGN_OR_RETURN(Shape shape, ResolveShape(info, spec, batch));
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(info.dtype, shape));
    if (spec.kind == InputKind::kRandom) FillRandom(t, rng);
    tensors.push_back(std::move(t));
  }
  return tensors;
}

}  // namespace deepedge
