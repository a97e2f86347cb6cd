// The job queue's statements and result decoding, kept out of JobQueue's templates
// (job_queue.h), which are all callers should use. Internal: not part of the API, and
// free to change in any release.
#pragma once

#include <optional>
#include <vector>

#include "pgstack/jobs/job.h"
#include "pgstack/pg/params.h"
#include "pgstack/pg/result.h"

namespace pgstack::jobs::internal {

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

}  // namespace pgstack::jobs::internal
