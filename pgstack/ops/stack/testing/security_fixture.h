// One real stack (`pgstack up` in a temp folder) shared by every StackSecurityTest of
// the binary: the baseline tests (security_test.cc) and the attacks on it
// (attack_local_test.cc, attack_roles_test.cc, catalog_policy_test.cc). Made once for
// the suite, stopped and removed after it.
//
//   TEST_F(StackSecurityTest, Something) { pgstack::pg::Connection app(layout().role_dsn("app")); ... }
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "pgstack/ops/stack/stack.h"
#include "pgstack/sys/process.h"

class StackSecurityTest : public ::testing::Test {
 public:
  static const pgstack::stack::ClusterLayout& layout() { return report_->layout; }

 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/pgstack-sec-XXXXXX";
    root_ = new std::filesystem::path(::mkdtemp(tmpl));
    // The server user passes through to the stack's folder, as through a home folder.
    std::filesystem::permissions(*root_, std::filesystem::perms::owner_all | std::filesystem::perms::others_exec |
                                             std::filesystem::perms::group_exec);
    report_ = new pgstack::stack::UpReport(
        pgstack::stack::up({.dir = *root_ / ".pgstack", .port = pgstack::sys::free_tcp_ports(3)}));
  }
  static void TearDownTestSuite() {
    try {
      pgstack::stack::down({.dir = *root_ / ".pgstack"});
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
    }
    std::filesystem::remove_all(*root_);
    delete report_;
    delete root_;
  }
  static inline std::filesystem::path* root_ = nullptr;
  static inline pgstack::stack::UpReport* report_ = nullptr;
};
