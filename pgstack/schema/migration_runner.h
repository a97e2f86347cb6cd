// Schema migrations: pgstack's own modules (embedded at build time) and an
// application's migrations/ folder, applied in order, each file in its own transaction
// under an advisory lock, recorded in pgstack.schema_migrations with a checksum.
// Applying twice is a no-op; concurrent runners do not interfere; an applied file
// whose checksum changed is refused; a failing file leaves nothing behind.
//
//   pgstack::pg::Connection conn(dsn);
//   pgstack::schema::MigrationRunner runner(conn);
//   runner.apply(pgstack::schema::builtin_module_list());
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "pgstack/pg/connection.h"
#include "pgstack/pg/errors.h"
#include "pgstack/pg/types.h"
#include "pgstack/schema/builtin_modules.h"

namespace pgstack::schema {

struct Migration {
  std::string module;     // "core", "jobs", or "app" for an application's folder
  int version = 0;        // the NNN of NNN_name.sql
  std::string name;       // the file name, e.g. "001_core.sql"
  std::string source;     // where it came from: "embedded:core/001_core.sql" or a path
  std::string sql;
  std::string checksum;   // hex SHA-256 of sql
  // False when the file starts with "-- pgstack:no-transaction" (CREATE INDEX
  // CONCURRENTLY and friends); it then runs statement by statement.
  bool transactional = true;
};

struct Module {
  std::string name;
  std::vector<std::string> depends_on;
  std::vector<Migration> migrations;  // ascending version
  // One of pgstack's own (embedded) modules: only the ledger's owner records these, and
  // a recorded row of one that someone else wrote is refused (migration_runner.cc).
  bool builtin = false;
};

// pgstack's embedded modules, dependencies first (defined in pgstack_modules).
std::vector<Module> builtin_module_list();

// The version of a NNN_name.sql file name, or nullopt when the name is not one.
std::optional<int> migration_version(std::string_view file_name);

// A migration from its text: version from the name, SHA-256 checksum of the text
// (CRLF read as LF), transactional unless marked. Throws MigrationError for a bad name.
Migration make_migration(const std::string& module, const std::string& file_name, const std::string& source,
                         std::string_view sql);

// Modules with each one after those it depends on; throws for a cycle, an unknown
// dependency or a name used twice.
std::vector<Module> order_modules(std::vector<Module> modules);
std::vector<Module> modules_from_embedded(const std::vector<EmbeddedModule>& embedded);

// Reads dir/NNN_name.sql as module `module_name`. Throws MigrationError for a file
// name without a version, two files with one version, or an unreadable folder.
Module load_directory_module(const std::filesystem::path& dir, const std::string& module_name = "app");

enum class MigrationState {
  applied,       // recorded, checksum matches
  pending,       // not yet applied
  changed,       // recorded, but the file's checksum differs: refused
  missing_file,  // recorded, but no file has this version any more
};
const char* to_string(MigrationState state);

struct MigrationStatus {
  std::string module;
  int version = 0;
  std::string name;
  MigrationState state = MigrationState::pending;
  std::optional<pg::Timestamp> applied_at;
  std::string recorded_checksum;  // empty when not applied
  std::string file_checksum;      // empty when missing_file
};

struct ApplyReport {
  std::vector<MigrationStatus> applied;  // what this call applied, in order
  std::size_t already_applied = 0;
};

// What failed, where (file and line when known) and what to do.
class MigrationError : public pgstack::Error {
 public:
  MigrationError(std::string message, std::string file = {}, int line = 0);
  const std::string& file() const noexcept { return file_; }
  int line() const noexcept { return line_; }

 private:
  std::string file_;
  int line_;
};

class MigrationRunner {
 public:
  // Needs a direct connection (not through a transaction pooler) for files that run
  // outside a transaction; transactional files work through a pooler too. A role that
  // may not write the ledger (the stack's `migrations`) records its files through
  // pgstack.record_migration(), which refuses pgstack's own modules.
  explicit MigrationRunner(pg::Connection& conn);

  std::vector<MigrationStatus> status(const std::vector<Module>& modules);
  ApplyReport apply(const std::vector<Module>& modules);

 private:
  pg::Connection& conn_;
};

}  // namespace pgstack::schema
