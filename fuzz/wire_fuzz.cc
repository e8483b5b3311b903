// libFuzzer target for the HTTP API's wire format (api/wire.h): every JSON reader the coordinator
// and the worker apply to bodies that came over the network, and ErrorFromBody, which the client
// applies to any error response.
// Built and run by scripts/fuzz (clang, -DPODFLEET_FUZZ=ON).
// Besides not crashing (no exception may escape a reader), it checks that whatever a reader
// accepts it writes back as JSON that the same reader accepts and writes identically.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "api/wire.h"

namespace {

using nlohmann::json;

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

template <class T>
void RoundTrip(const json& j, podfleet::Result<T> (*read)(const json&)) {
  const podfleet::Result<T> value = read(j);
  if (!value) {
    Check(value.error().code == podfleet::Code::kInvalidArgument);
    return;
  }
  const json written = podfleet::ToJson(*value);
  const podfleet::Result<T> again = read(written);
  Check(again.has_value());
  Check(podfleet::ToJson(*again) == written);
  (void)written.dump();
}

void ReadAll(const json& j) {
  RoundTrip(j, podfleet::TranscriptFromJson);
  RoundTrip(j, podfleet::NodeInfoFromJson);
  RoundTrip(j, podfleet::EpisodeFromJson);
  RoundTrip(j, podfleet::LeaseFromJson);
  RoundTrip(j, podfleet::GrantFromJson);
  RoundTrip(j, podfleet::ProgressFromJson);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const int status = size > 0 ? 400 + data[0] % 200 : 500;
  (void)podfleet::ErrorFromBody(status, input);

  const podfleet::Result<json> parsed = podfleet::ParseJson(input);
  if (!parsed) {
    Check(parsed.error().code == podfleet::Code::kInvalidArgument);
    return 0;
  }
  ReadAll(*parsed);
  // Requests nest what they carry: {"node": {...}}, {"held": [...]}, {"transcript": {...}}.
  if (parsed->is_object() || parsed->is_array()) {
    for (const json& member : *parsed) ReadAll(member);
  }
  return 0;
}
