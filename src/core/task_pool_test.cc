#include "core/task_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>

namespace podfleet {
namespace {

TEST(TaskPool, RunsEveryTaskOnItsThreadsAndHandsBackResults) {
  TaskPool pool(3);
  EXPECT_EQ(pool.threads(), 3);
  std::vector<std::future<int>> results;
  for (int i = 0; i < 50; ++i) results.push_back(pool.Submit([i] { return i * i; }));
  for (int i = 0; i < 50; ++i) EXPECT_EQ(results[i].get(), i * i);
}

TEST(TaskPool, DestructorRunsWhatWasSubmitted) {
  std::atomic<int> ran{0};
  {
    TaskPool pool(2);
    for (int i = 0; i < 20; ++i) pool.Submit([&ran] { ++ran; });
  }
  EXPECT_EQ(ran.load(), 20);
}

TEST(TaskPool, ZeroThreadsMeansOnePerCore) {
  TaskPool pool(0);
  EXPECT_GE(pool.threads(), 1);
}

}  // namespace
}  // namespace podfleet
