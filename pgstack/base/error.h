// The base of every exception pgstack throws, and the one for a caller's mistake. The
// driver's server errors (pg/errors.h) derive from Error too, so one catch handles all.
//
//   try { auto schedule = pgstack::CronSchedule::parse(text); }
//   catch (const pgstack::UsageError& e) { std::cerr << e.what() << "\n"; }   // bad input
//   catch (const pgstack::Error& e) { ... }                                  // anything else
#pragma once

#include <stdexcept>

namespace pgstack {

// Base of every exception pgstack throws.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The caller used an API wrongly: a wrong type requested from a column, a bad argument,
// input that does not parse. Fix the calling code or the input; retrying will not help.
class UsageError : public Error {
 public:
  using Error::Error;
};

}  // namespace pgstack
