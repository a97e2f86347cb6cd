#include "pgstack/schema/maintenance_schedule.h"

#include <fmt/format.h>

namespace pgstack::schema {
namespace {

constexpr const char* kFallback =
    "; run `pgstack maintain` from cron every minute, or a Housekeeper in an application (docs/maintenance.md)";

bool pg_cron_installed_here(pg::Connection& conn) {
  return conn.query_optional<std::int32_t>("SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron'")
      .has_value();
}

bool may_schedule(pg::Connection& conn) {
  return conn.query_value<bool>(
      "SELECT has_schema_privilege('cron', 'USAGE') "
      "   AND has_function_privilege('cron.schedule(text, text, text)', 'EXECUTE')");
}

// The job as this role already scheduled it, unchanged: nothing to do.
bool already_scheduled(pg::Connection& conn) {
  return conn
      .query_optional<std::int32_t>(
          "SELECT 1 FROM cron.job WHERE jobname = $1 AND username = current_user AND schedule = $2 "
          "   AND command = $3 AND active",
          std::string(kMaintenanceJobName), std::string(kMaintenanceJobSchedule), std::string(kMaintenanceJobCommand))
      .has_value();
}

}  // namespace

MaintenanceSchedule schedule_maintenance(pg::Connection& conn) {
  if (!pg_cron_installed_here(conn))
    return {.detail = std::string("housekeeping is not scheduled: pg_cron is not installed in this database") +
                      kFallback};
  if (!may_schedule(conn))
    return {.detail = std::string("housekeeping is not scheduled: this role may not use pg_cron (run pgstack "
                                  "install as the database owner or superuser)") +
                      kFallback};
  if (already_scheduled(conn))
    return {.scheduled = true, .detail = fmt::format("pg_cron job {} runs pgstack.maintain() every minute",
                                                     kMaintenanceJobName)};
  // cron.schedule(name, ...) replaces this role's job of that name: a changed command
  // or schedule is updated, not duplicated.
  conn.query("SELECT cron.schedule($1, $2, $3)", std::string(kMaintenanceJobName),
             std::string(kMaintenanceJobSchedule), std::string(kMaintenanceJobCommand));
  return {.scheduled = true,
          .changed = true,
          .detail = fmt::format("scheduled pgstack.maintain() every minute with pg_cron (job {})",
                                kMaintenanceJobName)};
}

}  // namespace pgstack::schema
