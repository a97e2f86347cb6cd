// The SQL modules compiled into this binary. Each capability folder declares its
// sql/NNN_name.sql files with pgstack_sql_module() in its CMakeLists.txt; the build
// embeds them here (cmake/embed_sql.cmake), so nothing else changes to add a module.
//
//   for (const auto& m : pgstack::schema::builtin_modules())
//     std::cout << m.name << ": " << m.files.size() << " migrations\n";
#pragma once

#include <string>
#include <vector>

namespace pgstack::schema {

struct EmbeddedFile {
  std::string name;  // e.g. "001_core.sql"
  std::string sql;
};

struct EmbeddedModule {
  std::string name;                     // e.g. "core", "jobs"
  std::vector<std::string> depends_on;  // modules that must be applied first
  std::vector<EmbeddedFile> files;      // sorted by name
};

// Defined in the generated builtin_modules.cc (library pgstack_modules).
const std::vector<EmbeddedModule>& builtin_modules();

}  // namespace pgstack::schema
