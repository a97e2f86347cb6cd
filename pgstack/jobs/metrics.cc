#include "pgstack/jobs/metrics.h"

#include <algorithm>

#include <fmt/format.h>

#include "pgstack/base/exposition.h"
#include "pgstack/capability/capability.h"

namespace pgstack::jobs {

capability::Capability capability();  // capability.cc: what pgstack_capability() registers

namespace {

double quantile(std::vector<double> samples, double q) {
  std::sort(samples.begin(), samples.end());
  return samples[static_cast<std::size_t>(q * static_cast<double>(samples.size() - 1))];
}

}  // namespace

JobMetrics collect_job_metrics(pg::Connection& conn) {
  JobMetrics m;
  capability::collect_metrics(conn, jobs::capability(), {}, m.queues);
  return m;
}

namespace {

using Samples = std::vector<double>;

void add_quantiles(Exposition& out, std::string_view family, const std::string& queue, const Samples& ms) {
  if (ms.empty()) return;
  for (double q : {0.5, 0.9, 0.99})
    out.sample(family, {{"queue", queue}, {"quantile", fmt::format("{}", q)}}, quantile(ms, q) / 1000.0);
}

// The figures only a Worker process knows: its latencies, run times and outcomes.
void add_worker_families(Exposition& out, const WorkerMetrics& worker) {
  out.family("pgstack_job_enqueue_to_start_seconds", "summary",
             "Time from a job becoming available to its handler starting, over this worker's last 4096 jobs.");
  out.family("pgstack_job_run_seconds", "summary", "Handler run time, over this worker's last 4096 jobs.");
  out.family("pgstack_worker_jobs_total", "counter", "Jobs this worker process finished, by outcome.");
  out.family("pgstack_worker_batches_lost_total", "counter", "Leases this worker lost before completing their batch.");
  for (const auto& [queue, w] : worker.queues) {
    add_quantiles(out, "pgstack_job_enqueue_to_start_seconds", queue, w.latency_ms);
    add_quantiles(out, "pgstack_job_run_seconds", queue, w.run_ms);
    const std::pair<const char*, std::uint64_t> outcomes[] = {{"completed", w.completed}, {"failed", w.failed},
                                                              {"discarded", w.discarded}, {"cancelled", w.cancelled},
                                                              {"snoozed", w.snoozed}};
    for (const auto& [outcome, n] : outcomes)
      out.sample("pgstack_worker_jobs_total", {{"queue", queue}, {"outcome", outcome}}, static_cast<double>(n));
    out.sample("pgstack_worker_batches_lost_total", {{"queue", queue}}, static_cast<double>(w.batches_lost));
  }
}

}  // namespace

std::string to_prometheus(const JobMetrics& m, const WorkerMetrics* worker) {
  Exposition out = m.queues;
  if (worker) add_worker_families(out, *worker);
  return out.text();
}

}  // namespace pgstack::jobs
