#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "deepedge/model_repository.h"
#include "serve/bounded_queue.h"
#include "support/temp_dir.h"

namespace deepedge {
namespace {

using serve::BoundedQueue;
using Push = BoundedQueue<int>::PushResult;

TEST(BoundedQueue, RefusesWhenFullAndKeepsOrder) {
  BoundedQueue<int> q(2);
  EXPECT_EQ(q.TryPush(1), Push::kOk);
  EXPECT_EQ(q.TryPush(2), Push::kOk);
  EXPECT_EQ(q.TryPush(3), Push::kFull);
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.Pop(), 1);
  EXPECT_EQ(q.TryPush(4), Push::kOk);
  EXPECT_EQ(q.Pop(), 2);
  EXPECT_EQ(q.Pop(), 4);
  EXPECT_EQ(q.size(), 0u);
}

TEST(BoundedQueue, CloseDeliversWhatIsQueuedThenEnds) {
  BoundedQueue<int> q(4);
  ASSERT_EQ(q.TryPush(7), Push::kOk);
  q.Close();
  EXPECT_EQ(q.TryPush(8), Push::kClosed);
  EXPECT_EQ(q.Pop(), 7);
  EXPECT_EQ(q.Pop(), std::nullopt);
}

TEST(BoundedQueue, CloseWakesBlockedConsumers) {
  BoundedQueue<int> q(1);
  std::atomic<int> ended{0};
  std::vector<std::thread> consumers;
  for (int i = 0; i < 3; ++i) {
    consumers.emplace_back([&] {
      while (q.Pop()) {
      }
      ++ended;
    });
  }
  q.Close();
  for (auto& t : consumers) t.join();
  EXPECT_EQ(ended.load(), 3);
}

TEST(BoundedQueue, EveryAcceptedItemIsDeliveredOnceUnderContention) {
  BoundedQueue<int> q(8);
  std::atomic<long> accepted_sum{0}, delivered_sum{0};
  std::atomic<int> accepted{0}, delivered{0};
  std::vector<std::thread> consumers, producers;
  for (int c = 0; c < 3; ++c) {
    consumers.emplace_back([&] {
      while (std::optional<int> v = q.Pop()) {
        delivered_sum += *v;
        ++delivered;
      }
    });
  }
  for (int p = 0; p < 4; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < 5000; ++i) {
        const int v = p * 100000 + i;
        if (q.TryPush(v) == Push::kOk) {
          accepted_sum += v;
          ++accepted;
        }
      }
    });
  }
  for (auto& t : producers) t.join();
  q.Close();
  for (auto& t : consumers) t.join();
  EXPECT_GT(accepted.load(), 0);
  EXPECT_EQ(accepted.load(), delivered.load());
  EXPECT_EQ(accepted_sum.load(), delivered_sum.load());
}

TEST(ModelRepository, ScansTritonLayoutAndPicksTheHighestVersion) {
  testing::TempDir dir;
  dir.Write("a/1/model.onnx", "x");
  dir.Write("a/10/model.onnx", "x");
  dir.Write("a/9/model.onnx", "x");
  dir.Write("a/config.pbtxt", "name: \"a\"");
  dir.Write("b/2/model.tflite", "x");
  dir.Write("b/3/readme.txt", "not a model");  // a version without a model is ignored
  dir.Write("c/latest/model.onnx", "x");       // not a number: not a version
  dir.Write("c/0/model.onnx", "x");            // versions start at 1
  dir.Write(".hidden/1/model.onnx", "x");
  dir.Write("loose.onnx", "x");
  Expected<ModelRepository> repo = ModelRepository::Scan(dir.path());
  ASSERT_TRUE(repo) << repo.status().ToString();
  ASSERT_EQ(repo->models().size(), 2u);
  const RepositoryModel* a = repo->Find("a");
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->versions.size(), 3u);
  EXPECT_EQ(a->latest().version, 10);
  EXPECT_EQ(a->latest().path, dir / "a/10/model.onnx");
  const RepositoryModel* b = repo->Find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->latest().version, 2);
  EXPECT_EQ(b->latest().format, ModelFormat::kTflite);
  EXPECT_EQ(repo->Find("c"), nullptr);
  ASSERT_EQ(repo->skipped().size(), 1u);
  EXPECT_NE(repo->skipped()[0].find("c:"), std::string::npos);
}

TEST(ModelRepository, ErrorsNameTheProblem) {
  testing::TempDir dir;
  Expected<ModelRepository> empty = ModelRepository::Scan(dir.path());
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.status().message().find("holds no model"), std::string::npos);
  Expected<ModelRepository> missing = ModelRepository::Scan(dir / "nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  dir.Write("m/1/model.onnx", "x");
  dir.Write("m/1/model.tflite", "x");
  Expected<ModelRepository> both = ModelRepository::Scan(dir.path());
  ASSERT_FALSE(both);
  EXPECT_NE(both.status().message().find("both"), std::string::npos);
}

}  // namespace
}  // namespace deepedge
