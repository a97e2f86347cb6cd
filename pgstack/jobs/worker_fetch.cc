// The Worker's fetch thread, one per queue: claims chunks when the queue has room and
// queues their jobs for the executors (internal/worker_state.h has the whole picture).
#include <random>

#include <fmt/format.h>

#include "pgstack/jobs/internal/worker_state.h"
#include "pgstack/pg/errors.h"

namespace pgstack::jobs {

using namespace std::chrono_literals;
using internal::seconds_of;

namespace {

// While enqueues that did not notify are in flight (pgstack.job_queue_watch said
// 'enqueuing'), the fetcher claims again after these waits, doubling: those commits
// are usually a few ms away, and a long transaction costs a claim every 100 ms at most.
constexpr auto kFirstRecheck = std::chrono::milliseconds(2);
constexpr auto kMaxRecheck = std::chrono::milliseconds(100);

// Columns of the claim, in the order decode_job() (worker_execute.cc) reads them.
constexpr const char* kClaimSql =
    "select batch_id, id, cancelled, attempt, kind, args, priority, max_attempts, enqueued_at, available_at, "
    "unique_key, nullif(tags, '{}'), nullif(errors, '[]') from pgstack.job_claim($1, $2, $3, $4, $5)";

// A fresh claim token: a random (version 4) UUID, so a retried claim finds its batch.
std::string random_uuid() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  auto hi = gen(), lo = gen();
  hi = (hi & ~0xf000ULL) | 0x4000ULL;                 // version 4
  lo = (lo & ~(0xc0ULL << 56)) | (0x80ULL << 56);     // variant 1
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff, lo >> 48,
                     lo & 0xffffffffffffULL);
}

}  // namespace

void Worker::State::fetch_loop(QueueRuntime& q) {
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

pg::Connection& Worker::State::fetch_connection(QueueRuntime& q) {
  if (!q.conn) {
    q.conn.emplace(pg::ConnectOptions{.dsn = options.dsn, .application_name = "pgstack worker fetch"});
    q.watching = false;
  }
  return *q.conn;
}

// The queue looked drained (a claim came back short). Enqueues notify only while a
// worker watches the queue (pgstack.job_queue_watch), so before a long wait this
// fetcher makes sure one does. Returns how long to wait: 0 to claim again at once.
std::chrono::milliseconds Worker::State::wait_before_next_claim(QueueRuntime& q, std::size_t room,
                                                                std::chrono::milliseconds& recheck) {
  if (q.watching) return options.poll_interval;
  auto status = fetch_connection(q).query_value<std::string>("select pgstack.job_queue_watch($1)", q.options.name);
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

void Worker::State::unwatch(QueueRuntime& q) {
  fetch_connection(q).query("select pgstack.job_queue_unwatch($1)", q.options.name);
  q.watching = false;
}

// Claims up to want jobs on the fetch connection. A claim whose reply was lost (the
// connection failed) is sent again with the same token: if it had committed, the
// server returns the batch it made instead of leaving it to its lease.
std::size_t Worker::State::claim(QueueRuntime& q, std::size_t want) {
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
  auto batch = batch_of_claim(q, std::move(rows));
  queue_jobs(q, batch);
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
  return batch->ids.size();
}

// The claim's rows as a Batch, held (so heartbeats renew it) from here on.
std::shared_ptr<Worker::State::Batch> Worker::State::batch_of_claim(QueueRuntime& q, pg::Result rows) {
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
  return batch;
}

void Worker::State::queue_jobs(QueueRuntime& q, const std::shared_ptr<Batch>& batch) {
  {
    std::lock_guard lock(q.mutex);
    q.outstanding += batch->ids.size();
    for (std::size_t i = 0; i < batch->ids.size(); ++i) q.ready.emplace_back(batch, i);
  }
  q.ready_cv.notify_all();
}

}  // namespace pgstack::jobs
