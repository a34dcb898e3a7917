#include "engine/executor.h"

#include <pthreadpool.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "engine/buffer_pool.h"

namespace deepedge::engine {

namespace {

using Clock = std::chrono::steady_clock;

// A pthreadpool of `threads` workers, destroyed with its last owner.
std::shared_ptr<pthreadpool> NewPool(int threads) {
  return {pthreadpool_create(static_cast<std::size_t>(threads)), pthreadpool_destroy};
}

// The pthreadpool of `threads` workers that executors created with
// ExecutorOptions::share_threads use together. Held by those executors; destroyed with
// the last of them.
std::shared_ptr<pthreadpool> SharedPool(int threads) {
  static std::mutex mu;
  static std::map<int, std::weak_ptr<pthreadpool>> pools;
  std::lock_guard<std::mutex> lock(mu);
  std::shared_ptr<pthreadpool> pool = pools[threads].lock();
  if (pool == nullptr) {
    pool = NewPool(threads);
    pools[threads] = pool;
  }
  return pool;
}

// A thread pool shared by all graph runners of one executor (and, with share_threads,
// by every such executor of the process with as many threads).
class ThreadPool {
 public:
  ThreadPool(int threads, bool shared) : threads_(std::max(threads, 1)) {
    if (threads_ <= 1) return;
    pool_ = shared ? SharedPool(threads_) : NewPool(threads_);
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  int threads() const { return threads_; }
  pthreadpool_t get() const { return pool_.get(); }

  void ParallelFor(std::size_t n, const std::function<void(std::size_t, std::size_t)>& fn) {
    if (n == 0) return;
    if (pool_ == nullptr || n == 1) {
      fn(0, n);
      return;
    }
    // A few chunks per thread balance uneven work without much scheduling cost.
    const std::size_t tile = std::max<std::size_t>(1, n / (static_cast<std::size_t>(threads_) * 4));
    struct Task {
      const std::function<void(std::size_t, std::size_t)>* fn;
      std::size_t n;
    } task{&fn, n};
    pthreadpool_parallelize_1d_tile_1d(
        pool_.get(),
        [](void* ctx, std::size_t start, std::size_t count) {
          auto* t = static_cast<Task*>(ctx);
          (*t->fn)(start, std::min(start + count, t->n));
        },
        &task, n, tile, 0);
  }

 private:
  int threads_;
  std::shared_ptr<pthreadpool> pool_;  // null with one thread
};

std::int64_t NodeMacs(const ir::Node& node, const std::vector<const Tensor*>& in,
                      const std::vector<const Tensor*>& out) {
  auto elems = [](const Tensor* t) { return t ? t->element_count() : 0; };
  auto tail_product = [](const Tensor* t, std::size_t from) {
    std::int64_t p = 1;
    for (std::size_t i = from; t && i < t->shape().rank(); ++i) p *= t->shape()[i];
    return p;
  };
  if (node.domain.empty() && !out.empty()) {
    if ((node.op_type == "Conv" || node.op_type == "ConvInteger" ||
         node.op_type == "QLinearConv") &&
        in.size() > 1) {
      const Tensor* w = node.op_type == "QLinearConv" ? (in.size() > 3 ? in[3] : nullptr) : in[1];
      return elems(out[0]) * tail_product(w, 1);
    }
    if (node.op_type == "ConvTranspose" && in.size() > 1)
      return elems(in[0]) * tail_product(in[1], 1);
    if ((node.op_type == "MatMul" || node.op_type == "MatMulInteger" ||
         node.op_type == "QLinearMatMul") &&
        !in.empty() && in[0] && in[0]->shape().rank() > 0) {
      return elems(out[0]) * in[0]->shape()[in[0]->shape().rank() - 1];
    }
    if (node.op_type == "Gemm" && !in.empty() && in[0] && in[0]->shape().rank() == 2) {
      const std::int64_t k = node.GetInt("transA", 0) ? in[0]->shape()[0] : in[0]->shape()[1];
      return elems(out[0]) * k;
    }
  }
  // The int8 kernels of the QDQ fusion pass (src/engine/kernels/qlinear.h): QConv's
  // weights are [M, C/group, kh, kw], QGemm's [N, K].
  if (node.domain == "com.deepedge" && !out.empty() && in.size() > 1) {
    if (node.op_type == "QConv" || node.op_type == "QGemm")
      return elems(out[0]) * tail_product(in[1], 1);
  }
  return 0;
}

class GraphRunner;

// Where a node's input comes from.
struct Slot {
  Tensor tensor;  // a view: of a pool block, an initializer, or a caller's input
  BufferPool::Block* block = nullptr;
  int uses = 0;       // consumers in this graph (prepared count)
  int remaining = 0;  // consumers left in the current run
  bool constant = false;
  bool pinned = false;  // graph output or read by a nested graph: never released early
  bool set = false;
};

struct PreparedNode {
  const ir::Node* node = nullptr;
  std::unique_ptr<OpKernel> kernel;
  std::vector<int> inputs;   // slot index; -1 omitted
  std::vector<int> outputs;  // slot index; -1 omitted
};

class GraphRunner {
 public:
  GraphRunner(const ir::Graph& graph, const KernelRegistry& registry, ThreadPool& pool,
              GraphRunner* parent, bool profile)
      : graph_(graph), registry_(registry), pool_(pool), parent_(parent), profile_(profile) {}

  Status Prepare();
  Status Run(std::span<const Tensor* const> inputs, std::vector<Tensor>& outputs);

  // A value of this graph or an enclosing one, by name (for nested graphs).
  const Tensor* Lookup(const std::string& name) const {
    auto it = index_.find(name);
    if (it != index_.end() && slots_[static_cast<std::size_t>(it->second)].set) {
      return &slots_[static_cast<std::size_t>(it->second)].tensor;
    }
    return parent_ ? parent_->Lookup(name) : nullptr;
  }

  GraphRunner* Child(const ir::Graph& g) {
    auto it = children_.find(&g);
    if (it != children_.end()) return it->second.get();
    // A nested graph profiles when its parent does: its nodes are reported under the
    // node that ran it (see NodeContext::RunSubgraph).
    auto child = std::make_unique<GraphRunner>(g, registry_, pool_, this, profile_);
    if (!child->Prepare().ok()) return nullptr;
    return children_.emplace(&g, std::move(child)).first->second.get();
  }
  Status ChildPrepareError(const ir::Graph& g) {
    GraphRunner probe(g, registry_, pool_, this, false);
    return probe.Prepare();
  }

  const std::vector<NodeProfile>& profile() const { return profile_data_; }
  std::size_t arena_bytes() const { return buffers_.peak_bytes(); }
  void ResetState() {
    for (PreparedNode& p : nodes_) p.kernel->ResetState();
    for (auto& [g, child] : children_) child->ResetState();
  }

  Expected<Tensor*> AllocateOutput(int slot_index, DType dtype, const Shape& shape);
  ThreadPool& pool() { return pool_; }

 private:
  int SlotFor(const std::string& name) {
    auto [it, inserted] = index_.emplace(name, static_cast<int>(slots_.size()));
    if (inserted) slots_.emplace_back();
    return it->second;
  }
  void ReleaseSlot(Slot& s) {
    if (s.block != nullptr) buffers_.Release(s.block);
    s.block = nullptr;
    s.set = false;
  }

  const ir::Graph& graph_;
  const KernelRegistry& registry_;
  ThreadPool& pool_;
  GraphRunner* parent_;
  bool profile_;
  std::map<std::string, int> index_;
  std::vector<Slot> slots_;
  std::vector<int> input_slots_, output_slots_;
  std::vector<std::string> outer_names_;  // values read from enclosing graphs
  std::vector<int> outer_slots_;
  std::vector<PreparedNode> nodes_;
  BufferPool buffers_;
  std::map<const ir::Graph*, std::unique_ptr<GraphRunner>> children_;
  std::vector<NodeProfile> profile_data_;
  std::vector<NodeProfile> sub_profile_;  // what the running kernel reported
  std::vector<NodeProfile> nested_;       // the running node's nested graphs' nodes
};

class NodeContext final : public KernelContext {
 public:
  NodeContext(GraphRunner& runner, const PreparedNode& node, std::vector<Slot>& slots,
              std::vector<NodeProfile>* sub_profile = nullptr,
              std::vector<NodeProfile>* nested = nullptr)
      : runner_(runner), node_(node), slots_(slots), sub_profile_(sub_profile), nested_(nested) {}

  const ir::Node& node() const override { return *node_.node; }
  std::size_t input_count() const override { return node_.inputs.size(); }
  const Tensor* input(std::size_t i) const override {
    if (i >= node_.inputs.size() || node_.inputs[i] < 0) return nullptr;
    const Slot& s = slots_[static_cast<std::size_t>(node_.inputs[i])];
    return s.set ? &s.tensor : nullptr;
  }
  std::size_t output_count() const override { return node_.outputs.size(); }
  bool output_wanted(std::size_t i) const override {
    return i < node_.outputs.size() && node_.outputs[i] >= 0;
  }
  Expected<Tensor*> Output(std::size_t i, DType dtype, const Shape& shape) override {
    if (i >= node_.outputs.size()) {
      return InvalidArgument(node_.node->Describe() + ": kernel wrote output " + std::to_string(i) +
                             " it does not have");
    }
    if (node_.outputs[i] < 0) {
      // An omitted output: give the kernel scratch storage it may ignore.
      DEEPEDGE_ASSIGN_OR_RETURN(scratch_.emplace_back(), Tensor::Allocate(dtype, shape));
      return &scratch_.back();
    }
    return runner_.AllocateOutput(node_.outputs[i], dtype, shape);
  }
  bool profiling() const override { return sub_profile_ != nullptr; }
  void AddNodeProfile(NodeProfile profile) override {
    if (sub_profile_ != nullptr) sub_profile_->push_back(std::move(profile));
  }
  int threads() const override { return runner_.pool().threads(); }
  pthreadpool_t thread_pool() const override { return runner_.pool().get(); }
  void ParallelFor(std::size_t n,
                   const std::function<void(std::size_t, std::size_t)>& fn) override {
    runner_.pool().ParallelFor(n, fn);
  }
  Status RunSubgraph(const ir::Graph& graph, std::span<const Tensor* const> inputs,
                     std::vector<Tensor>& outputs) override {
    GraphRunner* child = runner_.Child(graph);
    if (child == nullptr) return runner_.ChildPrepareError(graph);
    DEEPEDGE_RETURN_IF_ERROR(child->Run(inputs, outputs));
    if (nested_ != nullptr) {
      // "<node>/<nested node>", as partition::BuildLayerGraph names an If's inlined
      // branch; a Loop's iterations add up under one name.
      for (const NodeProfile& e : child->profile()) {
        const std::string name = node_.node->name + "/" + e.name;
        auto it = std::find_if(nested_->begin(), nested_->end(),
                               [&](const NodeProfile& n) { return n.name == name; });
        if (it != nested_->end()) {
          it->time_ms += e.time_ms;
          it->macs += e.macs;
          continue;
        }
        nested_->push_back(e);
        nested_->back().name = name;
        if (!e.group.empty()) nested_->back().group = node_.node->name + "/" + e.group;
      }
    }
    return Status::Ok();
  }

 private:
  GraphRunner& runner_;
  const PreparedNode& node_;
  std::vector<Slot>& slots_;
  std::vector<NodeProfile>* sub_profile_;
  std::vector<NodeProfile>* nested_;
  std::deque<Tensor> scratch_;
};

Status GraphRunner::Prepare() {
  for (const auto& [name, tensor] : graph_.initializers) {
    Slot& s = slots_[static_cast<std::size_t>(SlotFor(name))];
    s.tensor = Tensor::Borrow(tensor->dtype(), tensor->shape(), const_cast<void*>(tensor->data()),
                              tensor->byte_size())
                   .value();
    s.constant = s.set = true;
  }
  for (const ir::ValueInfo& v : graph_.inputs) input_slots_.push_back(SlotFor(v.name));
  std::set<std::string> produced;
  for (const ir::ValueInfo& v : graph_.inputs) produced.insert(v.name);
  for (const auto& [name, t] : graph_.initializers) produced.insert(name);

  // Names read by nested graphs stay alive for the whole run: their nodes' inputs, and
  // their outputs, which may name an enclosing value passed straight through.
  std::set<std::string> read_by_subgraphs;
  std::function<void(const ir::Graph&)> collect = [&](const ir::Graph& g) {
    for (const ir::ValueInfo& o : g.outputs) read_by_subgraphs.insert(o.name);
    for (const ir::Node& n : g.nodes) {
      for (const std::string& in : n.inputs) read_by_subgraphs.insert(in);
      for (const auto& [k, a] : n.attributes) {
        if (a.graph) collect(*a.graph);
        for (const auto& sub : a.graphs) collect(*sub);
      }
    }
  };

  PrepareContext prep{graph_, pool_.threads(), [this](const std::string& name) -> const Tensor* {
                        auto it = graph_.initializers.find(name);
                        return it == graph_.initializers.end() ? nullptr : it->second.get();
                      }};
  for (const ir::Node& n : graph_.nodes) {
    PreparedNode p;
    p.node = &n;
    for (const std::string& in : n.inputs) {
      if (in.empty()) {
        p.inputs.push_back(-1);
        continue;
      }
      if (!produced.count(in) && !index_.count(in)) {
        // Produced by no earlier node here: it must come from an enclosing graph.
        if (parent_ == nullptr) {
          return Corrupt(n.Describe() + ": input '" + in +
                         "' is produced by no node and is not a graph input");
        }
        outer_names_.push_back(in);
        outer_slots_.push_back(SlotFor(in));
        produced.insert(in);
      }
      const int slot = SlotFor(in);
      p.inputs.push_back(slot);
      ++slots_[static_cast<std::size_t>(slot)].uses;
    }
    for (const std::string& out : n.outputs) {
      p.outputs.push_back(out.empty() ? -1 : SlotFor(out));
      if (!out.empty()) produced.insert(out);
    }
    for (const auto& [k, a] : n.attributes) {
      if (a.graph) collect(*a.graph);
      for (const auto& sub : a.graphs) collect(*sub);
    }
    Expected<std::unique_ptr<OpKernel>> kernel = registry_.Create(n, prep);
    if (!kernel) return kernel.status();
    p.kernel = std::move(kernel).value();
    nodes_.push_back(std::move(p));
  }
  for (const ir::ValueInfo& v : graph_.outputs) {
    if (!produced.count(v.name)) {
      if (parent_ == nullptr)
        return Corrupt("graph output '" + v.name + "' is produced by no node");
      outer_names_.push_back(v.name);
      outer_slots_.push_back(SlotFor(v.name));
      produced.insert(v.name);
    }
    const int slot = SlotFor(v.name);
    output_slots_.push_back(slot);
    slots_[static_cast<std::size_t>(slot)].pinned = true;
  }
  for (const std::string& name : read_by_subgraphs) {
    if (auto it = index_.find(name); it != index_.end())
      slots_[static_cast<std::size_t>(it->second)].pinned = true;
  }
  return Status::Ok();
}

Expected<Tensor*> GraphRunner::AllocateOutput(int slot_index, DType dtype, const Shape& shape) {
  Slot& s = slots_[static_cast<std::size_t>(slot_index)];
  if (!shape.is_static())
    return InvalidArgument("output shape " + shape.ToString() + " is not static");
  const std::size_t bytes = static_cast<std::size_t>(shape.element_count()) * DTypeSize(dtype);
  if (s.block == nullptr || s.block->size < bytes) {
    ReleaseSlot(s);
    s.block = buffers_.Acquire(bytes);
    if (s.block == nullptr)
      return Internal("out of memory for a " + std::to_string(bytes) + "-byte tensor");
  }
  DEEPEDGE_ASSIGN_OR_RETURN(s.tensor, Tensor::Borrow(dtype, shape, s.block->data, bytes));
  s.set = true;
  s.remaining = s.uses;
  return &s.tensor;
}

Status GraphRunner::Run(std::span<const Tensor* const> inputs, std::vector<Tensor>& outputs) {
  if (inputs.size() != input_slots_.size()) {
    return InvalidArgument("graph '" + graph_.name + "' takes " +
                           std::to_string(input_slots_.size()) + " inputs, got " +
                           std::to_string(inputs.size()));
  }
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    Slot& s = slots_[static_cast<std::size_t>(input_slots_[i])];
    const Tensor* t = inputs[i];
    s.tensor = Tensor::Borrow(t->dtype(), t->shape(), const_cast<void*>(t->data()), t->byte_size())
                   .value();
    s.set = true;
    s.block = nullptr;
    s.remaining = s.uses;
  }
  for (std::size_t i = 0; i < outer_names_.size(); ++i) {
    const Tensor* t = parent_ ? parent_->Lookup(outer_names_[i]) : nullptr;
    if (t == nullptr)
      return Corrupt("value '" + outer_names_[i] + "' is not available in any enclosing graph");
    Slot& s = slots_[static_cast<std::size_t>(outer_slots_[i])];
    s.tensor = Tensor::Borrow(t->dtype(), t->shape(), const_cast<void*>(t->data()), t->byte_size())
                   .value();
    s.set = true;
    s.remaining = s.uses;
  }
  if (profile_) profile_data_.clear();
  Status status;
  std::vector<const Tensor*> in_view, out_view;
  for (PreparedNode& p : nodes_) {
    sub_profile_.clear();
    nested_.clear();
    NodeContext ctx(*this, p, slots_, profile_ ? &sub_profile_ : nullptr,
                    profile_ ? &nested_ : nullptr);
    for (std::size_t i = 0; i < p.inputs.size(); ++i) {
      if (p.inputs[i] >= 0 && !slots_[static_cast<std::size_t>(p.inputs[i])].set) {
        status = Internal(p.node->Describe() + ": input '" + p.node->inputs[i] + "' has no value");
        break;
      }
    }
    if (!status.ok()) break;
    const auto t0 = profile_ ? Clock::now() : Clock::time_point{};
    status = p.kernel->Run(ctx);
    if (!status.ok()) break;
    if (profile_ && !sub_profile_.empty()) {
      // The kernel ran several original nodes and timed each of them.
      for (NodeProfile& sp : sub_profile_) profile_data_.push_back(std::move(sp));
    } else if (profile_) {
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      NodeProfile np;
      np.name = p.node->name;
      np.op_type = p.node->op_type;
      np.time_ms = ms;
      in_view.clear();
      out_view.clear();
      for (std::size_t i = 0; i < p.inputs.size(); ++i) in_view.push_back(ctx.input(i));
      for (int o : p.outputs) {
        const Tensor* t = o >= 0 && slots_[static_cast<std::size_t>(o)].set
                              ? &slots_[static_cast<std::size_t>(o)].tensor
                              : nullptr;
        out_view.push_back(t);
        if (t) np.output_bytes += static_cast<std::int64_t>(t->byte_size());
      }
      np.macs = NodeMacs(*p.node, in_view, out_view);
      // A node that ran nested graphs (If, Loop, Scan) keeps its own time (choosing,
      // copying), its nested nodes follow with theirs.
      for (const NodeProfile& e : nested_) np.time_ms -= e.time_ms;
      np.time_ms = std::max(np.time_ms, 0.0);
      profile_data_.push_back(std::move(np));
      for (NodeProfile& e : nested_) profile_data_.push_back(std::move(e));
    }
    // Values whose last consumer just ran go back to the pool.
    for (int in : p.inputs) {
      if (in < 0) continue;
      Slot& s = slots_[static_cast<std::size_t>(in)];
      if (--s.remaining <= 0 && !s.pinned && !s.constant && s.block != nullptr) ReleaseSlot(s);
    }
    // Outputs nobody reads are dead at once.
    for (int out : p.outputs) {
      if (out < 0) continue;
      Slot& s = slots_[static_cast<std::size_t>(out)];
      if (s.uses == 0 && !s.pinned && s.block != nullptr) ReleaseSlot(s);
    }
  }
  if (status.ok()) {
    outputs.resize(output_slots_.size());
    for (std::size_t i = 0; i < output_slots_.size(); ++i) {
      const Slot& s = slots_[static_cast<std::size_t>(output_slots_[i])];
      if (!s.set) {
        status = Internal("graph output '" + graph_.outputs[i].name + "' was not computed");
        break;
      }
      if (outputs[i].dtype() != s.tensor.dtype() || outputs[i].shape() != s.tensor.shape() ||
          !outputs[i].owns_data()) {
        Expected<Tensor> t = Tensor::Allocate(s.tensor.dtype(), s.tensor.shape());
        if (!t) return t.status();
        outputs[i] = std::move(t).value();
      }
      if (s.tensor.byte_size())
        std::memcpy(outputs[i].data(), s.tensor.data(), s.tensor.byte_size());
    }
  }
  // Everything computed goes back to the pool; the next run reuses the same blocks.
  for (Slot& s : slots_) {
    if (!s.constant && s.block != nullptr) ReleaseSlot(s);
    if (!s.constant) s.set = false;
  }
  return status;
}

class ExecutorImpl final : public Executor {
 public:
  ExecutorImpl(std::shared_ptr<const ir::Model> model, const KernelRegistry& registry,
               const ExecutorOptions& options)
      : model_(std::move(model)),
        pool_(options.threads > 0
                  ? options.threads
                  : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())),
              options.share_threads),
        runner_(model_->graph, registry, pool_, nullptr, options.profile) {}

  Status Prepare() { return runner_.Prepare(); }

  const std::vector<ir::ValueInfo>& Inputs() const override { return model_->graph.inputs; }
  const std::vector<ir::ValueInfo>& Outputs() const override { return model_->graph.outputs; }

  Status Run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs) override {
    const auto& decl = model_->graph.inputs;
    if (inputs.size() != decl.size()) {
      return InvalidArgument("the model takes " + std::to_string(decl.size()) + " inputs, got " +
                             std::to_string(inputs.size()));
    }
    in_ptrs_.clear();
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const ir::ValueInfo& v = decl[i];
      const Tensor& t = inputs[i];
      if (v.dtype && *v.dtype != t.dtype()) {
        return InvalidArgument("input '" + v.name + "' must be " +
                               std::string(DTypeName(*v.dtype)) + ", got " +
                               std::string(DTypeName(t.dtype())));
      }
      if (v.shape) {
        bool fits = v.shape->rank() == t.shape().rank();
        for (std::size_t d = 0; fits && d < t.shape().rank(); ++d) {
          fits = (*v.shape)[d] == Shape::kDynamic || (*v.shape)[d] == t.shape()[d];
        }
        if (!fits) {
          return InvalidArgument("input '" + v.name + "' must have shape " + v.shape->ToString() +
                                 ", got " + t.shape().ToString());
        }
      }
      in_ptrs_.push_back(&t);
    }
    return runner_.Run(in_ptrs_, outputs);
  }

  const std::vector<NodeProfile>& LastProfile() const override { return runner_.profile(); }
  std::size_t ArenaBytes() const override { return runner_.arena_bytes(); }
  void ResetState() override { runner_.ResetState(); }

 private:
  std::shared_ptr<const ir::Model> model_;
  ThreadPool pool_;
  GraphRunner runner_;
  std::vector<const Tensor*> in_ptrs_;
};

}  // namespace

Expected<std::unique_ptr<Executor>> Executor::Create(std::shared_ptr<const ir::Model> model,
                                                     const KernelRegistry& registry,
                                                     const ExecutorOptions& options) {
  auto exec = std::make_unique<ExecutorImpl>(std::move(model), registry, options);
  DEEPEDGE_RETURN_IF_ERROR(exec->Prepare());
  return std::unique_ptr<Executor>(std::move(exec));
}

}  // namespace deepedge::engine
