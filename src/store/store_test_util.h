// Helpers shared by the store's tests (test code only).
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <source_location>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/model.h"
#include "store/store.h"
#include "support/pg_server.h"
#include "support/temp_dir.h"

// Fails the test (fatally, or not) unless `expr`, a Result, holds a value.
#define ASSERT_OK(expr) ASSERT_TRUE(::podfleet::IsOk(expr))
#define EXPECT_OK(expr) EXPECT_TRUE(::podfleet::IsOk(expr))
// Expects `expr`, a Result, to hold an error with code `code`.
#define EXPECT_CODE(expr, code) EXPECT_TRUE(::podfleet::HasCode((expr), (code)))

namespace podfleet {

template <class T>
::testing::AssertionResult IsOk(const Result<T>& r) {
  if (r) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << r.error().ToString();
}

template <class T>
::testing::AssertionResult HasCode(const Result<T>& r, Code code) {
  if (r) return ::testing::AssertionFailure() << "succeeded; expected " << CodeName(code);
  if (r.error().code != code) {
    return ::testing::AssertionFailure() << r.error().ToString() << "; expected " << CodeName(code);
  }
  return ::testing::AssertionSuccess();
}

// The error message of `r`, or "" when it holds a value.
template <class T>
std::string MessageOf(const Result<T>& r) {
  return r ? std::string() : r.error().message;
}

// The value of `r`; on an error, records a test failure where Must was called and throws, which
// ends the test (GoogleTest catches it).
template <class T>
T Must(Result<T> r, std::source_location at = std::source_location::current()) {
  if (!r) {
    ADD_FAILURE_AT(at.file_name(), static_cast<int>(at.line())) << r.error().ToString();
    throw std::runtime_error(r.error().ToString());
  }
  return std::move(*r);
}

// A store backend for parameterized tests: one suite, two fixtures.
struct StoreFactory {
  std::string name;
  std::function<Result<std::unique_ptr<Store>>(const TempDir&)> open;  // a fresh, empty store
};

inline void PrintTo(const StoreFactory& factory, std::ostream* os) { *os << factory.name; }

// SQLite (a file in the test's directory) and PostgreSQL (a database of its own on the test
// binary's server, tests/support/pg_server.h).
inline StoreFactory SqliteBackend() {
  return {"sqlite", [](const TempDir& dir) { return OpenSqliteStore(dir.File("podfleet.db")); }};
}
inline StoreFactory PostgresBackend() {
  return {"postgres", [](const TempDir&) { return OpenPgStore(NewPgDatabase()); }};
}
inline std::string BackendName(const ::testing::TestParamInfo<StoreFactory>& info) {
  return info.param.name;
}

// Instantiates the parameterized fixture `suite` on both stores.
#define INSTANTIATE_ON_BOTH_STORES(suite)                                            \
  INSTANTIATE_TEST_SUITE_P(                                                          \
      Stores, suite,                                                                 \
      ::testing::Values(::podfleet::SqliteBackend(), ::podfleet::PostgresBackend()), \
      ::podfleet::BackendName)

// An episode with an audio URL derived from its guid.
inline EpisodeInfo TestEpisode(const std::string& guid, const std::string& title = "An episode") {
  EpisodeInfo info;
  info.guid = guid;
  info.title = title;
  info.audio_url = "https://example.com/audio/" + guid + ".mp3";
  info.audio_type = "audio/mpeg";
  info.audio_length = 12'345'678;
  return info;
}

// Two segments, the first with word times.
inline Transcript TestTranscript() {
  Transcript t;
  t.language = "en";
  t.engine = "pocketsphinx";
  t.model = "en-us";
  t.audio_duration = Millis(95'250);
  t.engine_time = Millis(12'040);
  t.segments = {
      Segment{Millis(0),
              Millis(1'830),
              "hello world",
              "S1",
              {Word{Millis(0), Millis(640), "hello", 0.5f},
               Word{Millis(701), Millis(1'830), "world", 0.875f}}},
      Segment{Millis(2'000), Millis(3'999), "caf\xc3\xa9 \"quoted\"", "", {}},
  };
  return t;
}

// Every field of a job, for comparing states before and after a call.
inline std::string Describe(const Job& j) {
  std::string s = fmt::format("job {} episode {} {} attempts={} failures={} expiries={} error='{}'",
                              j.id.value(), j.episode.value(), ToString(j.state), j.attempts,
                              j.failures, j.lease_expiries, j.error);
  if (j.not_before) s += fmt::format(" not_before={}", ToUnixMillis(*j.not_before));
  if (j.lease) {
    s += fmt::format(" lease=({},{},{},{})", j.lease->job.value(), j.lease->attempt.value(),
                     j.lease->node.value(), ToUnixMillis(j.lease->expires_at));
  }
  if (j.progress) {
    s += fmt::format(" progress=({},{})", ToString(j.progress->stage), j.progress->fraction);
  }
  return s;
}

}  // namespace podfleet
