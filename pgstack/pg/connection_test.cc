// Connection: connecting (and failing to), typed server errors, cancellation,
// connection loss, notices and the prepared-statement cache.
#include "pgstack/pg/connection.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "pgstack/pg/transaction.h"
#include "pgstack/sys/process.h"
#include "pgstack/testing/eventually.h"
#include "pgstack/testing/test_cluster.h"

namespace pgstack::pg {
namespace {

using namespace std::chrono_literals;
using pgstack::testing::TestCluster;
using Clock = std::chrono::steady_clock;

class ConnectionTest : public ::testing::Test {
 protected:
  TestCluster& cluster = TestCluster::shared();
  pgstack::testing::TestDatabase db = cluster.create_database();
  Connection conn{db.dsn()};
};

std::chrono::milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

TEST_F(ConnectionTest, ConnectsWithKeywordDsnAndUri) {
  EXPECT_EQ(conn.query_value<std::string>("select current_database()::text"), db.name());
  EXPECT_TRUE(conn.is_open());
  EXPECT_GT(conn.backend_pid(), 0);
  EXPECT_GE(conn.server_version(), 150000);

  Connection by_uri(fmt::format("postgresql://postgres@127.0.0.1:{}/{}", cluster.port(), db.name()));
  EXPECT_EQ(by_uri.query_value<std::string>("select current_database()::text"), db.name());
  EXPECT_EQ(by_uri.query_value<std::string>("select inet_client_addr()::text"), "127.0.0.1/32");
  EXPECT_EQ(by_uri.parameter("client_encoding"), "UTF8");
}

TEST_F(ConnectionTest, ApplicationNameDefaultsToOptionsAndTheDsnWins) {
  Connection named({.dsn = db.dsn(), .application_name = "billing"});
  EXPECT_EQ(named.query_value<std::string>("select current_setting('application_name')"), "billing");
  Connection dsn_wins({.dsn = db.dsn() + " application_name=from_dsn", .application_name = "billing"});
  EXPECT_EQ(dsn_wins.query_value<std::string>("select current_setting('application_name')"), "from_dsn");
}

TEST_F(ConnectionTest, MalformedDsnIsAClearPgstackError) {
  for (const char* dsn : {"host=localhost port", "postgresql://user@[::1:5432/db", "hots=localhost",
                          "postgresql://localhost:notaport/db"}) {
    SCOPED_TRACE(dsn);
    try {
      Connection bad(dsn);
      ADD_FAILURE() << "connected with a malformed DSN";
    } catch (const pgstack::Error& e) {
      // "invalid connection string" from our check; a port that is not a number only
      // shows when libpq uses it, and then names it.
      const std::string what = e.what();
      EXPECT_TRUE(what.find("invalid connection string") != std::string::npos ||
                  what.find("invalid integer value \"notaport\"") != std::string::npos)
          << what;
    }
  }
  EXPECT_THROW(validate_dsn("host=localhost port"), UsageError);
  EXPECT_NO_THROW(validate_dsn(db.dsn()));
}

TEST_F(ConnectionTest, ClosedPortFailsFastWithConnectionError) {
  const int port = sys::free_tcp_port();
  const auto start = Clock::now();
  try {
    Connection refused(fmt::format("host=127.0.0.1 port={} dbname=x user=postgres", port));
    FAIL() << "connected to a closed port";
  } catch (const ConnectionError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot connect"), std::string::npos) << e.what();
    EXPECT_EQ(e.sqlstate(), "08001");
  }
  EXPECT_LT(since(start), 1000ms);
}

TEST_F(ConnectionTest, ConnectTimeoutBoundsAnUnansweredConnect) {
  // 10.255.255.1 drops SYNs where it is routed; where it is not, connect fails at once.
  // Either way: a ConnectionError, and never later than the timeout plus slack.
  const auto start = Clock::now();
  EXPECT_THROW(Connection({.dsn = "host=10.255.255.1 port=5432 dbname=x user=postgres", .connect_timeout = 300ms}),
               ConnectionError);
  EXPECT_LT(since(start), 2000ms);
}

TEST_F(ConnectionTest, PasswordsAreRedactedFromConnectionStrings) {
  const std::string redacted = redact_dsn("host=db user=app password=s3cret dbname=app");
  EXPECT_EQ(redacted.find("s3cret"), std::string::npos);
  EXPECT_NE(redacted.find("password=********"), std::string::npos);
  EXPECT_EQ(redact_dsn("postgresql://app:s3cret@db/app").find("s3cret"), std::string::npos);
}

TEST_F(ConnectionTest, StatementTimeoutRaisesQueryCanceled) {
  conn.execute_script("set statement_timeout = 100");
  const auto start = Clock::now();
  EXPECT_THROW(conn.query("select pg_sleep(5)"), QueryCanceled);
  EXPECT_LT(since(start), 3000ms);
  EXPECT_EQ(conn.query_value<std::int32_t>("select 1"), 1);  // still usable
}

TEST_F(ConnectionTest, CancelFromAnotherThreadStopsTheRunningStatement) {
  const int pid = conn.backend_pid();
  auto canceller = std::async(std::launch::async, [&] {
    // Cancelled once the server runs it: a cancel that comes first would cancel nothing.
    Connection observer{db.dsn()};
    pgstack::testing::eventually([&] {
      return observer.query_value<bool>(
          "select exists (select 1 from pg_stat_activity where pid = $1 and state = 'active' and query like '%pg_sleep(10)%')",
          pid);
    }, 5s);
    conn.cancel();
  });
  const auto start = Clock::now();
  EXPECT_THROW(conn.query("select pg_sleep(10)"), QueryCanceled);
  EXPECT_LT(since(start), 5000ms);
  canceller.get();
  EXPECT_EQ(conn.query_value<std::int32_t>("select 2"), 2);
}

TEST_F(ConnectionTest, SimpleQueryReturnsTextRowsWithNulls) {
  auto rows = conn.simple_query("select 42 as answer, null::text as nothing union all select 7, 'x'");
  ASSERT_EQ(rows.columns, (std::vector<std::string>{"answer", "nothing"}));
  ASSERT_EQ(rows.rows.size(), 2u);
  EXPECT_EQ(rows.rows[0][rows.column("answer")], "42");
  EXPECT_FALSE(rows.rows[0][rows.column("nothing")].has_value());
  EXPECT_EQ(rows.rows[1][1], "x");
  EXPECT_THROW(rows.column("missing"), Error);
  EXPECT_THROW(conn.simple_query("select * from no_such_table"), SqlError);
}

TEST_F(ConnectionTest, WrongParameterTypesAreTypedServerErrors) {
  conn.execute_script("create table typed(n int, label text)");
  try {
    conn.query("insert into typed(n) values ($1)", "abc");
    FAIL() << "accepted 'abc' as an integer";
  } catch (const DataException& e) {
    EXPECT_EQ(e.sqlstate(), "22P02");  // invalid_text_representation
  }
  try {
    conn.query("select count(*) from typed where label = $1", std::int64_t{5});
    FAIL() << "compared text with a bigint parameter";
  } catch (const SyntaxErrorOrAccessRuleViolation& e) {
    EXPECT_EQ(e.sqlstate(), "42883");  // undefined_function: no operator text = bigint
  }
  try {
    conn.query("select $1::int[] @> $2", std::vector<std::int32_t>{1}, true);
    FAIL() << "compared an array with a bool";
  } catch (const SyntaxErrorOrAccessRuleViolation& e) {
    EXPECT_EQ(e.sqlstate().substr(0, 2), "42");
  }
  EXPECT_THROW(conn.query("insert into typed(n) values ($1)", std::int64_t{1} << 40), DataException);  // out of range
  EXPECT_THROW(conn.query("selec 1"), SyntaxErrorOrAccessRuleViolation);
  EXPECT_THROW(conn.query("select * from no_such_table"), SyntaxErrorOrAccessRuleViolation);
  EXPECT_EQ(conn.query_value<std::int64_t>("select count(*) from typed"), 0);
}

TEST_F(ConnectionTest, WrongParameterCountIsAProtocolViolationAndTheConnectionStaysUsable) {
  EXPECT_THROW(conn.query("select $1::int + $2::int", 1), ProtocolViolation);
  EXPECT_EQ(conn.query_value<std::int32_t>("select $1::int + $2::int", 1, 2), 3);
}

TEST_F(ConnectionTest, IntegrityViolationsAreTypedAndCarryTheirFields) {
  conn.execute_script(
      "create table parents(id int primary key);"
      "create table kids(id int primary key, parent int references parents, name text not null,"
      "                  age int constraint age_positive check (age > 0))");
  conn.query("insert into parents values (1)");
  conn.query("insert into kids values (1, 1, 'a', 1)");
  try {
    conn.query("insert into kids values (1, 1, 'b', 2)");
    FAIL() << "duplicate key accepted";
  } catch (const UniqueViolation& e) {
    EXPECT_EQ(e.sqlstate(), "23505");
    EXPECT_EQ(e.fields().constraint, "kids_pkey");
    EXPECT_EQ(e.fields().table, "kids");
    EXPECT_NE(e.fields().detail.find("(id)=(1)"), std::string::npos) << e.fields().detail;
  }
  EXPECT_THROW(conn.query("insert into kids values (2, 9, 'c', 1)"), ForeignKeyViolation);
  EXPECT_THROW(conn.query("insert into kids values (3, 1, null, 1)"), NotNullViolation);
  try {
    conn.query("insert into kids values (4, 1, 'd', -1)");
    FAIL() << "check constraint ignored";
  } catch (const CheckViolation& e) {
    EXPECT_EQ(e.fields().constraint, "age_positive");
  }
  // All of them are catchable as the class.
  EXPECT_THROW(conn.query("insert into kids values (1, 1, 'b', 2)"), IntegrityConstraintViolation);
}

TEST_F(ConnectionTest, ConcurrentSerializableTransactionsRaiseSerializationFailure) {
  conn.execute_script("create table doctors(id int primary key, on_call bool); insert into doctors values (1, true), (2, true)");
  Connection other(db.dsn());
  // Write skew: each sees two doctors on call and takes one off; both cannot commit.
  Transaction first(conn, {.isolation = IsolationLevel::serializable});
  Transaction second(other, {.isolation = IsolationLevel::serializable});
  EXPECT_EQ(first.query_value<std::int64_t>("select count(*) from doctors where on_call"), 2);
  EXPECT_EQ(second.query_value<std::int64_t>("select count(*) from doctors where on_call"), 2);
  first.query("update doctors set on_call = false where id = 1");
  second.query("update doctors set on_call = false where id = 2");
  first.commit();
  try {
    second.commit();
    FAIL() << "both write-skewed transactions committed";
  } catch (const SerializationFailure& e) {
    EXPECT_EQ(e.sqlstate(), "40001");
  }
  EXPECT_EQ(conn.query_value<std::int64_t>("select count(*) from doctors where on_call"), 1);
}

TEST_F(ConnectionTest, DeadlockBetweenTwoConnectionsRaisesDeadlockDetected) {
  conn.execute_script("create table pair(id int primary key, v int); insert into pair values (1, 0), (2, 0)");
  Connection other(db.dsn());
  for (Connection* c : {&conn, &other}) c->execute_script("set deadlock_timeout = '100ms'");
  Transaction a(conn);
  Transaction b(other);
  a.query("update pair set v = 1 where id = 1");
  b.query("update pair set v = 2 where id = 2");
  // Each now wants the row the other holds.
  auto a_side = std::async(std::launch::async, [&]() -> int {
    try {
      a.query("update pair set v = 1 where id = 2");
      return 0;
    } catch (const DeadlockDetected&) {
      return 1;
    }
  });
  int deadlocks = 0;
  try {
    b.query("update pair set v = 2 where id = 1");
  } catch (const DeadlockDetected& e) {
    EXPECT_EQ(e.sqlstate(), "40P01");
    ++deadlocks;
    b.rollback();  // releases b's lock so a can go on
  }
  deadlocks += a_side.get();
  EXPECT_EQ(deadlocks, 1);  // the server breaks the cycle by failing exactly one side
}

TEST_F(ConnectionTest, LockNotAvailableForNowaitAndLockTimeout) {
  conn.execute_script("create table locked(id int primary key); insert into locked values (1)");
  Transaction holder(conn);
  holder.query("select * from locked where id = 1 for update");
  Connection other(db.dsn());
  EXPECT_THROW(other.query("select * from locked where id = 1 for update nowait"), LockNotAvailable);
  {
    Transaction waiter(other, {.lock_timeout = 100ms});
    const auto start = Clock::now();
    try {
      waiter.query("update locked set id = 2 where id = 1");
      FAIL() << "updated a locked row";
    } catch (const LockNotAvailable& e) {
      EXPECT_EQ(e.sqlstate(), "55P03");
    }
    EXPECT_LT(since(start), 3000ms);
  }
  holder.rollback();
  EXPECT_EQ(other.query("update locked set id = 2 where id = 1").affected_rows(), 1);
}

TEST_F(ConnectionTest, TerminatedBackendRaisesConnectionLost) {
  Connection admin(db.dsn());
  const int pid = conn.backend_pid();
  EXPECT_TRUE(admin.query_value<bool>("select pg_terminate_backend($1)", pid));
  EXPECT_TRUE(admin.query_value<bool>(
      "select not exists (select from pg_stat_activity where pid = $1) from pg_sleep(0.2)", pid));
  EXPECT_FALSE(conn.is_alive());
  try {
    conn.query("select 1");
    FAIL() << "a terminated connection answered";
  } catch (const ConnectionLost& e) {
    EXPECT_NE(std::string(e.what()).find("connection to PostgreSQL lost"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(conn.is_open());
  EXPECT_THROW(conn.query("select 1"), ConnectionLost);  // and keeps saying so
}

TEST_F(ConnectionTest, NoticesReachTheCallbackAndAreNotPrintedToStderr) {
  std::vector<Notice> seen;
  Connection listening({.dsn = db.dsn(), .on_notice = [&](const Notice& n) { seen.push_back(n); }});
  ::testing::internal::CaptureStderr();
  listening.execute_script("do $$ begin raise notice 'hello %', 42; raise warning 'careful' using hint = 'slow down'; end $$");
  listening.query("drop table if exists never_existed");
  const std::string printed = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(printed, "");
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].severity, "NOTICE");
  EXPECT_EQ(seen[0].message, "hello 42");
  EXPECT_EQ(seen[0].sqlstate, "00000");
  EXPECT_EQ(seen[1].severity, "WARNING");
  EXPECT_EQ(seen[1].hint, "slow down");
  EXPECT_NE(seen[2].message.find("never_existed"), std::string::npos);
  // The connection keeps the latest ones too.
  const auto recent = listening.recent_notices();
  ASSERT_EQ(recent.size(), 3u);
  EXPECT_EQ(recent[1].message, "careful");
}

TEST_F(ConnectionTest, WithoutACallbackNoticesAreKeptNotPrinted) {
  ::testing::internal::CaptureStderr();
  for (int i = 0; i < 20; ++i) conn.query("do $$ begin raise notice 'n%', 1; end $$");
  conn.query("select 1 from pg_sleep(0)");
  conn.execute_script("do $$ begin raise notice 'last'; end $$");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  const auto recent = conn.recent_notices();
  EXPECT_EQ(recent.size(), Connection::kRecentNotices);
  EXPECT_EQ(recent.back().message, "last");
}

TEST_F(ConnectionTest, ThrowingNoticeCallbackDoesNotBreakTheConnection) {
  Connection fussy({.dsn = db.dsn(), .on_notice = [](const Notice&) { throw std::runtime_error("no"); }});
  EXPECT_NO_THROW(fussy.execute_script("do $$ begin raise notice 'x'; end $$"));
  EXPECT_EQ(fussy.query_value<std::int32_t>("select 5"), 5);
}

TEST_F(ConnectionTest, ScriptsRunSeveralStatementsAndIdentifiersAreQuoted) {
  const std::string table = "odd \"name\"; drop";
  conn.execute_script("create table " + conn.quote_identifier(table) + "(x int); insert into " +
                      conn.quote_identifier(table) + " values (1), (2)");
  EXPECT_EQ(conn.query_value<std::int64_t>("select count(*) from " + conn.quote_identifier(table)), 2);
  EXPECT_EQ(conn.quote_identifier("plain"), "\"plain\"");
}

// Prepared statements: how many this session has on the server, by their SQL.
std::vector<std::string> prepared_statements(Connection& c) {
  std::vector<std::string> out;
  for (Row row : c.query("select statement from pg_prepared_statements order by statement"))
    out.push_back(row.get<std::string>(0));
  return out;
}

TEST_F(ConnectionTest, StatementCacheIsOnByDefaultAndReusesStatements) {
  EXPECT_TRUE(conn.statement_cache_enabled());
  const char* sql = "select $1::int * 2";
  for (int i = 0; i < 3; ++i) EXPECT_EQ(conn.query_value<std::int32_t>(sql, i), i * 2);
  const auto statements = prepared_statements(conn);
  EXPECT_EQ(std::count(statements.begin(), statements.end(), sql), 1) << "prepared once, used three times";
  EXPECT_EQ(conn.cached_statements(), 2u);  // ours and the pg_prepared_statements query
}

TEST_F(ConnectionTest, StatementCacheOffPreparesNothingAsBehindPgBouncer) {
  Connection bouncer_safe({.dsn = db.dsn(), .statement_cache = false});
  for (int i = 0; i < 5; ++i) EXPECT_EQ(bouncer_safe.query_value<std::int32_t>("select $1::int + 1", i), i + 1);
  bouncer_safe.query("select $1::text", "x");
  EXPECT_EQ(bouncer_safe.query_value<std::int64_t>("select count(*) from pg_prepared_statements"), 0);
  EXPECT_EQ(bouncer_safe.cached_statements(), 0u);

  // Switching it off later drops what was prepared.
  conn.query("select $1::int", 1);
  conn.set_statement_cache(false);
  EXPECT_EQ(conn.query_value<std::int64_t>("select count(*) from pg_prepared_statements"), 0);
}

TEST_F(ConnectionTest, StatementCacheEvictsTheLeastRecentlyUsedAtCapacity) {
  Connection small({.dsn = db.dsn(), .statement_cache_capacity = 3});
  small.query("select 'A'");
  small.query("select 'B'");
  small.query("select 'C'");
  small.query("select 'A'");  // A is now more recent than B
  small.query("select 'D'");  // evicts B
  // The listing query is a statement too: it evicts C, the least recent now.
  const char* listing = "select statement from pg_prepared_statements order by statement";
  std::vector<std::string> statements;
  for (Row row : small.query(listing)) statements.push_back(row.get<std::string>(0));
  EXPECT_EQ(statements, (std::vector<std::string>{"select 'A'", "select 'D'", listing}));
  EXPECT_EQ(small.cached_statements(), 3u);
}

TEST_F(ConnectionTest, CachedStatementRecoversAfterItsTableChangesShape) {
  conn.execute_script("create table shape(a int); insert into shape values (1)");
  EXPECT_EQ(conn.query("select * from shape").columns(), 1);
  conn.execute_script("alter table shape add column b text default 'x'");
  // "cached plan must not change result type": re-prepared and retried, invisibly.
  Result r = conn.query("select * from shape");
  EXPECT_EQ(r.columns(), 2);
  EXPECT_EQ(r[0].get<std::string>("b"), "x");

  // Inside a transaction a retry is impossible (the transaction has failed): the error
  // surfaces, and the statement works again once the transaction is over.
  conn.execute_script("alter table shape add column c int default 3");
  {
    Transaction tx(conn);
    EXPECT_THROW(tx.query("select * from shape"), FeatureNotSupported);
  }
  EXPECT_EQ(conn.query("select * from shape").columns(), 3);
}

TEST_F(ConnectionTest, CachedStatementRecoversAfterTheServerForgetsIt) {
  EXPECT_EQ(conn.query_value<std::int32_t>("select $1::int", 1), 1);
  conn.execute_script("deallocate all");  // what DISCARD ALL or a pooler's reset does
  EXPECT_EQ(conn.query_value<std::int32_t>("select $1::int", 2), 2);
}

}  // namespace
}  // namespace pgstack::pg
