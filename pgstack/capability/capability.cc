#include "pgstack/capability/capability.h"

#include "pgstack/pg/connection.h"
#include "pgstack/pg/json_text.h"

namespace pgstack::capability {

bool installed(pg::Connection& conn, const Capability& capability) {
  const auto dot = capability.marker.find('.');
  return conn.query_value<bool>(
      "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
      "WHERE n.nspname = $1 AND c.relname = $2)",
      capability.marker.substr(0, dot), capability.marker.substr(dot + 1));
}

std::vector<std::string> contract_functions(pg::Connection& conn) {
  std::vector<std::string> out;
  for (auto row : conn.query("SELECT DISTINCT p.proname::text FROM pg_catalog.pg_proc p "
                             "JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
                             "WHERE n.nspname = 'pgstack' AND p.proname ~ '_(health|metrics|usage|advice)$' ORDER BY 1"))
    out.push_back(row.get<std::string>(0));
  return out;
}

void collect_metrics(pg::Connection& conn, const Capability& capability, const Labels& labels, Exposition& out) {
  // The name is a registered capability's (identifier-quoted all the same): a function
  // name cannot be a bind parameter.
  auto rows = conn.query("SELECT family, type, help, labels::text, value FROM pgstack." +
                         conn.quote_identifier(capability.name + "_metrics") + "()");
  for (auto row : rows) {
    const auto family = row.get<std::string>(0);
    out.family(family, row.get<std::string>(1), row.get<std::string>(2));
    Labels sample_labels = labels;
    const auto object = pg::parse_json(row.get<std::string>(3), "labels");
    for (const auto& [name, value] : object.items())
      sample_labels.emplace_back(name, value.is_string() ? value.get<std::string>() : value.dump());
    if (auto v = row.get<std::optional<double>>(4)) out.sample(family, sample_labels, *v);
  }
}

}  // namespace pgstack::capability
