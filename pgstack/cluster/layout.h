// ClusterLayout: what the local stack is made of (components with name, role, port and
// folder) and where it lives, saved as <dir>/stack.json so the CLI and applications
// find its DSNs. Today: a primary and a streaming hot standby; PgBouncer and
// pgBackRest are added as more components of the same list.
//
//   auto layout = pgstack::cluster::ClusterLayout::local(".pgstack", 54320);
//   std::cout << layout.dsn();                   // over the Unix socket in .pgstack/run
//   layout.save();                               // .pgstack/stack.json
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pgstack::cluster {

inline constexpr int kDefaultPort = 54320;
inline constexpr const char* kDefaultDir = ".pgstack";
inline constexpr const char* kDatabase = "app";
inline constexpr const char* kSuperuser = "postgres";

enum class Role { primary, standby };
const char* to_string(Role role);

struct Component {
  std::string name;         // "primary", "standby"
  Role role = Role::primary;
  int port = kDefaultPort;
  std::filesystem::path dir;  // its data folder, absolute
};

struct ClusterLayout {
  std::filesystem::path dir;  // absolute: the stack's folder (.pgstack)
  std::string database = kDatabase;
  std::vector<Component> components;

  // The layout of a stack in dir (made absolute): its primary on port, the standby on
  // port + 1.
  static ClusterLayout local(const std::filesystem::path& dir, int port = kDefaultPort);
  // Reads dir/stack.json; nullopt when there is none. Throws pgstack::Error when it
  // is unreadable or malformed, naming the file.
  static std::optional<ClusterLayout> load(const std::filesystem::path& dir);

  std::filesystem::path run_dir() const { return dir / "run"; }    // Unix sockets
  std::filesystem::path logs_dir() const { return dir / "logs"; }
  std::filesystem::path stack_file() const { return dir / "stack.json"; }
  std::filesystem::path log_file(const Component& c) const { return logs_dir() / (c.name + ".log"); }
  // The stack's login roles and passwords, in libpq's passfile format, mode 0600.
  std::filesystem::path credentials_file() const { return dir / "credentials"; }

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

  nlohmann::json to_json() const;
  // Writes stack.json atomically (temp file, then rename).
  void save() const;
};

}  // namespace pgstack::cluster
