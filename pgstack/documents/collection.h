// JSON documents in a collection (docs/documents.md): insert, get, find with the filter
// language (MongoDB-like, compiled to SQL the indexes serve), keyset pages, count,
// partial updates of one document or of every match, replace, delete; optimistic
// concurrency by version. Each call is one statement of the SQL API (pgstack.doc_*),
// so other languages see and do the same.
//
//   pgstack::docs::Collection products{pool, "products"};
//   auto id = products.insert({{"name", "lamp"}, {"price", 30}, {"tags", {"home", "sale"}}});
//   auto page = products.find({{"tags", "sale"}, {"price", {{"$lt", 100}}}},
//                             {.sort = nlohmann::json::parse(R"([{"price": 1}])"), .max_rows = 20});
//   products.update(id, {{"$inc", {{"price", 5}}}}, page.documents[0].version);  // 40001 if it moved on
//
// A collection is a table of the application's, made in a migration
// (pgstack.doc_collection_create) by the role that owns the schema.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pgstack/pg/executor.h"

namespace pgstack::docs {

struct Document {
  std::int64_t id = 0;
  nlohmann::json doc;
  std::int64_t version = 0;
};

struct FindOptions {
  // [{"price": -1}, {"name": 1}]: an array, since a JSON object keeps no order. A
  // direction may be {"order": -1, "type": "numeric"} (or text, timestamp).
  nlohmann::json sort = nullptr;
  // {"name": 1, "price": 1} keeps paths, {"body": 0} drops them.
  nlohmann::json projection = nullptr;
  int max_rows = 100;  // 1 to 10000
  // The `next` of the page before: the rows after it.
  std::optional<nlohmann::json> after;
};

struct Page {
  std::vector<Document> documents;
  // Pass as FindOptions::after for the next page; nullopt when this page was the last
  // (it had fewer rows than asked for).
  std::optional<nlohmann::json> next;
};

class Collection {
 public:
  // On a pool, or inside the caller's connection or transaction (pg/executor.h), so a
  // document can be written with the rows it belongs to. `name` is the table's, as SQL
  // would resolve it ("products", "catalog.products"). Throws pg::SqlError (42809)
  // when it is not a collection, (42P01) when there is no such table.
  Collection(pg::Executor db, std::string name);

  const std::string& name() const noexcept { return name_; }

  std::int64_t insert(const nlohmann::json& doc);
  // One statement; the ids in the order given.
  std::vector<std::int64_t> insert_many(const std::vector<nlohmann::json>& docs);

  std::optional<Document> get(std::int64_t id);
  Page find(const nlohmann::json& filter = nlohmann::json::object(), const FindOptions& options = {});
  std::int64_t count(const nlohmann::json& filter = nlohmann::json::object());

  // Applies changes ({"$set": {...}, "$inc": {...}, ...}); returns the new version, or
  // nullopt when there is no such document. With expected_version, a document that is
  // at another one is left alone and pg::SerializationFailure (40001) is thrown.
  std::optional<std::int64_t> update(std::int64_t id, const nlohmann::json& changes,
                                     std::optional<std::int64_t> expected_version = std::nullopt);
  // Every match, in one statement; returns how many.
  std::int64_t update_many(const nlohmann::json& filter, const nlohmann::json& changes);
  std::optional<std::int64_t> replace(std::int64_t id, const nlohmann::json& doc,
                                      std::optional<std::int64_t> expected_version = std::nullopt);
  bool remove(std::int64_t id, std::optional<std::int64_t> expected_version = std::nullopt);
  // An empty filter is refused (it would delete everything).
  std::int64_t remove_many(const nlohmann::json& filter);

 private:
  pg::Executor db_;
  std::string name_;
};

}  // namespace pgstack::docs
