#include "cli/client_args.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "api/client.h"

namespace podfleet {

std::vector<Flag> ClientFlags(ClientArgs& a) {
  return {StringFlag("server", &a.server, "coordinator URL", "URL"),
          BoolFlag("json", &a.json, "print the API's JSON instead of a table"),
          StringFlag("ca-file", &a.ca_file,
                     "PEM certificate of a private CA to trust for an https coordinator, besides "
                     "the system's CAs",
                     "FILE")};
}

std::unique_ptr<HttpClient> CoordinatorHttp(const ClientArgs& c) {
  return MakeCurlClient(HttpClientOptions{.ca_file = c.ca_file});
}

Listing GetListing(const ClientArgs& c, const std::string& path) {
  auto http = CoordinatorHttp(c);
  CoordinatorClient client(c.server, *http);
  auto reply = client.GetJson(path);
  if (!reply) return {nullptr, Fail(reply.error().message)};
  if (c.json) {
    fmt::print("{}\n", reply->dump(2));
    return {nullptr, 0};
  }
  return {std::make_shared<const nlohmann::json>(std::move(*reply)), -1};
}

Parsed Parse(std::vector<Flag> flags, std::string_view command, std::string_view usage,
             std::string_view summary, const Args& args) {
  auto parsed = ParseFlags(flags, command, args);
  if (!parsed) return {{}, Fail(parsed.error().message)};
  if (parsed->help) {
    fmt::print("{}", FlagHelp(flags, usage, summary));
    return {*parsed, 0};
  }
  return {*parsed, -1};
}

}  // namespace podfleet
