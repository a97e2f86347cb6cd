// `up`'s preflight, through the library: a disk too full to hold the stack is reported
// before anything is created or started. (A missing binary, a read-only folder and a
// port in use are covered end to end in cli_test.)
#include <unistd.h>

#include <gtest/gtest.h>

#include "pgstack/ops/stack/stack.h"
#include "pgstack/pg/errors.h"
#include "pgstack/sys/process.h"

namespace pgstack::stack {
namespace {

namespace fs = std::filesystem;

TEST(Preflight, AFullDiskIsReportedBeforeAnythingStarts) {
  char tmpl[] = "/tmp/pgstack-preflight-XXXXXX";
  const fs::path root = ::mkdtemp(tmpl);
  const auto dir = root / "stack";
  try {
    // More than any disk here has free: the file system is "full" for this stack.
    up({.dir = dir, .port = sys::free_tcp_ports(3), .min_free_bytes = std::uint64_t{1} << 60});
    ADD_FAILURE() << "up started on a disk without room for it";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("MiB free on the file system of " + root.string()), std::string::npos) << message;
    EXPECT_NE(message.find("nothing was started"), std::string::npos) << message;
  }
  EXPECT_FALSE(fs::exists(dir)) << "up created the stack's folder before its preflight passed";
  fs::remove_all(root);
}

}  // namespace
}  // namespace pgstack::stack
