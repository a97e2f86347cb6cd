// What each server of the stack runs with (its pgstack.conf): pgstack's own settings,
// tune's for the server's share of the host (the primary and standby share one machine,
// so each is tuned for half its memory and cores), then pgstack.toml's
// [primary.settings] / [standby.settings] over tune's.
//
//   check_server_settings(layout, config, max_connections);   // throws before anything changes
//   server.write_config(server_settings(layout, c, config, max_connections));
#pragma once

#include <filesystem>
#include <vector>

#include "pgstack/ops/stack/layout.h"
#include "pgstack/ops/stack/stack_config.h"
#include "pgstack/ops/tune/tune.h"

namespace pgstack::stack {

// The server's whole managed configuration. Throws pgstack::Error when the memory or
// cores detected are beyond tune's limits (set [tune] memory / cpus then).
std::vector<tune::Setting> server_settings(const ClusterLayout& layout, const Component& server,
                                           const StackConfig& config, int max_connections);

// Checks every server's settings before `up` changes anything: a name pgstack manages
// itself is refused (it would break the stack), the rest go through the server's own
// `postgres -C` in an empty folder, which refuses unknown names and bad values as the
// server would; a hot standby must not have less of what it replays than the primary.
// Throws pgstack::Error naming the file, the table, the setting and PostgreSQL's reason.
void check_server_settings(const ClusterLayout& layout, const StackConfig& config, int max_connections);

// Runs `postgres -C` with settings in a scratch folder; returns PostgreSQL's complaint
// (its FATAL lines), or "" when it accepts them all. Exposed for tests.
std::string postgres_rejects(const std::vector<tune::Setting>& settings);

}  // namespace pgstack::stack
