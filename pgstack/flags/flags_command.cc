// pgstack flags list|create|set|eval [--env ENV] [--db URL] [--json]: feature flags from
// the command line, through their SQL API (docs/flags.md). Every change made here is
// recorded in pgstack.flag_changes with --actor (default: $USER).
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "pgstack/base/files.h"
#include "pgstack/capability/capability.h"
#include "pgstack/cli/cli_context.h"
#include "pgstack/pg/json_text.h"

namespace pgstack::flags {

capability::Capability capability();  // capability.cc

namespace {

using namespace pgstack::cli;

struct FlagsArgs {
  std::optional<std::string> db;
  bool json = false;
  std::string env = "production";
  std::string flag;
  std::optional<std::string> config;
  std::optional<std::string> config_file;
  bool enable = false;
  bool disable = false;
  std::optional<std::string> actor;
  std::string subject;
  std::string attributes = "{}";
  std::string kind = "boolean";
  std::vector<std::string> variants;
  std::string description;
};

pg::Connection open_flags(const FlagsArgs& args) {
  return connect_installed(args.db, capability());
}

std::string actor_of(const FlagsArgs& args) {
  if (args.actor) return *args.actor;
  const char* user = std::getenv("USER");
  return fmt::format("{} (pgstack cli)", user ? user : "unknown");
}

// JSON the user typed or named: bad text is bad usage, with an example of the right form.
nlohmann::json parse_json_option(const std::string& text, std::string_view what, std::string_view example) {
  try {
    return pg::parse_json(text, what);
  } catch (const pg::UsageError& e) {
    throw BadUsage(fmt::format("{}; write it as JSON, for example {}", e.what(), example));
  }
}

constexpr std::string_view kConfigExample =
    R"('{"enabled": true, "rules": [{"serve": true, "percentage": 10}]}' (docs/flags.md))";

std::string read_config_file(const std::string& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec))
    throw BadUsage(fmt::format("--config-file {}: no such file", file));
  auto text = pgstack::read_text_file_if_readable(file);
  if (!text) throw BadUsage(fmt::format("--config-file {}: cannot read it (permissions?)", file));
  return std::move(*text);
}

void run_list(const FlagsArgs& args) {
  set_command("pgstack flags list");
  auto conn = open_flags(args);
  auto rows = conn.query(
      "select key, kind, enabled, rules, version, updated_at, updated_by, description from pgstack.flag_list($1)",
      args.env);
  if (args.json) {
    nlohmann::json out = nlohmann::json::array();
    for (auto r : rows)
      out.push_back({{"flag", r.get<std::string>(0)}, {"kind", r.get<std::string>(1)}, {"enabled", r.get<bool>(2)},
                     {"rules", r.get<std::int32_t>(3)}, {"version", r.get<std::optional<std::int64_t>>(4).value_or(0)},
                     {"updated_at", utc_text(r.get<pg::Timestamp>(5))},
                     {"updated_by", r.get<std::optional<std::string>>(6).value_or("")},
                     {"description", r.get<std::string>(7)}});
    print_json({{"environment", args.env}, {"flags", out}});
    return;
  }
  std::cout << fmt::format("{:<32} {:<8} {:<8} {:>5}  {:<21} {}\n", "FLAG", "KIND", "STATE", "RULES", "UPDATED", "BY");
  for (auto r : rows)
    std::cout << fmt::format("{:<32} {:<8} {:<8} {:>5}  {:<21} {}\n", r.get<std::string>(0), r.get<std::string>(1),
                             r.get<bool>(2) ? "on" : "off", r.get<std::int32_t>(3), utc_text(r.get<pg::Timestamp>(5)),
                             r.get<std::optional<std::string>>(6).value_or("-"));
  if (rows.empty()) std::cout << "(no flags; create one with `pgstack flags create NAME`)\n";
}

void run_create(const FlagsArgs& args) {
  set_command("pgstack flags create");
  auto conn = open_flags(args);
  std::optional<nlohmann::json> variants;
  if (!args.variants.empty()) variants = nlohmann::json(args.variants);
  conn.query("select pgstack.flag_create($1, $2, $3, null, $4, $5)", args.flag, args.kind, variants, args.description,
             actor_of(args));
  if (args.json)
    print_json({{"flag", args.flag}, {"kind", args.kind}});
  else
    std::cout << fmt::format("created {} flag {}; it is off until `pgstack flags set {} --enable`\n", args.kind,
                             args.flag, args.flag);
}

void run_set(const FlagsArgs& args) {
  set_command("pgstack flags set");
  if (static_cast<int>(args.enable) + args.disable + args.config.has_value() + args.config_file.has_value() != 1)
    throw BadUsage("give exactly one of --enable, --disable, --config JSON or --config-file FILE");
  // Read before connecting: bad JSON changes nothing and needs no database to report.
  nlohmann::json config;
  if (args.config_file)
    config = parse_json_option(read_config_file(*args.config_file), "--config-file " + *args.config_file, kConfigExample);
  if (args.config) config = parse_json_option(*args.config, "--config", kConfigExample);
  auto conn = open_flags(args);
  std::int64_t version = 0;
  if (args.enable || args.disable) {
    // Keeps the rules; only the switch changes.
    version = conn.query_value<std::int64_t>(
        "select pgstack.flag_set($1, $2, coalesce((select config from pgstack.flag_configs where flag = $1 and "
        "environment = $2), '{}'::jsonb) || jsonb_build_object('enabled', $3::boolean), $4)",
        args.flag, args.env, args.enable, actor_of(args));
  } else {
    version = conn.query_value<std::int64_t>("select pgstack.flag_set($1, $2, $3, $4)", args.flag, args.env,
                                             config, actor_of(args));
  }
  if (args.json)
    print_json({{"flag", args.flag}, {"environment", args.env}, {"version", version}});
  else
    std::cout << fmt::format("{} in {}: version {}\n", args.flag, args.env, version);
}

void run_eval(const FlagsArgs& args) {
  set_command("pgstack flags eval");
  auto attributes = parse_json_option(args.attributes, "--attributes", R"('{"plan": "pro", "country": "NZ"}')");
  auto conn = open_flags(args);
  auto r = conn.query("select value, reason from pgstack.flag_evaluation($1, $2, $3, $4)", args.flag, args.env,
                      args.subject, attributes);
  auto value = r[0].get<nlohmann::json>(0);
  auto reason = r[0].get<std::string>(1);
  if (args.json)
    print_json({{"flag", args.flag}, {"environment", args.env}, {"subject", args.subject}, {"value", value},
                {"reason", reason}});
  else
    std::cout << fmt::format("{}  ({})\n", value.dump(), reason);
}

}  // namespace

void add_commands(CLI::App& app) {
  auto* flags = app.add_subcommand("flags", "Feature flags: list, create, set, eval (docs/flags.md)");
  flags->require_subcommand(1);
  auto args = std::make_shared<FlagsArgs>();
  auto common = [&](CLI::App* cmd) {
    cmd->add_option("--db", args->db, "Database URL (default: $DATABASE_URL, then the local stack)");
    cmd->add_flag("--json", args->json, "Print as JSON");
  };
  auto env = [&](CLI::App* cmd) {
    cmd->add_option("-e,--env", args->env, "Environment")->capture_default_str();
  };
  auto* list = flags->add_subcommand("list", "Every flag and its state in an environment");
  common(list);
  env(list);
  list->callback([args] { run_list(*args); });
  auto* create = flags->add_subcommand("create", "Create a flag (off everywhere until set)");
  common(create);
  create->add_option("flag", args->flag, "Flag key")->required();
  create->add_option("--kind", args->kind, "boolean or variant")->capture_default_str();
  create->add_option("--variants", args->variants, "A variant flag's values")->delimiter(',');
  create->add_option("--description", args->description, "What the flag is for");
  create->add_option("--actor", args->actor, "Who is making the change (default: $USER)");
  create->callback([args] { run_create(*args); });
  auto* set = flags->add_subcommand("set", "Turn a flag on or off, or replace its rules, in an environment");
  common(set);
  env(set);
  set->add_option("flag", args->flag, "Flag key")->required();
  set->add_flag("--enable", args->enable, "Turn it on (its rules are kept)");
  set->add_flag("--disable", args->disable, "Turn it off (its rules are kept)");
  set->add_option("--config", args->config, "The whole configuration as JSON (docs/flags.md)");
  set->add_option("--config-file", args->config_file, "The whole configuration from a JSON file");
  set->add_option("--actor", args->actor, "Who is making the change (default: $USER)");
  set->callback([args] { run_set(*args); });
  auto* eval = flags->add_subcommand("eval", "What a flag serves a subject, and why");
  common(eval);
  env(eval);
  eval->add_option("flag", args->flag, "Flag key")->required();
  eval->add_option("--subject", args->subject, "The subject's key (percentage rollouts)");
  eval->add_option("--attributes", args->attributes, "The subject's attributes as a JSON object");
  eval->callback([args] { run_eval(*args); });
}

}  // namespace pgstack::flags
