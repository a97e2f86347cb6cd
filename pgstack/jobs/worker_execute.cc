// The Worker's executors: each takes a queued job, runs its handler and records its
// outcome in the job's batch (internal/worker_state.h has the whole picture).
#include <algorithm>

#include <fmt/format.h>

#include "pgstack/jobs/internal/worker_state.h"

namespace pgstack::jobs {

using internal::Cancelled;
using internal::Discarded;
using internal::Failed;
using internal::Outcome;
using internal::Snoozed;

namespace {

constexpr std::size_t kTimingSamples = 4096;

// A snooze or retry delay as the SQL API takes it: 0 to a year (a handler's or backoff
// function's out-of-range value would otherwise make the completion fail).
double bounded_delay(std::chrono::milliseconds d) {
  return std::clamp(internal::seconds_of(d), 0.0, 365.0 * 86400.0);
}

void push_sample(std::vector<double>& samples, double value) {
  if (samples.size() >= kTimingSamples) samples.erase(samples.begin(), samples.begin() + kTimingSamples / 4);
  samples.push_back(value);
}

// Row i of a claim (the columns of kClaimSql, worker_fetch.cc) as a Job.
Job decode_job(const pg::Result& rows, std::size_t i, const std::string& queue) {
  auto row = rows[static_cast<int>(i)];
  Job j;
  j.id = row.get<std::int64_t>(1);
  j.attempt = row.get<std::int32_t>(3);
  j.kind = row.get<std::string>(4);
  j.args = row.get<nlohmann::json>(5);
  j.queue = queue;
  j.priority = row.get<std::int16_t>(6);
  j.max_attempts = row.get<std::int32_t>(7);
  j.enqueued_at = row.get<Timestamp>(8);
  j.available_at = row.get<Timestamp>(9);
  j.unique_key = row.get<std::optional<std::string>>(10);
  if (!row.is_null(11)) j.tags = row.get<std::vector<std::string>>(11);
  if (!row.is_null(12)) j.errors = row.get<nlohmann::json>(12);
  return j;
}

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace

void Worker::State::execute_loop(QueueRuntime& q) {
  while (true) {
    std::shared_ptr<Batch> batch;
    std::size_t index = 0;
    {
      std::unique_lock lock(q.mutex);
      q.ready_cv.wait(lock, [&] { return stop_executors.load() || !q.ready.empty(); });
      if (stop_executors) return;
      std::tie(batch, index) = q.ready.front();
      q.ready.pop_front();
    }
    run_one(q, batch, index);
  }
}

void Worker::State::run_one(QueueRuntime& q, const std::shared_ptr<Batch>& batch, std::size_t i) {
  const Job job = decode_job(batch->rows, i, batch->queue);
  auto it = handlers.find(job.kind);
  const Registered* handler = it == handlers.end() ? nullptr : &it->second;
  bool cancelled_at_claim;
  {
    // Checked and marked in one step: stop() either sees this job running and waits
    // for it, or this sees stop() and leaves the job unstarted, to be handed back.
    std::lock_guard lock(batch->mutex);
    if (stopping || batch->released) {
      std::lock_guard qlock(q.mutex);
      --q.outstanding;
      return;
    }
    cancelled_at_claim = batch->cancelled_at_claim[i] || batch->lost;
    batch->started[i] = Clock::now();
    if (handler) batch->timeouts[i] = handler->options.timeout;
    ++running_handlers;
  }
  auto wall_start = std::chrono::system_clock::now();
  std::optional<Outcome> outcome;  // nullopt: succeeded
  if (cancelled_at_claim)
    outcome = Cancelled{"cancelled before it started"};
  else if (!handler)
    outcome = no_handler_for(job);
  else
    outcome = run_handler(job, *batch, i, *handler);
  auto run_ms = std::chrono::duration<double, std::milli>(std::chrono::system_clock::now() - wall_start).count();
  auto latency_ms = std::chrono::duration<double, std::milli>(wall_start - job.available_at).count();
  count_outcome(q.options.name, outcome, latency_ms, run_ms);
  record_outcome(q, batch, i, job.id, std::move(outcome));
}

internal::Failed Worker::State::no_handler_for(const Job& job) const {
  std::string kinds;
  for (const auto& [k, h] : handlers) kinds += (kinds.empty() ? "" : ", ") + k;
  return Failed{fmt::format("no handler for kind '{}' in worker {} (it handles: {})", job.kind, options.name, kinds), {}};
}

std::optional<Outcome> Worker::State::run_handler(const Job& job, Batch& batch, std::size_t i,
                                                  const Registered& handler) {
  JobContext ctx(job, batch.tokens[i].get_token());
  std::string error;
  bool threw = false;
  try {
    handler.handler(ctx);
  } catch (const std::exception& e) {
    threw = true;
    error = e.what();
  } catch (...) {
    threw = true;
    error = "handler threw a non-standard exception";
  }
  bool cancel_requested, timed_out;
  {
    std::lock_guard lock(batch.mutex);
    cancel_requested = batch.cancel_requested[i];
    timed_out = batch.timed_out[i];
  }
  const auto& d = ctx.decision();
  if (d.outcome == JobContext::Outcome::cancel || (threw && cancel_requested))
    return Cancelled{threw ? "cancelled while running: " + error : d.reason};
  if (d.outcome == JobContext::Outcome::discard) return Discarded{d.reason};
  if (d.outcome == JobContext::Outcome::snooze) return Snoozed{bounded_delay(d.delay)};
  if (!threw) return std::nullopt;
  if (timed_out) error = fmt::format("timed out after {} ms: {}", handler.options.timeout.count(), error);
  Failed failed{std::move(error), {}};
  if (handler.options.backoff) failed.delay_seconds = bounded_delay(handler.options.backoff(job.attempt));
  return failed;
}

void Worker::State::count_outcome(const std::string& queue, const std::optional<Outcome>& outcome,
                                  double latency_ms, double run_ms) {
  std::lock_guard lock(metrics_mutex);
  auto& m = metrics.queues[queue];
  push_sample(m.latency_ms, latency_ms);
  push_sample(m.run_ms, run_ms);
  if (!outcome) {
    ++m.completed;
    return;
  }
  std::visit(Overloaded{[&](const Failed&) { ++m.failed; }, [&](const Discarded&) { ++m.discarded; },
                        [&](const Cancelled&) { ++m.cancelled; }, [&](const Snoozed&) { ++m.snoozed; }},
             *outcome);
}

// Keeps the outcome for the next checkpoint or the completion, and queues the batch for
// completion when this was its last job.
void Worker::State::record_outcome(QueueRuntime& q, const std::shared_ptr<Batch>& batch, std::size_t i,
                                   std::int64_t job_id, std::optional<Outcome> outcome) {
  bool batch_done = false;
  {
    std::lock_guard lock(batch->mutex);
    --running_handlers;
    batch->finished[i] = 1;
    if (!outcome)
      batch->unflushed_succeeded.push_back(job_id);
    else
      batch->unflushed_outcomes.push_back({job_id, std::move(*outcome)});
    batch_done = --batch->remaining == 0 && !batch->lost && !batch->released;
    batch->completing = batch_done;
  }
  {
    std::lock_guard lock(q.mutex);
    --q.outstanding;
  }
  q.fetch_cv.notify_one();
  if (batch_done) {
    {
      std::lock_guard lock(complete_mutex);
      to_complete.push_back(batch);
    }
    complete_cv.notify_one();
  }
}

}  // namespace pgstack::jobs
