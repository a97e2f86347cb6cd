// pgstack up / down: the local stack in ./.pgstack (or --dir).
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "pgstack/cli/cli_context.h"
#include "pgstack/cli/commands.h"
#include "pgstack/ops/stack/preflight.h"
#include "pgstack/ops/stack/roles.h"
#include "pgstack/ops/stack/stack.h"
#include "pgstack/ops/stack/stack_config.h"
#include "pgstack/ops/doctor/thresholds.h"

namespace pgstack::cli {
namespace {

struct UpArgs {
  std::string dir = stack::kDefaultDir;
  std::optional<std::int64_t> port;  // 64 bits: the preflight, not CLI11, judges the range
  std::optional<std::string> config;
  bool json = false;
};

// --config, else ./pgstack.toml when there is one, else nothing (up then uses the file
// recorded in stack.json, or the defaults).
std::optional<std::filesystem::path> config_file(const UpArgs& args) {
  if (args.config) {
    if (!std::filesystem::exists(*args.config))
      throw BadUsage(fmt::format("--config {}: no such file", *args.config));
    return std::filesystem::path(*args.config);
  }
  if (std::filesystem::exists(stack::kConfigFileName)) return std::filesystem::path(stack::kConfigFileName);
  return std::nullopt;
}

void run_up(const UpArgs& args) {
  set_command("pgstack up");
  // [doctor] is doctor's, not the stack's: checked here so a bad threshold stops `up`
  // before it creates anything, not the first `pgstack doctor` after it.
  stack::UpReport report;
  try {
    report = stack::up({.dir = args.dir,
                          .port = args.port,
                          .config = config_file(args),
                          .check_config = [](const std::filesystem::path& file) { doctor::load_thresholds(file, capability::all_thresholds()); }});
  } catch (const stack::PortRefused& e) {
    if (args.port) throw BadUsage(e.what());  // a bad --port is bad usage; a bad file's port a failure
    throw;
  }
  auto st = stack::status(report.layout.dir);
  pid_t pid = st.components.empty() ? 0 : st.components.front().pid;
  const auto& layout = report.layout;
  // The application's DSNs: TLS, the password read from the credentials file (docs/stack.md).
  std::vector<std::pair<std::string, std::string>> role_dsns;
  for (const auto& role : stack::stack_roles())
    if (role.login) role_dsns.emplace_back(role.name, layout.role_dsn(role.name));
  if (args.json) {
    nlohmann::json roles = nlohmann::json::object();
    for (const auto& [name, dsn] : role_dsns) roles[name] = dsn;
    print_json({{"dir", layout.dir.string()},
                {"changed", report.changed()},
                {"was_running", report.was_running},
                {"initialized", report.initialized},
                {"recovered", report.recovered},
                {"pg_cron", report.pg_cron},
                {"maintenance_scheduled", report.maintenance_scheduled},
                {"pid", pid},
                {"port", layout.primary().port},
                {"dsn", layout.dsn()},
                {"tcp_dsn", layout.tcp_dsn()},
                {"roles", roles},
                {"pooled", {{"app", layout.pooled_dsn("app")}, {"app_ro", layout.pooled_dsn("app_reader", true)}}},
                {"credentials", layout.credentials_file().string()},
                {"actions", report.actions},
                {"applied_migrations", report.applied_migrations},
                {"stack", layout.to_json()}});
    return;
  }
  if (!report.changed()) {
    std::cout << fmt::format("the stack in {} is already running (postgres pid {}, port {}); nothing changed\n",
                             layout.dir.string(), pid, layout.primary().port);
  } else {
    for (const auto& a : report.actions) std::cout << "  " << a << "\n";
    std::cout << fmt::format("the stack is up: postgres 15 on port {} (pid {})\n", layout.primary().port, pid);
  }
  std::cout << fmt::format("  dsn:     {}\n  tcp dsn: {}\n", layout.dsn(), layout.tcp_dsn());
  for (const auto& [name, dsn] : role_dsns) std::cout << fmt::format("  {:<11}{}\n", name + ":", dsn);
  if (layout.pgbouncer.enabled)
    std::cout << fmt::format("  through PgBouncer (transaction pooling; turn prepared statements off):\n"
                             "  {:<11}{}\n  {:<11}{}\n",
                             "app:", layout.pooled_dsn("app"), "app_ro:", layout.pooled_dsn("app_reader", true));
  std::cout << fmt::format("  passwords: {} (mode 0600; docs/stack.md)\n  stop it: pgstack down{}\n",
                           layout.credentials_file().string(), args.dir == stack::kDefaultDir ? "" : " --dir " + args.dir);
}

}  // namespace

void add_stack_commands(CLI::App& app) {
  auto up_args = std::make_shared<UpArgs>();
  auto* up = app.add_subcommand("up", "Start the local stack (initdb, tuned config, database `app`, pgstack's schemas)");
  up->add_option("--dir", up_args->dir, "The stack's folder")->capture_default_str();
  up->add_option("--port", up_args->port,
                 "PostgreSQL's port (default: the stack's, else 54320); the standby takes port+1, PgBouncer port+2");
  up->add_option("--config", up_args->config,
                 "The stack's pgstack.toml (default: ./pgstack.toml when it exists; docs/stack.md)");
  up->add_flag("--json", up_args->json, "Print as JSON");
  up->callback([up_args] { run_up(*up_args); });

  auto down_dir = std::make_shared<std::string>(stack::kDefaultDir);
  auto* down = app.add_subcommand("down", "Stop the local stack (fast shutdown); its data is kept");
  down->add_option("--dir", *down_dir, "The stack's folder")->capture_default_str();
  down->callback([down_dir] {
    set_command("pgstack down");
    auto report = stack::down({.dir = *down_dir});
    std::cout << report.message << "\n";
  });

  struct DestroyArgs {
    std::string dir = stack::kDefaultDir;
    bool yes = false;
  };
  auto destroy_args = std::make_shared<DestroyArgs>();
  auto* destroy = app.add_subcommand("destroy", "Stop the local stack and remove its folder with ALL its data (needs --yes)");
  destroy->add_option("--dir", destroy_args->dir, "The stack's folder")->capture_default_str();
  destroy->add_flag("--yes", destroy_args->yes, "Confirm: delete the databases, credentials and logs");
  destroy->callback([destroy_args] {
    set_command("pgstack destroy");
    if (!destroy_args->yes)
      throw BadUsage(fmt::format("this deletes the stack in {} with all its data; pass --yes to confirm "
                                 "(pgstack down stops it and keeps the data)",
                                 destroy_args->dir));
    std::cout << stack::destroy(destroy_args->dir).message << "\n";
  });
}

}  // namespace pgstack::cli
