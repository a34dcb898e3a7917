// Tiny TFLite flatbuffers written with the schema's generated builders, shared by the
// importer's unit tests (tests/unit/formats/tflite_model_test.cc) and the comparison with
// the TFLite reference (tests/integration/tflite_control_flow_test.cc).
//
// The control-flow models (IF, WHILE) follow TFLite's own rules, so that the reference
// interpreter runs them: branch and body subgraphs take exactly the operator's values
// (same types), a WHILE condition returns one bool, a WHILE has as many outputs as inputs.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tflite_schema_generated.h"

namespace deepedge::tflite_test {

namespace fb = flatbuffers;
using tfl::TensorType;

// A model under construction: tensors and operators go into the current subgraph;
// EndSubgraph closes it (subgraphs are numbered in the order they are ended, the first
// is the main one) and Finish closes the last and writes the model.
class ModelBuilder {
 public:
  ModelBuilder() { buffers_.push_back(tfl::CreateBuffer(b_)); }  // buffer 0: empty sentinel

  int Tensor(std::vector<int> shape, TensorType type, const std::string& name,
             const void* data = nullptr, std::size_t bytes = 0,
             fb::Offset<tfl::QuantizationParameters> q = 0,
             fb::Offset<tfl::SparsityParameters> sparsity = 0,
             const std::vector<int>* signature = nullptr) {
    std::uint32_t buffer = 0;
    if (data != nullptr) {
      b_.ForceVectorAlignment(bytes, 1, 16);
      auto v = b_.CreateVector(static_cast<const std::uint8_t*>(data), bytes);
      buffer = static_cast<std::uint32_t>(buffers_.size());
      buffers_.push_back(tfl::CreateBuffer(b_, v));
    }
    auto sig = signature != nullptr ? b_.CreateVector(*signature) : 0;
    tensors_.push_back(tfl::CreateTensor(b_, b_.CreateVector(shape), type, buffer,
                                         b_.CreateString(name), q, false, sparsity, sig));
    return static_cast<int>(tensors_.size()) - 1;
  }
  // A tensor whose dimensions marked -1 in `signature` are dynamic (`shape` has sizes).
  int DynamicTensor(std::vector<int> shape, std::vector<int> signature, TensorType type,
                    const std::string& name) {
    return Tensor(std::move(shape), type, name, nullptr, 0, 0, 0, &signature);
  }
  template <typename T>
  int Const(std::vector<int> shape, TensorType type, const std::vector<T>& v,
            const std::string& name, fb::Offset<tfl::QuantizationParameters> q = 0) {
    return Tensor(std::move(shape), type, name, v.data(), v.size() * sizeof(T), q);
  }
  fb::Offset<tfl::QuantizationParameters> Quant(std::vector<float> scale,
                                                std::vector<std::int64_t> zp, int axis = 0) {
    return tfl::CreateQuantizationParameters(b_, 0, 0, b_.CreateVector(scale), b_.CreateVector(zp),
                                             tfl::QuantizationDetails::NONE, 0, axis);
  }
  // The operator code's index (one per builtin / custom code in the model).
  std::uint32_t Code(int builtin, const std::string& custom = "") {
    const auto key = std::make_pair(builtin, custom);
    if (auto it = code_index_.find(key); it != code_index_.end()) return it->second;
    codes_.push_back(tfl::CreateOperatorCode(b_, static_cast<std::int8_t>(std::min(builtin, 127)),
                                             custom.empty() ? 0 : b_.CreateString(custom), 1,
                                             builtin));
    const auto index = static_cast<std::uint32_t>(codes_.size()) - 1;
    code_index_[key] = index;
    return index;
  }
  void Op(std::uint32_t code, std::vector<int> in, std::vector<int> out,
          tfl::BuiltinOptions type = tfl::BuiltinOptions::NONE, fb::Offset<void> options = 0) {
    ops_.push_back(
        tfl::CreateOperator(b_, code, b_.CreateVector(in), b_.CreateVector(out), type, options));
  }
  // A custom operator with raw custom_options bytes (none when `custom_options` is empty).
  void CustomOp(std::uint32_t code, std::vector<int> in, std::vector<int> out,
                const std::vector<std::uint8_t>& custom_options) {
    auto opts = custom_options.empty() ? 0 : b_.CreateVector(custom_options);
    ops_.push_back(tfl::CreateOperator(b_, code, b_.CreateVector(in), b_.CreateVector(out),
                                       tfl::BuiltinOptions::NONE, 0, opts));
  }
  // IF (cond, values...) -> outs, branches `then_index` / `else_index`.
  void If(std::vector<int> in, std::vector<int> out, int then_index, int else_index) {
    auto o = tfl::CreateIfOptions(b_, then_index, else_index);
    Op(Code(118), std::move(in), std::move(out), tfl::BuiltinOptions::IfOptions, o.Union());
  }
  // WHILE (values...) -> values, condition `cond_index`, body `body_index`.
  void While(std::vector<int> in, std::vector<int> out, int cond_index, int body_index) {
    auto o = tfl::CreateWhileOptions(b_, cond_index, body_index);
    Op(Code(119), std::move(in), std::move(out), tfl::BuiltinOptions::WhileOptions, o.Union());
  }
  fb::FlatBufferBuilder& fbb() { return b_; }

  // Closes the current subgraph; returns its index. The next tensors start at 0 again.
  int EndSubgraph(std::vector<int> inputs, std::vector<int> outputs, const std::string& name) {
    subgraphs_.push_back(tfl::CreateSubGraph(b_, b_.CreateVector(tensors_), b_.CreateVector(inputs),
                                             b_.CreateVector(outputs), b_.CreateVector(ops_),
                                             b_.CreateString(name)));
    tensors_.clear();
    ops_.clear();
    return static_cast<int>(subgraphs_.size()) - 1;
  }
  // Writes the model from the subgraphs ended so far.
  std::vector<std::uint8_t> FinishModel() {
    auto model = tfl::CreateModel(b_, 3, b_.CreateVector(codes_), b_.CreateVector(subgraphs_),
                                  b_.CreateString("built by a test"), b_.CreateVector(buffers_));
    b_.Finish(model, tfl::ModelIdentifier());
    return {b_.GetBufferPointer(), b_.GetBufferPointer() + b_.GetSize()};
  }
  // Closes the current subgraph ("main" when it is the first) and writes the model.
  std::vector<std::uint8_t> Finish(std::vector<int> inputs, std::vector<int> outputs) {
    EndSubgraph(std::move(inputs), std::move(outputs), subgraphs_.empty() ? "main" : "last");
    return FinishModel();
  }

 private:
  fb::FlatBufferBuilder b_;
  std::vector<fb::Offset<tfl::Buffer>> buffers_;
  std::vector<fb::Offset<tfl::Tensor>> tensors_;
  std::vector<fb::Offset<tfl::OperatorCode>> codes_;
  std::map<std::pair<int, std::string>, std::uint32_t> code_index_;
  std::vector<fb::Offset<tfl::Operator>> ops_;
  std::vector<fb::Offset<tfl::SubGraph>> subgraphs_;
};

// TFLite builtin codes the models below use.
enum : int {
  kAddCode = 0,
  kConcatCode = 2,
  kDequantizeCode = 6,
  kMulCode = 18,
  kLessCode = 58,
  kLessEqualCode = 63,
  kQuantizeCode = 114,
};

// A subgraph (x: float32 `shape`, y: float32 `shape`) -> x OP y.
inline int BinaryBranch(ModelBuilder& m, int code, const std::vector<int>& shape,
                        const std::string& name) {
  const int x = m.Tensor(shape, TensorType::FLOAT32, "x");
  const int y = m.Tensor(shape, TensorType::FLOAT32, "y");
  const int z = m.Tensor(shape, TensorType::FLOAT32, "z");
  m.Op(m.Code(code), {x, y}, {z});
  return m.EndSubgraph({x, y}, {z}, name);
}

// IF (cond: bool [], a: float32 [3], b: float32 [3]) -> y: cond ? a + b : a * b.
// Subgraphs: 0 main, 1 ADD, 2 MUL.
inline std::vector<std::uint8_t> IfAddMulModel() {
  ModelBuilder m;
  const int c = m.Tensor({}, TensorType::BOOL, "cond");
  const int a = m.Tensor({3}, TensorType::FLOAT32, "a");
  const int b = m.Tensor({3}, TensorType::FLOAT32, "b");
  const int y = m.Tensor({3}, TensorType::FLOAT32, "y");
  m.If({c, a, b}, {y}, 1, 2);
  m.EndSubgraph({c, a, b}, {y}, "main");
  BinaryBranch(m, kAddCode, {3}, "add");
  BinaryBranch(m, kMulCode, {3}, "mul");
  return m.FinishModel();
}

// WHILE (x: float32 [1]) -> y: doubles x while x <= 100 (so the trip count depends on x).
// Subgraphs: 0 main, 1 condition (x <= 100), 2 body (x * 2).
inline std::vector<std::uint8_t> WhileDoubleModel() {
  ModelBuilder m;
  {
    const int x = m.Tensor({1}, TensorType::FLOAT32, "x");
    const int y = m.Tensor({1}, TensorType::FLOAT32, "y");
    m.While({x}, {y}, 1, 2);
    m.EndSubgraph({x}, {y}, "main");
  }
  {
    const int x = m.Tensor({1}, TensorType::FLOAT32, "x");
    const int limit = m.Const({1}, TensorType::FLOAT32, std::vector<float>{100.f}, "limit");
    const int c = m.Tensor({1}, TensorType::BOOL, "go_on");
    m.Op(m.Code(kLessEqualCode), {x, limit}, {c});
    m.EndSubgraph({x}, {c}, "cond");
  }
  {
    const int x = m.Tensor({1}, TensorType::FLOAT32, "x");
    const int two = m.Const({1}, TensorType::FLOAT32, std::vector<float>{2.f}, "two");
    const int y = m.Tensor({1}, TensorType::FLOAT32, "doubled");
    m.Op(m.Code(kMulCode), {x, two}, {y});
    m.EndSubgraph({x}, {y}, "body");
  }
  return m.FinishModel();
}

// WHILE (i: int32 [], n: int32 [], acc: float32 [2]) -> (i, n, acc): while i < n,
// i += 1 and acc *= 3 (n passes through: the body's output is its input tensor).
inline std::vector<std::uint8_t> WhileCounterModel() {
  ModelBuilder m;
  {
    const int i = m.Tensor({}, TensorType::INT32, "i");
    const int n = m.Tensor({}, TensorType::INT32, "n");
    const int acc = m.Tensor({2}, TensorType::FLOAT32, "acc");
    const int i2 = m.Tensor({}, TensorType::INT32, "i_out");
    const int n2 = m.Tensor({}, TensorType::INT32, "n_out");
    const int acc2 = m.Tensor({2}, TensorType::FLOAT32, "acc_out");
    m.While({i, n, acc}, {i2, n2, acc2}, 1, 2);
    m.EndSubgraph({i, n, acc}, {i2, n2, acc2}, "main");
  }
  {
    const int i = m.Tensor({}, TensorType::INT32, "i");
    const int n = m.Tensor({}, TensorType::INT32, "n");
    const int acc = m.Tensor({2}, TensorType::FLOAT32, "acc");
    const int c = m.Tensor({}, TensorType::BOOL, "less");
    m.Op(m.Code(kLessCode), {i, n}, {c});
    m.EndSubgraph({i, n, acc}, {c}, "cond");
  }
  {
    const int i = m.Tensor({}, TensorType::INT32, "i");
    const int n = m.Tensor({}, TensorType::INT32, "n");
    const int acc = m.Tensor({2}, TensorType::FLOAT32, "acc");
    const int one = m.Const({}, TensorType::INT32, std::vector<std::int32_t>{1}, "one");
    const int three = m.Const({}, TensorType::FLOAT32, std::vector<float>{3.f}, "three");
    const int i2 = m.Tensor({}, TensorType::INT32, "i_next");
    const int acc2 = m.Tensor({2}, TensorType::FLOAT32, "acc_next");
    m.Op(m.Code(kAddCode), {i, one}, {i2});
    m.Op(m.Code(kMulCode), {acc, three}, {acc2});
    m.EndSubgraph({i, n, acc}, {i2, n, acc2}, "body");
  }
  return m.FinishModel();
}

// WHILE (i: int32 [], v: float32 [-1]) -> (i, v): while i < 3, i += 1 and v = concat(v, v),
// so v's length doubles on every trip (a loop-carried value that changes shape).
inline std::vector<std::uint8_t> WhileGrowingModel() {
  ModelBuilder m;
  auto concat0 = [&](int a, int b, int out) {
    auto o = tfl::CreateConcatenationOptions(m.fbb(), 0);
    m.Op(m.Code(kConcatCode), {a, b}, {out}, tfl::BuiltinOptions::ConcatenationOptions, o.Union());
  };
  {
    const int i = m.Tensor({}, TensorType::INT32, "i");
    const int v = m.DynamicTensor({2}, {-1}, TensorType::FLOAT32, "v");
    const int i2 = m.Tensor({}, TensorType::INT32, "i_out");
    const int v2 = m.DynamicTensor({2}, {-1}, TensorType::FLOAT32, "v_out");
    m.While({i, v}, {i2, v2}, 1, 2);
    m.EndSubgraph({i, v}, {i2, v2}, "main");
  }
  {
    const int i = m.Tensor({}, TensorType::INT32, "i");
    const int v = m.DynamicTensor({2}, {-1}, TensorType::FLOAT32, "v");
    const int three = m.Const({}, TensorType::INT32, std::vector<std::int32_t>{3}, "three");
    const int c = m.Tensor({}, TensorType::BOOL, "less");
    m.Op(m.Code(kLessCode), {i, three}, {c});
    m.EndSubgraph({i, v}, {c}, "cond");
  }
  {
    const int i = m.Tensor({}, TensorType::INT32, "i");
    const int v = m.DynamicTensor({2}, {-1}, TensorType::FLOAT32, "v");
    const int one = m.Const({}, TensorType::INT32, std::vector<std::int32_t>{1}, "one");
    const int i2 = m.Tensor({}, TensorType::INT32, "i_next");
    const int v2 = m.DynamicTensor({4}, {-1}, TensorType::FLOAT32, "v_next");
    m.Op(m.Code(kAddCode), {i, one}, {i2});
    concat0(v, v, v2);
    m.EndSubgraph({i, v}, {i2, v2}, "body");
  }
  return m.FinishModel();
}

// WHILE (i: int32 [], x: float32 [2]) -> (i, x): while i < 4, x = i < 2 ? x + 10 : x * 2
// (an IF inside the body) and i += 1. Subgraphs: 0 main, 1 condition, 2 body, 3 the
// +10 branch, 4 the *2 branch.
inline std::vector<std::uint8_t> NestedIfInWhileModel() {
  ModelBuilder m;
  {
    const int i = m.Tensor({}, TensorType::INT32, "i");
    const int x = m.Tensor({2}, TensorType::FLOAT32, "x");
    const int i2 = m.Tensor({}, TensorType::INT32, "i_out");
    const int x2 = m.Tensor({2}, TensorType::FLOAT32, "x_out");
    m.While({i, x}, {i2, x2}, 1, 2);
    m.EndSubgraph({i, x}, {i2, x2}, "main");
  }
  {
    const int i = m.Tensor({}, TensorType::INT32, "i");
    const int x = m.Tensor({2}, TensorType::FLOAT32, "x");
    const int four = m.Const({}, TensorType::INT32, std::vector<std::int32_t>{4}, "four");
    const int c = m.Tensor({}, TensorType::BOOL, "less");
    m.Op(m.Code(kLessCode), {i, four}, {c});
    m.EndSubgraph({i, x}, {c}, "cond");
  }
  {
    const int i = m.Tensor({}, TensorType::INT32, "i");
    const int x = m.Tensor({2}, TensorType::FLOAT32, "x");
    const int two = m.Const({}, TensorType::INT32, std::vector<std::int32_t>{2}, "two");
    const int one = m.Const({}, TensorType::INT32, std::vector<std::int32_t>{1}, "one");
    const int flag = m.Tensor({}, TensorType::BOOL, "early");
    const int x2 = m.Tensor({2}, TensorType::FLOAT32, "x_next");
    const int i2 = m.Tensor({}, TensorType::INT32, "i_next");
    m.Op(m.Code(kLessCode), {i, two}, {flag});
    m.If({flag, x}, {x2}, 3, 4);
    m.Op(m.Code(kAddCode), {i, one}, {i2});
    m.EndSubgraph({i, x}, {i2, x2}, "body");
  }
  auto scalar_branch = [&](int code, float k, const std::string& name) {
    const int x = m.Tensor({2}, TensorType::FLOAT32, "x");
    const int c = m.Const({}, TensorType::FLOAT32, std::vector<float>{k}, "k");
    const int y = m.Tensor({2}, TensorType::FLOAT32, "y");
    m.Op(m.Code(code), {x, c}, {y});
    m.EndSubgraph({x}, {y}, name);
  };
  scalar_branch(kAddCode, 10.f, "plus10");
  scalar_branch(kMulCode, 2.f, "times2");
  return m.FinishModel();
}

// int16 activations (TFLite's 16x8 quantization): x, y float32 [1, 8] -> QUANTIZE to int16
// (scale 1/4096, zero point 0) -> ADD in int16 (same scale) -> `sum` int16, and
// DEQUANTIZE(sum) -> `out` float32.
inline std::vector<std::uint8_t> Int16AddModel() {
  ModelBuilder m;
  const float scale = 1.0f / 4096;
  const int x = m.Tensor({1, 8}, TensorType::FLOAT32, "x");
  const int y = m.Tensor({1, 8}, TensorType::FLOAT32, "y");
  const int qx = m.Tensor({1, 8}, TensorType::INT16, "qx", nullptr, 0, m.Quant({scale}, {0}));
  const int qy = m.Tensor({1, 8}, TensorType::INT16, "qy", nullptr, 0, m.Quant({scale}, {0}));
  const int sum = m.Tensor({1, 8}, TensorType::INT16, "sum", nullptr, 0, m.Quant({scale}, {0}));
  const int out = m.Tensor({1, 8}, TensorType::FLOAT32, "out");
  m.Op(m.Code(kQuantizeCode), {x}, {qx});
  m.Op(m.Code(kQuantizeCode), {y}, {qy});
  m.Op(m.Code(kAddCode), {qx, qy}, {sum}, tfl::BuiltinOptions::AddOptions,
       tfl::CreateAddOptions(m.fbb()).Union());
  m.Op(m.Code(kDequantizeCode), {sum}, {out});
  return m.Finish({x, y}, {sum, out});
}

}  // namespace deepedge::tflite_test
