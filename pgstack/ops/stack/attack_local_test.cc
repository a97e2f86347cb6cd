// The stack as another local user would attack it: nobody reaches a socket, a file or a
// backup of the stack, and no login is trusted, not even over the socket (issue 14,
// item 1). One stack for the binary (security_fixture.h).
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "pgstack/ops/stack/backup.h"
#include "pgstack/ops/stack/pg_hba.h"
#include "pgstack/ops/stack/testing/security_fixture.h"
#include "pgstack/ops/stack/security_probe.h"
#include "pgstack/pg/connection.h"
#include "pgstack/sys/process.h"

namespace {

namespace fs = std::filesystem;
using pgstack::pg::Connection;
using security_probe::run_as_stranger;

std::string psql() { return pgstack::sys::find_program("psql").value_or("psql"); }

// A libpq keyword DSN over the stack's socket as the superuser, with no password source.
std::string socket_dsn(int port, const std::string& user, const std::string& db = "app") {
  return "host=" + StackSecurityTest::layout().run_dir().string() + " port=" + std::to_string(port) + " user=" + user + " dbname=" + db +
         " passfile=/nonexistent connect_timeout=5";
}

TEST_F(StackSecurityTest, AnotherLocalUserReachesNoSocketNoFileAndNoBackup) {
  if (!pgstack::sys::is_root()) GTEST_SKIP() << "needs root to act as another user (" << security_probe::kStranger << ")";
  const auto& l = layout();
  // The attack: the superuser over the socket, then COPY ... FROM PROGRAM.
  for (int port : {l.primary().port, l.standby()->port}) {
    auto r = run_as_stranger({psql(), "-X", "-w", socket_dsn(port, "postgres"), "-c",
                              "create temp table t(x text); copy t from program 'id'; select * from t"});
    EXPECT_NE(r.exit_code, 0) << "port " << port << ": " << r.output;
    EXPECT_EQ(r.output.find("uid="), std::string::npos) << r.output;
  }
  // PgBouncer's admin console (PAUSE app worked as nobody) and its pools.
  for (const char* db : {"pgbouncer", "app"}) {
    auto r = run_as_stranger({psql(), "-X", "-w", socket_dsn(l.pgbouncer.port, "postgres", db), "-c", "PAUSE app"});
    EXPECT_NE(r.exit_code, 0) << db << ": " << r.output;
  }
  // Over TCP there is no way in without a password either (TLS and SCRAM).
  for (int port : {l.primary().port, l.standby()->port, l.pgbouncer.port}) {
    auto r = run_as_stranger({psql(), "-X", "-w",
                              "host=127.0.0.1 port=" + std::to_string(port) +
                                  " user=postgres dbname=app sslmode=require passfile=/nonexistent connect_timeout=5",
                              "-c", "select 1"});
    EXPECT_NE(r.exit_code, 0) << "port " << port << ": " << r.output;
  }
  // The stack's files: secrets, configuration, logs, the sockets' folder, backups.
  for (const auto& file : {l.credentials_file(), l.stack_file(), l.log_file(l.primary()),
                           l.pgbouncer_dir() / "userlist.txt", l.primary().dir / "server.key",
                           pgstack::stack::pgbackrest_config(l), l.dir / "backups"}) {
    auto r = run_as_stranger({"test", "-r", file.string()});
    EXPECT_NE(r.exit_code, 0) << file << " is readable by " << security_probe::kStranger;
  }
  auto ls = run_as_stranger({"ls", l.run_dir().string()});
  EXPECT_NE(ls.exit_code, 0) << ls.output;
  // pgBackRest as another user: neither its configuration nor the repository.
  auto info = run_as_stranger({pgstack::stack::pgbackrest_program(),
                               "--config=" + pgstack::stack::pgbackrest_config(l).string(), "--stanza=pgstack", "info"});
  EXPECT_NE(info.exit_code, 0) << info.output;
  EXPECT_EQ(info.output.find("full backup"), std::string::npos) << info.output;
}

TEST_F(StackSecurityTest, NothingInTheStacksFolderIsOpenToOtherUsers) {
  const auto& l = layout();
  struct stat st {};
  ASSERT_EQ(::lstat(l.dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0007, 0u) << l.dir << " is open to others";
  std::error_code ec;
  int checked = 0;
  for (auto it = fs::recursive_directory_iterator(l.dir, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    ASSERT_EQ(::lstat(it->path().c_str(), &st), 0) << it->path();
    if (S_ISLNK(st.st_mode)) continue;  // a symlink's own mode means nothing
    EXPECT_EQ(st.st_mode & 0007, 0u) << it->path() << " has mode " << std::oct << (st.st_mode & 07777);
    ++checked;
  }
  EXPECT_GT(checked, 100) << "the walk saw too little of the stack";
  for (const auto& secret : {l.credentials_file(), l.pgbouncer_dir() / "userlist.txt", l.primary().dir / "server.key",
                             pgstack::stack::pgbackrest_config(l)}) {
    ASSERT_EQ(::stat(secret.c_str(), &st), 0) << secret;
    EXPECT_EQ(st.st_mode & 0077, 0u) << secret << " is readable by the group";
  }
}

TEST_F(StackSecurityTest, NoLoginIsTrustedNotEvenOverTheSocket) {
  const auto& l = layout();
  for (const auto* c : {&l.primary(), l.standby()}) {
    Connection super(l.dsn(c));
    EXPECT_EQ(super.query_value<std::int64_t>("select count(*) from pg_hba_file_rules where auth_method = 'trust' "
                                              "or error is not null"),
              0)
        << c->name;
    // The superuser and replication come in over the socket by peer, through the map.
    EXPECT_EQ(super.query_value<std::int64_t>(
                  "select count(*) from pg_hba_file_rules where type = 'local' and 'postgres' = any(user_name) "
                  "and (auth_method <> 'peer' or options <> array['map=pgstack'])"),
              0)
        << c->name;
    auto mapped = super.query_value<std::string>(
        "select string_agg(sys_name || '>' || pg_username, ',' order by sys_name) from pg_ident_file_mappings "
        "where error is null");
    std::string expected;
    auto users = pgstack::stack::operator_os_users();
    std::sort(users.begin(), users.end());
    for (const auto& u : users) expected += (expected.empty() ? "" : ",") + u + ">postgres";
    EXPECT_EQ(mapped, expected) << c->name;
  }
  // The socket wants a password from every other role, the operator's OS user included.
  EXPECT_THROW(Connection{socket_dsn(l.primary().port, "app")}, pgstack::Error);
  EXPECT_THROW(Connection{socket_dsn(l.primary().port, "migrations")}, pgstack::Error);
  // PgBouncer's admin console wants the superuser's password, even from root on the socket.
  EXPECT_THROW(Connection({.dsn = socket_dsn(l.pgbouncer.port, "postgres", "pgbouncer"), .statement_cache = false}),
               pgstack::Error);
  Connection admin({.dsn = l.pgbouncer_admin_dsn(), .statement_cache = false});
  EXPECT_FALSE(admin.simple_query("SHOW VERSION").rows.empty());
  struct stat st {};
  for (int port : {l.primary().port, l.standby()->port, l.pgbouncer.port}) {
    auto socket = l.run_dir() / (".s.PGSQL." + std::to_string(port));
    ASSERT_EQ(::stat(socket.c_str(), &st), 0) << socket;
    EXPECT_EQ(st.st_mode & 0777, 0770u) << socket;
  }
}

}  // namespace
