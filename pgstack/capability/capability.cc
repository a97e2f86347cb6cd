#include "pgstack/capability/capability.h"

#include "pgstack/pg/connection.h"

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

}  // namespace pgstack::capability
