// Enqueueing and managing jobs from C++. Every call runs on the connection or
// transaction you pass, so a job commits or rolls back with your own rows:
//
//   pgstack::pg::Transaction tx(conn);
//   tx.query("insert into orders (id, total) values ($1, $2)", order_id, total);
//   pgstack::jobs::JobQueue::enqueue(tx, "send_receipt", {{"order_id", order_id}});
//   tx.commit();                                  // order and job, or neither
//
//   // 100k jobs in one call (one statement, arrays bound as parameters):
//   std::vector<pgstack::jobs::JobRequest> batch = ...;
//   auto ids = pgstack::jobs::JobQueue::enqueue_many(conn, batch);
//
// The SQL behind it is the pgstack schema's API (docs/jobs.md), usable from any language.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgstack/jobs/internal/queue_sql.h"
#include "pgstack/jobs/job.h"
#include "pgstack/pg/params.h"
#include "pgstack/pg/result.h"

namespace pgstack::jobs {


// Settings of a kind, written when registered; NULL (nullopt) keeps what is there.
struct KindOptions {
  std::optional<std::string> queue;
  std::optional<int> max_attempts;
  std::optional<int> priority;
};

class JobQueue {
 public:
  // Db: pg::Connection, pg::Transaction or pg::PooledConnection (anything with execute()).
  template <class Db>
  static EnqueueResult enqueue(Db& db, std::string_view kind, const nlohmann::json& args = nlohmann::json::object(),
                               const EnqueueOptions& options = {}) {
    std::vector<JobRequest> one{JobRequest{std::string(kind), args, options}};
    return enqueue_many(db, one, options.tags, options.unique_while).front();
  }

  // One statement for the lot; results in input order. tags and unique_while apply to
  // every job of the call.
  template <class Db>
  static std::vector<EnqueueResult> enqueue_many(Db& db, const std::vector<JobRequest>& jobs,
                                                 const std::vector<std::string>& tags = {},
                                                 UniqueWhile unique_while = UniqueWhile::active) {
    if (jobs.empty()) return {};
    return internal::enqueue_results(db.execute(internal::kEnqueueMany, internal::enqueue_params(jobs, tags, unique_while)));
  }

  template <class Db>
  static void register_kind(Db& db, std::string_view kind, const KindOptions& options = {}) {
    db.query(internal::kRegisterKind, kind, options.queue, options.max_attempts, options.priority);
  }
  template <class Db>
  static void create_queue(Db& db, std::string_view queue, std::optional<int> concurrency_limit = std::nullopt) {
    db.query(internal::kCreateQueue, queue, concurrency_limit);
  }

  // True when the job was cancelled at once (it was scheduled or retryable); false when
  // cancellation was requested of an available or running job: its worker skips it, or
  // fires the running handler's cancel token. Throws when the job ended or does not exist.
  template <class Db>
  static bool cancel(Db& db, std::int64_t id) {
    return db.template query_value<std::string>(internal::kCancel, id) == "cancelled";
  }
  // Runs a scheduled, retryable, discarded or cancelled job again now.
  template <class Db>
  static void retry(Db& db, std::int64_t id) { db.query(internal::kRetry, id); }
  template <class Db>
  static void pause(Db& db, std::string_view queue) { db.query(internal::kPause, queue); }
  template <class Db>
  static void resume(Db& db, std::string_view queue) { db.query(internal::kResume, queue); }
  template <class Db>
  static void set_concurrency_limit(Db& db, std::string_view queue, std::optional<int> limit) {
    db.query(internal::kSetLimit, queue, limit);
  }

  template <class Db>
  static std::vector<QueueStats> stats(Db& db) { return internal::queue_stats(db.query(internal::kStats)); }
  template <class Db>
  static std::optional<JobInfo> job(Db& db, std::int64_t id) { return internal::job_info(db.query(internal::kJob, id)); }
  // Newest first; completed jobs are not listed (nothing is kept per completed job).
  template <class Db>
  static std::vector<JobInfo> list(Db& db, std::optional<std::string> queue = std::nullopt,
                                   std::optional<JobState> state = std::nullopt, int limit = 50) {
    std::optional<std::string> state_text;
    if (state) state_text = to_string(*state);
    return internal::job_list(db.query(internal::kList, queue, state_text, limit));
  }
  // Housekeeping (Workers run it about once a second): returns what it did, or null
  // when another process was running it.
  template <class Db>
  static nlohmann::json maintain(Db& db) {
    auto r = db.template query_optional<nlohmann::json>(internal::kMaintain);
    return r ? *r : nlohmann::json();
  }
};

}  // namespace pgstack::jobs
