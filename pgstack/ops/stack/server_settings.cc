#include "pgstack/ops/stack/server_settings.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "pgstack/ops/stack/postgres_server.h"
#include "pgstack/pg/connection.h"
#include "pgstack/pg/errors.h"
#include "pgstack/base/files.h"
#include "pgstack/sys/process.h"

namespace pgstack::stack {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Where a server's extra settings come from, for errors and the config's comments.
std::string table_name(const Component& server) { return server.role == Role::standby ? "standby.settings" : "primary.settings"; }

const StackConfig::ConfSettings& extra_settings(const StackConfig& config, const Component& server) {
  return server.role == Role::standby ? config.standby_settings : config.primary_settings;
}

// Settings the stack sets for reasons of its own (ports, sockets, TLS, archiving,
// replication, preloads): one changed in [<server>.settings] would break the stack, so
// it is refused, with where to change it instead when pgstack.toml has a key for it.
std::string managed_reason(const std::string& name, const std::set<std::string>& stack_names) {
  if (name == "max_connections") return "set it with [stack] max_connections";
  if (name == "port") return "set it with [primary] port or [standby] port";
  if (name == "shared_preload_libraries") return "pgstack loads pg_stat_statements (and pg_cron) and nothing else";
  static const std::set<std::string> replication = {"wal_level", "hot_standby", "primary_conninfo", "primary_slot_name"};
  if (replication.count(name)) return "the standby's streaming replication depends on it";
  if (stack_names.count(name) || name.rfind("archive_", 0) == 0) return "the stack's connections, TLS or backups depend on it";
  return "";
}

// Library prefixes of dotted names the stack's servers know (their libraries are preloaded).
std::set<std::string> known_prefixes(bool pg_cron) {
  std::set<std::string> out = {"pg_stat_statements"};
  if (pg_cron) out.insert("cron");
  return out;
}

void replace_or_add(std::vector<tune::Setting>& settings, tune::Setting setting) {
  auto it = std::find_if(settings.begin(), settings.end(), [&](const auto& s) { return s.name == setting.name; });
  if (it == settings.end()) settings.push_back(std::move(setting));
  else *it = std::move(setting);
}

// A value as `postgres -c` takes it: a postgresql.conf string ('...' with quotes and
// backslashes doubled, as conf_string writes it) without its quotes; other values as they are.
std::string command_line_value(const std::string& conf_value) {
  if (conf_value.size() < 2 || conf_value.front() != '\'' || conf_value.back() != '\'') return conf_value;
  std::string out;
  for (std::size_t i = 1; i + 1 < conf_value.size(); ++i) {
    const char c = conf_value[i];
    if ((c == '\'' || c == '\\') && i + 2 < conf_value.size() && conf_value[i + 1] == c) ++i;
    out += c;
  }
  return out;
}

// PostgreSQL's FATAL lines from `postgres -C` output, without their timestamps.
std::string fatal_lines(const std::string& output) {
  std::istringstream in(output);
  std::string line, out;
  while (std::getline(in, line)) {
    for (const char* tag : {"FATAL:  ", "HINT:  ", "DETAIL:  "})
      if (auto pos = line.find(tag); pos != std::string::npos) out += (out.empty() ? "" : " ") + line.substr(pos);
  }
  return out.empty() ? sys::last_lines(output, 3) : out;
}

// Settings a hot standby must hold at least as much of as its primary, or it stops
// replaying (PostgreSQL's defaults when neither pgstack nor pgstack.toml sets them).
const std::map<std::string, long long>& replayed_capacities() {
  static const std::map<std::string, long long> defaults = {{"max_connections", 100},
                                                             {"max_worker_processes", 8},
                                                             {"max_wal_senders", 10},
                                                             {"max_prepared_transactions", 0},
                                                             {"max_locks_per_transaction", 64}};
  return defaults;
}

long long integer_value(const std::vector<tune::Setting>& settings, const std::string& name, long long fallback) {
  for (const auto& s : settings)
    if (s.name == name) {
      std::string v = s.value;
      v.erase(std::remove(v.begin(), v.end(), '\''), v.end());
      try {
        return std::stoll(v);
      } catch (const std::exception&) {
        return fallback;  // postgres -C has refused a non-number already
      }
    }
  return fallback;
}

void check_standby_keeps_up(const std::vector<tune::Setting>& primary, const std::vector<tune::Setting>& standby,
                            const StackConfig& config) {
  for (const auto& [name, fallback] : replayed_capacities()) {
    const auto p = integer_value(primary, name, fallback);
    const auto s = integer_value(standby, name, fallback);
    if (s < p)
      throw Error(fmt::format("{}: the standby's {} ({}) is below the primary's ({}); a hot standby with less stops "
                              "replaying; set it in [standby.settings] to at least {}, or lower [primary.settings]",
                              config.file.string(), name, s, p, p));
  }
}

// Dotted names within the loaded libraries' prefixes, against the running primary's
// pg_settings (postgres -C takes any dotted name as a placeholder).
void check_library_settings(const ClusterLayout& layout, const StackConfig& config, const Component& server) {
  std::vector<std::string> dotted;
  for (const auto& [name, value] : extra_settings(config, server))
    if (name.find('.') != std::string::npos) dotted.push_back(name);
  if (dotted.empty() || !PostgresServer(layout, layout.primary()).state().running) return;
  pg::Connection conn(layout.dsn(nullptr, "postgres"));
  for (const auto& name : dotted)
    if (!conn.query_optional<std::int32_t>("select 1 from pg_settings where name = $1", name))
      throw Error(fmt::format("{}: [{}] {} is not a setting of the libraries the stack loads; check its spelling "
                              "(select name from pg_settings where name like '{}%')",
                              config.file.string(), table_name(server), name, name.substr(0, name.find('.') + 1)));
}

}  // namespace

std::vector<tune::Setting> server_settings(const ClusterLayout& layout, const Component& server,
                                           const StackConfig& config, int max_connections) {
  const bool pg_cron = pg_cron_installed();
  tune::TuneInput input{.connections = max_connections,
                        .servers_on_host = static_cast<int>(layout.components.size())};
  if (!config.tune_memory || !config.tune_cpus) {
    auto machine = tune::detect_machine();
    input.memory = machine.memory;
    input.cores = machine.cores;
  }
  if (config.tune_memory) input.memory = *config.tune_memory;
  if (config.tune_cpus) input.cores = *config.tune_cpus;
  for (const auto& [what, problem] : {std::pair{"memory", tune::memory_problem(input.memory)},
                                      std::pair{"cpus", tune::cores_problem(input.cores)}})
    if (!problem.empty())
      throw Error(fmt::format("this machine's {} as detected {}; set [tune] {} in pgstack.toml", what, problem, what));
  input.preload_libraries = pg_cron ? std::vector<std::string>{"pg_stat_statements", "pg_cron"}
                                    : std::vector<std::string>{"pg_stat_statements"};
  auto settings = stack_settings(layout, server, pg_cron);
  for (auto& s : tune::recommend(input)) settings.push_back(std::move(s));
  for (const auto& [name, value] : extra_settings(config, server))
    replace_or_add(settings, {name, value, "pgstack.toml [" + table_name(server) + "]"});
  return settings;
}

std::string postgres_rejects(const std::vector<tune::Setting>& settings) {
  char tmpl[] = "/tmp/pgstack-settings-check-XXXXXX";
  if (!::mkdtemp(tmpl)) throw Error(fmt::format("cannot make a scratch folder in /tmp: {}", std::strerror(errno)));
  const fs::path dir = tmpl;
  pgstack::write_text_file((dir / "postgresql.conf").string(), "");
  sys::give_to_server_user(dir.string());
  std::vector<std::string> argv = {sys::pg_binary("postgres"), "-D", dir.string(), "-C", "port"};
  for (const auto& s : settings) {
    argv.push_back("-c");
    argv.push_back(s.name + "=" + command_line_value(s.value));
  }
  auto r = sys::run(argv, {.as_user = sys::server_user(), .timeout = 30s});
  std::error_code ec;
  fs::remove_all(dir, ec);
  return r.exit_code == 0 ? "" : fatal_lines(r.output);
}

void check_server_settings(const ClusterLayout& layout, const StackConfig& config, int max_connections) {
  const bool pg_cron = pg_cron_installed();
  std::map<std::string, std::vector<tune::Setting>> by_server;
  for (const auto& server : layout.components) {
    std::set<std::string> stack_names;
    for (const auto& s : stack_settings(layout, server, pg_cron)) stack_names.insert(s.name);
    for (const auto& [name, value] : extra_settings(config, server)) {
      if (auto why = managed_reason(name, stack_names); !why.empty())
        throw Error(fmt::format("{}: [{}] {} is set by pgstack itself: {}; remove the line", config.file.string(),
                                table_name(server), name, why));
      if (auto dot = name.find('.'); dot != std::string::npos && !known_prefixes(pg_cron).count(name.substr(0, dot)))
        throw Error(fmt::format("{}: [{}] {} belongs to no library the stack loads ({}); remove the line",
                                config.file.string(), table_name(server), name,
                                pg_cron ? "pg_stat_statements, pg_cron's cron" : "pg_stat_statements"));
    }
    auto settings = server_settings(layout, server, config, max_connections);
    if (auto complaint = postgres_rejects(settings); !complaint.empty())
      throw Error(fmt::format("{}: the {}'s settings are refused by PostgreSQL: {}; fix [{}] (or [tune]) and run "
                              "pgstack up again; nothing was changed",
                              config.file.empty() ? std::string("pgstack.toml") : config.file.string(), server.name,
                              complaint, table_name(server)));
    check_library_settings(layout, config, server);
    by_server[server.name] = std::move(settings);
  }
  if (const Component* standby = layout.standby())
    check_standby_keeps_up(by_server[layout.primary().name], by_server[standby->name], config);
}

}  // namespace pgstack::stack
