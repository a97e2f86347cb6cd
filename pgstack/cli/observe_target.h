// What doctor, metrics, top and advise look at, from the same options: --db URL (one
// server), else the stack in --dir when there is one, else $DATABASE_URL; and the
// thresholds: --config FILE, else ./pgstack.toml, else the file the stack was made from.
//
//   auto target = resolve_observe_target(db_flag, dir);
//   auto t = resolve_thresholds(config_flag, target);
#pragma once

#include <optional>
#include <string>

#include "pgstack/ops/stack/layout.h"
#include "pgstack/ops/doctor/thresholds.h"

namespace pgstack::cli {

struct ObserveTarget {
  std::optional<std::string> dsn;             // one server
  std::optional<stack::ClusterLayout> stack;  // else the local stack
  std::string dir;
};

// Throws BadUsage when there is neither a --db, a stack in dir, nor $DATABASE_URL.
ObserveTarget resolve_observe_target(const std::optional<std::string>& db, const std::string& dir);

// The pgstack.toml in effect: --config FILE (BadUsage when missing), else ./pgstack.toml,
// else the file the stack was made from; nullopt when there is none.
std::optional<std::string> resolve_config_file(const std::optional<std::string>& config, const ObserveTarget& target);

doctor::Thresholds resolve_thresholds(const std::optional<std::string>& config, const ObserveTarget& target);

}  // namespace pgstack::cli
