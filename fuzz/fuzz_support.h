// What every fuzz target shares: a failed invariant aborts, which libFuzzer reports as a
// crash and saves the input (docs/testing.md#fuzzing), and the checks on error messages.
//
//   fuzz::require(next > t, "next_after went backwards", expression);
//   fuzz::require_clear_message(error.what(), "invalid cron expression", input);
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace pgstack::fuzz {

// The input as text, exactly (NULs and invalid UTF-8 included).
inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

[[noreturn]] inline void fail(std::string_view what, std::string_view detail) {
  std::fprintf(stderr, "\nfuzz invariant broken: %.*s\n  detail: %.*s\n", static_cast<int>(what.size()), what.data(),
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

inline void require(bool ok, std::string_view what, std::string_view detail = {}) {
  if (!ok) fail(what, detail);
}

// An error a user reads says what failed in pgstack's words: it is not empty, starts as
// it should, and passes on no library's raw text ("[json.exception.type_error.302] ...",
// libstdc++'s "stod"). Such text that the input itself holds is only echoed, not raw.
// (Markers a message could form from input and its own punctuation, like "std::" from
// a name "std:" and ": ", would be false alarms: none of these ends in punctuation.)
inline void require_clear_message(std::string_view message, std::string_view must_start_with, std::string_view input) {
  require(!message.empty(), "an error has no message");
  require(message.starts_with(must_start_with), "an error does not start as it should", message);
  for (std::string_view raw : {"[json.exception", "stod", "basic_string", "bad_optional_access"})
    require(message.find(raw) == std::string_view::npos || input.find(raw) != std::string_view::npos,
            "an error passes on raw library text", message);
}

}  // namespace pgstack::fuzz
