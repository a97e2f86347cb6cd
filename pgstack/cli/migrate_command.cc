// pgstack migrate status|up --db URL [--dir migrations] [--json]: an application's own
// migrations folder (NNN_name.sql files), recorded beside pgstack's as module "app".
#include <ctime>
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "pgstack/cli/cli_context.h"
#include "pgstack/cli/commands.h"
#include "pgstack/schema/migration_runner.h"

namespace pgstack::cli {
namespace {

struct MigrateArgs {
  std::optional<std::string> db;
  std::string dir = "migrations";
  bool json = false;
};

schema::Module load_folder(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw BadUsage(fmt::format("migrations folder '{}' does not exist; pass --dir with the folder holding NNN_name.sql files",
                               dir));
  return schema::load_directory_module(dir, "app");
}

std::string format_time(const std::optional<pg::Timestamp>& at) {
  if (!at) return "";
  std::time_t t = std::chrono::system_clock::to_time_t(*at);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json to_json(const schema::MigrationStatus& s) {
  return {{"module", s.module},
          {"version", s.version},
          {"name", s.name},
          {"state", schema::to_string(s.state)},
          {"applied_at", s.applied_at ? nlohmann::json(format_time(s.applied_at)) : nlohmann::json(nullptr)}};
}

void add_common(CLI::App* cmd, const std::shared_ptr<MigrateArgs>& args) {
  cmd->add_option("--db", args->db,
                  "Database URL (default: $PGSTACK_MIGRATIONS_URL, $DATABASE_URL, then the local stack's migrations "
                  "role); DDL runs as role migrations when the role may act as it");
  cmd->add_option("--dir", args->dir, "Folder of NNN_name.sql migrations")->capture_default_str();
  cmd->add_flag("--json", args->json, "Print as JSON");
}

// DDL runs as the `migrations` role whenever the connected role may act as it (the
// stack's superuser, say): what it creates is then owned by migrations and, through
// default privileges, usable by readwrite and readonly. Returns the role used.
std::string connect_as_migrations(pg::Connection& conn) {
  auto row = conn.query(
      "SELECT current_user::text, to_regrole('migrations') IS NOT NULL AND current_user <> 'migrations' "
      "       AND pg_has_role(current_user, 'migrations', 'MEMBER')");
  if (!row[0].get<bool>(1)) return row[0].get<std::string>(0);
  if (behind_pooler(conn))
    throw BadUsage("migrations run as role migrations, which SET ROLE cannot make last through a transaction pooler; "
                   "pass --db with a direct DSN (pgstack env: PGSTACK_MIGRATIONS_URL)");
  conn.execute_script("SET ROLE migrations");
  return "migrations";
}

pg::Connection connect_for_migrations(const MigrateArgs& args, std::string& role) {
  auto conn = connect(resolve_migrations_dsn(args.db));
  role = connect_as_migrations(conn);
  return conn;
}

void run_status(const MigrateArgs& args) {
  set_command("pgstack migrate status");
  auto module = load_folder(args.dir);
  std::string role;
  auto conn = connect_for_migrations(args, role);
  schema::MigrationRunner runner(conn);
  auto rows = runner.status({module});
  if (args.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& s : rows) out.push_back(to_json(s));
    print_json({{"dir", args.dir}, {"migrations", out}});
    return;
  }
  if (rows.empty()) {
    std::cout << fmt::format("no migrations in {} and none recorded\n", args.dir);
    return;
  }
  std::cout << fmt::format("{:<8} {:<40} {:<13} {}\n", "version", "name", "state", "applied at");
  int pending = 0, trouble = 0;
  for (const auto& s : rows) {
    std::cout << fmt::format("{:<8} {:<40} {:<13} {}\n", s.version, s.name, schema::to_string(s.state), format_time(s.applied_at));
    pending += s.state == schema::MigrationState::pending;
    trouble += s.state == schema::MigrationState::changed || s.state == schema::MigrationState::missing_file;
  }
  if (pending) std::cout << fmt::format("{} pending: run `pgstack migrate up`\n", pending);
  if (trouble)
    std::cout << fmt::format("{} applied file(s) changed or missing: released migrations must not be edited; "
                             "restore them and add a new file instead\n", trouble);
}

void run_up(const MigrateArgs& args) {
  set_command("pgstack migrate up");
  auto module = load_folder(args.dir);
  std::string role;
  auto conn = connect_for_migrations(args, role);
  schema::MigrationRunner runner(conn);
  auto report = runner.apply({module});
  if (args.json) {
    nlohmann::json applied = nlohmann::json::array();
    for (const auto& s : report.applied) applied.push_back(to_json(s));
    print_json({{"dir", args.dir}, {"role", role}, {"applied", applied}, {"already_applied", report.already_applied}});
    return;
  }
  for (const auto& s : report.applied) std::cout << fmt::format("applied {} (as {})\n", s.name, role);
  if (report.applied.empty())
    std::cout << fmt::format("up to date: {} migration(s) already applied; nothing to do\n", report.already_applied);
  else
    std::cout << fmt::format("applied {} migration(s)\n", report.applied.size());
}

}  // namespace

void add_migrate_commands(CLI::App& app) {
  auto* migrate = app.add_subcommand("migrate", "Apply and inspect your application's migrations (a folder of NNN_name.sql)");
  migrate->require_subcommand(1);

  auto status_args = std::make_shared<MigrateArgs>();
  auto* status = migrate->add_subcommand("status", "Show each migration: applied, pending, changed or missing_file");
  add_common(status, status_args);
  status->callback([status_args] { run_status(*status_args); });

  auto up_args = std::make_shared<MigrateArgs>();
  auto* up = migrate->add_subcommand("up", "Apply pending migrations in order, each in its own transaction");
  add_common(up, up_args);
  up->callback([up_args] { run_up(*up_args); });
}

}  // namespace pgstack::cli
