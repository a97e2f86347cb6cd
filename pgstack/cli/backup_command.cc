// pgstack backup full|diff [--dir .pgstack] [--json]: takes a backup of the local stack's
// primary with pgBackRest and prints its label, type, duration and size.
// pgstack backup list [--dir .pgstack] [--json]: the backups in the repository, oldest first.
// pgstack backup check [--dir .pgstack] [--json]: WAL archiving reaches the repository.
#include <chrono>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include "pgstack/cli/cli_context.h"
#include "pgstack/cli/commands.h"
#include "pgstack/ops/stack/backup.h"
#include "pgstack/ops/stack/stack.h"

namespace pgstack::cli {
namespace {

struct BackupArgs {
  std::string dir = stack::kDefaultDir;
  bool json = false;
};

// The stack's layout; a missing stack or a stopped primary says what to run.
stack::ClusterLayout running_stack(const std::string& dir) {
  auto st = stack::status(dir);
  const std::string dir_flag = dir == stack::kDefaultDir ? "" : " --dir " + dir;
  if (!st.exists || !st.layout)
    throw pgstack::Error(fmt::format("no stack in {}; run `pgstack up{}` to make one", dir, dir_flag));
  for (const auto& c : st.components)
    if (c.role == stack::Role::primary && !c.running)
      throw pgstack::Error(fmt::format("the primary of the stack in {} is not running; run `pgstack up{}` first", dir,
                                       dir_flag));
  return *st.layout;
}

std::string human_bytes(std::int64_t bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", value, units[unit]);
}

nlohmann::json backup_json(const stack::BackupInfo& b) {
  return {{"label", b.label},
          {"type", stack::to_string(b.type)},
          {"prior", b.prior.empty() ? nlohmann::json(nullptr) : nlohmann::json(b.prior)},
          {"start", utc_text(b.start)},
          {"stop", utc_text(b.stop)},
          {"size", b.size},
          {"repo_size", b.repo_size},
          {"repo_delta", b.repo_delta},
          {"wal_start", b.wal_start},
          {"wal_stop", b.wal_stop}};
}

void run_backup_command(const BackupArgs& args, stack::BackupType type) {
  set_command(fmt::format("pgstack backup {}", stack::to_string(type)));
  auto layout = running_stack(args.dir);
  const auto started = std::chrono::steady_clock::now();
  auto backup = stack::run_backup(layout, type);
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  if (args.json) {
    auto doc = backup_json(backup);
    doc["seconds"] = took.count();
    print_json(doc);
    return;
  }
  // No repository named: pgbackrest.conf (written by `up`, maybe from pgstack.toml) knows it.
  std::cout << fmt::format("{} backup {} in {:.1f} s: {} database, {} stored\n", stack::to_string(backup.type),
                           backup.label, took.count(), human_bytes(backup.size), human_bytes(backup.repo_delta));
  if (backup.type != type)
    std::cout << fmt::format("  (pgBackRest took a full backup: a {} needs a full one before it)\n", stack::to_string(type));
}

// What doctor's archiving_failing finding says to run once the cause is fixed.
void run_check(const BackupArgs& args) {
  set_command("pgstack backup check");
  auto layout = running_stack(args.dir);
  stack::check_backups(layout);
  if (args.json)
    print_json({{"stanza", stack::kStanza}, {"archiving", "ok"}});
  else
    std::cout << "WAL archiving works: a segment switched now reached the repository, and pgBackRest's config is valid\n";
}

void run_list(const BackupArgs& args) {
  set_command("pgstack backup list");
  auto st = stack::status(args.dir);
  if (!st.exists || !st.layout)
    throw pgstack::Error(fmt::format("no stack in {}; run `pgstack up{}` to make one", args.dir,
                                     args.dir == stack::kDefaultDir ? "" : " --dir " + args.dir));
  auto backups = stack::list_backups(*st.layout);
  if (args.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& b : backups) list.push_back(backup_json(b));
    print_json({{"stanza", stack::kStanza}, {"backups", list}});
    return;
  }
  if (backups.empty()) {
    std::cout << "no backups yet; `pgstack up` takes the first full one, `pgstack backup full` another\n";
    return;
  }
  std::cout << fmt::format("{:<36} {:<5} {:<21} {:>8} {:>10} {:>10}  {}\n", "label", "type", "started (UTC)", "seconds",
                           "size", "stored", "WAL");
  for (const auto& b : backups)
    std::cout << fmt::format("{:<36} {:<5} {:<21} {:>8.0f} {:>10} {:>10}  {}..{}\n", b.label, stack::to_string(b.type),
                             utc_text(b.start), b.seconds(), human_bytes(b.size), human_bytes(b.repo_delta), b.wal_start,
                             b.wal_stop);
}

}  // namespace

void add_backup_commands(CLI::App& app) {
  auto* backup = app.add_subcommand("backup", "Take a backup of the local stack (pgBackRest) or list the backups");
  backup->require_subcommand(1);  // an unknown word gets run.cc's "unknown command" with the choices
  for (auto type : {stack::BackupType::full, stack::BackupType::diff}) {
    auto args = std::make_shared<BackupArgs>();
    auto* cmd = backup->add_subcommand(
        stack::to_string(type), type == stack::BackupType::full
                                      ? "Take a full backup of the primary"
                                      : "Take a differential backup: what changed since the last full one");
    cmd->add_option("--dir", args->dir, "The stack's folder")->capture_default_str();
    cmd->add_flag("--json", args->json, "Print as JSON");
    cmd->callback([args, type] { run_backup_command(*args, type); });
  }
  auto list_args = std::make_shared<BackupArgs>();
  auto* list = backup->add_subcommand("list", "List the backups in the repository, oldest first");
  list->add_option("--dir", list_args->dir, "The stack's folder")->capture_default_str();
  list->add_flag("--json", list_args->json, "Print as JSON");
  list->callback([list_args] { run_list(*list_args); });
  auto check_args = std::make_shared<BackupArgs>();
  auto* check = backup->add_subcommand("check", "Check that WAL archiving reaches the repository (pgbackrest check)");
  check->add_option("--dir", check_args->dir, "The stack's folder")->capture_default_str();
  check->add_flag("--json", check_args->json, "Print as JSON");
  check->callback([check_args] { run_check(*check_args); });
}

}  // namespace pgstack::cli
