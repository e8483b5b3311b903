// The test binary's own PostgreSQL server (tests/support/pg-server): started on first use, one per
// process, in a temporary directory; stopped when the process exits (and by a watchdog if it
// crashes). Each test gets a database of its own on it.
//
// Never a silent skip: when PostgreSQL is not installed or the server cannot start, NewPgDatabase
// throws, which fails the calling test with the reason (scripts/setup --dev installs it).
#pragma once

#include <string>

namespace podfleet {

// A new database on the shared server, holding the latest schema and no rows (a copy of a
// template migrated once per server, so each test skips the schema's DDL): its postgres:// URL.
std::string NewPgDatabase();

// Restarts the shared server (fast shutdown): every open connection to it breaks. Throws when it
// does not come back.
void RestartPgServer();

}  // namespace podfleet
