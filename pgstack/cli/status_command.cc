// pgstack status [--dir .pgstack] [--json]: every component of the local stack (up or
// down, pid, port, role) and replication as the primary sees it (state, lag in bytes
// and seconds, slots). Exits 1 when the stack is missing or any component is down, so
// scripts can wait on it.
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "pgstack/cli/cli_context.h"
#include "pgstack/cli/commands.h"
#include "pgstack/cluster/replication.h"
#include "pgstack/cluster/stack.h"

namespace pgstack::cli {
namespace {

struct StatusArgs {
  std::string dir = cluster::kDefaultDir;
  bool json = false;
};

struct Replication {
  std::vector<cluster::ReplicaStatus> replicas;
  std::vector<cluster::SlotStatus> slots;
  std::string error;  // why it could not be read
};

Replication read_replication(const cluster::StackStatus& st) {
  Replication out;
  for (const auto& c : st.components)
    if (c.role == cluster::Role::primary && !c.running) return out;
  try {
    pg::Connection primary(pg::ConnectOptions{.dsn = st.layout->dsn(nullptr, "postgres"),
                                              .connect_timeout = std::chrono::seconds(3)});
    out.replicas = cluster::replicas(primary);
    out.slots = cluster::replication_slots(primary);
  } catch (const pgstack::Error& e) {
    out.error = e.what();
  }
  return out;
}

nlohmann::json to_json(const cluster::StackStatus& st, const Replication& rep) {
  nlohmann::json components = nlohmann::json::array();
  for (const auto& c : st.components)
    components.push_back({{"name", c.name},
                          {"role", cluster::to_string(c.role)},
                          {"port", c.port},
                          {"running", c.running},
                          {"pid", c.pid},
                          {"crashed", c.stale_pid}});
  nlohmann::json replicas = nlohmann::json::array();
  for (const auto& r : rep.replicas)
    replicas.push_back({{"name", r.name},
                        {"state", r.state},
                        {"sync_state", r.sync_state},
                        {"lag_bytes", r.lag_bytes},
                        {"lag_seconds", r.lag_seconds}});
  nlohmann::json slots = nlohmann::json::array();
  for (const auto& s : rep.slots)
    slots.push_back({{"name", s.name}, {"active", s.active}, {"retained_bytes", s.retained_bytes}});
  nlohmann::json doc = {{"dir", st.layout->dir.string()},
                        {"running", st.running},
                        {"components", components},
                        {"replication", replicas},
                        {"slots", slots}};
  if (!rep.error.empty()) doc["replication_error"] = rep.error;
  return doc;
}

void print_text(const cluster::StackStatus& st, const Replication& rep) {
  std::cout << fmt::format("stack in {}\n", st.layout->dir.string());
  std::cout << fmt::format("  {:<10} {:<8} {:<6} {:<8} {}\n", "component", "role", "port", "pid", "state");
  for (const auto& c : st.components)
    std::cout << fmt::format("  {:<10} {:<8} {:<6} {:<8} {}\n", c.name, cluster::to_string(c.role), c.port,
                             c.running ? std::to_string(c.pid) : "-",
                             c.running ? "up" : (c.stale_pid ? "down (crashed)" : "down"));
  if (!rep.error.empty()) std::cout << fmt::format("replication: cannot read it: {}\n", rep.error);
  for (const auto& r : rep.replicas)
    std::cout << fmt::format("replication: {} {} ({}), {} bytes and {:.3f} s behind\n", r.name, r.state, r.sync_state,
                             r.lag_bytes, r.lag_seconds);
  for (const auto& s : rep.slots)
    std::cout << fmt::format("slot {}: {}, holding {} bytes of WAL\n", s.name, s.active ? "active" : "INACTIVE",
                             s.retained_bytes);
}

void run_status(const StatusArgs& args) {
  set_command("pgstack status");
  auto st = cluster::status(args.dir);
  if (!st.exists || !st.layout)
    throw pgstack::Error(fmt::format("no stack in {}; run `pgstack up{}` to make one", args.dir,
                                     args.dir == cluster::kDefaultDir ? "" : " --dir " + args.dir));
  auto rep = read_replication(st);
  if (args.json) print_json(to_json(st, rep));
  else print_text(st, rep);
  std::string down;
  for (const auto& c : st.components)
    if (!c.running) down += (down.empty() ? "" : ", ") + c.name;
  if (!down.empty()) throw pgstack::Error(fmt::format("down: {}; run `pgstack up` to start it", down));
}

}  // namespace

void add_status_command(CLI::App& app) {
  auto args = std::make_shared<StatusArgs>();
  auto* cmd = app.add_subcommand("status", "Show every component of the local stack and its replication; exit 1 if any is down");
  cmd->add_option("--dir", args->dir, "The stack's folder")->capture_default_str();
  cmd->add_flag("--json", args->json, "Print as JSON");
  cmd->callback([args] { run_status(*args); });
}

}  // namespace pgstack::cli
