// docs::Collection against a real PostgreSQL: each call does what the SQL API does,
// pages walk a whole order, optimistic concurrency holds between two writers, writes
// join the caller's transaction, and names that are not tables get nowhere.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "pgstack/documents/collection.h"
#include "pgstack/pg/errors.h"
#include "pgstack/pg/pool.h"
#include "pgstack/pg/transaction.h"
#include "pgstack/schema/testing/schema_test_cluster.h"
#include "pgstack/testing/eventually.h"

namespace pgstack::docs {
namespace {

using nlohmann::json;

class CollectionTest : public ::testing::Test {
 protected:
  pgstack::testing::TestDatabase db_ = schema::cluster_with_schemas().create_database();
  pg::Connection conn_{db_.dsn()};

  void SetUp() override { conn_.query("select pgstack.doc_collection_create('products')"); }

  std::string sqlstate_of(const std::function<void()>& f) {
    try {
      f();
    } catch (const pg::SqlError& e) {
      return e.sqlstate();
    }
    return "(no error)";
  }
};

TEST_F(CollectionTest, InsertGetFindCountUpdateDelete) {
  Collection products(conn_, "products");
  auto lamp = products.insert({{"name", "lamp"}, {"price", 30}, {"tags", {"home", "sale"}}});
  auto ids = products.insert_many({{{"name", "desk"}, {"price", 120}}, {{"name", "chair"}, {"price", 45}, {"tags", {"sale"}}}});
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0], lamp + 1);
  auto got = products.get(lamp);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->doc["name"], "lamp");
  EXPECT_EQ(got->version, 1);
  EXPECT_FALSE(products.get(999));

  auto page = products.find({{"tags", "sale"}}, {.sort = json::parse(R"([{"price": -1}])")});
  ASSERT_EQ(page.documents.size(), 2u);
  EXPECT_EQ(page.documents[0].doc["name"], "chair");
  EXPECT_FALSE(page.next) << "a short page is the last";
  EXPECT_EQ(products.count({{"price", {{"$gte", 45}}}}), 2);

  EXPECT_EQ(products.update(lamp, {{"$inc", {{"price", 5}}}, {"$push", {{"tags", "new"}}}}), 2);
  EXPECT_EQ(products.get(lamp)->doc["price"], 35);
  EXPECT_FALSE(products.update(999, {{"$set", {{"a", 1}}}})) << "no such document: no version";
  EXPECT_EQ(products.update_many({{"tags", "sale"}}, {{"$set", {{"on_sale", true}}}}), 2);
  EXPECT_EQ(products.replace(ids[0], {{"name", "desk"}, {"price", 99}}), 2);
  EXPECT_TRUE(products.remove(ids[0]));
  EXPECT_FALSE(products.remove(ids[0]));
  EXPECT_EQ(products.remove_many({{"on_sale", true}}), 2);
  EXPECT_EQ(products.count(), 0);
}

TEST_F(CollectionTest, PagesWalkTheWholeOrderWithoutSkippingOrRepeating) {
  Collection products(conn_, "products");
  std::vector<json> docs;
  for (int i = 0; i < 95; ++i) {
    json d = {{"n", i}};
    if (i % 4 != 0) d["rank"] = i % 10;  // a quarter have no rank: they sort last ascending
    docs.push_back(d);
  }
  products.insert_many(docs);
  for (const char* sort : {R"([{"rank": 1}])", R"([{"rank": -1}])", R"([{"rank": {"order": 1, "type": "numeric"}}, {"n": -1}])"}) {
    SCOPED_TRACE(sort);
    std::vector<int> walked;
    FindOptions options{.sort = json::parse(sort), .max_rows = 10};
    for (int pages = 0; pages < 20; ++pages) {
      auto page = products.find(json::object(), options);
      for (const auto& d : page.documents) walked.push_back(d.doc["n"].get<int>());
      if (!page.next) break;
      options.after = page.next;
    }
    std::vector<int> whole;
    for (const auto& d : products.find(json::object(), {.sort = json::parse(sort), .max_rows = 1000}).documents)
      whole.push_back(d.doc["n"].get<int>());
    EXPECT_EQ(walked, whole);
    EXPECT_EQ(std::set<int>(walked.begin(), walked.end()).size(), 95u);
  }
}

TEST_F(CollectionTest, AWriterThatReadAnOldVersionIsRefusedAndChangesNothing) {
  Collection products(conn_, "products");
  auto id = products.insert({{"name", "lamp"}, {"stock", 3}});
  auto seen = products.get(id)->version;
  pg::Connection other(db_.dsn());
  Collection(other, "products").update(id, {{"$inc", {{"stock", -1}}}}, seen);  // the other writer wins
  EXPECT_THROW(products.update(id, {{"$inc", {{"stock", -1}}}}, seen), pg::SerializationFailure);
  EXPECT_THROW(products.remove(id, seen), pg::SerializationFailure);
  auto now = products.get(id);
  EXPECT_EQ(now->doc["stock"], 2);
  EXPECT_EQ(now->version, seen + 1);
  EXPECT_EQ(products.update(id, {{"$inc", {{"stock", -1}}}}, now->version), now->version + 1) << "read again, it applies";
}

TEST_F(CollectionTest, WritesJoinTheCallersTransaction) {
  conn_.query("create table orders (id bigint primary key)");
  {
    pg::Transaction tx(conn_);
    tx.query("insert into orders values (1)");
    Collection(tx, "products").insert({{"order", 1}});
  }  // rolled back: neither the order nor its document
  EXPECT_EQ(Collection(conn_, "products").count(), 0);
  pg::Transaction tx(conn_);
  tx.query("insert into orders values (1)");
  Collection(tx, "products").insert({{"order", 1}});
  tx.commit();
  EXPECT_EQ(Collection(conn_, "products").count({{"order", 1}}), 1);
}

TEST_F(CollectionTest, ANameThatIsNoCollectionGetsNowhere) {
  conn_.query("create table plain (id int)");
  EXPECT_EQ(sqlstate_of([&] { Collection(conn_, "plain"); }), "42809");
  EXPECT_EQ(sqlstate_of([&] { Collection(conn_, "nope"); }), "42P01");
  EXPECT_EQ(sqlstate_of([&] { Collection(conn_, "products; drop table plain"); }), "42602");
  EXPECT_EQ(sqlstate_of([&] { Collection(conn_, "products\"; drop table plain; --"); }), "42602");
  EXPECT_EQ(conn_.query_value<std::int64_t>("select count(*) from pg_class where relname = 'plain'"), 1);
  // A filter or change the server refuses: 22023, and nothing was written.
  Collection products(conn_, "products");
  auto id = products.insert({{"a", 1}});
  EXPECT_EQ(sqlstate_of([&] { products.find({{"a", {{"$regex", "x"}}}}); }), "22023");
  EXPECT_EQ(sqlstate_of([&] { products.update(id, {{"$set", {{"a", 2}}}, {"$inc", {{"a", 1}}}}); }), "22023");
  EXPECT_EQ(products.get(id)->version, 1);
}

TEST_F(CollectionTest, ASchemaRefusesADocumentNamingThePath) {
  conn_.query(R"(select pgstack.doc_schema_set('products', '{"required": ["name"], "properties": {"price": {"type": "number"}}}'))");
  Collection products(conn_, "products");
  try {
    products.insert({{"name", "lamp"}, {"price", "thirty"}});
    FAIL() << "a document that fails the schema was inserted";
  } catch (const pg::SqlError& e) {
    EXPECT_EQ(e.sqlstate(), "23514");
    EXPECT_NE(std::string(e.what()).find("doc: /price must be a number"), std::string::npos) << e.what();
  }
  EXPECT_EQ(products.count(), 0);
}

// Doctor's doc_seq_scans: a collection read by whole-table scans is named, with the
// command that makes the index. (Statistics reach the view once the session's
// transactions end, so the check is waited for.)
TEST_F(CollectionTest, DoctorNamesACollectionReadByWholeTableScans) {
  Collection products(conn_, "products");
  std::vector<json> docs(300, json{{"price", 5}});
  products.insert_many(docs);
  for (int i = 0; i < 120; ++i) products.count({{"price", {{"$gt", i}}}});
  const char* sql = R"(select subject, fix from pgstack.docs_health('{"doc_seq_scan_rows": 100}') where severity = 'warning')";
  ASSERT_TRUE(pgstack::testing::eventually([&] { return !conn_.query(sql).empty(); }, std::chrono::seconds(10)))
      << "no warning for 120 whole-table scans of 300 documents";
  auto rows = conn_.query(sql);
  EXPECT_EQ(rows[0].get<std::string>(0), "collection public.products");
  const auto fix = rows[0].get<std::string>(1);
  EXPECT_NE(fix.find("pgstack docs index public.products <path>"), std::string::npos) << fix;
  EXPECT_TRUE(conn_.query(R"(select 1 from pgstack.docs_health() where severity = 'warning')").empty())
      << "300 documents are below the default threshold of 10000";
}

}  // namespace
}  // namespace pgstack::docs
