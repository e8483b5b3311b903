#include "core/error.h"

#include <gtest/gtest.h>

namespace podfleet {
namespace {

TEST(Error, WithContextPrefixesMessage) {
  Result<int> r = NotFound("no such episode");
  r = WithContext(r, "episode 7");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kNotFound);
  EXPECT_EQ(r.error().ToString(), "not_found: episode 7: no such episode");
}

}  // namespace
}  // namespace podfleet
