#include "pgstack/ratelimit/limiter.h"

#include <optional>

namespace pgstack::ratelimit {

Decision Limiter::allow(std::string_view key, const Limit& limit) {
  std::optional<std::int32_t> burst;
  if (limit.burst != 0) burst = limit.burst;
  auto r = db_.query(
      "select allowed, remaining, (extract(epoch from retry_after) * 1000000)::int8, "
      "(extract(epoch from reset_after) * 1000000)::int8 "
      "from pgstack.rate_limit($1, $2, $3 * interval '1 microsecond', $4, $5)",
      key, limit.rate, static_cast<std::int64_t>(limit.per.count()), burst, limit.cost);
  return {.allowed = r[0].get<bool>(0),
          .remaining = r[0].get<std::int32_t>(1),
          .retry_after = std::chrono::microseconds(r[0].get<std::int64_t>(2)),
          .reset_after = std::chrono::microseconds(r[0].get<std::int64_t>(3))};
}

bool Limiter::reset(std::string_view key) {
  return db_.query_value<bool>("select pgstack.rate_limit_reset($1)", key);
}

}  // namespace pgstack::ratelimit
