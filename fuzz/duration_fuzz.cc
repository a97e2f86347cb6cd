// The CLI's durations (--ttl, --interval, --timeout: pgstack/cli/cli_context.h). Beyond
// not crashing: a duration is accepted or refused with BadUsage naming the option, and
// an accepted one is from 1 ms to kLongestDurationDays, as the function promises.
#include <chrono>

#include "fuzz/fuzz_support.h"
#include "pgstack/cli/cli_context.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 64) return 0;
  const auto text = pgstack::fuzz::as_text(data, size);
  std::chrono::microseconds d;
  try {
    d = pgstack::cli::parse_duration(text, "--ttl");
  } catch (const pgstack::cli::BadUsage& e) {
    pgstack::fuzz::require_clear_message(e.what(), "--ttl '", text);
    return 0;
  }
  pgstack::fuzz::require(d >= std::chrono::milliseconds(1), "an accepted duration is below 1ms", text);
  pgstack::fuzz::require(d <= std::chrono::hours(24LL * pgstack::cli::kLongestDurationDays),
                         "an accepted duration is above the longest", text);
  return 0;
}
