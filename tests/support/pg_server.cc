#include "support/pg_server.h"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>

#include "core/thread_annotations.h"
#include "store/store_pg.h"

namespace podfleet {
namespace {

// Runs `command` and returns its standard output (trailing newline removed); throws when it fails.
std::string Output(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run " + command);
  std::string out;
  char buf[256];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  const int status = pclose(pipe);
  if (status != 0) throw std::runtime_error(fmt::format("{} failed (status {})", command, status));
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

class Server {
 public:
  Server() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = fmt::format("{}/podfleet-pg-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(pattern.data()))
      throw std::runtime_error("cannot make a directory for PostgreSQL");
    dir_ = pattern;
    port_ = Output(fmt::format("{} start {} {}", Script(), dir_, getpid()));
    Result<PgConn> admin = PgConn::Connect(Url("postgres"));
    if (!admin) throw std::runtime_error(admin.error().ToString());
    // Each test's database is a copy of one already migrated: the schema's DDL runs once.
    if (Result<void> r = admin->Exec("CREATE DATABASE podfleet_template"); !r)
      throw std::runtime_error(r.error().ToString());
    {
      Result<PgConn> schema = PgConn::Connect(Url("podfleet_template"));
      if (!schema) throw std::runtime_error(schema.error().ToString());
      if (Result<int> v = MigratePg(*schema); !v) throw std::runtime_error(v.error().ToString());
    }
    MutexLock lock(mu_);
    admin_.emplace(std::move(*admin));
  }
  ~Server() {
    {
      MutexLock lock(mu_);
      admin_.reset();
    }
    if (std::system(fmt::format("{} stop {}", Script(), dir_).c_str()) != 0)
      fmt::print(stderr, "pg-server: could not stop the server in {}\n", dir_);
  }

  void Restart() {
    MutexLock lock(mu_);
    admin_.reset();
    if (std::system(fmt::format("{} restart {}", Script(), dir_).c_str()) != 0)
      throw std::runtime_error("the PostgreSQL test server did not restart");
    Result<PgConn> admin = PgConn::Connect(Url("postgres"));
    if (!admin) throw std::runtime_error(admin.error().ToString());
    admin_.emplace(std::move(*admin));
  }

  std::string NewDatabase() {
    static std::atomic<int> next{0};
    const std::string name = fmt::format("test_{}", next++);
    MutexLock lock(mu_);
    if (Result<void> r = admin_->Exec(
            fmt::format("CREATE DATABASE {} TEMPLATE podfleet_template STRATEGY FILE_COPY", name));
        !r)
      throw std::runtime_error(r.error().ToString());
    return Url(name);
  }

 private:
  static std::string Script() {
    return std::string(PODFLEET_SOURCE_DIR) + "/tests/support/pg-server";
  }
  std::string Url(const std::string& db) const {
    return fmt::format("postgresql://postgres@127.0.0.1:{}/{}", port_, db);
  }

  std::string dir_;
  std::string port_;
  Mutex mu_;
  std::optional<PgConn> admin_ GUARDED_BY(mu_);
};

Server& Shared() {
  static Server server;  // started on first use, stopped at exit
  return server;
}

}  // namespace

std::string NewPgDatabase() { return Shared().NewDatabase(); }

void RestartPgServer() { Shared().Restart(); }

}  // namespace podfleet
