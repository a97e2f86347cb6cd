// Rate limiting in PostgreSQL (GCRA, one statement per decision, exact under
// concurrency across every process): docs/ratelimit.md.
//
//   pgstack::ratelimit::Limiter limiter{pool};
//   auto d = limiter.allow("ip:203.0.113.7", {.rate = 100, .per = std::chrono::minutes{1}});
//   if (!d.allowed) reply_429(d.retry_after);
//
//   // Counted only if the request's own writes commit:
//   pgstack::ratelimit::Limiter{tx}.allow("signup:" + email, {.rate = 3, .per = std::chrono::hours{1}});
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "pgstack/pg/executor.h"

namespace pgstack::ratelimit {

struct Limit {
  std::int32_t rate = 0;                  // requests ...
  std::chrono::microseconds per{0};       // ... per this interval
  std::int32_t burst = 0;                 // at most this many at once; 0: rate
  std::int32_t cost = 1;                  // what this request counts for; 0 only looks
};

struct Decision {
  bool allowed = false;
  std::int32_t remaining = 0;              // requests of cost 1 still allowed now
  std::chrono::microseconds retry_after{0};  // when this request would be allowed (0 when it was)
  std::chrono::microseconds reset_after{0};  // when the bucket is full again
};

class Limiter {
 public:
  // On a pool, or inside the caller's connection or transaction (pg/executor.h): then
  // the decision commits or rolls back with the caller's own rows.
  explicit Limiter(pg::Executor db) noexcept : db_(db) {}

  // Throws pgstack::pg::SqlError (22023) for a limit that makes no sense: rate < 1,
  // per <= 0, or a cost above the burst.
  Decision allow(std::string_view key, const Limit& limit);
  // Forgets the key: its next request finds a full bucket.
  bool reset(std::string_view key);

 private:
  pg::Executor db_;
};

}  // namespace pgstack::ratelimit
