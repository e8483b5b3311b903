#include "engines/state_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace podfleet {
namespace {

TEST(StatePool, RunsEveryChunkInOrderOnAtMostItsStates) {
  int a = 0, b = 0;
  StatePool pool({&a, &b});
  std::atomic<int> in_flight{0}, most{0};
  auto segments = pool.Run(7, [&](size_t i, void* state) -> Result<std::vector<Segment>> {
    const int now = ++in_flight;
    most = std::max(most.load(), now);
    EXPECT_TRUE(state == &a || state == &b);
    --in_flight;
    return std::vector<Segment>{{Millis(static_cast<int64_t>(i)), Millis(0), "x", {}}};
  });
  ASSERT_TRUE(segments);
  ASSERT_EQ(segments->size(), 7u);
  for (size_t i = 0; i < 7; ++i) EXPECT_EQ((*segments)[i].start, Millis(static_cast<int64_t>(i)));
  EXPECT_LE(most, 2);
}

TEST(StatePool, FirstErrorIsReturned) {
  int a = 0;
  StatePool pool({&a});
  auto r = pool.Run(3, [](size_t i, void*) -> Result<std::vector<Segment>> {
    if (i == 1) return Internal("chunk 1 failed");
    return std::vector<Segment>{};
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "chunk 1 failed");
  EXPECT_TRUE(pool.Run(0, [](size_t, void*) { return Result<std::vector<Segment>>{}; }));
}

TEST(StateChoice, FewestStatesWithinFivePercentOfTheBest) {
  EXPECT_EQ(ChooseStates({{1, 93, 0}, {2, 190, 0}, {4, 287, 0}, {8, 393, 0}}), 8);
  EXPECT_EQ(ChooseStates({{1, 10, 0}, {2, 19.2, 0}, {4, 19.6, 0}}), 2);
  EXPECT_EQ(ChooseStates({{1, 10, 0}}), 1);
  EXPECT_EQ(ChooseStates({}), 1);
}

TEST(StateChoice, MeasuringStopsWhenADoublingGainsLittle) {
  std::vector<int> asked;
  const double speed[] = {0, 10, 18, 0, 18.5, 0, 0, 0, 30};
  auto measured = MeasureStates(8, [&](int n) -> Result<StatesMeasurement> {
    asked.push_back(n);
    return StatesMeasurement{n, speed[n], 0};
  });
  ASSERT_TRUE(measured);
  EXPECT_EQ(asked, (std::vector<int>{1, 2, 4}));
  EXPECT_EQ(ChooseStates(*measured), 2);
  // Out of memory at 4 keeps what was measured; failing at 1 is an error.
  auto partial = MeasureStates(16, [](int n) -> Result<StatesMeasurement> {
    if (n == 4) return Unavailable("no room");
    return StatesMeasurement{n, 10.0 * n, 0};
  });
  ASSERT_TRUE(partial);
  EXPECT_EQ(partial->size(), 2u);
  EXPECT_FALSE(MeasureStates(4, [](int) -> Result<StatesMeasurement> { return Internal("x"); }));
}

// The warm-up through fake states: twice the throughput at 2 states, no gain at 4.
TEST(StateChoice, MakeStatesWarmsUpAndKeepsTheChoice) {
  std::atomic<int> made{0}, freed{0}, running{0}, most{0};
  StateOps ops;
  ops.create = [&]() -> void* { return new int(++made); };
  ops.destroy = [&](void* s) {
    delete static_cast<int*>(s);
    ++freed;
  };
  ops.run = [&](void*, const PcmAudio&) -> Result<void> {
    const int now = ++running;
    most = std::max(most.load(), now);
    std::this_thread::sleep_for(std::chrono::milliseconds(now <= 2 ? 40 : 80));
    --running;
    return {};
  };
  ops.device_free = [] { return int64_t{16} << 30; };  // "a GPU" with room
  auto plan = MakeStates(0, ops);
  ASSERT_TRUE(plan) << plan.error().ToString();
  ASSERT_GE(plan->measured.size(), 2u);
  EXPECT_EQ(plan->measured[0].states, 1);
  EXPECT_EQ(plan->states.size(), static_cast<size_t>(ChooseStates(plan->measured)));
  EXPECT_EQ(made - freed, static_cast<int>(plan->states.size()));
  EXPECT_NE(DescribeStates(plan->states.size(), plan->measured).find("auto; warm-up 1: "),
            std::string::npos);
  for (void* s : plan->states) ops.destroy(s);
  auto given = MakeStates(3, ops);
  ASSERT_TRUE(given);
  EXPECT_EQ(given->states.size(), 3u);
  EXPECT_TRUE(given->measured.empty());
  for (void* s : given->states) ops.destroy(s);
}

TEST(StateChoice, ChunksSpreadOverTheStates) {
  EXPECT_EQ(ChunkLengthForStates(Millis(600'000), 1, Millis(0), Millis(30'000)), Millis(0));
  EXPECT_EQ(ChunkLengthForStates(Millis(600'000), 1, Millis(6'000), Millis(30'000)), Millis(6'000));
  EXPECT_EQ(ChunkLengthForStates(Millis(600'000), 4, Millis(0), Millis(30'000)), Millis(150'001));
  EXPECT_EQ(ChunkLengthForStates(Millis(600'000), 4, Millis(50'000), Millis(20'000)),
            Millis(50'000));
  EXPECT_EQ(ChunkLengthForStates(Millis(40'000), 8, Millis(50'000), Millis(20'000)),
            Millis(20'000));
}

}  // namespace
}  // namespace podfleet
