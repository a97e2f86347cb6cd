#include "pgstack/base/cron.h"

#include <array>
#include <charconv>
#include <ctime>
#include <vector>

#include <fmt/format.h>

#include "pgstack/base/error.h"

namespace pgstack {



namespace {

constexpr std::array<const char*, 6> kFieldNames{"second", "minute", "hour", "day of month", "month", "day of week"};
constexpr std::array<const char*, 12> kMonthNames{"jan", "feb", "mar", "apr", "may", "jun",
                                                  "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<const char*, 7> kDayNames{"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

struct FieldSpec {
  int min, max;
  int field;  // index into kFieldNames
};

[[noreturn]] void bad(std::string_view expression, const FieldSpec& spec, std::string_view part, std::string_view why) {
  throw UsageError(fmt::format("invalid cron expression '{}': {} field '{}' {}", expression, kFieldNames[spec.field],
                               part, why));
}

int parse_value(std::string_view expression, const FieldSpec& spec, std::string_view text) {
  std::string lower;
  for (char c : text) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (spec.field == 4)
    for (int i = 0; i < 12; ++i)
      if (lower == kMonthNames[i]) return i + 1;
  if (spec.field == 5)
    for (int i = 0; i < 7; ++i)
      if (lower == kDayNames[i]) return i;
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty())
    bad(expression, spec, text, "is not a number");
  if (value < spec.min || value > spec.max)
    bad(expression, spec, text, fmt::format("is out of range ({}-{})", spec.min, spec.max));
  return value;
}

// Sets the bits of one field; returns false when the field is '*' (unrestricted).
template <std::size_t N>
bool parse_field(std::string_view expression, const FieldSpec& spec, std::string_view field, std::bitset<N>& bits) {
  bool restricted = false;
  std::size_t start = 0;
  while (start <= field.size()) {
    auto comma = field.find(',', start);
    auto part = field.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (part.empty()) bad(expression, spec, field, "has an empty list element");
    int step = 1;
    auto slash = part.find('/');
    auto range = part.substr(0, slash);
    if (slash != std::string_view::npos) {
      auto step_text = part.substr(slash + 1);
      auto [end, ec] = std::from_chars(step_text.data(), step_text.data() + step_text.size(), step);
      if (ec != std::errc() || end != step_text.data() + step_text.size() || step < 1 || step > spec.max)
        bad(expression, spec, part, "has an invalid step");
    }
    int lo = spec.min, hi = spec.max;
    if (range == "*") {
      if (slash != std::string_view::npos) restricted = true;
    } else {
      restricted = true;
      auto dash = range.find('-');
      if (dash == std::string_view::npos) {
        lo = parse_value(expression, spec, range);
        hi = slash == std::string_view::npos ? lo : spec.max;
      } else {
        lo = parse_value(expression, spec, range.substr(0, dash));
        hi = parse_value(expression, spec, range.substr(dash + 1));
        if (hi < lo) bad(expression, spec, part, "is a range that ends before it starts");
      }
    }
    for (int v = lo; v <= hi; v += step) bits.set(static_cast<std::size_t>(spec.field == 5 && v == 7 ? 0 : v));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return restricted;
}

}  // namespace

CronSchedule CronSchedule::parse(std::string_view expression) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < expression.size()) {
    while (i < expression.size() && std::isspace(static_cast<unsigned char>(expression[i]))) ++i;
    std::size_t j = i;
    while (j < expression.size() && !std::isspace(static_cast<unsigned char>(expression[j]))) ++j;
    if (j > i) fields.push_back(expression.substr(i, j - i));
    i = j;
  }
  const auto given = fields.size();
  if (given == 5) fields.insert(fields.begin(), "0");
  if (fields.size() != 6)
    throw UsageError(fmt::format(
        "invalid cron expression '{}': it has {} fields; give 6 (second minute hour day-of-month month day-of-week) "
        "or 5 (without seconds)", expression, given));
  CronSchedule s;
  s.expression_ = std::string(expression);
  parse_field(expression, {0, 59, 0}, fields[0], s.seconds_);
  parse_field(expression, {0, 59, 1}, fields[1], s.minutes_);
  parse_field(expression, {0, 23, 2}, fields[2], s.hours_);
  s.any_day_of_month_ = !parse_field(expression, {1, 31, 3}, fields[3], s.days_of_month_);
  parse_field(expression, {1, 12, 4}, fields[4], s.months_);
  s.any_day_of_week_ = !parse_field(expression, {0, 7, 5}, fields[5], s.days_of_week_);
  return s;
}

std::chrono::system_clock::time_point CronSchedule::next_after(std::chrono::system_clock::time_point t) const {
  using namespace std::chrono;
  auto secs = floor<seconds>(t) + seconds(1);
  const auto limit = secs + hours(24 * 366 * 5);
  while (secs < limit) {
    auto day = floor<days>(secs);
    year_month_day ymd{day};
    hh_mm_ss hms{secs - day};
    unsigned month = static_cast<unsigned>(ymd.month());
    if (!months_.test(month)) {  // first day of next month
      auto next = year_month_day{ymd.year() / ymd.month() / 1} + months(1);
      secs = sys_days(next);
      continue;
    }
    unsigned dom = static_cast<unsigned>(ymd.day());
    unsigned dow = weekday(day).c_encoding();
    bool dom_ok = days_of_month_.test(dom), dow_ok = days_of_week_.test(dow);
    bool day_ok = any_day_of_month_ && any_day_of_week_ ? true
                  : any_day_of_month_                   ? dow_ok
                  : any_day_of_week_                    ? dom_ok
                                                        : (dom_ok || dow_ok);
    if (!day_ok) {
      secs = day + days(1);
      continue;
    }
    if (!hours_.test(static_cast<std::size_t>(hms.hours().count()))) {
      secs = day + hms.hours() + hours(1);
      continue;
    }
    if (!minutes_.test(static_cast<std::size_t>(hms.minutes().count()))) {
      secs = day + hms.hours() + hms.minutes() + minutes(1);
      continue;
    }
    if (!seconds_.test(static_cast<std::size_t>(hms.seconds().count()))) {
      secs += seconds(1);
      continue;
    }
    return secs;
  }
  throw UsageError(fmt::format("cron expression '{}' never matches in the next five years", expression_));
}

}  // namespace pgstack
