// Every DSN the stack prints (`pgstack up --json`, `pgstack env`) works with every
// command it makes sense for (issue 14, item 5): the CLI once failed through the
// stack's own PgBouncer with `prepared statement "pgstack_0" already exists`. Runs the
// built binary against the binary's shared stack (security_fixture.h).
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pgstack/ops/stack/testing/security_fixture.h"
#include "pgstack/testing/cli_runner.h"

namespace {

struct Dsn {
  std::string name;
  std::string url;
  bool writes;  // the primary, directly or through PgBouncer's `app`
};

std::vector<Dsn> printed_dsns(const pgstack::stack::ClusterLayout& l) {
  return {
      {"primary socket (postgres)", l.dsn(), true},
      {"primary TCP (postgres)", l.tcp_dsn(), true},
      {"DATABASE_URL (app)", l.role_dsn("app"), true},
      {"PGSTACK_MIGRATIONS_URL (migrations)", l.role_dsn("migrations"), true},
      {"PgBouncer app", l.pooled_dsn("app"), true},
      {"PGSTACK_APP_READER_URL (standby)", l.role_dsn("app_reader", l.standby()), false},
      {"PgBouncer app_ro (standby)", l.pooled_dsn("app_reader", true), false},
  };
}

TEST_F(StackSecurityTest, EveryPrintedDsnWorksWithEveryCommandItMakesSenseFor) {
  const auto migrations = *root_ / "migrations";
  std::filesystem::create_directories(migrations);
  std::vector<std::vector<std::string>> for_all = {{"jobs", "stats"}, {"flags", "list"}};
  std::vector<std::vector<std::string>> for_writers = {{"kv", "set", "greeting", "hello", "--ttl", "5m"},
                                                       {"kv", "get", "greeting"},
                                                       {"maintain"},
                                                       {"install"},
                                                       {"migrate", "status", "--dir", migrations.string()}};
  // Twice each: a second statement on a pooled server connection is where a cached
  // prepared statement collided.
  for (const auto& dsn : printed_dsns(layout())) {
    auto commands = dsn.writes ? for_writers : std::vector<std::vector<std::string>>{};
    commands.insert(commands.end(), for_all.begin(), for_all.end());
    for (int round = 0; round < 2; ++round) {
      for (auto args : commands) {
        std::string line;
        for (const auto& a : args) line += a + " ";
        args.push_back("--db");
        args.push_back(dsn.url);
        auto r = pgstack::testing::run_cli(PGSTACK_CLI_PATH, args);
        EXPECT_EQ(r.code, 0) << dsn.name << ": pgstack " << line << "\n" << r.output;
        EXPECT_EQ(r.output.find("prepared statement"), std::string::npos) << dsn.name << ": " << r.output;
      }
    }
  }
}

// kv's tables are unlogged: a standby has none of their rows. Said plainly, not as
// PostgreSQL's "cannot access temporary or unlogged relations during recovery".
TEST_F(StackSecurityTest, KvOnTheStandbySaysToUseThePrimary) {
  for (const auto& dsn : printed_dsns(layout())) {
    if (dsn.writes) continue;
    auto r = pgstack::testing::run_cli(PGSTACK_CLI_PATH, {"kv", "get", "greeting", "--db", dsn.url});
    EXPECT_EQ(r.code, 1) << dsn.name << ": " << r.output;
    EXPECT_NE(r.output.find("only the primary has"), std::string::npos) << dsn.name << ": " << r.output;
    EXPECT_EQ(r.output.find("during recovery"), std::string::npos) << dsn.name << ": " << r.output;
  }
}

TEST_F(StackSecurityTest, ListeningThroughATransactionPoolerIsRefusedWithTheDsnToUse) {
  auto r = pgstack::testing::run_cli(
      PGSTACK_CLI_PATH, {"pubsub", "listen", "orders", "--timeout", "1s", "--db", layout().pooled_dsn("app")});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("PgBouncer"), std::string::npos) << r.output;
  auto direct = pgstack::testing::run_cli(
      PGSTACK_CLI_PATH, {"pubsub", "listen", "orders", "--timeout", "1s", "--db", layout().role_dsn("app")});
  EXPECT_EQ(direct.code, 0) << direct.output;
}

}  // namespace
