// MigrationRunner against a real PostgreSQL 15: idempotence, concurrency, refusals,
// and that a failing file leaves nothing behind.
#include "pgstack/schema/migration_runner.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "pgstack/pg/connection.h"
#include "pgstack/testing/test_cluster.h"

namespace pgstack::schema {
namespace {

namespace fs = std::filesystem;
using pgstack::testing::TestCluster;

class MigrationRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pgstack_runner_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }
  Module folder() { return load_directory_module(dir_); }
  bool exists(pg::Connection& conn, const std::string& relation) {
    return conn.query_value<bool>("SELECT to_regclass($1) IS NOT NULL", relation);
  }
  std::int64_t recorded(pg::Connection& conn) {
    if (!exists(conn, "pgstack.schema_migrations")) return 0;
    return conn.query_value<std::int64_t>("SELECT count(*) FROM pgstack.schema_migrations");
  }

  pgstack::testing::TestDatabase db_ = TestCluster::shared().create_database();
  pg::Connection conn_{db_.dsn()};
  fs::path dir_;
};

TEST_F(MigrationRunnerTest, AppliesInOrderAndRecordsChecksums) {
  write("001_users.sql", "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL);");
  write("002_seed.sql", "INSERT INTO users VALUES (1, 'ada');\nINSERT INTO users VALUES (2, 'grace');");
  MigrationRunner runner(conn_);
  auto module = folder();
  auto report = runner.apply({module});
  ASSERT_EQ(report.applied.size(), 2u);
  EXPECT_EQ(report.applied[0].name, "001_users.sql");
  EXPECT_EQ(report.applied[1].name, "002_seed.sql");
  EXPECT_EQ(report.already_applied, 0u);
  EXPECT_EQ(conn_.query_value<std::int64_t>("SELECT count(*) FROM users"), 2);
  auto rows = conn_.query("SELECT module, version, name, checksum, applied_by = current_user, execution_ms >= 0 "
                          "FROM pgstack.schema_migrations ORDER BY version");
  ASSERT_EQ(rows.rows(), 2);
  EXPECT_EQ(rows[0].get<std::string>(0), "app");
  EXPECT_EQ(rows[0].get<std::int32_t>(1), 1);
  EXPECT_EQ(rows[1].get<std::string>(2), "002_seed.sql");
  EXPECT_EQ(rows[1].get<std::string>(3), module.migrations[1].checksum);
  EXPECT_TRUE(rows[1].get<bool>(4));
  EXPECT_TRUE(rows[1].get<bool>(5));
}

TEST_F(MigrationRunnerTest, ApplyingTwiceIsANoOp) {
  write("001_users.sql", "CREATE TABLE users (id bigint PRIMARY KEY);");  // fails if run twice
  MigrationRunner runner(conn_);
  runner.apply({folder()});
  auto applied_at = conn_.query_value<pg::Timestamp>("SELECT applied_at FROM pgstack.schema_migrations");
  auto second = runner.apply({folder()});
  EXPECT_TRUE(second.applied.empty());
  EXPECT_EQ(second.already_applied, 1u);
  EXPECT_EQ(recorded(conn_), 1);
  EXPECT_EQ(conn_.query_value<pg::Timestamp>("SELECT applied_at FROM pgstack.schema_migrations"), applied_at);
}

TEST_F(MigrationRunnerTest, StatusReadsWithoutCreatingAnything) {
  write("001_users.sql", "CREATE TABLE users (id bigint PRIMARY KEY);");
  write("002_more.sql", "CREATE TABLE more (id bigint PRIMARY KEY);");
  MigrationRunner runner(conn_);
  auto before = runner.status({folder()});
  ASSERT_EQ(before.size(), 2u);
  EXPECT_EQ(before[0].state, MigrationState::pending);
  EXPECT_FALSE(before[0].applied_at);
  EXPECT_FALSE(conn_.query_value<bool>("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'pgstack')"));

  runner.apply({folder()});
  auto after = runner.status({folder()});
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].state, MigrationState::applied);
  EXPECT_TRUE(after[0].applied_at);
  EXPECT_EQ(after[0].recorded_checksum, after[0].file_checksum);
}

TEST_F(MigrationRunnerTest, ConcurrentRunnersApplyEachFileExactlyOnce) {
  // Each file fails if it runs twice; four runners on their own connections (as four
  // app instances deploying at once would be) must all succeed.
  for (int i = 1; i <= 6; ++i)
    write(fmt::format("{:03}_t{}.sql", i, i), fmt::format("CREATE TABLE t{} (id int);\nSELECT pg_sleep(0.02);", i));
  auto module = folder();
  std::atomic<int> applied{0}, skipped{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      try {
        pg::Connection conn(db_.dsn());
        auto report = MigrationRunner(conn).apply({module});
        applied += static_cast<int>(report.applied.size());
        skipped += static_cast<int>(report.already_applied);
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
        ++failures;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(applied, 6);
  EXPECT_EQ(skipped, 3 * 6);
  EXPECT_EQ(recorded(conn_), 6);
}

TEST_F(MigrationRunnerTest, ChangedChecksumIsRefusedBeforeAnythingIsApplied) {
  write("001_users.sql", "CREATE TABLE users (id bigint PRIMARY KEY);");
  MigrationRunner runner(conn_);
  runner.apply({folder()});
  write("001_users.sql", "CREATE TABLE users (id bigint PRIMARY KEY, email text);");
  write("002_orders.sql", "CREATE TABLE orders (id bigint PRIMARY KEY);");
  try {
    runner.apply({folder()});
    FAIL() << "an edited applied migration must be refused";
  } catch (const MigrationError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("001_users.sql was applied with checksum"), std::string::npos) << what;
    EXPECT_NE(what.find("new migration"), std::string::npos) << what;
  }
  EXPECT_FALSE(exists(conn_, "orders"));
  EXPECT_EQ(recorded(conn_), 1);
  auto status = runner.status({folder()});
  EXPECT_EQ(status[0].state, MigrationState::changed);
  EXPECT_EQ(status[1].state, MigrationState::pending);
}

TEST_F(MigrationRunnerTest, SyntaxErrorNamesFileAndLineAndAppliesNothing) {
  write("001_users.sql", "CREATE TABLE users (id bigint PRIMARY KEY);");
  write("002_broken.sql", "-- adds orders\nCREATE TABLE orders (id bigint PRIMARY KEY);\nSELEC 1;\n");
  MigrationRunner runner(conn_);
  try {
    runner.apply({folder()});
    FAIL() << "a syntax error must be refused";
  } catch (const MigrationError& e) {
    EXPECT_EQ(fs::path(e.file()).filename(), "002_broken.sql");
    EXPECT_EQ(e.line(), 3);
    std::string what = e.what();
    EXPECT_NE(what.find("002_broken.sql:3: syntax error at or near \"SELEC\""), std::string::npos) << what;
    EXPECT_NE(what.find("nothing was applied"), std::string::npos) << what;
  }
  EXPECT_FALSE(exists(conn_, "users"));  // the good first file did not go in either
  EXPECT_EQ(recorded(conn_), 0);
}

TEST_F(MigrationRunnerTest, RuntimeErrorMidFileLeavesNothingOfThatFile) {
  write("001_users.sql", "CREATE TABLE users (id bigint PRIMARY KEY);");
  write("002_orders.sql",
        "CREATE TABLE orders (id bigint PRIMARY KEY);\n"
        "INSERT INTO orders VALUES (1);\n"
        "INSERT INTO orders\n  SELECT id FROM no_such_table;\n"
        "CREATE TABLE after_the_error (id int);\n");
  MigrationRunner runner(conn_);
  try {
    runner.apply({folder()});
    FAIL() << "a failing statement must throw";
  } catch (const MigrationError& e) {
    EXPECT_EQ(fs::path(e.file()).filename(), "002_orders.sql");
    EXPECT_EQ(e.line(), 4);  // the server's error position points into the second line of the statement
    std::string what = e.what();
    EXPECT_NE(what.find("relation \"no_such_table\" does not exist (SQLSTATE 42P01)"), std::string::npos) << what;
    EXPECT_NE(what.find("rolled back"), std::string::npos) << what;
  }
  EXPECT_TRUE(exists(conn_, "users"));  // the file before it is kept: it succeeded
  EXPECT_FALSE(exists(conn_, "orders"));
  EXPECT_FALSE(exists(conn_, "after_the_error"));
  auto status = runner.status({folder()});
  EXPECT_EQ(status[0].state, MigrationState::applied);
  EXPECT_EQ(status[1].state, MigrationState::pending);

  // Fixed, it goes in.
  write("002_orders.sql", "CREATE TABLE orders (id bigint PRIMARY KEY);\n");
  EXPECT_EQ(runner.apply({folder()}).applied.size(), 1u);
  EXPECT_TRUE(exists(conn_, "orders"));
}

TEST_F(MigrationRunnerTest, NoTransactionFileBuildsAnIndexConcurrently) {
  write("001_users.sql", "CREATE TABLE users (id bigint PRIMARY KEY, email text);");
  write("002_index.sql", "-- pgstack:no-transaction\nCREATE INDEX CONCURRENTLY users_email ON users (email);\n");
  MigrationRunner runner(conn_);
  auto report = runner.apply({folder()});
  EXPECT_EQ(report.applied.size(), 2u);
  EXPECT_TRUE(conn_.query_value<bool>("SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_email'::regclass"));
  EXPECT_EQ(runner.apply({folder()}).already_applied, 2u);
  // The session lock was released.
  EXPECT_EQ(conn_.query_value<std::int64_t>(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"),
            0);
}

TEST_F(MigrationRunnerTest, FailedConcurrentIndexLeavesNoInvalidIndex) {
  write("001_users.sql", "CREATE TABLE users (id bigint, email text);\n"
                         "INSERT INTO users VALUES (1, 'same@example.com'), (2, 'same@example.com');");
  write("002_index.sql", "-- pgstack:no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY users_email ON users (email);\n");
  MigrationRunner runner(conn_);
  try {
    runner.apply({folder()});
    FAIL() << "a unique index over duplicates must fail";
  } catch (const MigrationError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("002_index.sql:2:"), std::string::npos) << what;
    EXPECT_NE(what.find("SQLSTATE 23505"), std::string::npos) << what;
    EXPECT_NE(what.find("INVALID index \"users_email\" it left was dropped"), std::string::npos) << what;
  }
  EXPECT_FALSE(exists(conn_, "users_email"));
  EXPECT_EQ(runner.status({folder()})[1].state, MigrationState::pending);
}

TEST_F(MigrationRunnerTest, NoTransactionFileWithSeveralStatementsIsRefused) {
  write("001_index.sql", "-- pgstack:no-transaction\nCREATE TABLE a (id int);\nCREATE INDEX CONCURRENTLY a_id ON a (id);\n");
  MigrationRunner runner(conn_);
  try {
    runner.apply({folder()});
    FAIL() << "must be refused";
  } catch (const MigrationError& e) {
    EXPECT_NE(std::string(e.what()).find("has 2 statements"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(exists(conn_, "a"));
}

TEST_F(MigrationRunnerTest, RecordedFileThatDisappearedIsReported) {
  write("001_users.sql", "CREATE TABLE users (id bigint PRIMARY KEY);");
  write("002_orders.sql", "CREATE TABLE orders (id bigint PRIMARY KEY);");
  MigrationRunner runner(conn_);
  runner.apply({folder()});
  fs::remove(dir_ / "002_orders.sql");
  auto status = runner.status({folder()});
  ASSERT_EQ(status.size(), 2u);
  EXPECT_EQ(status[1].name, "002_orders.sql");
  EXPECT_EQ(status[1].state, MigrationState::missing_file);
  EXPECT_TRUE(status[1].file_checksum.empty());
}

TEST_F(MigrationRunnerTest, PendingFileBelowAnAppliedVersionIsRefused) {
  write("001_users.sql", "CREATE TABLE users (id bigint PRIMARY KEY);");
  write("003_orders.sql", "CREATE TABLE orders (id bigint PRIMARY KEY);");
  MigrationRunner runner(conn_);
  runner.apply({folder()});
  write("002_late.sql", "CREATE TABLE late (id int);");
  try {
    runner.apply({folder()});
    FAIL() << "must be refused";
  } catch (const MigrationError& e) {
    EXPECT_NE(std::string(e.what()).find("Renumber it above 3"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(exists(conn_, "late"));
}

TEST_F(MigrationRunnerTest, RefusesAConnectionInsideATransaction) {
  write("001_users.sql", "CREATE TABLE users (id bigint PRIMARY KEY);");
  conn_.execute_script("BEGIN");
  EXPECT_THROW(MigrationRunner(conn_).apply({folder()}), pg::UsageError);
  conn_.execute_script("ROLLBACK");
  EXPECT_FALSE(exists(conn_, "users"));
}

TEST_F(MigrationRunnerTest, BuiltinModulesInstallAndWork) {
  MigrationRunner runner(conn_);
  auto report = runner.apply(builtin_module_list());
  EXPECT_FALSE(report.applied.empty());
  EXPECT_EQ(report.applied.front().module, "core");
  conn_.execute_script(
      "CREATE TABLE things (id int PRIMARY KEY, updated_at timestamptz NOT NULL DEFAULT '2000-01-01');"
      "CREATE TRIGGER set_updated_at BEFORE UPDATE ON things FOR EACH ROW EXECUTE FUNCTION pgstack.set_updated_at();"
      "INSERT INTO things (id) VALUES (1); UPDATE things SET id = 1;");
  EXPECT_TRUE(conn_.query_value<bool>("SELECT updated_at > '2020-01-01' FROM things"));
  // pgstack's modules and the application's live side by side.
  write("001_core.sql", "CREATE TABLE app_core (id int);");
  EXPECT_EQ(runner.apply({folder()}).applied.size(), 1u);
  EXPECT_EQ(runner.apply(builtin_module_list()).applied.size(), 0u);
}

}  // namespace
}  // namespace pgstack::schema
