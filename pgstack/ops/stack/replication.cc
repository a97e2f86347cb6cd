#include "pgstack/ops/stack/replication.h"

namespace pgstack::stack {

std::vector<ReplicaStatus> replicas(pg::Connection& primary) {
  std::vector<ReplicaStatus> out;
  auto rows = primary.query(
      "SELECT application_name::text, state::text, sync_state::text, "
      "       coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0)::bigint, "
      "       coalesce(extract(epoch FROM replay_lag), 0)::float8 "
      "FROM pg_stat_replication ORDER BY application_name");
  for (const auto& row : rows) {
    ReplicaStatus r{row.get<std::string>(0), row.get<std::string>(1), row.get<std::string>(2),
                    row.get<std::int64_t>(3), row.get<double>(4)};
    if (r.lag_bytes == 0) r.lag_seconds = 0;  // replay_lag lingers a while after catching up
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<SlotStatus> replication_slots(pg::Connection& primary) {
  std::vector<SlotStatus> out;
  auto rows = primary.query(
      "SELECT slot_name::text, active, "
      "       coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint "
      "FROM pg_replication_slots WHERE slot_type = 'physical' ORDER BY slot_name");
  for (const auto& row : rows)
    out.push_back({row.get<std::string>(0), row.get<bool>(1), row.get<std::int64_t>(2)});
  return out;
}

}  // namespace pgstack::stack
