// pgstack tune: a postgresql.conf baseline for this machine (or the one described by
// flags), one reason beside each setting. pgstack env: the local stack's connection
// strings as shell exports.
#include <cctype>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "pgstack/base/strings.h"
#include "pgstack/cli/cli_context.h"
#include "pgstack/cli/commands.h"
#include "pgstack/ops/stack/layout.h"
#include "pgstack/ops/tune/tune.h"

namespace pgstack::cli {
namespace {

struct TuneArgs {
  std::optional<std::string> memory;
  std::optional<int> cores;
  int connections = 200;
  std::string storage = "ssd";
  std::string workload = "web";
  bool json = false;
};

// Where an input came from, for the header and --json: "given", or what detection read.
struct Inputs {
  tune::TuneInput input;
  std::string memory_source;  // "given" | "cgroup" | "host"
  std::string memory_detail;  // the file that gave the figure, when detected
  std::string cores_source;
  std::string cores_detail;
};

std::string describe_source(const std::string& detail) { return detail.empty() ? "given" : "from " + detail; }

Inputs resolve_inputs(const TuneArgs& args) {
  Inputs in;
  in.input.connections = args.connections;
  in.input.storage = tune::parse_storage(args.storage).value_or(tune::Storage::ssd);
  in.input.workload = tune::parse_workload(args.workload).value_or(tune::Workload::web);

  if (args.memory) {
    auto bytes = tune::parse_memory(*args.memory);
    if (!bytes)
      throw BadUsage(fmt::format(
          "--memory '{}' is not a size; expected a number with an optional unit kB, MB, GB or TB "
          "(powers of 1024), e.g. --memory 32GB, 512MB, 1.5GB, or plain bytes",
          *args.memory));
    if (auto problem = tune::memory_problem(*bytes); !problem.empty())
      throw BadUsage(fmt::format("--memory '{}' {}", *args.memory, problem));
    in.input.memory = *bytes;
    in.memory_source = "given";
  }
  if (args.cores) {
    in.input.cores = *args.cores;
    in.cores_source = "given";
  }
  if (!args.memory || !args.cores) {
    auto machine = tune::detect_machine();
    if (!args.memory) {
      in.input.memory = machine.memory;
      in.memory_source = machine.memory_source == "MemTotal" ? "host" : "cgroup";
      in.memory_detail = machine.memory_source == "MemTotal" ? "/proc/meminfo MemTotal" : machine.memory_source;
    }
    if (!args.cores) {
      in.input.cores = machine.cores;
      in.cores_source = machine.cores_source == "hardware threads" ? "host" : "cgroup";
      in.cores_detail = machine.cores_source;
    }
  }
  // A detected figure beyond tune's limits (a host larger than PostgreSQL can use) is
  // the user's to bound, not ours to clamp.
  if (auto problem = tune::memory_problem(in.input.memory); !problem.empty())
    throw BadUsage(fmt::format("the memory detected ({}) {}; pass --memory", describe_source(in.memory_detail), problem));
  if (auto problem = tune::cores_problem(in.input.cores); !problem.empty())
    throw BadUsage(fmt::format("the cores detected ({}) {}; pass --cores", describe_source(in.cores_detail), problem));
  return in;
}

std::string describe(const std::string& source, const std::string& detail) {
  if (source == "given") return "given";
  return fmt::format("detected from {}: {}", source == "cgroup" ? "the cgroup limit" : "the host", detail);
}

void run_tune(const TuneArgs& args) {
  set_command("pgstack tune");
  auto in = resolve_inputs(args);
  auto settings = tune::recommend(in.input);
  const auto& input = in.input;
  if (args.json) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& s : settings) rows.push_back({{"name", s.name}, {"value", s.value}, {"reason", s.reason}});
    print_json({{"input",
                 {{"memory", input.memory},
                  {"memory_human", tune::format_memory(input.memory)},
                  {"memory_source", in.memory_source},
                  {"memory_detail", in.memory_detail},
                  {"cores", input.cores},
                  {"cores_source", in.cores_source},
                  {"cores_detail", in.cores_detail},
                  {"connections", input.connections},
                  {"storage", tune::to_string(input.storage)},
                  {"workload", tune::to_string(input.workload)}}},
                {"settings", rows}});
    return;
  }
  std::cout << "# postgresql.conf baseline from `pgstack tune` (pgtune's rules, see docs/tune.md)\n"
            << fmt::format("# memory:      {} ({})\n", tune::format_memory(input.memory),
                           describe(in.memory_source, in.memory_detail))
            << fmt::format("# cores:       {} ({})\n", input.cores, describe(in.cores_source, in.cores_detail))
            << fmt::format("# connections: {}   storage: {}   workload: {}\n", input.connections,
                           tune::to_string(input.storage), tune::to_string(input.workload))
            << tune::to_conf(settings);
}

// "primary" -> "PRIMARY"; anything but letters and digits becomes '_'.
std::string env_name(const std::string& component) {
  std::string out;
  for (char c : component)
    out += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : '_';
  return out;
}

struct EnvArgs {
  std::string dir = stack::kDefaultDir;
  bool json = false;
};

void run_env(const EnvArgs& args) {
  set_command("pgstack env");
  auto layout = stack::ClusterLayout::load(args.dir);
  if (!layout || layout->components.empty())
    throw pgstack::Error(fmt::format("no stack in {} (no stack.json there); run `pgstack up{}` to start one",
                                     args.dir, args.dir == stack::kDefaultDir ? "" : " --dir " + args.dir));
  // DATABASE_URL is the application's: role app over TCP (every driver parses the URL
  // form, not only libpq), never the superuser. Migrations run as their own role.
  const auto* reader_server = layout->standby() ? layout->standby() : &layout->primary();
  std::vector<std::pair<std::string, std::string>> vars = {
      {"DATABASE_URL", layout->role_dsn("app")},
      {"PGSTACK_MIGRATIONS_URL", layout->role_dsn("migrations")},
      {"PGSTACK_APP_READER_URL", layout->role_dsn("app_reader", reader_server)}};
  for (const auto& c : layout->components) {
    vars.emplace_back("PGSTACK_" + env_name(c.name) + "_URL", layout->tcp_dsn(&c));
    vars.emplace_back("PGSTACK_" + env_name(c.name) + "_SOCKET_URL", layout->dsn(&c));
  }
  // Through PgBouncer: what applications should use (with prepared statements off).
  if (layout->pgbouncer.enabled) {
    vars.emplace_back("PGSTACK_APP_URL", layout->pooled_dsn("app"));
    vars.emplace_back("PGSTACK_APP_RO_URL", layout->pooled_dsn("app_reader", /*read_only=*/true));
  }
  if (args.json) {
    nlohmann::json doc = nlohmann::json::object();
    for (const auto& [name, value] : vars) doc[name] = value;
    print_json(doc);
    return;
  }
  for (const auto& [name, value] : vars) std::cout << "export " << name << "=" << shell_quote(value) << "\n";
}

// A CLI11 validator from one of tune's *_problem checks: its message, or "" when valid.
CLI::Validator tune_limit(std::string (*problem)(int)) {
  return CLI::Validator(
      [problem](std::string& text) -> std::string {
        int value = 0;
        if (!CLI::detail::lexical_cast(text, value)) return "'" + text + "' is not a whole number";
        auto why = problem(value);
        return why.empty() ? why : "'" + text + "' " + why;
      },
      "");
}

}  // namespace

void add_tune_commands(CLI::App& app) {
  auto tune_args = std::make_shared<TuneArgs>();
  auto* tune = app.add_subcommand(
      "tune", "Print a postgresql.conf baseline for this machine (or the one described), with a reason per setting");
  tune->add_option("--memory", tune_args->memory,
                   "Memory the server may use: 32GB, 512MB, 1TB or bytes (default: detected, the cgroup limit in a container)");
  // The ranges are tune's limits (tune.h), past which PostgreSQL could not hold the settings.
  tune->add_option("--cores", tune_args->cores, "CPU cores (default: detected, the cgroup CPU quota in a container)")
      ->check(tune_limit(tune::cores_problem));
  tune->add_option("--connections", tune_args->connections, "max_connections")
      ->check(tune_limit(tune::connections_problem))
      ->capture_default_str();
  tune->add_option("--storage", tune_args->storage, "Disk kind")
      ->check(CLI::IsMember({"ssd", "hdd"}))
      ->capture_default_str();
  tune->add_option("--workload", tune_args->workload, "What the server mostly runs")
      ->check(CLI::IsMember({"web", "oltp", "analytics"}))
      ->capture_default_str();
  tune->add_flag("--json", tune_args->json, "Print as JSON: the inputs used and [{name, value, reason}]");
  tune->callback([tune_args] { run_tune(*tune_args); });

  auto env_args = std::make_shared<EnvArgs>();
  auto* env = app.add_subcommand("env", "Print the local stack's connection strings as shell exports (eval \"$(pgstack env)\")");
  env->add_option("--dir", env_args->dir, "The stack's folder")->capture_default_str();
  env->add_flag("--json", env_args->json, "Print as a JSON object of variable name to value");
  env->callback([env_args] { run_env(*env_args); });
}

}  // namespace pgstack::cli
