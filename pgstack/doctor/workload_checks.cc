// pgstack's own workloads: the job queue's backlog and failures, and kv's dead rows.
#include <fmt/format.h>

#include "pgstack/doctor/checks.h"
#include "pgstack/doctor/server_facts.h"

namespace pgstack::doctor {

void check_job_backlog(CheckContext& ctx) {
  if (!relation_exists(ctx.conn, "pgstack.job_queues")) return;
  auto rows = ctx.conn.query(
      "SELECT queue, extract(epoch FROM now() - oldest_available_at)::float8, available "
      "FROM pgstack.job_queue_stats() WHERE now() - oldest_available_at > make_interval(secs => $1)",
      ctx.t.job_oldest_available_seconds);
  for (auto row : rows) {
    auto queue = row.get<std::string>(0);
    ctx.add(Severity::warning, "job_backlog", "queue " + queue,
            fmt::format("its oldest available job has waited {} ({} jobs available); threshold {}",
                        seconds_text(row.get<double>(1)), row.get<std::int64_t>(2),
                        seconds_text(ctx.t.job_oldest_available_seconds)),
            "jobs run that much later than enqueued: the workers are down, paused, or too few for the rate",
            fmt::format("pgstack jobs stats; start workers for queue {}, add concurrency, or pgstack jobs resume {} if "
                        "paused",
                        queue, queue));
  }
}

void check_discarded_jobs(CheckContext& ctx) {
  if (!relation_exists(ctx.conn, "pgstack.job_history")) return;
  auto rows = ctx.conn.query(
      "SELECT queue, count(*) FROM pgstack.job_history WHERE state = 'discarded' "
      "  AND finished_at > now() - interval '1 hour' GROUP BY queue HAVING count(*) > $1 ORDER BY 2 DESC",
      ctx.t.discarded_jobs_per_hour);
  for (auto row : rows) {
    auto queue = row.get<std::string>(0);
    ctx.add(Severity::warning, "discarded_jobs", "queue " + queue,
            fmt::format("{} jobs were discarded after their last attempt in the past hour; threshold {}",
                        row.get<std::int64_t>(1), ctx.t.discarded_jobs_per_hour),
            "each is work that did not happen: an email unsent, a payment not captured",
            fmt::format("pgstack jobs list --queue {} --state discarded (their errors say why), fix, then pgstack "
                        "jobs retry ID",
                        queue));
  }
}

// pg_cron runs pgstack.maintain() once a minute; a lease expired for longer than this
// means nothing is rescuing the batch (no worker, no schedule), not a rescue due soon.
constexpr int kExpiredLeaseGraceSeconds = 120;

void check_expired_leases(CheckContext& ctx) {
  if (!relation_exists(ctx.conn, "pgstack.job_batches")) return;
  auto rows = ctx.conn.query(
      "SELECT queue, count(*), sum(job_count)::bigint, extract(epoch FROM now() - min(lease_expires_at))::float8 "
      "FROM pgstack.job_batches WHERE lease_expires_at < now() - make_interval(secs => $1) "
      "GROUP BY queue ORDER BY 4 DESC",
      kExpiredLeaseGraceSeconds);
  for (auto row : rows) {
    auto queue = row.get<std::string>(0);
    ctx.add(Severity::critical, "job_lease_expired", "queue " + queue,
            fmt::format("{} claimed batch(es) holding {} job(s) are {} past their lease", row.get<std::int64_t>(1),
                        row.get<std::int64_t>(2), seconds_text(row.get<double>(3))),
            "their worker is gone and nothing offers the jobs again: they stay 'running' and never finish",
            "pgstack maintain (rescues them now); keep housekeeping scheduled: pgstack install schedules "
            "pgstack.maintain() with pg_cron (docs/maintenance.md)");
  }
}

// Tasks are due every few seconds to a minute; one overdue by this much has no runner.
constexpr int kHousekeepingOverdueSeconds = 300;

void check_housekeeping(CheckContext& ctx) {
  if (ctx.in_recovery || !relation_exists(ctx.conn, "pgstack.maintenance_tasks")) return;
  auto rows = ctx.conn.query(
      "SELECT count(*), string_agg(name, ', ' ORDER BY name), "
      "       extract(epoch FROM now() - min(next_run_at))::float8 "
      "FROM pgstack.maintenance_tasks WHERE next_run_at < now() - make_interval(secs => $1) HAVING count(*) > 0",
      kHousekeepingOverdueSeconds);
  for (auto row : rows) {
    ctx.add(Severity::warning, "housekeeping_overdue", "pgstack.maintain()",
            fmt::format("{} maintenance task(s) are overdue by up to {} ({})", row.get<std::int64_t>(0),
                        seconds_text(row.get<double>(2)), row.get<std::string>(1)),
            "expired keys, sessions and rate-limit entries pile up, views go stale, dead workers' jobs stay stuck",
            "pgstack install (schedules pgstack.maintain() with pg_cron when it is installed), or run pgstack "
            "maintain from cron every minute (docs/maintenance.md)");
  }
}

void check_kv_bloat(CheckContext& ctx) {
  if (!relation_exists(ctx.conn, "pgstack.kv_namespaces")) return;
  auto rows = ctx.conn.query(
      "SELECT n.name, format('%I.%I', s.schemaname, s.relname), s.n_live_tup, s.n_dead_tup "
      "FROM pgstack.kv_namespaces n "
      "JOIN pg_stat_user_tables s ON s.schemaname = 'pgstack' AND s.relname = 'kv_ns_' || n.name "
      "WHERE s.n_dead_tup >= $1 AND s.n_dead_tup > $2 * (s.n_live_tup + s.n_dead_tup)",
      ctx.t.dead_tuples_min, ctx.t.kv_dead_ratio);
  for (auto row : rows) {
    auto live = row.get<std::int64_t>(2), dead = row.get<std::int64_t>(3);
    ctx.add(Severity::warning, "kv_bloat", "kv namespace " + row.get<std::string>(0),
            fmt::format("{} of its table's rows are dead ({} dead, {} live); threshold {}",
                        percent(static_cast<double>(dead) / static_cast<double>(live + dead)), dead, live,
                        percent(ctx.t.kv_dead_ratio)),
            "kv rewrites rows on every set: without vacuum the table and its key index grow, and gets slow down",
            fmt::format("VACUUM {};  -- and run pgstack.maintain() every minute (pg_cron) so expired keys are swept",
                        row.get<std::string>(1)));
  }
}

}  // namespace pgstack::doctor
