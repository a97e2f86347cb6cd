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

#include "pgstack/jobs/job.h"
#include "pgstack/pg/params.h"
#include "pgstack/pg/result.h"

namespace pgstack::jobs {

// The statements and result decoding, kept out of the templates below.
namespace sql {
extern const char* const kEnqueueMany;
extern const char* const kRegisterKind;
extern const char* const kCreateQueue;
extern const char* const kCancel;
extern const char* const kRetry;
extern const char* const kPause;
extern const char* const kResume;
extern const char* const kSetLimit;
extern const char* const kStats;
extern const char* const kJob;
extern const char* const kList;
extern const char* const kMaintain;
pg::Params enqueue_params(const std::vector<JobRequest>& jobs, const std::vector<std::string>& tags,
                          UniqueWhile unique_while);
std::vector<EnqueueResult> enqueue_results(const pg::Result& r);
std::vector<QueueStats> queue_stats(const pg::Result& r);
std::optional<JobInfo> job_info(const pg::Result& r);
std::vector<JobInfo> job_list(const pg::Result& r);
}  // namespace sql

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
    return sql::enqueue_results(db.execute(sql::kEnqueueMany, sql::enqueue_params(jobs, tags, unique_while)));
  }

  template <class Db>
  static void register_kind(Db& db, std::string_view kind, const KindOptions& options = {}) {
    db.query(sql::kRegisterKind, kind, options.queue, options.max_attempts, options.priority);
  }
  template <class Db>
  static void create_queue(Db& db, std::string_view queue, std::optional<int> concurrency_limit = std::nullopt) {
    db.query(sql::kCreateQueue, queue, concurrency_limit);
  }

  // True when the job was cancelled at once (it was scheduled or retryable); false when
  // cancellation was requested of an available or running job: its worker skips it, or
  // fires the running handler's cancel token. Throws when the job ended or does not exist.
  template <class Db>
  static bool cancel(Db& db, std::int64_t id) {
    return db.template query_value<std::string>(sql::kCancel, id) == "cancelled";
  }
  // Runs a scheduled, retryable, discarded or cancelled job again now.
  template <class Db>
  static void retry(Db& db, std::int64_t id) { db.query(sql::kRetry, id); }
  template <class Db>
  static void pause(Db& db, std::string_view queue) { db.query(sql::kPause, queue); }
  template <class Db>
  static void resume(Db& db, std::string_view queue) { db.query(sql::kResume, queue); }
  template <class Db>
  static void set_concurrency_limit(Db& db, std::string_view queue, std::optional<int> limit) {
    db.query(sql::kSetLimit, queue, limit);
  }

  template <class Db>
  static std::vector<QueueStats> stats(Db& db) { return sql::queue_stats(db.query(sql::kStats)); }
  template <class Db>
  static std::optional<JobInfo> job(Db& db, std::int64_t id) { return sql::job_info(db.query(sql::kJob, id)); }
  // Newest first; completed jobs are not listed (nothing is kept per completed job).
  template <class Db>
  static std::vector<JobInfo> list(Db& db, std::optional<std::string> queue = std::nullopt,
                                   std::optional<JobState> state = std::nullopt, int limit = 50) {
    std::optional<std::string> state_text;
    if (state) state_text = to_string(*state);
    return sql::job_list(db.query(sql::kList, queue, state_text, limit));
  }
  // Housekeeping (Workers run it about once a second): returns what it did, or null
  // when another process was running it.
  template <class Db>
  static nlohmann::json maintain(Db& db) {
    auto r = db.template query_optional<nlohmann::json>(sql::kMaintain);
    return r ? *r : nlohmann::json();
  }
};

}  // namespace pgstack::jobs
