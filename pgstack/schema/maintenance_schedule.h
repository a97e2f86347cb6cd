// Schedules pgstack's housekeeping inside the server, so that it runs with no
// application process: one pg_cron job, "pgstack-maintain", calls pgstack.maintain()
// every minute (pg_cron 1.4, Debian 12's, schedules by the minute). `pgstack up` and
// `pgstack install` call it after installing the schemas; it is idempotent.
//
//   auto schedule = pgstack::schema::schedule_maintenance(conn);
//   std::cout << schedule.detail << "\n";   // "scheduled pgstack.maintain() ..." or why not
#pragma once

#include <string>

#include "pgstack/pg/connection.h"

namespace pgstack::schema {

// The pg_cron job's name and command, as cron.job shows them.
inline constexpr const char* kMaintenanceJobName = "pgstack-maintain";
inline constexpr const char* kMaintenanceJobSchedule = "* * * * *";
inline constexpr const char* kMaintenanceJobCommand = "SELECT count(*) FROM pgstack.maintain()";

struct MaintenanceSchedule {
  bool scheduled = false;  // the pg_cron job exists after the call
  bool changed = false;    // this call created or updated it
  std::string detail;      // what was done, or why it could not be and what to do instead
};

// Creates or updates the job when pg_cron is installed in this database and the
// connected role may schedule; otherwise says so and changes nothing.
MaintenanceSchedule schedule_maintenance(pg::Connection& conn);

}  // namespace pgstack::schema
