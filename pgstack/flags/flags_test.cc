// Feature flags against a real PostgreSQL: the C++ and SQL evaluators agree, rollouts
// are even, changes reach every client within 100 ms, every change is recorded, and
// bad configurations are refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "pgstack/flags/flag_client.h"
#include "pgstack/pg/errors.h"
#include "pgstack/pg/pool.h"
#include "pgstack/schema/testing/schema_test_cluster.h"
#include "pgstack/testing/eventually.h"
#include "pgstack/testing/eventually.h"

namespace pgstack::flags {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class FlagsTest : public ::testing::Test {
 protected:
  pgstack::testing::TestDatabase db_ = schema::cluster_with_schemas().create_database();
  pg::Connection conn_{db_.dsn()};

  void create(const std::string& key, const std::string& kind = "boolean", std::optional<json> variants = std::nullopt) {
    conn_.query("select pgstack.flag_create($1, $2, $3)", key, kind, variants);
  }
  std::int64_t set(const std::string& key, const json& config, const std::string& env = "production") {
    return conn_.query_value<std::int64_t>("select pgstack.flag_set($1, $2, $3, 'test')", key, env, config);
  }
  std::string sqlstate_of(const std::function<void()>& f) {
    try {
      f();
    } catch (const pg::SqlError& e) {
      return e.sqlstate();
    }
    return "";
  }
};

TEST_F(FlagsTest, SemverAndBucketAgreeWithSql) {
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"1.2.3", "1.2.3"}, {"1.2.3", "1.10.0"}, {"v2.0.0", "1.99.99"}, {"1.0.0-alpha", "1.0.0"},
      {"1.0.0-alpha", "1.0.0-alpha.1"}, {"1.0.0-alpha.1", "1.0.0-alpha.beta"}, {"1.0.0-beta.2", "1.0.0-beta.11"},
      {"1.0.0-rc.1", "1.0.0-beta"}, {"1.0.0+build.5", "1.0.0"}, {"1.2", "1.2.0"}, {"01.2.3", "1.2.3"},
      {"1.2.3-", "1.2.3"}, {"99999999999999999999.0.0", "99999999999999999998.0.0"}};
  for (const auto& [a, b] : pairs) {
    auto sql = conn_.query_value<std::optional<std::int32_t>>("select pgstack.flag_semver_compare($1, $2)", a, b);
    auto cpp = semver_compare(a, b);
    EXPECT_EQ(sql.has_value(), cpp.has_value()) << a << " vs " << b;
    if (sql && cpp) {
      EXPECT_EQ(*sql, *cpp) << a << " vs " << b;
    }
  }
  EXPECT_EQ(semver_compare("1.0.0-alpha", "1.0.0"), -1);
  EXPECT_EQ(semver_compare("1.0.0-beta.11", "1.0.0-beta.2"), 1);
  for (const char* subject : {"", "user-1", "user-2", "ü-ñicode", "a:b"}) {
    EXPECT_EQ(static_cast<std::uint32_t>(
                  conn_.query_value<std::int32_t>("select pgstack.flag_bucket('checkout', $1)", subject)),
              bucket("checkout", subject))
        << subject;
  }
}

TEST_F(FlagsTest, CppAndSqlGiveTheSameAnswerForEverySubject) {
  create("rich");
  create("color", "variant", json{"control", "blue", "green"});
  set("rich", {{"enabled", true},
               {"rules",
                {{{"when", {{{"attribute", "country"}, {"op", "in"}, {"values", {"DE", "FR"}}}}}, {"serve", true}, {"percentage", 30}},
                 {{"when", {{{"attribute", "email"}, {"op", "ends_with"}, {"value", "@example.com"}}}}, {"serve", true}},
                 {{"when", {{{"attribute", "age"}, {"op", "gte"}, {"value", 40}}, {{"attribute", "plan"}, {"op", "not_equals"}, {"value", "free"}}}}, {"serve", true}},
                 {{"when", {{{"attribute", "app_version"}, {"op", "semver_gte"}, {"value", "2.1.0"}}}}, {"serve", true}, {"percentage", 50.5}},
                 {{"when", {{{"attribute", "groups"}, {"op", "contains"}, {"value", "beta"}}}}, {"serve", true}}}},
               {"default", false}});
  set("color", {{"enabled", true},
                {"rules",
                 {{{"when", {{{"attribute", "plan"}, {"op", "equals"}, {"value", "pro"}}}}, {"serve", "green"}},
                  {{"split", {{{"value", "control"}, {"weight", 33.333}}, {{"value", "blue"}, {"weight", 33.333}}, {{"value", "green"}, {"weight", 33.334}}}}}}}});
  auto snapshot = load_snapshot(conn_, "production");

  std::mt19937 random(42);
  auto pick = [&](const std::vector<json>& from) { return from[random() % from.size()]; };
  std::vector<std::string> subjects;
  std::vector<json> attributes;
  for (int i = 0; i < 3000; ++i) {
    subjects.push_back("user-" + std::to_string(i));
    json a = json::object();
    if (random() % 4) a["country"] = pick({"DE", "FR", "US", "BR"});
    if (random() % 3) a["email"] = pick({"a@example.com", "b@example.org", "example.com@x.net"});
    if (random() % 2) a["age"] = pick({18, 39.5, 40, 41, "40"});
    if (random() % 2) a["plan"] = pick({"free", "pro", "team", nullptr});
    if (random() % 2) a["app_version"] = pick({"2.0.9", "2.1.0", "2.1.0-rc.1", "10.0.0", "bogus"});
    if (random() % 3) a["groups"] = pick({json{"beta", "staff"}, json{"staff"}, json("beta-tester"), json::array()});
    attributes.push_back(a);
  }
  for (const char* flag : {"rich", "color"}) {
    auto r = conn_.query(
        "select e.value, e.reason from unnest($2::text[], $3::jsonb[]) with ordinality s(subject, attrs, n), "
        "lateral pgstack.flag_evaluation($1, 'production', s.subject, s.attrs) e order by s.n",
        flag, subjects, attributes);
    ASSERT_EQ(static_cast<std::size_t>(r.rows()), subjects.size());
    int mismatches = 0;
    for (std::size_t i = 0; i < subjects.size(); ++i) {
      auto cpp = snapshot->evaluate(flag, {.subject = subjects[i], .attributes = attributes[i]});
      if (cpp.value != r[i].get<json>(0) || cpp.reason != r[i].get<std::string>(1)) {
        if (++mismatches <= 5)
          ADD_FAILURE() << flag << " for " << subjects[i] << " " << attributes[i].dump() << ": C++ " << cpp.value
                        << " (" << cpp.reason << "), SQL " << r[i].get<json>(0) << " (" << r[i].get<std::string>(1) << ")";
      }
    }
    EXPECT_EQ(mismatches, 0) << flag;
  }
}

TEST_F(FlagsTest, ARolloutOf30PercentLandsWithinOnePercent) {
  create("rollout");
  set("rollout", {{"enabled", true}, {"rules", {{{"serve", true}, {"percentage", 30}}}}});
  auto snapshot = load_snapshot(conn_, "production");
  int on = 0;
  for (int i = 0; i < 100000; ++i) on += snapshot->is_enabled("rollout", {.subject = "user-" + std::to_string(i)});
  EXPECT_GE(on, 29000);
  EXPECT_LE(on, 31000);
  // And the SQL side counts the same subjects in.
  EXPECT_EQ(conn_.query_value<std::int64_t>(
                "select count(*) from generate_series(0, 99999) i "
                "where pgstack.flag_bucket('rollout', 'user-' || i) < 30000"),
            on);
  // Raising the percentage only adds subjects: nobody who had it loses it.
  set("rollout", {{"enabled", true}, {"rules", {{{"serve", true}, {"percentage", 50}}}}});
  auto wider = load_snapshot(conn_, "production");
  for (int i = 0; i < 2000; ++i) {
    Context who{.subject = "user-" + std::to_string(i)};
    if (snapshot->is_enabled("rollout", who)) {
      ASSERT_TRUE(wider->is_enabled("rollout", who)) << who.subject;
    }
  }
}

TEST_F(FlagsTest, EveryChangeIsRecordedWithWhoBeforeAndAfter) {
  create("audited");
  set("audited", {{"enabled", false}});
  EXPECT_EQ(set("audited", {{"enabled", true}}), 2);
  conn_.query("select pgstack.flag_delete('audited', 'alice')");
  auto h = conn_.query("select environment, changed_by, before, after from pgstack.flag_history('audited')");
  ASSERT_EQ(h.rows(), 4);  // created, configured, reconfigured, deleted (newest first)
  EXPECT_FALSE(h[0].get<std::optional<std::string>>(0).has_value());
  EXPECT_EQ(h[0].get<std::string>(1), "alice");
  EXPECT_FALSE(h[0].get<std::optional<json>>(3).has_value());
  EXPECT_EQ(h[1].get<std::string>(0), "production");
  EXPECT_EQ(h[1].get<std::string>(1), "test");
  EXPECT_EQ(h[1].get<json>(2), json({{"enabled", false}}));
  EXPECT_EQ(h[1].get<json>(3), json({{"enabled", true}}));
}

TEST_F(FlagsTest, BadInputGetsAClearErrorAndChangesNothing) {
  create("f");
  set("f", {{"enabled", true}});
  auto changes = [&] { return conn_.query_value<std::int64_t>("select count(*) from pgstack.flag_changes"); };
  const auto before = changes();
  auto rule = [](json r) { return json{{"enabled", true}, {"rules", {r}}}; };
  const std::vector<json> bad = {
      json::array(),
      {{"enabled", "yes"}},
      {{"enabled", true}, {"extra", 1}},
      rule({{"when", {{{"attribute", "country"}, {"op", "equal"}, {"value", "DE"}}}}, {"serve", true}}),
      rule({{"serve", true}, {"percentage", 150}}),
      rule({{"serve", true}, {"percentage", 10.0001}}),
      rule({{"serve", "yes"}}),
      rule({{"split", {{{"value", true}, {"weight", 90}}}}}),
      rule({{"when", {{{"attribute", "v"}, {"op", "semver_gt"}, {"value", "2.x"}}}}, {"serve", true}}),
      rule({{"when", {{{"attribute", "n"}, {"op", "lt"}, {"value", "ten"}}}}, {"serve", true}}),
      rule({{"when", {{{"attribute", "c"}, {"op", "in"}, {"values", json::array()}}}}, {"serve", true}}),
      rule({{"when", {{{"op", "equals"}, {"value", 1}}}}, {"serve", true}}),
  };
  for (const auto& config : bad) {
    try {
      set("f", config);
      ADD_FAILURE() << "accepted " << config.dump();
    } catch (const pg::SqlError& e) {
      EXPECT_EQ(e.sqlstate(), "22023") << config.dump();
      EXPECT_NE(std::string(e.what()).find("flags: "), std::string::npos) << e.what();
    }
  }
  try {
    set("f", rule({{"when", {{{"attribute", "country"}, {"op", "equal"}, {"value", "DE"}}}}, {"serve", true}}));
    ADD_FAILURE() << "an unknown op was accepted";
  } catch (const pg::SqlError& e) {
    EXPECT_NE(std::string(e.what()).find("rules[1].when[1]: unknown op 'equal'"), std::string::npos) << e.what();
  }
  // A hand-written UPDATE is checked too.
  EXPECT_EQ(sqlstate_of([&] { conn_.query("update pgstack.flag_configs set config = '{\"enabled\": 1}'"); }), "22023");
  EXPECT_EQ(sqlstate_of([&] { set("nosuch", {{"enabled", true}}); }), "42704");
  EXPECT_EQ(sqlstate_of([&] { set("f", {{"enabled", true}}, "prod"); }), "42704");
  EXPECT_EQ(sqlstate_of([&] { conn_.query("select pgstack.flag_evaluate('nosuch', 'production')"); }), "42704");
  EXPECT_EQ(sqlstate_of([&] { create("bad key!"); }), "22023");
  EXPECT_EQ(sqlstate_of([&] { create("f"); }), "42710");
  EXPECT_EQ(sqlstate_of([&] { create("v", "variant", json{"only-one"}); }), "22023");
  EXPECT_EQ(changes(), before);
  EXPECT_EQ(conn_.query_value<std::int64_t>("select version from pgstack.flag_configs where flag = 'f'"), 1);
  auto snapshot = load_snapshot(conn_, "production");
  EXPECT_THROW(snapshot->is_enabled("nosuch", {}), pg::UsageError);
  EXPECT_THROW(FlagClient({.dsn = db_.dsn(), .environment = "prod"}), pg::UsageError);
}

// Found by fuzz/flag_rules_fuzz.cc: configurations flag_set refuses, in a hand-made row.
// Each makes its own flag throw UsageError in pgstack's words; before, one passed on
// nlohmann's raw message, one threw nlohmann's type_error from evaluate, and an empty
// split dereferenced an empty std::optional (undefined behaviour).
TEST(FlagsEvaluator, AConfigurationItCannotReadThrowsUsageErrorForItsFlagOnly) {
  const std::vector<std::pair<json, std::string>> unreadable = {
      {json{{"rules", json::array()}}, "(key 'enabled' not found)"},
      {json::parse(R"({"enabled": true, "rules": [{"when": [{"attribute": "email", "op": "starts_with", "value": 1}],
                       "serve": true}]})"),
       "(op 'starts_with' needs a string value, not 1)"},
      {json::parse(R"({"enabled": true, "rules": [{"when": [{"attribute": "v", "op": "semver_gt", "value": null}],
                       "serve": true}]})"),
       "(op 'semver_gt' needs a string value, not null)"},
      {json::parse(R"({"enabled": true, "rules": [{"split": []}]})"), "(a split must be a non-empty array"},
  };
  const Context who{.subject = "u1", .attributes = {{"email", "a@acme.com"}, {"v", "1.0.0"}}};
  for (const auto& [config, why] : unreadable) {
    auto snapshot = Snapshot::from_rows({{.key = "bad", .kind = "boolean", .off_value = false, .config = config},
                                         {.key = "good", .kind = "boolean", .off_value = false, .config = json{{"enabled", true}}}});
    try {
      snapshot->evaluate("bad", who);
      ADD_FAILURE() << "evaluated " << config.dump();
    } catch (const pg::UsageError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("flags: the configuration of bad cannot be read " + why), std::string::npos) << message;
      EXPECT_NE(message.find("set the flag again with `pgstack flags set`"), std::string::npos) << message;
      EXPECT_EQ(message.find("[json.exception"), std::string::npos) << message;
    }
    EXPECT_TRUE(snapshot->is_enabled("good", who)) << config.dump();
  }
}

TEST_F(FlagsTest, EveryClientSeesAChangeWithin100Milliseconds) {
  create("live");
  set("live", {{"enabled", false}});
  std::vector<std::unique_ptr<FlagClient>> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(std::make_unique<FlagClient>(FlagClientOptions{.dsn = db_.dsn()}));
  // Each client's listener session is subscribed (its last statement is the LISTEN).
  ASSERT_TRUE(pgstack::testing::eventually([&] {
    return conn_.query_value<std::int64_t>(
               "select count(*) from pg_stat_activity where datname = current_database() "
               "and query ilike 'listen %pgstack_flags%'") == 3;
  }, 10s)) << "the clients never listened";
  std::vector<double> latencies_ms;
  for (int round = 0; round < 6; ++round) {
    const bool want = round % 2 == 0;
    const auto changed = std::chrono::steady_clock::now();
    set("live", {{"enabled", want}});
    for (auto& client : clients) {
      ASSERT_TRUE(pgstack::testing::eventually([&] { return client->is_enabled("live") == want; }, 2s));
    }
    latencies_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - changed).count());
  }
  std::sort(latencies_ms.begin(), latencies_ms.end());
  EXPECT_LT(latencies_ms[latencies_ms.size() / 2], 100.0) << "median of the time until all 3 clients saw it";
  EXPECT_LT(latencies_ms.back(), 1000.0);
}

TEST_F(FlagsTest, WithoutANotificationTheRefreshIntervalStillBringsTheChange) {
  create("quiet");
  set("quiet", {{"enabled", false}});
  FlagClient client({.dsn = db_.dsn(), .refresh_interval = 300ms});
  // A change that sends no notification (its triggers off), as if the NOTIFY were lost.
  conn_.execute_script(
      "alter table pgstack.flag_configs disable trigger flag_record_change;"
      "update pgstack.flag_configs set config = '{\"enabled\": true}' where flag = 'quiet';"
      "alter table pgstack.flag_configs enable trigger flag_record_change;");
  EXPECT_TRUE(pgstack::testing::eventually([&] { return client.is_enabled("quiet"); }, 3s));
}

// On the application's pool, as the other workloads are: the flags are read through it
// and a change still arrives by LISTEN (on the pool's primary, a session connection).
TEST_F(FlagsTest, AClientOnThePoolReadsThroughItAndStillHearsChanges) {
  create("pooled");
  set("pooled", {{"enabled", false}});
  pg::Pool pool({.primary = db_.dsn(), .max_size = 2});
  FlagClient client({.pool = &pool, .environment = "production"});
  EXPECT_FALSE(client.is_enabled("pooled"));
  set("pooled", {{"enabled", true}});
  EXPECT_TRUE(pgstack::testing::eventually([&] { return client.is_enabled("pooled"); }, 3s));
  EXPECT_GE(pool.stats().connections_opened, 1u) << "the snapshot was read through the pool";
  EXPECT_THROW(FlagClient({.environment = "production"}), pg::UsageError) << "neither a pool nor a dsn";
}

}  // namespace
}  // namespace pgstack::flags
