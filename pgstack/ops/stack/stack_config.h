// pgstack.toml: the stack's topology as data. Every key is optional and every default
// works with no file at all; `pgstack up` reads ./pgstack.toml when it exists (or
// --config FILE) and records the file in stack.json, so a later `up` from anywhere
// uses it too. The stack's folder itself is chosen by --dir, as for every command.
// Today every server is on this machine; the [primary]/[standby] tables take a `host`
// so the same file can describe several machines later (docs/stack.md).
//
//   # pgstack.toml
//   [stack]
//   max_connections = 300
//   [primary]
//   port = 6000
//   [pgbouncer]
//   default_pool_size = 30
//   [backup]
//   type = "s3"
//   bucket = "acme-backups"
//   [tune]
//   memory = "8GB"      # what the stack's servers share (default: detected)
//   cpus = 2
//   [primary.settings]
//   work_mem = "32MB"   # any postgresql.conf setting pgstack does not manage itself
//   [standby.settings]
//   statement_timeout = "30s"
//
//   auto config = pgstack::stack::load_stack_config("pgstack.toml");
//   pgstack::stack::apply_stack_config(config, layout);
#pragma once

#include <filesystem>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pgstack/ops/stack/layout.h"

namespace pgstack::stack {

inline constexpr const char* kConfigFileName = "pgstack.toml";

struct StackConfig {
  std::filesystem::path file;  // absolute; empty when the defaults are used
  std::optional<int> max_connections;
  std::optional<int> primary_port;
  std::optional<int> standby_port;
  std::optional<int> pgbouncer_port;
  std::optional<PoolerSettings> pgbouncer;  // the pool settings (port aside) when [pgbouncer] is given
  std::optional<BackupRepository> backup_repository;
  // [tune]: the memory (bytes) and cores the stack's servers share on this host, in
  // place of what detection finds (tune.h splits them between the servers).
  std::optional<std::uint64_t> tune_memory;
  std::optional<int> tune_cpus;
  // [primary.settings] / [standby.settings]: name and postgresql.conf value (strings
  // quoted, booleans on/off), in file order; checked against PostgreSQL by `up`
  // (server_settings.h) before anything changes.
  using ConfSettings = std::vector<std::pair<std::string, std::string>>;
  ConfSettings primary_settings;
  ConfSettings standby_settings;
};

// Reads and validates file. Throws pgstack::Error naming the file, the key and what is
// wrong (unknown keys are errors: a typo must not silently fall back to a default).
StackConfig load_stack_config(const std::filesystem::path& file);

// Applies what the config sets onto layout: ports (callers apply them only to stopped
// components), pool settings and the backup repository.
void apply_stack_config(const StackConfig& config, ClusterLayout& layout);

}  // namespace pgstack::stack
