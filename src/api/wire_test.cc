#include "api/wire.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace podfleet {
namespace {

using nlohmann::json;

// Found by fuzz/wire_fuzz.cc: a float in an integer field was converted out of range (undefined
// behaviour); it is refused like any other wrong type.
TEST(Wire, FloatInIntegerFieldIsInvalidArgument) {
  const Result<Lease> lease =
      LeaseFromJson(json::parse(R"({"job":1e300,"attempt":2,"expires_at":1})"));
  ASSERT_FALSE(lease);
  EXPECT_EQ(lease.error().code, Code::kInvalidArgument);
  const Result<Progress> progress = ProgressFromJson(json::parse(R"({"job":1,"attempt":-1e30})"));
  ASSERT_FALSE(progress);
  const Result<Transcript> transcript =
      TranscriptFromJson(json::parse(R"({"segments":[{"start_ms":0.5,"end_ms":1,"text":"a"}]})"));
  ASSERT_FALSE(transcript);
  EXPECT_EQ(transcript.error().code, Code::kInvalidArgument);
}

TEST(Wire, LeaseRoundTrips) {
  const Lease lease{JobId(7), AttemptId(3), NodeId(2), FromUnixMillis(1'795'000'000'123)};
  const Result<Lease> back = LeaseFromJson(ToJson(lease));
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(ToJson(*back), ToJson(lease));
}

// A seam chunk's search width travels with its grant; a grant from a coordinator that names none
// (older, or an exact chunk) is an exact chunk.
TEST(Wire, GrantCarriesSeamAndDefaultsToExact) {
  WireGrant grant;
  grant.lease = Lease{JobId(7), AttemptId(1), NodeId(2), FromUnixMillis(1'795'000'000'000)};
  grant.audio_url = "https://example.org/ep.mp3";
  grant.chunk = Chunk{2, 4, Millis(585'000), Millis(1'215'000), false, Millis(15'000)};
  json wire = ToJson(grant);
  EXPECT_EQ(wire["chunk"]["seam_ms"], 15'000);
  Result<WireGrant> back = GrantFromJson(wire);
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(back->chunk.seam, Millis(15'000));
  EXPECT_EQ(back->chunk.start, Millis(585'000));
  EXPECT_EQ(back->chunk.end, Millis(1'215'000));

  wire["chunk"].erase("seam_ms");
  back = GrantFromJson(wire);
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(back->chunk.seam, Millis(0));
  grant.chunk.seam = Millis(0);
  EXPECT_FALSE(ToJson(grant)["chunk"].contains("seam_ms"));
}

}  // namespace
}  // namespace podfleet
