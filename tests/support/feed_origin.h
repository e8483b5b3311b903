// A feed origin for tests: a real HTTP server on loopback whose pages a test sets, recording
// every request (path, Host, If-None-Match, Accept-Encoding) and the most requests it had in
// flight at once per Host.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/thread_annotations.h"
#include "core/units.h"
#include "net/http_server.h"

namespace podfleet {

// What the origin answers for one path.
struct Page {
  int status = 200;
  std::string body;
  std::string content_type = "application/rss+xml";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string etag;  // answered 304 when the request's If-None-Match equals it
  Millis delay{0};   // the handler holds its thread this long (concurrency checks)
};

// One request as the origin saw it.
struct Seen {
  std::string path;
  std::string host;
  std::string if_none_match;
  std::string accept_encoding;
};

class FeedOrigin {
 public:
  // Starts serving on a free port; throws std::runtime_error if it cannot.
  FeedOrigin();

  // http://HOST:PORT/PATH; unknown paths answer 404.
  std::string Url(std::string_view path, std::string_view host = "127.0.0.1") const;
  uint16_t port() const { return server_->port(); }
  void Set(const std::string& path, Page page);
  std::vector<Seen> seen();
  int max_in_flight(const std::string& host);

 private:
  HttpResponse Answer(const HttpRequest& r);

  Mutex mu_;
  std::map<std::string, Page> pages_ GUARDED_BY(mu_);
  std::vector<Seen> seen_ GUARDED_BY(mu_);
  std::map<std::string, int> in_flight_ GUARDED_BY(mu_);
  std::map<std::string, int> max_in_flight_ GUARDED_BY(mu_);
  std::unique_ptr<HttpServer> server_;
};

}  // namespace podfleet
