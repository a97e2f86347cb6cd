// The Worker runtime: runs handlers for the jobs of one or more queues.
//
//   pgstack::jobs::Worker worker({.pool = &pool, .queues = {{"default", 8}}});   // or {.dsn = dsn}
//   worker.handle("send_email", [](pgstack::jobs::JobContext& job) {
//     send(job.args().at("to").get<std::string>());   // throw to fail the attempt: it is retried
//   });
//   worker.every("nightly_report", "0 0 3 * * *", "build_report");  // once per tick, cluster-wide
//   worker.start();
//   ...
//   worker.stop(std::chrono::seconds(30));  // finish in-flight jobs, hand the rest back
//
// How it works (docs/jobs.md has more): per queue, a fetch thread claims chunks of jobs
// (pgstack.job_claim, one lease row per chunk) and executor threads run them; a chunk
// is completed with one statement once all its jobs are done. A LISTEN connection
// wakes the fetchers when jobs arrive, with polling as the fallback. Enqueues notify
// only while a worker waits (an idle fetcher watches its queue, pgstack.job_queue_watch),
// so under load they commit without NOTIFY's commit lock. After a server restart, a
// claim whose reply was lost is sent again with its token and resumed, and a completion
// whose reply was lost is recognised as committed (pgstack.job_batch_status). A housekeeping
// thread renews leases (and learns of cancellations), records progress on long chunks,
// runs pgstack.jobs_maintain and, when it holds the leader lease, the periodic jobs.
// If this process dies, its leases run out and the jobs it had not finished are
// offered again; the ones it had recorded as finished are not.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "pgstack/jobs/job.h"
#include "pgstack/pg/pool.h"

namespace pgstack::jobs {

// What a handler sees: its job, a cancel token, and ways to end the job other than
// success (returning normally) or failure (throwing, which retries with backoff).
class JobContext {
 public:
  JobContext(const Job& job, std::stop_token cancel) : job_(job), cancel_(std::move(cancel)) {}
  const Job& job() const noexcept { return job_; }
  const nlohmann::json& args() const noexcept { return job_.args; }
  // Fires when the job is cancelled (pgstack jobs cancel), its timeout passes, or the
  // worker is stopping past its deadline. Long handlers should check it.
  const std::stop_token& cancel_token() const noexcept { return cancel_; }
  bool cancelled() const noexcept { return cancel_.stop_requested(); }

  // Run again after delay without counting an attempt.
  void snooze(std::chrono::milliseconds delay) { outcome_ = {Outcome::snooze, "", delay}; }
  // End now, no more attempts; kept in history as discarded with the reason.
  void discard(std::string reason) { outcome_ = {Outcome::discard, std::move(reason), {}}; }
  // End now as cancelled.
  void cancel(std::string reason = "cancelled by its handler") { outcome_ = {Outcome::cancel, std::move(reason), {}}; }

  enum class Outcome { succeed, snooze, discard, cancel };
  struct Decision {
    Outcome outcome = Outcome::succeed;
    std::string reason;
    std::chrono::milliseconds delay{0};
  };
  const Decision& decision() const noexcept { return outcome_; }

 private:
  const Job& job_;
  std::stop_token cancel_;
  Decision outcome_;
};

using Handler = std::function<void(JobContext&)>;

struct HandlerOptions {
  std::optional<std::string> queue;      // the kind's default queue (registered)
  std::optional<int> max_attempts;       // registered for the kind
  std::optional<int> priority;           // registered for the kind
  // The attempt fails (and is retried) after this; its cancel token fires. 0: none.
  std::chrono::milliseconds timeout{0};
  // Delay before attempt n+1 after attempt n failed; default n^4 s ±10% (SQL side).
  std::function<std::chrono::milliseconds(int attempt)> backoff;
};

struct QueueOptions {
  std::string name = "default";
  int concurrency = 10;  // handlers running at once in this process
};

struct WorkerOptions {
  // Where registration, completions, heartbeats, maintenance and the periodic jobs go:
  // the application's pool (a connection borrowed per statement; it must outlive the
  // worker), or, without one, a pool of the worker's own (4 connections) to dsn.
  pg::Pool* pool = nullptr;
  // Where the sessions go that hold session state, which a transaction pooler does not
  // keep: the LISTEN connection, and per queue the fetch connection, whose watch of an
  // idle queue is a session advisory lock (pgstack.job_queue_watch). The primary,
  // directly. Empty: the pool's primary DSN.
  std::string dsn;
  std::vector<QueueOptions> queues = {QueueOptions{}};
  std::string name;                  // default: host:pid:random
  int batch_size = 100;              // jobs per claim (one lease row each)
  std::chrono::milliseconds poll_interval{1000};   // when no notification arrives
  std::chrono::milliseconds lease{30000};           // a chunk is offered again this long after the last heartbeat
  std::chrono::milliseconds heartbeat_interval{5000};
  std::chrono::milliseconds maintenance_interval{1000};
  bool run_maintenance = true;       // pgstack.jobs_maintain (one process at a time runs it)
  // Log lines (connection trouble, lost leases); default: stderr.
  std::function<void(const std::string&)> log;
};

// Counters and timings of this process since start (the queue-wide figures are in
// pgstack.job_queue_stats()).
struct WorkerMetrics {
  struct PerQueue {
    std::uint64_t claimed = 0, completed = 0, failed = 0, discarded = 0, cancelled = 0, snoozed = 0;
    std::uint64_t batches_lost = 0;             // leases that ran out before completion
    std::vector<double> latency_ms;             // available → start, the last 4096 jobs
    std::vector<double> run_ms;                 // handler run time, the last 4096 jobs
  };
  std::map<std::string, PerQueue> queues;
  std::uint64_t reconnects = 0;
};

class Worker {
 public:
  explicit Worker(WorkerOptions options);
  ~Worker();  // stop(0) if still running
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Register before start(). The kind is registered in the database at start (with
  // its queue, if given, created).
  void handle(std::string kind, Handler handler, HandlerOptions options = {});
  // A periodic job: enqueues `kind` with `args` at every tick of `cron` (see cron.h),
  // once per tick across every process that declares the same name.
  void every(std::string name, std::string cron, std::string kind, nlohmann::json args = nlohmann::json::object(),
             std::optional<std::string> queue = std::nullopt);

  // Connects, registers queues and kinds, and starts the threads. Throws on a bad
  // option, an invalid cron expression or when the database cannot be reached.
  void start();
  // Stops fetching, lets running handlers finish until the deadline (then fires their
  // cancel tokens), records what finished and hands every other claimed job back.
  void stop(std::chrono::milliseconds deadline = std::chrono::seconds(30));

  const std::string& name() const noexcept;
  WorkerMetrics metrics() const;

 private:
  struct State;
  std::shared_ptr<State> state_;  // shared with its threads (see worker.cc)
};

}  // namespace pgstack::jobs
