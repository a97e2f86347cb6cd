// What every pgstack command shares: how a failure maps to an exit code, where the
// database comes from (--db, $DATABASE_URL, the local stack) and how to connect with
// an error that says what to do.
//
//   auto dsn = pgstack::cli::resolve_dsn(db_flag);   // throws BadUsage when none is given
//   auto conn = pgstack::cli::connect(dsn);           // throws pgstack::Error with a hint
//   pgstack::cli::print_json({{"applied", 3}});
#pragma once

#include <chrono>
#include <optional>
#include <string_view>
#include <string>

#include <nlohmann/json.hpp>

#include "pgstack/capability/capability.h"
#include "pgstack/pg/connection.h"
#include "pgstack/pg/errors.h"
#include "pgstack/pg/types.h"

namespace pgstack::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// The command line was wrong (a missing --db, a folder that does not exist): exit 2.
class BadUsage : public pgstack::Error {
 public:
  using pgstack::Error::Error;
};

// Ends a command that has printed its result with an exit code of its own (doctor's 3
// for critical findings); run() returns code without printing anything more.
struct ExitWith {
  int code;
};

// The command now running ("pgstack migrate up"), to prefix error messages.
void set_command(std::string name);
const std::string& current_command();

// --db if given, else $DATABASE_URL, else the DSN in ./.pgstack/stack.json.
std::string resolve_dsn(const std::optional<std::string>& flag);

// Where an application's migrations run: --db, else $PGSTACK_MIGRATIONS_URL, else
// $DATABASE_URL, else the local stack's `migrations` role (TLS, SCRAM).
std::string resolve_migrations_dsn(const std::optional<std::string>& flag);

// Validates dsn and connects; failures name the server (password hidden) and what to do.
pg::Connection connect(const std::string& dsn);

// True when conn goes through a pooler (PgBouncer): the port it went to is not the
// server's. LISTEN and session state do not survive transaction pooling.
bool behind_pooler(pg::Connection& conn);

// Connects (as resolve_dsn and connect) and checks that a capability is installed
// (capability::installed), so a bare database gets a hint instead of "function
// pgstack.x() does not exist": connect_installed(db, pgstack::kv::capability()).
pg::Connection connect_installed(const std::optional<std::string>& db, const capability::Capability& capability);

// The longest duration a command takes: far beyond any TTL or timeout that makes sense,
// and well inside what a microsecond count (and PostgreSQL's interval) can hold.
inline constexpr int kLongestDurationDays = 36500;

// A duration as commands take it: "250ms", "30s", "5m", "2h", "7d", or plain seconds,
// from 1ms to kLongestDurationDays. Throws BadUsage naming the option and saying which
// of these it is not (a duration, longer than zero, short enough).
std::chrono::microseconds parse_duration(std::string_view text, std::string_view option);

void print_json(const nlohmann::json& doc);

// A time as the CLI prints it, in UTC to the second: "2026-11-30 21:28:39Z"; "" when absent.
std::string utc_text(const std::optional<pg::Timestamp>& t);

}  // namespace pgstack::cli
