// driver_bench: point lookups through pgstack's Pool, one at a time and pipelined,
// side by side with `pgbench -S -M prepared` at the same client count against the same
// server, alternating run by run; prints medians, the ratios and the targets' PASS/MISS.
// Starts a private PostgreSQL 15 unless given --dsn. See docs/BENCHMARKS.md.
//
//   driver_bench                                  # defaults: --clients 2,8 --runs 5 --seconds 5
//   driver_bench --clients 2 --runs 1 --seconds 1 --scale 1     # smoke run, a few seconds
//   driver_bench --dsn "host=/var/run/postgresql dbname=bench"  # an existing server
#include <array>
#include <functional>
#include <iostream>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <fmt/ostream.h>

#include "bench/bench_options.h"
#include "bench/bench_report.h"
#include "bench/lookup_load.h"
#include "bench/pgbench_anchor.h"
#include "pgstack/pg/connection.h"
#include "pgstack/pg/errors.h"
#include "pgstack/pg/pool.h"
#include "pgstack/testing/test_cluster.h"

namespace pgstack::bench {

namespace {

// What the private server changes from TestCluster's defaults, and why.
const std::vector<std::string> kPrivateServerSettings = {
    // Scale 10 is about 150 MB of table and index: all of it fits, so every mode reads
    // from shared buffers and no run is slowed by the OS cache.
    "shared_buffers = 512MB",
    // TestCluster preloads pg_stat_statements for tests; its hooks cost both sides the
    // same, but they are not part of what is measured.
    "pg_stat_statements.track = none",
};

void describe_server(const std::string& dsn, const PgbenchTables& tables, const DriverBenchOptions& o) {
  pg::Connection conn(dsn);
  const bool unix_socket = !conn.query_value<std::optional<std::string>>("select inet_server_addr()::text");
  fmt::print("server: PostgreSQL {}, {}; pgbench and the pool both connect over {}\n",
             conn.query_value<std::string>("show server_version"),
             o.dsn.empty() ? "a private TestCluster started for this run" : "the server given by --dsn",
             unix_socket ? "its Unix socket" : "TCP");
  fmt::print("data: pgbench scale {} ({} accounts, {}), shared_buffers {}\n", tables.scale, tables.accounts,
             tables.created ? "created by pgbench -i for this run" : "existing tables, left as they were",
             conn.query_value<std::string>("show shared_buffers"));
  fmt::print("query: {}  (random aid in 1..{})\n", kLookupSql, tables.accounts);
  fmt::print("runs: {} x {} s per mode and client count, modes alternating; pipeline batch {}\n", o.runs, o.seconds,
             o.batch);
}

ClientCountResults measure_client_count(const std::string& dsn, const PgbenchTables& tables,
                                        const DriverBenchOptions& o, int clients) {
  ClientCountResults results{.clients = clients};
  pg::Pool pool({.primary = dsn, .max_size = static_cast<std::size_t>(clients), .application_name = "driver_bench"});
  const LookupLoad load{.clients = clients, .seconds = o.seconds, .accounts = tables.accounts, .batch = o.batch};
  struct Mode {
    std::string_view name;
    Samples* samples;
    std::function<double()> run;
  };
  const std::array<Mode, 3> modes = {{
      {"pgbench", &results.pgbench, [&] { return run_pgbench_select_only(dsn, clients, o.seconds); }},
      {"one-at-a-time", &results.one_at_a_time, [&] { return run_lookups_one_at_a_time(pool, load); }},
      {"pipelined", &results.pipelined, [&] { return run_lookups_pipelined(pool, load); }},
  }};
  for (int run = 0; run < o.runs; ++run) {
    fmt::print("clients {} run {}/{}:", clients, run + 1, o.runs);
    // Each run starts with the next mode, so none always runs first (or right after pgbench).
    for (std::size_t i = 0; i < modes.size(); ++i) {
      const Mode& mode = modes[(run + i) % modes.size()];
      const double per_second = mode.run();
      mode.samples->add(per_second);
      fmt::print("  {} {:.0f}/s", mode.name, per_second);
      std::cout.flush();
    }
    fmt::print("\n");
  }
  return results;
}

int run(const DriverBenchOptions& o) {
  // Declared in this order so the database is dropped before its cluster stops.
  std::optional<testing::TestCluster> cluster;
  std::optional<testing::TestDatabase> database;
  std::string dsn = o.dsn;
  if (dsn.empty()) {
    fmt::print("starting a private PostgreSQL 15 ...\n");
    cluster.emplace(testing::TestClusterOptions{.settings = kPrivateServerSettings});
    database.emplace(cluster->create_database());
    dsn = database->dsn();
    pg::Connection(dsn).execute_script("create extension pg_prewarm");
  }
  fmt::print("preparing pgbench tables ...\n");
  const PgbenchTables tables = prepare_pgbench_tables(dsn, o.scale);
  describe_server(dsn, tables, o);

  std::vector<ClientCountResults> results;
  for (int clients : o.clients) results.push_back(measure_client_count(dsn, tables, o, clients));
  const bool met = print_report(std::cout, results, o.batch);
  if (!met && o.require_targets) {
    std::cerr << "driver_bench: a target was missed (see MISS above)\n";
    return 1;
  }
  return 0;
}

}  // namespace

}  // namespace pgstack::bench

int main(int argc, char** argv) {
  const auto options = pgstack::bench::parse_driver_bench_options(argc, argv);
  try {
    return pgstack::bench::run(options);
  } catch (const std::exception& e) {
    std::cerr << "driver_bench: " << e.what() << "\n";
    return 1;
  }
}
