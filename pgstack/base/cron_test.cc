// Cron expressions: fields, steps, names, the day-of-month/day-of-week rule, and errors.
#include "pgstack/base/cron.h"

#include <gtest/gtest.h>

#include "pgstack/base/error.h"

namespace pgstack {
namespace {

using namespace std::chrono;

sys_seconds at(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
  return sys_days(year(y) / mo / d) + hours(h) + minutes(mi) + seconds(s);
}

TEST(Cron, EveryFiveSecondsWithSecondsField) {
  auto c = CronSchedule::parse("*/5 * * * * *");
  EXPECT_EQ(c.next_after(at(2026, 11, 30, 12, 0, 0)), at(2026, 11, 30, 12, 0, 5));
  EXPECT_EQ(c.next_after(at(2026, 11, 30, 12, 0, 3) + milliseconds(400)), at(2026, 11, 30, 12, 0, 5));
  EXPECT_EQ(c.next_after(at(2026, 11, 30, 12, 0, 58)), at(2026, 11, 30, 12, 1, 0));
}

TEST(Cron, FiveFieldsMeanSecondZero) {
  auto c = CronSchedule::parse("30 3 * * *");
  EXPECT_EQ(c.next_after(at(2026, 11, 30, 12)), at(2026, 12, 1, 3, 30, 0));
}

TEST(Cron, RangesListsStepsAndNames) {
  auto c = CronSchedule::parse("0 0 9-17/4 * jan,jul mon-fri");
  // 2027-01-01 is a Friday: 09:00, 13:00, 17:00 that day, then Monday the 4th.
  EXPECT_EQ(c.next_after(at(2026, 11, 30)), at(2027, 1, 1, 9));
  EXPECT_EQ(c.next_after(at(2027, 1, 1, 9)), at(2027, 1, 1, 13));
  EXPECT_EQ(c.next_after(at(2027, 1, 1, 17)), at(2027, 1, 4, 9));
}

TEST(Cron, RestrictedDayFieldsMatchEither) {
  // The 13th of the month or any Friday.
  auto c = CronSchedule::parse("0 0 0 13 * 5");
  EXPECT_EQ(c.next_after(at(2026, 12, 1)), at(2026, 12, 4));   // Friday the 4th
  EXPECT_EQ(c.next_after(at(2026, 12, 11)), at(2026, 12, 13)); // Sunday the 13th
  EXPECT_EQ(CronSchedule::parse("0 0 0 * * 7").next_after(at(2026, 11, 30)), at(2026, 12, 6));  // 7 is Sunday
}

TEST(Cron, LeapDay) {
  EXPECT_EQ(CronSchedule::parse("0 0 0 29 2 *").next_after(at(2026, 11, 30)), at(2028, 2, 29));
}

TEST(Cron, BadExpressionsSayWhatIsWrong) {
  auto error_of = [](const char* expression) {
    try {
      CronSchedule::parse(expression);
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of("* * *").find("it has 3 fields"), std::string::npos) << error_of("* * *");
  EXPECT_NE(error_of("61 * * * * *").find("second field '61' is out of range (0-59)"), std::string::npos);
  EXPECT_NE(error_of("* 25 * * *").find("hour field '25' is out of range"), std::string::npos);
  EXPECT_NE(error_of("* * * * foo").find("day of week field 'foo' is not a number"), std::string::npos);
  EXPECT_NE(error_of("*/0 * * * * *").find("invalid step"), std::string::npos);
  EXPECT_NE(error_of("0 0 10-5 * * *").find("ends before it starts"), std::string::npos);
  EXPECT_NE(error_of("1,,2 * * * * *").find("empty list element"), std::string::npos);
  EXPECT_THROW(CronSchedule::parse("0 0 0 30 2 *").next_after(system_clock::now()), UsageError);
}

}  // namespace
}  // namespace pgstack
