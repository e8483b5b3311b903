// Worker bundles and the join line (bundles.h, join_token.h): a bundle downloads with a live
// enrollment token (the one in the join line, or any other) or the admin token; the join line
// itself is the admin's.
#include <nlohmann/json.hpp>

#include "coordinator/coordinator_context.h"
#include "net/token.h"

namespace podfleet {
namespace {

using nlohmann::json;

Result<void> RequireEnrollmentOrAdmin(Coordinator::Context& c, const HttpRequest& request) {
  std::string_view token = request.BearerToken();
  if (token.empty())
    return PermissionDenied("missing enrollment token (Authorization: Bearer ...)");
  if (ConstantTimeEquals(HashToken(token), c.admin_token_hash)) return {};
  auto live = c.store.CheckEnrollmentToken(HashToken(token));
  if (!live) return std::unexpected(live.error());
  if (!*live) return PermissionDenied("unknown or revoked enrollment token");
  return {};
}

HttpResponse Download(Coordinator::Context& c, const HttpRequest& request) {
  const Bundle* bundle = c.bundles->Find(request.params.at("variant"));
  if (!bundle) {
    std::string known;
    for (const Bundle& b : c.bundles->bundles()) known += (known.empty() ? "" : ", ") + b.variant;
    return HttpResponse::ErrorJson(404, Code::kNotFound,
                                   "no such bundle; this coordinator has " + known);
  }
  return ServeBundle(*bundle, request);
}

// {"server": URL, "token_id": ID, "bundles": [{"variant", "size", "sha256", "command"}]}
Result<json> JoinJson(Coordinator::Context& c) {
  auto token = c.join->Current();
  if (!token) return std::unexpected(token.error());
  const std::string base = c.join->base_url();
  json bundles = json::array();
  for (const Bundle& b : c.bundles->bundles())
    bundles.push_back({{"variant", b.variant},
                       {"size", b.size},
                       {"sha256", b.sha256},
                       {"command", JoinCommand(base, b, *token)}});
  return json{{"server", base},
              {"token_id", HashToken(*token).substr(0, 12)},
              {"bundles", std::move(bundles)}};
}

}  // namespace

std::vector<Route> BundleRoutes(Coordinator::Context& c) {
  if (!c.bundles) return {};
  const Guard enrolled = [&c](const HttpRequest& r) { return RequireEnrollmentOrAdmin(c, r); };
  const Guard admin = [&c](const HttpRequest& r) { return RequireAdmin(c, r); };
  return {
      {"GET",
       "/api/worker/bundle/{variant}",
       "a worker bundle (tar.gz; ETag and X-Checksum-Sha256: its sha256; Range, If-None-Match)",
       [&c](const HttpRequest& r) { return Download(c, r); },
       {},
       enrolled},
      {"GET",
       "/api/worker/join",
       "the one-line join command per bundle, with its enrollment token (admin)",
       [&c](const HttpRequest&) { return Reply(JoinJson(c)); },
       {},
       admin},
  };
}

}  // namespace podfleet
