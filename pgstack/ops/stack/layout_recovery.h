// Rebuilds a stack's layout from the servers' own files when stack.json is lost or
// broken (issue 14, item 10): a default in its place once rewrote a running primary's
// pgstack.conf to the default port. Each server's port comes from its postmaster.pid
// (where it listens now) or else its pgstack.conf (where it will listen), PgBouncer's
// from its ini, the database from PgBouncer's [databases]. Nothing is guessed: what
// cannot be read is an error that says so.
//
//   if (auto layout = pgstack::stack::recover_layout(".pgstack")) layout->save();
#pragma once

#include <filesystem>
#include <optional>

#include "pgstack/ops/stack/layout.h"

namespace pgstack::stack {

// nullopt when dir holds no PostgreSQL cluster (data/primary/PG_VERSION): a new stack.
// Throws pgstack::Error naming the file and value it could not read.
std::optional<ClusterLayout> recover_layout(const std::filesystem::path& dir);

}  // namespace pgstack::stack
