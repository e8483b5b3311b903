// What the CLI's client commands (feed, episodes, status, gpus, plan, doctor, ...) share: where
// the coordinator is, how to trust it, and how their flags are parsed.
#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"
#include "cli/flags.h"
#include "net/http_client.h"

namespace podfleet {

struct ClientArgs {
  std::string server = "http://127.0.0.1:8750";
  bool json = false;
  // For the commands that change something: the admin token, or the data directory whose
  // admin.token holds it (when the CLI runs on the coordinator's machine).
  std::string admin_token;
  std::filesystem::path data = "podfleet-data";
  // PEM file of the CA that signed the coordinator's certificate (a private CA); empty: the
  // system's CAs. Certificates are always verified.
  std::string ca_file;
};

// --server, --json and --ca-file.
std::vector<Flag> ClientFlags(ClientArgs& a);

// The HTTP client for talking to the coordinator, verifying its certificate against --ca-file.
std::unique_ptr<HttpClient> CoordinatorHttp(const ClientArgs& c);

struct Parsed {
  ParsedArgs args;
  int exit = -1;  // >= 0: stop with this status (help printed, or a bad flag reported)
};

// A GET for a listing command: `exit` >= 0 when there is nothing left to print (1: the error was
// printed; 0: --json printed the reply), else `body` is the reply to show as a table.
struct Listing {
  std::shared_ptr<const nlohmann::json> body;
  int exit = -1;
};
Listing GetListing(const ClientArgs& c, const std::string& path);

// Parses `flags`; prints the help when asked for it.
Parsed Parse(std::vector<Flag> flags, std::string_view command, std::string_view usage,
             std::string_view summary, const Args& args);

}  // namespace podfleet
