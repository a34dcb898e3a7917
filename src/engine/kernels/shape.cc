// Shape and data-movement kernels: Reshape, Transpose, Concat, Slice, Gather, Pad,
// Cast, ... (see engine/kernel.h for the contract). Most of them only move bytes,
// so they work on every DType by dispatching on the element size.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "engine/kernel.h"
#include "engine/kernels/kernel_util.h"
#include "engine/kernels/shape_dtype.h"

namespace deepedge::engine {

namespace {

using shape_internal::ComputeToI64;
using shape_internal::CopyBytes;
using shape_internal::DTypeFromOnnx;
using shape_internal::LoadAt;
using shape_internal::VisitDType;
using shape_internal::VisitSize;

using Dims = std::vector<std::int64_t>;

// Below this many bytes of output a kernel runs on the calling thread.
constexpr std::size_t kParallelBytes = std::size_t{1} << 16;

// ---------------------------------------------------------------------------------
// Small helpers.

std::size_t ESize(const Tensor& t) {
  return DTypeSize(t.dtype());
}
const std::byte* Bytes(const Tensor& t) {
  return static_cast<const std::byte*>(t.data());
}
std::byte* Bytes(Tensor& t) {
  return static_cast<std::byte*>(t.data());
}
std::size_t Sz(std::int64_t v) {
  return static_cast<std::size_t>(v);
}
std::ptrdiff_t Pd(std::int64_t v) {
  return static_cast<std::ptrdiff_t>(v);
}

std::int64_t Product(const Dims& d, std::size_t begin, std::size_t end) {
  std::int64_t p = 1;
  for (std::size_t i = begin; i < end && i < d.size(); ++i) p *= d[i];
  return p;
}
std::int64_t Product(const Dims& d) {
  return Product(d, 0, d.size());
}

std::string IntsToString(const Dims& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(v[i]);
  }
  return s + "]";
}

// NormalizeAxis with the node named in the error.
Expected<std::size_t> Axis(const KernelContext& ctx, std::int64_t axis, std::size_t rank,
                           bool inclusive_end = false) {
  Expected<std::int64_t> a = NormalizeAxis(axis, rank, inclusive_end);
  if (!a) return NodeError(ctx, a.status().message());
  return Sz(*a);
}

// The values of integer input i (i32 or i64), which must be present.
Expected<Dims> IntsInput(const KernelContext& ctx, std::size_t i) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* t, RequiredInput(ctx, i));
  Expected<Dims> v = ReadInts(*t);
  if (!v) return NodeError(ctx, "input " + std::to_string(i) + ": " + v.status().message());
  return std::move(v).value();
}

// The values of any numeric tensor as int64 (floats truncate toward zero).
Dims AnyToInts(const Tensor& t) {
  Dims v(Sz(std::max<std::int64_t>(t.element_count(), 0)));
  (void)VisitDType(t.dtype(), [&](auto e) {
    using E = decltype(e);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = ComputeToI64(LoadAt<E>(t.data(), i));
    return Status::Ok();
  });
  return v;
}

// Runs fn over [0, n), on the session's threads when the work is big enough.
void RunChunks(KernelContext& ctx, std::size_t n, std::size_t bytes,
               const std::function<void(std::size_t, std::size_t)>& fn) {
  if (n == 0) return;
  if (n > 1 && bytes >= kParallelBytes) {
    ctx.ParallelFor(n, fn);
  } else {
    fn(0, n);
  }
}

// Fills `count` elements of `esize` bytes with the element at `value` (not inside dst).
void FillElements(std::byte* dst, std::size_t count, const std::byte* value, std::size_t esize) {
  if (count == 0) return;
  std::memcpy(dst, value, esize);
  std::size_t done = 1;
  while (done < count) {
    const std::size_t n = std::min(done, count - done);
    std::memcpy(dst + done * esize, dst, n * esize);
    done += n;
  }
}

// Copies `bytes` bytes that start at dst to the `times - 1` places after them.
void Replicate(std::byte* dst, std::size_t bytes, std::int64_t times) {
  for (std::int64_t t = 1; t < times; ++t) CopyBytes(dst + Sz(t) * bytes, dst, bytes);
}

// An output that is a byte copy of `x` under a new shape.
Expected<Tensor*> CopyOut(KernelContext& ctx, std::size_t out, const Tensor& x,
                          const Shape& shape) {
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(out, x.dtype(), shape));
  CopyBytes(y->data(), x.data(), x.byte_size());
  return y;
}
Status CopyAs(KernelContext& ctx, std::size_t out, const Tensor& x, const Shape& shape) {
  return CopyOut(ctx, out, x, shape).status();
}

// The raw bytes of a float converted to `dtype` (for fill values given as floats).
std::vector<std::byte> FloatAs(DType dtype, float f) {
  std::vector<std::byte> b(DTypeSize(dtype));
  (void)VisitDType(dtype, [&](auto e) {
    using E = decltype(e);
    const typename E::Storage s = E::From(f);
    std::memcpy(b.data(), &s, sizeof(s));
    return Status::Ok();
  });
  return b;
}

// ---------------------------------------------------------------------------------
// Strided copy and transpose.

// dst is dense with dimensions `out`; element (i0, i1, ...) comes from
// src[base + sum(i_k * strides[k])] (in elements; strides may be negative).
void StridedCopy(KernelContext& ctx, const std::byte* src, std::int64_t base, const Dims& strides,
                 std::byte* dst, const Dims& out, std::size_t esize) {
  const std::int64_t total = Product(out);
  if (total <= 0) return;
  if (out.empty()) {
    std::memcpy(dst, src + Pd(base) * Pd(esize), esize);
    return;
  }
  const std::size_t r = out.size();
  const std::int64_t inner = out[r - 1];
  const std::int64_t inner_stride = strides[r - 1];
  const std::size_t rows = Sz(total / inner);
  VisitSize(esize, [&](auto n) {
    constexpr std::ptrdiff_t kN = decltype(n)::value;
    RunChunks(ctx, rows, Sz(total) * esize, [&](std::size_t b, std::size_t e) {
      Dims idx(r - 1, 0);
      std::int64_t rem = static_cast<std::int64_t>(b);
      std::int64_t off = base;
      for (std::size_t k = r - 1; k-- > 0;) {
        idx[k] = rem % out[k];
        rem /= out[k];
        off += idx[k] * strides[k];
      }
      for (std::size_t row = b; row < e; ++row) {
        std::byte* d = dst + Pd(static_cast<std::int64_t>(row) * inner) * kN;
        const std::byte* s = src + Pd(off) * kN;
        if (inner_stride == 1) {
          std::memcpy(d, s, Sz(inner) * kN);
        } else {
          for (std::int64_t j = 0; j < inner; ++j) {
            std::memcpy(d + Pd(j) * kN, s + Pd(j * inner_stride) * kN, kN);
          }
        }
        for (std::size_t k = r - 1; k-- > 0;) {
          if (++idx[k] < out[k]) {
            off += strides[k];
            break;
          }
          off -= strides[k] * (out[k] - 1);
          idx[k] = 0;
        }
      }
    });
  });
}

// [batch, rows, cols] -> [batch, cols, rows], in cache-sized tiles.
void BatchedTranspose2D(KernelContext& ctx, const std::byte* src, std::byte* dst,
                        std::int64_t batch, std::int64_t rows, std::int64_t cols,
                        std::size_t esize) {
  constexpr std::int64_t kTile = 32;
  const std::int64_t row_blocks = (rows + kTile - 1) / kTile;
  const std::size_t bytes = Sz(batch * rows * cols) * esize;
  VisitSize(esize, [&](auto n) {
    constexpr std::ptrdiff_t kN = decltype(n)::value;
    RunChunks(ctx, Sz(batch * row_blocks), bytes, [&](std::size_t b, std::size_t e) {
      for (std::size_t task = b; task < e; ++task) {
        const std::int64_t bi = static_cast<std::int64_t>(task) / row_blocks;
        const std::int64_t r0 = static_cast<std::int64_t>(task) % row_blocks * kTile;
        const std::int64_t r1 = std::min(rows, r0 + kTile);
        const std::byte* s = src + Pd(bi * rows * cols) * kN;
        std::byte* d = dst + Pd(bi * rows * cols) * kN;
        for (std::int64_t c0 = 0; c0 < cols; c0 += kTile) {
          const std::int64_t c1 = std::min(cols, c0 + kTile);
          for (std::int64_t r = r0; r < r1; ++r) {
            for (std::int64_t c = c0; c < c1; ++c) {
              std::memcpy(d + Pd(c * rows + r) * kN, s + Pd(r * cols + c) * kN, kN);
            }
          }
        }
      }
    });
  });
}

// dst = src with its axes permuted: output axis i is input axis perm[i].
// `perm` must be a permutation of [0, dims.size()).
void TransposeBytes(KernelContext& ctx, const std::byte* src, std::byte* dst, const Dims& dims,
                    const std::vector<std::size_t>& perm, std::size_t esize) {
  const std::int64_t total = Product(dims);
  if (total <= 0) return;
  // Drop axes of size 1: they do not change the memory order.
  std::vector<std::size_t> remap(dims.size(), 0);
  Dims d1;
  for (std::size_t a = 0; a < dims.size(); ++a) {
    if (dims[a] != 1) {
      remap[a] = d1.size();
      d1.push_back(dims[a]);
    }
  }
  std::vector<std::size_t> p1;
  for (std::size_t a : perm) {
    if (dims[a] != 1) p1.push_back(remap[a]);
  }
  // Merge runs of input axes that stay adjacent and in order in the output.
  struct Group {
    std::size_t first;
    std::size_t count;
  };
  std::vector<Group> groups;  // in output order
  for (std::size_t a : p1) {
    if (!groups.empty() && groups.back().first + groups.back().count == a) {
      ++groups.back().count;
    } else {
      groups.push_back({a, 1});
    }
  }
  std::vector<std::size_t> order(groups.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(),
            [&](std::size_t x, std::size_t y) { return groups[x].first < groups[y].first; });
  const std::size_t r = groups.size();
  Dims in(r);
  std::vector<std::size_t> rank_of(r);
  for (std::size_t k = 0; k < r; ++k) {
    const Group& g = groups[order[k]];
    rank_of[order[k]] = k;
    in[k] = Product(d1, g.first, g.first + g.count);
  }
  std::vector<std::size_t> p(r);
  for (std::size_t g = 0; g < r; ++g) p[g] = rank_of[g];

  if (r <= 1) {
    std::memcpy(dst, src, Sz(total) * esize);
    return;
  }
  if (r == 2) {
    BatchedTranspose2D(ctx, src, dst, 1, in[0], in[1], esize);
    return;
  }
  if (r == 3 && p[0] == 0 && p[1] == 2 && p[2] == 1) {  // NCHW <-> NHWC and kin
    BatchedTranspose2D(ctx, src, dst, in[0], in[1], in[2], esize);
    return;
  }
  const Dims in_strides = Strides(Shape(in));
  Dims out(r), strides(r);
  for (std::size_t i = 0; i < r; ++i) {
    out[i] = in[p[i]];
    strides[i] = in_strides[p[i]];
  }
  StridedCopy(ctx, src, 0, strides, dst, out, esize);
}

// Writes `in` broadcast to `out` (numpy rules; in.rank() <= out.rank()).
void BroadcastCopy(const std::byte* src, const Shape& in_shape, std::byte* dst,
                   const Shape& out_shape, std::size_t esize) {
  const std::size_t r = out_shape.rank();
  if (out_shape.element_count() <= 0) return;
  if (r == 0) {
    std::memcpy(dst, src, esize);
    return;
  }
  Dims in(r, 1);
  for (std::size_t i = 0; i < in_shape.rank(); ++i) in[r - in_shape.rank() + i] = in_shape[i];
  const Dims& out = out_shape.dims();
  const Dims is = Strides(Shape(in));
  const Dims os = Strides(out_shape);
  std::function<void(std::size_t, const std::byte*, std::byte*)> rec =
      [&](std::size_t d, const std::byte* s, std::byte* t) {
        if (d + 1 == r) {
          if (in[d] == out[d]) {
            std::memcpy(t, s, Sz(out[d]) * esize);
          } else {
            FillElements(t, Sz(out[d]), s, esize);
          }
          return;
        }
        const std::size_t block = Sz(os[d]) * esize;
        if (in[d] == out[d]) {
          for (std::int64_t i = 0; i < out[d]; ++i) {
            rec(d + 1, s + Sz(i * is[d]) * esize, t + Sz(i) * block);
          }
        } else {
          rec(d + 1, s, t);
          Replicate(t, block, out[d]);
        }
      };
  rec(0, src, dst);
}

// ---------------------------------------------------------------------------------
// Identity family: Identity, Dropout, Reshape, Flatten, Squeeze, Unsqueeze.

Status IdentityKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  return CopyAs(ctx, 0, *x, x->shape());
}

Status DropoutKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  const ir::Node& node = ctx.node();
  if (node.opset >= 12) {
    const Tensor* training = ctx.input(2);
    if (training != nullptr && training->element_count() > 0 && AnyToInts(*training)[0] != 0) {
      float ratio = 0.5f;
      if (const Tensor* r = ctx.input(1); r != nullptr && r->element_count() > 0) {
        Expected<std::vector<float>> rv = ReadFloats(*r);
        if (!rv) return NodeError(ctx, "ratio: " + rv.status().message());
        ratio = (*rv)[0];
      }
      if (ratio != 0.0f) {
        return NodeUnsupported(ctx, "training_mode with a non-zero ratio (random dropout)");
      }
    }
  }
  DEEPEDGE_RETURN_IF_ERROR(CopyAs(ctx, 0, *x, x->shape()));
  if (ctx.output_count() > 1 && ctx.output_wanted(1)) {
    const DType mask_type = node.opset >= 10 ? DType::kBool : x->dtype();
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * mask, ctx.Output(1, mask_type, x->shape()));
    const std::vector<std::byte> one = FloatAs(mask_type, 1.0f);
    FillElements(Bytes(*mask), Sz(x->element_count()), one.data(), one.size());
  }
  return Status::Ok();
}

Status ReshapeTo(KernelContext& ctx, const Tensor& x, const Dims& target, bool allowzero) {
  const Shape& in = x.shape();
  Dims dims(target.size());
  std::int64_t infer = -1;
  std::int64_t known = 1;
  for (std::size_t i = 0; i < target.size(); ++i) {
    std::int64_t v = target[i];
    if (v == 0 && !allowzero) {
      if (i >= in.rank()) {
        return NodeError(ctx, "target shape " + IntsToString(target) + " copies dimension " +
                                  std::to_string(i) + " of a rank-" + std::to_string(in.rank()) +
                                  " input");
      }
      v = in[i];
    } else if (v == -1) {
      if (infer >= 0) {
        return NodeError(ctx, "target shape " + IntsToString(target) + " has more than one -1");
      }
      infer = static_cast<std::int64_t>(i);
      continue;
    } else if (v < 0) {
      return NodeError(ctx, "target shape " + IntsToString(target) + " has a negative dimension");
    }
    dims[i] = v;
    known *= v;
  }
  const std::int64_t total = x.element_count();
  if (infer >= 0) {
    if (known == 0 || total % known != 0) {
      return NodeError(ctx, "cannot reshape " + in.ToString() + " to " + IntsToString(target));
    }
    dims[Sz(infer)] = total / known;
  } else if (known != total) {
    return NodeError(ctx, "cannot reshape " + in.ToString() + " (" + std::to_string(total) +
                              " elements) to " + IntsToString(target));
  }
  return CopyAs(ctx, 0, x, Shape(std::move(dims)));
}

Status ReshapeV1(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  if (!ctx.node().Has("shape")) return NodeError(ctx, "missing attribute 'shape'");
  return ReshapeTo(ctx, *x, ctx.node().GetInts("shape"), false);
}

Status Reshape5(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(Dims target, IntsInput(ctx, 1));
  return ReshapeTo(ctx, *x, target, ctx.node().GetInt("allowzero", 0) != 0);
}

Status FlattenKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  const Dims& d = x->shape().dims();
  // Axis in [-r, r]; a negative one counts from r (so -1 is r - 1, unlike Unsqueeze).
  const std::int64_t axis = ctx.node().GetInt("axis", 1);
  const auto r = static_cast<std::int64_t>(d.size());
  if (axis < -r || axis > r) {
    return NodeError(
        ctx, "axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(r));
  }
  const std::size_t a = Sz(axis < 0 ? axis + r : axis);
  return CopyAs(ctx, 0, *x, Shape{Product(d, 0, a), Product(d, a, d.size())});
}

Status SqueezeImpl(KernelContext& ctx, const Tensor& x, const Dims& axes) {
  const Shape& s = x.shape();
  std::vector<bool> drop(s.rank(), false);
  if (!axes.empty()) {
    for (std::int64_t a : axes) {
      DEEPEDGE_ASSIGN_OR_RETURN(std::size_t ax, Axis(ctx, a, s.rank()));
      if (s[ax] != 1) {
        return NodeError(ctx, "cannot squeeze axis " + std::to_string(a) + " of size " +
                                  std::to_string(s[ax]) + " (shape " + s.ToString() + ")");
      }
      drop[ax] = true;
    }
  } else {
    for (std::size_t i = 0; i < s.rank(); ++i) drop[i] = s[i] == 1;
  }
  Dims out;
  for (std::size_t i = 0; i < s.rank(); ++i) {
    if (!drop[i]) out.push_back(s[i]);
  }
  return CopyAs(ctx, 0, x, Shape(std::move(out)));
}

Status SqueezeV1(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  return SqueezeImpl(ctx, *x, ctx.node().GetInts("axes"));
}

Status Squeeze13(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  Dims axes;
  if (ctx.input(1) != nullptr) {
    DEEPEDGE_ASSIGN_OR_RETURN(axes, IntsInput(ctx, 1));
  }
  return SqueezeImpl(ctx, *x, axes);
}

Status UnsqueezeImpl(KernelContext& ctx, const Tensor& x, const Dims& axes) {
  const Shape& s = x.shape();
  const std::size_t out_rank = s.rank() + axes.size();
  std::vector<bool> inserted(out_rank, false);
  for (std::int64_t a : axes) {
    DEEPEDGE_ASSIGN_OR_RETURN(std::size_t ax, Axis(ctx, a, out_rank));
    if (inserted[ax]) return NodeError(ctx, "axes " + IntsToString(axes) + " repeat an axis");
    inserted[ax] = true;
  }
  Dims out(out_rank);
  std::size_t j = 0;
  for (std::size_t i = 0; i < out_rank; ++i) out[i] = inserted[i] ? 1 : s[j++];
  return CopyAs(ctx, 0, x, Shape(std::move(out)));
}

Status UnsqueezeV1(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  if (!ctx.node().Has("axes")) return NodeError(ctx, "missing attribute 'axes'");
  return UnsqueezeImpl(ctx, *x, ctx.node().GetInts("axes"));
}

Status Unsqueeze13(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(Dims axes, IntsInput(ctx, 1));
  return UnsqueezeImpl(ctx, *x, axes);
}

// ---------------------------------------------------------------------------------
// Transpose, DepthToSpace, SpaceToDepth.

Status TransposeKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  const Dims& d = x->shape().dims();
  const std::size_t r = d.size();
  std::vector<std::size_t> perm(r);
  if (ctx.node().Has("perm")) {
    const Dims p = ctx.node().GetInts("perm");
    if (p.size() != r) {
      return NodeError(
          ctx, "perm " + IntsToString(p) + " does not match input rank " + std::to_string(r));
    }
    std::vector<bool> seen(r, false);
    for (std::size_t i = 0; i < r; ++i) {
      if (p[i] < 0 || Sz(p[i]) >= r || seen[Sz(p[i])]) {
        return NodeError(ctx, "perm " + IntsToString(p) + " is not a permutation");
      }
      seen[Sz(p[i])] = true;
      perm[i] = Sz(p[i]);
    }
  } else {
    for (std::size_t i = 0; i < r; ++i) perm[i] = r - 1 - i;
  }
  Dims out(r);
  for (std::size_t i = 0; i < r; ++i) out[i] = d[perm[i]];
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x->dtype(), Shape(std::move(out))));
  TransposeBytes(ctx, Bytes(*x), Bytes(*y), d, perm, ESize(*x));
  return Status::Ok();
}

Status DepthToSpaceKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  const Shape& s = x->shape();
  const std::int64_t b = ctx.node().GetInt("blocksize", 0);
  if (s.rank() != 4) return NodeError(ctx, "input must be 4-D, got " + s.ToString());
  if (b <= 0 || s[1] % (b * b) != 0) {
    return NodeError(
        ctx, "blocksize " + std::to_string(b) + " does not divide the channels of " + s.ToString());
  }
  const std::string mode = ctx.node().GetString("mode", "DCR");
  const std::int64_t c = s[1] / (b * b);
  Dims dims;
  std::vector<std::size_t> perm;
  if (mode == "DCR") {
    dims = {s[0], b, b, c, s[2], s[3]};
    perm = {0, 3, 4, 1, 5, 2};
  } else if (mode == "CRD") {
    dims = {s[0], c, b, b, s[2], s[3]};
    perm = {0, 1, 4, 2, 5, 3};
  } else {
    return NodeError(ctx, "unknown mode '" + mode + "'");
  }
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y,
                            ctx.Output(0, x->dtype(), Shape{s[0], c, s[2] * b, s[3] * b}));
  TransposeBytes(ctx, Bytes(*x), Bytes(*y), dims, perm, ESize(*x));
  return Status::Ok();
}

Status SpaceToDepthKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  const Shape& s = x->shape();
  const std::int64_t b = ctx.node().GetInt("blocksize", 0);
  if (s.rank() != 4) return NodeError(ctx, "input must be 4-D, got " + s.ToString());
  if (b <= 0 || s[2] % b != 0 || s[3] % b != 0) {
    return NodeError(ctx, "blocksize " + std::to_string(b) +
                              " does not divide the spatial size of " + s.ToString());
  }
  const Dims dims = {s[0], s[1], s[2] / b, b, s[3] / b, b};
  DEEPEDGE_ASSIGN_OR_RETURN(
      Tensor * y, ctx.Output(0, x->dtype(), Shape{s[0], s[1] * b * b, s[2] / b, s[3] / b}));
  TransposeBytes(ctx, Bytes(*x), Bytes(*y), dims, {0, 3, 5, 1, 2, 4}, ESize(*x));
  return Status::Ok();
}

// ---------------------------------------------------------------------------------
// Concat, Split.

Status ConcatKernel(KernelContext& ctx) {
  const std::size_t n = ctx.input_count();
  if (n == 0) return NodeError(ctx, "needs at least one input");
  std::vector<const Tensor*> xs(n);
  for (std::size_t i = 0; i < n; ++i) {
    DEEPEDGE_ASSIGN_OR_RETURN(xs[i], RequiredInput(ctx, i));
  }
  const ir::Node& node = ctx.node();
  if (!node.Has("axis") && node.opset >= 4) return NodeError(ctx, "missing attribute 'axis'");
  const Shape& first = xs[0]->shape();
  DEEPEDGE_ASSIGN_OR_RETURN(std::size_t axis, Axis(ctx, node.GetInt("axis", 1), first.rank()));
  Dims out = first.dims();
  out[axis] = 0;
  for (const Tensor* x : xs) {
    const Shape& s = x->shape();
    bool ok = x->dtype() == xs[0]->dtype() && s.rank() == first.rank();
    for (std::size_t d = 0; ok && d < s.rank(); ++d) ok = d == axis || s[d] == first[d];
    if (!ok) {
      return NodeError(ctx, "inputs " + first.ToString() + " (" +
                                std::string(DTypeName(xs[0]->dtype())) + ") and " + s.ToString() +
                                " (" + std::string(DTypeName(x->dtype())) +
                                ") do not concatenate along axis " + std::to_string(axis));
    }
    out[axis] += s[axis];
  }
  const std::int64_t outer = Product(out, 0, axis);
  const std::size_t esize = ESize(*xs[0]);
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, xs[0]->dtype(), Shape(out)));
  std::byte* dst = Bytes(*y);
  std::vector<std::size_t> chunk(n);
  for (std::size_t i = 0; i < n; ++i) {
    chunk[i] = Sz(Product(xs[i]->shape().dims(), axis, first.rank())) * esize;
  }
  for (std::int64_t o = 0; o < outer; ++o) {
    for (std::size_t i = 0; i < n; ++i) {
      CopyBytes(dst, Bytes(*xs[i]) + Sz(o) * chunk[i], chunk[i]);
      dst += chunk[i];
    }
  }
  return Status::Ok();
}

// `split`: sizes, or empty for an equal split (rounded up when `num_outputs` > 0).
Status SplitImpl(KernelContext& ctx, const std::optional<Dims>& split, std::int64_t num_outputs) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  const Shape& s = x->shape();
  DEEPEDGE_ASSIGN_OR_RETURN(std::size_t axis, Axis(ctx, ctx.node().GetInt("axis", 0), s.rank()));
  const std::int64_t dim = s[axis];
  const std::size_t n = ctx.output_count();
  if (n == 0) return NodeError(ctx, "has no outputs");
  Dims sizes;
  if (split.has_value()) {
    sizes = *split;
    std::int64_t sum = 0;
    for (std::int64_t v : sizes) {
      if (v < 0) return NodeError(ctx, "split " + IntsToString(sizes) + " has a negative size");
      sum += v;
    }
    if (sizes.size() != n || sum != dim) {
      return NodeError(ctx, "split " + IntsToString(sizes) + " does not cut axis " +
                                std::to_string(axis) + " of " + s.ToString() + " into " +
                                std::to_string(n) + " outputs");
    }
  } else if (num_outputs > 0) {
    if (Sz(num_outputs) != n) {
      return NodeError(ctx, "num_outputs " + std::to_string(num_outputs) + " but the node has " +
                                std::to_string(n) + " outputs");
    }
    const std::int64_t chunk = (dim + num_outputs - 1) / num_outputs;
    for (std::int64_t i = 0; i < num_outputs; ++i) {
      sizes.push_back(std::max<std::int64_t>(0, std::min(chunk, dim - i * chunk)));
    }
  } else {
    const auto parts = static_cast<std::int64_t>(n);
    if (dim % parts != 0) {
      return NodeError(ctx, "axis " + std::to_string(axis) + " of " + s.ToString() +
                                " does not split evenly into " + std::to_string(n) + " outputs");
    }
    sizes.assign(n, dim / parts);
  }
  const std::int64_t outer = Product(s.dims(), 0, axis);
  const std::size_t inner = Sz(Product(s.dims(), axis + 1, s.rank())) * ESize(*x);
  std::int64_t offset = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (ctx.output_wanted(i)) {
      Dims od = s.dims();
      od[axis] = sizes[i];
      DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(i, x->dtype(), Shape(std::move(od))));
      const std::size_t bytes = Sz(sizes[i]) * inner;
      for (std::int64_t o = 0; o < outer; ++o) {
        CopyBytes(Bytes(*y) + Sz(o) * bytes, Bytes(*x) + Sz(o * dim + offset) * inner, bytes);
      }
    }
    offset += sizes[i];
  }
  return Status::Ok();
}

Status SplitV1(KernelContext& ctx) {
  if (ctx.input(1) != nullptr) {
    DEEPEDGE_ASSIGN_OR_RETURN(Dims split, IntsInput(ctx, 1));
    return SplitImpl(ctx, split, 0);
  }
  if (ctx.node().Has("split")) return SplitImpl(ctx, ctx.node().GetInts("split"), 0);
  return SplitImpl(ctx, std::nullopt, 0);
}

Status Split2(KernelContext& ctx) {
  if (ctx.node().Has("split")) return SplitImpl(ctx, ctx.node().GetInts("split"), 0);
  return SplitImpl(ctx, std::nullopt, 0);
}

Status Split13(KernelContext& ctx) {
  const Tensor* split = ctx.input(1);
  if (split != nullptr && split->element_count() > 0) {
    DEEPEDGE_ASSIGN_OR_RETURN(Dims sizes, IntsInput(ctx, 1));
    return SplitImpl(ctx, sizes, 0);
  }
  const std::int64_t num_outputs = ctx.node().opset >= 18 ? ctx.node().GetInt("num_outputs", 0) : 0;
  return SplitImpl(ctx, std::nullopt, num_outputs);
}

// ---------------------------------------------------------------------------------
// Slice.

Status SliceImpl(KernelContext& ctx, const Tensor& x, const Dims& starts, const Dims& ends,
                 Dims axes, Dims steps) {
  const Shape& s = x.shape();
  const std::size_t r = s.rank();
  if (ends.size() != starts.size()) {
    return NodeError(ctx, "starts " + IntsToString(starts) + " and ends " + IntsToString(ends) +
                              " differ in length");
  }
  if (axes.empty()) {
    for (std::size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<std::int64_t>(i));
  }
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (axes.size() != starts.size() || steps.size() != starts.size()) {
    return NodeError(ctx, "starts, ends, axes and steps differ in length");
  }
  Dims start(r, 0), step(r, 1), count = s.dims();
  std::vector<bool> seen(r, false);
  for (std::size_t i = 0; i < starts.size(); ++i) {
    DEEPEDGE_ASSIGN_OR_RETURN(std::size_t a, Axis(ctx, axes[i], r));
    if (seen[a]) return NodeError(ctx, "axes " + IntsToString(axes) + " repeat an axis");
    seen[a] = true;
    const std::int64_t dim = s[a];
    std::int64_t st = steps[i];
    if (st == 0) return NodeError(ctx, "step 0 on axis " + std::to_string(axes[i]));
    if (st == std::numeric_limits<std::int64_t>::min())
      st = -std::numeric_limits<std::int64_t>::max();
    std::int64_t b = starts[i];
    std::int64_t e = ends[i];
    if (b < 0) b += dim;
    if (e < 0) e += dim;
    std::int64_t n = 0;
    if (st > 0) {
      b = std::clamp<std::int64_t>(b, 0, dim);
      e = std::clamp<std::int64_t>(e, 0, dim);
      n = e > b ? (e - b - 1) / st + 1 : 0;
    } else if (dim > 0) {
      b = std::clamp<std::int64_t>(b, 0, dim - 1);
      e = std::clamp<std::int64_t>(e, -1, dim - 1);
      n = b > e ? (b - e - 1) / -st + 1 : 0;
    }
    start[a] = n > 0 ? b : 0;
    step[a] = st;
    count[a] = n;
  }
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x.dtype(), Shape(count)));
  const Dims in_strides = Strides(s);
  std::int64_t base = 0;
  Dims strides(r);
  for (std::size_t a = 0; a < r; ++a) {
    base += start[a] * in_strides[a];
    strides[a] = step[a] * in_strides[a];
  }
  StridedCopy(ctx, Bytes(x), base, strides, Bytes(*y), count, ESize(x));
  return Status::Ok();
}

Status SliceV1(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  const ir::Node& node = ctx.node();
  if (!node.Has("starts") || !node.Has("ends")) {
    return NodeError(ctx, "missing attribute 'starts' or 'ends'");
  }
  return SliceImpl(ctx, *x, node.GetInts("starts"), node.GetInts("ends"), node.GetInts("axes"), {});
}

Status Slice10(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(Dims starts, IntsInput(ctx, 1));
  DEEPEDGE_ASSIGN_OR_RETURN(Dims ends, IntsInput(ctx, 2));
  Dims axes, steps;
  if (ctx.input(3) != nullptr) {
    DEEPEDGE_ASSIGN_OR_RETURN(axes, IntsInput(ctx, 3));
  }
  if (ctx.input(4) != nullptr) {
    DEEPEDGE_ASSIGN_OR_RETURN(steps, IntsInput(ctx, 4));
  }
  return SliceImpl(ctx, *x, starts, ends, std::move(axes), std::move(steps));
}

// ---------------------------------------------------------------------------------
// Gather family.

// Index `v` along a dimension of size `dim`, negative counting from the end.
Expected<std::int64_t> Index(const KernelContext& ctx, std::int64_t v, std::int64_t dim) {
  if (v < -dim || v >= dim) {
    return NodeError(ctx, "index " + std::to_string(v) + " is out of range for a dimension of " +
                              std::to_string(dim));
  }
  return v < 0 ? v + dim : v;
}

Expected<const Tensor*> IndexInput(const KernelContext& ctx, std::size_t i) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* t, RequiredInput(ctx, i));
  if (t->dtype() != DType::kI64 && t->dtype() != DType::kI32) {
    return NodeError(ctx, "indices must be i32 or i64, got " + std::string(DTypeName(t->dtype())));
  }
  return t;
}

Status GatherKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* ind, IndexInput(ctx, 1));
  const Dims& d = x->shape().dims();
  DEEPEDGE_ASSIGN_OR_RETURN(std::size_t axis, Axis(ctx, ctx.node().GetInt("axis", 0), d.size()));
  DEEPEDGE_ASSIGN_OR_RETURN(Dims idx, IntsInput(ctx, 1));
  const std::int64_t dim = d[axis];
  for (std::int64_t& v : idx) {
    DEEPEDGE_ASSIGN_OR_RETURN(v, Index(ctx, v, dim));
  }
  Dims out(d.begin(), d.begin() + Pd(static_cast<std::int64_t>(axis)));
  out.insert(out.end(), ind->shape().dims().begin(), ind->shape().dims().end());
  out.insert(out.end(), d.begin() + Pd(static_cast<std::int64_t>(axis)) + 1, d.end());
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x->dtype(), Shape(out)));
  const std::size_t outer = Sz(Product(d, 0, axis));
  const std::size_t inner = Sz(Product(d, axis + 1, d.size())) * ESize(*x);
  const std::size_t n = idx.size();
  const std::byte* src = Bytes(*x);
  std::byte* dst = Bytes(*y);
  RunChunks(ctx, outer * n, y->byte_size(), [&](std::size_t b, std::size_t e) {
    for (std::size_t t = b; t < e; ++t) {
      const std::size_t o = t / n;
      CopyBytes(dst + t * inner, src + (o * Sz(dim) + Sz(idx[t % n])) * inner, inner);
    }
  });
  return Status::Ok();
}

Status GatherElementsKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* ind, IndexInput(ctx, 1));
  const Shape& ds = x->shape();
  const Shape& is = ind->shape();
  const std::size_t r = ds.rank();
  DEEPEDGE_ASSIGN_OR_RETURN(std::size_t axis, Axis(ctx, ctx.node().GetInt("axis", 0), r));
  if (is.rank() != r) {
    return NodeError(ctx,
                     "indices " + is.ToString() + " and data " + ds.ToString() + " differ in rank");
  }
  for (std::size_t a = 0; a < r; ++a) {
    if (a != axis && is[a] > ds[a]) {
      return NodeError(ctx, "indices " + is.ToString() + " exceed data " + ds.ToString());
    }
  }
  DEEPEDGE_ASSIGN_OR_RETURN(Dims idx, IntsInput(ctx, 1));
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x->dtype(), is));
  if (idx.empty()) return Status::Ok();
  const Dims strides = Strides(ds);
  const std::size_t esize = ESize(*x);
  Dims pos(r, 0);
  std::int64_t off = 0;  // offset of pos in data, without the axis term
  for (std::size_t i = 0; i < idx.size(); ++i) {
    DEEPEDGE_ASSIGN_OR_RETURN(std::int64_t v, Index(ctx, idx[i], ds[axis]));
    std::memcpy(Bytes(*y) + i * esize, Bytes(*x) + Sz(off + v * strides[axis]) * esize, esize);
    for (std::size_t k = r; k-- > 0;) {
      if (++pos[k] < is[k]) {
        if (k != axis) off += strides[k];
        break;
      }
      if (k != axis) off -= strides[k] * (is[k] - 1);
      pos[k] = 0;
    }
  }
  return Status::Ok();
}

Status GatherNDKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* ind, IndexInput(ctx, 1));
  const Dims& d = x->shape().dims();
  const Dims& id = ind->shape().dims();
  const std::int64_t b = ctx.node().GetInt("batch_dims", 0);
  if (id.empty() || b < 0 || Sz(b) >= id.size() || Sz(b) >= d.size()) {
    return NodeError(ctx, "batch_dims " + std::to_string(b) + " does not fit data " +
                              x->shape().ToString() + " and indices " + ind->shape().ToString());
  }
  const std::size_t nb = Sz(b);
  const std::int64_t k = id.back();
  if (k < 0 || nb + Sz(k) > d.size()) {
    return NodeError(ctx, "index tuples of length " + std::to_string(k) + " do not fit data " +
                              x->shape().ToString());
  }
  for (std::size_t i = 0; i < nb; ++i) {
    if (d[i] != id[i]) {
      return NodeError(ctx, "batch dimensions of data " + x->shape().ToString() + " and indices " +
                                ind->shape().ToString() + " differ");
    }
  }
  Dims out(id.begin(), id.end() - 1);
  out.insert(out.end(), d.begin() + Pd(b + k), d.end());
  DEEPEDGE_ASSIGN_OR_RETURN(Dims idx, IntsInput(ctx, 1));
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x->dtype(), Shape(out)));
  const std::size_t esize = ESize(*x);
  const std::int64_t batches = Product(d, 0, nb);
  const std::int64_t batch_stride = Product(d, nb, d.size());
  const std::int64_t tuples = Product(id, nb, id.size() - 1);
  const std::size_t slice = Sz(Product(d, nb + Sz(k), d.size())) * esize;
  const Dims strides = Strides(x->shape());
  std::byte* dst = Bytes(*y);
  for (std::int64_t bi = 0; bi < batches; ++bi) {
    for (std::int64_t t = 0; t < tuples; ++t) {
      const std::int64_t* tuple = idx.data() + (bi * tuples + t) * k;
      std::int64_t off = bi * batch_stride;
      for (std::int64_t m = 0; m < k; ++m) {
        const std::size_t a = nb + Sz(m);
        DEEPEDGE_ASSIGN_OR_RETURN(std::int64_t v, Index(ctx, tuple[m], d[a]));
        off += v * strides[a];
      }
      CopyBytes(dst, Bytes(*x) + Sz(off) * esize, slice);
      dst += slice;
    }
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------
// Scatter family.

enum class Reduction { kNone, kAdd, kMul, kMax, kMin };

Expected<Reduction> GetReduction(const KernelContext& ctx) {
  const std::string s = ctx.node().GetString("reduction", "none");
  if (s == "none") return Reduction::kNone;
  if (s == "add") return Reduction::kAdd;
  if (s == "mul") return Reduction::kMul;
  if (s == "max") return Reduction::kMax;
  if (s == "min") return Reduction::kMin;
  return NodeError(ctx, "unknown reduction '" + s + "'");
}

template <typename C>
C Combine(C a, C b, Reduction red) {
  switch (red) {
    case Reduction::kAdd:
      if constexpr (std::is_same_v<C, bool>) {
        return a || b;
      } else if constexpr (std::is_same_v<C, std::int64_t>) {
        return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) +
                                         static_cast<std::uint64_t>(b));
      } else {
        return a + b;
      }
    case Reduction::kMul:
      if constexpr (std::is_same_v<C, bool>) {
        return a && b;
      } else if constexpr (std::is_same_v<C, std::int64_t>) {
        return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) *
                                         static_cast<std::uint64_t>(b));
      } else {
        return a * b;
      }
    case Reduction::kMax:
      return std::max(a, b);
    case Reduction::kMin:
      return std::min(a, b);
    case Reduction::kNone:
      break;
  }
  return b;
}

// dst[i] = src[i] (kNone) or Combine(dst[i], src[i]) for n elements.
void ScatterElements(DType dtype, std::byte* dst, const std::byte* src, std::size_t n,
                     Reduction red) {
  if (red == Reduction::kNone) {
    CopyBytes(dst, src, n * DTypeSize(dtype));
    return;
  }
  (void)VisitDType(dtype, [&](auto e) {
    using E = decltype(e);
    using S = typename E::Storage;
    for (std::size_t i = 0; i < n; ++i) {
      const auto r = Combine(LoadAt<E>(dst, i), LoadAt<E>(src, i), red);
      const S v = E::From(r);
      std::memcpy(dst + i * sizeof(S), &v, sizeof(S));
    }
    return Status::Ok();
  });
}

Status ScatterNDKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* ind, IndexInput(ctx, 1));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* upd, RequiredInput(ctx, 2));
  DEEPEDGE_ASSIGN_OR_RETURN(Reduction red, GetReduction(ctx));
  const Dims& d = x->shape().dims();
  const Dims& id = ind->shape().dims();
  if (id.empty() || id.back() < 0 || Sz(id.back()) > d.size()) {
    return NodeError(
        ctx, "indices " + ind->shape().ToString() + " do not fit data " + x->shape().ToString());
  }
  const std::int64_t k = id.back();
  Dims expect(id.begin(), id.end() - 1);
  expect.insert(expect.end(), d.begin() + Pd(k), d.end());
  if (upd->shape() != Shape(expect) || upd->dtype() != x->dtype()) {
    return NodeError(ctx, "updates " + upd->shape().ToString() + " (" +
                              std::string(DTypeName(upd->dtype())) + ") should be " +
                              Shape(expect).ToString() + " (" + std::string(DTypeName(x->dtype())) +
                              ")");
  }
  DEEPEDGE_ASSIGN_OR_RETURN(Dims idx, IntsInput(ctx, 1));
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, CopyOut(ctx, 0, *x, x->shape()));
  const std::size_t esize = ESize(*x);
  const std::int64_t tuples = Product(id, 0, id.size() - 1);
  const std::size_t slice = Sz(Product(d, Sz(k), d.size()));
  const Dims strides = Strides(x->shape());
  for (std::int64_t t = 0; t < tuples; ++t) {
    std::int64_t off = 0;
    for (std::int64_t m = 0; m < k; ++m) {
      DEEPEDGE_ASSIGN_OR_RETURN(std::int64_t v, Index(ctx, idx[Sz(t * k + m)], d[Sz(m)]));
      off += v * strides[Sz(m)];
    }
    ScatterElements(x->dtype(), Bytes(*y) + Sz(off) * esize, Bytes(*upd) + Sz(t) * slice * esize,
                    slice, red);
  }
  return Status::Ok();
}

Status ScatterElementsKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* ind, IndexInput(ctx, 1));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* upd, RequiredInput(ctx, 2));
  DEEPEDGE_ASSIGN_OR_RETURN(Reduction red, GetReduction(ctx));
  const Shape& ds = x->shape();
  const Shape& is = ind->shape();
  const std::size_t r = ds.rank();
  DEEPEDGE_ASSIGN_OR_RETURN(std::size_t axis, Axis(ctx, ctx.node().GetInt("axis", 0), r));
  if (is.rank() != r || upd->shape() != is || upd->dtype() != x->dtype()) {
    return NodeError(ctx, "data " + ds.ToString() + ", indices " + is.ToString() + " and updates " +
                              upd->shape().ToString() + " do not match");
  }
  for (std::size_t a = 0; a < r; ++a) {
    if (a != axis && is[a] > ds[a]) {
      return NodeError(ctx, "indices " + is.ToString() + " exceed data " + ds.ToString());
    }
  }
  DEEPEDGE_ASSIGN_OR_RETURN(Dims idx, IntsInput(ctx, 1));
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, CopyOut(ctx, 0, *x, ds));
  if (idx.empty()) return Status::Ok();
  const Dims strides = Strides(ds);
  const std::size_t esize = ESize(*x);
  Dims pos(r, 0);
  std::int64_t off = 0;
  for (std::size_t i = 0; i < idx.size(); ++i) {
    DEEPEDGE_ASSIGN_OR_RETURN(std::int64_t v, Index(ctx, idx[i], ds[axis]));
    ScatterElements(x->dtype(), Bytes(*y) + Sz(off + v * strides[axis]) * esize,
                    Bytes(*upd) + i * esize, 1, red);
    for (std::size_t k = r; k-- > 0;) {
      if (++pos[k] < is[k]) {
        if (k != axis) off += strides[k];
        break;
      }
      if (k != axis) off -= strides[k] * (is[k] - 1);
      pos[k] = 0;
    }
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------
// Pad, Expand, Tile.

enum class PadMode { kConstant, kReflect, kEdge, kWrap };

// `pads`: [x1_begin, x2_begin, ..., x1_end, x2_end, ...]; negative values crop.
// `value`: the fill element (constant mode), esize bytes.
Status PadImpl(KernelContext& ctx, const Tensor& x, const Dims& pads, const std::byte* value,
               const std::string& mode_name) {
  PadMode mode;
  if (mode_name == "constant") {
    mode = PadMode::kConstant;
  } else if (mode_name == "reflect") {
    mode = PadMode::kReflect;
  } else if (mode_name == "edge") {
    mode = PadMode::kEdge;
  } else if (mode_name == "wrap") {
    mode = PadMode::kWrap;
  } else {
    return NodeError(ctx, "unknown mode '" + mode_name + "'");
  }
  const Shape& s = x.shape();
  const std::size_t r = s.rank();
  if (pads.size() != 2 * r) {
    return NodeError(
        ctx, "pads " + IntsToString(pads) + " do not fit an input of rank " + std::to_string(r));
  }
  Dims out(r);
  // For each axis and output position: the input position, or -1 for the fill value.
  std::vector<Dims> maps(r);
  for (std::size_t a = 0; a < r; ++a) {
    const std::int64_t n = s[a];
    const std::int64_t before = pads[a];
    out[a] = n + before + pads[a + r];
    if (out[a] < 0) {
      return NodeError(ctx, "pads " + IntsToString(pads) + " crop more than axis " +
                                std::to_string(a) + " of " + s.ToString() + " holds");
    }
    maps[a].resize(Sz(out[a]));
    for (std::int64_t o = 0; o < out[a]; ++o) {
      std::int64_t i = o - before;
      if (i < 0 || i >= n) {
        if (mode != PadMode::kConstant && n == 0) {
          return NodeError(ctx, "cannot pad an empty axis in " + mode_name + " mode");
        }
        switch (mode) {
          case PadMode::kConstant:
            i = -1;
            break;
          case PadMode::kEdge:
            i = std::clamp<std::int64_t>(i, 0, n - 1);
            break;
          case PadMode::kReflect: {
            if (n == 1) {
              i = 0;
              break;
            }
            const std::int64_t period = 2 * (n - 1);
            i %= period;
            if (i < 0) i += period;
            if (i >= n) i = period - i;
            break;
          }
          case PadMode::kWrap:
            i %= n;
            if (i < 0) i += n;
            break;
        }
      }
      maps[a][Sz(o)] = i;
    }
  }
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x.dtype(), Shape(out)));
  const std::int64_t total = Product(out);
  if (total <= 0) return Status::Ok();
  const std::size_t esize = ESize(x);
  if (r == 0) {
    std::memcpy(Bytes(*y), Bytes(x), esize);
    return Status::Ok();
  }
  const Dims in_strides = Strides(s);
  const std::int64_t inner = out[r - 1];
  const Dims& inner_map = maps[r - 1];
  const std::int64_t rows = total / inner;
  const std::byte* src = Bytes(x);
  std::byte* dst = Bytes(*y);
  VisitSize(esize, [&](auto nb) {
    constexpr std::size_t kN = decltype(nb)::value;
    Dims idx(r - 1, 0);
    for (std::int64_t row = 0; row < rows; ++row) {
      std::byte* d = dst + Sz(row * inner) * kN;
      std::int64_t off = 0;
      bool fill = false;
      for (std::size_t a = 0; a + 1 < r; ++a) {
        const std::int64_t i = maps[a][Sz(idx[a])];
        if (i < 0) {
          fill = true;
          break;
        }
        off += i * in_strides[a];
      }
      if (fill) {
        FillElements(d, Sz(inner), value, kN);
      } else {
        const std::byte* srow = src + Sz(off) * kN;
        for (std::int64_t o = 0; o < inner; ++o) {
          const std::int64_t i = inner_map[Sz(o)];
          std::memcpy(d + Sz(o) * kN, i < 0 ? value : srow + Sz(i) * kN, kN);
        }
      }
      for (std::size_t k = r - 1; k-- > 0;) {
        if (++idx[k] < out[k]) break;
        idx[k] = 0;
      }
    }
  });
  return Status::Ok();
}

Status PadV1(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  const ir::Node& node = ctx.node();
  const char* name = node.Has("pads") ? "pads" : "paddings";
  if (!node.Has(name)) return NodeError(ctx, "missing attribute 'pads'");
  const std::vector<std::byte> value = FloatAs(x->dtype(), node.GetFloat("value", 0.0f));
  return PadImpl(ctx, *x, node.GetInts(name), value.data(), node.GetString("mode", "constant"));
}

Status Pad11(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(Dims pads, IntsInput(ctx, 1));
  const std::size_t r = x->shape().rank();
  if (ctx.input(3) != nullptr) {  // axes (opset 18)
    DEEPEDGE_ASSIGN_OR_RETURN(Dims axes, IntsInput(ctx, 3));
    if (pads.size() != 2 * axes.size()) {
      return NodeError(ctx,
                       "pads " + IntsToString(pads) + " do not fit axes " + IntsToString(axes));
    }
    Dims full(2 * r, 0);
    for (std::size_t i = 0; i < axes.size(); ++i) {
      DEEPEDGE_ASSIGN_OR_RETURN(std::size_t a, Axis(ctx, axes[i], r));
      full[a] = pads[i];
      full[a + r] = pads[i + axes.size()];
    }
    pads = std::move(full);
  }
  std::vector<std::byte> value(ESize(*x), std::byte{0});
  if (const Tensor* v = ctx.input(2); v != nullptr && v->element_count() > 0) {
    if (v->dtype() != x->dtype()) {
      return NodeError(ctx, "constant_value is " + std::string(DTypeName(v->dtype())) +
                                ", the data " + std::string(DTypeName(x->dtype())));
    }
    std::memcpy(value.data(), v->data(), value.size());
  }
  return PadImpl(ctx, *x, pads, value.data(), ctx.node().GetString("mode", "constant"));
}

Status ExpandKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(Dims shape, IntsInput(ctx, 1));
  Expected<Shape> out = BroadcastShapes(x->shape(), Shape(shape));
  if (!out) return NodeError(ctx, out.status().message());
  for (std::int64_t v : out->dims()) {
    if (v < 0) return NodeError(ctx, "negative dimension in shape " + IntsToString(shape));
  }
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x->dtype(), *out));
  BroadcastCopy(Bytes(*x), x->shape(), Bytes(*y), *out, ESize(*x));
  return Status::Ok();
}

Status TileKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(Dims reps, IntsInput(ctx, 1));
  const Dims& in = x->shape().dims();
  const std::size_t r = in.size();
  if (reps.size() != r) {
    return NodeError(
        ctx, "repeats " + IntsToString(reps) + " do not match input rank " + std::to_string(r));
  }
  Dims out(r);
  for (std::size_t a = 0; a < r; ++a) {
    if (reps[a] < 0) return NodeError(ctx, "repeats " + IntsToString(reps) + " are negative");
    out[a] = in[a] * reps[a];
  }
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x->dtype(), Shape(out)));
  const std::size_t esize = ESize(*x);
  if (Product(out) <= 0) return Status::Ok();
  if (r == 0) {
    std::memcpy(Bytes(*y), Bytes(*x), esize);
    return Status::Ok();
  }
  const Dims is = Strides(x->shape());
  const Dims os = Strides(Shape(out));
  std::function<void(std::size_t, const std::byte*, std::byte*)> rec =
      [&](std::size_t d, const std::byte* s, std::byte* t) {
        if (d + 1 < r) {
          for (std::int64_t i = 0; i < in[d]; ++i) {
            rec(d + 1, s + Sz(i * is[d]) * esize, t + Sz(i * os[d]) * esize);
          }
        } else {
          std::memcpy(t, s, Sz(in[d]) * esize);
        }
        Replicate(t, Sz(in[d] * os[d]) * esize, reps[d]);
      };
  rec(0, Bytes(*x), Bytes(*y));
  return Status::Ok();
}

// ---------------------------------------------------------------------------------
// Shape, Size, Constant, ConstantOfShape, Range, EyeLike.

Status ShapeKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  const Dims& d = x->shape().dims();
  const auto r = static_cast<std::int64_t>(d.size());
  std::int64_t start = ctx.node().GetInt("start", 0);
  std::int64_t end = ctx.node().Has("end") ? ctx.node().GetInt("end", r) : r;
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<std::int64_t>(start, 0, r);
  end = std::clamp<std::int64_t>(end, 0, r);
  const std::int64_t n = std::max<std::int64_t>(0, end - start);
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kI64, Shape{n}));
  for (std::int64_t i = 0; i < n; ++i) y->as<std::int64_t>()[Sz(i)] = d[Sz(start + i)];
  return Status::Ok();
}

Status SizeKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kI64, Shape{}));
  y->as<std::int64_t>()[0] = x->element_count();
  return Status::Ok();
}

Status ConstantKernel(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  if (const ir::Attribute* a = node.Find("value"); a != nullptr) {
    if (a->kind != ir::Attribute::Kind::kTensor || a->tensor == nullptr) {
      return NodeError(ctx, "attribute 'value' is not a tensor");
    }
    return CopyAs(ctx, 0, *a->tensor, a->tensor->shape());
  }
  if (const ir::Attribute* a = node.Find("value_float"); a != nullptr) {
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kF32, Shape{}));
    y->as<float>()[0] = a->f;
    return Status::Ok();
  }
  if (const ir::Attribute* a = node.Find("value_floats"); a != nullptr) {
    const auto n = static_cast<std::int64_t>(a->floats.size());
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kF32, Shape{n}));
    CopyBytes(y->data(), a->floats.data(), a->floats.size() * sizeof(float));
    return Status::Ok();
  }
  if (const ir::Attribute* a = node.Find("value_int"); a != nullptr) {
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kI64, Shape{}));
    y->as<std::int64_t>()[0] = a->i;
    return Status::Ok();
  }
  if (const ir::Attribute* a = node.Find("value_ints"); a != nullptr) {
    const auto n = static_cast<std::int64_t>(a->ints.size());
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kI64, Shape{n}));
    CopyBytes(y->data(), a->ints.data(), a->ints.size() * sizeof(std::int64_t));
    return Status::Ok();
  }
  if (node.Has("value_string") || node.Has("value_strings") || node.Has("sparse_value")) {
    return NodeUnsupported(ctx, "string and sparse constants are not supported");
  }
  return NodeError(ctx, "has no value attribute");
}

Status ConstantOfShapeKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(Dims shape, IntsInput(ctx, 0));
  for (std::int64_t v : shape) {
    if (v < 0) return NodeError(ctx, "negative dimension in shape " + IntsToString(shape));
  }
  DType dtype = DType::kF32;
  std::vector<std::byte> value(sizeof(float), std::byte{0});
  if (const ir::Attribute* a = ctx.node().Find("value"); a != nullptr) {
    if (a->kind != ir::Attribute::Kind::kTensor || a->tensor == nullptr ||
        a->tensor->element_count() != 1) {
      return NodeError(ctx, "attribute 'value' must be a one-element tensor");
    }
    dtype = a->tensor->dtype();
    value.assign(Bytes(*a->tensor), Bytes(*a->tensor) + a->tensor->byte_size());
  }
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, dtype, Shape(shape)));
  FillElements(Bytes(*y), Sz(Product(shape)), value.data(), value.size());
  return Status::Ok();
}

Status RangeKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* start, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* limit, RequiredInput(ctx, 1));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* delta, RequiredInput(ctx, 2));
  const DType dt = start->dtype();
  if (limit->dtype() != dt || delta->dtype() != dt) {
    return NodeError(ctx, "start, limit and delta differ in type");
  }
  if (start->element_count() != 1 || limit->element_count() != 1 || delta->element_count() != 1) {
    return NodeError(ctx, "start, limit and delta must be scalars");
  }
  return VisitDType(dt, [&](auto e) -> Status {
    using E = decltype(e);
    using S = typename E::Storage;
    const auto s = LoadAt<E>(start->data(), 0);
    const auto l = LoadAt<E>(limit->data(), 0);
    const auto d = LoadAt<E>(delta->data(), 0);
    using C = std::remove_cv_t<decltype(s)>;
    if constexpr (std::is_same_v<C, bool>) {
      return NodeError(ctx, "bool is not a numeric type");
    } else {
      if (d == C{0}) return NodeError(ctx, "delta is 0");
      std::int64_t n = 0;
      if constexpr (std::is_same_v<C, float>) {
        const double c =
            std::ceil((static_cast<double>(l) - static_cast<double>(s)) / static_cast<double>(d));
        if (!(c <= 9.0e15)) return NodeError(ctx, "the range is too long or not finite");
        n = c > 0 ? static_cast<std::int64_t>(c) : 0;
      } else {
        if (d > 0 && l > s) n = (l - s - 1) / d + 1;
        if (d < 0 && l < s) n = (s - l - 1) / -d + 1;
      }
      DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, dt, Shape{n}));
      for (std::int64_t i = 0; i < n; ++i) {
        C v;
        if constexpr (std::is_same_v<C, float>) {
          v = s + static_cast<float>(i) * d;
        } else {
          v = s + i * d;
        }
        const S out = E::From(v);
        std::memcpy(Bytes(*y) + Sz(i) * sizeof(S), &out, sizeof(S));
      }
      return Status::Ok();
    }
  });
}

Status EyeLikeKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  const Shape& s = x->shape();
  if (s.rank() != 2) return NodeError(ctx, "input must be 2-D, got " + s.ToString());
  DType dt = x->dtype();
  if (ctx.node().Has("dtype")) {
    const std::int64_t code = ctx.node().GetInt("dtype", 1);
    const std::optional<DType> t = DTypeFromOnnx(code);
    if (!t) return NodeUnsupported(ctx, "dtype " + std::to_string(code) + " is not supported");
    dt = *t;
  }
  const std::int64_t k = ctx.node().GetInt("k", 0);
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, dt, s));
  const std::size_t esize = DTypeSize(dt);
  if (y->byte_size() > 0) std::memset(y->data(), 0, y->byte_size());
  const std::vector<std::byte> one = FloatAs(dt, 1.0f);
  for (std::int64_t i = 0; i < s[0]; ++i) {
    const std::int64_t j = i + k;
    if (j >= 0 && j < s[1]) std::memcpy(Bytes(*y) + Sz(i * s[1] + j) * esize, one.data(), esize);
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------
// Cast, CastLike.

Status CastTo(KernelContext& ctx, const Tensor& x, DType to) {
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, to, x.shape()));
  if (x.dtype() == to) {
    CopyBytes(y->data(), x.data(), x.byte_size());
    return Status::Ok();
  }
  const std::size_t n = Sz(x.element_count());
  return VisitDType(x.dtype(), [&](auto se) {
    using SE = decltype(se);
    return VisitDType(to, [&](auto de) {
      using DE = decltype(de);
      using SS = typename SE::Storage;
      using DS = typename DE::Storage;
      const auto* src = static_cast<const SS*>(x.data());
      auto* dst = static_cast<DS*>(y->data());
      RunChunks(ctx, n, n * (sizeof(SS) + sizeof(DS)), [&](std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) dst[i] = DE::From(SE::Load(src[i]));
      });
      return Status::Ok();
    });
  });
}

Status CastKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  const ir::Attribute* to = ctx.node().Find("to");
  if (to == nullptr) return NodeError(ctx, "missing attribute 'to'");
  std::optional<DType> dt;
  if (to->kind == ir::Attribute::Kind::kString) {  // opset 1 names the type
    static constexpr struct {
      const char* name;
      DType type;
    } kNames[] = {{"FLOAT", DType::kF32}, {"FLOAT16", DType::kF16}, {"BFLOAT16", DType::kBF16},
                  {"INT8", DType::kI8},   {"UINT8", DType::kU8},    {"INT16", DType::kI16},
                  {"INT32", DType::kI32}, {"INT64", DType::kI64},   {"BOOL", DType::kBool}};
    for (const auto& n : kNames) {
      if (to->s == n.name) dt = n.type;
    }
    if (!dt) return NodeUnsupported(ctx, "cast to " + to->s + " is not supported");
  } else {
    dt = DTypeFromOnnx(to->i);
    if (!dt) {
      return NodeUnsupported(ctx,
                             "cast to ONNX type " + std::to_string(to->i) + " is not supported");
    }
  }
  return CastTo(ctx, *x, *dt);
}

Status CastLikeKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* like, RequiredInput(ctx, 1));
  return CastTo(ctx, *x, like->dtype());
}

// ---------------------------------------------------------------------------------
// Trilu, OneHot, NonZero, Unique.

Status TriluKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  const Shape& s = x->shape();
  if (s.rank() < 2) return NodeError(ctx, "input must be at least 2-D, got " + s.ToString());
  std::int64_t k = 0;
  if (const Tensor* kt = ctx.input(1); kt != nullptr) {
    DEEPEDGE_ASSIGN_OR_RETURN(Dims kv, IntsInput(ctx, 1));
    if (kv.size() != 1) return NodeError(ctx, "k must hold one value");
    k = kv[0];
  }
  const bool upper = ctx.node().GetInt("upper", 1) != 0;
  const std::int64_t rows = s[s.rank() - 2];
  const std::int64_t cols = s[s.rank() - 1];
  k = std::clamp<std::int64_t>(k, -(rows + 1), cols + 1);
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x->dtype(), s));
  const std::size_t esize = ESize(*x);
  const std::int64_t mats = rows * cols == 0 ? 0 : x->element_count() / (rows * cols);
  for (std::int64_t m = 0; m < mats; ++m) {
    for (std::int64_t i = 0; i < rows; ++i) {
      const std::size_t off = Sz((m * rows + i) * cols) * esize;
      const std::byte* src = Bytes(*x) + off;
      std::byte* dst = Bytes(*y) + off;
      // Kept columns: j - i >= k (upper) or j - i <= k (lower).
      const std::int64_t lo = upper ? std::clamp<std::int64_t>(i + k, 0, cols) : 0;
      const std::int64_t hi = upper ? cols : std::clamp<std::int64_t>(i + k + 1, 0, cols);
      if (lo > 0) std::memset(dst, 0, Sz(lo) * esize);
      if (hi > lo) std::memcpy(dst + Sz(lo) * esize, src + Sz(lo) * esize, Sz(hi - lo) * esize);
      if (hi < cols) std::memset(dst + Sz(hi) * esize, 0, Sz(cols - hi) * esize);
    }
  }
  return Status::Ok();
}

Status OneHotKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* ind, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* depth_t, RequiredInput(ctx, 1));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* values, RequiredInput(ctx, 2));
  if (depth_t->element_count() != 1) return NodeError(ctx, "depth must hold one value");
  if (values->element_count() != 2) return NodeError(ctx, "values must hold [off, on]");
  const std::int64_t depth = AnyToInts(*depth_t)[0];
  if (depth < 0) return NodeError(ctx, "depth " + std::to_string(depth) + " is negative");
  const Dims& id = ind->shape().dims();
  DEEPEDGE_ASSIGN_OR_RETURN(std::size_t axis,
                            Axis(ctx, ctx.node().GetInt("axis", -1), id.size(), true));
  Dims out(id.begin(), id.begin() + Pd(static_cast<std::int64_t>(axis)));
  out.push_back(depth);
  out.insert(out.end(), id.begin() + Pd(static_cast<std::int64_t>(axis)), id.end());
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, values->dtype(), Shape(out)));
  const std::size_t esize = ESize(*values);
  const std::byte* off_value = Bytes(*values);
  const std::byte* on_value = off_value + esize;
  FillElements(Bytes(*y), Sz(Product(out)), off_value, esize);
  const Dims idx = AnyToInts(*ind);
  const std::int64_t inner = Product(id, axis, id.size());
  for (std::size_t t = 0; t < idx.size(); ++t) {
    std::int64_t v = idx[t];
    if (v < 0) v += depth;
    if (v < 0 || v >= depth) continue;
    const std::int64_t o = static_cast<std::int64_t>(t) / inner;
    const std::int64_t i = static_cast<std::int64_t>(t) % inner;
    std::memcpy(Bytes(*y) + Sz((o * depth + v) * inner + i) * esize, on_value, esize);
  }
  return Status::Ok();
}

Status NonZeroKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  const std::size_t n = Sz(x->element_count());
  std::vector<std::size_t> hits;
  DEEPEDGE_RETURN_IF_ERROR(VisitDType(x->dtype(), [&](auto e) {
    using E = decltype(e);
    for (std::size_t i = 0; i < n; ++i) {
      const auto v = LoadAt<E>(x->data(), i);
      if (v != decltype(v){}) hits.push_back(i);
    }
    return Status::Ok();
  }));
  const Dims& d = x->shape().dims();
  const std::size_t r = d.size();
  const auto nnz = static_cast<std::int64_t>(hits.size());
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y,
                            ctx.Output(0, DType::kI64, Shape{static_cast<std::int64_t>(r), nnz}));
  auto out = y->as<std::int64_t>();
  for (std::size_t h = 0; h < hits.size(); ++h) {
    std::int64_t rem = static_cast<std::int64_t>(hits[h]);
    for (std::size_t a = r; a-- > 0;) {
      out[a * hits.size() + h] = rem % d[a];
      rem /= d[a];
    }
  }
  return Status::Ok();
}

Status UniqueKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  const Dims& d = x->shape().dims();
  const bool sorted = ctx.node().GetInt("sorted", 1) != 0;
  const bool has_axis = ctx.node().Has("axis");
  std::size_t axis = 0;
  std::int64_t outer = 1, count = x->element_count(), inner = 1;
  if (has_axis) {
    DEEPEDGE_ASSIGN_OR_RETURN(axis, Axis(ctx, ctx.node().GetInt("axis", 0), d.size()));
    outer = Product(d, 0, axis);
    count = d[axis];
    inner = Product(d, axis + 1, d.size());
  }
  const std::size_t esize = ESize(*x);
  const std::size_t row_len = Sz(outer * inner);  // elements per slice
  // Slices as contiguous rows: [outer, count, inner] -> [count, outer, inner].
  std::vector<std::byte> rows_buf;
  const std::byte* rows = Bytes(*x);
  if (outer > 1) {
    rows_buf.resize(x->byte_size());
    TransposeBytes(ctx, Bytes(*x), rows_buf.data(), {outer, count, inner}, {1, 0, 2}, esize);
    rows = rows_buf.data();
  }
  std::vector<std::size_t> order(Sz(count));
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::function<int(std::size_t, std::size_t)> cmp;
  DEEPEDGE_RETURN_IF_ERROR(VisitDType(x->dtype(), [&](auto e) {
    using E = decltype(e);
    cmp = [rows, row_len](std::size_t a, std::size_t b) {
      for (std::size_t i = 0; i < row_len; ++i) {
        const auto u = LoadAt<E>(rows, a * row_len + i);
        const auto v = LoadAt<E>(rows, b * row_len + i);
        if constexpr (std::is_same_v<decltype(u), float>) {
          const bool un = std::isnan(u), vn = std::isnan(v);
          if (un || vn) {
            if (un && vn) continue;
            return un ? 1 : -1;
          }
        }
        if (u < v) return -1;
        if (v < u) return 1;
      }
      return 0;
    };
    return Status::Ok();
  }));
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return cmp(a, b) < 0; });
  // Groups of equal slices, in sorted order; the first member has the smallest index.
  std::vector<std::int64_t> first, counts;
  std::vector<std::int64_t> group_of(Sz(count));
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (i == 0 || cmp(order[i - 1], order[i]) != 0) {
      first.push_back(static_cast<std::int64_t>(order[i]));
      counts.push_back(0);
    }
    ++counts.back();
    group_of[order[i]] = static_cast<std::int64_t>(first.size() - 1);
  }
  const std::size_t u = first.size();
  std::vector<std::size_t> out_order(u);  // output position -> group
  std::iota(out_order.begin(), out_order.end(), std::size_t{0});
  if (!sorted) {
    std::sort(out_order.begin(), out_order.end(),
              [&](std::size_t a, std::size_t b) { return first[a] < first[b]; });
  }
  std::vector<std::int64_t> pos_of(u);
  for (std::size_t p = 0; p < u; ++p) pos_of[out_order[p]] = static_cast<std::int64_t>(p);

  const auto un = static_cast<std::int64_t>(u);
  Dims yd = has_axis ? d : Dims{un};
  if (has_axis) yd[axis] = un;
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x->dtype(), Shape(yd)));
  std::vector<std::byte> picked(u * row_len * esize);
  for (std::size_t p = 0; p < u; ++p) {
    CopyBytes(picked.data() + p * row_len * esize, rows + Sz(first[out_order[p]]) * row_len * esize,
              row_len * esize);
  }
  if (outer > 1) {
    TransposeBytes(ctx, picked.data(), Bytes(*y), {un, outer, inner}, {1, 0, 2}, esize);
  } else {
    CopyBytes(y->data(), picked.data(), picked.size());
  }
  auto write = [&](std::size_t i, std::int64_t n, auto&& value) -> Status {
    if (ctx.output_count() <= i || !ctx.output_wanted(i)) return Status::Ok();
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * t, ctx.Output(i, DType::kI64, Shape{n}));
    for (std::int64_t j = 0; j < n; ++j) t->as<std::int64_t>()[Sz(j)] = value(Sz(j));
    return Status::Ok();
  };
  DEEPEDGE_RETURN_IF_ERROR(write(1, un, [&](std::size_t p) { return first[out_order[p]]; }));
  DEEPEDGE_RETURN_IF_ERROR(write(2, count, [&](std::size_t i) { return pos_of[Sz(group_of[i])]; }));
  DEEPEDGE_RETURN_IF_ERROR(write(3, un, [&](std::size_t p) { return counts[out_order[p]]; }));
  return Status::Ok();
}

}  // namespace

void RegisterShapeKernels(KernelRegistry& r) {
  r.Add("", "Identity", IdentityKernel, 1);
  r.Add("", "Dropout", DropoutKernel, 1);
  r.Add("", "Reshape", ReshapeV1, 1);
  r.Add("", "Reshape", Reshape5, 5);
  r.Add("", "Flatten", FlattenKernel, 1);
  r.Add("", "Squeeze", SqueezeV1, 1);
  r.Add("", "Squeeze", Squeeze13, 13);
  r.Add("", "Unsqueeze", UnsqueezeV1, 1);
  r.Add("", "Unsqueeze", Unsqueeze13, 13);
  r.Add("", "Transpose", TransposeKernel, 1);
  r.Add("", "DepthToSpace", DepthToSpaceKernel, 1);
  r.Add("", "SpaceToDepth", SpaceToDepthKernel, 1);
  r.Add("", "Concat", ConcatKernel, 1);
  r.Add("", "Split", SplitV1, 1);
  r.Add("", "Split", Split2, 2);
  r.Add("", "Split", Split13, 13);
  r.Add("", "Slice", SliceV1, 1);
  r.Add("", "Slice", Slice10, 10);
  r.Add("", "Gather", GatherKernel, 1);
  r.Add("", "GatherElements", GatherElementsKernel, 11);
  r.Add("", "GatherND", GatherNDKernel, 11);
  r.Add("", "Scatter", ScatterElementsKernel, 9);
  r.Add("", "ScatterElements", ScatterElementsKernel, 11);
  r.Add("", "ScatterND", ScatterNDKernel, 11);
  r.Add("", "Pad", PadV1, 1);
  r.Add("", "Pad", Pad11, 11);
  r.Add("", "Expand", ExpandKernel, 8);
  r.Add("", "Tile", TileKernel, 6);
  r.Add("", "Shape", ShapeKernel, 1);
  r.Add("", "Size", SizeKernel, 1);
  r.Add("", "Constant", ConstantKernel, 1);
  r.Add("", "ConstantOfShape", ConstantOfShapeKernel, 9);
  r.Add("", "Range", RangeKernel, 11);
  r.Add("", "EyeLike", EyeLikeKernel, 9);
  r.Add("", "Cast", CastKernel, 1);
  r.Add("", "CastLike", CastLikeKernel, 15);
  r.Add("", "Trilu", TriluKernel, 14);
  r.Add("", "OneHot", OneHotKernel, 9);
  r.Add("", "NonZero", NonZeroKernel, 9);
  r.Add("", "Unique", UniqueKernel, 11);
}

}  // namespace deepedge::engine
