// The Worker's housekeeping thread (heartbeats, progress checkpoints, handler timeouts,
// maintenance, periodic jobs) and its listen thread (internal/worker_state.h has the
// whole picture).
#include <fmt/format.h>

#include "pgstack/jobs/internal/worker_state.h"
#include "pgstack/jobs/job_queue.h"
#include "pgstack/pg/listener.h"

namespace pgstack::jobs {

using namespace std::chrono_literals;
using internal::seconds_of;

namespace {
constexpr const char* kChannel = "pgstack_jobs";
}  // namespace

void Worker::State::housekeeping_loop() {
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

void Worker::State::check_timeouts() {
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

void Worker::State::heartbeat() {
  // Batches waiting to complete are renewed too: if the database is slow to take the
  // completion, their leases must not run out meanwhile.
  auto batches = held_batches();
  if (batches.empty()) return;
  std::vector<std::int64_t> ids;
  for (auto& b : batches) ids.push_back(b->id);
  auto rows = pool->acquire().query("select batch_id, held, cancel_ids from pgstack.job_batch_heartbeat($1, $2, $3)",
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
void Worker::State::checkpoint() {
  for (auto& b : held_batches()) {
    std::lock_guard db_lock(b->db_mutex);
    std::vector<std::int64_t> succeeded;
    std::vector<internal::JobOutcome> outcomes;
    {
      std::lock_guard lock(b->mutex);
      if (b->lost || b->released || b->remaining == 0) continue;
      if (b->unflushed_succeeded.empty() && b->unflushed_outcomes.empty()) continue;
      succeeded.swap(b->unflushed_succeeded);
      outcomes.swap(b->unflushed_outcomes);
    }
    try {
      pool->acquire().query("select pgstack.job_batch_checkpoint($1, $2, $3, $4, $5)", b->id, options.name, succeeded,
                            internal::outcomes_json(outcomes), seconds_of(options.lease));
    } catch (...) {
      // Not recorded: keep them for the next checkpoint or the completion.
      std::lock_guard lock(b->mutex);
      b->unflushed_succeeded.insert(b->unflushed_succeeded.end(), succeeded.begin(), succeeded.end());
      b->unflushed_outcomes.insert(b->unflushed_outcomes.end(), std::make_move_iterator(outcomes.begin()),
                                   std::make_move_iterator(outcomes.end()));
      throw;
    }
  }
}

void Worker::State::maintain() {
  auto conn = pool->acquire();
  auto result = JobQueue::maintain(conn);
  if (result.is_object() && (result.value("rescued", 0) > 0 || result.value("promoted", 0) > 0)) wake_all();
}

void Worker::State::run_periodic() {
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
    conn.query("select pgstack.job_enqueue_periodic($1, $2, $3, $4, $5, $6)", p.name, p.schedule.expression(), tick,
               p.kind, p.args, p.queue);
    p.next = p.schedule.next_after(tick);
  }
}

void Worker::State::listen_loop() {
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

}  // namespace pgstack::jobs
