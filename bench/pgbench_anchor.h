// The anchor: PostgreSQL's own pgbench. It creates the tables every mode reads and its
// select-only run (`pgbench -S -M prepared`) is the figure pgstack's lookups are held to.
//
//   PgbenchTables tables = prepare_pgbench_tables(dsn, /*scale=*/10);
//   double tps = run_pgbench_select_only(dsn, /*clients=*/2, /*seconds=*/5);
#pragma once

#include <string>

namespace pgstack::bench {

struct PgbenchTables {
  int scale = 0;          // as pgbench sees it: rows in pgbench_branches
  long long accounts = 0; // aids run 1..accounts, as in pgbench's select-only script
  bool created = false;   // false: they were there already and were left as they are
};

// Creates the pgbench tables with `pgbench -i -s scale` unless pgbench_accounts exists
// (then they are used as they are: re-initialising would drop them), and reads them
// into shared buffers when pg_prewarm is installed, so run 1 is not the cold one.
PgbenchTables prepare_pgbench_tables(const std::string& dsn, int scale);

// Runs `pgbench -S -M prepared -n -c clients -j clients -T seconds` and returns its tps
// (pgbench's own figure, which leaves out connection set-up). Throws pgstack::Error with
// pgbench's output when it fails or prints no tps.
double run_pgbench_select_only(const std::string& dsn, int clients, int seconds);

}  // namespace pgstack::bench
