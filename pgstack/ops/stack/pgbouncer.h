// PgBouncer in front of the stack's servers, in transaction mode: clients connect to
// database `app` (the primary) or `app_ro` (the standby) over TLS with the stack's
// SCRAM passwords; PgBouncer keeps 20–50 server connections per database. It runs as
// the server user, daemonised, with its files in <dir>/pgbouncer and its pid in
// <dir>/run/pgbouncer.pid. The admin console (SHOW POOLS) is on the stack's socket for
// the superuser only.
//
//   for (auto& line : pgstack::stack::ensure_pgbouncer(layout)) std::cout << line << "\n";
//   pgstack::pg::Connection app({.dsn = layout.pooled_dsn("app"), .statement_cache = false});
//   for (const auto& pool : pgstack::stack::pgbouncer_pools(layout)) ...
//   pgstack::stack::stop_pgbouncer(layout);
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "pgstack/ops/stack/layout.h"

namespace pgstack::stack {

struct PgBouncerState {
  bool running = false;
  pid_t pid = 0;
  bool stale_pid = false;  // pgbouncer.pid names a dead process: it was killed
};

PgBouncerState pgbouncer_state(const ClusterLayout& layout);

// Writes pgbouncer.ini, its hba and auth files (users and passwords from the stack's
// credentials file), then starts PgBouncer, or reloads it when a file changed while it
// ran. The servers must be running and the roles made. Returns what changed (empty:
// nothing). Throws pgstack::Error saying what failed and what to do.
std::vector<std::string> ensure_pgbouncer(const ClusterLayout& layout);

// Stops PgBouncer: a safe shutdown (running transactions finish), then SIGTERM after
// a few seconds. Returns false when it was not running.
bool stop_pgbouncer(const ClusterLayout& layout);

// One row of SHOW POOLS: a (database, user) pair's clients and server connections.
struct PoolStatus {
  std::string database;
  std::string user;
  int clients_active = 0;
  int clients_waiting = 0;  // clients waiting for a server connection
  int servers_active = 0;
  int servers_idle = 0;
  int servers_used = 0;
  long max_wait_seconds = 0;  // how long the oldest waiting client has waited
  std::string pool_mode;
};

// The pools of a running PgBouncer, read from its admin console. Throws pgstack::Error
// when it cannot be reached.
std::vector<PoolStatus> pgbouncer_pools(const ClusterLayout& layout);

// One row of SHOW STATS: a database's totals since PgBouncer started.
struct PoolerStats {
  std::string database;
  std::int64_t transactions = 0;
  std::int64_t queries = 0;
  std::int64_t bytes_received = 0;
  std::int64_t bytes_sent = 0;
  std::int64_t transaction_microseconds = 0;
  std::int64_t query_microseconds = 0;
  std::int64_t wait_microseconds = 0;  // clients' time waiting for a server connection
};

std::vector<PoolerStats> pgbouncer_stats(const ClusterLayout& layout);

}  // namespace pgstack::stack
