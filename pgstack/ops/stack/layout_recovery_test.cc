// A lost or broken stack.json (issue 14, item 10): the layout is rebuilt from the running
// servers' own files, never replaced by defaults — which once moved a running primary's
// pgstack.conf back to the default port. Runs on the binary's shared stack
// (security_fixture.h), whose ports are not the defaults.
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "pgstack/ops/stack/layout_recovery.h"
#include "pgstack/ops/stack/testing/security_fixture.h"
#include "pgstack/ops/stack/stack.h"
#include "pgstack/pg/connection.h"
#include "pgstack/base/files.h"

namespace {

namespace fs = std::filesystem;
using pgstack::stack::ClusterLayout;

std::string read(const fs::path& file) { return pgstack::read_text_file(file.string()); }

TEST_F(StackSecurityTest, TheLayoutIsRebuiltFromTheServersFilesNotFromDefaults) {
  const auto& made = layout();
  ASSERT_NE(made.primary().port, pgstack::stack::kDefaultPort);
  auto rebuilt = pgstack::stack::recover_layout(made.dir);
  ASSERT_TRUE(rebuilt.has_value());
  EXPECT_EQ(rebuilt->to_json(), made.to_json()) << rebuilt->to_json().dump(2);
}

TEST_F(StackSecurityTest, ABrokenStackFileIsRefusedByCommandsAndRebuiltByUpWithTheServersUntouched) {
  const auto& made = layout();
  const auto stack_file = made.stack_file();
  const auto saved = read(stack_file);
  const auto conf = made.primary().dir / "pgstack.conf";
  const auto conf_before = read(conf);
  pgstack::pg::Connection before(made.dsn());
  const auto postmaster = before.query_value<std::int64_t>("select pid from pg_stat_activity where backend_type = "
                                                           "'checkpointer'");

  std::ofstream(stack_file, std::ios::trunc) << "{\"components\": [";  // half-written, as after a full disk
  try {
    ClusterLayout::load(made.dir);
    ADD_FAILURE() << "a broken stack.json was read";
  } catch (const std::exception& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("stack.json is not a valid stack file"), std::string::npos) << what;
    EXPECT_NE(what.find("pgstack up"), std::string::npos) << what;
    EXPECT_EQ(what.find("json.exception"), std::string::npos) << what;
    EXPECT_EQ(what.find("remove it"), std::string::npos) << "removing it is what once lost the ports: " << what;
  }

  // What the error says to do.
  auto report = pgstack::stack::up({.dir = made.dir});
  EXPECT_TRUE(report.was_running);
  EXPECT_EQ(report.layout.primary().port, made.primary().port);
  EXPECT_EQ(report.layout.standby()->port, made.standby()->port);
  EXPECT_EQ(report.layout.pgbouncer.port, made.pgbouncer.port);
  EXPECT_EQ(read(conf), conf_before) << "the running primary's settings were rewritten";
  EXPECT_EQ(read(stack_file), saved);
  EXPECT_TRUE(fs::exists(stack_file.string() + ".broken"));
  bool said = false;
  for (const auto& a : report.actions) said = said || a.find("rebuilt the stack's layout") != std::string::npos;
  EXPECT_TRUE(said);
  pgstack::pg::Connection after(made.dsn());
  EXPECT_EQ(after.query_value<std::int64_t>("select pid from pg_stat_activity where backend_type = 'checkpointer'"),
            postmaster)
      << "the primary was restarted";
  fs::remove(stack_file.string() + ".broken");

  // A lost file is rebuilt the same way.
  fs::remove(stack_file);
  auto reloaded = ClusterLayout::load(made.dir);
  ASSERT_TRUE(reloaded.has_value());
  EXPECT_EQ(reloaded->primary().port, made.primary().port);
  EXPECT_NE(reloaded->rebuilt_because.find("missing"), std::string::npos);
  reloaded->save();
  EXPECT_EQ(read(stack_file), saved);
}

}  // namespace
