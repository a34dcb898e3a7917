// If, Loop and Scan: run nested graphs through KernelContext::RunSubgraph.
#include <algorithm>
#include <cstring>
#include <optional>

#include "engine/kernel.h"
#include "engine/kernels/kernel_util.h"

namespace deepedge::engine {

namespace {

Expected<const ir::Graph*> Body(const KernelContext& ctx, const char* name) {
  const ir::Attribute* a = ctx.node().Find(name);
  if (a == nullptr || !a->graph)
    return NodeError(ctx, std::string("attribute '") + name + "' (a graph) is missing");
  return a->graph.get();
}

Status CopyToOutput(KernelContext& ctx, std::size_t i, const Tensor& t) {
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(i, t.dtype(), t.shape()));
  if (t.byte_size()) std::memcpy(out->data(), t.data(), t.byte_size());
  return Status::Ok();
}

Expected<bool> ScalarBool(const KernelContext& ctx, const Tensor& t, const char* what) {
  if (t.element_count() != 1) return NodeError(ctx, std::string(what) + " must hold one value");
  if (t.dtype() == DType::kBool || t.dtype() == DType::kU8) return t.as<std::uint8_t>()[0] != 0;
  return NodeError(ctx, std::string(what) + " must be bool");
}

Status If(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* cond, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(bool take_then, ScalarBool(ctx, *cond, "the condition"));
  DEEPEDGE_ASSIGN_OR_RETURN(const ir::Graph* branch,
                            Body(ctx, take_then ? "then_branch" : "else_branch"));
  std::vector<Tensor> outs;
  DEEPEDGE_RETURN_IF_ERROR(ctx.RunSubgraph(*branch, {}, outs));
  if (outs.size() < ctx.output_count()) {
    return NodeError(ctx, "the branch produced " + std::to_string(outs.size()) +
                              " outputs, the node has " + std::to_string(ctx.output_count()));
  }
  for (std::size_t i = 0; i < ctx.output_count(); ++i)
    DEEPEDGE_RETURN_IF_ERROR(CopyToOutput(ctx, i, outs[i]));
  return Status::Ok();
}

Status StackParts(KernelContext& ctx, std::size_t out_index, const std::vector<Tensor>& parts,
                  DType dtype) {
  std::vector<std::int64_t> dims = {static_cast<std::int64_t>(parts.size())};
  if (!parts.empty()) {
    for (std::int64_t d : parts[0].shape().dims()) dims.push_back(d);
    for (const Tensor& p : parts) {
      if (p.shape() != parts[0].shape())
        return NodeError(ctx, "scan outputs change shape between iterations");
    }
  }
  DEEPEDGE_ASSIGN_OR_RETURN(
      Tensor * out, ctx.Output(out_index, parts.empty() ? dtype : parts[0].dtype(), Shape(dims)));
  std::size_t offset = 0;
  for (const Tensor& p : parts) {
    if (p.byte_size())
      std::memcpy(static_cast<std::byte*>(out->data()) + offset, p.data(), p.byte_size());
    offset += p.byte_size();
  }
  return Status::Ok();
}

Status Loop(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const ir::Graph* body, Body(ctx, "body"));
  std::int64_t max_trips = -1;
  if (const Tensor* m = ctx.input(0)) {
    DEEPEDGE_ASSIGN_OR_RETURN(std::vector<std::int64_t> v, ReadInts(*m));
    if (v.size() != 1) return NodeError(ctx, "M must hold one value");
    max_trips = v[0];
  }
  bool cond = true;
  if (const Tensor* c = ctx.input(1)) {
    DEEPEDGE_ASSIGN_OR_RETURN(cond, ScalarBool(ctx, *c, "cond"));
  }
  const std::size_t carried = ctx.input_count() >= 2 ? ctx.input_count() - 2 : 0;
  std::vector<Tensor> state;
  for (std::size_t i = 0; i < carried; ++i) {
    const Tensor* t = ctx.input(2 + i);
    if (t == nullptr)
      return NodeError(ctx, "loop-carried input " + std::to_string(i) + " is missing");
    state.push_back(t->Clone());
  }
  if (ctx.output_count() < carried) return NodeError(ctx, "fewer outputs than loop-carried values");
  const std::size_t scans = ctx.output_count() - carried;
  std::vector<std::vector<Tensor>> scan_parts(scans);
  Tensor iter = Tensor::Allocate(DType::kI64, Shape{}).value();
  Tensor cond_t = Tensor::Allocate(DType::kBool, Shape{}).value();
  for (std::int64_t i = 0; (max_trips < 0 || i < max_trips) && cond; ++i) {
    iter.as<std::int64_t>()[0] = i;
    cond_t.as<std::uint8_t>()[0] = 1;
    std::vector<const Tensor*> in = {&iter, &cond_t};
    for (const Tensor& s : state) in.push_back(&s);
    std::vector<Tensor> outs;
    DEEPEDGE_RETURN_IF_ERROR(ctx.RunSubgraph(*body, in, outs));
    if (outs.size() != 1 + carried + scans) {
      return NodeError(ctx, "the body produced " + std::to_string(outs.size()) +
                                " outputs, expected " + std::to_string(1 + carried + scans));
    }
    DEEPEDGE_ASSIGN_OR_RETURN(cond, ScalarBool(ctx, outs[0], "the body's condition"));
    for (std::size_t k = 0; k < carried; ++k) state[k] = std::move(outs[1 + k]);
    for (std::size_t k = 0; k < scans; ++k)
      scan_parts[k].push_back(std::move(outs[1 + carried + k]));
  }
  for (std::size_t k = 0; k < carried; ++k)
    DEEPEDGE_RETURN_IF_ERROR(CopyToOutput(ctx, k, state[k]));
  for (std::size_t k = 0; k < scans; ++k) {
    // With zero iterations the element type comes from the body's declared output.
    DType dtype = DType::kF32;
    if (1 + carried + k < body->outputs.size() && body->outputs[1 + carried + k].dtype) {
      dtype = *body->outputs[1 + carried + k].dtype;
    }
    DEEPEDGE_RETURN_IF_ERROR(StackParts(ctx, carried + k, scan_parts[k], dtype));
  }
  return Status::Ok();
}

// Moves `axis` of `t` to the front (a copy), so that slices along it are contiguous.
Tensor AxisToFront(const Tensor& t, std::size_t axis) {
  if (axis == 0) return t.Clone();
  const auto& d = t.shape().dims();
  std::int64_t outer = 1, inner = 1;
  for (std::size_t i = 0; i < axis; ++i) outer *= d[i];
  for (std::size_t i = axis + 1; i < d.size(); ++i) inner *= d[i];
  const std::int64_t n = d[axis];
  std::vector<std::int64_t> dims = {n};
  for (std::size_t i = 0; i < d.size(); ++i) {
    if (i != axis) dims.push_back(d[i]);
  }
  Tensor out = Tensor::Allocate(t.dtype(), Shape(dims)).value();
  const std::size_t es = DTypeSize(t.dtype());
  const auto* src = static_cast<const std::byte*>(t.data());
  auto* dst = static_cast<std::byte*>(out.data());
  for (std::int64_t a = 0; a < n; ++a) {
    for (std::int64_t o = 0; o < outer; ++o) {
      std::memcpy(dst + ((a * outer + o) * inner) * es, src + ((o * n + a) * inner) * es,
                  static_cast<std::size_t>(inner) * es);
    }
  }
  return out;
}

// Inverse of AxisToFront for a stacked [n, rest...] tensor written to output `index`.
Status FrontToAxis(KernelContext& ctx, std::size_t index, const Tensor& stacked, std::size_t axis) {
  if (axis == 0) return CopyToOutput(ctx, index, stacked);
  const auto& d = stacked.shape().dims();
  const std::int64_t n = d[0];
  std::vector<std::int64_t> dims(d.begin() + 1, d.end());
  dims.insert(dims.begin() + static_cast<std::ptrdiff_t>(axis), n);
  std::int64_t outer = 1, inner = 1;
  for (std::size_t i = 0; i < axis; ++i) outer *= dims[i];
  for (std::size_t i = axis + 1; i < dims.size(); ++i) inner *= dims[i];
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(index, stacked.dtype(), Shape(dims)));
  const std::size_t es = DTypeSize(stacked.dtype());
  const auto* src = static_cast<const std::byte*>(stacked.data());
  auto* dst = static_cast<std::byte*>(out->data());
  for (std::int64_t a = 0; a < n; ++a) {
    for (std::int64_t o = 0; o < outer; ++o) {
      std::memcpy(dst + ((o * n + a) * inner) * es, src + ((a * outer + o) * inner) * es,
                  static_cast<std::size_t>(inner) * es);
    }
  }
  return Status::Ok();
}

Status Scan(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const ir::Graph* body, Body(ctx, "body"));
  const auto m = static_cast<std::size_t>(ctx.node().GetInt("num_scan_inputs", 0));
  // Opset 8 had a leading optional sequence_lens input; DeepEdge follows opset 9+.
  if (ctx.node().opset < 9) return NodeUnsupported(ctx, "Scan before opset 9 is not supported");
  if (m == 0 || m > ctx.input_count()) return NodeError(ctx, "num_scan_inputs is out of range");
  const std::size_t n_state = ctx.input_count() - m;
  const auto in_axes = ctx.node().GetInts("scan_input_axes", std::vector<std::int64_t>(m, 0));
  const auto in_dirs = ctx.node().GetInts("scan_input_directions", std::vector<std::int64_t>(m, 0));
  const std::size_t k_out = ctx.output_count() - n_state;
  const auto out_axes = ctx.node().GetInts("scan_output_axes", std::vector<std::int64_t>(k_out, 0));
  const auto out_dirs =
      ctx.node().GetInts("scan_output_directions", std::vector<std::int64_t>(k_out, 0));

  std::vector<Tensor> state;
  for (std::size_t i = 0; i < n_state; ++i) {
    DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* t, RequiredInput(ctx, i));
    state.push_back(t->Clone());
  }
  std::vector<Tensor> fronts;
  std::int64_t steps = -1;
  for (std::size_t j = 0; j < m; ++j) {
    DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* t, RequiredInput(ctx, n_state + j));
    DEEPEDGE_ASSIGN_OR_RETURN(
        std::int64_t axis, NormalizeAxis(j < in_axes.size() ? in_axes[j] : 0, t->shape().rank()));
    fronts.push_back(AxisToFront(*t, static_cast<std::size_t>(axis)));
    const std::int64_t len = fronts.back().shape()[0];
    if (steps >= 0 && len != steps) return NodeError(ctx, "scan inputs have different lengths");
    steps = len;
  }
  std::vector<std::vector<Tensor>> parts(k_out);
  for (std::int64_t s = 0; s < steps; ++s) {
    std::vector<Tensor> slices;
    for (std::size_t j = 0; j < m; ++j) {
      const Tensor& f = fronts[j];
      const std::int64_t idx = (j < in_dirs.size() && in_dirs[j] == 1) ? steps - 1 - s : s;
      std::vector<std::int64_t> dims(f.shape().dims().begin() + 1, f.shape().dims().end());
      Tensor slice = Tensor::Allocate(f.dtype(), Shape(dims)).value();
      if (slice.byte_size()) {
        std::memcpy(slice.data(),
                    static_cast<const std::byte*>(f.data()) +
                        static_cast<std::size_t>(idx) * slice.byte_size(),
                    slice.byte_size());
      }
      slices.push_back(std::move(slice));
    }
    std::vector<const Tensor*> in;
    for (const Tensor& t : state) in.push_back(&t);
    for (const Tensor& t : slices) in.push_back(&t);
    std::vector<Tensor> outs;
    DEEPEDGE_RETURN_IF_ERROR(ctx.RunSubgraph(*body, in, outs));
    if (outs.size() != n_state + k_out)
      return NodeError(ctx, "the body produced the wrong number of outputs");
    for (std::size_t i = 0; i < n_state; ++i) state[i] = std::move(outs[i]);
    for (std::size_t k = 0; k < k_out; ++k) parts[k].push_back(std::move(outs[n_state + k]));
  }
  for (std::size_t i = 0; i < n_state; ++i)
    DEEPEDGE_RETURN_IF_ERROR(CopyToOutput(ctx, i, state[i]));
  for (std::size_t k = 0; k < k_out; ++k) {
    if (k < out_dirs.size() && out_dirs[k] == 1) std::reverse(parts[k].begin(), parts[k].end());
    std::vector<std::int64_t> dims = {static_cast<std::int64_t>(parts[k].size())};
    if (!parts[k].empty()) {
      for (std::int64_t d : parts[k][0].shape().dims()) dims.push_back(d);
    }
    Tensor stacked =
        Tensor::Allocate(parts[k].empty() ? DType::kF32 : parts[k][0].dtype(), Shape(dims)).value();
    std::size_t off = 0;
    for (const Tensor& p : parts[k]) {
      if (p.byte_size())
        std::memcpy(static_cast<std::byte*>(stacked.data()) + off, p.data(), p.byte_size());
      off += p.byte_size();
    }
    DEEPEDGE_ASSIGN_OR_RETURN(
        std::int64_t axis,
        NormalizeAxis(k < out_axes.size() ? out_axes[k] : 0, stacked.shape().rank()));
    DEEPEDGE_RETURN_IF_ERROR(
        FrontToAxis(ctx, n_state + k, stacked, static_cast<std::size_t>(axis)));
  }
  return Status::Ok();
}

}  // namespace

void RegisterControlFlowKernels(KernelRegistry& r) {
  r.Add("", "If", If, 1);
  r.Add("", "Loop", Loop, 1);
  r.Add("", "Scan", Scan, 9);
}

}  // namespace deepedge::engine
