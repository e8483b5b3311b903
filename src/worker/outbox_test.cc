#include "worker/outbox.h"

#include <gtest/gtest.h>

#include <fstream>

#include "support/temp_dir.h"

namespace podfleet {
namespace {

Lease MakeLease(int64_t job, int64_t attempt) {
  return Lease{JobId(job), AttemptId(attempt), NodeId(7), FromUnixMillis(1'700'000'000'000)};
}

Transcript MakeTranscript(const std::string& text) {
  Transcript t;
  t.language = "en";
  t.engine = "simulated";
  t.audio_duration = Millis(2'000);
  t.segments.push_back(Segment{Millis(0), Millis(2'000), text, "", {}});
  return t;
}

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(outbox_.Create()); }
  void Write(const std::string& name, const std::string& bytes) {
    std::ofstream(outbox_.dir() / name, std::ios::binary) << bytes;
  }

  TempDir dir_;
  Outbox outbox_{dir_.path() / "outbox"};
};

TEST_F(OutboxTest, PutThenLoadGivesTheLeaseAndTranscriptBack) {
  auto path = outbox_.Put(MakeLease(42, 3), MakeTranscript("hello there"));
  ASSERT_TRUE(path) << path.error().ToString();
  EXPECT_EQ(path->filename(), "job-42-3.json");
  auto entry = Outbox::Load(*path);
  ASSERT_TRUE(entry) << entry.error().ToString();
  EXPECT_EQ(entry->path, *path);
  EXPECT_EQ(entry->lease.job, JobId(42));
  EXPECT_EQ(entry->lease.attempt, AttemptId(3));
  EXPECT_EQ(entry->lease.node, NodeId(7));
  EXPECT_EQ(entry->transcript.engine, "simulated");
  ASSERT_EQ(entry->transcript.segments.size(), 1u);
  EXPECT_EQ(entry->transcript.segments[0].text, "hello there");
}

TEST_F(OutboxTest, PendingListsFinishedFilesInJobOrderAndSkipsTempFiles) {
  ASSERT_TRUE(outbox_.Put(MakeLease(10, 1), MakeTranscript("ten")));
  ASSERT_TRUE(outbox_.Put(MakeLease(9, 2), MakeTranscript("nine")));
  Write("job-11-1.json.tmp", "{\"version\":1,");  // a crash mid-write
  Write("notes.txt", "not ours");
  auto pending = outbox_.Pending();
  ASSERT_TRUE(pending) << pending.error().ToString();
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[0].filename(), "job-9-2.json");
  EXPECT_EQ((*pending)[1].filename(), "job-10-1.json");
}

TEST_F(OutboxTest, RemoveTakesTheFileOutOfPending) {
  auto path = outbox_.Put(MakeLease(1, 1), MakeTranscript("one"));
  ASSERT_TRUE(path);
  ASSERT_TRUE(Outbox::Remove(*path));
  EXPECT_TRUE(outbox_.Pending()->empty());
}

TEST_F(OutboxTest, DamagedFilesAreCorruption) {
  const std::vector<std::string> hostile = {
      "",
      "{\"version\":1,",
      "[1,2,3]",
      "\"just a string\"",
      "{\"version\":2,\"lease\":{},\"transcript\":{}}",
      "{\"version\":\"1\",\"lease\":{},\"transcript\":{}}",
      "{\"version\":1,\"transcript\":{}}",
      "{\"version\":1,\"lease\":{\"job\":\"x\",\"attempt\":1,\"expires_at\":0},\"transcript\":{}}",
      "{\"version\":1,\"lease\":[],\"transcript\":17}",
  };
  for (size_t i = 0; i < hostile.size(); ++i) {
    const std::string name = "job-" + std::to_string(i + 1) + "-1.json";
    Write(name, hostile[i]);
    auto entry = Outbox::Load(outbox_.dir() / name);
    ASSERT_FALSE(entry) << hostile[i];
    EXPECT_EQ(entry.error().code, Code::kCorruption) << hostile[i];
  }
}

TEST_F(OutboxTest, MissingFileIsUnavailable) {
  auto entry = Outbox::Load(outbox_.dir() / "job-1-1.json");
  ASSERT_FALSE(entry);
  EXPECT_EQ(entry.error().code, Code::kUnavailable);
}

}  // namespace
}  // namespace podfleet
