// For tests that drive the built `pgstack` binary as a user would: run it with
// arguments (DATABASE_URL cleared, so the machine's own never leaks in), and read the
// JSON document a --json command printed.
//
//   auto r = pgstack::testing::run_cli(PGSTACK_CLI_PATH, {"status", "--dir", dir, "--json"});
//   ASSERT_EQ(r.code, 0) << r.output;
//   auto doc = pgstack::testing::json_of(r);
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pgstack/sys/process.h"

namespace pgstack::testing {

struct CliResult {
  int code;
  std::string output;  // stdout and stderr, interleaved
};

inline CliResult run_cli(const std::string& binary, const std::vector<std::string>& args, const std::string& cwd = {},
                         std::vector<std::string> env = {}) {
  std::vector<std::string> argv = {binary};
  argv.insert(argv.end(), args.begin(), args.end());
  env.insert(env.begin(), "DATABASE_URL=");
  auto r = sys::run(argv, {.env = env, .cwd = cwd, .timeout = std::chrono::seconds(300)});
  return {r.exit_code, r.output};
}

// The JSON document the command printed (after any NOTICE lines from libpq); a test
// failure when there is none.
inline nlohmann::json json_of(const CliResult& r) {
  auto pos = r.output.find("\n{");
  std::string text = r.output.starts_with("{") ? r.output : pos == std::string::npos ? "" : r.output.substr(pos + 1);
  auto doc = nlohmann::json::parse(text, nullptr, false);
  EXPECT_FALSE(doc.is_discarded()) << "not JSON: " << r.output;
  return doc;
}

}  // namespace pgstack::testing
