// The jobs capability as cli, doctor, metrics and advise see it (capability.h);
// registered by pgstack_capability() in this folder's CMakeLists.txt.
#include <cstdint>

#include "pgstack/capability/capability.h"

namespace pgstack::jobs {

capability::Capability capability() {
  return {
      .name = "jobs",
      .title = "the job queue",
      .marker = "pgstack.job_queues",
      .thresholds = {
          // pgstack.jobs_health(): job_backlog and discarded_jobs.
          {.key = "job_oldest_available_seconds", .value = 300, .min = 0, .max = 30 * 86400},
          {.key = "discarded_jobs_per_hour", .value = 10, .min = 0, .max = double(std::int64_t{1} << 50), .integer = true},
      },
  };
}

}  // namespace pgstack::jobs
