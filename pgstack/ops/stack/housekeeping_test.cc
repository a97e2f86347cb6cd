// The stack's housekeeping runs with no application process (issue 14, item 6): `up`
// schedules pgstack.maintain() with pg_cron, and a batch claimed through the SQL API by a
// worker that then died — in any language — is offered again once its lease is out.
#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "pgstack/ops/stack/testing/security_fixture.h"
#include "pgstack/pg/connection.h"
#include "pgstack/schema/maintenance_schedule.h"
#include "pgstack/testing/eventually.h"

namespace {

using pgstack::pg::Connection;
using namespace std::chrono_literals;

TEST_F(StackSecurityTest, UpSchedulesMaintenanceWithPgCronOnce) {
  ASSERT_TRUE(report_->maintenance_scheduled) << "pg_cron is a dependency of the stack (scripts/install-deps)";
  Connection super(layout().dsn());
  auto jobs = super.query("select schedule, command, database, username from cron.job where jobname = $1",
                          std::string(pgstack::schema::kMaintenanceJobName));
  ASSERT_EQ(jobs.rows(), 1);
  EXPECT_EQ(jobs[0].get<std::string>(0), "* * * * *");
  EXPECT_EQ(jobs[0].get<std::string>(1), pgstack::schema::kMaintenanceJobCommand);
  EXPECT_EQ(jobs[0].get<std::string>(2), layout().database);
  // Scheduling again (a second up or install) keeps one job.
  auto again = pgstack::schema::schedule_maintenance(super);
  EXPECT_TRUE(again.scheduled);
  EXPECT_FALSE(again.changed);
  EXPECT_EQ(super.query_value<std::int64_t>("select count(*) from cron.job where command like '%pgstack.maintain%'"), 1);
}

TEST_F(StackSecurityTest, PgCronRescuesABatchWhoseWorkerDied) {
  Connection super(layout().dsn());
  super.execute_script("select pgstack.job_queue_create('cron_rescue'); select pgstack.job_kind_register('orphaned')");
  Connection app(layout().role_dsn("app"));
  auto id = app.query_value<std::int64_t>("select id from pgstack.job_enqueue('orphaned', '{}', queue => 'cron_rescue')");
  // A worker in another language claims with a one-second lease, then dies.
  auto claimed = app.query("select id from pgstack.job_claim('cron_rescue', 'python-1', 10, 1)");
  ASSERT_EQ(claimed.rows(), 1);
  ASSERT_EQ(app.query_value<std::string>("select pgstack.job_state($1)", id), "running");

  // No worker and no Housekeeper runs: only pg_cron's minutely pgstack.maintain().
  const auto deadline = std::chrono::steady_clock::now() + 90s;
  std::string state = "running";
  while (state == "running" && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1s);
    state = app.query_value<std::string>("select pgstack.job_state($1)", id);
  }
  EXPECT_EQ(state, "available") << "the batch was not rescued within 90 s";
  // pg_cron marks its run succeeded in a transaction of its own after maintain()'s has
  // committed, so the rescue can be visible a moment before the run's status is.
  const std::string job_name(pgstack::schema::kMaintenanceJobName);
  const bool recorded = pgstack::testing::eventually(
      [&] {
        return super.query_value<std::int64_t>(
                   "select count(*) from cron.job_run_details d join cron.job j using (jobid) "
                   "where j.jobname = $1 and d.status = 'succeeded'",
                   job_name) >= 1;
      },
      15s);
  EXPECT_TRUE(recorded) << super.query_value<std::string>(
      "select coalesce(string_agg(d.status || ': ' || coalesce(d.return_message, ''), '; '), 'no runs') "
      "from cron.job_run_details d join cron.job j using (jobid) where j.jobname = $1",
      job_name);
}

}  // namespace
