#include "pgstack/cli/observe_target.h"

#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "pgstack/cli/cli_context.h"
#include "pgstack/ops/stack/stack_config.h"

namespace pgstack::cli {
namespace {
void check_dsn(const std::string& dsn, const char* where) {
  try {
    pg::validate_dsn(dsn);
  } catch (const pg::UsageError& e) {
    throw BadUsage(fmt::format("{} is not a database URL: {}", where, e.what()));
  }
}
}  // namespace

ObserveTarget resolve_observe_target(const std::optional<std::string>& db, const std::string& dir) {
  ObserveTarget t;
  t.dir = dir;
  if (db) {
    check_dsn(*db, "--db");
    t.dsn = db;
    return t;
  }
  if (auto layout = stack::ClusterLayout::load(dir)) {
    t.stack = std::move(layout);
    return t;
  }
  if (const char* url = std::getenv("DATABASE_URL"); url && *url) {
    check_dsn(url, "$DATABASE_URL");
    t.dsn = url;
    return t;
  }
  throw BadUsage(fmt::format("no database to look at: pass --db URL, run it where the stack's folder is ({} holds "
                             "no stack; --dir names another), or set DATABASE_URL",
                             dir));
}

std::optional<std::string> resolve_config_file(const std::optional<std::string>& config, const ObserveTarget& target) {
  if (config) {
    if (!std::filesystem::exists(*config)) throw BadUsage(fmt::format("--config {}: no such file", *config));
    return config;
  }
  if (std::filesystem::exists(stack::kConfigFileName)) return std::string(stack::kConfigFileName);
  if (target.stack && !target.stack->config_file.empty() && std::filesystem::exists(target.stack->config_file))
    return target.stack->config_file.string();
  return std::nullopt;
}

doctor::Thresholds resolve_thresholds(const std::optional<std::string>& config, const ObserveTarget& target) {
  if (auto file = resolve_config_file(config, target)) return doctor::load_thresholds(*file, capability::all_thresholds());
  return {};
}

}  // namespace pgstack::cli
