#include "bench/pgbench_anchor.h"

#include <chrono>
#include <regex>

#include <fmt/format.h>

#include "pgstack/pg/connection.h"
#include "pgstack/pg/errors.h"
#include "pgstack/sys/process.h"

namespace pgstack::bench {

namespace {

sys::RunResult run_pgbench(const std::vector<std::string>& args, std::chrono::seconds timeout) {
  std::vector<std::string> argv = {sys::pg_binary("pgbench")};
  argv.insert(argv.end(), args.begin(), args.end());
  return sys::run(argv, {.timeout = timeout});
}

}  // namespace

PgbenchTables prepare_pgbench_tables(const std::string& dsn, int scale) {
  PgbenchTables tables;
  {
    pg::Connection conn(dsn);
    tables.created = !conn.query_value<bool>("select to_regclass('pgbench_accounts') is not null");
  }
  if (tables.created) {
    // pgbench takes the DSN in place of a database name and expands it as libpq does.
    auto r = run_pgbench({"-i", "-q", "-s", std::to_string(scale), dsn}, std::chrono::minutes(10));
    if (r.exit_code != 0)
      throw Error(fmt::format("pgbench -i -s {} failed (exit {}):\n{}", scale, r.exit_code, r.output));
  }
  pg::Connection conn(dsn);
  tables.scale = static_cast<int>(conn.query_value<std::int64_t>("select count(*) from pgbench_branches"));
  tables.accounts = 100000LL * tables.scale;
  if (conn.query_value<bool>("select exists (select from pg_extension where extname = 'pg_prewarm')")) {
    conn.query("select pg_prewarm('pgbench_accounts'), pg_prewarm('pgbench_accounts_pkey')");
  }
  return tables;
}

double run_pgbench_select_only(const std::string& dsn, int clients, int seconds) {
  const std::string c = std::to_string(clients);
  auto r = run_pgbench({"-S", "-M", "prepared", "-n", "-c", c, "-j", c, "-T", std::to_string(seconds), dsn},
                       std::chrono::seconds(seconds + 60));
  static const std::regex tps_line(R"(tps = ([0-9.]+))");
  std::smatch m;
  if (r.exit_code != 0 || !std::regex_search(r.output, m, tps_line))
    throw Error(fmt::format("pgbench -S -M prepared -c {} failed (exit {}):\n{}", clients, r.exit_code, r.output));
  return std::stod(m[1].str());
}

}  // namespace pgstack::bench
