// doctor, metrics, top and advise on a real stack made by `pgstack up` (primary, hot
// standby, PgBouncer, pgBackRest): a standby whose replay is stopped lags and clears, a
// stopped standby is critical and its slot holds WAL, PgBouncer clients wait for a
// server, WAL archiving fails and recovers, a backup older than the policy; every server
// of the stack is scraped, also by the built `pgstack metrics` serving HTTP.
#include <gtest/gtest.h>

#include <httplib.h>
#include <signal.h>

#include <chrono>
#include <set>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "pgstack/ops/stack/postgres_server.h"
#include "pgstack/ops/stack/testing/stack_fixture.h"
#include "pgstack/ops/doctor/doctor.h"
#include "pgstack/ops/metrics/scraper.h"
#include "pgstack/pg/connection.h"
#include "pgstack/base/files.h"
#include "pgstack/sys/process.h"
#include "pgstack/testing/cli_runner.h"
#include "pgstack/testing/eventually.h"

namespace pgstack::doctor {
namespace {

using namespace std::chrono_literals;
using pgstack::testing::eventually;

std::optional<double> sample(const std::string& text, const std::string& series) {
  for (std::size_t pos = 0; (pos = text.find(series + " ", pos)) != std::string::npos; pos += series.size())
    if (pos == 0 || text[pos - 1] == '\n') return std::stod(text.substr(pos + series.size() + 1));
  return std::nullopt;
}

class ObserveStackTest : public stack::StackFixture {
 protected:
  Report doctor(const Thresholds& t = {}) { return run_doctor({.dir = layout().dir, .thresholds = t}); }
  std::string scrape() { return metrics::Scraper(metrics::Scraper::for_stack(layout())).scrape(); }
  pgstack::testing::CliResult cli(const std::vector<std::string>& args) {
    return pgstack::testing::run_cli(PGSTACK_CLI_PATH, args, {}, {"XDG_STATE_HOME=" + (root_ / "state").string()});
  }
  static const Finding* find(const Report& r, const std::string& check, const std::string& server) {
    for (const auto& f : r.findings)
      if (f.check == check && f.server == server) return &f;
    return nullptr;
  }
};

TEST_F(ObserveStackTest, AFreshStackIsHealthyAndEveryServerIsChecked) {
  auto r = doctor();
  EXPECT_EQ(r.exit_code(), kExitHealthy) << r.to_text();
  std::set<std::string> servers;
  for (const auto& c : r.checks) servers.insert(c.server);
  EXPECT_EQ(servers, (std::set<std::string>{"primary", "standby", "pgbouncer", "backups"}));
}

TEST_F(ObserveStackTest, EveryServerPgBouncerAndTheBackupsAreScraped) {
  pg::Connection pooled(pg::ConnectOptions{.dsn = layout().pooled_dsn("app"), .statement_cache = false});
  pooled.query("SELECT 1");
  auto text = scrape();
  for (const char* server : {"primary", "standby", "pgbouncer"})
    EXPECT_EQ(sample(text, fmt::format(R"(pgstack_up{{server="{}"}})", server)), 1) << server << "\n" << text;
  EXPECT_EQ(sample(text, R"(pgstack_in_recovery{server="standby"})"), 1);
  EXPECT_EQ(sample(text, R"(pgstack_in_recovery{server="primary"})"), 0);
  EXPECT_TRUE(sample(text, R"(pgstack_replication_lag_seconds{server="standby"})"));
  EXPECT_NE(text.find("\npgstack_replica_replay_lag_seconds{server=\"primary\",standby="), std::string::npos) << text;
  EXPECT_NE(text.find("\npgstack_replication_slot_active{server=\"primary\""), std::string::npos);
  EXPECT_NE(text.find("\npgstack_pgbouncer_clients_active{database=\"app\",user=\"app\"}"), std::string::npos) << text;
  EXPECT_NE(text.find("\npgstack_pgbouncer_transactions_total{database=\"app\"}"), std::string::npos) << text;
  EXPECT_GE(sample(text, "pgstack_backups").value_or(0), 1);
  EXPECT_TRUE(sample(text, R"(pgstack_backup_last_completion_timestamp_seconds{type="full"})"));
  EXPECT_NE(text.find("\npgstack_jobs_completed_total{"), std::string::npos) << "the stack's app has the job queue";
  auto check = sys::run({"promtool", "check", "metrics"}, {.timeout = 30s, .input = text});
  EXPECT_EQ(check.exit_code, 0) << check.output;
}

TEST_F(ObserveStackTest, AStandbyWhoseReplayIsStoppedLagsAndClearsWhenItResumes) {
  Thresholds t;
  t.replication_lag_seconds = 1;
  pg::Connection standby(layout().dsn(layout().standby()));
  pg::Connection primary(layout().dsn());
  // A commit replayed first, as on any standby in use: lag is measured from it.
  primary.execute_script("CREATE TABLE IF NOT EXISTS lag_marker (id int); INSERT INTO lag_marker VALUES (1);");
  ASSERT_TRUE(eventually([&] { return standby.query_value<bool>("SELECT to_regclass('lag_marker') IS NOT NULL"); }, 10s));
  standby.query("SELECT pg_wal_replay_pause()");
  primary.execute_script("INSERT INTO lag_marker VALUES (2)");
  Report fired;
  // At once a warning (paused, WAL waiting); past the threshold, critical.
  const Finding* f = nullptr;
  ASSERT_TRUE(eventually([&] {
    fired = doctor(t);
    f = find(fired, "replication_lag", "standby");
    return f && f->severity == Severity::critical;
  }, 15s)) << fired.to_text();
  EXPECT_NE(f->what.find("replay is PAUSED"), std::string::npos) << f->what;
  EXPECT_EQ(f->fix, "SELECT pg_wal_replay_resume();  -- on the standby");
  EXPECT_EQ(fired.exit_code(), kExitCritical);
  EXPECT_GT(sample(scrape(), R"(pgstack_replication_lag_seconds{server="standby"})").value_or(0), 1);

  standby.query("SELECT pg_wal_replay_resume()");
  Report cleared;
  EXPECT_TRUE(eventually([&] { return !(cleared = doctor(t)).has("replication_lag"); }, 15s)) << cleared.to_text();
}

TEST_F(ObserveStackTest, PgBouncerClientsWaitingForAServerAreFoundAndClear) {
  std::vector<pg::Connection> holding;
  for (int i = 0; i < layout().pgbouncer.default_pool_size; ++i) {
    holding.emplace_back(pg::ConnectOptions{.dsn = layout().pooled_dsn("app"), .statement_cache = false});
    holding.back().execute_script("BEGIN; SELECT 1;");  // each holds a server connection
  }
  std::thread waiting([&] {
    pg::Connection one(pg::ConnectOptions{.dsn = layout().pooled_dsn("app"), .statement_cache = false});
    one.query("SELECT 1");  // waits for a server connection
  });
  Report fired;
  ASSERT_TRUE(eventually([&] { return (fired = doctor()).has("pgbouncer_waiting", "pgbouncer"); }, 15s))
      << fired.to_text();
  EXPECT_NE(find(fired, "pgbouncer_waiting", "pgbouncer")->subject.find("pool app/app"), std::string::npos);
  EXPECT_GE(sample(scrape(), R"(pgstack_pgbouncer_clients_waiting{database="app",user="app"})").value_or(0), 1);

  for (auto& c : holding) c.execute_script("COMMIT");
  waiting.join();
  EXPECT_FALSE(doctor().has("pgbouncer_waiting"));
}

TEST_F(ObserveStackTest, FailingWalArchivingIsCriticalAndClearsOnceArchivingWorks) {
  pg::Connection primary(layout().dsn());
  primary.execute_script("ALTER SYSTEM SET archive_command = 'false'");
  primary.query("SELECT pg_reload_conf()");
  primary.execute_script("CREATE TABLE IF NOT EXISTS archive_marker (id int); INSERT INTO archive_marker VALUES (1);");
  primary.query("SELECT pg_switch_wal()");
  Report fired;
  bool failing = eventually([&] { return (fired = doctor()).has("archiving_failing", "primary"); }, 20s);
  primary.execute_script("ALTER SYSTEM RESET archive_command");
  primary.query("SELECT pg_reload_conf()");  // also wakes the archiver to retry now
  ASSERT_TRUE(failing) << fired.to_text();
  EXPECT_EQ(find(fired, "archiving_failing", "primary")->severity, Severity::critical);
  Report cleared;
  EXPECT_TRUE(eventually([&] { return !(cleared = doctor()).has("archiving_failing"); }, 30s)) << cleared.to_text();
}

TEST_F(ObserveStackTest, ABackupOlderThanThePolicyIsAWarning) {
  Thresholds t;
  t.backup_max_age_hours = 1e-6;
  auto stale = doctor(t);
  const auto* f = find(stale, "backup_age", "backups");
  ASSERT_NE(f, nullptr) << stale.to_text();
  EXPECT_EQ(f->severity, Severity::warning);
  EXPECT_FALSE(doctor().has("backup_age"));
}

TEST_F(ObserveStackTest, TopAndAdviseReportTheStack) {
  auto top = cli({"top", "--dir", layout().dir.string(), "--once", "--json"});
  ASSERT_EQ(top.code, 0) << top.output;
  auto doc = pgstack::testing::json_of(top);
  EXPECT_FALSE(doc["by_total_time"].empty()) << "the stack loads pg_stat_statements";
  EXPECT_TRUE(doc["statements_unavailable"].is_null());

  auto advise = cli({"advise", "--dir", layout().dir.string(), "--window", "300ms", "--json"});
  ASSERT_EQ(advise.code, 0) << advise.output;
  std::set<std::string> areas;
  auto evidence = pgstack::testing::json_of(advise)["evidence"];
  for (const auto& e : evidence) areas.insert(e["area"].get<std::string>());
  for (const char* area : {"jobs", "kv", "cache", "size", "writes"}) EXPECT_TRUE(areas.count(area)) << area;
}

TEST_F(ObserveStackTest, TheMetricsCommandServesHttpAndStopsOnSigterm) {
  const int port = sys::free_tcp_port();
  auto log = (root_ / "metrics.log").string();
  pid_t pid = sys::spawn({PGSTACK_CLI_PATH, "metrics", "--dir", layout().dir.string(), "--listen",
                          fmt::format("127.0.0.1:{}", port)},
                         {}, log);
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(10, 0);
  httplib::Result res{nullptr, httplib::Error::Unknown};
  EXPECT_TRUE(eventually([&] { return (res = client.Get("/metrics")) && res->status == 200; }, 10s))
      << pgstack::read_text_file(log);
  if (res) {
    EXPECT_EQ(sample(res->body, R"(pgstack_up{server="standby"})"), 1);
  }
  ::kill(pid, SIGTERM);
  EXPECT_TRUE(eventually([&] { return !sys::process_alive(pid); }, 10s)) << "SIGTERM stops it";
}

// On every address, the exporter serves HTTPS with the certificate `up` made for
// PostgreSQL and asks for the bearer token: curl trusting that certificate gets 401
// without the token and the stack's figures with it.
TEST_F(ObserveStackTest, TheMetricsCommandServesTheStacksCertificateAndAsksForCredentials) {
  const auto token = root_ / "metrics.token";
  pgstack::write_text_file(token.string(), "0123456789abcdef0123456789abcdef\n");
  std::filesystem::permissions(token, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::replace);
  const int port = sys::free_tcp_port();
  const auto log = (root_ / "metrics-tls.log").string();
  pid_t pid = sys::spawn({PGSTACK_CLI_PATH, "metrics", "--dir", layout().dir.string(), "--listen",
                          fmt::format("0.0.0.0:{}", port), "--tls-from-stack", "--bearer-token-file", token.string()},
                         {}, log);
  const auto cert = (layout().primary().dir / "server.crt").string();
  auto curl = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {"curl", "-sS", "-i", "--max-time", "20", "--cacert", cert};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(fmt::format("https://localhost:{}/metrics", port));
    return sys::run(argv, {.timeout = 30s}).output;
  };
  EXPECT_TRUE(eventually([&] { return curl({}).find("HTTP/1.1 401") != std::string::npos; }, 10s))
      << curl({}) << pgstack::read_text_file(log);
  auto with_token = curl({"-H", "Authorization: Bearer 0123456789abcdef0123456789abcdef"});
  EXPECT_NE(with_token.find("HTTP/1.1 200"), std::string::npos) << with_token;
  EXPECT_EQ(sample(with_token.substr(with_token.find("\r\n\r\n") + 4), R"(pgstack_up{server="primary"})"), 1)
      << with_token;
  EXPECT_NE(pgstack::read_text_file(log).find("serving https://0.0.0.0"), std::string::npos) << pgstack::read_text_file(log);
  ::kill(pid, SIGTERM);
  EXPECT_TRUE(eventually([&] { return !sys::process_alive(pid); }, 10s)) << "SIGTERM stops it";
}

// Last: it stops the standby, and `up` brings it back.
TEST_F(ObserveStackTest, AStoppedStandbyIsCriticalItsSlotHoldsWalAndMetricsStillAnswer) {
  stack::PostgresServer(layout(), *layout().standby()).stop();
  pg::Connection primary(layout().dsn());
  primary.execute_script("CREATE TABLE IF NOT EXISTS while_down (id int); INSERT INTO while_down VALUES (1);");
  auto r = cli({"doctor", "--dir", layout().dir.string(), "--json"});
  EXPECT_EQ(r.code, 3) << r.output;
  auto doc = pgstack::testing::json_of(r);
  bool down = false, slot = false;
  for (const auto& f : doc["findings"]) {
    down |= f["check"] == "component_down" && f["server"] == "standby" && f["severity"] == "critical";
    slot |= f["check"] == "inactive_slot" && f["server"] == "primary";
  }
  EXPECT_TRUE(down) << r.output;
  EXPECT_TRUE(slot) << r.output;
  auto text = scrape();
  EXPECT_EQ(sample(text, R"(pgstack_up{server="standby"})"), 0) << text;
  EXPECT_EQ(sample(text, R"(pgstack_up{server="primary"})"), 1);

  stack::up({.dir = layout().dir});
  EXPECT_FALSE(doctor().has("component_down"));
}

}  // namespace
}  // namespace pgstack::doctor
