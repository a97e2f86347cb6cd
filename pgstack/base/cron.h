// Cron expressions with seconds, for periodic jobs. Six fields (second minute hour
// day-of-month month day-of-week) or the usual five (second 0). Each field: *, a
// number, a range a-b, a list a,b,c, and steps */n or a-b/n; months and weekdays also
// by name (jan..dec, sun..sat; 0 and 7 are Sunday). When both day fields are
// restricted, a day matching either runs (as in Vixie cron). Times are UTC.
//
//   auto every_5s = pgstack::CronSchedule::parse("*/5 * * * * *");
//   auto next = every_5s.next_after(std::chrono::system_clock::now());
#pragma once
#include <bitset>
#include <chrono>
#include <string>
#include <string_view>

namespace pgstack {

class CronSchedule {
 public:
  // Throws UsageError saying which field is wrong and why.
  static CronSchedule parse(std::string_view expression);

  // The first time strictly after t (whole seconds) that matches; throws when none
  // exists within five years (e.g. "0 0 0 30 2 *", February 30th).
  std::chrono::system_clock::time_point next_after(std::chrono::system_clock::time_point t) const;

  const std::string& expression() const noexcept { return expression_; }

 private:
  std::string expression_;
  std::bitset<60> seconds_, minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_of_month_;  // 1..31
  std::bitset<13> months_;         // 1..12
  std::bitset<7> days_of_week_;    // 0 = Sunday
  bool any_day_of_month_ = true, any_day_of_week_ = true;
};

}  // namespace pgstack
