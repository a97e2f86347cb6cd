// Typed access to results: by index and by name, NULLs, and a clear UsageError for
// every way of asking for something the result does not hold.
#include "pgstack/pg/result.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "pgstack/pg/connection.h"
#include "pgstack/testing/test_cluster.h"

namespace pgstack::pg {
namespace {

using pgstack::testing::TestCluster;

class ResultTest : public ::testing::Test {
 protected:
  pgstack::testing::TestDatabase db = TestCluster::shared().create_database();
  Connection conn{db.dsn()};
};

// A Row or an iterator points into its Result: taking one from a temporary would dangle
// at the end of the statement, so it must not compile (`auto row = conn.query(...)[0];`).
template <class R>
concept RowFromIndex = requires(R&& r) { std::forward<R>(r)[0]; };
template <class R>
concept RowFromAt = requires(R&& r) { std::forward<R>(r).at(0); };
template <class R>
concept IteratorFromBegin = requires(R&& r) { std::forward<R>(r).begin(); std::forward<R>(r).end(); };
static_assert(RowFromIndex<Result&> && RowFromIndex<const Result&>);
static_assert(!RowFromIndex<Result&&> && !RowFromIndex<const Result&&>);
static_assert(!RowFromIndex<Result>, "a prvalue (what query() returns) is an rvalue too");
static_assert(RowFromAt<Result&> && !RowFromAt<Result&&>);
static_assert(IteratorFromBegin<const Result&> && !IteratorFromBegin<Result&&>);
static_assert(requires { std::declval<Result&>()[0]; });

// Runs f, expecting a UsageError whose message contains every one of the words.
template <class F>
void expect_usage_error(F&& f, std::initializer_list<std::string_view> words) {
  try {
    f();
    ADD_FAILURE() << "expected a UsageError";
  } catch (const UsageError& e) {
    for (auto w : words) EXPECT_NE(std::string(e.what()).find(w), std::string::npos) << "\"" << w << "\" missing in: " << e.what();
  }
}

TEST_F(ResultTest, ValuesReadByIndexAndByName) {
  Result r = conn.query("select 7::bigint as id, 'ann'::text as name, null::int as age, true as ok");
  ASSERT_EQ(r.rows(), 1);
  ASSERT_EQ(r.columns(), 4);
  EXPECT_EQ(r[0].get<std::int64_t>(0), 7);
  EXPECT_EQ(r[0].get<std::int64_t>("id"), 7);
  EXPECT_EQ(r[0].get<std::string>("name"), "ann");
  EXPECT_EQ(r[0].get<std::optional<std::int32_t>>("age"), std::nullopt);
  EXPECT_EQ(r[0].get<std::optional<std::string>>(1), "ann");
  EXPECT_TRUE(r[0].get<bool>("ok"));
  EXPECT_TRUE(r[0].is_null(2));
  EXPECT_EQ(r.column_name(1), "name");
  EXPECT_EQ(r.column_index("age"), 2);
  EXPECT_EQ(r.column_type(0), oid::kInt8);
}

TEST_F(ResultTest, RowsIterateInOrder) {
  Result r = conn.query("select g from generate_series(1, 5) g");
  std::vector<std::int32_t> seen;
  for (Row row : r) seen.push_back(row.get<std::int32_t>(0));
  EXPECT_EQ(seen, (std::vector<std::int32_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(r.affected_rows(), 5);
}

TEST_F(ResultTest, RangeForOverATemporaryResultKeepsItAlive) {
  // The loop binds the temporary to a reference for its whole body, so its rows stay valid.
  std::vector<std::int32_t> seen;
  for (Row row : conn.query("select g from generate_series(1, 3) g")) seen.push_back(row.get<std::int32_t>(0));
  EXPECT_EQ(seen, (std::vector<std::int32_t>{1, 2, 3}));
}

TEST_F(ResultTest, NullReadAsNonOptionalIsAClearError) {
  Result r = conn.query("select null::bigint as missing");
  expect_usage_error([&] { r[0].get<std::int64_t>(0); }, {"\"missing\"", "NULL", "std::optional"});
  expect_usage_error([&] { r[0].get<std::string>("missing"); }, {"NULL"});
}

TEST_F(ResultTest, WrongTypeIsAClearErrorNamingBothTypes) {
  Result r = conn.query("select 'abc'::text as word, 5::int as n, '\\x00'::bytea as blob");
  expect_usage_error([&] { r[0].get<std::int64_t>("word"); }, {"\"word\"", "text", "std::int64_t"});
  expect_usage_error([&] { r[0].get<bool>("n"); }, {"\"n\"", "integer", "bool"});
  expect_usage_error([&] { r[0].get<Bytes>("word"); }, {"text", "Bytes"});
  expect_usage_error([&] { r[0].get<Timestamp>("n"); }, {"integer", "Timestamp"});
  expect_usage_error([&] { r[0].get<std::string>("blob"); }, {"bytea", "std::string"});
  expect_usage_error([&] { r[0].get<std::vector<std::int32_t>>("word"); }, {"not an array"});
  expect_usage_error([&] { r[0].get<nlohmann::json>("n"); }, {"nlohmann::json"});
}

TEST_F(ResultTest, OutOfRangeColumnsAndRowsAndUnknownNamesAreClearErrors) {
  Result r = conn.query("select 1 as a, 2 as b");
  expect_usage_error([&] { r[0].get<std::int32_t>(2); }, {"column index 2", "2 columns"});
  expect_usage_error([&] { r[0].get<std::int32_t>(-1); }, {"column index -1"});
  expect_usage_error([&] { r[0].get<std::optional<std::int32_t>>(9); }, {"column index 9"});
  expect_usage_error([&] { r[0].get<std::int32_t>("c"); }, {"no column named \"c\"", "a, b"});
  expect_usage_error([&] { r.at(1); }, {"row 1", "1 rows"});
  // operator[] does not check, but reading through it does (instead of reading NULLs).
  expect_usage_error([&] { r[1].get<std::optional<std::int32_t>>(0); }, {"row 1"});
}

TEST_F(ResultTest, IntegersWidenAndNarrowOnlyWhenTheValueFits) {
  EXPECT_EQ(conn.query_value<std::int64_t>("select 5::smallint"), 5);
  EXPECT_EQ(conn.query_value<std::int16_t>("select 300::bigint"), 300);
  EXPECT_EQ(conn.query_value<double>("select 3::int"), 3.0);
  expect_usage_error([&] { conn.query_value<std::int32_t>("select 5000000000::bigint"); }, {"does not fit"});
  expect_usage_error([&] { conn.query_value<std::int16_t>("select 40000"); }, {"does not fit"});
}

TEST_F(ResultTest, OtherTypesReadAsText) {
  EXPECT_EQ(conn.query_value<std::string>("select 12345.678901::numeric"), "12345.678901");
  EXPECT_EQ(conn.query_value<std::string>("select -0.5::numeric(10,3)"), "-0.500");
  EXPECT_EQ(conn.query_value<std::string>("select 100000000::numeric"), "100000000");
  EXPECT_DOUBLE_EQ(conn.query_value<double>("select 2.25::numeric"), 2.25);
  EXPECT_EQ(conn.query_value<std::string>("select 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid"),
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  EXPECT_EQ(conn.query_value<std::string>("select 42::bigint"), "42");
  EXPECT_EQ(conn.query_value<std::string>("select '2024-02-29'::date"), "2024-02-29");
  EXPECT_EQ(conn.query_value<std::string>("select 'x'::varchar(3)"), "x");
}

TEST_F(ResultTest, QueryValueAndQueryOptionalCheckTheShape) {
  conn.execute_script("create table items(id int, name text)");
  conn.query("insert into items values (1, 'one'), (2, null)");
  EXPECT_EQ(conn.query_optional<std::string>("select name from items where id = $1", 1), "one");
  EXPECT_EQ(conn.query_optional<std::string>("select name from items where id = $1", 2), std::nullopt);
  EXPECT_EQ(conn.query_optional<std::string>("select name from items where id = $1", 3), std::nullopt);
  expect_usage_error([&] { conn.query_value<std::string>("select name from items where id = $1", 3); },
                     {"got 0", "query_optional"});
  expect_usage_error([&] { conn.query_value<std::int32_t>("select id from items"); }, {"one row, got 2"});
  expect_usage_error([&] { conn.query_value<std::int32_t>("select id, name from items where id = 1"); },
                     {"one column, got 2"});
}

TEST_F(ResultTest, AffectedRowsCountsChanges) {
  conn.execute_script("create table t(x int)");
  EXPECT_EQ(conn.query("insert into t select generate_series(1, 10)").affected_rows(), 10);
  EXPECT_EQ(conn.query("update t set x = x + 1 where x > $1", 7).affected_rows(), 3);
  EXPECT_EQ(conn.query("delete from t").affected_rows(), 10);
}

}  // namespace
}  // namespace pgstack::pg
