#include "pgstack/documents/collection.h"

namespace pgstack::docs {

namespace {

// Each call names the collection as text cast to regclass in the statement, so the
// server resolves it (and refuses what is not a table's name) in the caller's session.
constexpr const char* kRequire = "select pgstack.doc_require_collection($1::regclass)";
constexpr const char* kInsert = "select pgstack.doc_insert($1::regclass, $2)";
constexpr const char* kInsertMany = "select pgstack.doc_insert_many($1::regclass, $2)";
constexpr const char* kGet = "select id, doc, version from pgstack.doc_get($1::regclass, $2)";
constexpr const char* kFind =
    "select id, doc, version, cursor from pgstack.doc_find($1::regclass, $2, $3, $4, $5, $6)";
constexpr const char* kCount = "select pgstack.doc_count($1::regclass, $2)";
constexpr const char* kUpdate = "select version from pgstack.doc_update($1::regclass, $2, $3, $4)";
constexpr const char* kUpdateMany = "select pgstack.doc_update_many($1::regclass, $2, $3)";
constexpr const char* kReplace = "select pgstack.doc_replace($1::regclass, $2, $3, $4)";
constexpr const char* kDelete = "select pgstack.doc_delete($1::regclass, $2, $3)";
constexpr const char* kDeleteMany = "select pgstack.doc_delete_many($1::regclass, $2)";

// A JSON null (FindOptions' default) is SQL NULL: the function's default applies.
std::optional<nlohmann::json> unless_null(const nlohmann::json& v) {
  if (v.is_null()) return std::nullopt;
  return v;
}

}  // namespace

Collection::Collection(pg::Executor db, std::string name) : db_(db), name_(std::move(name)) {
  db_.query(kRequire, name_);
}

std::int64_t Collection::insert(const nlohmann::json& doc) {
  return db_.query_value<std::int64_t>(kInsert, name_, doc);
}

std::vector<std::int64_t> Collection::insert_many(const std::vector<nlohmann::json>& docs) {
  std::vector<std::int64_t> ids;
  ids.reserve(docs.size());
  for (const auto& row : db_.query(kInsertMany, name_, docs)) ids.push_back(row.get<std::int64_t>(0));
  return ids;
}

std::optional<Document> Collection::get(std::int64_t id) {
  auto rows = db_.query(kGet, name_, id);
  if (rows.empty()) return std::nullopt;
  return Document{rows[0].get<std::int64_t>(0), rows[0].get<nlohmann::json>(1), rows[0].get<std::int64_t>(2)};
}

Page Collection::find(const nlohmann::json& filter, const FindOptions& options) {
  auto rows = db_.query(kFind, name_, filter, unless_null(options.sort), unless_null(options.projection),
                        static_cast<std::int32_t>(options.max_rows), options.after);
  Page page;
  page.documents.reserve(rows.rows());
  for (const auto& row : rows)
    page.documents.push_back({row.get<std::int64_t>(0), row.get<nlohmann::json>(1), row.get<std::int64_t>(2)});
  if (!rows.empty() && static_cast<int>(rows.rows()) == options.max_rows)
    page.next = rows[rows.rows() - 1].get<nlohmann::json>(3);
  return page;
}

std::int64_t Collection::count(const nlohmann::json& filter) {
  return db_.query_value<std::int64_t>(kCount, name_, filter);
}

std::optional<std::int64_t> Collection::update(std::int64_t id, const nlohmann::json& changes,
                                               std::optional<std::int64_t> expected_version) {
  return db_.query_optional<std::int64_t>(kUpdate, name_, id, changes, expected_version);
}

std::int64_t Collection::update_many(const nlohmann::json& filter, const nlohmann::json& changes) {
  return db_.query_value<std::int64_t>(kUpdateMany, name_, filter, changes);
}

std::optional<std::int64_t> Collection::replace(std::int64_t id, const nlohmann::json& doc,
                                                std::optional<std::int64_t> expected_version) {
  return db_.query_value<std::optional<std::int64_t>>(kReplace, name_, id, doc, expected_version);
}

bool Collection::remove(std::int64_t id, std::optional<std::int64_t> expected_version) {
  return db_.query_value<bool>(kDelete, name_, id, expected_version);
}

std::int64_t Collection::remove_many(const nlohmann::json& filter) {
  return db_.query_value<std::int64_t>(kDeleteMany, name_, filter);
}

}  // namespace pgstack::docs
