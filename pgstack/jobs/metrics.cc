#include "pgstack/jobs/metrics.h"

#include <algorithm>

#include <fmt/format.h>

#include "pgstack/base/exposition.h"

namespace pgstack::jobs {

namespace internal {
const char* const kOldestAges =
    "select queue, extract(epoch from now() - oldest_available_at)::float8 from pgstack.job_queue_stats()";
}

namespace {

std::string label(std::string_view value) { return pgstack::escape_label(value); }

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

double quantile(std::vector<double> samples, double q) {
  std::sort(samples.begin(), samples.end());
  return samples[static_cast<std::size_t>(q * static_cast<double>(samples.size() - 1))];
}

}  // namespace

std::string to_prometheus(const JobMetrics& m, const WorkerMetrics* worker) {
  std::string out;
  header(out, "pgstack_jobs", "gauge", "Jobs per queue and state now.");
  for (const auto& q : m.queues) {
    auto l = label(q.queue);
    const std::pair<const char*, std::int64_t> states[] = {
        {"scheduled", q.scheduled}, {"retryable", q.retryable}, {"available", q.available}, {"running", q.running}};
    for (const auto& [state, n] : states) out += fmt::format("pgstack_jobs{{queue=\"{}\",state=\"{}\"}} {}\n", l, state, n);
  }
  const std::tuple<const char*, const char*, std::int64_t QueueStats::*> totals[] = {
      {"pgstack_jobs_completed_total", "Jobs completed (rate() is the throughput).", &QueueStats::completed},
      {"pgstack_jobs_failed_total", "Attempts that failed and were retried.", &QueueStats::failed},
      {"pgstack_jobs_discarded_total", "Jobs discarded after their last attempt, kept in history by retention.",
       &QueueStats::discarded},
      {"pgstack_jobs_cancelled_total", "Jobs cancelled, kept in history by retention.", &QueueStats::cancelled},
      {"pgstack_jobs_rescued_total", "Jobs offered again after their worker stopped heartbeating.", &QueueStats::rescued},
  };
  for (const auto& [name, help, field] : totals) {
    header(out, name, "counter", help);
    for (const auto& q : m.queues) out += fmt::format("{}{{queue=\"{}\"}} {}\n", name, label(q.queue), q.*field);
  }
  header(out, "pgstack_jobs_paused", "gauge", "1 when the queue is paused.");
  for (const auto& q : m.queues) out += fmt::format("pgstack_jobs_paused{{queue=\"{}\"}} {}\n", label(q.queue), q.paused ? 1 : 0);
  header(out, "pgstack_jobs_oldest_available_age_seconds", "gauge",
         "Age of the oldest job waiting to run (0 when none waits): how far behind the workers are.");
  for (std::size_t i = 0; i < m.queues.size(); ++i) {
    double age = i < m.oldest_available_age_seconds.size() ? m.oldest_available_age_seconds[i].value_or(0.0) : 0.0;
    out += fmt::format("pgstack_jobs_oldest_available_age_seconds{{queue=\"{}\"}} {}\n", label(m.queues[i].queue), age);
  }
  if (!worker) return out;

  header(out, "pgstack_job_enqueue_to_start_seconds", "summary",
         "Time from a job becoming available to its handler starting, over this worker's last 4096 jobs.");
  for (const auto& [queue, w] : worker->queues) {
    if (w.latency_ms.empty()) continue;
    for (double q : {0.5, 0.9, 0.99})
      out += fmt::format("pgstack_job_enqueue_to_start_seconds{{queue=\"{}\",quantile=\"{}\"}} {}\n", label(queue), q,
                         quantile(w.latency_ms, q) / 1000.0);
  }
  header(out, "pgstack_job_run_seconds", "summary", "Handler run time, over this worker's last 4096 jobs.");
  for (const auto& [queue, w] : worker->queues) {
    if (w.run_ms.empty()) continue;
    for (double q : {0.5, 0.9, 0.99})
      out += fmt::format("pgstack_job_run_seconds{{queue=\"{}\",quantile=\"{}\"}} {}\n", label(queue), q,
                         quantile(w.run_ms, q) / 1000.0);
  }
  header(out, "pgstack_worker_jobs_total", "counter", "Jobs this worker process finished, by outcome.");
  for (const auto& [queue, w] : worker->queues) {
    const std::pair<const char*, std::uint64_t> outcomes[] = {{"completed", w.completed}, {"failed", w.failed},
                                                              {"discarded", w.discarded}, {"cancelled", w.cancelled},
                                                              {"snoozed", w.snoozed}};
    for (const auto& [outcome, n] : outcomes)
      out += fmt::format("pgstack_worker_jobs_total{{queue=\"{}\",outcome=\"{}\"}} {}\n", label(queue), outcome, n);
  }
  header(out, "pgstack_worker_batches_lost_total", "counter", "Leases this worker lost before completing their batch.");
  for (const auto& [queue, w] : worker->queues)
    out += fmt::format("pgstack_worker_batches_lost_total{{queue=\"{}\"}} {}\n", label(queue), w.batches_lost);
  return out;
}

}  // namespace pgstack::jobs
