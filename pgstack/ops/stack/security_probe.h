// Small tools for the security suite's attacks (attack_*_test.cc, catalog_policy_test.cc):
// run a statement and report the SQLSTATE it failed with, and run a program as an
// unrelated local user.
//
//   pgstack::pg::Connection app(layout().role_dsn("app"));
//   app.execute_script("begin");
//   EXPECT_EQ(sqlstate_of(app, "delete from pgstack.schema_migrations"), "42501");
#pragma once

#include <string>
#include <vector>

#include "pgstack/pg/connection.h"
#include "pgstack/pg/errors.h"
#include "pgstack/sys/process.h"

namespace security_probe {

// Runs sql inside a savepoint of the open transaction on conn; "" when it succeeded
// (the savepoint is then released), else the SQLSTATE it failed with (rolled back to
// the savepoint, so the transaction goes on).
inline std::string sqlstate_of(pgstack::pg::Connection& conn, const std::string& sql) {
  conn.execute_script("savepoint probe");
  try {
    conn.execute_script(sql);
  } catch (const pgstack::pg::SqlError& e) {
    conn.execute_script("rollback to savepoint probe");
    return e.sqlstate().empty() ? "?" : e.sqlstate();
  }
  conn.execute_script("release savepoint probe");
  return "";
}

// The unrelated local user attacks run as: nobody has no group or file in common with
// the stack.
inline constexpr const char* kStranger = "nobody";

// Runs argv as kStranger (from /, which it may enter); needs root.
inline pgstack::sys::RunResult run_as_stranger(const std::vector<std::string>& argv) {
  return pgstack::sys::run(argv, {.as_user = kStranger, .cwd = "/", .timeout = std::chrono::seconds(30)});
}

}  // namespace security_probe
