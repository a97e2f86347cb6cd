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
#include <string>

#include "pgstack/base/exposition.h"
#include "pgstack/jobs/worker.h"
#include "pgstack/pg/connection.h"

namespace pgstack::jobs {

// The queues' figures exactly as pgstack.jobs_metrics() gives them to `pgstack
// metrics` (one definition of each family, in SQL), ready to render.
struct JobMetrics {
  Exposition queues;
};

// Reads pgstack.jobs_metrics() on conn (the primary: a standby's would be the same).
JobMetrics collect_job_metrics(pg::Connection& conn);

// Prometheus text format 0.0.4: the queues' families, then the worker's (when given).
std::string to_prometheus(const JobMetrics& metrics, const WorkerMetrics* worker = nullptr);

}  // namespace pgstack::jobs
