// What a scrape reads from one PostgreSQL server into an Exposition: the server (up,
// connections by state, settings), every database's counters, checkpoints and WAL,
// replication as the primary or the standby sees it, archiving, the connected
// database's tables, indexes and sequences, the top statements of pg_stat_statements
// (read, never reset), and on the primary each installed capability's own figures
// (pgstack.<name>_metrics(), capability.h). Every sample carries a `server` label
// ("primary", "standby"). PgBouncer and the backups are read by scraper.h.
//
//   Exposition out;
//   pgstack::metrics::collect_server(conn, "primary", {}, out);
#pragma once

#include <string>

#include "pgstack/base/exposition.h"
#include "pgstack/pg/connection.h"

namespace pgstack::metrics {

struct CollectOptions {
  int top_statements = 50;  // statements of pg_stat_statements exported, by total time
  // The idle-in-transaction age the alert counts from (doctor's threshold); exported
  // beside 0, 10, 30, 60 and 300 s.
  double idle_in_transaction_seconds = 30;
};

// Declares every family collect_server may emit, so the text's families keep one order.
void declare_server_families(Exposition& out);

// Reads one server. A group of figures whose query fails is left out and reported as
// pgstack_collector_success{collector=...} 0; the rest is read. Throws
// pg::ConnectionError when the connection fails mid-way: the caller then reports
// pgstack_up 0 instead of a partial scrape.
void collect_server(pg::Connection& conn, const std::string& server, const CollectOptions& options, Exposition& out);

}  // namespace pgstack::metrics
