// The observability benchmark (issue 6): a scrape of a database with 1,000 tables and
// 5,000 statements in pg_stat_statements (target < 500 ms) and `pgstack doctor` on it
// (target < 2 s), beside postgres_exporter (Debian's prometheus-postgres-exporter) on
// the same database in the same run, with the example queries.yaml Debian ships (tables
// and pg_stat_statements; renamed at run time to PostgreSQL 15's column names).
//
//   build/bench/observe_bench [--tables 1000] [--statements 5000] [--runs 7]
//   RESULT scrape_ms=41.2 doctor_ms=130.5 exporter_ms=812.0
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <httplib.h>

#include "bench/bench_report.h"
#include "pgstack/ops/doctor/doctor.h"
#include "pgstack/ops/metrics/scraper.h"
#include "pgstack/schema/migration_runner.h"
#include "pgstack/base/files.h"
#include "pgstack/sys/process.h"
#include "pgstack/testing/test_cluster.h"

namespace {

using namespace std::chrono_literals;
using pgstack::bench::Samples;
namespace fs = std::filesystem;

struct Options {
  int tables = 1000;
  int statements = 5000;
  int runs = 7;
  std::string exporter = "prometheus-postgres-exporter";  // empty (--no-exporter): no anchor
  std::string exporter_queries = "/usr/share/doc/prometheus-postgres-exporter/examples/queries.yaml";
};

template <class F>
double millis(F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

std::size_t sample_lines(const std::string& text) {
  std::size_t n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) n += !line.empty() && line[0] != '#';
  return n;
}

// Tables with a primary key each, pgstack's schemas, and as many distinct statements:
// five shapes per table, run once each (inside DO, which pg_stat_statements.track = all
// counts). The counts are integers from our own options, formatted into the DO block.
void fill(pgstack::pg::Connection& conn, const Options& o) {
  pgstack::schema::MigrationRunner(conn).apply(pgstack::schema::builtin_module_list());
  conn.execute_script("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  conn.execute_script(fmt::format(
      "DO $$ BEGIN FOR i IN 1..{} LOOP "
      "  EXECUTE format('CREATE TABLE bench_t%s (id bigint PRIMARY KEY, v int, note text)', i); "
      "  EXECUTE format('INSERT INTO bench_t%s SELECT g, g, ''n'' FROM generate_series(1, 10) g', i); "
      "END LOOP; END $$",
      o.tables));
  const char* shapes[] = {"SELECT v FROM bench_t%s WHERE id = 1", "SELECT note FROM bench_t%s WHERE id = 1",
                          "SELECT id FROM bench_t%s WHERE v = 1", "SELECT count(*) FROM bench_t%s",
                          "UPDATE bench_t%s SET v = v + 1 WHERE id = 1", "SELECT max(v) FROM bench_t%s",
                          "DELETE FROM bench_t%s WHERE id = -1", "SELECT id, v FROM bench_t%s ORDER BY v LIMIT 1"};
  conn.query("SELECT pg_stat_statements_reset()");
  for (int made = 0, shape = 0; made < o.statements && shape < 8; ++shape) {
    const int n = std::min(o.tables, o.statements - made);
    conn.execute_script(fmt::format("DO $$ BEGIN FOR i IN 1..{} LOOP EXECUTE format('{}', i); END LOOP; END $$", n,
                                    shapes[shape]));
    made += n;
  }
}

// postgres_exporter on its own port, with Debian's example queries made PostgreSQL 15's.
struct Exporter {
  pid_t pid = 0;
  int port = 0;
  Exporter() = default;
  Exporter(const Exporter&) = delete;
  ~Exporter() {
    if (pid > 0) ::kill(pid, SIGTERM);
  }
};

std::unique_ptr<Exporter> start_exporter(const Options& o, const std::string& dsn, const fs::path& dir) {
  auto program = pgstack::sys::find_program(o.exporter);
  if (o.exporter.empty() || !program || !fs::exists(o.exporter_queries)) return nullptr;
  std::string queries = pgstack::read_text_file(o.exporter_queries);
  for (const char* column : {"total_time", "min_time", "max_time", "mean_time", "stddev_time"}) {
    std::string from = std::string(column) + " /", to = std::string(column).insert(std::string(column).size() - 5, "_exec") + " /";
    for (std::size_t pos = 0; (pos = queries.find(from, pos)) != std::string::npos; pos += to.size())
      queries.replace(pos, from.size(), to);
  }
  std::ofstream(dir / "queries.yaml") << queries;
  auto e = std::make_unique<Exporter>();
  e->port = pgstack::sys::free_tcp_port();
  e->pid = pgstack::sys::spawn({*program, fmt::format("--web.listen-address=127.0.0.1:{}", e->port),
                               "--extend.query-path=" + (dir / "queries.yaml").string()},
                              {.env = {"DATA_SOURCE_NAME=" + dsn}}, (dir / "exporter.log").string());
  httplib::Client client("127.0.0.1", e->port);
  for (int i = 0; i < 100; ++i) {
    if (auto res = client.Get("/"); res) return e;
    std::this_thread::sleep_for(100ms);
  }
  std::cerr << "observe_bench: postgres_exporter did not start: " << pgstack::read_text_file((dir / "exporter.log").string())
            << "\n";
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"observe_bench: scrape and doctor time on a database with many tables and statements"};
  app.add_option("--tables", o.tables)->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--statements", o.statements)->check(CLI::Range(1, 800000))->capture_default_str();
  app.add_option("--runs", o.runs, "Measured runs of each; medians are quoted")->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--exporter", o.exporter, "postgres_exporter's binary")->capture_default_str();
  bool no_exporter = false;
  app.add_flag("--no-exporter", no_exporter, "Skip the anchor (the smoke test)");
  CLI11_PARSE(app, argc, argv);
  if (no_exporter) o.exporter.clear();
  if (o.statements > o.tables * 8) {
    std::cerr << "observe_bench: at most 8 statements per table; raise --tables\n";
    return 2;
  }

  pgstack::testing::TestCluster cluster({.settings = {"shared_preload_libraries = 'pg_stat_statements'",
                                                      "pg_stat_statements.track = all",
                                                      fmt::format("pg_stat_statements.max = {}", o.statements + 2000)}});
  auto db = cluster.create_database();
  {
    pgstack::pg::Connection conn(db.dsn());
    fill(conn, o);
    std::cout << fmt::format("database: {} user tables, {} statements in pg_stat_statements\n",
                             conn.query_value<std::int64_t>("SELECT count(*) FROM pg_stat_user_tables"),
                             conn.query_value<std::int64_t>("SELECT count(*) FROM pg_stat_statements"));
  }

  Samples scrape, doctor, exporter;
  std::size_t scrape_samples = 0, exporter_samples = 0;
  pgstack::metrics::ScraperOptions so;
  so.servers.push_back({"db", db.dsn()});
  pgstack::metrics::Scraper scraper(so);
  scrape_samples = sample_lines(scraper.scrape());  // connects; Prometheus' later scrapes reuse it
  for (int i = 0; i < o.runs; ++i) scrape.add(millis([&] { scraper.scrape(); }));
  for (int i = 0; i < o.runs; ++i) doctor.add(millis([&] { pgstack::doctor::run_doctor({.dsn = db.dsn()}); }));

  auto e = start_exporter(o, db.tcp_dsn() + " sslmode=disable", cluster.root_dir());
  if (e) {
    httplib::Client client("127.0.0.1", e->port);
    client.set_read_timeout(60, 0);
    if (auto res = client.Get("/metrics"); res && res->status == 200) exporter_samples = sample_lines(res->body);
    if (exporter_samples == 0) {
      std::cerr << "observe_bench: postgres_exporter answered nothing: "
                << pgstack::sys::last_lines(pgstack::read_text_file((cluster.root_dir() / fs::path("exporter.log")).string()), 5)
                << "\n";
      e.reset();
    }
    for (int i = 0; i < o.runs; ++i) exporter.add(millis([&] { client.Get("/metrics"); }));
  }

  std::cout << fmt::format("{:<46} {:>10} {:>10}\n", "median of " + std::to_string(o.runs) + " runs", "ms", "samples");
  std::cout << fmt::format("{:<46} {:>10.1f} {:>10}   target < 500 ms: {}\n", "pgstack metrics scrape", scrape.median(),
                           scrape_samples, scrape.median() < 500 ? "met" : "MISSED");
  std::cout << fmt::format("{:<46} {:>10.1f} {:>10}   target < 2000 ms: {}\n", "pgstack doctor (connects each run)",
                           doctor.median(), "", doctor.median() < 2000 ? "met" : "MISSED");
  if (e && exporter.size() > 0) {
    std::cout << fmt::format("{:<46} {:>10.1f} {:>10}\n", "postgres_exporter 0.11 scrape (example queries)",
                             exporter.median(), exporter_samples);
    std::cout << fmt::format("pgstack scrape time / postgres_exporter's: {:.2f}\n", scrape.median() / exporter.median());
  } else {
    std::cout << "postgres_exporter: not installed (scripts/install-deps --bench installs it); no anchor this run\n";
  }
  std::cout << fmt::format("RESULT scrape_ms={:.1f} doctor_ms={:.1f} exporter_ms={:.1f}\n", scrape.median(),
                           doctor.median(), exporter.size() ? exporter.median() : 0.0);
  return 0;
}
