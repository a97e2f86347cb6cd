// pgstack's side of the benchmark: pgbench's select-only statement, run by `clients`
// threads through one Pool, either one lookup per round trip or `batch` lookups per
// pipeline sync. Each thread opens its connection and prepares before the clock starts,
// as pgbench leaves connection set-up out of its tps.
//
//   pg::Pool pool({.primary = dsn, .max_size = 2});
//   double per_second = run_lookups_one_at_a_time(pool, {.clients = 2, .seconds = 5, .accounts = 1000000});
#pragma once

#include "pgstack/pg/pool.h"

namespace pgstack::bench {

// pgbench's select-only script, word for word, with a parameter for :aid.
inline constexpr const char* kLookupSql = "SELECT abalance FROM pgbench_accounts WHERE aid = $1";

struct LookupLoad {
  int clients = 2;           // threads, each with a connection of its own from the pool
  int seconds = 5;
  long long accounts = 0;    // aids are drawn uniformly from 1..accounts, as pgbench does
  int batch = 100;           // pipelined only: lookups per sync
};

// Each lookup acquires from the pool, runs, decodes abalance and gives the connection
// back: the path an application's `pool.query(...)` takes. Returns lookups per second.
double run_lookups_one_at_a_time(pg::Pool& pool, const LookupLoad& load);

// Each batch acquires from the pool and sends `batch` lookups in one pipeline (one
// sync, one round trip), then decodes every reply. Returns lookups per second.
double run_lookups_pipelined(pg::Pool& pool, const LookupLoad& load);

}  // namespace pgstack::bench
