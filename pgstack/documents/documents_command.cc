// pgstack docs collections|create|insert|get|find|count|update|delete|index: documents
// from the command line, through their SQL API (docs/documents.md). Filters, changes,
// sorts and documents are JSON arguments; bad JSON is bad usage (exit 2) and changes
// nothing, as does a filter or change the server refuses (exit 1).
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "pgstack/capability/capability.h"
#include "pgstack/cli/cli_context.h"
#include "pgstack/cli/integer_options.h"
#include "pgstack/documents/collection.h"
#include "pgstack/pg/json_text.h"

namespace pgstack::docs {

capability::Capability capability();  // capability.cc

namespace {

using namespace pgstack::cli;

struct DocsArgs {
  std::optional<std::string> db;
  bool json = false;
  std::string collection;
  std::string schema = "public";
  std::string document;
  std::string filter = "{}";
  std::string changes;
  std::vector<std::string> id_and_changes;  // update: [id] changes
  std::optional<std::string> where;
  std::optional<std::string> sort;
  std::optional<std::string> projection;
  std::optional<std::string> after;
  std::optional<std::int64_t> id;
  std::optional<std::int64_t> expected_version;
  std::int64_t limit = 20;
  std::string path;
  std::string type = "numeric";
  bool unique = false;
};

pg::Connection open_docs(const DocsArgs& args) { return connect_installed(args.db, capability()); }

// JSON the user typed: bad text is bad usage, with an example of the right form.
nlohmann::json json_argument(const std::string& text, std::string_view what, std::string_view example) {
  try {
    return pg::parse_json(text, what);
  } catch (const pg::UsageError& e) {
    throw BadUsage(fmt::format("{}; write it as JSON, for example {}", e.what(), example));
  }
}

constexpr std::string_view kFilterExample = R"('{"tags": "sale", "price": {"$lt": 100}}' (docs/documents.md))";
constexpr std::string_view kChangesExample = R"('{"$set": {"price": 9.5}, "$inc": {"views": 1}}')";

void print_document(const Document& d, bool json) {
  if (json)
    std::cout << nlohmann::json{{"id", d.id}, {"version", d.version}, {"doc", d.doc}}.dump() << "\n";
  else
    std::cout << fmt::format("{}  v{}  {}\n", d.id, d.version, d.doc.dump());
}

void run_collections(const DocsArgs& args) {
  set_command("pgstack docs collections");
  auto conn = open_docs(args);
  auto rows = conn.query(
      "select collection::text, estimated_documents, pg_catalog.pg_size_pretty(total_bytes), total_bytes "
      "from pgstack.doc_collections order by 1");
  if (args.json) {
    nlohmann::json out = nlohmann::json::array();
    for (auto r : rows)
      out.push_back({{"collection", r.get<std::string>(0)}, {"estimated_documents", r.get<std::int64_t>(1)},
                     {"total_bytes", r.get<std::int64_t>(3)}});
    print_json({{"collections", out}});
    return;
  }
  std::cout << fmt::format("{:<40} {:>12} {:>10}\n", "COLLECTION", "DOCUMENTS", "SIZE");
  for (auto r : rows)
    std::cout << fmt::format("{:<40} {:>12} {:>10}\n", r.get<std::string>(0), r.get<std::int64_t>(1), r.get<std::string>(2));
  if (rows.empty()) std::cout << "(no collections; create one with `pgstack docs create NAME`)\n";
}

void run_create(const DocsArgs& args) {
  set_command("pgstack docs create");
  auto conn = open_docs(args);
  auto table = conn.query_value<std::string>("select pgstack.doc_collection_create($1, $2)::text", args.collection, args.schema);
  if (args.json)
    print_json({{"collection", table}});
  else
    std::cout << fmt::format("collection {} is ready (GIN-indexed; add typed indexes with `pgstack docs index {} PATH`)\n",
                             table, table);
}

void run_insert(const DocsArgs& args) {
  set_command("pgstack docs insert");
  auto doc = json_argument(args.document, "the document", R"('{"name": "lamp", "price": 30}')");
  auto conn = open_docs(args);
  auto id = Collection(conn, args.collection).insert(doc);
  if (args.json)
    print_json({{"id", id}});
  else
    std::cout << fmt::format("inserted {} into {}\n", id, args.collection);
}

void run_get(const DocsArgs& args) {
  set_command("pgstack docs get");
  auto conn = open_docs(args);
  auto d = Collection(conn, args.collection).get(*args.id);
  if (!d) throw pgstack::Error(fmt::format("{} has no document {}", args.collection, *args.id));
  print_document(*d, args.json);
}

void run_find(const DocsArgs& args) {
  set_command("pgstack docs find");
  FindOptions options;
  auto filter = json_argument(args.filter, "the filter", kFilterExample);
  if (args.sort) options.sort = json_argument(*args.sort, "--sort", R"('[{"price": -1}]')");
  if (args.projection) options.projection = json_argument(*args.projection, "--projection", R"('{"name": 1}')");
  if (args.after) options.after = json_argument(*args.after, "--after", "the cursor a page printed");
  options.max_rows = static_cast<int>(args.limit);
  auto conn = open_docs(args);
  auto page = Collection(conn, args.collection).find(filter, options);
  for (const auto& d : page.documents) print_document(d, args.json);
  if (page.next) {
    if (args.json)
      std::cout << nlohmann::json{{"next", *page.next}}.dump() << "\n";
    else
      std::cout << fmt::format("(more: --after '{}')\n", page.next->dump());
  }
}

void run_count(const DocsArgs& args) {
  set_command("pgstack docs count");
  auto filter = json_argument(args.filter, "the filter", kFilterExample);
  auto conn = open_docs(args);
  auto n = Collection(conn, args.collection).count(filter);
  if (args.json)
    print_json({{"count", n}});
  else
    std::cout << n << "\n";
}

// Exactly one of an id and --where: which documents a change or a delete is for.
void require_one_target(const DocsArgs& args) {
  if (args.id.has_value() == args.where.has_value())
    throw BadUsage("give a document's ID or --where FILTER (every match), not both and not neither");
}

// update's positionals: "ID CHANGES", or "CHANGES" with --where.
void split_update_arguments(DocsArgs& args) {
  if (args.id_and_changes.size() == 2) {
    const auto& id = args.id_and_changes[0];
    if (id.empty() || id.size() > 18 || id.find_first_not_of("0123456789") != std::string::npos || id == "0")
      throw BadUsage(fmt::format("'{}' is not a document id (a whole number from 1)", id));
    args.id = std::stoll(id);
  }
  args.changes = args.id_and_changes.back();
}

void run_update(DocsArgs& args) {
  set_command("pgstack docs update");
  split_update_arguments(args);
  require_one_target(args);
  auto changes = json_argument(args.changes, "the changes", kChangesExample);
  std::optional<nlohmann::json> where;
  if (args.where) where = json_argument(*args.where, "--where", kFilterExample);
  auto conn = open_docs(args);
  Collection c(conn, args.collection);
  if (where) {
    auto n = c.update_many(*where, changes);
    if (args.json) print_json({{"updated", n}});
    else std::cout << fmt::format("updated {} document(s)\n", n);
    return;
  }
  auto version = c.update(*args.id, changes, args.expected_version);
  if (!version) throw pgstack::Error(fmt::format("{} has no document {}", args.collection, *args.id));
  if (args.json) print_json({{"id", *args.id}, {"version", *version}});
  else std::cout << fmt::format("{} is at version {}\n", *args.id, *version);
}

void run_delete(const DocsArgs& args) {
  set_command("pgstack docs delete");
  require_one_target(args);
  std::optional<nlohmann::json> where;
  if (args.where) where = json_argument(*args.where, "--where", kFilterExample);
  auto conn = open_docs(args);
  Collection c(conn, args.collection);
  std::int64_t n = where ? c.remove_many(*where) : (c.remove(*args.id, args.expected_version) ? 1 : 0);
  if (args.json) print_json({{"deleted", n}});
  else std::cout << fmt::format("deleted {} document(s)\n", n);
}

// CREATE INDEX CONCURRENTLY cannot run in a transaction: the statement comes from
// pgstack.doc_index_sql and runs on its own, so writes to the collection go on.
void run_index(const DocsArgs& args) {
  set_command("pgstack docs index");
  auto conn = open_docs(args);
  auto r = conn.query("select index_name, statement, serves from pgstack.doc_index_sql($1::regclass, $2, $3, $4)",
                      args.collection, args.path, args.type, args.unique);
  conn.execute_script(r[0].get<std::string>(1));
  if (args.json)
    print_json({{"index", r[0].get<std::string>(0)}, {"serves", r[0].get<std::string>(2)}});
  else
    std::cout << fmt::format("index {} is ready; it serves {}\n", r[0].get<std::string>(0), r[0].get<std::string>(2));
}

}  // namespace

void add_commands(CLI::App& app) {
  auto* docs = app.add_subcommand("docs", "Documents: collections, find, insert, update, delete, indexes (docs/documents.md)");
  docs->require_subcommand(1);
  auto args = std::make_shared<DocsArgs>();
  auto common = [&](CLI::App* cmd) {
    cmd->add_option("--db", args->db, "Database URL (default: $DATABASE_URL, then the local stack)");
    cmd->add_flag("--json", args->json, "Print as JSON (one object per line for documents)");
  };
  auto collection = [&](CLI::App* cmd) {
    cmd->add_option("collection", args->collection, "The collection (a table name, as SQL resolves it)")->required();
  };
  auto* list = docs->add_subcommand("collections", "Every collection, with its estimated size");
  common(list);
  list->callback([args] { run_collections(*args); });
  auto* create = docs->add_subcommand("create", "Create a collection (needs the right to create tables in the schema)");
  common(create);
  collection(create);
  create->add_option("--schema", args->schema, "The schema to create it in")->capture_default_str();
  create->callback([args] { run_create(*args); });
  auto* insert = docs->add_subcommand("insert", "Insert a document; prints its id");
  common(insert);
  collection(insert);
  insert->add_option("document", args->document, "The document, a JSON object")->required();
  insert->callback([args] { run_insert(*args); });
  auto* get = docs->add_subcommand("get", "Print one document by id");
  common(get);
  collection(get);
  get->add_option("id", args->id, "The document's id")->required()->check(positive_id());
  get->callback([args] { run_get(*args); });
  auto* find = docs->add_subcommand("find", "Print the documents a filter matches, a page at a time");
  common(find);
  collection(find);
  find->add_option("filter", args->filter, "The filter, JSON (default: every document)");
  find->add_option("--sort", args->sort, R"(The order, e.g. '[{"price": -1}]')");
  find->add_option("--projection", args->projection, R"(The paths to keep ('{"name": 1}') or drop ('{"body": 0}'))");
  find->add_option("--after", args->after, "The cursor a page printed: the rows after it");
  find->add_option("--limit", args->limit, "Documents per page")->check(whole_number_in(1, 10000))->capture_default_str();
  find->callback([args] { run_find(*args); });
  auto* count = docs->add_subcommand("count", "How many documents a filter matches");
  common(count);
  collection(count);
  count->add_option("filter", args->filter, "The filter, JSON (default: every document)");
  count->callback([args] { run_count(*args); });
  auto* update = docs->add_subcommand("update", "Apply changes ($set $unset $inc $push $pull $rename) to a document or every match");
  common(update);
  collection(update);
  update->add_option("id-and-changes", args->id_and_changes,
                     R"(The document's id and the changes, JSON ('42 '{"$set": {"price": 9.5}}''); with --where, the changes only)")
      ->required()->expected(1, 2);
  update->add_option("--where", args->where, "Every document this filter matches, instead of one id");
  update->add_option("--expected-version", args->expected_version, "Refuse (exit 1) if the document is at another version")
      ->check(positive_id());
  update->callback([args] { run_update(*args); });
  auto* remove = docs->add_subcommand("delete", "Delete a document or every match");
  common(remove);
  collection(remove);
  remove->add_option("id", args->id, "The document's id (or --where)")->check(positive_id());
  remove->add_option("--where", args->where, "Every document this filter matches, instead of one id");
  remove->add_option("--expected-version", args->expected_version, "Refuse (exit 1) if the document is at another version")
      ->check(positive_id());
  remove->callback([args] { run_delete(*args); });
  auto* index = docs->add_subcommand("index", "Create the index that serves ranges and sorts on a path (CONCURRENTLY)");
  common(index);
  collection(index);
  index->add_option("path", args->path, "The path, e.g. price or stock.qty")->required();
  index->add_option("--type", args->type, "numeric, text, timestamp (ranges, typed sorts) or jsonb (sorts)")->capture_default_str();
  index->add_flag("--unique", args->unique, "No two documents may have the same value there");
  index->callback([args] { run_index(*args); });
}

}  // namespace pgstack::docs
