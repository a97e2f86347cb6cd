// The local stack under ./.pgstack: up (preflight, initdb, tuned config, start, the
// `app` database with pgstack's schemas, stack.json), down (fast stop, data kept) and
// status. Every step is idempotent: up on a running stack changes nothing, a stopped
// one starts with its data, a crashed one (postmaster killed) recovers.
//
//   auto report = pgstack::stack::up({.dir = ".pgstack", .port = 54320});
//   for (const auto& line : report.actions) std::cout << line << "\n";
//   pgstack::stack::down({.dir = ".pgstack"});
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "pgstack/ops/stack/layout.h"

namespace pgstack::stack {

struct UpOptions {
  std::filesystem::path dir = kDefaultDir;
  // The primary's port; unset keeps the port in stack.json, else kDefaultPort. 64 bits
  // so a value from the command line reaches the preflight's message unclamped.
  std::optional<std::int64_t> port;
  // pgstack.toml (stack_config.h) to read; unset: the one recorded in stack.json, if any.
  std::optional<std::filesystem::path> config;
  // max_connections unless pgstack.toml's [stack] sets it.
  int max_connections = 200;
  // The preflight refuses to start when the stack's file system has less free space.
  std::uint64_t min_free_bytes = 512ull << 20;
  // Called with the pgstack.toml up will apply, before anything is created: a check of
  // the tables other layers read (the CLI checks [doctor]'s thresholds); throws to refuse.
  std::function<void(const std::filesystem::path&)> check_config;
  // Called with each step as it happens ("initdb", "starting postgres"...), for progress.
  std::function<void(const std::string&)> progress;
};

struct UpReport {
  ClusterLayout layout;
  bool was_running = false;  // nothing needed starting
  bool initialized = false;  // initdb ran: a new stack
  bool recovered = false;    // found a stale postmaster.pid (a crash) and restarted
  bool pg_cron = false;      // pg_cron is preloaded (the package is installed)
  bool maintenance_scheduled = false;  // pg_cron runs pgstack.maintain() (schema/maintenance_schedule.h)
  std::vector<std::string> actions;          // what changed, in order; empty: nothing
  std::vector<std::string> applied_migrations;  // "core/001_core.sql"
  bool changed() const { return !actions.empty(); }
};

// Brings the stack up. Throws pgstack::Error saying what failed and what to do;
// the preflight (binaries, port, folder) runs before anything is started.
UpReport up(const UpOptions& options = {});

struct DownOptions {
  std::filesystem::path dir = kDefaultDir;
};

struct DownReport {
  bool was_running = false;
  std::string message;
};

// Stops every component (pg_ctl stop -m fast), keeping the data.
DownReport down(const DownOptions& options = {});

struct DestroyReport {
  bool existed = false;
  std::string message;
};

// Stops every component and removes the stack's folder with all its data. Refuses a
// folder that does not hold a pgstack stack (no stack.json, no data/primary), and
// removes nothing when a server does not stop.
DestroyReport destroy(const std::filesystem::path& dir);

struct ComponentStatus {
  std::string name;
  Role role = Role::primary;
  int port = 0;
  bool running = false;
  pid_t pid = 0;          // 0 when not running
  bool stale_pid = false;  // postmaster.pid left behind by a crash
};

struct StackStatus {
  bool exists = false;  // stack.json or a data folder found
  bool running = false;  // every component runs
  std::optional<ClusterLayout> layout;
  std::vector<ComponentStatus> components;
};

StackStatus status(const std::filesystem::path& dir = kDefaultDir);

}  // namespace pgstack::stack
