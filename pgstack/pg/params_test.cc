// Round trips of every C++ type pgstack sends: each value goes to the server as a
// parameter and comes back as the same value, and the server sees the type we claim.
#include "pgstack/pg/params.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "pgstack/pg/connection.h"
#include "pgstack/testing/test_cluster.h"

namespace pgstack::pg {
namespace {

using namespace std::chrono;
using pgstack::testing::TestCluster;

class ParamsTest : public ::testing::Test {
 protected:
  pgstack::testing::TestDatabase db = TestCluster::shared().create_database();
  Connection conn{db.dsn()};

  // Sends value as $1 and reads it back as T, checking the server saw the expected type.
  template <class T>
  T echo(const T& value, std::string_view expected_type) {
    Result r = conn.query("select $1, pg_typeof($1)::text", value);
    EXPECT_EQ(r[0].get<std::string>(1), expected_type);
    return r[0].get<T>(0);
  }
};

TEST_F(ParamsTest, IntegersOfEveryWidthRoundTripWithTheirOwnType) {
  for (std::int16_t v : {std::numeric_limits<std::int16_t>::min(), std::int16_t{-1}, std::int16_t{0},
                         std::numeric_limits<std::int16_t>::max()})
    EXPECT_EQ(echo(v, "smallint"), v);
  for (std::int32_t v : {std::numeric_limits<std::int32_t>::min(), -1, 0, 1, std::numeric_limits<std::int32_t>::max()})
    EXPECT_EQ(echo(v, "integer"), v);
  for (std::int64_t v : {std::numeric_limits<std::int64_t>::min(), std::int64_t{-1}, std::int64_t{1} << 40,
                         std::numeric_limits<std::int64_t>::max()})
    EXPECT_EQ(echo(v, "bigint"), v);
}

TEST_F(ParamsTest, DoublesRoundTripExactlyIncludingInfinityAndNaN) {
  for (double v : {0.0, -1.5, 3.141592653589793, 1e-300, 1e300, std::numeric_limits<double>::infinity(),
                   -std::numeric_limits<double>::infinity()})
    EXPECT_EQ(echo(v, "double precision"), v);
  EXPECT_TRUE(std::isnan(echo(std::numeric_limits<double>::quiet_NaN(), "double precision")));
  // The server computes with the value we sent, not a rounded text form.
  EXPECT_TRUE(conn.query_value<bool>("select $1 = 0.1::float8", 0.1));
}

TEST_F(ParamsTest, BoolsRoundTrip) {
  EXPECT_TRUE(echo(true, "boolean"));
  EXPECT_FALSE(echo(false, "boolean"));
  EXPECT_TRUE(conn.query_value<bool>("select $1 and not $2", true, false));
}

TEST_F(ParamsTest, StringsRoundTripVerbatimAsEveryStringType) {
  const auto text_echo = [&](const auto& value) { return conn.query_value<std::string>("select $1::text", value); };
  const std::string unicode = "h\u00e9llo \u2713 \u65e5\u672c \U0001F600";
  EXPECT_EQ(text_echo(unicode), unicode);
  EXPECT_EQ(text_echo(std::string()), "");
  const std::string hostile = "'); drop table users; -- \\ \" $1";
  EXPECT_EQ(text_echo(hostile), hostile);
  EXPECT_EQ(text_echo(std::string_view("view")), "view");
  EXPECT_EQ(text_echo("literal"), "literal");
  const char* pointer = "pointer";
  EXPECT_EQ(text_echo(pointer), "pointer");
  // Untyped text takes the type the statement needs...
  EXPECT_EQ(conn.query_value<std::int32_t>("select $1::int + 1", "41"), 42);
  EXPECT_EQ(conn.query_value<std::string>("select $1::uuid::text", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  // ... so where nothing says which type that is, PostgreSQL refuses, as for a literal.
  EXPECT_THROW(conn.query("select pg_typeof($1)", "alone"), SyntaxErrorOrAccessRuleViolation);
}

TEST_F(ParamsTest, ByteaRoundTripsEveryByteValue) {
  Bytes all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<std::byte>(i));
  EXPECT_EQ(echo(all, "bytea"), all);
  EXPECT_EQ(echo(Bytes{}, "bytea"), Bytes{});
  EXPECT_EQ(conn.query_value<std::int32_t>("select length($1)", all), 256);
  EXPECT_EQ(conn.query_value<std::string>("select encode($1, 'hex')", Bytes{std::byte{0xde}, std::byte{0xad}}),
            "dead");
}

Timestamp utc(year_month_day date, hours h, minutes m, seconds s, microseconds us) {
  return Timestamp{sys_days{date} + h + m + s + us};
}

TEST_F(ParamsTest, TimestampsRoundTripToTheMicrosecondBeforeAndAfter1970And2000) {
  struct Case {
    Timestamp value;
    const char* text;  // how PostgreSQL reads the same instant
  };
  const Case cases[] = {
      {utc(1900y / 1 / 1, 0h, 0min, 0s, 1us), "1900-01-01 00:00:00.000001+00"},
      {utc(1969y / 7 / 20, 20h, 17min, 40s, 123456us), "1969-07-20 20:17:40.123456+00"},
      {utc(1969y / 12 / 31, 23h, 59min, 59s, 999999us), "1969-12-31 23:59:59.999999+00"},
      {utc(1970y / 1 / 1, 0h, 0min, 0s, 0us), "1970-01-01 00:00:00+00"},
      {utc(1999y / 12 / 31, 23h, 59min, 59s, 999999us), "1999-12-31 23:59:59.999999+00"},
      {utc(2000y / 1 / 1, 0h, 0min, 0s, 0us), "2000-01-01 00:00:00+00"},
      {utc(2000y / 1 / 1, 0h, 0min, 0s, 1us), "2000-01-01 00:00:00.000001+00"},
      {utc(2024y / 2 / 29, 12h, 34min, 56s, 789012us), "2024-02-29 12:34:56.789012+00"},
      {utc(2200y / 6 / 15, 1h, 2min, 3s, 4us), "2200-06-15 01:02:03.000004+00"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(echo(c.value, "timestamp with time zone"), c.value);
    EXPECT_TRUE(conn.query_value<bool>("select $1 = $2::timestamptz", c.value, c.text));
    // ... and a value the server made reads as the same instant.
    EXPECT_EQ(conn.query_value<Timestamp>("select $1::timestamptz", c.text), c.value);
  }
}

TEST_F(ParamsTest, TimestampsKeepMicrosecondsAndFloorNanoseconds) {
  const Timestamp before_epoch = Timestamp{} - nanoseconds(1500);  // 1.5 µs before 1970
  EXPECT_EQ(echo(before_epoch, "timestamp with time zone"), Timestamp{} - microseconds(2));
  const Timestamp after_epoch = Timestamp{} + nanoseconds(1500);
  EXPECT_EQ(echo(after_epoch, "timestamp with time zone"), Timestamp{} + microseconds(1));
}

TEST_F(ParamsTest, TimestampLimitsTravelAsInfinity) {
  EXPECT_EQ(conn.query_value<std::string>("select $1::text", Timestamp::max()), "infinity");
  EXPECT_EQ(conn.query_value<std::string>("select $1::text", Timestamp::min()), "-infinity");
  EXPECT_EQ(conn.query_value<Timestamp>("select 'infinity'::timestamptz"), Timestamp::max());
  EXPECT_EQ(conn.query_value<Timestamp>("select '-infinity'::timestamptz"), Timestamp::min());
}

TEST_F(ParamsTest, TimestampsOutsideTheClockRangeAreAnErrorNotAWrongInstant) {
  Result r = conn.query("select '1500-03-01 00:00:00+00'::timestamptz as t");
  EXPECT_THROW(r[0].get<Timestamp>(0), UsageError);
  EXPECT_EQ(r[0].get<std::string>(0), "1500-03-01 00:00:00+00");
}

TEST_F(ParamsTest, JsonTravelsAsJsonbAndRoundTrips) {
  const nlohmann::json doc = {{"name", "Zo\u00eb"}, {"tags", {"a", "b"}}, {"n", 42}, {"nested", {{"ok", true}}},
                              {"none", nullptr}};
  EXPECT_EQ(echo(doc, "jsonb"), doc);
  EXPECT_EQ(conn.query_value<std::string>("select $1->>'name'", doc), "Zo\u00eb");
  EXPECT_EQ(echo(nlohmann::json::array({1, 2, 3}), "jsonb"), nlohmann::json::array({1, 2, 3}));
  EXPECT_EQ(echo(nlohmann::json("just a string"), "jsonb"), nlohmann::json("just a string"));
  // json (not jsonb) columns read the same way.
  EXPECT_EQ(conn.query_value<nlohmann::json>("select '{\"a\": [1, 2]}'::json"), (nlohmann::json{{"a", {1, 2}}}));
}

TEST_F(ParamsTest, OptionalSendsNullOrTheValue) {
  EXPECT_TRUE(conn.query_value<bool>("select $1::bigint is null", std::optional<std::int64_t>{}));
  EXPECT_TRUE(conn.query_value<bool>("select $1::text is null", std::nullopt));
  EXPECT_EQ(conn.query_value<std::int64_t>("select $1", std::optional<std::int64_t>{7}), 7);
  EXPECT_EQ(conn.query_value<std::optional<std::string>>("select $1::text", std::optional<std::string>{}),
            std::nullopt);
  // A typed NULL keeps its type, so the server can tell which overload is meant.
  EXPECT_EQ(conn.query_value<std::string>("select pg_typeof($1)::text", std::optional<Timestamp>{}),
            "timestamp with time zone");
}

TEST_F(ParamsTest, ArraysOfEveryElementTypeRoundTrip) {
  EXPECT_EQ(echo(std::vector<std::int16_t>{1, -2, 3}, "smallint[]"), (std::vector<std::int16_t>{1, -2, 3}));
  EXPECT_EQ(echo(std::vector<std::int32_t>{1, 2, 3}, "integer[]"), (std::vector<std::int32_t>{1, 2, 3}));
  EXPECT_EQ(echo(std::vector<std::int64_t>{1LL << 40, -5}, "bigint[]"), (std::vector<std::int64_t>{1LL << 40, -5}));
  EXPECT_EQ(echo(std::vector<double>{0.5, -1e10}, "double precision[]"), (std::vector<double>{0.5, -1e10}));
  EXPECT_EQ(echo(std::vector<bool>{true, false, true}, "boolean[]"), (std::vector<bool>{true, false, true}));
  const std::vector<std::string> strings{"a", "", "tab\there", "quote\"s", "\u2713", "NULL"};
  EXPECT_EQ(echo(strings, "text[]"), strings);
  const std::vector<Bytes> blobs{Bytes{std::byte{0}}, Bytes{}, Bytes{std::byte{0xff}, std::byte{1}}};
  EXPECT_EQ(echo(blobs, "bytea[]"), blobs);
  const std::vector<Timestamp> times{utc(1960y / 1 / 1, 1h, 2min, 3s, 4us), utc(2030y / 5 / 6, 7h, 8min, 9s, 10us)};
  EXPECT_EQ(echo(times, "timestamp with time zone[]"), times);
  const std::vector<nlohmann::json> docs{{{"a", 1}}, nlohmann::json::array({1, "x"})};
  EXPECT_EQ(echo(docs, "jsonb[]"), docs);
  // The server sees real arrays: it can index and count them.
  EXPECT_EQ(conn.query_value<std::string>("select ($1::text[])[3]", strings), "tab\there");
  EXPECT_EQ(conn.query_value<std::int32_t>("select cardinality($1)", times), 2);
}

TEST_F(ParamsTest, EmptyArraysRoundTrip) {
  EXPECT_EQ(echo(std::vector<std::int64_t>{}, "bigint[]"), std::vector<std::int64_t>{});
  EXPECT_EQ(echo(std::vector<std::string>{}, "text[]"), std::vector<std::string>{});
  EXPECT_TRUE(conn.query_value<bool>("select $1 = '{}'::bigint[]", std::vector<std::int64_t>{}));
  EXPECT_EQ(conn.query_value<std::vector<std::int32_t>>("select '{}'::int[]"), std::vector<std::int32_t>{});
}

TEST_F(ParamsTest, ArraysWithNullsUseOptionalElements) {
  const std::vector<std::optional<std::int32_t>> ints{1, std::nullopt, 3};
  EXPECT_EQ(echo(ints, "integer[]"), ints);
  EXPECT_EQ(conn.query_value<std::int64_t>("select count(*) from unnest($1) v where v is null", ints), 1);
  const std::vector<std::optional<std::string>> strings{std::nullopt, "b"};
  EXPECT_EQ(echo(strings, "text[]"), strings);
  const std::vector<std::optional<Timestamp>> times{std::nullopt};
  EXPECT_EQ(echo(times, "timestamp with time zone[]"), times);
  // An array the server made, read with and without room for NULLs.
  Result r = conn.query("select array['a', null, 'c'] as letters");
  EXPECT_EQ(r[0].get<std::vector<std::optional<std::string>>>("letters"),
            (std::vector<std::optional<std::string>>{"a", std::nullopt, "c"}));
  try {
    r[0].get<std::vector<std::string>>("letters");
    FAIL() << "a NULL element read as a plain std::string must throw";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("std::optional"), std::string::npos) << e.what();
  }
}

TEST_F(ParamsTest, ParamsOutliveTheValuesTheyWereBuiltFrom) {
  Params params;
  {
    std::string temporary = "short";  // stored inline in the std::string: moves with it
    params.add(temporary).add(std::string(100, 'x')).add(std::int64_t{5});
  }
  Params copy = params;
  Result r = conn.execute("select $1::text, length($2), $3", copy);
  EXPECT_EQ(r[0].get<std::string>(0), "short");
  EXPECT_EQ(r[0].get<std::int32_t>(1), 100);
  EXPECT_EQ(r[0].get<std::int64_t>(2), 5);
}

}  // namespace
}  // namespace pgstack::pg
