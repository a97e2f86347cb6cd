// Memory sizes (pgstack tune --memory, pgstack/ops/tune/tune.h): parse_memory and
// format_memory. Beyond not crashing: format_memory's text parses back, and the two
// round-trip — parse(format(b)) is b floored to what format keeps, and formatting that
// again gives the same text.
#include "fuzz/fuzz_support.h"
#include "pgstack/ops/tune/tune.h"

using namespace pgstack::tune;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 64) return 0;
  const auto text = pgstack::fuzz::as_text(data, size);
  auto bytes = parse_memory(text);
  if (!bytes) return 0;
  const std::string formatted = format_memory(*bytes);
  auto again = parse_memory(formatted);
  pgstack::fuzz::require(again.has_value(), "format_memory's text does not parse", formatted);
  pgstack::fuzz::require(*again <= *bytes, "format_memory rounds up", formatted);
  pgstack::fuzz::require(*bytes - *again < kMiB, "format_memory loses a MB or more", formatted);
  pgstack::fuzz::require(format_memory(*again) == formatted, "format, parse, format is not stable", formatted);
  return 0;
}
