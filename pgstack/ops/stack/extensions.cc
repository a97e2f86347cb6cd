#include "pgstack/ops/stack/extensions.h"

#include <fmt/format.h>

#include "pgstack/pg/errors.h"

namespace pgstack::stack {

const std::vector<StackExtension>& stack_extensions() {
  static const std::vector<StackExtension> kExtensions = {
      {.name = "pg_stat_statements"},
      {.name = "pg_trgm"},
      {.name = "pgcrypto"},
      // pg_cron needs shared_preload_libraries; stack.cc preloads it when installed.
      {.name = "pg_cron", .optional = true},
      // pg_partman's docs: its objects live in a schema of their own.
      {.name = "pg_partman", .schema = "partman", .optional = true},
      {.name = "postgis", .optional = true},
  };
  return kExtensions;
}

std::vector<std::string> ensure_extensions(pg::Connection& conn) {
  std::vector<std::string> actions;
  for (const auto& ext : stack_extensions()) {
    if (conn.query_optional<std::int32_t>("select 1 from pg_extension where extname = $1", ext.name)) continue;
    if (!conn.query_optional<std::int32_t>("select 1 from pg_available_extensions where name = $1", ext.name)) {
      if (ext.optional) continue;
      throw Error(fmt::format("the PostgreSQL extension {} is not installed; run apt-get install postgresql-contrib-15",
                              ext.name));
    }
    if (ext.name == "pg_cron" &&
        conn.query_value<std::string>("select current_setting('shared_preload_libraries')").find("pg_cron") ==
            std::string::npos)
      continue;  // not preloaded (yet): creating it would fail
    std::string sql;
    if (!ext.schema.empty()) sql += "create schema if not exists " + conn.quote_identifier(ext.schema) + ";\n";
    sql += "create extension if not exists " + conn.quote_identifier(ext.name);
    if (!ext.schema.empty()) sql += " schema " + conn.quote_identifier(ext.schema);
    conn.execute_script(sql);
    actions.push_back(ext.schema.empty() ? "created extension " + ext.name
                                         : fmt::format("created extension {} in schema {}", ext.name, ext.schema));
  }
  return actions;
}

}  // namespace pgstack::stack
