// The six alerts of the stack (shared/ANCHORS.md has how each is computed).
#include <algorithm>

#include <fmt/format.h>

#include "pgstack/ops/doctor/checks.h"
#include "pgstack/ops/doctor/server_facts.h"

namespace pgstack::doctor {

void check_cache_hit_ratio(CheckContext& ctx) {
  auto rows = ctx.conn.query(
      "SELECT datname::text, blks_hit, blks_read FROM pg_stat_database "
      "WHERE datname IS NOT NULL AND datname NOT IN ('template0', 'template1') ORDER BY datname");
  for (auto row : rows) {
    auto db = row.get<std::string>(0);
    std::int64_t hit = row.get<std::int64_t>(1), read = row.get<std::int64_t>(2);
    ctx.counters.blocks[db] = {hit, read};
    std::string since = "since its statistics were reset";
    if (ctx.baseline) {
      auto it = ctx.baseline->blocks.find(db);
      // Counters that went down were reset: the totals are then the window.
      if (it != ctx.baseline->blocks.end() && it->second.first <= hit && it->second.second <= read) {
        hit -= it->second.first;
        read -= it->second.second;
        since = "over the last " + seconds_text(ctx.counters.at - ctx.baseline->at);
      }
    }
    if (hit + read < ctx.t.cache_min_blocks) continue;  // too little traffic to judge
    double ratio = static_cast<double>(hit) / static_cast<double>(hit + read);
    if (ratio >= ctx.t.cache_hit_ratio_min) continue;
    ctx.add(Severity::warning, "cache_hit_ratio", "database " + db,
            fmt::format("cache hit ratio {} {} ({} blocks read from disk or the OS cache, {} from shared_buffers); "
                        "threshold {}",
                        percent(ratio), since, read, hit, percent(ctx.t.cache_hit_ratio_min)),
            "queries read from disk what should be in memory: latency climbs with the disk's, and the working set "
            "no longer fits shared_buffers",
            "look at the statements reading most (pgstack top), add the index they lack, or give shared_buffers and "
            "the machine more memory (pgstack tune)");
  }
}

void check_replication_lag(CheckContext& ctx) {
  if (ctx.in_recovery) {
    // On a standby: how long ago the last replayed commit was made, when WAL is waiting
    // to be replayed; 0 when everything received has been replayed.
    auto row_rows = ctx.conn.query(std::string("SELECT ") + sql::kStandbyLagSeconds + ", " +
                                   sql::kStandbyPendingBytes + ", pg_is_wal_replay_paused()");
    auto row = row_rows[0];
    double lag = row.get<double>(0);
    if (lag <= ctx.t.replication_lag_seconds) {
      // Paused with WAL waiting: behind already, even before a commit gives it a time.
      if (row.get<bool>(2) && row.get<double>(1) > 0)
        ctx.add(Severity::warning, "replication_lag", "this standby",
                fmt::format("replay is PAUSED with {} received and not replayed", bytes_text(row.get<double>(1))),
                "the standby falls further behind with every write on the primary",
                "SELECT pg_wal_replay_resume();  -- on the standby");
      return;
    }
    ctx.add(Severity::critical, "replication_lag", "this standby",
            fmt::format("replay is {} behind the primary ({} received and not replayed{}); threshold {}",
                        seconds_text(lag), bytes_text(row.get<double>(1)),
                        row.get<bool>(2) ? ", replay is PAUSED" : "", seconds_text(ctx.t.replication_lag_seconds)),
            "reads from the standby return stale data, and a failover now would lose or wait for that much work",
            row.get<bool>(2) ? "SELECT pg_wal_replay_resume();  -- on the standby"
                             : "find what holds replay back: long queries on the standby (max_standby_streaming_delay), "
                               "its disk or CPU (pgstack top on the standby)");
    return;
  }
  auto rows = ctx.conn.query(
      "SELECT application_name::text, coalesce(extract(epoch FROM replay_lag), 0)::float8, "
      "       coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0)::float8 FROM pg_stat_replication");
  for (auto row : rows) {
    double lag = row.get<double>(2) == 0 ? 0 : row.get<double>(1);  // replay_lag lingers after catching up
    if (lag <= ctx.t.replication_lag_seconds) continue;
    ctx.add(Severity::critical, "replication_lag", "standby " + row.get<std::string>(0),
            fmt::format("replays {} behind ({} of WAL); threshold {}", seconds_text(lag), bytes_text(row.get<double>(2)),
                        seconds_text(ctx.t.replication_lag_seconds)),
            "reads from the standby are stale, and a failover now would lose or wait for that much work",
            "check the standby's load and disk, and the network between them (pgstack status)");
  }
}

void check_dead_tuples(CheckContext& ctx) {
  auto rows = ctx.conn.query(
      "SELECT format('%I.%I', schemaname, relname), n_live_tup, n_dead_tup, "
      "       coalesce(greatest(last_vacuum, last_autovacuum)::text, 'never') "
      "FROM pg_stat_user_tables WHERE n_dead_tup >= $1 AND n_dead_tup > $2 * (n_live_tup + n_dead_tup) AND " +
          not_kv_table("relid") +
          " ORDER BY n_dead_tup DESC LIMIT 20",
      ctx.t.dead_tuples_min, ctx.t.dead_tuple_ratio);
  for (auto row : rows) {
    auto table = row.get<std::string>(0);
    auto live = row.get<std::int64_t>(1), dead = row.get<std::int64_t>(2);
    ctx.add(Severity::warning, "dead_tuples", "table " + table,
            fmt::format("{} of its rows are dead ({} dead, {} live; last vacuumed {}); threshold {}",
                        percent(static_cast<double>(dead) / static_cast<double>(live + dead)), dead, live,
                        row.get<std::string>(3), percent(ctx.t.dead_tuple_ratio)),
            "dead rows bloat the table and its indexes: scans read them, and the space is not reused until vacuum",
            fmt::format("VACUUM (ANALYZE) {};  -- and if autovacuum keeps falling behind: ALTER TABLE {} SET "
                        "(autovacuum_vacuum_scale_factor = 0.05);",
                        table, table));
  }
}

void check_idle_in_transaction(CheckContext& ctx) {
  auto row_rows = ctx.conn.query(
      "SELECT count(*), coalesce(max(extract(epoch FROM now() - state_change)), 0)::float8, "
      "       coalesce(array_to_string((array_agg(pid ORDER BY state_change))[1:10], ', '), '') "
      "FROM pg_stat_activity WHERE state IN ('idle in transaction', 'idle in transaction (aborted)') "
      "  AND now() - state_change > make_interval(secs => $1)",
      ctx.t.idle_in_transaction_seconds);
  auto row = row_rows[0];
  auto count = row.get<std::int64_t>(0);
  if (count <= ctx.t.idle_in_transaction_sessions) return;
  ctx.add(Severity::warning, "idle_in_transaction", "sessions (pids " + row.get<std::string>(2) + ")",
          fmt::format("{} sessions have sat idle inside a transaction for over {} (the longest {}); threshold {}",
                      count, seconds_text(ctx.t.idle_in_transaction_seconds), seconds_text(row.get<double>(1)),
                      ctx.t.idle_in_transaction_sessions),
          "an open transaction holds its locks and stops vacuum from removing rows dead since it began; through "
          "PgBouncer it also pins a server connection",
          fmt::format("fix the application's transaction handling; meanwhile ALTER SYSTEM SET "
                      "idle_in_transaction_session_timeout = '60s'; or end them: SELECT pg_terminate_backend(pid) FROM "
                      "pg_stat_activity WHERE state LIKE 'idle in transaction%' AND now() - state_change > interval "
                      "'{} seconds';",
                      ctx.t.idle_in_transaction_seconds));
}

void check_connections(CheckContext& ctx) {
  // Client backends are what max_connections limits; WAL senders and background workers
  // have slots of their own.
  auto row_rows = ctx.conn.query(
      "SELECT count(*) FILTER (WHERE backend_type = 'client backend'), current_setting('max_connections')::int, "
      "       current_setting('superuser_reserved_connections')::int FROM pg_stat_activity");
  auto row = row_rows[0];
  auto used = row.get<std::int64_t>(0);
  auto max = row.get<std::int32_t>(1);
  double ratio = static_cast<double>(used) / max;
  if (ratio <= ctx.t.connections_ratio) return;
  ctx.add(ratio >= 0.95 ? Severity::critical : Severity::warning, "connections", "max_connections",
          fmt::format("{} of {} connections in use ({}; {} reserved for superusers); threshold {}", used, max,
                      percent(ratio), row.get<std::int32_t>(2), percent(ctx.t.connections_ratio)),
          "when they run out, new connections fail with \"too many clients already\"",
          "connect through PgBouncer (the stack's port + 2) instead of directly, lower the applications' pool sizes, "
          "or raise max_connections in pgstack.toml ([stack]) and restart");
}

void check_requested_checkpoints(CheckContext& ctx) {
  auto row_rows = ctx.conn.query("SELECT checkpoints_timed, checkpoints_req FROM pg_stat_bgwriter");
  auto row = row_rows[0];
  std::int64_t timed = ctx.counters.checkpoints_timed = row.get<std::int64_t>(0);
  std::int64_t requested = ctx.counters.checkpoints_requested = row.get<std::int64_t>(1);
  std::string since = "since the statistics were reset";
  if (ctx.baseline && ctx.baseline->checkpoints_timed <= timed && ctx.baseline->checkpoints_requested <= requested) {
    timed -= ctx.baseline->checkpoints_timed;
    requested -= ctx.baseline->checkpoints_requested;
    since = "over the last " + seconds_text(ctx.counters.at - ctx.baseline->at);
  }
  if (timed + requested < std::max<std::int64_t>(ctx.t.checkpoints_min, 1)) return;
  double ratio = static_cast<double>(requested) / static_cast<double>(timed + requested);
  if (ratio <= ctx.t.requested_checkpoint_ratio) return;
  ctx.add(Severity::warning, "requested_checkpoints", "checkpoints",
          fmt::format("{} of checkpoints were requested rather than timed {} ({} requested, {} timed); threshold {}",
                      percent(ratio), since, requested, timed, percent(ctx.t.requested_checkpoint_ratio)),
          "WAL fills max_wal_size before checkpoint_timeout: checkpoints come too often, each writing more full "
          "pages to WAL and flushing in bursts",
          "raise max_wal_size (ALTER SYSTEM SET max_wal_size = '8GB'; SELECT pg_reload_conf();), or find who runs "
          "CHECKPOINT by hand");
}

}  // namespace pgstack::doctor
