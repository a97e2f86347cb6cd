// The metrics API against a real server: figures match the queue, and the text is
// valid Prometheus exposition with pgstack_ names.
#include "pgstack/jobs/metrics.h"

#include <regex>
#include <sstream>

#include "pgstack/jobs/jobs_fixture.h"

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
  ASSERT_EQ(m.queues.size(), 1u);
  ASSERT_TRUE(m.oldest_available_age_seconds[0].has_value());
  EXPECT_GE(*m.oldest_available_age_seconds[0], 0.3);

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

TEST(JobMetricsText, EscapesLabelValues) {
  JobMetrics m;
  QueueStats q;
  q.queue = "we\"ird\\name";
  m.queues.push_back(q);
  m.oldest_available_age_seconds.push_back(std::nullopt);
  auto text = to_prometheus(m);
  EXPECT_NE(text.find("queue=\"we\\\"ird\\\\name\""), std::string::npos) << text;
  EXPECT_NE(text.find("pgstack_jobs_oldest_available_age_seconds{queue=\"we\\\"ird\\\\name\"} 0\n"), std::string::npos);
}

}  // namespace
}  // namespace pgstack::jobs
