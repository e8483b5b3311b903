// Routes requests by method and path pattern to handlers: the HTTP API declared as a table.
//
// Patterns are literal segments and `{name}` parameters: "/api/episodes/{id}/transcript".
// A matched request gets its parameters in HttpRequest::params. No route: 404 JSON; a path that
// matches with another method: 405 JSON with an Allow header. Routes are tried in table order and
// the first match wins. A `{name}` matches one non-empty path segment, percent-decoded after the
// path is split, so "/api/feeds/a%2Fb" gives {id} = "a/b".
//
// A route with a guard runs it first: an error answers the request in the handler's place (a JSON
// error, 403 for kPermissionDenied) and the handler never runs.
//
// An exception escaping a sync handler becomes a 500 JSON error carrying its message; one escaping
// an async handler drops its responder, which also answers 500.
//
// Where handlers run: with an executor, every route but those marked `on_io_thread` is matched on
// the calling (I/O) thread and then run by the executor, so a handler that blocks (on the store,
// say) never holds an I/O thread. Routes marked `on_io_thread` must not block: they run at once.
// Without an executor everything runs on the calling thread.
//
// Thread safety: a Router is immutable after construction; Handle may run concurrently.
#pragma once

#include <string>
#include <vector>

#include "net/http.h"
#include "net/http_server.h"

namespace podfleet {

// A handler that answers at once.
using SyncHandler = std::function<HttpResponse(const HttpRequest&)>;
// Who may call a route: an error refuses the request before its handler sees it.
using Guard = std::function<Result<void>(const HttpRequest&)>;

struct Route {
  std::string method;
  std::string pattern;
  std::string help;  // one line, listed by GET /api
  SyncHandler sync;  // exactly one of sync and async is set
  HttpHandler async;
  Guard guard;  // empty: anyone may call the route
  // Never blocks (no store, no disk beyond memory): runs on the I/O thread, so it answers even
  // while every handler thread waits (health, static files).
  bool on_io_thread = false;
};

// Runs a task later on some other thread.
using Executor = std::function<void(std::function<void()>)>;

class Router {
 public:
  explicit Router(std::vector<Route> routes, Executor executor = {});
  void Handle(HttpRequest request, HttpResponder respond) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  void Run(const Route& route, HttpRequest request, HttpResponder respond) const;

  std::vector<Route> routes_;
  Executor executor_;
  std::vector<std::vector<std::string>> patterns_;  // routes_[i].pattern split at '/'
};

}  // namespace podfleet
