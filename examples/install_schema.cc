// Installs (or upgrades) pgstack's SQL API in DATABASE_URL's database from the modules
// compiled into libpgstack (pgstack::modules): what `pgstack install` does, from an
// application's own start-up or deploy step. Migrations already applied are skipped.
//
//   DATABASE_URL=postgresql://postgres@localhost/app ./install_schema
#include <cstdlib>
#include <iostream>

#include "pgstack/pg/connection.h"
#include "pgstack/schema/migration_runner.h"

int main() {
  const char* url = std::getenv("DATABASE_URL");
  if (url == nullptr || *url == '\0') {
    std::cerr << "install_schema: set DATABASE_URL to the database to install pgstack into\n";
    return 2;
  }
  try {
    pgstack::pg::Connection conn(url);
    pgstack::schema::MigrationRunner runner(conn);
    auto modules = pgstack::schema::builtin_module_list();
    auto report = runner.apply(modules);
    std::cout << "pgstack's schema is installed: " << modules.size() << " modules, " << report.applied.size()
              << " migrations applied now, " << report.already_applied << " already there\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "install_schema: " << e.what() << "\n";
    return 1;
  }
}
