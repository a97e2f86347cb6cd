// pgstack kv get|set|del|ttl [--namespace NS] [--db URL] [--json]: keys and values from
// the command line, through kv::Store (docs/kv.md).
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "pgstack/capability/capability.h"
#include "pgstack/cli/cli_context.h"
#include "pgstack/kv/store.h"

namespace pgstack::kv {

capability::Capability capability();  // capability.cc

namespace {

using namespace pgstack::cli;

struct KvArgs {
  std::optional<std::string> db;
  bool json = false;
  std::string name_space = "default";
  std::string key;
  std::vector<std::string> keys;  // del
  std::string value;
  std::optional<std::string> ttl;
  bool if_absent = false;
};

// Runs f with a Store on the namespace, which must exist: a typo is an error here, not
// a new namespace.
template <class F>
void with_store(const KvArgs& args, F f) {
  auto conn = connect_installed(args.db, capability());
  if (conn.query_value<bool>("SELECT pg_is_in_recovery()"))
    throw Error(
        "kv keeps its keys in unlogged tables, which only the primary has: a standby cannot read them; pass --db with "
        "the primary's DSN (pgstack env: DATABASE_URL)");
  // The command's own connection (no statement cache: the DSN may be PgBouncer's).
  kv::Store store(conn, {.name_space = args.name_space, .create = false});
  f(store);
}

void run_get(const KvArgs& args) {
  set_command("pgstack kv get");
  with_store(args, [&](kv::Store& store) {
    auto value = store.get(args.key);
    if (args.json) {
      print_json({{"key", args.key}, {"value", value ? nlohmann::json(*value) : nlohmann::json(nullptr)}});
      return;
    }
    if (!value)
      throw pgstack::Error(fmt::format("key '{}' does not exist in namespace {} (or has expired)", args.key,
                                       args.name_space));
    std::cout << *value << "\n";
  });
}

void run_set(const KvArgs& args) {
  set_command("pgstack kv set");
  std::optional<kv::Ttl> ttl;
  if (args.ttl) ttl = parse_duration(*args.ttl, "--ttl");
  with_store(args, [&](kv::Store& store) {
    bool written = store.set(args.key, args.value, ttl, args.if_absent ? kv::SetMode::if_absent : kv::SetMode::always);
    if (args.json)
      print_json({{"key", args.key}, {"written", written}});
    else if (written)
      std::cout << fmt::format("set {}{}\n", args.key, args.ttl ? " (expires in " + *args.ttl + ")" : "");
    else
      throw pgstack::Error(fmt::format("key '{}' exists; nothing written (--if-absent)", args.key));
  });
}

void run_del(const KvArgs& args) {
  set_command("pgstack kv del");
  with_store(args, [&](kv::Store& store) {
    auto removed = store.remove(args.keys);
    if (args.json)
      print_json({{"deleted", removed}});
    else
      std::cout << fmt::format("deleted {} of {} key{}\n", removed, args.keys.size(), args.keys.size() == 1 ? "" : "s");
  });
}

void run_ttl(const KvArgs& args) {
  set_command("pgstack kv ttl");
  with_store(args, [&](kv::Store& store) {
    auto ttl = store.ttl(args.key);
    std::optional<double> seconds;
    if (ttl.remaining) seconds = std::chrono::duration<double>(*ttl.remaining).count();
    if (args.json) {
      print_json({{"key", args.key}, {"exists", ttl.exists},
                  {"ttl_seconds", seconds ? nlohmann::json(*seconds) : nlohmann::json(nullptr)}});
      return;
    }
    if (!ttl.exists)
      throw pgstack::Error(fmt::format("key '{}' does not exist in namespace {} (or has expired)", args.key,
                                       args.name_space));
    if (seconds)
      std::cout << fmt::format("{:.3f}s\n", *seconds);
    else
      std::cout << "no expiry\n";
  });
}

}  // namespace

void add_commands(CLI::App& app) {
  auto* kv = app.add_subcommand("kv", "Keys and values: get, set, del, ttl (docs/kv.md)");
  kv->require_subcommand(1);
  auto args = std::make_shared<KvArgs>();
  auto common = [&](CLI::App* cmd) {
    cmd->add_option("--db", args->db, "Database URL (default: $DATABASE_URL, then the local stack)");
    cmd->add_option("-n,--namespace", args->name_space, "Namespace of the keys")->capture_default_str();
    cmd->add_flag("--json", args->json, "Print as JSON");
  };
  auto* get = kv->add_subcommand("get", "Print a key's value (exit 1 when it does not exist)");
  common(get);
  get->add_option("key", args->key, "Key")->required();
  get->callback([args] { run_get(*args); });
  auto* set = kv->add_subcommand("set", "Set a key");
  common(set);
  set->add_option("key", args->key, "Key")->required();
  set->add_option("value", args->value, "Value")->required();
  set->add_option("--ttl", args->ttl, "Expire after this long: 250ms, 30s, 5m, 2h, 7d");
  set->add_flag("--if-absent", args->if_absent, "Only if the key does not exist (exit 1 when it does)");
  set->callback([args] { run_set(*args); });
  auto* del = kv->add_subcommand("del", "Delete keys");
  common(del);
  del->add_option("keys", args->keys, "Keys")->required();
  del->callback([args] { run_del(*args); });
  auto* ttl = kv->add_subcommand("ttl", "Print how long a key has left");
  common(ttl);
  ttl->add_option("key", args->key, "Key")->required();
  ttl->callback([args] { run_ttl(*args); });
}

}  // namespace pgstack::kv
