#include "pgstack/ops/stack/stack_config.h"

#include <algorithm>
#include <cctype>
#include <set>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "pgstack/ops/stack/postgres_server.h"
#include "pgstack/base/toml_table.h"
#include "pgstack/ops/tune/tune.h"

#include "pgstack/pg/errors.h"

namespace pgstack::stack {
namespace {

namespace fs = std::filesystem;

constexpr int kMinPort = 1024;  // below it only root may listen, and the servers never run as root

void read_stack(TomlTable& t, StackConfig& config) {
  config.max_connections = t.integer("max_connections", 20, 10000);
  t.done();
}

// One setting of [<server>.settings]; a table under a name is a library's settings
// written as TOML dotted keys (pg_stat_statements.track = "all"), flattened back.
void read_conf_setting(TomlTable& t, const std::string& name, const toml::node& value, StackConfig::ConfSettings& out) {
  const std::string where = "settings." + name;
  if (name.empty() || !std::islower(static_cast<unsigned char>(name[0])) ||
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_.") != std::string::npos)
    t.fail(where, "is not a PostgreSQL setting name (lower-case letters, digits, _ and .)");
  if (const auto* table = value.as_table()) {
    for (const auto& [key, inner] : *table) read_conf_setting(t, name + "." + std::string(key.str()), inner, out);
  } else if (value.is_string()) {
    const auto text = *value.value<std::string>();
    if (std::any_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
      t.fail(where, "holds a control character (a newline?); give the value on one line");
    out.emplace_back(name, conf_string(text));
  } else if (value.is_boolean()) {
    out.emplace_back(name, *value.value<bool>() ? "on" : "off");
  } else if (value.is_integer()) {
    out.emplace_back(name, std::to_string(*value.value<std::int64_t>()));
  } else if (value.is_floating_point()) {
    out.emplace_back(name, fmt::format("{}", *value.value<double>()));
  } else {
    t.fail(where, "must be a string, a number or true/false");
  }
}

// [<server>.settings]: names shaped like PostgreSQL's (whether the server knows them
// is checked by up, with the server's own binary), values as postgresql.conf takes them.
StackConfig::ConfSettings read_conf_settings(TomlTable& t) {
  StackConfig::ConfSettings out;
  if (const toml::table* table = t.table("settings"))
    for (const auto& [key, value] : *table) read_conf_setting(t, std::string(key.str()), value, out);
  return out;
}

// [tune]: memory as PostgreSQL writes sizes, refused past tune's limits (no clamping).
void read_tune(TomlTable& t, StackConfig& config) {
  if (auto text = t.text("memory")) {
    auto bytes = tune::parse_memory(*text);
    if (!bytes) t.fail("memory", fmt::format("is \"{}\", not a size; write it as \"8GB\", \"512MB\" or \"1.5TB\"", *text));
    if (auto problem = tune::memory_problem(*bytes); !problem.empty()) t.fail("memory", problem);
    config.tune_memory = *bytes;
  }
  config.tune_cpus = t.integer("cpus", 1, tune::kMaxCores);
  t.done();
}

// host is accepted for the multi-machine future, but only this machine works today.
void read_server(TomlTable& t, std::optional<int>& port, StackConfig::ConfSettings& settings) {
  if (auto host = t.text("host"); host && *host != "localhost" && *host != "127.0.0.1")
    t.fail("host", fmt::format("is \"{}\"; this version of pgstack runs every server on this machine, so it must be "
                               "\"localhost\"",
                               *host));
  port = t.integer("port", kMinPort, 65535);
  settings = read_conf_settings(t);
  t.done();
}

void read_pgbouncer(TomlTable& t, StackConfig& config) {
  PoolerSettings pool;
  pool.enabled = t.boolean("enabled").value_or(pool.enabled);
  config.pgbouncer_port = t.integer("port", kMinPort, 65535);
  pool.default_pool_size = t.integer("default_pool_size", 1, 10000).value_or(pool.default_pool_size);
  pool.max_db_connections = t.integer("max_db_connections", 1, 10000).value_or(pool.max_db_connections);
  pool.max_client_conn = t.integer("max_client_conn", 1, 100000).value_or(pool.max_client_conn);
  t.done();
  if (pool.max_db_connections < pool.default_pool_size)
    t.fail("max_db_connections",
           fmt::format("({}) is below default_pool_size ({}); a database's pools could never fill",
                       pool.max_db_connections, pool.default_pool_size));
  if (t.present()) config.pgbouncer = pool;
}

void read_backup(TomlTable& t, StackConfig& config) {
  BackupRepository repo;
  repo.type = t.text("type").value_or(repo.type);
  if (repo.type != "posix" && repo.type != "s3")
    t.fail("type", fmt::format("is \"{}\"; it must be \"posix\" (a folder) or \"s3\"", repo.type));
  // A folder is relative to the file; in a bucket it is a prefix, kept as written.
  if (repo.type == "posix") repo.path = t.path("path").value_or(fs::path());
  else repo.path = t.text("path").value_or("");
  repo.s3_bucket = t.text("bucket").value_or("");
  repo.s3_endpoint = t.text("endpoint").value_or("");
  repo.s3_region = t.text("region").value_or("");
  repo.s3_key = t.text("key").value_or("");
  repo.s3_key_secret = t.text("key_secret").value_or("");
  repo.s3_uri_style = t.text("uri_style").value_or(repo.s3_uri_style);
  repo.s3_verify_tls = t.boolean("verify_tls").value_or(repo.s3_verify_tls);
  t.done();
  if (repo.type == "s3") {
    for (const auto& [key, value] : {std::pair{"bucket", repo.s3_bucket}, std::pair{"endpoint", repo.s3_endpoint},
                                     std::pair{"region", repo.s3_region}, std::pair{"key", repo.s3_key},
                                     std::pair{"key_secret", repo.s3_key_secret}})
      if (value.empty()) t.fail(key, "is missing; an s3 repository needs bucket, endpoint, region, key and key_secret");
    if (repo.s3_uri_style != "host" && repo.s3_uri_style != "path")
      t.fail("uri_style", fmt::format("is \"{}\"; it must be \"host\" or \"path\" (MinIO)", repo.s3_uri_style));
  }
  if (t.present()) config.backup_repository = repo;
}

}  // namespace

StackConfig load_stack_config(const fs::path& file) {
  StackConfig config;
  config.file = fs::absolute(file).lexically_normal();
  toml::table root = read_toml_file(config.file);
  // [doctor] holds doctor's and the metrics rules' thresholds; doctor/thresholds.cc reads it.
  // [metrics] holds `pgstack metrics`' listen address, TLS and credentials; metrics/metrics_config.cc reads it.
  static const std::set<std::string> kTables = {"stack",  "primary", "standby", "pgbouncer",
                                                "backup", "doctor",  "tune",    "metrics"};
  for (const auto& [key, node] : root)
    if (!kTables.count(std::string(key.str())))
      throw Error(fmt::format("{}: [{}] is not a section pgstack knows; use [stack], [primary], [standby], "
                              "[pgbouncer], [backup], [tune], [doctor] or [metrics]",
                              config.file.string(), key.str()));
  TomlTable stack(config.file, root, "stack");
  read_stack(stack, config);
  TomlTable primary(config.file, root, "primary");
  read_server(primary, config.primary_port, config.primary_settings);
  TomlTable standby(config.file, root, "standby");
  read_server(standby, config.standby_port, config.standby_settings);
  TomlTable tune(config.file, root, "tune");
  read_tune(tune, config);
  TomlTable pgbouncer(config.file, root, "pgbouncer");
  read_pgbouncer(pgbouncer, config);
  TomlTable backup(config.file, root, "backup");
  read_backup(backup, config);
  std::set<int> ports;
  for (const auto& port : {config.primary_port, config.standby_port, config.pgbouncer_port})
    if (port && !ports.insert(*port).second)
      throw Error(fmt::format("{}: port {} is given to two components; give each its own", config.file.string(), *port));
  return config;
}

void apply_stack_config(const StackConfig& config, ClusterLayout& layout) {
  if (config.primary_port) layout.primary().port = *config.primary_port;
  if (Component* standby = layout.standby(); standby && config.standby_port) standby->port = *config.standby_port;
  if (config.pgbouncer) {
    const int port = layout.pgbouncer.port;
    layout.pgbouncer = *config.pgbouncer;
    layout.pgbouncer.port = port;
  }
  if (config.pgbouncer_port) layout.pgbouncer.port = *config.pgbouncer_port;
  if (config.backup_repository) layout.backup_repository = *config.backup_repository;
}

}  // namespace pgstack::stack
