#include "support/feed_origin.h"

#include <fmt/format.h>

#include <stdexcept>
#include <thread>

#include "net/http_server.h"  // also names it here: the worker-only build leaves out its users

namespace podfleet {

FeedOrigin::FeedOrigin() {
  HttpServerOptions o;
  o.port = 0;
  o.threads = 8;
  auto s =
      HttpServer::Start(o, [this](HttpRequest r, HttpResponder respond) { respond(Answer(r)); });
  if (!s) throw std::runtime_error(s.error().ToString());
  server_ = std::move(*s);
}

std::string FeedOrigin::Url(std::string_view path, std::string_view host) const {
  return fmt::format("http://{}:{}{}", host, server_->port(), path);
}

void FeedOrigin::Set(const std::string& path, Page page) {
  MutexLock lock(mu_);
  pages_[path] = std::move(page);
}

std::vector<Seen> FeedOrigin::seen() {
  MutexLock lock(mu_);
  return seen_;
}

int FeedOrigin::max_in_flight(const std::string& host) {
  MutexLock lock(mu_);
  return max_in_flight_[host];
}

HttpResponse FeedOrigin::Answer(const HttpRequest& r) {
  Page page;
  std::string host(r.Header("host"));
  host = host.substr(0, host.find(':'));
  {
    MutexLock lock(mu_);
    seen_.push_back({r.path, host, std::string(r.Header("if-none-match")),
                     std::string(r.Header("accept-encoding"))});
    max_in_flight_[host] = std::max(max_in_flight_[host], ++in_flight_[host]);
    auto it = pages_.find(r.path);
    page = it == pages_.end() ? Page{.status = 404, .body = "no such page"} : it->second;
  }
  std::this_thread::sleep_for(page.delay);
  {
    MutexLock lock(mu_);
    --in_flight_[host];
  }
  HttpResponse response{page.status, page.content_type, page.body, page.headers};
  if (!page.etag.empty()) {
    response.headers.emplace_back("ETag", page.etag);
    if (r.Header("if-none-match") == page.etag) return HttpResponse{304, "", "", {}};
  }
  return response;
}

}  // namespace podfleet
