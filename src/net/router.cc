#include "net/router.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <exception>
#include <memory>
#include <utility>

namespace podfleet {
namespace {

// "/a/b/c" -> {"a", "b", "c"}; "/" -> {""}; "/a/" -> {"a", ""}.
std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  for (;;) {
    size_t slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

bool IsParam(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

// The undecoded path of the request, so that an encoded '/' stays inside its segment.
std::string_view RawPath(const HttpRequest& request) {
  std::string_view target = request.target;
  if (target.empty() || target.front() != '/') return request.path;
  return target.substr(0, target.find('?'));
}

// Fills `params` and returns true when `segments` fit `pattern`.
bool Match(const std::vector<std::string>& pattern, const std::vector<std::string_view>& segments,
           std::map<std::string, std::string>* params) {
  if (pattern.size() != segments.size()) return false;
  std::map<std::string, std::string> found;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const std::string& want = pattern[i];
    if (!IsParam(want)) {
      // Most segments hold no escape: compared as they are, without decoding a copy per route.
      if (segments[i].find('%') == std::string_view::npos) {
        if (segments[i] != want) return false;
      } else if (PercentDecode(segments[i], false) != want) {
        return false;
      }
      continue;
    }
    std::optional<std::string> value = PercentDecode(segments[i], false);
    if (!value || value->empty()) return false;
    found[want.substr(1, want.size() - 2)] = std::move(*value);
  }
  *params = std::move(found);
  return true;
}

HttpResponse InternalError(std::string_view what) {
  return HttpResponse::ErrorJson(500, Code::kInternal, std::string("internal error: ") += what);
}

void RunSync(const Route& route, const HttpRequest& request, HttpResponder& respond) {
  HttpResponse response;
  try {
    response = route.sync(request);
  } catch (const std::exception& e) {
    response = InternalError(e.what());
  } catch (...) {
    response = InternalError("unknown exception");
  }
  respond(std::move(response));
}

// Runs the route's guard; on refusal (or an exception) answers the request and returns false.
bool Admit(const Route& route, const HttpRequest& request, HttpResponder& respond) {
  Result<void> allowed;
  try {
    allowed = route.guard(request);
  } catch (const std::exception& e) {
    allowed = Internal(e.what());
  } catch (...) {
    allowed = Internal("unknown exception");
  }
  if (!allowed) respond(HttpResponse::FromError(allowed.error()));
  return allowed.has_value();
}

// The responder has moved into the handler, so an exception has already dropped it (-> 500).
void RunAsync(const Route& route, HttpRequest request, HttpResponder respond) {
  try {
    route.async(std::move(request), std::move(respond));
  } catch (...) {
  }
}

}  // namespace

Router::Router(std::vector<Route> routes, Executor executor)
    : routes_(std::move(routes)), executor_(std::move(executor)) {
  patterns_.reserve(routes_.size());
  for (const Route& route : routes_) {
    std::vector<std::string> segments;
    for (std::string_view s : SplitPath(route.pattern)) segments.emplace_back(s);
    patterns_.push_back(std::move(segments));
  }
}

void Router::Run(const Route& route, HttpRequest request, HttpResponder respond) const {
  if (route.guard && !Admit(route, request, respond)) return;
  if (route.sync) return RunSync(route, request, respond);
  RunAsync(route, std::move(request), std::move(respond));
}

void Router::Handle(HttpRequest request, HttpResponder respond) const {
  const std::vector<std::string_view> segments = SplitPath(RawPath(request));
  std::vector<std::string> allowed;
  for (size_t i = 0; i < routes_.size(); ++i) {
    std::map<std::string, std::string> params;
    if (!Match(patterns_[i], segments, &params)) continue;
    const Route& route = routes_[i];
    if (route.method != request.method) {
      if (std::find(allowed.begin(), allowed.end(), route.method) == allowed.end()) {
        allowed.push_back(route.method);
      }
      continue;
    }
    request.params = std::move(params);
    if (!executor_ || route.on_io_thread) return Run(route, std::move(request), std::move(respond));
    auto task = std::make_shared<std::pair<HttpRequest, HttpResponder>>(std::move(request),
                                                                        std::move(respond));
    return executor_(
        [this, &route, task] { Run(route, std::move(task->first), std::move(task->second)); });
  }
  if (allowed.empty()) {
    return respond(HttpResponse::ErrorJson(404, Code::kNotFound, "no route for " + request.path));
  }
  HttpResponse response = HttpResponse::ErrorJson(
      405, Code::kInvalidArgument, "method " + request.method + " not allowed for " + request.path);
  response.headers.emplace_back("Allow", fmt::format("{}", fmt::join(allowed, ", ")));
  respond(std::move(response));
}

}  // namespace podfleet
