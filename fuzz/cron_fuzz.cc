// Cron expressions (pgstack/base/cron.h). Beyond not crashing: parsing throws nothing but
// UsageError naming the expression, and a schedule's next_after is consistent with
// itself — strictly later, on a whole second, the same from a re-parse of expression(),
// and the same when asked from just before the time it gave.
#include <chrono>
#include <optional>

#include "fuzz/fuzz_support.h"
#include "pgstack/base/cron.h"
#include "pgstack/pg/errors.h"

using namespace std::chrono;
using pgstack::CronSchedule;

namespace {

// A start time from the input's last bytes, 1970..2106 on whole seconds.
system_clock::time_point start_time(std::string_view text) {
  std::uint32_t s = 1767225600;  // 2026-01-01
  for (std::size_t i = text.size() >= 4 ? text.size() - 4 : 0; i < text.size(); ++i)
    s = (s << 8) | static_cast<unsigned char>(text[i]);
  return system_clock::time_point(seconds(s));
}

void check_next(const CronSchedule& schedule, system_clock::time_point t) {
  system_clock::time_point next;
  try {
    next = schedule.next_after(t);
  } catch (const pgstack::pg::UsageError& e) {
    pgstack::fuzz::require_clear_message(e.what(), "cron expression '", schedule.expression());
    return;  // never matches within five years (February 30th)
  }
  const std::string& expression = schedule.expression();
  pgstack::fuzz::require(next > t, "next_after is not after its argument", expression);
  pgstack::fuzz::require(next == floor<seconds>(next), "next_after is not on a whole second", expression);
  pgstack::fuzz::require(schedule.next_after(next - seconds(1)) == next,
                         "next_after from one second before its answer gives another answer", expression);
  pgstack::fuzz::require(CronSchedule::parse(expression).next_after(t) == next,
                         "a re-parse of expression() schedules differently", expression);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 256) return 0;  // an expression is short; longer inputs only slow the search
  const auto text = pgstack::fuzz::as_text(data, size);
  std::optional<CronSchedule> schedule;
  try {
    schedule = CronSchedule::parse(text);
  } catch (const pgstack::pg::UsageError& e) {
    pgstack::fuzz::require_clear_message(e.what(), "invalid cron expression '", text);
    return 0;
  }
  check_next(*schedule, start_time(text));
  return 0;
}
