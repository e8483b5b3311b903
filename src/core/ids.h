// Strong integer ids: a JobId cannot be passed where a NodeId is expected.
// Ids are positive once assigned by the store; a default-constructed id is invalid (0).
#pragma once

#include <compare>
#include <cstdint>
#include <functional>

namespace podfleet {

template <class Tag>
class Id {
 public:
  constexpr Id() = default;
  constexpr explicit Id(int64_t value) : value_(value) {}

  constexpr int64_t value() const { return value_; }
  constexpr bool valid() const { return value_ > 0; }
  constexpr auto operator<=>(const Id&) const = default;

 private:
  int64_t value_ = 0;
};

using FeedId = Id<struct FeedTag>;
using EpisodeId = Id<struct EpisodeTag>;
using JobId = Id<struct JobTag>;
using NodeId = Id<struct NodeTag>;
// The number of an attempt at a job: 1 for the first lease, 2 for the next, ... It fences
// results: only the attempt that holds the lease may complete, fail, renew or release it.
using AttemptId = Id<struct AttemptTag>;

}  // namespace podfleet

template <class Tag>
struct std::hash<podfleet::Id<Tag>> {
  size_t operator()(podfleet::Id<Tag> id) const noexcept {
    return std::hash<int64_t>()(id.value());
  }
};
