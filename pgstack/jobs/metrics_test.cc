// The metrics API against a real server: figures match the queue, and the text is
// valid Prometheus exposition with pgstack_ names.
#include "pgstack/jobs/metrics.h"

#include <regex>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "pgstack/jobs/job_queue.h"
#include "pgstack/jobs/testing/jobs_fixture.h"

namespace pgstack::jobs {
namespace {

class JobMetricsTest : public JobsTest {};

TEST_F(JobMetricsTest, ReportsJobsPerStateTotalsAndTheOldestAvailableAge) {
  JobQueue::register_kind(conn_, "noop");
  std::vector<JobRequest> batch(3, JobRequest{"noop", {}, {}});
  JobQueue::enqueue_many(conn_, batch);
  JobQueue::enqueue(conn_, "noop", {}, {.run_at = std::chrono::system_clock::now() + std::chrono::hours(1)});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // time passing: the jobs age 0.3 s
  auto rows = conn_.query("select batch_id from pgstack.job_claim('default', 'w', 1)");
  conn_.query("select pgstack.job_batch_complete($1, 'w')", rows[0].get<std::int64_t>(0));

  auto m = collect_job_metrics(conn_);
  const std::string queues = m.queues.text();
  std::smatch age;
  ASSERT_TRUE(std::regex_search(queues, age,
                                std::regex(R"(pgstack_jobs_oldest_available_age_seconds\{queue="default"\} ([0-9.e+-]+))")))
      << queues;
  EXPECT_GE(std::stod(age[1].str()), 0.3);

  WorkerMetrics w;
  w.queues["default"].latency_ms = {1.0, 2.0, 3.0, 100.0};
  w.queues["default"].run_ms = {0.5};
  w.queues["default"].completed = 4;
  auto text = to_prometheus(m, &w);
  EXPECT_NE(text.find("pgstack_jobs{queue=\"default\",state=\"available\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("pgstack_jobs{queue=\"default\",state=\"scheduled\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("pgstack_jobs_completed_total{queue=\"default\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("pgstack_job_enqueue_to_start_seconds{queue=\"default\",quantile=\"0.5\"} 0.002\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find("pgstack_worker_jobs_total{queue=\"default\",outcome=\"completed\"} 4\n"), std::string::npos);
  // Every sample line is `name{labels} number` and every name has a TYPE line.
  std::istringstream lines(text);
  std::string line;
  std::regex sample(R"(^(pgstack_[a-z_]+)\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\} [0-9.e+-]+$)");
  int samples = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("# ", 0) == 0) continue;
    std::smatch match;
    ASSERT_TRUE(std::regex_match(line, match, sample)) << line;
    auto name = match[1].str();
    EXPECT_NE(text.find("# TYPE " + name + " "), std::string::npos) << name;
    ++samples;
  }
  EXPECT_GT(samples, 10);
}

// One definition of each queue family: the C++ exporter renders pgstack.jobs_metrics()'s
// rows (what `pgstack metrics` serves), each family once, none of its own.
TEST_F(JobMetricsTest, QueueFamiliesAreTheSqlContractsOwn) {
  JobQueue::register_kind(conn_, "noop");
  JobQueue::enqueue(conn_, "noop", {});
  std::set<std::string> from_sql;
  for (auto row : conn_.query("select distinct family from pgstack.jobs_metrics()")) from_sql.insert(row.get<std::string>(0));
  ASSERT_FALSE(from_sql.empty());

  const auto text = to_prometheus(collect_job_metrics(conn_));
  std::multiset<std::string> typed;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line))
    if (line.rfind("# TYPE ", 0) == 0) typed.insert(line.substr(7, line.find(' ', 7) - 7));
  EXPECT_EQ(std::set<std::string>(typed.begin(), typed.end()), from_sql) << text;
  for (const auto& family : from_sql) EXPECT_EQ(typed.count(family), 1u) << family;
  auto sql_sample = conn_.query_value<double>(
      "select value from pgstack.jobs_metrics() where family = 'pgstack_jobs' and labels->>'state' = 'available'");
  EXPECT_NE(text.find(fmt::format("pgstack_jobs{{queue=\"default\",state=\"available\"}} {}\n", sql_sample)),
            std::string::npos) << text;
}

}  // namespace
}  // namespace pgstack::jobs
