// The security baseline `up` builds (docs/stack.md), end to end against one real stack
// in a temp folder shared by every StackSecurityTest of this binary (security_fixture.h):
// TLS, SCRAM, roles, privileges, credentials, extensions, and that a second `up`
// changes nothing. The attacks are in attack_local_test.cc, attack_roles_test.cc and
// catalog_policy_test.cc.
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "pgstack/ops/stack/postgres_server.h"
#include "pgstack/ops/stack/testing/security_fixture.h"
#include "pgstack/ops/stack/roles.h"
#include "pgstack/ops/stack/stack.h"
#include "pgstack/pg/connection.h"
#include "pgstack/pg/errors.h"
#include "pgstack/sys/process.h"

namespace {

namespace fs = std::filesystem;
using pgstack::pg::Connection;
using namespace pgstack::stack;

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}


TEST_F(StackSecurityTest, RolesConnectOverTlsWithScramAndPlainTcpIsRejected) {
  Connection app(layout().role_dsn("app"));
  EXPECT_TRUE(app.query_value<bool>("select ssl from pg_stat_ssl where pid = pg_backend_pid()"));
  EXPECT_EQ(app.query_value<std::string>("select current_user"), "app");
  EXPECT_EQ(app.query_value<std::string>("show statement_timeout"), "30s");
  EXPECT_EQ(app.query_value<std::string>("show password_encryption"), "scram-sha-256");
  Connection migrations(layout().role_dsn("migrations"));
  EXPECT_EQ(migrations.query_value<std::string>("show lock_timeout"), "5s");

  Connection super(layout().dsn());
  EXPECT_EQ(super.query_value<std::int64_t>(
                "select count(*) from pg_authid where rolname in ('app', 'migrations', 'app_reader', 'postgres') "
                "and rolpassword like 'SCRAM-SHA-256$%'"),
            4);

  // Without TLS, TCP is refused whatever the password.
  auto plain = "postgresql://app@127.0.0.1:" + std::to_string(layout().primary().port) +
               "/app?sslmode=disable&passfile=" + layout().credentials_file().string();
  EXPECT_THROW(Connection{plain}, pgstack::Error);

  // The credentials file: private, one line per login role; its passwords work as given.
  struct stat st {};
  ASSERT_EQ(::stat(layout().credentials_file().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto passwords = read_credentials(layout().credentials_file());
  for (const char* role : {"postgres", "app", "migrations", "app_reader"}) {
    ASSERT_TRUE(passwords.count(role)) << role;
    EXPECT_EQ(passwords[role].size(), 32u);
    auto dsn = "postgresql://" + std::string(role) + ":" + passwords[role] + "@127.0.0.1:" +
               std::to_string(layout().primary().port) + "/app?sslmode=require&passfile=/nonexistent";
    EXPECT_EQ(Connection(dsn).query_value<std::string>("select current_user"), role);
  }
  auto wrong = "postgresql://app:not-the-password@127.0.0.1:" + std::to_string(layout().primary().port) +
               "/app?sslmode=require&passfile=/nonexistent";
  EXPECT_THROW(Connection{wrong}, pgstack::Error);

  // The key is the server's alone.
  ASSERT_EQ(::stat((layout().primary().dir / "server.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(StackSecurityTest, OnlyMigrationsCreatesInPublicAndAppReaderOnlyReads) {
  Connection app(layout().role_dsn("app"));
  EXPECT_THROW(app.execute_script("create table public.by_app (id int)"), pgstack::Error);

  Connection migrations(layout().role_dsn("migrations"));
  migrations.execute_script(
      "create table public.items (id bigint generated always as identity primary key, name text not null)");
  app.execute_script("insert into items (name) values ('written by app')");
  app.execute_script("update items set name = name");

  Connection reader(layout().role_dsn("app_reader"));
  EXPECT_EQ(reader.query_value<std::string>("select name from items"), "written by app");
  try {
    reader.execute_script("set default_transaction_read_only = off");  // past the role's setting, to the privileges
    reader.execute_script("insert into items (name) values ('no')");
    ADD_FAILURE() << "app_reader could write";
  } catch (const pgstack::Error& e) {
    EXPECT_NE(std::string(e.what()).find("permission denied"), std::string::npos) << e.what();
  }
  EXPECT_THROW(reader.execute_script("create table public.by_reader (id int)"), pgstack::Error);
}

TEST_F(StackSecurityTest, ExtensionsExistAndASecondUpChangesNothing) {
  Connection super(layout().dsn());
  for (const char* ext : {"pg_stat_statements", "pg_trgm", "pgcrypto", "pg_partman"}) {
    EXPECT_EQ(super.query_value<std::int64_t>("select count(*) from pg_extension where extname = $1", std::string(ext)), 1)
        << ext;
  }
  EXPECT_EQ(super.query_value<std::string>(
                "select n.nspname::text from pg_extension e join pg_namespace n on n.oid = e.extnamespace "
                "where e.extname = 'pg_partman'"),
            "partman");
  if (pg_cron_installed()) {
    EXPECT_EQ(super.query_value<std::int64_t>("select count(*) from pg_extension where extname = 'pg_cron'"), 1);
  }

  const auto credentials = read_text(layout().credentials_file());
  const auto cert = read_text(layout().primary().dir / "server.crt");
  auto again = up({.dir = layout().dir});
  EXPECT_TRUE(again.actions.empty()) << ::testing::PrintToString(again.actions);
  EXPECT_EQ(read_text(layout().credentials_file()), credentials);
  EXPECT_EQ(read_text(layout().primary().dir / "server.crt"), cert);

  // A stack from before (trust everywhere) is brought back to the baseline by up.
  {
    std::ofstream hba(layout().primary().dir / "pg_hba.conf", std::ios::trunc);
    hba << "local all all trust\nlocal replication all trust\nhost all all 127.0.0.1/32 trust\n";
  }
  super.execute_script("select pg_reload_conf()");
  auto upgraded = up({.dir = layout().dir});
  EXPECT_FALSE(upgraded.actions.empty());
  auto plain = "postgresql://app@127.0.0.1:" + std::to_string(layout().primary().port) + "/app?sslmode=disable";
  EXPECT_THROW(Connection{plain}, pgstack::Error);
  EXPECT_TRUE(up({.dir = layout().dir}).actions.empty());
}

}  // namespace
