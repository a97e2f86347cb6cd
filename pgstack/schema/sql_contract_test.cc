// The SQL API tested in SQL (DESIGN.md "Three faces, one contract"; issue 15, item 7).
// Each module keeps a pgTAP file, pgstack/<folder>/sql/tests/<module>.sql, that pins
// its documented functions by behaviour, the errors the docs name and who may call
// what. This binary runs every such file it finds in the source tree, each in a fresh
// database with every module installed by the migration runner, through psql as the
// stack's application login role `app` (made by stack::ensure_roles, as `pgstack up`
// makes it), and reads pgTAP's output (TAP): one test per file, failing with the file's
// name, each `not ok` line and its diagnostics, a plan that does not match what ran, or
// the SQL error that stopped the file. docs/testing.md, "SQL-level tests (pgTAP)".
#include <stdlib.h>

#include <algorithm>
#include <iostream>
#include <filesystem>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "pgstack/ops/stack/layout.h"
#include "pgstack/ops/stack/roles.h"
#include "pgstack/pg/connection.h"
#include "pgstack/schema/builtin_modules.h"
#include "pgstack/schema/migration_runner.h"
#include "pgstack/base/files.h"
#include "pgstack/sys/process.h"
#include "pgstack/testing/test_cluster.h"

namespace pgstack::schema {
namespace {

namespace fs = std::filesystem;
using pgstack::testing::TestCluster;

// Every pgTAP file of the source tree: pgstack/<folder>/sql/tests/*.sql. The migration
// embedding globs sql/*.sql only, so these are never installed as migrations
// (SqlContract.TestFilesAreNotEmbeddedAsMigrations checks it).
std::vector<fs::path> sql_test_files() {
  std::vector<fs::path> files;
  const fs::path root = fs::path(PGSTACK_SOURCE_DIR) / "pgstack";
  for (const auto& folder : fs::directory_iterator(root)) {
    const fs::path tests = folder.path() / "sql" / "tests";
    if (!fs::is_directory(tests)) continue;
    for (const auto& e : fs::directory_iterator(tests))
      if (e.path().extension() == ".sql") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// What one file's run said, read from psql's output: pgTAP's TAP lines ("1..N",
// "ok 3 - ...", "not ok 4 - ...", "# diagnostics") and psql's own error lines.
struct TapRun {
  int planned = -1;                   // from "1..N"; -1 when the file made no plan
  int ran = 0;                        // ok and not-ok lines
  std::string output;                 // psql's, as it came
  std::vector<std::string> problems;  // each one a reason the file fails, with its detail
};

TapRun read_tap(const std::string& output, int exit_code) {
  TapRun run;
  run.output = output;
  static const std::regex kPlan(R"(^1\.\.(\d+)\s*$)");
  static const std::regex kResult(R"(^(not )?ok (\d+)\b(.*)$)");
  std::istringstream in(output);
  std::string line;
  int open_failure = -1;  // index in problems of a not-ok line whose "# ..." diagnostics follow
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, kPlan)) {
      if (run.planned >= 0) run.problems.push_back("a second plan: " + line);
      run.planned = std::stoi(m[1]);
      open_failure = -1;
    } else if (std::regex_match(line, m, kResult)) {
      ++run.ran;
      const int number = std::stoi(m[2]);
      if (number != run.ran) run.problems.push_back(fmt::format("test {} reported as number {}: {}", run.ran, number, line));
      // "not ok 3 - x # TODO why": a known gap pgTAP lets a file declare; not a failure.
      const bool todo = std::regex_search(std::string(m[3]), std::regex(R"(#\s*TODO\b)", std::regex::icase));
      open_failure = -1;
      if (m[1].matched && !todo) {
        run.problems.push_back(line);
        open_failure = static_cast<int>(run.problems.size()) - 1;
      }
    } else if (line.rfind("#", 0) == 0) {
      // pgTAP's diagnostics: "#   Failed test 4: ...", "#         have: 1". finish()'s
      // "# Looks like you planned 5 tests but ran 4" is covered by the count below.
      if (open_failure >= 0) run.problems[open_failure] += "\n    " + line;
    } else if (line.find("ERROR:") != std::string::npos || line.find("FATAL:") != std::string::npos) {
      // psql: "psql:/path/kv.sql:42: ERROR:  ..." (with ON_ERROR_STOP the file ends here).
      run.problems.push_back(line);
      open_failure = -1;
    } else if (!run.problems.empty() && (line.rfind("DETAIL:", 0) == 0 || line.rfind("HINT:", 0) == 0 ||
                                         line.rfind("CONTEXT:", 0) == 0 || line.rfind("LINE ", 0) == 0)) {
      run.problems.back() += "\n    " + line;
    }
  }
  if (run.planned < 0) run.problems.push_back("no plan: the file must SELECT plan(N) before its tests");
  else if (run.planned != run.ran)
    run.problems.push_back(fmt::format("planned {} tests but {} ran", run.planned, run.ran));
  if (exit_code != 0) run.problems.push_back(fmt::format("psql exited with status {}", exit_code));
  return run;
}

class SqlContract : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TestCluster::shared().prepare_template([](pg::Connection& conn) {
      MigrationRunner(conn).apply(builtin_module_list());
      // pgTAP (Debian's postgresql-15-pgtap) goes into public, where psql's default
      // search_path finds plan(), is() and the rest; creating an extension needs the
      // superuser, which this is.
      conn.execute_script("CREATE EXTENSION pgtap");
      // The privilege checks every module's file shares (pgstack_tap.api_privileges).
      conn.execute_script(pgstack::read_text_file(std::string(PGSTACK_SOURCE_DIR) + "/pgstack/schema/testing/api_privileges.sql"));
    });
    char folder[] = "/tmp/pgstack-sqltests-XXXXXX";
    if (::mkdtemp(folder) == nullptr) throw std::runtime_error("mkdtemp failed");
    roles_dir_ = new fs::path(folder);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*roles_dir_);
    delete roles_dir_;
  }

  // A fresh database with every module and pgTAP, and the stack's roles and grants as
  // `pgstack up` makes them (roles.cc; their passwords go to a credentials file in a temp
  // folder, unused: the test cluster trusts local connections). Returns it with the
  // DSN of `app`, the role an application logs in as.
  struct AppDatabase {
    pgstack::testing::TestDatabase db;
    std::string app_dsn;
  };
  static AppDatabase app_database() {
    auto db = TestCluster::shared().create_database();
    pg::Connection super(db.dsn());
    auto layout = stack::ClusterLayout::local(*roles_dir_);
    layout.database = db.name();
    stack::ensure_roles(super, layout);
    std::string dsn = db.dsn() + " user=app";
    return {std::move(db), std::move(dsn)};
  }

  // Runs one file through psql as psql would run it by hand (docs/testing.md): no psqlrc,
  // tuples only and unaligned (so TAP lines come out bare), stopping at the first error.
  static TapRun run_file(const fs::path& file) {
    auto [db, dsn] = app_database();
    auto r = sys::run({sys::pg_binary("psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-P", "pager=off",
                       "-d", dsn, "-f", file.string()},
                      {.timeout = std::chrono::seconds(60)});
    if (r.timed_out) {
      TapRun run;
      run.problems.push_back("psql did not finish within 60 s; its output:\n" + r.output);
      return run;
    }
    return read_tap(r.output, r.exit_code);
  }

  static std::string report(const fs::path& file, const TapRun& run) {
    std::string text = fmt::format("{} ({} of {} planned tests ran):", fs::relative(file, PGSTACK_SOURCE_DIR).string(),
                                   run.ran, run.planned);
    for (const auto& p : run.problems) text += "\n  " + p;
    return text;
  }

  static inline fs::path* roles_dir_ = nullptr;
};

// One test per file, named after it (SqlFiles/SqlContractFile.Passes/kv).
class SqlContractFile : public SqlContract, public ::testing::WithParamInterface<fs::path> {};

TEST_P(SqlContractFile, Passes) {
  const auto run = run_file(GetParam());
  // PGSTACK_SQL_TESTS_VERBOSE=1 prints every TAP line, passing ones too.
  if (const char* v = ::getenv("PGSTACK_SQL_TESTS_VERBOSE"); v && *v && std::string(v) != "0") std::cout << run.output;
  EXPECT_TRUE(run.problems.empty()) << report(GetParam(), run);
  EXPECT_GT(run.ran, 0) << GetParam() << " ran no test";
}

INSTANTIATE_TEST_SUITE_P(SqlFiles, SqlContractFile, ::testing::ValuesIn(sql_test_files()),
                         [](const ::testing::TestParamInfo<fs::path>& info) { return info.param.stem().string(); });

// Every module the binary installs has its SQL-level tests, named after the module.
TEST_F(SqlContract, EveryModuleHasAFileOfSqlTests) {
  std::set<std::string> have;
  for (const auto& f : sql_test_files()) have.insert(f.stem().string());
  for (const auto& m : builtin_modules())
    EXPECT_TRUE(have.count(m.name)) << "module " << m.name << " has no pgstack/<its folder>/sql/tests/" << m.name
                                    << ".sql (docs/testing.md, \"SQL-level tests (pgTAP)\")";
}

// What an application role may call is the documented API: every pgstack function that
// readwrite or readonly may execute is named in code (`name`, `name(...)`, or
// pgstack.name in an example) on a user's page of docs/; architecture.md, about the
// internals, does not count. An internal helper left granted, or a function added
// without its documentation, fails here whichever module it belongs to; the pgTAP
// files check the same per module, from their API lists (pgstack_tap.api_privileges).
std::vector<std::string> undocumented_callable_functions(pg::Connection& conn) {
  std::string docs;
  for (const auto& e : fs::directory_iterator(fs::path(PGSTACK_SOURCE_DIR) / "docs"))
    if (e.path().extension() == ".md" && e.path().filename() != "architecture.md")
      docs += pgstack::read_text_file(e.path().string());
  auto rows = conn.query(R"sql(
    select distinct p.proname::text from pg_proc p
     where p.pronamespace = 'pgstack'::regnamespace
       and (has_function_privilege('readwrite', p.oid, 'EXECUTE') or has_function_privilege('readonly', p.oid, 'EXECUTE'))
     order by 1)sql");
  if (rows.rows() < 50) throw std::runtime_error("fewer than 50 callable functions: the query is wrong");
  std::vector<std::string> missing;
  for (const auto& row : rows) {
    const auto name = row.get<std::string>(0);
    if (!std::regex_search(docs, std::regex("(`|pgstack\\.)" + name + "\\b"))) missing.push_back(name);
  }
  return missing;
}

TEST_F(SqlContract, EveryFunctionAnApplicationRoleMayCallIsDocumented) {
  auto [db, dsn] = app_database();
  pg::Connection super(db.dsn());
  for (const auto& name : undocumented_callable_functions(super))
    ADD_FAILURE() << "pgstack." << name << " is executable by an application role but no user's page of docs/ names "
                  << "it: document it, or revoke it from readwrite and readonly if it is an internal helper";
  // The check catches an internal helper granted again.
  super.query("grant execute on function pgstack.percent_text(double precision) to readonly");
  EXPECT_EQ(undocumented_callable_functions(super), std::vector<std::string>{"percent_text"});
}

// The capability contract's functions (pgstack.<name>_health/_metrics/_usage/_advice)
// that do not run with JIT off. doctor and metrics call them on every run, on tables
// autovacuum has often never analyzed, whose estimates pass jit_above_cost: LLVM's
// compile took half of a doctor run (docs/BENCHMARKS.md, "Rerun after issue 15").
std::vector<std::string> contract_functions_with_jit(pg::Connection& conn) {
  auto rows = conn.query(R"sql(
    select p.oid::regprocedure::text from pg_proc p
     where p.pronamespace = 'pgstack'::regnamespace and p.proname ~ '_(health|metrics|usage|advice)$'
       and not coalesce('jit=off' = any(p.proconfig), false)
     order by 1)sql");
  std::vector<std::string> out;
  for (const auto& row : rows) out.push_back(row.get<std::string>(0));
  return out;
}

TEST_F(SqlContract, EveryContractFunctionRunsWithJitOff) {
  auto [db, dsn] = app_database();
  pg::Connection super(db.dsn());
  for (const auto& function : contract_functions_with_jit(super))
    ADD_FAILURE() << function << " runs with JIT as the session has it: ALTER FUNCTION ... SET jit = off in a "
                  << "migration of its module";
  // The check catches a function that lost the setting (so its query finds the contract's functions).
  super.query("alter function pgstack.kv_metrics() reset jit");
  EXPECT_EQ(contract_functions_with_jit(super), std::vector<std::string>{"pgstack.kv_metrics()"});
}

// The tests live in sql/tests/, below the migrations, and must never be embedded as one.
TEST_F(SqlContract, TestFilesAreNotEmbeddedAsMigrations) {
  for (const auto& m : builtin_modules())
    for (const auto& f : m.files) {
      EXPECT_TRUE(std::regex_match(f.name, std::regex(R"(\d+_.+\.sql)"))) << m.name << " embeds " << f.name;
      EXPECT_EQ(f.sql.find("SELECT plan("), std::string::npos) << m.name << "'s " << f.name << " holds pgTAP tests";
    }
}

// The runner itself must fail a file that is wrong, whatever way it is wrong: a
// failing assertion, fewer or more tests than planned, no plan, a SQL error.
TEST_F(SqlContract, AFileThatIsWrongInAnyWayFails) {
  const fs::path file = *roles_dir_ / "planted.sql";
  struct Case {
    const char* what;
    const char* sql;
    std::vector<std::string> expected;  // each in what is reported
  };
  const Case cases[] = {
      {"a failing assertion", "BEGIN; SELECT plan(2); SELECT ok(true, 'fine'); SELECT is(1 + 1, 3, 'planted');\n"
                              "SELECT * FROM finish(); ROLLBACK;",
       {"not ok 2 - planted", "Failed test 2: \"planted\"", "have: 2", "want: 3"}},
      {"a plan that does not match", "BEGIN; SELECT plan(3); SELECT ok(true); SELECT * FROM finish(); ROLLBACK;",
       {"planned 3 tests but 1 ran"}},
      {"no plan", "BEGIN; SELECT no_plan(); SELECT ok(true); ROLLBACK;", {"no plan"}},
      {"a SQL error", "BEGIN; SELECT plan(2); SELECT ok(true); SELECT pgstack.no_such_function();\n"
                      "SELECT ok(true); SELECT * FROM finish(); ROLLBACK;",
       {"ERROR:  function pgstack.no_such_function() does not exist", "psql exited with status 3"}},
      {"a function app may call that the API does not list (pgstack_tap.api_privileges)",
       "BEGIN; SELECT plan(5); CREATE TEMP TABLE api (fn name, args name[], reads boolean);\n"
       "INSERT INTO api VALUES ('kv_get', '{text,text}', true);\n"
       "SELECT * FROM pgstack_tap.api_privileges('kv', '^kv_'); SELECT * FROM finish(); ROLLBACK;",
       {"not ok 5 - no kv function outside the documented API", "pgstack.kv_set(text,text,bytea,interval,text)"}},
      {"a call app may not make", "BEGIN; SELECT plan(1);\n"
                                  "SELECT ok(pgstack.register_maintenance_task('x', 'pgstack.kv_sweep()', '1s') IS NULL);\n"
                                  "SELECT * FROM finish(); ROLLBACK;",
       {"ERROR:  permission denied for function register_maintenance_task"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    pgstack::write_text_file(file.string(), c.sql);
    const auto run = run_file(file);
    std::string all;
    for (const auto& p : run.problems) all += p + "\n";
    for (const auto& e : c.expected) EXPECT_NE(all.find(e), std::string::npos) << "expected \"" << e << "\" in:\n" << all;
  }
  pgstack::write_text_file(file.string(), "BEGIN; SELECT plan(1); SELECT ok(true, 'fine'); SELECT * FROM finish(); ROLLBACK;");
  EXPECT_TRUE(run_file(file).problems.empty()) << "a good file was failed";
}

}  // namespace
}  // namespace pgstack::schema
