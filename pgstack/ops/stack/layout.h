// ClusterLayout: what the local stack is made of (components with name, role, port and
// folder) and where it lives, saved as <dir>/stack.json so the CLI and applications
// find its DSNs. `components` are the PostgreSQL servers (a primary and a streaming hot
// standby); PgBouncer's settings sit beside them (`pgbouncer`), and pgBackRest's
// repository (`backup_repository`) is read from pgstack.toml, never saved here.
//
//   auto layout = pgstack::stack::ClusterLayout::local(".pgstack", 54320);
//   std::cout << layout.dsn();                   // over the Unix socket in .pgstack/run
//   layout.save();                               // .pgstack/stack.json
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pgstack/ops/stack/backup.h"

namespace pgstack::stack {

inline constexpr int kDefaultPort = 54320;
inline constexpr const char* kDefaultDir = ".pgstack";
inline constexpr const char* kDatabase = "app";
inline constexpr const char* kSuperuser = "postgres";

// pooler: PgBouncer, which status lists beside the servers; never in `components`.
enum class Role { primary, standby, pooler };
const char* to_string(Role role);

struct Component {
  std::string name;         // "primary", "standby"
  Role role = Role::primary;
  int port = kDefaultPort;
  std::filesystem::path dir;  // its data folder, absolute
};

// PgBouncer in front of the servers (pgbouncer.h): transaction pooling, database `app`
// to the primary and `app_ro` to the standby, TLS and SCRAM for its clients.
struct PoolerSettings {
  bool enabled = true;
  int port = kDefaultPort + 2;    // the primary's port + 2 unless pgstack.toml says otherwise
  int default_pool_size = 20;     // server connections per database and user
  int max_db_connections = 50;    // server connections per database, all users together
  int max_client_conn = 1000;     // clients PgBouncer accepts
};

struct ClusterLayout {
  std::filesystem::path dir;  // absolute: the stack's folder (.pgstack)
  std::string database = kDatabase;
  std::vector<Component> components;
  PoolerSettings pgbouncer;
  // The pgstack.toml the stack was made from (stack_config.h); empty: the defaults.
  std::filesystem::path config_file;
  // Set when load() rebuilt the layout from the servers' files: says why, for up's report.
  std::string rebuilt_because;
  // Where pgBackRest keeps backups and archived WAL (backup.h); default: the folder <dir>/backups.
  // Not saved in stack.json (it may hold an S3 secret).
  BackupRepository backup_repository;

  // The layout of a stack in dir (made absolute): its primary on port, the standby on
  // port + 1, PgBouncer on port + 2.
  static ClusterLayout local(const std::filesystem::path& dir, int port = kDefaultPort);
  // What load() does with a stack.json it cannot read: refuse (every command but up)
  // or set it aside as stack.json.broken and rebuild the layout from the servers' own
  // files (up; layout_recovery.h).
  enum class BrokenFile { refuse, rebuild };
  // Reads dir/stack.json. Without one, a stack whose servers exist is rebuilt from their
  // files (never from defaults: ports may have been changed); nullopt when there is no
  // stack. A broken file throws pgstack::Error naming it, or is rebuilt (see BrokenFile).
  static std::optional<ClusterLayout> load(const std::filesystem::path& dir, BrokenFile broken = BrokenFile::refuse);

  std::filesystem::path run_dir() const { return dir / "run"; }    // Unix sockets
  std::filesystem::path logs_dir() const { return dir / "logs"; }
  std::filesystem::path stack_file() const { return dir / "stack.json"; }
  std::filesystem::path log_file(const Component& c) const { return logs_dir() / (c.name + ".log"); }
  // The stack's login roles and passwords, in libpq's passfile format, mode 0600.
  std::filesystem::path credentials_file() const { return dir / "credentials"; }

  std::filesystem::path pgbouncer_dir() const { return dir / "pgbouncer"; }  // its ini, userlist, hba
  std::filesystem::path pgbouncer_log_file() const { return logs_dir() / "pgbouncer.log"; }
  // The database names PgBouncer serves: `app` (the primary) and `app_ro` (the standby).
  std::string pooled_database(bool read_only) const { return read_only ? database + "_ro" : database; }

  const Component& primary() const;
  Component& primary();
  // The hot standby, or nullptr (a stack.json written before standbys existed).
  const Component* standby() const;
  Component* standby();
  // Adds the standby when the layout has none (port: the primary's + 1).
  void add_standby();

  // DSNs of a component (the primary by default) for database (ours by default).
  std::string dsn(const Component* c = nullptr, const std::string& db = {}) const;      // Unix socket
  // 127.0.0.1 over TLS (sslmode=require) as the superuser, password read from credentials_file().
  std::string tcp_dsn(const Component* c = nullptr, const std::string& db = {}) const;
  // As tcp_dsn, as a login role of the stack (app, migrations, app_reader).
  std::string role_dsn(const std::string& role, const Component* c = nullptr) const;
  // Through PgBouncer over TLS as a login role: database `app` (primary) or `app_ro`
  // (standby). Clients must not cache prepared statements on it (statement_cache=false).
  std::string pooled_dsn(const std::string& role, bool read_only = false) const;
  // PgBouncer's admin console (SHOW POOLS...) over the socket, as the superuser with its
  // password from credentials_file().
  std::string pgbouncer_admin_dsn() const;

  nlohmann::json to_json() const;
  // Writes stack.json atomically (temp file, then rename).
  void save() const;
};

}  // namespace pgstack::stack
