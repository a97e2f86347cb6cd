// Streaming replication as the primary sees it: each connected standby's state and how
// far behind it is, in bytes of WAL and in seconds, and each replication slot with the
// WAL it holds back (a slot whose standby is gone keeps WAL until the disk fills).
//
//   pg::Connection primary(layout.dsn(nullptr, "postgres"));
//   for (const auto& r : pgstack::stack::replicas(primary))
//     std::cout << r.name << " " << r.state << " " << r.lag_bytes << " bytes behind\n";
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pgstack/pg/connection.h"

namespace pgstack::stack {

struct ReplicaStatus {
  std::string name;        // application_name: the standby's cluster_name
  std::string state;       // streaming, catchup, startup, backup...
  std::string sync_state;  // async, sync, potential, quorum
  std::int64_t lag_bytes = 0;  // WAL written on the primary and not yet replayed there
  // Time the last replayed commit waited; 0 when nothing is outstanding. PostgreSQL
  // reports no figure for an idle standby, which is caught up.
  double lag_seconds = 0;
};

struct SlotStatus {
  std::string name;
  bool active = false;              // a standby is streaming through it
  std::int64_t retained_bytes = 0;  // WAL the primary keeps for it
};

std::vector<ReplicaStatus> replicas(pg::Connection& primary);
std::vector<SlotStatus> replication_slots(pg::Connection& primary);

}  // namespace pgstack::stack
