// COPY FROM STDIN: awkward text survives, finish() counts, an unfinished COPY writes
// nothing, and a bad value throws with the connection still usable.
#include "pgstack/pg/copy.h"

#include <gtest/gtest.h>

#include <chrono>

#include "pgstack/testing/test_cluster.h"

namespace pgstack::pg {
namespace {

using namespace std::chrono;
using pgstack::testing::TestCluster;

class CopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    conn.execute_script("create table items(id bigint, body text, score float8, ok bool, blob bytea, at timestamptz, doc jsonb)");
  }
  std::int64_t count_items() { return conn.query_value<std::int64_t>("select count(*) from items"); }

  pgstack::testing::TestDatabase db = TestCluster::shared().create_database();
  Connection conn{db.dsn()};
};

TEST_F(CopyTest, AwkwardTextSurvivesExactly) {
  const std::vector<std::optional<std::string>> bodies = {
      "plain", "tab\there", "new\nline", "carriage\r\nreturn", "back\\slash", "\\N", "\\.", "",
      "unicode \u00e9\u2713\U0001F600", std::nullopt, "trailing backslash\\"};
  CopyWriter copy(conn, {.table = "items", .columns = {"id", "body"}});
  for (std::size_t i = 0; i < bodies.size(); ++i) copy.write_row(static_cast<std::int64_t>(i), bodies[i]);
  EXPECT_EQ(copy.finish(), static_cast<std::int64_t>(bodies.size()));
  Result r = conn.query("select body from items order by id");
  ASSERT_EQ(r.rows(), static_cast<int>(bodies.size()));
  for (std::size_t i = 0; i < bodies.size(); ++i) EXPECT_EQ(r[i].get<std::optional<std::string>>(0), bodies[i]) << i;
}

TEST_F(CopyTest, EveryValueTypeArrivesAsSent) {
  const Timestamp before_1970 = sys_days{1969y / 7 / 20} + 20h + 17min + 40s + 123456us;
  const Timestamp recent = sys_days{2024y / 2 / 29} + 1us;
  const Bytes blob{std::byte{0}, std::byte{'\t'}, std::byte{'\\'}, std::byte{0xff}};
  const nlohmann::json doc = {{"text", "a\tb\nc\\d"}, {"n", 1}};
  CopyWriter copy(conn, {.schema = "public", .table = "items"});
  copy.write_row(std::int64_t{1}, "one", 0.1, true, blob, before_1970, doc);
  copy.write_row(std::int64_t{2}, std::nullopt, -1e300, false, Bytes{}, recent, nlohmann::json::array());
  copy.write_row(std::int64_t{3}, std::nullopt, std::optional<double>{}, std::optional<bool>{}, std::optional<Bytes>{},
                 std::optional<Timestamp>{}, std::optional<nlohmann::json>{});
  EXPECT_EQ(copy.finish(), 3);
  Result r = conn.query("select * from items order by id");
  EXPECT_EQ(r[0].get<double>("score"), 0.1);
  EXPECT_TRUE(r[0].get<bool>("ok"));
  EXPECT_EQ(r[0].get<Bytes>("blob"), blob);
  EXPECT_EQ(r[0].get<Timestamp>("at"), before_1970);
  EXPECT_EQ(r[0].get<nlohmann::json>("doc"), doc);
  EXPECT_EQ(r[1].get<double>("score"), -1e300);
  EXPECT_EQ(r[1].get<Bytes>("blob"), Bytes{});
  EXPECT_EQ(r[1].get<Timestamp>("at"), recent);
  for (int c = 1; c < 7; ++c) EXPECT_TRUE(r[2].is_null(c)) << c;
}

TEST_F(CopyTest, ManyRowsStreamAndAreCounted) {
  CopyWriter copy(conn, {.table = "items", .columns = {"id", "body"}});
  constexpr std::int64_t kRows = 100'000;  // several flushes of the buffer
  for (std::int64_t i = 0; i < kRows; ++i) copy.write_row(i, "row body that takes a little room");
  EXPECT_EQ(copy.finish(), kRows);
  EXPECT_EQ(count_items(), kRows);
  EXPECT_EQ(conn.query_value<std::int64_t>("select sum(id)::bigint from items"), kRows * (kRows - 1) / 2);
}

TEST_F(CopyTest, DestroyedWithoutFinishWritesNothing) {
  {
    CopyWriter copy(conn, {.table = "items", .columns = {"id", "body"}});
    for (std::int64_t i = 0; i < 50'000; ++i) copy.write_row(i, "never kept");
  }
  EXPECT_EQ(conn.transaction_status(), TransactionStatus::idle);
  EXPECT_EQ(count_items(), 0);
  EXPECT_EQ(conn.query_value<std::int32_t>("select 1"), 1);
}

TEST_F(CopyTest, BadValueThrowsAndTheConnectionStaysUsable) {
  conn.execute_script("create table numbers(n int)");
  {
    CopyWriter copy(conn, {.table = "numbers"});
    copy.write_row(std::int64_t{1});
    copy.write_row("not a number");
    copy.write_row(std::int64_t{3});
    try {
      copy.finish();
      FAIL() << "a bad value was accepted";
    } catch (const DataException& e) {
      EXPECT_EQ(e.sqlstate(), "22P02");
      EXPECT_NE(e.fields().message.find("not a number"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(conn.transaction_status(), TransactionStatus::idle);
  EXPECT_EQ(conn.query_value<std::int64_t>("select count(*) from numbers"), 0);
  conn.query("insert into numbers values (4)");
  EXPECT_EQ(conn.query_value<std::int64_t>("select count(*) from numbers"), 1);
}

TEST_F(CopyTest, BadValueEarlyInALongCopyReportsTheServersError) {
  // The server fails the COPY at row 2 while we are still sending megabytes: the error
  // reaches us on a later flush, and must be the server's, not "no COPY in progress".
  conn.execute_script("create table numbers(n int, pad text)");
  const std::string pad(200, 'p');
  try {
    CopyWriter copy(conn, {.table = "numbers"});
    copy.write_row(std::int64_t{1}, pad);
    copy.write_row("bad", pad);
    for (std::int64_t i = 0; i < 200'000; ++i) copy.write_row(i, pad);
    copy.finish();
    FAIL() << "a bad value was accepted";
  } catch (const DataException& e) {
    EXPECT_EQ(e.sqlstate(), "22P02") << e.what();
  }
  EXPECT_EQ(conn.transaction_status(), TransactionStatus::idle);
  EXPECT_EQ(conn.query_value<std::int64_t>("select count(*) from numbers"), 0);
}

TEST_F(CopyTest, UsageErrorsAreCaughtBeforeTheServer) {
  EXPECT_THROW(CopyWriter(conn, {.table = ""}), UsageError);
  EXPECT_THROW(CopyWriter(conn, {.table = "no_such_table"}), SyntaxErrorOrAccessRuleViolation);
  EXPECT_EQ(conn.transaction_status(), TransactionStatus::idle);
  CopyWriter copy(conn, {.table = "items", .columns = {"id", "body"}});
  EXPECT_THROW(copy.write_row(std::int64_t{1}), UsageError);  // one value for two columns
  copy.write_row(std::int64_t{1}, "ok");
  EXPECT_EQ(copy.finish(), 1);
  EXPECT_THROW(copy.finish(), UsageError);
}

}  // namespace
}  // namespace pgstack::pg
