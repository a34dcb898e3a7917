#include <gtest/gtest.h>

#include "support/kernel_harness.h"

namespace deepedge {
namespace {

Status Twice(engine::KernelContext& ctx) {
  const Tensor* x = ctx.input(0);
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kF32, x->shape()));
  for (std::size_t i = 0; i < x->as<float>().size(); ++i) y->as<float>()[i] = 2 * x->as<float>()[i];
  return Status::Ok();
}
Status Thrice(engine::KernelContext&) {
  return Internal("thrice");
}

TEST(KernelRegistryTest, PicksTheNewestImplementationNotAfterTheNodesOpset) {
  engine::KernelRegistry r;
  r.Add("", "Op", Twice, 1);
  r.Add("", "Op", Thrice, 13);
  ir::Graph g;
  engine::PrepareContext prep{g, 1, nullptr};
  ir::Node old_node = testing::MakeNode("Op", {"x"}, {"y"}, 11);
  ir::Node new_node = testing::MakeNode("Op", {"x"}, {"y"}, 13);
  Tensor x = testing::F32({2}, {1, 2});
  auto k_old = r.Create(old_node, prep);
  ASSERT_TRUE(k_old.has_value());
  testing::SingleNodeContext ctx(old_node, {&x});
  ASSERT_TRUE((*k_old)->Run(ctx).ok());
  EXPECT_EQ(ctx.outputs()[0].as<float>()[1], 4.0f);
  auto k_new = r.Create(new_node, prep);
  testing::SingleNodeContext ctx2(new_node, {&x});
  EXPECT_EQ((*k_new)->Run(ctx2).message(), "thrice");
}

TEST(KernelRegistryTest, UnsupportedNamesOperatorDomainOpsetAndNode) {
  engine::KernelRegistry r;
  ir::Graph g;
  engine::PrepareContext prep{g, 1, nullptr};
  ir::Node n = testing::MakeNode("FancyOp", {"x"}, {"y"}, 15);
  n.domain = "com.example";
  n.name = "fancy1";
  auto k = r.Create(n, prep);
  ASSERT_FALSE(k.has_value());
  EXPECT_EQ(k.status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(k.status().message(),
            "unsupported operator FancyOp (domain com.example, opset 15) at node 'fancy1'");
}

}  // namespace
}  // namespace deepedge
