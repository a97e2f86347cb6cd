// The Worker's completer: records batches whose jobs are all done, several per commit,
// and at stop hands back what is still held (internal/worker_state.h has the whole
// picture). Outcomes turn into JSON here, where the SQL API takes them.
#include <fmt/format.h>

#include "pgstack/jobs/internal/worker_state.h"
#include "pgstack/pg/errors.h"
#include "pgstack/pg/transaction.h"

namespace pgstack::jobs {

using namespace std::chrono_literals;

namespace internal {

namespace {

nlohmann::json outcome_json(const JobOutcome& o) {
  return std::visit(
      [&](const auto& v) -> nlohmann::json {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, Failed>) {
          nlohmann::json j = {{"id", o.id}, {"outcome", "retry"}, {"error", v.error}};
          if (v.delay_seconds) j["delay_seconds"] = *v.delay_seconds;
          return j;
        } else if constexpr (std::is_same_v<T, Snoozed>) {
          return {{"id", o.id}, {"outcome", "snooze"}, {"delay_seconds", v.delay_seconds}};
        } else if constexpr (std::is_same_v<T, Cancelled>) {
          return {{"id", o.id}, {"outcome", "cancel"}, {"error", v.reason}};
        } else {
          static_assert(std::is_same_v<T, Discarded>);
          return {{"id", o.id}, {"outcome", "discard"}, {"error", v.reason}};
        }
      },
      o.outcome);
}

}  // namespace

nlohmann::json outcomes_json(const std::vector<JobOutcome>& outcomes) {
  auto out = nlohmann::json::array();
  for (const auto& o : outcomes) out.push_back(outcome_json(o));
  return out;
}

}  // namespace internal

namespace {

nlohmann::json outcomes_of(internal::Batch& b) {
  std::lock_guard lock(b.mutex);
  return internal::outcomes_json(b.unflushed_outcomes);
}

}  // namespace

void Worker::State::complete_loop() {
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

// Several batches in one transaction (one commit). When that fails on a batch the
// database refuses, each is sent alone so the others still complete. `work` keeps the
// batches not yet dealt with: if the database is unreachable they are tried again.
void Worker::State::complete(std::vector<std::shared_ptr<Batch>>& work) {
  static const char* kSql = "select pgstack.job_batch_complete($1, $2, $3)";
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
std::string Worker::State::batch_status(const Batch& b) {
  return pool->acquire().query_value<std::string>("select pgstack.job_batch_status($1, $2)", b.id, options.name);
}

// At stop: a batch whose jobs all finished is completed; the others are released, their
// finished jobs recorded and the rest offered again at the same attempt.
void Worker::State::release_all() {
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
      outcomes = internal::outcomes_json(b->unflushed_outcomes);
    }
    try {
      if (complete_instead)
        pool->acquire().query("select pgstack.job_batch_complete($1, $2, $3)", b->id, options.name, outcomes);
      else
        pool->acquire().query("select pgstack.job_batch_release($1, $2, $3, $4)", b->id, options.name, succeeded, outcomes);
    } catch (const std::exception& e) {
      log(fmt::format("could not hand back batch {} at stop: {}; its lease will run out and its unfinished jobs "
                      "will be offered again", b->id, e.what()));
    }
    forget(b);
  }
}

}  // namespace pgstack::jobs
