#include "pgstack/cli/cli_context.h"

#include <cstdlib>
#include <iostream>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "pgstack/cluster/layout.h"

namespace pgstack::cli {
namespace {
std::string& command_name() {
  static std::string name = "pgstack";
  return name;
}
}  // namespace

void set_command(std::string name) { command_name() = std::move(name); }
const std::string& current_command() { return command_name(); }

std::string resolve_dsn(const std::optional<std::string>& flag) {
  if (flag && !flag->empty()) return *flag;
  if (const char* env = std::getenv("DATABASE_URL"); env && *env) return env;
  if (auto layout = cluster::ClusterLayout::load(cluster::kDefaultDir)) return layout->dsn();
  throw BadUsage(
      "no database given; pass --db postgresql://user@host:port/db, set DATABASE_URL, "
      "or run `pgstack up` to start the local stack");
}

pg::Connection connect(const std::string& dsn) {
  try {
    pg::validate_dsn(dsn);
  } catch (const pgstack::Error& e) {
    // The driver's message already quotes libpq's reason and the accepted forms.
    throw pgstack::Error(fmt::format("malformed database URL: {}", e.what()));
  }
  try {
    return pg::Connection(pg::ConnectOptions{.dsn = dsn, .connect_timeout = std::chrono::seconds(10)});
  } catch (const pg::ConnectionError& e) {
    std::string why = e.what();
    if (why.find("cannot connect") == std::string::npos) why = "cannot connect to " + pg::redact_dsn(dsn) + ": " + why;
    throw pgstack::Error(why + "\ncheck that the server is running and that the URL is right");
  }
}

void print_json(const nlohmann::json& doc) { std::cout << doc.dump(2) << std::endl; }

std::string utc_text(const std::optional<pg::Timestamp>& t) {
  return t ? fmt::format("{:%Y-%m-%d %H:%M:%S}Z", std::chrono::floor<std::chrono::seconds>(*t)) : std::string();
}

}  // namespace pgstack::cli
