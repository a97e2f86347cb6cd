// The SQL behind JobQueue and the decoding of its results.
#include "pgstack/jobs/job_queue.h"

#include <array>

#include <fmt/format.h>

#include "pgstack/pg/errors.h"

namespace pgstack::jobs {

using pg::UsageError;

namespace {
constexpr std::array<std::pair<JobState, const char*>, 7> kStateNames{{
    {JobState::scheduled, "scheduled"},
    {JobState::retryable, "retryable"},
    {JobState::available, "available"},
    {JobState::running, "running"},
    {JobState::completed, "completed"},
    {JobState::discarded, "discarded"},
    {JobState::cancelled, "cancelled"},
}};
}  // namespace

std::string to_string(JobState state) {
  for (const auto& [s, name] : kStateNames)
    if (s == state) return name;
  return "unknown";
}

JobState parse_job_state(std::string_view text) {
  for (const auto& [s, name] : kStateNames)
    if (text == name) return s;
  throw UsageError(fmt::format(
      "unknown job state '{}': use scheduled, retryable, available, running, completed, discarded or cancelled", text));
}

namespace internal {

const char* const kEnqueueMany =
    "select id, duplicate from pgstack.job_enqueue_many($1, $2, $3, $4, $5, $6, $7, $8, $9)";
const char* const kRegisterKind = "select pgstack.job_kind_register($1, $2, $3, $4)";
const char* const kCreateQueue = "select pgstack.job_queue_create($1, $2)";
const char* const kCancel = "select pgstack.job_cancel($1)";
const char* const kRetry = "select pgstack.job_retry($1)";
const char* const kPause = "select pgstack.job_queue_pause($1)";
const char* const kResume = "select pgstack.job_queue_resume($1)";
const char* const kSetLimit = "select pgstack.job_queue_set_limit($1, $2)";
const char* const kStats =
    "select queue, paused, concurrency_limit, scheduled, retryable, available, running, completed, failed, "
    "discarded, cancelled, rescued, oldest_available_at from pgstack.job_queue_stats()";
const char* const kJob =
    "select id, state, queue, kind, args, priority, attempt, max_attempts, enqueued_at, run_at, finished_at, "
    "unique_key, tags, errors, cancel_requested from pgstack.job($1)";
const char* const kList =
    "select id, state, queue, kind, args, priority, attempt, max_attempts, enqueued_at, run_at, finished_at, "
    "unique_key, tags, errors, cancel_requested from pgstack.job_list($1, $2, $3)";
const char* const kMaintain = "select pgstack.jobs_maintain()";

pg::Params enqueue_params(const std::vector<JobRequest>& jobs, const std::vector<std::string>& tags,
                          UniqueWhile unique_while) {
  std::vector<std::string> kinds;
  std::vector<nlohmann::json> args;
  std::vector<std::optional<std::string>> queues, unique_keys;
  std::vector<std::optional<std::int32_t>> priorities, max_attempts;
  std::vector<std::optional<Timestamp>> run_at;
  kinds.reserve(jobs.size());
  args.reserve(jobs.size());
  bool any_queue = false, any_priority = false, any_run_at = false, any_attempts = false, any_unique = false;
  for (const auto& job : jobs) {
    kinds.push_back(job.kind);
    // A discarded (invalid) json value cannot be sent; say which job held it.
    if (job.args.is_discarded())
      throw UsageError(fmt::format("job {} of kind '{}' has args that are not valid JSON", kinds.size(), job.kind));
    // C++'s {} is JSON null; a job without arguments gets {} as the SQL API's callers do.
    args.push_back(job.args.is_null() ? nlohmann::json::object() : job.args);
    const auto& o = job.options;
    queues.push_back(o.queue);
    priorities.push_back(o.priority ? std::optional<std::int32_t>(*o.priority) : std::nullopt);
    run_at.push_back(o.run_at);
    max_attempts.push_back(o.max_attempts ? std::optional<std::int32_t>(*o.max_attempts) : std::nullopt);
    unique_keys.push_back(o.unique_key);
    any_queue |= o.queue.has_value();
    any_priority |= o.priority.has_value();
    any_run_at |= o.run_at.has_value();
    any_attempts |= o.max_attempts.has_value();
    any_unique |= o.unique_key.has_value();
  }
  // Arrays nobody set go as NULL: less to send and to unnest for 100k jobs.
  auto opt = [](bool any, auto&& v) { return any ? std::optional(std::move(v)) : std::nullopt; };
  return pg::Params::of(kinds, args, opt(any_queue, std::move(queues)), opt(any_priority, std::move(priorities)),
                        opt(any_run_at, std::move(run_at)), opt(any_attempts, std::move(max_attempts)),
                        opt(any_unique, std::move(unique_keys)), tags,
                        std::string(unique_while == UniqueWhile::pending ? "pending" : "active"));
}

std::vector<EnqueueResult> enqueue_results(const pg::Result& r) {
  std::vector<EnqueueResult> out;
  out.reserve(r.rows());
  for (auto row : r) out.push_back({row.get<std::int64_t>(0), row.get<bool>(1)});
  return out;
}

std::vector<QueueStats> queue_stats(const pg::Result& r) {
  std::vector<QueueStats> out;
  for (auto row : r) {
    QueueStats s;
    s.queue = row.get<std::string>(0);
    s.paused = row.get<bool>(1);
    s.concurrency_limit = row.get<std::optional<std::int32_t>>(2);
    s.scheduled = row.get<std::int64_t>(3);
    s.retryable = row.get<std::int64_t>(4);
    s.available = row.get<std::int64_t>(5);
    s.running = row.get<std::int64_t>(6);
    s.completed = row.get<std::int64_t>(7);
    s.failed = row.get<std::int64_t>(8);
    s.discarded = row.get<std::int64_t>(9);
    s.cancelled = row.get<std::int64_t>(10);
    s.rescued = row.get<std::int64_t>(11);
    s.oldest_available_at = row.get<std::optional<Timestamp>>(12);
    out.push_back(std::move(s));
  }
  return out;
}

namespace {
// A row of pgstack.job() or pgstack.job_list() (same columns).
JobInfo decode_job_info(const pg::Row& row) {
  JobInfo j;
  j.id = row.get<std::int64_t>(0);
  j.state = parse_job_state(row.get<std::string>(1));
  j.queue = row.get<std::string>(2);
  j.kind = row.get<std::string>(3);
  j.args = row.get<nlohmann::json>(4);
  j.priority = row.get<std::int16_t>(5);
  j.attempt = row.get<std::int32_t>(6);
  j.max_attempts = row.get<std::int32_t>(7);
  j.enqueued_at = row.get<Timestamp>(8);
  j.run_at = row.get<std::optional<Timestamp>>(9);
  j.finished_at = row.get<std::optional<Timestamp>>(10);
  j.unique_key = row.get<std::optional<std::string>>(11);
  j.tags = row.get<std::vector<std::string>>(12);
  j.errors = row.get<nlohmann::json>(13);
  j.cancel_requested = row.get<bool>(14);
  return j;
}
}  // namespace

std::optional<JobInfo> job_info(const pg::Result& r) {
  if (r.empty() || r[0].is_null(1)) return std::nullopt;
  return decode_job_info(r[0]);
}

std::vector<JobInfo> job_list(const pg::Result& r) {
  std::vector<JobInfo> out;
  for (auto row : r) out.push_back(decode_job_info(row));
  return out;
}

}  // namespace internal
}  // namespace pgstack::jobs
