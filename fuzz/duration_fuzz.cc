// The CLI's durations (--ttl, --interval, --timeout: pgstack/cli/cli_context.h). Beyond
// not crashing: a duration is accepted or refused with BadUsage naming the option, and
// an accepted one is positive, as the function promises ("zero or negative" are refused),
// and at most the 3e9 s it allows.
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
  pgstack::fuzz::require(d.count() > 0, "an accepted duration is not positive", text);
  pgstack::fuzz::require(d <= std::chrono::seconds(3'000'000'000LL), "an accepted duration is above 3e9 s", text);
  return 0;
}
