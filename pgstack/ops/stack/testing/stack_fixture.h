// For tests: a real stack (primary, standby, PgBouncer, pgBackRest) made by `up` in a
// temp folder once per test suite, and stopped and removed after it. Suites derive
// from it; each test binary runs in its own process, so the stack is theirs alone.
//
//   class PgBouncerTest : public pgstack::stack::StackFixture {};
//   TEST_F(PgBouncerTest, Works) { pg::Connection c(layout().dsn()); ... }
#pragma once

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "pgstack/ops/stack/stack.h"
#include "pgstack/sys/process.h"

namespace pgstack::stack {

class StackFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { start_stack(); }
  // A suite that needs a pgstack.toml calls this from its own SetUpTestSuite.
  static void start_stack(const std::string& pgstack_toml = "") {
    char tmpl[] = "/tmp/pgstack-stack-XXXXXX";
    root_ = ::mkdtemp(tmpl);
    // The server user must pass through it to the stack's folders.
    std::filesystem::permissions(root_, std::filesystem::perms::owner_all | std::filesystem::perms::others_read |
                                            std::filesystem::perms::others_exec);
    try {
      const auto started = std::chrono::steady_clock::now();
      std::optional<std::filesystem::path> config;
      if (!pgstack_toml.empty()) {
        config = root_ / "pgstack.toml";
        std::ofstream(*config) << pgstack_toml;
      }
      report_ = up({.dir = root_ / "stack", .port = sys::free_tcp_ports(3), .config = config});
      up_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    } catch (const std::exception& e) {
      setup_error_ = e.what();  // each test then fails with it, rather than the binary aborting
    }
  }
  static void TearDownTestSuite() {
    try {
      down({.dir = root_ / "stack"});
    } catch (const std::exception&) {
      // Best effort: the folder goes anyway, and the harness' sweep stops what is left.
    }
    std::filesystem::remove_all(root_);
  }
  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << "pgstack up failed: " << setup_error_; }
  static const ClusterLayout& layout() { return report_.layout; }
  static const UpReport& first_up() { return report_; }

  static inline std::filesystem::path root_;
  static inline UpReport report_;
  static inline double up_seconds_ = 0;  // how long the first up took
  static inline std::string setup_error_;
};

}  // namespace pgstack::stack
