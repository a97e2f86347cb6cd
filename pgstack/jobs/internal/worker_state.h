// What the Worker's threads share (internal to pgstack/jobs; the public API is worker.h).
// Each thread's loop lives in a file of its own:
//   worker_fetch.cc         fetch (one per queue): claims chunks when the queue has room, queues their jobs; on
//                           its own connection, which also holds the queue's watch while idle
//   worker_execute.cc       execute (per queue): runs handlers, records each job's JobOutcome in its chunk
//   worker_complete.cc      complete: finishes chunks whose jobs are all done, several per commit; and the
//                           hand-back at stop
//   worker_housekeeping.cc  housekeeping: heartbeats, progress checkpoints, timeouts, maintenance, periodic
//                           jobs; and listen: LISTEN pgstack_jobs, wakes the fetch thread of the queue named
// worker.cc holds the public Worker (start, stop) and builds the threads. State is held
// by shared_ptr, so a handler that never returns cannot outlive what it touches.
//
//   auto state = std::make_shared<Worker::State>();
//   state->options = options;
//   std::thread([state, q] { state->fetch_loop(*q); });
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "pgstack/base/cron.h"
#include "pgstack/jobs/worker.h"
#include "pgstack/pg/connection.h"
#include "pgstack/pg/pool.h"
#include "pgstack/pg/result.h"

namespace pgstack::jobs::internal {

using Clock = std::chrono::steady_clock;

inline double seconds_of(std::chrono::milliseconds d) { return static_cast<double>(d.count()) / 1000.0; }

// What became of one job that did not simply succeed, as the worker decided it. It
// turns into JSON only where the SQL API takes it (outcomes_json, worker_complete.cc).
struct Failed {       // retried, after delay_seconds when the handler has a backoff
  std::string error;
  std::optional<double> delay_seconds;
};
struct Snoozed {      // run again after the delay, at the same attempt
  double delay_seconds = 0;
};
struct Cancelled {
  std::string reason;
};
struct Discarded {    // never retried
  std::string reason;
};
using Outcome = std::variant<Failed, Snoozed, Cancelled, Discarded>;
struct JobOutcome {
  std::int64_t id = 0;
  Outcome outcome;
};

// The outcomes in the shape pgstack.job_batch_complete, job_batch_checkpoint and job_batch_release take:
// [{"id": 7, "outcome": "retry", "error": "...", "delay_seconds": 2}, ...].
nlohmann::json outcomes_json(const std::vector<JobOutcome>& outcomes);

// One claimed chunk: its jobs and what became of each, until recorded in the database.
struct Batch {
  std::int64_t id = 0;
  std::string queue;
  // The claim's rows, decoded by the executor that runs each job: one fetch thread per
  // queue would otherwise decode every job alone and become the bottleneck.
  pg::Result rows;
  std::vector<std::int64_t> ids;
  std::vector<char> cancelled_at_claim;
  std::vector<std::chrono::milliseconds> timeouts;  // the job's handler timeout, set when it starts
  std::vector<std::stop_source> tokens;        // one per job
  std::vector<Clock::time_point> started;      // zero until the handler starts
  std::vector<char> finished;
  std::vector<char> cancel_requested, timed_out;
  std::mutex mutex;                            // guards everything below and the vectors above
  // Held while this batch's results go to the database (a checkpoint or the completion),
  // so one cannot send what the other has taken and not yet recorded.
  std::mutex db_mutex;
  std::vector<std::int64_t> unflushed_succeeded;  // finished since the last checkpoint
  std::vector<JobOutcome> unflushed_outcomes;     // the others, likewise
  std::size_t remaining = 0;
  bool lost = false;       // the lease ran out: results are not ours to record
  bool released = false;   // handed back at stop
  // Every job is done and the completion is queued or sent: a heartbeat that finds the
  // row gone is seeing the completion, not a lost lease.
  bool completing = false;
  Clock::time_point claimed_at = Clock::now();
};

struct QueueRuntime {
  QueueOptions options;
  std::thread fetcher;
  std::mutex mutex;
  std::condition_variable ready_cv;   // executors wait for jobs
  std::condition_variable fetch_cv;   // the fetcher waits for room or a wake-up
  std::deque<std::pair<std::shared_ptr<Batch>, std::size_t>> ready;
  std::size_t outstanding = 0;        // claimed jobs not yet finished
  bool woken = false;
  std::vector<std::thread> threads;
  // Used by the fetch thread alone: its session (claims, and the watch while idle), the
  // token of a claim whose reply was lost (sent again so its batch is not stranded), and
  // whether this session holds the queue's watch.
  std::optional<pg::Connection> conn;
  std::string retry_token;
  bool watching = false;
};

struct Periodic {
  std::string name;
  CronSchedule schedule;
  std::string kind;
  nlohmann::json args;
  std::optional<std::string> queue;
  std::chrono::system_clock::time_point next;
};

}  // namespace pgstack::jobs::internal

namespace pgstack::jobs {

struct Worker::State : std::enable_shared_from_this<Worker::State> {
  using Batch = internal::Batch;
  using QueueRuntime = internal::QueueRuntime;
  using Clock = internal::Clock;

  WorkerOptions options;
  struct Registered {
    Handler handler;
    HandlerOptions options;
  };
  std::unordered_map<std::string, Registered> handlers;
  std::vector<internal::Periodic> periodic;
  std::unique_ptr<pg::Pool> own_pool;  // without WorkerOptions::pool
  pg::Pool* pool = nullptr;            // the caller's or own_pool
  std::map<std::string, std::unique_ptr<QueueRuntime>> queues;

  std::atomic<bool> stopping{false};
  std::atomic<int> running_handlers{0};  // started and not yet finished, across queues
  std::atomic<bool> stop_executors{false};
  std::atomic<bool> started{false};

  std::mutex held_mutex;
  std::map<std::int64_t, std::shared_ptr<Batch>> held;  // claimed, not yet finished with

  std::mutex complete_mutex;
  std::condition_variable complete_cv;
  std::deque<std::shared_ptr<Batch>> to_complete;
  bool completer_done = false;

  std::mutex house_mutex;
  std::condition_variable house_cv;

  mutable std::mutex metrics_mutex;
  WorkerMetrics metrics;

  std::vector<std::thread> service_threads;  // complete, housekeeping, listen

  // ---- shared (worker.cc) ----
  void log(const std::string& line);
  void wake(QueueRuntime& q);
  void wake_all();
  std::vector<std::shared_ptr<Batch>> held_batches();
  void forget(const std::shared_ptr<Batch>& b);
  // Waits on cv for up to d unless stopping; returns early when pred holds.
  template <class Pred>
  void sleep_for(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, std::chrono::milliseconds d,
                 Pred pred) {
    cv.wait_for(lock, d, [&] { return stopping.load() || pred(); });
  }

  // ---- fetch (worker_fetch.cc) ----
  void fetch_loop(QueueRuntime& q);
  pg::Connection& fetch_connection(QueueRuntime& q);
  std::chrono::milliseconds wait_before_next_claim(QueueRuntime& q, std::size_t room, std::chrono::milliseconds& recheck);
  void unwatch(QueueRuntime& q);
  std::size_t claim(QueueRuntime& q, std::size_t want);
  std::shared_ptr<Batch> batch_of_claim(QueueRuntime& q, pg::Result rows);
  void queue_jobs(QueueRuntime& q, const std::shared_ptr<Batch>& batch);

  // ---- execute (worker_execute.cc) ----
  void execute_loop(QueueRuntime& q);
  void run_one(QueueRuntime& q, const std::shared_ptr<Batch>& batch, std::size_t i);
  // nullopt: the job succeeded.
  std::optional<internal::Outcome> run_handler(const Job& job, Batch& batch, std::size_t i, const Registered& handler);
  internal::Failed no_handler_for(const Job& job) const;
  void count_outcome(const std::string& queue, const std::optional<internal::Outcome>& outcome, double latency_ms,
                     double run_ms);
  void record_outcome(QueueRuntime& q, const std::shared_ptr<Batch>& batch, std::size_t i, std::int64_t job_id,
                      std::optional<internal::Outcome> outcome);

  // ---- complete (worker_complete.cc) ----
  void complete_loop();
  void complete(std::vector<std::shared_ptr<Batch>>& work);
  std::string batch_status(const Batch& b);
  void release_all();

  // ---- housekeeping and listen (worker_housekeeping.cc) ----
  void housekeeping_loop();
  void check_timeouts();
  void heartbeat();
  void checkpoint();
  void maintain();
  void run_periodic();
  void listen_loop();
};

}  // namespace pgstack::jobs
