#include "pgstack/cli/cli_context.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <iostream>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "pgstack/ops/stack/layout.h"

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
  if (auto layout = stack::ClusterLayout::load(stack::kDefaultDir)) return layout->dsn();
  throw BadUsage(
      "no database given; pass --db postgresql://user@host:port/db, set DATABASE_URL, "
      "or run `pgstack up` to start the local stack");
}

std::string resolve_migrations_dsn(const std::optional<std::string>& flag) {
  if (flag && !flag->empty()) return *flag;
  for (const char* name : {"PGSTACK_MIGRATIONS_URL", "DATABASE_URL"})
    if (const char* env = std::getenv(name); env && *env) return env;
  if (auto layout = stack::ClusterLayout::load(stack::kDefaultDir)) return layout->role_dsn("migrations");
  throw BadUsage(
      "no database given; pass --db postgresql://migrations@host:port/db, set PGSTACK_MIGRATIONS_URL or "
      "DATABASE_URL, or run `pgstack up` to start the local stack");
}

pg::Connection connect(const std::string& dsn) {
  try {
    pg::validate_dsn(dsn);
  } catch (const pgstack::Error& e) {
    // The driver's message already quotes libpq's reason and the accepted forms.
    throw pgstack::Error(fmt::format("malformed database URL: {}", e.what()));
  }
  try {
    // No prepared statements: every DSN the stack prints must work, PgBouncer's in
    // transaction mode too, where a statement prepared by one transaction's server
    // connection is gone (or already there) in the next's. A command runs a handful of
    // statements; caching plans would buy it nothing.
    return pg::Connection(
        pg::ConnectOptions{.dsn = dsn, .connect_timeout = std::chrono::seconds(10), .statement_cache = false});
  } catch (const pg::ConnectionError& e) {
    std::string why = e.what();
    if (why.find("cannot connect") == std::string::npos) why = "cannot connect to " + pg::redact_dsn(dsn) + ": " + why;
    throw pgstack::Error(why + "\ncheck that the server is running and that the URL is right");
  }
}

// Values that are not UTF-8 (a binary kv value) print with U+FFFD rather than failing.
void print_json(const nlohmann::json& doc) {
  std::cout << doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
}

std::string utc_text(const std::optional<pg::Timestamp>& t) {
  return t ? fmt::format("{:%Y-%m-%d %H:%M:%S}Z", std::chrono::floor<std::chrono::seconds>(*t)) : std::string();
}

bool behind_pooler(pg::Connection& conn) {
  return conn.query_value<std::string>("select current_setting('port')") != conn.port();
}

pg::Connection connect_installed(const std::optional<std::string>& db, const capability::Capability& capability) {
  auto conn = connect(resolve_dsn(db));
  if (!capability::installed(conn, capability))
    throw pgstack::Error(fmt::format(
        "{} is not installed in this database; run `pgstack install` (with the same --db) first", capability.title));
  return conn;
}

}  // namespace pgstack::cli
