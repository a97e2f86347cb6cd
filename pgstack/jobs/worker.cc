// The Worker runtime. Threads, all sharing State (held by shared_ptr so a handler that
// never returns cannot outlive what it touches):
//   fetch (one per queue)  claims chunks when the queue has room, queues their jobs; on its
//                          own connection, which also holds the queue's watch while idle
//   execute (per queue)    runs handlers, records each job's outcome in its chunk
//   complete               finishes chunks whose jobs are all done, several per commit
//   housekeeping           heartbeats, progress checkpoints, timeouts, maintenance, periodic jobs
//   listen                 LISTEN pgstack_jobs, wakes the fetch thread of the queue named
#include "pgstack/jobs/worker.h"

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

#include "pgstack/base/cron.h"
#include "pgstack/jobs/job_queue.h"
#include "pgstack/pg/errors.h"
#include "pgstack/pg/listener.h"
#include "pgstack/pg/pool.h"
#include "pgstack/pg/transaction.h"

namespace pgstack::jobs {

using pg::UsageError;

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kChannel = "pgstack_jobs";
constexpr std::size_t kTimingSamples = 4096;
// While enqueues that did not notify are in flight (pgstack.watch_job_queue said
// 'enqueuing'), the fetcher claims again after these waits, doubling: those commits
// are usually a few ms away, and a long transaction costs a claim every 100 ms at most.
constexpr auto kFirstRecheck = std::chrono::milliseconds(2);
constexpr auto kMaxRecheck = std::chrono::milliseconds(100);

std::string default_worker_name() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::random_device rd;
  return fmt::format("{}:{}:{:04x}", host, getpid(), rd() & 0xffff);
}

// A fresh claim token: a random (version 4) UUID, so a retried claim finds its batch.
std::string random_uuid() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  auto hi = gen(), lo = gen();
  hi = (hi & ~0xf000ULL) | 0x4000ULL;                 // version 4
  lo = (lo & ~(0xc0ULL << 56)) | (0x80ULL << 56);     // variant 1
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff, lo >> 48,
                     lo & 0xffffffffffffULL);
}

double seconds_of(std::chrono::milliseconds d) { return static_cast<double>(d.count()) / 1000.0; }

// A snooze or retry delay as the SQL API takes it: 0 to a year (a handler's or backoff
// function's out-of-range value would otherwise make the completion fail).
double bounded_delay(std::chrono::milliseconds d) { return std::clamp(seconds_of(d), 0.0, 365.0 * 86400.0); }

void push_sample(std::vector<double>& samples, double value) {
  if (samples.size() >= kTimingSamples) samples.erase(samples.begin(), samples.begin() + kTimingSamples / 4);
  samples.push_back(value);
}

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
  nlohmann::json unflushed_outcomes = nlohmann::json::array();
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

}  // namespace

struct Worker::State : std::enable_shared_from_this<Worker::State> {
  WorkerOptions options;
  struct Registered {
    Handler handler;
    HandlerOptions options;
  };
  std::unordered_map<std::string, Registered> handlers;
  std::vector<Periodic> periodic;
  std::unique_ptr<pg::Pool> pool;
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

  void log(const std::string& line) {
    if (options.log)
      options.log(line);
    else
      std::cerr << fmt::format("pgstack worker {}: {}\n", options.name, line);
  }

  // Waits on cv for up to d unless stopping; returns early when pred holds.
  template <class Pred>
  void sleep_for(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, std::chrono::milliseconds d,
                 Pred pred) {
    cv.wait_for(lock, d, [&] { return stopping.load() || pred(); });
  }

  void wake(QueueRuntime& q) {
    {
      std::lock_guard lock(q.mutex);
      q.woken = true;
    }
    q.fetch_cv.notify_one();
  }
  void wake_all() {
    for (auto& [name, q] : queues) wake(*q);
  }

  // ---- fetch ---------------------------------------------------------------------
  void fetch_loop(QueueRuntime& q) {
    auto backoff = 100ms;
    auto recheck = kFirstRecheck;
    // Up to one chunk beyond what the executors can run is claimed ahead, so they do
    // not wait for the next claim; a claim is made once there is room for half a chunk.
    const auto batch = static_cast<std::size_t>(options.batch_size);
    const auto capacity = static_cast<std::size_t>(q.options.concurrency) + batch;
    const auto min_claim = std::max<std::size_t>(1, batch / 2);
    while (!stopping) {
      std::size_t want = 0;
      {
        std::unique_lock lock(q.mutex);
        q.fetch_cv.wait(lock, [&] { return stopping.load() || capacity - q.outstanding >= min_claim; });
        if (stopping) break;
        want = std::min(batch, capacity - q.outstanding);
        q.woken = false;
      }
      std::chrono::milliseconds wait{0};
      try {
        auto got = claim(q, want);
        backoff = 100ms;
        if (got > 0) recheck = kFirstRecheck;
        if (got == want) continue;  // more may be waiting: claim again at once
        wait = wait_before_next_claim(q, want - got, recheck);
        if (wait.count() == 0) continue;
      } catch (const std::exception& e) {
        if (dynamic_cast<const pg::ConnectionError*>(&e)) q.conn.reset();  // connect afresh next time
        log(fmt::format("claiming jobs of queue '{}' failed (retrying in {} ms): {}", q.options.name, backoff.count(),
                        e.what()));
        wait = backoff;
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, 5s);
      }
      // Wait for a notification, room, or the time chosen.
      std::unique_lock lock(q.mutex);
      sleep_for(lock, q.fetch_cv, wait, [&] { return q.woken; });
    }
    q.conn.reset();  // ends the watch with the session
  }

  pg::Connection& fetch_connection(QueueRuntime& q) {
    if (!q.conn) {
      q.conn.emplace(pg::ConnectOptions{.dsn = options.dsn, .application_name = "pgstack worker fetch"});
      q.watching = false;
    }
    return *q.conn;
  }

  // The queue looked drained (a claim came back short). Enqueues notify only while a
  // worker watches the queue (pgstack.watch_job_queue), so before a long wait this
  // fetcher makes sure one does. Returns how long to wait: 0 to claim again at once.
  std::chrono::milliseconds wait_before_next_claim(QueueRuntime& q, std::size_t room,
                                                   std::chrono::milliseconds& recheck) {
    if (q.watching) return options.poll_interval;
    auto status = fetch_connection(q).query_value<std::string>("select pgstack.watch_job_queue($1)", q.options.name);
    if (status == "enqueuing") {
      // Enqueues that did not notify are in flight: their commits come soon.
      auto wait = std::min(recheck, options.poll_interval);
      recheck = std::min<std::chrono::milliseconds>(recheck * 2, kMaxRecheck);
      return wait;
    }
    if (status == "watched") {
      // Another worker watches and will be notified, as will we. It stops watching when
      // it turns busy, so look again soon enough to take over.
      return std::min<std::chrono::milliseconds>(kMaxRecheck, options.poll_interval);
    }
    q.watching = true;
    // What committed before the watch began was not announced: claim it now.
    if (claim(q, room) > 0) return 0ms;
    return options.poll_interval;  // a notification will come
  }

  void unwatch(QueueRuntime& q) {
    fetch_connection(q).query("select pgstack.unwatch_job_queue($1)", q.options.name);
    q.watching = false;
  }

  // Columns of the claim, in the order decode_job() reads them.
  static constexpr const char* kClaimSql =
      "select batch_id, id, cancelled, attempt, kind, args, priority, max_attempts, enqueued_at, available_at, "
      "unique_key, nullif(tags, '{}'), nullif(errors, '[]') from pgstack.claim_jobs($1, $2, $3, $4, $5)";

  static Job decode_job(const pg::Result& rows, std::size_t i, const std::string& queue) {
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

  // Claims up to want jobs on the fetch connection. A claim whose reply was lost (the
  // connection failed) is sent again with the same token: if it had committed, the
  // server returns the batch it made instead of leaving it to its lease.
  std::size_t claim(QueueRuntime& q, std::size_t want) {
    if (q.retry_token.empty()) q.retry_token = random_uuid();
    pg::Result rows;
    try {
      rows = fetch_connection(q).query(kClaimSql, q.options.name, options.name, static_cast<std::int32_t>(want),
                                       seconds_of(options.lease), q.retry_token);
    } catch (const pg::ConnectionError&) {
      q.conn.reset();
      throw;
    } catch (...) {
      q.retry_token.clear();  // refused: nothing was claimed
      throw;
    }
    q.retry_token.clear();
    if (rows.empty()) return 0;
    auto batch = std::make_shared<Batch>();
    batch->queue = q.options.name;
    batch->id = rows[0].get<std::int64_t>(0);
    for (auto row : rows) {
      batch->ids.push_back(row.get<std::int64_t>(1));
      batch->cancelled_at_claim.push_back(row.get<bool>(2));
    }
    batch->rows = std::move(rows);
    const auto n = batch->ids.size();
    batch->timeouts.resize(n);
    batch->tokens.resize(n);
    batch->started.resize(n);
    batch->finished.assign(n, 0);
    batch->cancel_requested.assign(n, 0);
    batch->timed_out.assign(n, 0);
    batch->remaining = n;
    {
      std::lock_guard lock(held_mutex);
      held[batch->id] = batch;
    }
    {
      std::lock_guard lock(metrics_mutex);
      metrics.queues[q.options.name].claimed += n;
    }
    {
      std::lock_guard lock(q.mutex);
      q.outstanding += n;
      for (std::size_t i = 0; i < n; ++i) q.ready.emplace_back(batch, i);
    }
    q.ready_cv.notify_all();
    if (q.watching) {
      // Busy now: enqueuers need not notify. If this fails, the session is dropped,
      // which ends the watch as well.
      try {
        unwatch(q);
      } catch (const std::exception&) {
        q.conn.reset();
        q.watching = false;
      }
    }
    return n;
  }

  // ---- execute -------------------------------------------------------------------
  void execute_loop(QueueRuntime& q) {
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

  void run_one(QueueRuntime& q, const std::shared_ptr<Batch>& batch, std::size_t i) {
    const Job job = decode_job(batch->rows, i, batch->queue);
    nlohmann::json outcome;  // null: succeeded
    bool cancelled_at_claim;
    auto it = handlers.find(job.kind);
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
      if (it != handlers.end()) batch->timeouts[i] = it->second.options.timeout;
      ++running_handlers;
    }
    auto wall_start = std::chrono::system_clock::now();
    if (cancelled_at_claim) {
      outcome = {{"id", job.id}, {"outcome", "cancel"}, {"error", "cancelled before it started"}};
    } else if (it == handlers.end()) {
      std::string kinds;
      for (const auto& [k, h] : handlers) kinds += (kinds.empty() ? "" : ", ") + k;
      outcome = {{"id", job.id}, {"outcome", "retry"},
                 {"error", fmt::format("no handler for kind '{}' in worker {} (it handles: {})", job.kind,
                                       options.name, kinds)}};
    } else {
      JobContext ctx(job, batch->tokens[i].get_token());
      std::string error;
      bool threw = false;
      try {
        it->second.handler(ctx);
      } catch (const std::exception& e) {
        threw = true;
        error = e.what();
      } catch (...) {
        threw = true;
        error = "handler threw a non-standard exception";
      }
      bool cancel_requested, timed_out;
      {
        std::lock_guard lock(batch->mutex);
        cancel_requested = batch->cancel_requested[i];
        timed_out = batch->timed_out[i];
      }
      const auto& d = ctx.decision();
      if (d.outcome == JobContext::Outcome::cancel || (threw && cancel_requested)) {
        outcome = {{"id", job.id}, {"outcome", "cancel"}, {"error", threw ? "cancelled while running: " + error : d.reason}};
      } else if (d.outcome == JobContext::Outcome::discard) {
        outcome = {{"id", job.id}, {"outcome", "discard"}, {"error", d.reason}};
      } else if (d.outcome == JobContext::Outcome::snooze) {
        outcome = {{"id", job.id}, {"outcome", "snooze"}, {"delay_seconds", bounded_delay(d.delay)}};
      } else if (threw) {
        if (timed_out)
          error = fmt::format("timed out after {} ms: {}", it->second.options.timeout.count(), error);
        outcome = {{"id", job.id}, {"outcome", "retry"}, {"error", error}};
        if (it->second.options.backoff)
          outcome["delay_seconds"] = bounded_delay(it->second.options.backoff(job.attempt));
      }
    }
    auto run_ms = std::chrono::duration<double, std::milli>(std::chrono::system_clock::now() - wall_start).count();
    auto latency_ms = std::chrono::duration<double, std::milli>(wall_start - job.available_at).count();
    {
      std::lock_guard lock(metrics_mutex);
      auto& m = metrics.queues[q.options.name];
      push_sample(m.latency_ms, latency_ms);
      push_sample(m.run_ms, run_ms);
      if (outcome.is_null()) {
        ++m.completed;
      } else {
        auto kind = outcome["outcome"].get<std::string>();
        if (kind == "retry") ++m.failed;
        else if (kind == "discard") ++m.discarded;
        else if (kind == "cancel") ++m.cancelled;
        else ++m.snoozed;
      }
    }
    bool batch_done = false;
    {
      std::lock_guard lock(batch->mutex);
      --running_handlers;
      batch->finished[i] = 1;
      if (outcome.is_null())
        batch->unflushed_succeeded.push_back(job.id);
      else
        batch->unflushed_outcomes.push_back(std::move(outcome));
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

  // ---- complete ------------------------------------------------------------------
  void complete_loop() {
    auto backoff = 100ms;
    while (true) {
      std::vector<std::shared_ptr<Batch>> work;
      {
        std::unique_lock lock(complete_mutex);
        complete_cv.wait(lock, [&] { return completer_done || !to_complete.empty(); });
        if (to_complete.empty() && completer_done) return;
        while (!to_complete.empty() && work.size() < 64) {
          work.push_back(std::move(to_complete.front()));
          to_complete.pop_front();
        }
      }
      try {
        complete(work);
        backoff = 100ms;
      } catch (const std::exception& e) {
        // The database is unreachable: keep the batches and try again.
        log(fmt::format("completing {} batch(es) failed (retrying in {} ms): {}", work.size(), backoff.count(), e.what()));
        {
          std::lock_guard lock(complete_mutex);  // what complete() left in work
          for (auto it = work.rbegin(); it != work.rend(); ++it) to_complete.push_front(*it);
        }
        std::this_thread::sleep_for(backoff);
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, 2s);
        if (stopping && completer_done && backoff >= 2s) {
          log(fmt::format("giving up on {} batch(es) at stop: their leases will run out and the jobs not recorded "
                          "as finished will be offered again", to_complete.size()));
          return;
        }
      }
    }
  }

  static nlohmann::json outcomes_of(Batch& b) {
    std::lock_guard lock(b.mutex);
    return b.unflushed_outcomes;
  }

  void forget(const std::shared_ptr<Batch>& b) {
    std::lock_guard lock(held_mutex);
    held.erase(b->id);
  }

  // Several batches in one transaction (one commit). When that fails on a batch the
  // database refuses, each is sent alone so the others still complete. `work` keeps the
  // batches not yet dealt with: if the database is unreachable they are tried again.
  void complete(std::vector<std::shared_ptr<Batch>>& work) {
    static const char* kSql = "select pgstack.complete_batch($1, $2, $3)";
    if (work.size() > 1) {
      std::vector<std::unique_lock<std::mutex>> locks;
      for (auto& b : work) locks.emplace_back(b->db_mutex);
      try {
        pg::Transaction tx(pool->acquire());
        for (auto& b : work) tx.query(kSql, b->id, options.name, outcomes_of(*b));
        tx.commit();
        for (auto& b : work) forget(b);
        work.clear();
        return;
      } catch (const pg::ConnectionError&) {
        throw;
      } catch (const pg::SqlError&) {
        // a batch was refused: find it below
      }
    }
    while (!work.empty()) {
      auto b = work.front();
      std::lock_guard db_lock(b->db_mutex);
      try {
        pool->acquire().query(kSql, b->id, options.name, outcomes_of(*b));
      } catch (const pg::ConnectionError&) {
        throw;  // work still holds it
      } catch (const pg::SqlError& e) {
        // 55000: not held. Either an earlier try of this completion committed and only
        // its reply was lost (a server restart), or the lease ran out and the jobs were
        // offered again: the server knows which.
        if (e.sqlstate() == "55000" && batch_status(*b) == "finished") {
          forget(b);
          work.erase(work.begin());
          continue;
        }
        // Anything else (a bad outcome) would fail every time: give the batch up so it
        // does not hold up the others; its lease runs out and its jobs are offered again.
        log(e.sqlstate() == "55000"
                ? fmt::format("batch {} of queue '{}' was lost before it completed: {}", b->id, b->queue,
                              e.fields().message)
                : fmt::format("could not complete batch {} of queue '{}' ({}); its lease will run out and its jobs "
                              "will be offered again", b->id, b->queue, e.what()));
        std::lock_guard lock(metrics_mutex);
        ++metrics.queues[b->queue].batches_lost;
      }
      forget(b);
      work.erase(work.begin());
    }
  }

  // 'held', 'lost' or 'finished' (pgstack.job_batch_status).
  std::string batch_status(const Batch& b) {
    return pool->acquire().query_value<std::string>("select pgstack.job_batch_status($1, $2)", b.id, options.name);
  }

  // ---- housekeeping ----------------------------------------------------------------
  void housekeeping_loop() {
    auto last_heartbeat = Clock::now(), last_maintenance = Clock::time_point{};
    while (!stopping) {
      {
        std::unique_lock lock(house_mutex);
        sleep_for(lock, house_cv, 100ms, [] { return false; });
      }
      if (stopping) return;
      check_timeouts();
      auto now = Clock::now();
      try {
        if (now - last_heartbeat >= options.heartbeat_interval) {
          heartbeat();
          checkpoint();
          last_heartbeat = now;
        }
        if (now - last_maintenance >= options.maintenance_interval) {
          last_maintenance = now;
          if (options.run_maintenance) maintain();
          if (!periodic.empty()) run_periodic();
        }
      } catch (const std::exception& e) {
        log(fmt::format("housekeeping failed (will retry): {}", e.what()));
      }
    }
  }

  std::vector<std::shared_ptr<Batch>> held_batches() {
    std::lock_guard lock(held_mutex);
    std::vector<std::shared_ptr<Batch>> out;
    for (auto& [id, b] : held) out.push_back(b);
    return out;
  }

  void check_timeouts() {
    auto now = Clock::now();
    for (auto& b : held_batches()) {
      std::lock_guard lock(b->mutex);
      for (std::size_t i = 0; i < b->ids.size(); ++i) {
        if (b->finished[i] || b->started[i] == Clock::time_point{} || b->timed_out[i]) continue;
        if (b->timeouts[i].count() == 0) continue;
        if (now - b->started[i] > b->timeouts[i]) {
          b->timed_out[i] = 1;
          b->tokens[i].request_stop();
        }
      }
    }
  }

  void heartbeat() {
    // Batches waiting to complete are renewed too: if the database is slow to take the
    // completion, their leases must not run out meanwhile.
    auto batches = held_batches();
    if (batches.empty()) return;
    std::vector<std::int64_t> ids;
    for (auto& b : batches) ids.push_back(b->id);
    auto rows = pool->acquire().query("select batch_id, held, cancel_ids from pgstack.heartbeat_batches($1, $2, $3)",
                                      options.name, ids, seconds_of(options.lease));
    std::map<std::int64_t, std::shared_ptr<Batch>> by_id;
    for (auto& b : batches) by_id[b->id] = b;
    for (auto row : rows) {
      auto& b = by_id[row.get<std::int64_t>(0)];
      bool still_held = row.get<bool>(1);
      auto cancel_ids = row.get<std::vector<std::int64_t>>(2);
      std::lock_guard lock(b->mutex);
      if (!still_held && !b->lost && !b->completing) {
        b->lost = true;
        for (auto& t : b->tokens) t.request_stop();
        log(fmt::format("lost the lease of batch {} (queue '{}'): its unfinished jobs are offered again", b->id, b->queue));
        std::lock_guard mlock(metrics_mutex);
        ++metrics.queues[b->queue].batches_lost;
      }
      for (auto id : cancel_ids)
        for (std::size_t i = 0; i < b->ids.size(); ++i)
          if (b->ids[i] == id && !b->cancel_requested[i]) {
            b->cancel_requested[i] = 1;
            b->tokens[i].request_stop();
          }
    }
    for (auto& b : batches) {
      bool lost;
      {
        std::lock_guard lock(b->mutex);
        lost = b->lost && b->remaining == 0;
      }
      if (lost) forget(b);
    }
  }

  // Records finished jobs of batches still running, so a crash does not run them again.
  void checkpoint() {
    for (auto& b : held_batches()) {
      std::lock_guard db_lock(b->db_mutex);
      std::vector<std::int64_t> succeeded;
      nlohmann::json outcomes;
      {
        std::lock_guard lock(b->mutex);
        if (b->lost || b->released || b->remaining == 0) continue;
        if (b->unflushed_succeeded.empty() && b->unflushed_outcomes.empty()) continue;
        succeeded.swap(b->unflushed_succeeded);
        outcomes = std::exchange(b->unflushed_outcomes, nlohmann::json::array());
      }
      try {
        pool->acquire().query("select pgstack.checkpoint_batch($1, $2, $3, $4, $5)", b->id, options.name, succeeded,
                              outcomes, seconds_of(options.lease));
      } catch (...) {
        // Not recorded: keep them for the next checkpoint or the completion.
        std::lock_guard lock(b->mutex);
        b->unflushed_succeeded.insert(b->unflushed_succeeded.end(), succeeded.begin(), succeeded.end());
        for (auto& o : outcomes) b->unflushed_outcomes.push_back(o);
        throw;
      }
    }
  }

  void maintain() {
    auto conn = pool->acquire();
    auto result = JobQueue::maintain(conn);
    if (result.is_object() && (result.value("rescued", 0) > 0 || result.value("promoted", 0) > 0)) wake_all();
  }

  void run_periodic() {
    auto conn = pool->acquire();
    auto lease_s = std::max(5.0, 3 * seconds_of(options.maintenance_interval));
    bool leader = conn.query_optional<bool>("select pgstack.try_job_leader('periodic', $1, $2)", options.name, lease_s)
                      .value_or(false);
    if (!leader) return;
    auto now = std::chrono::system_clock::now();
    for (auto& p : periodic) {
      if (p.next > now) continue;
      // The latest tick due; ticks missed while no process led are not backfilled.
      auto tick = p.next;
      for (auto t = p.schedule.next_after(tick); t <= now; t = p.schedule.next_after(t)) tick = t;
      conn.query("select pgstack.enqueue_periodic($1, $2, $3, $4, $5, $6)", p.name, p.schedule.expression(), tick,
                 p.kind, p.args, p.queue);
      p.next = p.schedule.next_after(tick);
    }
  }

  // ---- listen ------------------------------------------------------------------------
  void listen_loop() {
    std::optional<pg::Listener> listener;
    std::uint64_t seen_reconnects = 0;
    while (!stopping) {
      try {
        if (!listener) {
          listener.emplace(pg::ListenerOptions{.dsn = options.dsn});
          listener->listen(kChannel);
          wake_all();  // jobs may have arrived while not listening
        }
        auto n = listener->wait(250ms);
        if (listener->reconnects() != seen_reconnects) {
          seen_reconnects = listener->reconnects();
          std::lock_guard lock(metrics_mutex);
          ++metrics.reconnects;
          wake_all();
        }
        if (n) {
          auto it = queues.find(n->payload);
          if (it != queues.end()) wake(*it->second);
        }
      } catch (const std::exception& e) {
        log(fmt::format("LISTEN connection failed (polling meanwhile): {}", e.what()));
        listener.reset();
        std::unique_lock lock(house_mutex);
        sleep_for(lock, house_cv, 1s, [] { return false; });
      }
    }
  }

  // ---- stop ----------------------------------------------------------------------------
  void release_all() {
    for (auto& b : held_batches()) {
      std::vector<std::int64_t> succeeded;
      nlohmann::json outcomes;
      bool complete_instead;
      {
        std::lock_guard lock(b->mutex);
        if (b->lost) continue;
        complete_instead = b->remaining == 0;
        b->released = !complete_instead;
        succeeded = b->unflushed_succeeded;
        outcomes = b->unflushed_outcomes;
      }
      try {
        if (complete_instead)
          pool->acquire().query("select pgstack.complete_batch($1, $2, $3)", b->id, options.name, outcomes);
        else
          pool->acquire().query("select pgstack.release_batch($1, $2, $3, $4)", b->id, options.name, succeeded, outcomes);
      } catch (const std::exception& e) {
        log(fmt::format("could not hand back batch {} at stop: {}; its lease will run out and its unfinished jobs "
                        "will be offered again", b->id, e.what()));
      }
      forget(b);
    }
  }
};

Worker::Worker(WorkerOptions options) : state_(std::make_shared<State>()) {
  if (options.name.empty()) options.name = default_worker_name();
  state_->options = std::move(options);
}

Worker::~Worker() {
  if (state_ && state_->started && !state_->stopping) {
    try {
      stop(std::chrono::milliseconds(0));
    } catch (...) {
    }
  }
}

const std::string& Worker::name() const noexcept { return state_->options.name; }

void Worker::handle(std::string kind, Handler handler, HandlerOptions options) {
  if (state_->started) throw UsageError("Worker::handle: register handlers before start()");
  if (!handler) throw UsageError(fmt::format("Worker::handle: the handler for kind '{}' is empty", kind));
  state_->handlers[std::move(kind)] = State::Registered{std::move(handler), std::move(options)};
}

void Worker::every(std::string name, std::string cron, std::string kind, nlohmann::json args,
                   std::optional<std::string> queue) {
  if (state_->started) throw UsageError("Worker::every: declare periodic jobs before start()");
  auto schedule = CronSchedule::parse(cron);  // throws on a bad expression, before anything runs
  state_->periodic.push_back(Periodic{std::move(name), std::move(schedule), std::move(kind), std::move(args),
                                      std::move(queue), {}});
}

void Worker::start() {
  auto& s = *state_;
  if (s.started) throw UsageError("Worker::start: already started");
  const auto& o = s.options;
  if (o.dsn.empty()) throw UsageError("Worker: no dsn given; pass WorkerOptions::dsn (e.g. $DATABASE_URL)");
  if (o.queues.empty()) throw UsageError("Worker: no queues to work; give WorkerOptions::queues");
  if (o.batch_size < 1 || o.batch_size > 10000)
    throw UsageError(fmt::format("Worker: batch_size {} is out of range (1-10000)", o.batch_size));
  if (o.lease < std::chrono::seconds(1) || o.heartbeat_interval * 2 > o.lease)
    throw UsageError(fmt::format("Worker: the lease ({} ms) must be at least 1 s and twice the heartbeat interval ({} ms)",
                                 o.lease.count(), o.heartbeat_interval.count()));
  std::set<std::string> seen;
  for (const auto& q : o.queues) {
    if (q.concurrency < 1 || q.concurrency > 1000)
      throw UsageError(fmt::format("Worker: concurrency {} of queue '{}' is out of range (1-1000)", q.concurrency, q.name));
    if (!seen.insert(q.name).second) throw UsageError(fmt::format("Worker: queue '{}' is listed twice", q.name));
  }

  s.pool = std::make_unique<pg::Pool>(pg::PoolOptions{.primary = o.dsn, .max_size = 4,
                                                      .application_name = "pgstack worker"});
  {
    // Queues and kinds exist before any job is claimed; one transaction, so a bad kind
    // name registers nothing.
    pg::Transaction tx(s.pool->acquire());
    for (const auto& q : o.queues) JobQueue::create_queue(tx, q.name);
    for (const auto& [kind, reg] : s.handlers) {
      if (reg.options.queue) JobQueue::create_queue(tx, *reg.options.queue);
      JobQueue::register_kind(tx, kind, KindOptions{reg.options.queue, reg.options.max_attempts, reg.options.priority});
    }
    for (const auto& p : s.periodic) {
      if (p.queue) JobQueue::create_queue(tx, *p.queue);
      if (!tx.query_value<bool>("select exists (select 1 from pgstack.job_kinds where kind = $1)", p.kind))
        throw UsageError(fmt::format("Worker::every('{}'): kind '{}' is not registered; handle() it here or register "
                                     "it with pgstack.register_job_kind", p.name, p.kind));
    }
    tx.commit();
  }
  auto now = std::chrono::system_clock::now();
  for (auto& p : s.periodic) p.next = p.schedule.next_after(now);

  s.started = true;
  auto self = state_;  // threads share ownership: see the file comment
  for (const auto& qo : o.queues) {
    auto q = std::make_unique<QueueRuntime>();
    q->options = qo;
    s.queues[qo.name] = std::move(q);
  }
  for (auto& [name, q] : s.queues) {
    QueueRuntime* qr = q.get();
    for (int i = 0; i < qr->options.concurrency; ++i) qr->threads.emplace_back([self, qr] { self->execute_loop(*qr); });
    qr->fetcher = std::thread([self, qr] { self->fetch_loop(*qr); });
  }
  s.service_threads.emplace_back([self] { self->complete_loop(); });
  s.service_threads.emplace_back([self] { self->housekeeping_loop(); });
  s.service_threads.emplace_back([self] { self->listen_loop(); });
}

void Worker::stop(std::chrono::milliseconds deadline) {
  auto& s = *state_;
  if (!s.started || s.stopping.exchange(true)) return;
  // 1. No more claims. A claim in flight finishes and registers its batch, so the fetch
  //    threads are joined before anything is handed back. Executors start no new job
  //    from now on (run_one checks `stopping`); queued ones stay unstarted.
  for (auto& [name, q] : s.queues) q->fetch_cv.notify_all();
  s.house_cv.notify_all();
  for (auto& [name, q] : s.queues)
    if (q->fetcher.joinable()) q->fetcher.join();
  for (auto& [name, q] : s.queues) {
    std::lock_guard lock(q->mutex);
    q->outstanding -= q->ready.size();
    q->ready.clear();
  }
  // 2. Running handlers get until the deadline, then their cancel tokens fire and they
  //    get one more second.
  auto running = [&] { return s.running_handlers.load() > 0; };
  auto until = Clock::now() + deadline;
  while (running() && Clock::now() < until) std::this_thread::sleep_for(10ms);
  if (running()) {
    for (auto& b : s.held_batches()) {
      std::lock_guard lock(b->mutex);
      for (auto& t : b->tokens) t.request_stop();
    }
    auto grace = Clock::now() + 1s;
    while (running() && Clock::now() < grace) std::this_thread::sleep_for(10ms);
  }
  // 3. Completions queued so far go first, then everything still held is handed back.
  {
    std::lock_guard lock(s.complete_mutex);
    s.completer_done = true;
  }
  s.complete_cv.notify_all();
  for (auto& t : s.service_threads)
    if (t.joinable()) t.join();
  s.release_all();
  // 4. Executors. One stuck in a handler that ignores its token is left behind
  //    (detached); it holds the state alive and its result is discarded.
  s.stop_executors = true;
  for (auto& [name, q] : s.queues) q->ready_cv.notify_all();
  const bool stuck = running();
  for (auto& [name, q] : s.queues)
    for (auto& t : q->threads) {
      if (!t.joinable()) continue;
      if (stuck)
        t.detach();
      else
        t.join();
    }
}

WorkerMetrics Worker::metrics() const {
  std::lock_guard lock(state_->metrics_mutex);
  return state_->metrics;
}

}  // namespace pgstack::jobs
