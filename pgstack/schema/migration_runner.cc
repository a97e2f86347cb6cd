// Applying migrations. The rules that make it safe to run from every app instance at
// deploy time:
//  - everything that can be checked without the server (names, syntax, a marked
//    file's shape) and every recorded checksum is checked before anything is applied;
//  - each file runs in its own transaction holding a transaction-level advisory lock,
//    and re-checks under the lock whether another runner applied it meanwhile — so
//    concurrent runners queue instead of colliding, and this works through a
//    transaction pooler too;
//  - a file marked "-- pgstack:no-transaction" (CREATE INDEX CONCURRENTLY) holds one
//    statement, runs in autocommit under a session advisory lock, and a failed
//    concurrent index build has its INVALID index dropped, so nothing half-done stays.
#include "pgstack/schema/migration_runner.h"

#include <algorithm>
#include <chrono>
#include <map>

#include <fmt/format.h>

#include "pgstack/pg/transaction.h"
#include "pgstack/schema/sql_script.h"

namespace pgstack::schema {
namespace {

// One lock for all of pgstack's migrations ("pgstack" in ASCII); applications that use
// advisory locks themselves will not pick this number by accident.
constexpr std::int64_t kMigrationLock = 0x70677374616b;

struct Recorded {
  std::string name;
  std::string checksum;
  pg::Timestamp applied_at;
};
using RecordedMap = std::map<std::pair<std::string, int>, Recorded>;

bool table_exists(pg::Connection& conn) {
  return conn.query_value<bool>("SELECT to_regclass('pgstack.schema_migrations') IS NOT NULL");
}

RecordedMap read_recorded(pg::Connection& conn) {
  RecordedMap recorded;
  if (!table_exists(conn)) return recorded;
  auto rows = conn.query("SELECT module, version, name, checksum, applied_at FROM pgstack.schema_migrations");
  for (const auto& row : rows)
    recorded[{row.get<std::string>(0), row.get<std::int32_t>(1)}] =
        Recorded{row.get<std::string>(2), row.get<std::string>(3), row.get<pg::Timestamp>(4)};
  return recorded;
}

void create_table(pg::Connection& conn) {
  if (table_exists(conn)) return;  // needs no CREATE privilege once it is there
  pg::Transaction tx(conn);
  tx.query("SELECT pg_advisory_xact_lock($1)", kMigrationLock);
  tx.execute_script(R"sql(
    CREATE SCHEMA IF NOT EXISTS pgstack;
    CREATE TABLE IF NOT EXISTS pgstack.schema_migrations (
      module       text        NOT NULL,
      version      integer     NOT NULL CHECK (version > 0),
      name         text        NOT NULL,
      checksum     text        NOT NULL,
      applied_at   timestamptz NOT NULL DEFAULT now(),
      execution_ms integer     NOT NULL,
      applied_by   text        NOT NULL DEFAULT current_user,
      PRIMARY KEY (module, version)
    );
    COMMENT ON TABLE pgstack.schema_migrations IS
      'Migrations applied by pgstack (its modules and the application''s, module ''app''). Do not edit.';
  )sql");
  tx.commit();
}

std::string changed_message(const Migration& m, const std::string& recorded_checksum) {
  return fmt::format("{} was applied with checksum {} but the file now has checksum {}: an applied migration "
                     "must not be edited. Restore the file as it was and put the change in a new migration.",
                     m.source, recorded_checksum.substr(0, 12), m.checksum.substr(0, 12));
}

// The server's error, placed at file:line.
MigrationError statement_error(const Migration& m, const SqlStatement& s, const pg::SqlError& e,
                               std::string_view consequence) {
  const auto& f = e.fields();
  int line = s.line + (f.position > 0 ? line_of_position(s.text, f.position) - 1 : 0);
  std::string message = fmt::format("{}:{}: {}", m.source, line, f.message.empty() ? e.what() : f.message);
  if (!f.sqlstate.empty()) message += fmt::format(" (SQLSTATE {})", f.sqlstate);
  if (!f.detail.empty()) message += fmt::format("\n  detail: {}", f.detail);
  if (!f.hint.empty()) message += fmt::format("\n  hint: {}", f.hint);
  message += fmt::format("\n{}", consequence);
  return MigrationError(std::move(message), m.source, line);
}

SqlScript checked_script(const Migration& m) {
  SqlScript script;
  try {
    script = parse_sql_script(m.sql);
  } catch (const SqlScriptError& e) {
    throw MigrationError(fmt::format("{}:{}: {}; nothing was applied: fix the file and run again", m.source, e.line(),
                                     e.what()),
                         m.source, e.line());
  }
  if (!m.transactional && script.statements.size() != 1)
    throw MigrationError(fmt::format("{} is marked {} and has {} statements; a file that runs outside a transaction "
                                     "must hold exactly one, so that a failure cannot leave it half-applied: "
                                     "split it into one file per statement",
                                     m.source, "-- pgstack:no-transaction", script.statements.size()),
                         m.source, 1);
  return script;
}

// Who writes the ledger: its owner (and superusers) directly; any other role through
// pgstack.record_migration(), which inserts only and refuses pgstack's own modules.
bool writes_ledger_directly(pg::Connection& conn) {
  return conn.query_value<bool>(
      "SELECT has_table_privilege('pgstack.schema_migrations', 'INSERT') "
      "OR to_regprocedure('pgstack.record_migration(text,integer,text,text,integer)') IS NULL");
}

template <typename Executor>
void record(Executor& ex, const Migration& m, std::chrono::steady_clock::duration took, bool directly) {
  auto ms = static_cast<std::int32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count());
  if (directly)
    ex.query("INSERT INTO pgstack.schema_migrations (module, version, name, checksum, execution_ms) "
             "VALUES ($1, $2, $3, $4, $5)",
             m.module, m.version, m.name, m.checksum, ms);
  else
    ex.query("SELECT pgstack.record_migration($1, $2, $3, $4, $5)", m.module, m.version, m.name, m.checksum, ms);
}

// pgstack's own module names, so that no application role records migrations of them
// (pgstack.builtin_modules exists once core's 003 is applied).
void register_builtin_modules(pg::Connection& conn, const std::vector<Module>& modules) {
  std::vector<std::string> names;
  for (const auto& m : modules)
    if (m.builtin) names.push_back(m.name);
  if (names.empty() || !conn.query_value<bool>("SELECT to_regclass('pgstack.builtin_modules') IS NOT NULL")) return;
  if (!conn.query_value<bool>("SELECT has_table_privilege('pgstack.builtin_modules', 'INSERT')")) return;
  conn.query("INSERT INTO pgstack.builtin_modules (name) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING", names);
}

// A recorded migration of one of pgstack's modules that the ledger's owner did not
// apply was planted (a role writing the ledger before it was protected); applying on
// top of it would skip a pgstack migration that never ran.
void refuse_planted_rows(pg::Connection& conn, const std::vector<Module>& modules) {
  if (!conn.query_value<bool>("SELECT to_regclass('pgstack.schema_migrations') IS NOT NULL")) return;
  for (const auto& module : modules) {
    if (!module.builtin) continue;
    auto planted = conn.query_optional<std::string>(
        "SELECT format('%s/%s (recorded by %s)', m.module, m.name, m.applied_by) FROM pgstack.schema_migrations m "
        "JOIN pg_class c ON c.oid = 'pgstack.schema_migrations'::regclass "
        "WHERE m.module = $1 AND m.applied_by <> pg_get_userbyid(c.relowner) "
        "  AND NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = m.applied_by AND r.rolsuper) "
        "ORDER BY m.version LIMIT 1",
        module.name);
    if (planted)
      throw MigrationError(fmt::format(
          "the ledger records pgstack's migration {}, which pgstack did not apply; nothing was applied. Check what "
          "that role changed, delete its rows from pgstack.schema_migrations as the owner, and install again",
          *planted));
  }
}

template <typename Executor>
std::optional<std::string> recorded_checksum(Executor& ex, const Migration& m) {
  return ex.template query_optional<std::string>(
      "SELECT checksum FROM pgstack.schema_migrations WHERE module = $1 AND version = $2", m.module, m.version);
}

// Returns false when another runner applied it while we waited for the lock.
bool apply_in_transaction(pg::Connection& conn, const Migration& m, const SqlScript& script, bool directly) {
  auto started = std::chrono::steady_clock::now();
  // Read committed: the re-check below must see what committed while we waited.
  pg::Transaction tx(conn, {.isolation = pg::IsolationLevel::read_committed});
  tx.query("SELECT pg_advisory_xact_lock($1)", kMigrationLock);
  if (auto checksum = recorded_checksum(tx, m)) {
    if (*checksum != m.checksum) throw MigrationError(changed_message(m, *checksum), m.source);
    return false;
  }
  for (const auto& statement : script.statements) {
    try {
      tx.execute_script(statement.text);
    } catch (const pg::SqlError& e) {
      throw statement_error(m, statement, e, "the file's transaction was rolled back: nothing from it was applied");
    }
  }
  record(tx, m, std::chrono::steady_clock::now() - started, directly);
  tx.commit();
  return true;
}

std::string qualified(pg::Connection& conn, const std::pair<std::string, std::string>& index) {
  return index.first.empty() ? conn.quote_identifier(index.second)
                             : conn.quote_identifier(index.first) + "." + conn.quote_identifier(index.second);
}

// A failed CREATE INDEX CONCURRENTLY leaves an INVALID index that blocks a retry
// with IF NOT EXISTS and slows every write; drop it when this statement made it.
std::string drop_invalid_index(pg::Connection& conn, const std::pair<std::string, std::string>& index) {
  auto name = qualified(conn, index);
  auto invalid = conn.query_optional<bool>(
      "SELECT NOT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass($1)", name);
  if (!invalid || !*invalid) return {};
  conn.execute_script("DROP INDEX CONCURRENTLY IF EXISTS " + name);
  return fmt::format(" the INVALID index {} it left was dropped;", name);
}

class SessionLock {
 public:
  explicit SessionLock(pg::Connection& conn) : conn_(conn) { conn_.query("SELECT pg_advisory_lock($1)", kMigrationLock); }
  ~SessionLock() {
    try {
      conn_.query("SELECT pg_advisory_unlock($1)", kMigrationLock);
    } catch (...) {
      // The connection is gone, and the lock went with its session.
    }
  }
  SessionLock(const SessionLock&) = delete;
  SessionLock& operator=(const SessionLock&) = delete;

 private:
  pg::Connection& conn_;
};

bool apply_outside_transaction(pg::Connection& conn, const Migration& m, const SqlScript& script, bool directly) {
  SessionLock lock(conn);
  if (auto checksum = recorded_checksum(conn, m)) {
    if (*checksum != m.checksum) throw MigrationError(changed_message(m, *checksum), m.source);
    return false;
  }
  const auto& statement = script.statements.front();
  bool index_existed = statement.concurrent_index &&
                       conn.query_value<bool>("SELECT to_regclass($1) IS NOT NULL", qualified(conn, *statement.concurrent_index));
  auto started = std::chrono::steady_clock::now();
  try {
    conn.execute_script(statement.text);
  } catch (const pg::SqlError& e) {
    std::string cleanup;
    if (statement.concurrent_index && !index_existed && conn.is_alive()) {
      try {
        cleanup = drop_invalid_index(conn, *statement.concurrent_index);
      } catch (const pg::SqlError&) {
        cleanup = " dropping the INVALID index it may have left failed too: check pg_index.indisvalid;";
      }
    }
    throw statement_error(m, statement, e, fmt::format("the file ran outside a transaction;{} it was not recorded, so "
                                                       "fix it and run again",
                                                       cleanup));
  }
  record(conn, m, std::chrono::steady_clock::now() - started, directly);
  return true;
}

MigrationStatus status_of(const Migration& m, const RecordedMap& recorded) {
  MigrationStatus s{m.module, m.version, m.name, MigrationState::pending, std::nullopt, {}, m.checksum};
  if (auto it = recorded.find({m.module, m.version}); it != recorded.end()) {
    s.applied_at = it->second.applied_at;
    s.recorded_checksum = it->second.checksum;
    s.state = it->second.checksum == m.checksum ? MigrationState::applied : MigrationState::changed;
  }
  return s;
}

}  // namespace

MigrationRunner::MigrationRunner(pg::Connection& conn) : conn_(conn) {}

std::vector<MigrationStatus> MigrationRunner::status(const std::vector<Module>& modules) {
  auto recorded = read_recorded(conn_);
  std::vector<MigrationStatus> out;
  for (const auto& module : modules) {
    std::map<int, MigrationStatus> by_version;
    for (const auto& m : module.migrations) by_version[m.version] = status_of(m, recorded);
    for (const auto& [key, r] : recorded)
      if (key.first == module.name && !by_version.count(key.second))
        by_version[key.second] =
            MigrationStatus{module.name, key.second, r.name, MigrationState::missing_file, r.applied_at, r.checksum, {}};
    for (auto& [version, s] : by_version) out.push_back(std::move(s));
  }
  return out;
}

ApplyReport MigrationRunner::apply(const std::vector<Module>& modules) {
  if (conn_.transaction_status() != pg::TransactionStatus::idle)
    throw pg::UsageError("MigrationRunner::apply needs a connection outside a transaction: each file runs in its own");
  // 1. Everything checkable offline, for every file, before anything is applied.
  std::map<std::pair<std::string, int>, SqlScript> scripts;
  for (const auto& module : modules)
    for (const auto& m : module.migrations) scripts[{m.module, m.version}] = checked_script(m);

  // 2. What the database already holds: an edited file or one that would go in
  //    below an applied version stops the run before it starts.
  auto before = status(modules);
  for (const auto& module : modules) {
    int highest_applied = 0;
    for (const auto& s : before)
      if (s.module == module.name && s.state != MigrationState::pending) highest_applied = std::max(highest_applied, s.version);
    for (const auto& m : module.migrations) {
      for (const auto& s : before) {
        if (s.module != m.module || s.version != m.version) continue;
        if (s.state == MigrationState::changed) throw MigrationError(changed_message(m, s.recorded_checksum), m.source);
        if (s.state == MigrationState::pending && m.version < highest_applied)
          throw MigrationError(fmt::format("{} is pending but version {} of module '{}' is already applied: a migration "
                                           "cannot go in below an applied one (it may depend on what they changed). "
                                           "Renumber it above {}.",
                                           m.source, highest_applied, module.name, highest_applied),
                               m.source);
      }
    }
  }

  // 3. Apply, one file at a time.
  refuse_planted_rows(conn_, modules);
  create_table(conn_);
  ApplyReport report;
  for (const auto& module : modules) {
    // Decided per module: core's own migrations may change who writes the ledger.
    const bool directly = writes_ledger_directly(conn_);
    const bool pending = std::any_of(before.begin(), before.end(), [&](const MigrationStatus& st) {
      return st.module == module.name && st.state == MigrationState::pending;
    });
    if (module.builtin && pending && !directly)
      throw MigrationError(fmt::format("pgstack's module {} must be installed by the owner of schema pgstack (or a "
                                       "superuser); {} may not: run pgstack install as the owner",
                                       module.name, conn_.query_value<std::string>("SELECT current_user::text")));
    for (const auto& m : module.migrations) {
      const auto& script = scripts.at({m.module, m.version});
      bool applied = m.transactional ? apply_in_transaction(conn_, m, script, directly)
                                     : apply_outside_transaction(conn_, m, script, directly);
      if (!applied) {
        ++report.already_applied;
        continue;
      }
      auto s = status_of(m, {});
      s.state = MigrationState::applied;
      s.recorded_checksum = m.checksum;
      s.applied_at = std::chrono::system_clock::now();
      report.applied.push_back(std::move(s));
    }
    if (module.builtin) register_builtin_modules(conn_, modules);
  }
  return report;
}

}  // namespace pgstack::schema
