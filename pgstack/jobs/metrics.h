// The job queue's figures for a metrics endpoint (Prometheus text exposition): jobs per
// queue and state, finished totals (rate() of them is the throughput), the age of the
// oldest available job, and from a Worker its enqueue-to-start latency and run time.
//
//   auto m = pgstack::jobs::collect_job_metrics(conn);
//   std::string text = pgstack::jobs::to_prometheus(m, &worker.metrics());
//   // pgstack_jobs{queue="default",state="available"} 12
//   // pgstack_jobs_completed_total{queue="default"} 1000000
//   // pgstack_job_enqueue_to_start_seconds{queue="default",quantile="0.5"} 0.004
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "pgstack/jobs/job.h"
#include "pgstack/jobs/job_queue.h"
#include "pgstack/jobs/worker.h"

namespace pgstack::jobs {

struct JobMetrics {
  std::vector<QueueStats> queues;
  // Seconds since the oldest available job became available, per queue (same order);
  // nullopt when none is waiting. Measured on the server's clock.
  std::vector<std::optional<double>> oldest_available_age_seconds;
};

template <class Db>
JobMetrics collect_job_metrics(Db& db) {
  JobMetrics m;
  m.queues = JobQueue::stats(db);
  auto ages = db.query(internal::kOldestAges);
  for (const auto& q : m.queues) {
    std::optional<double> age;
    for (auto row : ages)
      if (row.template get<std::string>(0) == q.queue) age = row.template get<std::optional<double>>(1);
    m.oldest_available_age_seconds.push_back(age);
  }
  return m;
}

// Prometheus text format 0.0.4, metric names prefixed pgstack_, labels escaped.
std::string to_prometheus(const JobMetrics& metrics, const WorkerMetrics* worker = nullptr);

}  // namespace pgstack::jobs
