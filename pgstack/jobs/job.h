// The vocabulary of the job queue: a job as a worker sees it, the options of an
// enqueue, and the states a job goes through. docs/jobs.md has the whole picture.
//
//   pgstack::jobs::EnqueueOptions opts{.queue = "mail", .run_at = now + 1h, .unique_key = "welcome:42"};
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pgstack/pg/types.h"

namespace pgstack::jobs {

using Timestamp = pgstack::pg::Timestamp;

// Where a job is. Nothing stores it: pgstack.job_state() derives it from where the
// job's rows are (see pgstack/jobs/README.md).
//   scheduled → available → running → completed
//                  ↑            ↓
//              retryable ←──────┤ (handler failed, attempts left)
//                               ↓
//                      discarded | cancelled (kept in job_history)
enum class JobState { scheduled, retryable, available, running, completed, discarded, cancelled };
std::string to_string(JobState state);
JobState parse_job_state(std::string_view text);  // throws UsageError naming the states

// A claimed job, handed to its handler.
struct Job {
  std::int64_t id = 0;
  int attempt = 1;            // 1 on the first run
  int max_attempts = 25;
  std::string kind;
  nlohmann::json args;
  std::string queue;
  int priority = 0;           // 0 runs first, 9 last
  Timestamp enqueued_at;      // first enqueue
  Timestamp available_at;     // when this attempt became available to run
  std::optional<std::string> unique_key;
  std::vector<std::string> tags;
  nlohmann::json errors = nlohmann::json::array();  // earlier attempts: [{attempt, at, error}]
};

// How long a unique key is held: until the job ends (completes, is discarded or
// cancelled), or only until it starts running, so one more may wait meanwhile.
enum class UniqueWhile { active, pending };

// Everything optional: the kind's registered defaults fill the gaps.
struct EnqueueOptions {
  std::optional<std::string> queue;
  std::optional<int> priority;          // 0..9
  std::optional<Timestamp> run_at;      // in the future: scheduled until then
  std::optional<int> max_attempts;      // 1..1000
  // At most one job with this key per queue until it completes, is discarded or is
  // cancelled; enqueueing another returns the holder with duplicate = true.
  std::optional<std::string> unique_key;
  UniqueWhile unique_while = UniqueWhile::active;
  std::vector<std::string> tags;
};

struct EnqueueResult {
  std::int64_t id = 0;
  bool duplicate = false;  // the unique key was taken: id is the job holding it
};

// One job of a bulk enqueue.
struct JobRequest {
  std::string kind;
  nlohmann::json args = nlohmann::json::object();
  EnqueueOptions options;  // tags and unique_while are taken from the call, not from here
};

// A job as `pgstack jobs show` reports it.
struct JobInfo {
  std::int64_t id = 0;
  JobState state = JobState::available;
  std::string queue;
  std::string kind;
  nlohmann::json args;
  int priority = 0;
  int attempt = 1;
  int max_attempts = 25;
  Timestamp enqueued_at;
  std::optional<Timestamp> run_at;       // scheduled: when; available/running: since when
  std::optional<Timestamp> finished_at;  // discarded or cancelled
  std::optional<std::string> unique_key;
  std::vector<std::string> tags;
  nlohmann::json errors;
  bool cancel_requested = false;
};

// One row of pgstack.job_queue_stats().
struct QueueStats {
  std::string queue;
  bool paused = false;
  std::optional<int> concurrency_limit;
  std::int64_t scheduled = 0, retryable = 0, available = 0, running = 0;
  std::int64_t completed = 0, failed = 0, discarded = 0, cancelled = 0, rescued = 0;
  std::optional<Timestamp> oldest_available_at;
};

}  // namespace pgstack::jobs
