// The stack's hot standby: made once from the running primary with pg_basebackup and
// a physical replication slot (so the primary keeps the WAL it has not received yet),
// then started whenever it is down. Read-only, streaming, with the same tuning as the
// primary and its own port.
//
//   auto actions = pgstack::stack::ensure_standby(layout, settings_for);
//   for (const auto& line : actions) std::cout << line << "\n";
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "pgstack/ops/stack/layout.h"
#include "pgstack/ops/tune/tune.h"

namespace pgstack::stack {

// The replication slot a standby component streams through.
std::string replication_slot(const Component& standby);

// Makes the standby when its folder is empty and starts it when it is not running.
// The primary must be running. Returns what it changed (empty: nothing). Throws
// pgstack::Error saying what failed and what to do.
std::vector<std::string> ensure_standby(
    const ClusterLayout& layout,
    const std::function<std::vector<tune::Setting>(const Component&)>& settings_for);

}  // namespace pgstack::stack
