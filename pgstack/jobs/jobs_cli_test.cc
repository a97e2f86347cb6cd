// `pgstack jobs ...` as a user runs it, against a real server: statistics, listing,
// showing, retrying, cancelling, pausing; and bad input that changes nothing.
#include <gtest/gtest.h>

#include "pgstack/jobs/job_queue.h"
#include "pgstack/jobs/testing/jobs_fixture.h"
#include "pgstack/testing/cli_runner.h"

namespace pgstack::jobs {
namespace {

using pgstack::testing::json_of;
using pgstack::testing::run_cli;

class JobsCliTest : public JobsTest {
 protected:
  void SetUp() override {
    JobQueue::register_kind(conn_, "email", {.max_attempts = 1});
  }
  pgstack::testing::CliResult jobs(std::vector<std::string> args) {
    args.insert(args.begin(), "jobs");
    args.push_back("--db");
    args.push_back(db_.dsn());
    return run_cli(PGSTACK_CLI_PATH, args);
  }
  nlohmann::json default_stats() {
    auto r = jobs({"stats", "--json"});
    EXPECT_EQ(r.code, 0) << r.output;
    auto doc = json_of(r);
    for (auto& q : doc["queues"])
      if (q["queue"] == "default") return q;
    return {};
  }
};

TEST_F(JobsCliTest, StatsListAndShowDescribeTheQueue) {
  auto waiting = JobQueue::enqueue(conn_, "email", {{"to", "a@example.com"}}).id;
  auto later = JobQueue::enqueue(conn_, "email", {}, {.run_at = std::chrono::system_clock::now() + std::chrono::hours(1)}).id;
  auto stats = default_stats();
  EXPECT_EQ(stats["available"], 1);
  EXPECT_EQ(stats["scheduled"], 1);
  EXPECT_TRUE(stats["oldest_available_seconds"].is_number());

  auto r = jobs({"list", "--state", "scheduled", "--json"});
  ASSERT_EQ(r.code, 0) << r.output;
  auto doc = json_of(r);
  auto list = doc["jobs"];
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["id"], later);

  r = jobs({"show", std::to_string(waiting), "--json"});
  ASSERT_EQ(r.code, 0) << r.output;
  auto job = json_of(r);
  EXPECT_EQ(job["state"], "available");
  EXPECT_EQ(job["args"]["to"], "a@example.com");
  r = jobs({"show", std::to_string(waiting)});
  EXPECT_NE(r.output.find("job " + std::to_string(waiting) + ": available (email in queue default"), std::string::npos)
      << r.output;
}

TEST_F(JobsCliTest, RetryCancelPauseAndResumeChangeTheQueue) {
  // A job that failed its only attempt is discarded; retry gives it another.
  auto id = JobQueue::enqueue(conn_, "email").id;
  auto rows = conn_.query("select batch_id from pgstack.job_claim('default', 'w', 10)");
  conn_.query("select pgstack.job_batch_complete($1, 'w', $2)", rows[0].get<std::int64_t>(0),
              nlohmann::json::array({{{"id", id}, {"outcome", "retry"}, {"error", "mailbox full"}}}));
  EXPECT_EQ(state_of(id), "discarded");
  auto r = jobs({"show", std::to_string(id)});
  EXPECT_NE(r.output.find("mailbox full"), std::string::npos) << r.output;
  r = jobs({"retry", std::to_string(id)});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(state_of(id), "available");

  auto later = JobQueue::enqueue(conn_, "email", {}, {.run_at = std::chrono::system_clock::now() + std::chrono::hours(1)}).id;
  r = jobs({"cancel", std::to_string(later), "--json"});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(json_of(r)["state"], "cancelled");
  EXPECT_EQ(state_of(later), "cancelled");

  ASSERT_EQ(jobs({"pause", "default"}).code, 0);
  EXPECT_EQ(default_stats()["paused"], true);
  EXPECT_EQ(count("select count(*) from pgstack.job_claim('default', 'w', 10)"), 0);
  ASSERT_EQ(jobs({"resume", "default"}).code, 0);
  EXPECT_EQ(default_stats()["paused"], false);
}

TEST_F(JobsCliTest, BadInputGetsAClearErrorAndChangesNothing) {
  JobQueue::enqueue(conn_, "email");
  auto stats_now = [&] {
    auto s = default_stats();
    s.erase("oldest_available_seconds");  // grows with time
    return s;
  };
  const auto before = stats_now();
  auto r = jobs({"pause", "no_such_queue"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("unknown job queue 'no_such_queue'"), std::string::npos) << r.output;
  r = jobs({"list", "--queue", "no_such_queue"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("unknown job queue 'no_such_queue'"), std::string::npos) << r.output;
  r = jobs({"list", "--state", "finished"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("unknown job state 'finished'"), std::string::npos) << r.output;
  r = jobs({"show", "987654321"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("no job 987654321"), std::string::npos) << r.output;
  r = jobs({"retry", "abc"});
  EXPECT_EQ(r.code, 2) << r.output;
  // Too large for a job id: refused, not clamped to the largest bigint.
  r = jobs({"show", "99999999999999999999"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("id: 99999999999999999999 is too large; it must be from 1 to 9223372036854775807"),
            std::string::npos)
      << r.output;
  r = jobs({"cancel", "-1"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("id: -1 is too small"), std::string::npos) << r.output;
  r = jobs({"list", "--limit", "99999999999999999999"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--limit: 99999999999999999999 is too large; it must be from 1 to 10000"), std::string::npos)
      << r.output;
  r = run_cli(PGSTACK_CLI_PATH, {"jobs", "frob"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("unknown command 'frob' for 'pgstack jobs' (its commands: stats, list, show, retry, cancel, "
                          "pause, resume)"),
            std::string::npos)
      << r.output;
  r = jobs({"cancel", "987654321"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(stats_now(), before);

  // A database without pgstack's schemas: a hint, not "function does not exist".
  auto& cluster = jobs_cluster();
  pg::Connection admin(cluster.dsn());
  const std::string bare = "bare_" + std::to_string(::getpid());
  admin.execute_script("create database " + bare + " template template0");
  r = run_cli(PGSTACK_CLI_PATH, {"jobs", "stats", "--db", cluster.dsn(bare)});
  admin.execute_script("drop database " + bare);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("run `pgstack install`"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace pgstack::jobs
