// PgHero's health checks (shared/ANCHORS.md), plus WAL archiving.
#include <fmt/format.h>

#include "pgstack/ops/doctor/checks.h"
#include "pgstack/ops/doctor/server_facts.h"

namespace pgstack::doctor {

void check_long_queries(CheckContext& ctx) {
  auto rows = ctx.conn.query(
      "SELECT pid, coalesce(usename::text, ''), coalesce(datname::text, ''), "
      "       extract(epoch FROM now() - query_start)::float8, left(regexp_replace(query, '\\s+', ' ', 'g'), 120) "
      "FROM pg_stat_activity WHERE state = 'active' AND backend_type = 'client backend' "
      "  AND pid <> pg_backend_pid() AND now() - query_start > make_interval(secs => $1) "
      "ORDER BY query_start LIMIT 10",
      ctx.t.long_query_seconds);
  for (auto row : rows) {
    auto pid = row.get<std::int32_t>(0);
    ctx.add(Severity::warning, "long_query", fmt::format("pid {} ({}@{})", pid, row.get<std::string>(1), row.get<std::string>(2)),
            fmt::format("running for {}: {}; threshold {}", seconds_text(row.get<double>(3)), row.get<std::string>(4),
                        seconds_text(ctx.t.long_query_seconds)),
            "a long query holds its snapshot (vacuum cannot remove rows dead since) and its locks, and may be a "
            "runaway",
            fmt::format("SELECT pg_cancel_backend({});  -- and a statement_timeout for its role", pid));
  }
}

void check_wraparound(CheckContext& ctx) {
  auto rows = ctx.conn.query(
      "SELECT datname::text, (2147483647 - age(datfrozenxid))::float8 FROM pg_database WHERE datallowconn "
      "ORDER BY 2");
  for (auto row : rows) {
    double left = row.get<double>(1);
    if (left >= ctx.t.xid_remaining_warning) continue;
    auto db = row.get<std::string>(0);
    ctx.add(left < ctx.t.xid_remaining_critical ? Severity::critical : Severity::warning, "xid_wraparound",
            "database " + db,
            fmt::format("{:.0f} million transaction IDs left before wraparound; threshold {:.0f} million", left / 1e6,
                        ctx.t.xid_remaining_warning / 1e6),
            "at 3 million left PostgreSQL refuses writes until the database is vacuumed",
            fmt::format("in database {}: VACUUM (FREEZE, VERBOSE); -- oldest tables first: SELECT relname, "
                        "age(relfrozenxid) FROM pg_class WHERE relkind = 'r' ORDER BY 2 DESC LIMIT 10;",
                        db));
  }
}

void check_sequences(CheckContext& ctx) {
  auto rows = ctx.conn.query(sql::kSequenceUsage);
  for (auto row : rows) {
    auto used = row.get<std::optional<double>>(3);
    if (!used || *used < ctx.t.sequence_used_ratio) continue;
    auto column = row.get<std::string>(4);
    ctx.add(*used >= 0.98 ? Severity::critical : Severity::warning, "sequence_used", "sequence " + row.get<std::string>(2),
            fmt::format("{} of its values are used{}; threshold {}", percent(*used),
                        column.empty() ? "" : ", feeding " + column, percent(ctx.t.sequence_used_ratio)),
            "when it runs out, every insert that needs a new id fails",
            column.empty() ? "ALTER SEQUENCE ... AS bigint MAXVALUE 9223372036854775807;"
                           : "change the column to bigint in a migration (a rewrite: plan it; pgstack migrate up applies it), "
                             "then ALTER SEQUENCE ... AS bigint;");
  }
}

void check_invalid_indexes(CheckContext& ctx) {
  auto rows = ctx.conn.query(
      "SELECT format('%I.%I', n.nspname, c.relname), format('%I.%I', n.nspname, t.relname) FROM pg_index i "
      "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid "
      "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT i.indisvalid");
  for (auto row : rows) {
    auto index = row.get<std::string>(0);
    ctx.add(Severity::warning, "invalid_index", "index " + index,
            "is invalid (on " + row.get<std::string>(1) + "): a CREATE INDEX CONCURRENTLY or REINDEX that failed",
            "no query uses it, yet every write still maintains it",
            fmt::format("REINDEX INDEX CONCURRENTLY {};  -- or DROP INDEX CONCURRENTLY {}; and create it again", index,
                        index));
  }
}

void check_invalid_constraints(CheckContext& ctx) {
  auto rows = ctx.conn.query(
      "SELECT format('%I.%I', n.nspname, t.relname), quote_ident(c.conname) FROM pg_constraint c "
      "JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
      "WHERE NOT c.convalidated AND c.contype IN ('c', 'f')");
  for (auto row : rows) {
    auto table = row.get<std::string>(0), name = row.get<std::string>(1);
    ctx.add(Severity::warning, "invalid_constraint", "constraint " + name + " on " + table,
            "was added NOT VALID and never validated",
            "rows written before it was added are unchecked, and the planner cannot rely on it",
            fmt::format("ALTER TABLE {} VALIDATE CONSTRAINT {};", table, name));
  }
}

void check_duplicate_indexes(CheckContext& ctx) {
  // An index is redundant when another valid index of the same kind on the same table
  // starts with all its columns (same operator classes, no expressions or predicates),
  // and it backs no constraint. Of two identical indexes the newer one is reported.
  auto rows = ctx.conn.query(
      "SELECT format('%I.%I', n.nspname, ic.relname), format('%I.%I', n.nspname, cc.relname), "
      "       format('%I.%I', n.nspname, t.relname), pg_relation_size(i.indexrelid) "
      "FROM pg_index i JOIN pg_index c ON c.indrelid = i.indrelid AND c.indexrelid <> i.indexrelid "
      "JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class cc ON cc.oid = c.indexrelid "
      "JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
      "WHERE i.indisvalid AND c.indisvalid AND ic.relam = cc.relam "
      "  AND i.indexprs IS NULL AND c.indexprs IS NULL AND i.indpred IS NULL AND c.indpred IS NULL "
      "  AND (c.indkey::text || ' ') LIKE (i.indkey::text || ' %') "
      "  AND (c.indclass::text || ' ') LIKE (i.indclass::text || ' %') "
      "  AND (i.indkey::text <> c.indkey::text OR i.indexrelid > c.indexrelid) "
      "  AND (NOT i.indisunique OR (c.indisunique AND c.indkey::text = i.indkey::text)) "
      "  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) "
      "  AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
      "ORDER BY 4 DESC LIMIT 20");
  for (auto row : rows) {
    auto index = row.get<std::string>(0);
    ctx.add(Severity::warning, "duplicate_index", "index " + index,
            fmt::format("is covered by {} on {} ({})", row.get<std::string>(1), row.get<std::string>(2),
                        bytes_text(static_cast<double>(row.get<std::int64_t>(3)))),
            "every write maintains both, and both take memory, for the lookups one of them serves",
            fmt::format("DROP INDEX CONCURRENTLY {};", index));
  }
}

void check_unused_indexes(CheckContext& ctx) {
  if (ctx.in_recovery) return;  // a standby's scans are counted on the standby only
  auto rows = ctx.conn.query(
      "SELECT format('%I.%I', s.schemaname, s.indexrelname), format('%I.%I', s.schemaname, s.relname), "
      "       pg_relation_size(s.indexrelid), "
      "       coalesce((SELECT stats_reset::date::text FROM pg_stat_database WHERE datname = current_database()), "
      "                'the server started') "
      "FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid "
      "WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary "
      "  AND pg_relation_size(s.indexrelid) >= $1 ORDER BY 3 DESC LIMIT 20",
      ctx.t.unused_index_min_bytes);
  for (auto row : rows) {
    auto index = row.get<std::string>(0);
    ctx.add(Severity::info, "unused_index", "index " + index,
            fmt::format("on {} ({}) has not been scanned since {}", row.get<std::string>(1),
                        bytes_text(static_cast<double>(row.get<std::int64_t>(2))), row.get<std::string>(3)),
            "writes maintain it and it takes memory; check the standby's use of it too before dropping",
            fmt::format("DROP INDEX CONCURRENTLY {};", index));
  }
}

void check_replication_slots(CheckContext& ctx) {
  if (ctx.in_recovery) return;
  auto rows = ctx.conn.query(
      "SELECT slot_name::text, slot_type, coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::float8 "
      "FROM pg_replication_slots WHERE NOT active ORDER BY 3 DESC");
  for (auto row : rows) {
    auto slot = row.get<std::string>(0);
    double held = row.get<double>(2);
    ctx.add(held >= static_cast<double>(ctx.t.inactive_slot_critical_bytes) ? Severity::critical : Severity::warning,
            "inactive_slot", "replication slot " + slot,
            fmt::format("is inactive ({}) and holds back {} of WAL", row.get<std::string>(1), bytes_text(held)),
            "the primary keeps every WAL segment the slot has not consumed, until the disk fills",
            fmt::format("start the standby or consumer that uses it (pgstack up), or drop it: SELECT "
                        "pg_drop_replication_slot('{}');",
                        slot));
  }
}

void check_vacuum_overdue(CheckContext& ctx) {
  if (ctx.in_recovery) return;
  // Twice past autovacuum's own trigger (threshold + scale factor × rows), which it would
  // have acted on at once, and not vacuumed for a day: autovacuum is disabled on the
  // table, or cannot keep up.
  auto rows = ctx.conn.query(
      "SELECT format('%I.%I', s.schemaname, s.relname), s.n_dead_tup, "
      "       coalesce(greatest(s.last_vacuum, s.last_autovacuum)::text, 'never'), "
      "       coalesce(c.reloptions::text, '') LIKE '%autovacuum_enabled=false%' "
      "FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
      "WHERE s.n_dead_tup > 2 * (current_setting('autovacuum_vacuum_threshold')::float8 "
      "      + current_setting('autovacuum_vacuum_scale_factor')::float8 * greatest(c.reltuples, 0)) "
      "  AND coalesce(greatest(s.last_vacuum, s.last_autovacuum), '-infinity') < now() - interval '1 day' "
      "  AND s.n_dead_tup >= $1 AND " + not_kv_table("s.relid") + " ORDER BY 2 DESC LIMIT 20",
      ctx.t.dead_tuples_min);
  for (auto row : rows) {
    auto table = row.get<std::string>(0);
    bool disabled = row.get<bool>(3);
    ctx.add(Severity::warning, "vacuum_overdue", "table " + table,
            fmt::format("{} dead rows, twice autovacuum's trigger, last vacuumed {}{}", row.get<std::int64_t>(1),
                        row.get<std::string>(2), disabled ? "; autovacuum is DISABLED on it" : ""),
            "the table and its indexes bloat, and its frozen-xid age grows toward wraparound",
            disabled ? fmt::format("ALTER TABLE {} RESET (autovacuum_enabled); VACUUM (ANALYZE) {};", table, table)
                     : fmt::format("VACUUM (ANALYZE) {};  -- and look for what blocks autovacuum: long transactions, "
                                   "too few autovacuum_max_workers",
                                   table));
  }
}

void check_archiving(CheckContext& ctx) {
  if (ctx.in_recovery) return;
  auto row_rows = ctx.conn.query(
      "SELECT current_setting('archive_mode'), failed_count, coalesce(last_failed_wal, ''), "
      "       coalesce(last_failed_time > coalesce(last_archived_time, '-infinity'), false), "
      "       coalesce(extract(epoch FROM now() - last_failed_time), 0)::float8 FROM pg_stat_archiver");
  auto row = row_rows[0];
  if (row.get<std::string>(0) == "off" || !row.get<bool>(3)) return;
  ctx.add(Severity::critical, "archiving_failing", "WAL archiving",
          fmt::format("archive_command is failing: {} failures, the last {} ago on segment {}, none archived since",
                      row.get<std::int64_t>(1), seconds_text(row.get<double>(4)), row.get<std::string>(2)),
          "WAL that is not archived cannot be restored (point-in-time recovery stops at the gap), and pg_wal grows "
          "until the disk fills",
          "read the server log for archive_command's error and pgbackrest's log; then: pgstack backup check");
}

void check_slow_statements(CheckContext& ctx) {
  auto view = statements_view(ctx.conn);
  if (!view) {
    ctx.add(Severity::info, "pg_stat_statements", "database " + ctx.database,
            "pg_stat_statements is not installed here, so slow statements cannot be listed (the other checks ran)",
            "without it there is no record of which statements take the time",
            "CREATE EXTENSION pg_stat_statements;  -- it also needs shared_preload_libraries = 'pg_stat_statements' "
            "and a restart; a stack made by pgstack up has both");
    return;
  }
  try {
    auto rows = ctx.conn.query(
        "SELECT queryid, calls, mean_exec_time, total_exec_time, left(regexp_replace(query, '\\s+', ' ', 'g'), 120) "
        "FROM " + *view + " WHERE calls >= $1 AND mean_exec_time > $2 AND dbid = "
        "(SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY total_exec_time DESC LIMIT 10",
        ctx.t.slow_statement_min_calls, ctx.t.slow_statement_ms);
    for (auto row : rows)
      ctx.add(Severity::warning, "slow_statement", fmt::format("queryid {}", row.get<std::int64_t>(0)),
              fmt::format("mean {:.1f} ms over {} calls ({:.1f} s in all): {}; threshold {} ms", row.get<double>(2),
                          row.get<std::int64_t>(1), row.get<double>(3) / 1000, row.get<std::string>(4),
                          ctx.t.slow_statement_ms),
              "slow statements hold connections and locks longer, and the pool runs out under load",
              "EXPLAIN (ANALYZE, BUFFERS) the statement; pgstack top lists it with its totals");
  } catch (const pg::SqlError& e) {
    if (e.sqlstate() != "55000") throw;  // "must be loaded via shared_preload_libraries"
    ctx.add(Severity::info, "pg_stat_statements", "database " + ctx.database,
            "pg_stat_statements is installed but not loaded, so slow statements cannot be listed (the other checks ran)",
            "without it there is no record of which statements take the time",
            "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'; then restart the server");
  }
}

}  // namespace pgstack::doctor
