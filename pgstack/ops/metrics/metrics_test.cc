// The metrics endpoint against a real PostgreSQL 15: what a scrape holds, that promtool
// accepts the text and the alerting rules, that pg_stat_statements is read and never
// reset, that the endpoint answers with pgstack_up 0 while the database is down and
// under 20 concurrent scrapes.
#include <gtest/gtest.h>

#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "pgstack/ops/doctor/testing/observe_test_cluster.h"
#include "pgstack/ops/metrics/http_endpoint.h"
#include "pgstack/ops/metrics/rules.h"
#include "pgstack/ops/metrics/scraper.h"
#include "pgstack/sys/process.h"
#include "pgstack/testing/eventually.h"

namespace pgstack::metrics {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// promtool's verdict on text given on stdin ("check metrics") or in a file.
sys::RunResult promtool(const std::vector<std::string>& args, const std::string& input = {}) {
  std::vector<std::string> argv = {"promtool"};
  argv.insert(argv.end(), args.begin(), args.end());
  return sys::run(argv, {.timeout = 30s, .input = input});
}

// The value of the sample whose line starts with series ("pgstack_up{server=\"db\"}").
std::optional<double> sample(const std::string& text, const std::string& series) {
  std::size_t pos = 0;
  while ((pos = text.find(series + " ", pos)) != std::string::npos) {
    if (pos == 0 || text[pos - 1] == '\n') return std::stod(text.substr(pos + series.size() + 1));
    pos += series.size();
  }
  return std::nullopt;
}

TEST(ExpositionTest, FamiliesStayTogetherAndLabelValuesAreEscaped) {
  Exposition a, b;
  a.family("pgstack_x", "gauge", "X.");
  a.sample("pgstack_x", {{"server", "primary"}}, 1);
  b.family("pgstack_y", "counter", "Y.");
  b.family("pgstack_x", "gauge", "X.");
  b.sample("pgstack_y", {}, 2.5);
  b.sample("pgstack_x", {{"server", "a\"b\\c\nd"}}, 3);
  a.merge(std::move(b));
  EXPECT_EQ(a.text(),
            "# HELP pgstack_x X.\n# TYPE pgstack_x gauge\npgstack_x{server=\"primary\"} 1\n"
            "pgstack_x{server=\"a\\\"b\\\\c\\nd\"} 3\n"
            "# HELP pgstack_y Y.\n# TYPE pgstack_y counter\npgstack_y 2.5\n");
  EXPECT_THROW(a.sample("pgstack_undeclared", {}, 1), pg::UsageError);
}

TEST(ListenAddressTest, HostAndPortAreParsedAndBadOnesNamed) {
  auto a = parse_listen_address("127.0.0.1:9187");
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 9187);
  EXPECT_EQ(parse_listen_address("[::1]:80").host, "::1");
  EXPECT_EQ(parse_listen_address(":9187").host, "0.0.0.0");
  EXPECT_THROW(parse_listen_address("9187"), pg::UsageError);
  EXPECT_THROW(parse_listen_address("localhost:http"), pg::UsageError);
  EXPECT_THROW(parse_listen_address("localhost:70000"), pg::UsageError);
}

TEST(RulesTest, PromtoolAcceptsTheRulesAtDefaultAndCustomThresholds) {
  doctor::Thresholds custom;
  custom.cache_hit_ratio_min = 0.99;
  custom.idle_in_transaction_seconds = 12.5;
  for (const auto& t : {doctor::Thresholds{}, custom}) {
    auto file = fs::temp_directory_path() / ("pgstack-rules-" + std::to_string(::getpid()) + ".yml");
    std::ofstream(file) << alerting_rules(t);
    auto r = promtool({"check", "rules", file.string()});
    fs::remove(file);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("SUCCESS: 7 rules found"), std::string::npos) << r.output;
  }
  auto text = alerting_rules(custom);
  EXPECT_NE(text.find("< 0.99"), std::string::npos);
  EXPECT_NE(text.find("older_than_seconds=\\\"12.5\\\""), std::string::npos) << text;
}

class MetricsTest : public ::testing::Test {
 protected:
  pgstack::testing::TestDatabase db_ = doctor::observe_cluster().create_database();
  pg::Connection conn_{db_.dsn()};
  ScraperOptions options(int top = 50) {
    ScraperOptions o;
    o.servers.push_back({"db", db_.dsn()});
    o.collect.top_statements = top;
    return o;
  }
};

TEST_F(MetricsTest, AScrapeHoldsTheFiguresBehindTheChecksAndPromtoolAcceptsIt) {
  conn_.execute_script(
      "CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, total int);"
      "INSERT INTO orders (total) SELECT g FROM generate_series(1, 100) g; DELETE FROM orders WHERE id <= 40;"
      "SELECT pgstack.kv_set('default', 'k', 'v');");
  doctor::flush_stats(conn_);
  Scraper scraper(options());
  auto text = scraper.scrape();
  EXPECT_EQ(sample(text, R"(pgstack_up{server="db"})"), 1);
  const std::string table = R"({server="db",database=")" + db_.name() + R"(",schema="public",table="orders"})";
  EXPECT_EQ(sample(text, "pgstack_table_dead_tuples" + table), 40) << text;
  EXPECT_EQ(sample(text, "pgstack_table_live_tuples" + table), 60);
  EXPECT_EQ(sample(text, "pgstack_table_rows_inserted_total" + table), 100);
  EXPECT_TRUE(sample(text, R"(pgstack_database_blocks_hit_total{server="db",database=")" + db_.name() + "\"}"));
  for (const char* family :
       {"pgstack_connections{", "pgstack_max_connections{", "pgstack_idle_in_transaction_sessions{",
        "pgstack_checkpoints_requested_total{", "pgstack_checkpoints_timed_total{", "pgstack_wal_bytes_total{",
        "pgstack_database_xid_age{", "pgstack_index_scans_total{", "pgstack_sequence_used_ratio{",
        "pgstack_archiver_failed_total{", "pgstack_statement_calls_total{", "pgstack_statement_info{",
        "pgstack_kv_entries{", "pgstack_jobs_completed_total{", "pgstack_scrape_duration_seconds{"})
    EXPECT_NE(text.find(std::string("\n") + family), std::string::npos) << family;
  EXPECT_EQ(sample(text, R"(pgstack_pg_stat_statements_available{server="db"})"), 1);

  auto check = promtool({"check", "metrics"}, text);
  EXPECT_EQ(check.exit_code, 0) << check.output;
}

// One job or one publish made the sequence query fail (a sequence no column owns) and
// with it the whole server's scrape: pgstack_up 0 on a healthy server.
TEST_F(MetricsTest, SequencesNoColumnOwnsAreScrapedLikeTheOthers) {
  conn_.execute_script(
      "SELECT pgstack.job_kind_register('metrics_test'); SELECT pgstack.job_enqueue('metrics_test');"
      "SELECT pgstack.pubsub_publish('metrics.test', 'hello'); CREATE SEQUENCE loose_seq; SELECT nextval('loose_seq');");
  Scraper scraper(options());
  auto text = scraper.scrape();
  EXPECT_EQ(sample(text, R"(pgstack_up{server="db"})"), 1) << text;
  const std::string db = R"(pgstack_sequence_used_ratio{server="db",database=")" + db_.name() + R"(",)";
  for (const char* seq : {R"(schema="pgstack",sequence="job_id_seq"})", R"(schema="pgstack",sequence="pubsub_message_seq"})",
                          R"(schema="public",sequence="loose_seq"})"})
    EXPECT_TRUE(sample(text, db + seq)) << seq << "\n" << text;
  EXPECT_EQ(sample(text, R"(pgstack_collector_success{server="db",collector="relations"})"), 1);
}

// A group whose query fails (here: the scraping role may not read pg_sequences) loses
// its own figures and says so; the server is still up and everything else is there.
TEST_F(MetricsTest, OneFailingQueryNeverFailsTheServersScrape) {
  conn_.execute_script(
      "CREATE ROLE metrics_limited LOGIN; REVOKE SELECT ON pg_catalog.pg_sequences FROM PUBLIC;"
      "GRANT pg_monitor TO metrics_limited");
  ScraperOptions o;
  o.servers.push_back({"db", db_.dsn() + " user=metrics_limited"});
  Scraper scraper(o);
  auto text = scraper.scrape();
  conn_.execute_script("GRANT SELECT ON pg_catalog.pg_sequences TO PUBLIC; DROP OWNED BY metrics_limited");
  EXPECT_EQ(sample(text, R"(pgstack_up{server="db"})"), 1) << text;
  EXPECT_EQ(sample(text, R"(pgstack_collector_success{server="db",collector="relations"})"), 0) << text;
  EXPECT_EQ(sample(text, R"(pgstack_collector_success{server="db",collector="activity"})"), 1);
  EXPECT_EQ(text.find("pgstack_sequence_used_ratio{"), std::string::npos);
  EXPECT_EQ(text.find("pgstack_table_live_tuples{"), std::string::npos) << "a failed group's other figures leaked";
  EXPECT_NE(text.find("pgstack_connections{"), std::string::npos);
  EXPECT_NE(text.find("pgstack_database_xid_age{"), std::string::npos);
  auto check = promtool({"check", "metrics"}, text);
  EXPECT_EQ(check.exit_code, 0) << check.output;
}

TEST_F(MetricsTest, StatementsAreReadNeverResetAndLimitedToTheTop) {
  conn_.execute_script("CREATE TABLE metrics_test_marker (id int)");
  for (int i = 0; i < 5; ++i) conn_.query("SELECT count(*) FROM metrics_test_marker");
  auto count_calls = [&] {
    return conn_.query_value<std::int64_t>(
        "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements WHERE query LIKE '%metrics_test_marker%'");
  };
  const auto before = count_calls();
  ASSERT_GE(before, 5);
  Scraper scraper(options(3));
  auto text = scraper.scrape();
  scraper.scrape();
  EXPECT_GE(count_calls(), before) << "pg_stat_statements was reset";
  std::size_t infos = 0;
  for (std::size_t pos = 0; (pos = text.find("\npgstack_statement_info{", pos)) != std::string::npos; ++pos) ++infos;
  EXPECT_EQ(infos, 3u);
}

TEST_F(MetricsTest, WithoutPgStatStatementsTheRestIsScrapedAndTheGapIsAMetric) {
  conn_.execute_script("DROP EXTENSION pg_stat_statements");
  Scraper scraper(options());
  auto text = scraper.scrape();
  EXPECT_EQ(sample(text, R"(pgstack_up{server="db"})"), 1);
  EXPECT_EQ(sample(text, R"(pgstack_pg_stat_statements_available{server="db"})"), 0);
  EXPECT_EQ(text.find("pgstack_statement_calls_total{"), std::string::npos);
  EXPECT_NE(text.find("pgstack_table_live_tuples"), std::string::npos);
}

TEST_F(MetricsTest, TheEndpointAnswersWithUpZeroWhileTheDatabaseIsDownAndRecovers) {
  Scraper scraper(options());
  HttpEndpoint endpoint(scraper, "127.0.0.1", 0);
  std::thread serving([&] { endpoint.serve(); });
  httplib::Client client("127.0.0.1", endpoint.port());
  client.set_read_timeout(10, 0);
  auto up = [&]() -> std::optional<double> {
    auto res = client.Get("/metrics");
    if (!res || res->status != 200) return std::nullopt;
    return sample(res->body, R"(pgstack_up{server="db"})");
  };
  EXPECT_EQ(up(), 1);
  auto& cluster = doctor::observe_cluster();
  cluster.stop();
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(up(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s) << "a down server must not stall the scrape";
  cluster.start();
  EXPECT_TRUE(pgstack::testing::eventually([&] { return up() == 1; }, 10s)) << "the scraper reconnects";
  endpoint.stop();
  serving.join();
}

TEST_F(MetricsTest, TwentyConcurrentScrapesAllAnswerAndShareTheirWork) {
  // How many scrapes reached the database: calls of the scrape's per-table query.
  auto table_reads = [&] {
    return conn_.query_value<std::int64_t>(
        "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements "
        "WHERE query LIKE 'SELECT current_database()::text, schemaname::text, relname::text%'");
  };
  const auto before = table_reads();
  Scraper scraper(options());
  HttpEndpoint endpoint(scraper, "127.0.0.1", 0);
  std::thread serving([&] { endpoint.serve(); });
  std::atomic<int> ok{0};
  std::vector<std::thread> scrapers;
  for (int i = 0; i < 20; ++i)
    scrapers.emplace_back([&] {
      httplib::Client client("127.0.0.1", endpoint.port());
      client.set_read_timeout(30, 0);
      auto res = client.Get("/metrics");
      if (res && res->status == 200 && sample(res->body, R"(pgstack_up{server="db"})") == 1 &&
          res->get_header_value("Content-Type").starts_with("text/plain; version=0.0.4"))
        ++ok;
    });
  for (auto& t : scrapers) t.join();
  EXPECT_EQ(ok, 20);
  // Scrapes that arrive while one runs wait for it and take its text.
  EXPECT_LT(table_reads() - before, 20) << "every scrape reached the database";
  endpoint.stop();
  serving.join();
}

TEST_F(MetricsTest, APortInUseIsAClearError) {
  Scraper scraper(options());
  HttpEndpoint first(scraper, "127.0.0.1", 0);
  try {
    HttpEndpoint second(scraper, "127.0.0.1", first.port());
    FAIL() << "a second endpoint bound the same port";
  } catch (const pgstack::Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot listen on 127.0.0.1:" + std::to_string(first.port())),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace pgstack::metrics
