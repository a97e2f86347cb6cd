// pgstack doctor against a real PostgreSQL 15: each alert's condition induced for real,
// with thresholds lowered so it is quick, seen to fire and then to clear; the rates'
// window; workloads' checks; bad input (an unreachable server, a database without
// pg_stat_statements, a malformed config) through the library and the built CLI.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "pgstack/ops/doctor/activity.h"
#include "pgstack/ops/doctor/advise.h"
#include "pgstack/ops/doctor/doctor.h"
#include "pgstack/ops/doctor/testing/observe_test_cluster.h"
#include "pgstack/ops/doctor/rate_state.h"
#include "pgstack/ops/doctor/thresholds.h"
#include "pgstack/sys/process.h"
#include "pgstack/testing/cli_runner.h"
#include "pgstack/testing/eventually.h"

namespace pgstack::doctor {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Thresholds an alert can cross in a test's time.
Thresholds quick() {
  Thresholds t;
  t.cache_min_blocks = 500;
  t.checkpoints_min = 1;
  t.dead_tuples_min = 100;
  t.idle_in_transaction_sessions = 2;
  t.idle_in_transaction_seconds = 0.3;
  t.rate_window_seconds = 1;
  t.capability["job_oldest_available_seconds"] = 0.3;
  t.capability["discarded_jobs_per_hour"] = 0;
  t.capability["kv_dead_ratio"] = 0.3;
  return t;
}

class DoctorTest : public ::testing::Test {
 protected:
  pgstack::testing::TestDatabase db_ = observe_cluster().create_database();
  pg::Connection conn_{db_.dsn()};
  fs::path state_ = fs::temp_directory_path() / ("pgstack-doctor-state-" + std::to_string(::getpid()) + ".json");

  ~DoctorTest() override { fs::remove(state_); }

  Report doctor(const Thresholds& t = quick()) {
    return run_doctor({.dsn = db_.dsn(), .thresholds = t, .state_file = state_});
  }
  // A finding of check whose subject mentions about.
  static const Finding* find(const Report& r, const std::string& check, const std::string& about = {}) {
    for (const auto& f : r.findings)
      if (f.check == check && f.subject.find(about) != std::string::npos) return &f;
    return nullptr;
  }
  std::string table_subject(const std::string& table) { return "table public." + table; }
  // Other tests' CHECKPOINTs would read as a stack whose checkpoints are all requested.
  void forget_checkpoints() { conn_.query("SELECT pg_stat_reset_shared('bgwriter')"); }
};

TEST_F(DoctorTest, AHealthyDatabaseHasNoWarningsAndEveryCheckRuns) {
  forget_checkpoints();
  auto r = doctor(Thresholds{});
  EXPECT_EQ(r.exit_code(), kExitHealthy) << r.to_text();
  EXPECT_GE(r.checks.size(), 20u);
  for (const char* check : {"cache_hit_ratio", "replication_lag", "dead_tuples", "idle_in_transaction", "connections",
                            "requested_checkpoints", "long_query", "xid_wraparound", "sequence_used",
                            "duplicate_index", "slow_statement", "job_backlog", "kv_bloat"}) {
    bool ran = false;
    for (const auto& c : r.checks) ran |= c.check == check;
    EXPECT_TRUE(ran) << check;
  }
}

TEST_F(DoctorTest, LowCacheHitRatioFiresAndThenClears) {
  // 16 MB against 8 MB of shared_buffers: a sequential scan goes through a small ring
  // of buffers, so each scan reads every block again.
  conn_.execute_script(
      "CREATE TABLE big AS SELECT g AS id, repeat('x', 200) AS pad FROM generate_series(1, 60000) g;"
      "CREATE TABLE small (id int PRIMARY KEY, v int); INSERT INTO small SELECT g, g FROM generate_series(1, 100) g;"
      "ANALYZE big; ANALYZE small;");
  flush_stats(conn_);
  doctor();  // the baseline
  std::this_thread::sleep_for(1100ms);
  for (int i = 0; i < 3; ++i) conn_.query("SELECT count(*) FROM big");
  flush_stats(conn_);
  auto fired = doctor();
  const auto* f = find(fired, "cache_hit_ratio", db_.name());
  ASSERT_NE(f, nullptr) << fired.to_text();
  EXPECT_EQ(f->severity, Severity::warning);
  EXPECT_NE(f->what.find("over the last"), std::string::npos) << "a rate over the window: " << f->what;
  EXPECT_EQ(fired.exit_code(), kExitWarnings);

  // Then only lookups the cache serves: over the next window the ratio recovers.
  std::this_thread::sleep_for(1100ms);
  conn_.query("SELECT sum((SELECT v FROM small WHERE id = g % 100 + 1)) FROM generate_series(1, 20000) g");
  flush_stats(conn_);
  auto cleared = doctor();
  EXPECT_EQ(find(cleared, "cache_hit_ratio", db_.name()), nullptr) << cleared.to_text();
}

TEST_F(DoctorTest, DeadTuplesFireAndClearAfterVacuum) {
  conn_.execute_script(
      "CREATE TABLE churn (id int, v text) WITH (autovacuum_enabled = false);"
      "INSERT INTO churn SELECT g, 'v' FROM generate_series(1, 2000) g;"
      "DELETE FROM churn WHERE id <= 1000;");
  flush_stats(conn_);
  auto fired = doctor();
  const auto* f = find(fired, "dead_tuples", table_subject("churn"));
  ASSERT_NE(f, nullptr) << fired.to_text();
  EXPECT_NE(f->what.find("1000 dead, 1000 live"), std::string::npos) << f->what;
  EXPECT_NE(f->fix.find("VACUUM (ANALYZE) public.churn"), std::string::npos) << f->fix;
  // Twice past autovacuum's trigger and never vacuumed, because autovacuum is off for it.
  const auto* overdue = find(fired, "vacuum_overdue", table_subject("churn"));
  ASSERT_NE(overdue, nullptr) << fired.to_text();
  EXPECT_NE(overdue->what.find("autovacuum is DISABLED"), std::string::npos) << overdue->what;
  EXPECT_NE(overdue->fix.find("ALTER TABLE public.churn RESET (autovacuum_enabled)"), std::string::npos);

  conn_.execute_script("VACUUM churn");
  auto cleared = doctor();
  EXPECT_EQ(find(cleared, "dead_tuples", table_subject("churn")), nullptr) << cleared.to_text();
  EXPECT_EQ(find(cleared, "vacuum_overdue", table_subject("churn")), nullptr) << cleared.to_text();
}

TEST_F(DoctorTest, SessionsIdleInTransactionFireAndClearOnCommit) {
  std::vector<pg::Connection> idle;
  for (int i = 0; i < 3; ++i) {
    idle.emplace_back(pg::ConnectOptions{.dsn = db_.dsn()});
    idle.back().execute_script("BEGIN; SELECT 1;");
  }
  std::this_thread::sleep_for(400ms);
  auto fired = doctor();
  const auto* f = find(fired, "idle_in_transaction");
  ASSERT_NE(f, nullptr) << fired.to_text();
  EXPECT_NE(f->what.find("3 sessions"), std::string::npos) << f->what;
  EXPECT_NE(f->subject.find(std::to_string(idle.front().backend_pid())), std::string::npos) << f->subject;

  for (auto& c : idle) c.execute_script("COMMIT");
  EXPECT_FALSE(doctor().has("idle_in_transaction"));
}

TEST_F(DoctorTest, ConnectionsNearTheLimitFireAndClear) {
  auto in_use = conn_.query_value<std::int64_t>(
      "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'");
  auto max = conn_.query_value<std::int32_t>("SELECT current_setting('max_connections')::int");
  auto t = quick();
  // Doctor's own connection and five more cross the line; without them it is not crossed.
  t.connections_ratio = (static_cast<double>(in_use) + 3.5) / max;
  EXPECT_FALSE(doctor(t).has("connections"));
  {
    std::vector<pg::Connection> extra;
    for (int i = 0; i < 5; ++i) extra.emplace_back(pg::ConnectOptions{.dsn = db_.dsn()});
    auto fired = doctor(t);
    const auto* f = find(fired, "connections");
    ASSERT_NE(f, nullptr) << fired.to_text();
    EXPECT_NE(f->what.find(fmt::format("of {} connections", max)), std::string::npos) << f->what;
  }
  EXPECT_TRUE(pgstack::testing::eventually([&] { return !doctor(t).has("connections"); }, 5s));
}

TEST_F(DoctorTest, RequestedCheckpointsFireAndClearOnceTheWindowPasses) {
  auto requested = [&] {
    conn_.query("SELECT pg_stat_clear_snapshot()");
    return conn_.query_value<std::int64_t>("SELECT checkpoints_req FROM pg_stat_bgwriter");
  };
  doctor();  // the baseline
  const auto before = requested();
  for (int i = 0; i < 2; ++i) conn_.execute_script("CHECKPOINT");
  ASSERT_TRUE(pgstack::testing::eventually([&] { return requested() >= before + 2; }, 10s));
  auto fired = doctor();
  const auto* f = find(fired, "requested_checkpoints");
  ASSERT_NE(f, nullptr) << fired.to_text();
  EXPECT_NE(f->what.find("over the last"), std::string::npos) << f->what;

  // No checkpoint in the next window: nothing to judge, nothing reported.
  std::this_thread::sleep_for(1100ms);
  auto cleared = doctor();
  EXPECT_FALSE(cleared.has("requested_checkpoints")) << cleared.to_text();
}

TEST_F(DoctorTest, WithoutRememberedStateRatesAreSinceTheStatisticsReset) {
  conn_.execute_script("CHECKPOINT");
  auto t = quick();
  auto r = run_doctor({.dsn = db_.dsn(), .thresholds = t});  // no state file
  const auto* f = find(r, "requested_checkpoints");
  ASSERT_NE(f, nullptr) << r.to_text();
  EXPECT_NE(f->what.find("since the statistics were reset"), std::string::npos) << f->what;
}

TEST_F(DoctorTest, PgHerosChecksFindInvalidConstraintsDuplicateIndexesAndFullSequences) {
  conn_.execute_script(
      "CREATE TABLE orders (id serial PRIMARY KEY, customer int, placed date);"
      "CREATE INDEX orders_customer ON orders (customer);"
      "CREATE INDEX orders_customer_placed ON orders (customer, placed);"
      "ALTER TABLE orders ADD CONSTRAINT customer_positive CHECK (customer > 0) NOT VALID;"
      "SELECT setval('orders_id_seq', 2000000000);");
  auto r = doctor();
  const auto* dup = find(r, "duplicate_index", "public.orders_customer");
  ASSERT_NE(dup, nullptr) << r.to_text();
  EXPECT_NE(dup->what.find("public.orders_customer_placed"), std::string::npos) << dup->what;
  EXPECT_EQ(find(r, "duplicate_index", "orders_customer_placed"), nullptr) << "the wider index is the one to keep";
  ASSERT_NE(find(r, "invalid_constraint", "customer_positive"), nullptr) << r.to_text();
  const auto* seq = find(r, "sequence_used", "orders_id_seq");
  ASSERT_NE(seq, nullptr) << r.to_text();
  EXPECT_NE(seq->what.find("(int4)"), std::string::npos) << "bounded by the integer column: " << seq->what;

  conn_.execute_script(
      "DROP INDEX orders_customer; ALTER TABLE orders VALIDATE CONSTRAINT customer_positive;"
      "ALTER TABLE orders ALTER COLUMN id TYPE bigint; ALTER SEQUENCE orders_id_seq AS bigint;");
  auto fixed = doctor();
  EXPECT_FALSE(fixed.has("duplicate_index") || fixed.has("invalid_constraint") || fixed.has("sequence_used"))
      << fixed.to_text();
}

// Sequences no column owns (pgstack's job ids, live message ids, one of the user's):
// the check reads them like any other instead of failing ("could not run").
TEST_F(DoctorTest, SequencesNoColumnOwnsAreCheckedLikeTheOthers) {
  conn_.execute_script(
      "SELECT pgstack.job_kind_register('doctor_test'); SELECT pgstack.job_enqueue('doctor_test');"
      "SELECT pgstack.pubsub_publish('doctor.test', 'hello');"
      "CREATE SEQUENCE loose_seq AS integer; SELECT setval('loose_seq', 2000000000);");
  auto r = doctor();
  EXPECT_EQ(find(r, "sequence_used", "check"), nullptr) << r.to_text();
  for (const auto& f : r.findings) EXPECT_EQ(f.what.find("could not run"), std::string::npos) << r.to_text();
  ASSERT_NE(find(r, "sequence_used", "loose_seq"), nullptr) << r.to_text();
}

// A check whose query fails for want of a privilege says so and what to grant; one
// that fails for another reason is reported as pgstack's bug, not as a privilege.
TEST_F(DoctorTest, ACheckThatCannotRunSaysWhyAndTheOthersRun) {
  conn_.execute_script("CREATE ROLE doctor_limited LOGIN; REVOKE SELECT ON pg_catalog.pg_sequences FROM PUBLIC");
  auto r = run_doctor({.dsn = db_.dsn() + " user=doctor_limited", .thresholds = quick(), .state_file = state_});
  conn_.execute_script("GRANT SELECT ON pg_catalog.pg_sequences TO PUBLIC");
  const auto* f = find(r, "sequence_used", "check");
  ASSERT_NE(f, nullptr) << r.to_text();
  EXPECT_NE(f->what.find("could not run"), std::string::npos) << f->what;
  EXPECT_NE(f->fix.find("pg_monitor"), std::string::npos) << f->fix;
  // Checks that need nothing pgstack's run for a role without access to schema pgstack.
  EXPECT_EQ(find(r, "dead_tuples", "check"), nullptr) << r.to_text();
  EXPECT_EQ(find(r, "vacuum_overdue", "check"), nullptr) << r.to_text();
}

TEST_F(DoctorTest, ALongQueryIsReportedWithTheCommandThatCancelsIt) {
  auto t = quick();
  t.long_query_seconds = 0.2;
  pg::Connection sleeper(pg::ConnectOptions{.dsn = db_.dsn()});
  const int pid = sleeper.backend_pid();
  std::thread run([&] {
    try {
      sleeper.query("SELECT pg_sleep(30)");
    } catch (const pgstack::Error&) {
      // cancelled by the test, as the fix says
    }
  });
  const Finding* f = nullptr;
  Report r;
  ASSERT_TRUE(pgstack::testing::eventually([&] {
    r = doctor(t);
    f = find(r, "long_query", std::to_string(pid));
    return f != nullptr;
  }, 10s)) << r.to_text();
  EXPECT_EQ(f->fix, fmt::format("SELECT pg_cancel_backend({});  -- and a statement_timeout for its role", pid));
  conn_.query("SELECT pg_cancel_backend($1)", pid);
  run.join();
}

TEST_F(DoctorTest, JobBacklogAndKvBloatAreFoundInPgstacksOwnTables) {
  conn_.query("SELECT pgstack.job_kind_register('send_receipt')");
  conn_.query("SELECT pgstack.job_enqueue('send_receipt', '{}'::jsonb)");
  conn_.execute_script(
      "SELECT pgstack.kv_set('default', 'k' || g, 'v') FROM generate_series(1, 300) g;"
      "SELECT pgstack.kv_set('default', 'k' || g, 'w') FROM generate_series(1, 300) g;");
  flush_stats(conn_);
  std::this_thread::sleep_for(400ms);
  auto r = doctor();
  ASSERT_NE(find(r, "job_backlog", "queue default"), nullptr) << r.to_text();
  ASSERT_NE(find(r, "kv_bloat", "default"), nullptr) << r.to_text();
  EXPECT_EQ(find(r, "dead_tuples", "kv_ns_default"), nullptr) << "kv's table is judged by kv_bloat alone";
  // The same checks through the SQL contract, as any tool reads them: every capability at
  // once, each finding naming its capability.
  auto rows = conn_.query(
      "SELECT capability, check_name, subject FROM pgstack.health($1::jsonb) WHERE severity <> 'ok' ORDER BY 1, 2",
      quick().to_json());
  std::set<std::string> found;
  for (auto row : rows) found.insert(row.get<std::string>(0) + "/" + row.get<std::string>(1) + "/" + row.get<std::string>(2));
  EXPECT_TRUE(found.contains("jobs/job_backlog/queue default")) << fmt::format("{}", fmt::join(found, ", "));
  EXPECT_TRUE(found.contains("kv/kv_bloat/kv namespace default")) << fmt::format("{}", fmt::join(found, ", "));

  // A worker takes the job (it is running, no longer waiting), and vacuum clears kv.
  EXPECT_EQ(conn_.query_value<std::int64_t>("SELECT count(*) FROM pgstack.job_claim('default', 'test-worker', 10)"), 1);
  conn_.execute_script("VACUUM pgstack.kv_ns_default");
  auto cleared = doctor();
  EXPECT_FALSE(cleared.has("job_backlog") || cleared.has("kv_bloat")) << cleared.to_text();
}

TEST_F(DoctorTest, ALeaseLongExpiredAndOverdueHousekeepingAreFlaggedUntilMaintainRuns) {
  conn_.execute_script("SELECT pgstack.job_queue_create('stuck'); SELECT pgstack.job_kind_register('orphaned')");
  conn_.query("SELECT pgstack.job_enqueue('orphaned', '{}'::jsonb, queue => 'stuck')");
  ASSERT_EQ(conn_.query_value<std::int64_t>("SELECT count(*) FROM pgstack.job_claim('stuck', 'python-1', 10, 1)"), 1);
  // Time passes with nobody running housekeeping: the worker died ten minutes ago.
  conn_.execute_script(
      "UPDATE pgstack.job_batches SET lease_expires_at = now() - interval '10 minutes';"
      "UPDATE pgstack.maintenance_tasks SET next_run_at = now() - interval '10 minutes'");
  auto r = doctor();
  const auto* lease = find(r, "job_lease_expired", "queue stuck");
  ASSERT_NE(lease, nullptr) << r.to_text();
  EXPECT_EQ(lease->severity, Severity::critical);
  EXPECT_NE(lease->fix.find("pgstack maintain"), std::string::npos) << lease->fix;
  ASSERT_NE(find(r, "housekeeping_overdue"), nullptr) << r.to_text();

  // What the fix says: pgstack.maintain() (as `pgstack maintain` runs it) covers the jobs too.
  conn_.query("SELECT count(*) FROM pgstack.maintain()");
  auto cleared = doctor();
  EXPECT_EQ(find(cleared, "job_lease_expired"), nullptr) << cleared.to_text();
  EXPECT_EQ(find(cleared, "housekeeping_overdue"), nullptr) << cleared.to_text();
  EXPECT_EQ(conn_.query_value<std::int64_t>("SELECT count(*) FROM pgstack.job_batches"), 0);
}

TEST_F(DoctorTest, WithoutPgStatStatementsTheOtherChecksRunAndTheNoteSaysHowToAddIt) {
  conn_.execute_script("DROP EXTENSION pg_stat_statements");
  forget_checkpoints();
  auto r = doctor(Thresholds{});
  const auto* f = find(r, "pg_stat_statements");
  ASSERT_NE(f, nullptr) << r.to_text();
  EXPECT_EQ(f->severity, Severity::info);
  EXPECT_NE(f->fix.find("CREATE EXTENSION pg_stat_statements"), std::string::npos);
  EXPECT_EQ(r.exit_code(), kExitHealthy) << "a note is not a warning";
  EXPECT_GE(r.checks.size(), 20u) << "the other checks still ran";
}

TEST_F(DoctorTest, AnUnreachableServerIsACriticalFindingNotACrash) {
  auto r = run_doctor({.dsn = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2", .thresholds = quick()});
  ASSERT_EQ(r.findings.size(), 1u) << r.to_text();
  EXPECT_EQ(r.findings[0].check, "unreachable");
  EXPECT_EQ(r.exit_code(), kExitCritical);
}

TEST_F(DoctorTest, ActivityShowsLiveQueriesAndTheTreeOfWhoBlocksWhom) {
  conn_.execute_script("CREATE TABLE locked (id int)");
  pg::Connection holder(pg::ConnectOptions{.dsn = db_.dsn()});
  holder.execute_script("BEGIN; LOCK TABLE locked IN ACCESS EXCLUSIVE MODE;");
  std::vector<std::unique_ptr<pg::Connection>> waiters;
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) {
    waiters.push_back(std::make_unique<pg::Connection>(pg::ConnectOptions{.dsn = db_.dsn()}));
    threads.emplace_back([c = waiters.back().get()] { c->query("SELECT count(*) FROM locked"); });
  }
  Activity a;
  ASSERT_TRUE(pgstack::testing::eventually([&] {
    a = read_activity(conn_);
    return a.blocked_by(holder.backend_pid()).size() == 2;
  }, 10s)) << a.to_json().dump(2);
  EXPECT_EQ(a.blocking_roots(), std::vector<int>{holder.backend_pid()});
  const auto* waiting = a.find(waiters[0]->backend_pid());
  ASSERT_NE(waiting, nullptr);
  EXPECT_EQ(waiting->wait, "Lock:relation");
  EXPECT_NE(waiting->query.find("FROM locked"), std::string::npos);
  EXPECT_FALSE(a.by_total_time.empty()) << "pg_stat_statements is loaded here";

  // The CLI shows the same tree.
  auto top = pgstack::testing::run_cli(PGSTACK_CLI_PATH, {"top", "--db", db_.dsn(), "--once", "--json"});
  ASSERT_EQ(top.code, 0) << top.output;
  auto doc = pgstack::testing::json_of(top);
  bool shown = false;
  for (const auto& root : doc["blocking"])
    shown |= root["pid"] == holder.backend_pid() && root["blocks"].size() == 2;
  EXPECT_TRUE(shown) << doc["blocking"].dump();
  auto text = pgstack::testing::run_cli(PGSTACK_CLI_PATH, {"top", "--db", db_.dsn(), "--once"});
  EXPECT_NE(text.output.find("blocking (1 trees)"), std::string::npos) << text.output;

  holder.execute_script("COMMIT");
  for (auto& t : threads) t.join();
  EXPECT_TRUE(read_activity(conn_).blocking_roots().empty());
}

TEST_F(DoctorTest, TopWithoutPgStatStatementsShowsLiveQueriesAndTheHint) {
  conn_.execute_script("DROP EXTENSION pg_stat_statements");
  auto top = pgstack::testing::run_cli(PGSTACK_CLI_PATH, {"top", "--db", db_.dsn(), "--once"});
  EXPECT_EQ(top.code, 0) << top.output;
  EXPECT_NE(top.output.find("CREATE EXTENSION pg_stat_statements"), std::string::npos) << top.output;
  EXPECT_NE(top.output.find("live queries"), std::string::npos) << top.output;
}

TEST_F(DoctorTest, AdviseSetsMeasuredFiguresBesideTheirThresholds) {
  conn_.execute_script(
      "CREATE TABLE big AS SELECT g AS id, repeat('x', 200) AS pad FROM generate_series(1, 60000) g;"
      "CREATE TABLE articles (id int, body text, search tsvector);"
      "INSERT INTO articles SELECT g, 'word ' || g, to_tsvector('simple', 'word ' || g) FROM generate_series(1, 500) g;"
      "ANALYZE articles;");
  // During the window, scans that miss the 8 MB of shared_buffers: the cache ratio drops.
  std::atomic<bool> stop{false};
  std::thread scans([&] {
    pg::Connection c(db_.dsn());
    while (!stop) c.query("SELECT count(*) FROM big");
  });
  auto evidence = advise(conn_, {.window = 1500ms});
  stop = true;
  scans.join();
  std::map<std::string, const Evidence*> by_figure;
  for (const auto& e : evidence) by_figure[e.figure] = &e;
  ASSERT_TRUE(by_figure.count("cache hit ratio")) << to_text(evidence);
  const auto* cache = by_figure["cache hit ratio"];
  EXPECT_TRUE(cache->justified) << cache->measured_text;
  EXPECT_LT(cache->measured, 0.99);
  EXPECT_NE(to_text(evidence).find("ACT: Reads miss memory"), std::string::npos) << to_text(evidence);
  ASSERT_TRUE(by_figure.count("documents in full-text searched tables")) << to_text(evidence);
  EXPECT_EQ(by_figure["documents in full-text searched tables"]->measured, 500);
  EXPECT_FALSE(by_figure["documents in full-text searched tables"]->justified);
  ASSERT_TRUE(by_figure.count("jobs completed per second"));
  EXPECT_FALSE(by_figure["jobs completed per second"]->justified);
  EXPECT_TRUE(by_figure.count("kv table operations per second"));
  EXPECT_TRUE(by_figure.count("WAL written per second"));
  EXPECT_FALSE(by_figure.count("mean full-text query time, ms")) << "no search ran: no latency to show";
}

TEST(RateStateTest, TheBaselineIsTheOldestInsideTheWindowElseTheNewestBefore) {
  RateState s;
  for (double at : {100.0, 200.0, 290.0, 295.0}) s.record("k", {.at = at}, 50);
  // Kept: 290 and 295 inside the window of 300, and 200 as the newest before it.
  EXPECT_EQ(s.baseline("k", 300, 50)->at, 290);
  EXPECT_EQ(s.baseline("k", 400, 50)->at, 295);
  EXPECT_FALSE(s.baseline("other", 300, 50).has_value());
}

TEST(RateStateTest, AFileWithFieldsOfTheWrongTypeIsAnEmptyStateNotAnError) {
  const auto file = fs::temp_directory_path() / ("pgstack-rate-state-" + std::to_string(::getpid()) + ".json");
  std::ofstream(file) << R"({"k": [{"at": "noon", "blocks": {"app": ["many", 2]}}]})";
  std::optional<RateState> s;
  EXPECT_NO_THROW(s.emplace(file));
  fs::remove(file);
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->baseline("k", 300, 50).has_value());
}

// The built binary: exit statuses, --json, pgstack.toml's [doctor] table, bad input.
class DoctorCliTest : public DoctorTest {
 protected:
  fs::path dir_ = fs::temp_directory_path() / ("pgstack-doctor-cli-" + std::to_string(::getpid()));
  void SetUp() override { fs::create_directories(dir_); }
  void TearDown() override { fs::remove_all(dir_); }
  pgstack::testing::CliResult doctor_cli(std::vector<std::string> args) {
    args.insert(args.begin(), "doctor");
    return pgstack::testing::run_cli(PGSTACK_CLI_PATH, args, dir_.string(),
                                     {"XDG_STATE_HOME=" + (dir_ / "state").string()});
  }
};

TEST_F(DoctorCliTest, ExitStatusIsZeroHealthyOneForWarningsThreeForCritical) {
  forget_checkpoints();
  auto healthy = doctor_cli({"--db", db_.dsn(), "--json"});
  EXPECT_EQ(healthy.code, 0) << healthy.output;
  EXPECT_EQ(pgstack::testing::json_of(healthy)["status"], "healthy");

  conn_.execute_script(
      "CREATE TABLE churn (id int) WITH (autovacuum_enabled = false);"
      "INSERT INTO churn SELECT generate_series(1, 400); DELETE FROM churn WHERE id <= 200;");
  flush_stats(conn_);
  std::ofstream(dir_ / "pgstack.toml") << "[doctor]\ndead_tuples_min = 100\n";
  auto warned = doctor_cli({"--db", db_.dsn()});  // ./pgstack.toml is read
  EXPECT_EQ(warned.code, 1) << warned.output;
  EXPECT_NE(warned.output.find("dead_tuples"), std::string::npos) << warned.output;
  EXPECT_NE(warned.output.find("fix: VACUUM (ANALYZE) public.churn"), std::string::npos) << warned.output;

  auto down = doctor_cli({"--db", "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2", "--json"});
  EXPECT_EQ(down.code, 3) << down.output;
  auto doc = pgstack::testing::json_of(down);
  EXPECT_EQ(doc["status"], "critical");
  EXPECT_EQ(doc["findings"][0]["check"], "unreachable");
}

TEST_F(DoctorCliTest, BadInputIsAClearErrorThatNamesWhatToFix) {
  auto malformed = doctor_cli({"--db", "postgresql://[oops"});
  EXPECT_EQ(malformed.code, 2) << malformed.output;
  EXPECT_NE(malformed.output.find("--db is not a database URL"), std::string::npos) << malformed.output;

  std::ofstream(dir_ / "typo.toml") << "[doctor]\ncache_hit_ration_min = 0.9\n";
  auto typo = doctor_cli({"--db", db_.dsn(), "--config", (dir_ / "typo.toml").string()});
  EXPECT_EQ(typo.code, 1) << typo.output;
  EXPECT_NE(typo.output.find("[doctor] cache_hit_ration_min is not a setting pgstack knows"), std::string::npos)
      << typo.output;

  std::ofstream(dir_ / "range.toml") << "[doctor]\ncache_hit_ratio_min = 95\n";
  auto range = doctor_cli({"--db", db_.dsn(), "--config", (dir_ / "range.toml").string()});
  EXPECT_EQ(range.code, 1) << range.output;
  EXPECT_NE(range.output.find("cache_hit_ratio_min is 95; it must be from 0 to 1"), std::string::npos) << range.output;

  auto nothing = pgstack::testing::run_cli(PGSTACK_CLI_PATH, {"doctor", "--dir", (dir_ / "none").string()}, dir_.string());
  EXPECT_EQ(nothing.code, 2) << nothing.output;
  EXPECT_NE(nothing.output.find("pass --db URL"), std::string::npos) << nothing.output;
}

TEST_F(DoctorCliTest, MetricsOncePrintsAScrapeAndRulesFollowTheConfig) {
  auto once = pgstack::testing::run_cli(PGSTACK_CLI_PATH, {"metrics", "--db", db_.dsn(), "--once"});
  ASSERT_EQ(once.code, 0) << once.output;
  EXPECT_NE(once.output.find("\npgstack_up{server=\"db\"} 1\n"), std::string::npos) << once.output;

  std::ofstream(dir_ / "pgstack.toml") << "[doctor]\ncache_hit_ratio_min = 0.9\nreplication_lag_seconds = 30\n";
  auto rules = pgstack::testing::run_cli(PGSTACK_CLI_PATH, {"metrics", "rules"}, dir_.string());
  ASSERT_EQ(rules.code, 0) << rules.output;
  EXPECT_NE(rules.output.find("< 0.9\""), std::string::npos) << rules.output;
  EXPECT_NE(rules.output.find("> 30 or"), std::string::npos) << rules.output;
  std::ofstream(dir_ / "rules.yml") << rules.output;
  auto check = sys::run({"promtool", "check", "rules", (dir_ / "rules.yml").string()}, {.timeout = 30s});
  EXPECT_EQ(check.exit_code, 0) << check.output;

  auto bad = pgstack::testing::run_cli(PGSTACK_CLI_PATH, {"metrics", "--db", db_.dsn(), "--listen", "9187"});
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("expected HOST:PORT"), std::string::npos) << bad.output;
}

// Found by fuzz/stack_toml_fuzz.cc: nan is valid TOML, passed every range check (any
// comparison with it is false), and a count read as nan was cast to an integer (undefined).
TEST(Thresholds, NanAndInfinityAreRefusedLikeAnyValueOutOfRange) {
  char tmpl[] = "/tmp/pgstack-thresholds-XXXXXX";
  const fs::path dir = ::mkdtemp(tmpl);
  const fs::path file = dir / "pgstack.toml";
  for (const std::string line : {"checkpoints_min = nan", "cache_hit_ratio_min = nan", "long_query_seconds = -nan",
                                 "dead_tuples_min = inf"}) {
    std::ofstream(file) << "[doctor]\n" << line << "\n";
    const auto key = line.substr(0, line.find(' '));
    try {
      load_thresholds(file, capability::all_thresholds());
      ADD_FAILURE() << line << " was accepted";
    } catch (const Error& e) {
      // "is nan; it must be a number from 0 to 1", or for counts "must be a whole number from 1 to ...".
      EXPECT_NE(std::string(e.what()).find(fmt::format("[doctor] {} ", key)), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("number from "), std::string::npos) << e.what();
    }
  }
  fs::remove_all(dir);
}

// A capability's thresholds (capability.h) are [doctor] keys like the others: their
// defaults when absent, checked against their range, and unknown keys still refused.
TEST(Thresholds, CapabilityKeysAreReadCheckedAndPassedToTheirHealthFunctions) {
  char tmpl[] = "/tmp/pgstack-thresholds-XXXXXX";
  const fs::path dir = ::mkdtemp(tmpl);
  const fs::path file = dir / "pgstack.toml";
  std::ofstream(file) << "[doctor]\nkv_dead_ratio = 0.7\n";
  auto t = load_thresholds(file, capability::all_thresholds());
  EXPECT_EQ(t.capability.at("kv_dead_ratio"), 0.7);
  EXPECT_EQ(t.capability.at("job_oldest_available_seconds"), 300) << "the default, when the file leaves it out";
  EXPECT_EQ(t.to_json().at("kv_dead_ratio"), 0.7);
  EXPECT_EQ(t.to_json().at("dead_tuples_min"), 1000) << "the server thresholds travel too (kv_bloat reads this one)";
  for (const std::string line : {"kv_dead_ratio = 1.5", "discarded_jobs_per_hour = 2.5", "kv_dead_ratios = 0.5"}) {
    std::ofstream(file) << "[doctor]\n" << line << "\n";
    EXPECT_THROW(load_thresholds(file, capability::all_thresholds()), Error) << line << " was accepted";
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace pgstack::doctor
