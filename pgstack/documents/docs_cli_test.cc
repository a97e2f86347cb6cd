// `pgstack docs ...` as a user runs it, against a real server, including bad input that
// changes nothing.
#include <gtest/gtest.h>

#include <string>

#include "pgstack/schema/testing/schema_cli_test.h"

namespace pgstack::docs {
namespace {

using pgstack::testing::json_of;

class DocsCliTest : public schema::SchemaCliTest {};

TEST_F(DocsCliTest, CreateInsertFindUpdateIndexDelete) {
  auto r = cli({"docs", "create", "products"});
  ASSERT_EQ(r.code, 0) << r.output;
  ASSERT_EQ(cli({"docs", "insert", "products", R"({"name": "lamp", "price": 30, "tags": ["sale"]})"}).code, 0);
  ASSERT_EQ(cli({"docs", "insert", "products", R"({"name": "desk", "price": 120})"}).code, 0);
  r = cli({"docs", "find", "products", R"({"tags": "sale"})", "--json"});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(json_of(r)["doc"]["name"], "lamp");
  r = cli({"docs", "find", "products", "--sort", R"([{"price": -1}])", "--limit", "1"});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("\"desk\""), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("(more: --after '[[120],2]')"), std::string::npos) << r.output;
  r = cli({"docs", "update", "products", "1", R"({"$inc": {"price": 5}})", "--expected-version", "1", "--json"});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(json_of(r)["version"], 2);
  r = cli({"docs", "update", "products", R"({"$set": {"checked": true}})", "--where", "{}"});
  EXPECT_NE(r.output.find("updated 2 document(s)"), std::string::npos) << r.output;
  r = cli({"docs", "index", "products", "price", "--type", "numeric"});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("index products_price_numeric is ready"), std::string::npos) << r.output;
  EXPECT_EQ(conn_.query_value<std::int64_t>("select count(*) from pg_indexes where indexname = 'products_price_numeric'"), 1);
  r = cli({"docs", "count", "products", R"({"price": {"$gt": 100}})"});
  EXPECT_EQ(r.output, "1\n");
  r = cli({"docs", "collections", "--json"});
  EXPECT_EQ(json_of(r)["collections"][0]["collection"], "products");
  r = cli({"docs", "get", "products", "1"});
  EXPECT_NE(r.output.find("1  v3  "), std::string::npos) << r.output;
  r = cli({"docs", "delete", "products", "--where", R"({"name": "desk"})"});
  EXPECT_NE(r.output.find("deleted 1 document(s)"), std::string::npos) << r.output;
}

TEST_F(DocsCliTest, BadInputGetsAClearErrorAndChangesNothing) {
  ASSERT_EQ(cli({"docs", "create", "products"}).code, 0);
  ASSERT_EQ(cli({"docs", "insert", "products", R"({"name": "lamp"})"}).code, 0);
  auto r = cli({"docs", "find", "products", "{name: 1}"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("pgstack docs find: the filter is not valid JSON"), std::string::npos) << r.output;
  r = cli({"docs", "find", "products", R"({"name": {"$regex": "l"}})"});
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("unknown operator '$regex' at /name"), std::string::npos) << r.output;
  r = cli({"docs", "update", "products", "1", R"({"name": "x"})"});
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("unknown change 'name'"), std::string::npos) << r.output;
  r = cli({"docs", "update", "products", "1", R"({"$set": {"a": 1}})", "--where", "{}"});
  EXPECT_EQ(r.code, 2) << r.output;
  r = cli({"docs", "update", "products", "x1", R"({"$set": {"a": 1}})"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("'x1' is not a document id"), std::string::npos) << r.output;
  r = cli({"docs", "update", "products", "1", R"({"$set": {"a": 1}})", "--expected-version", "7"});
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("is at version 1, not 7"), std::string::npos) << r.output;
  r = cli({"docs", "delete", "products", "--where", "{}"});
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("would delete every document"), std::string::npos) << r.output;
  r = cli({"docs", "find", "plain_table_that_is_not_there"});
  EXPECT_EQ(r.code, 1) << r.output;
  r = cli({"docs", "index", "products", "price", "--type", "money"});
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("index type 'money' is not valid"), std::string::npos) << r.output;
  EXPECT_EQ(conn_.query_value<std::int64_t>("select count(*) from products where version = 1 and doc = '{\"name\": \"lamp\"}'"), 1)
      << "nothing changed";
}

}  // namespace
}  // namespace pgstack::docs
