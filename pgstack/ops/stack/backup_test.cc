// pgBackRest in the stack, end to end against one real stack in a temp folder shared by
// the suite's tests: `up` makes the stanza and a first full backup, WAL reaches the
// repository, a differential backup restores into a scratch folder where a second
// postgres reads the row back, a second `up` changes nothing; and the CLI's backup
// commands and status. The config writer is tested without servers.
#include "pgstack/ops/stack/backup.h"

#include <sys/stat.h>

#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pgstack/ops/stack/layout.h"
#include "pgstack/ops/stack/stack.h"
#include "pgstack/ops/stack/testing/stack_fixture.h"
#include "pgstack/pg/connection.h"
#include "pgstack/pg/errors.h"
#include "pgstack/base/files.h"
#include "pgstack/sys/process.h"
#include "pgstack/testing/cli_runner.h"

namespace pgstack::stack {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using pgstack::testing::json_of;

pgstack::testing::CliResult pgstack_cli(const std::vector<std::string>& args) {
  return pgstack::testing::run_cli(PGSTACK_CLI_PATH, args);
}

bool has_action(const std::vector<std::string>& actions, const std::string& part) {
  for (const auto& a : actions)
    if (a.find(part) != std::string::npos) return true;
  return false;
}

class BackupStackTest : public StackFixture {};

// A postgres on a restored copy, stopped whatever happens to the test.
class ScratchServer {
 public:
  // run_dir: a folder for the socket and the log, made here and given to the server user.
  ScratchServer(fs::path data, fs::path run_dir, int port)
      : data_(std::move(data)), port_(port), socket_dir_(std::move(run_dir)) {
    fs::create_directories(socket_dir_);
    sys::give_to_server_user(socket_dir_.string());
    const auto log = (socket_dir_ / "postgres.log").string();
    auto r = sys::run({sys::pg_binary("pg_ctl"), "start", "-w", "-t", "120", "-D", data_.string(), "-l", log, "-o",
                       fmt::format("-p {} -c listen_addresses='' -c unix_socket_directories={}", port_, socket_dir_.string())},
                      {.as_user = sys::server_user(), .timeout = 150s});
    started_ = r.exit_code == 0;
    output_ = r.output + pgstack::read_text_file(log);
  }
  ~ScratchServer() {
    sys::run({sys::pg_binary("pg_ctl"), "stop", "-m", "immediate", "-w", "-D", data_.string()},
             {.as_user = sys::server_user(), .timeout = 60s});
  }
  bool started() const { return started_; }
  const std::string& output() const { return output_; }
  std::string dsn() const { return fmt::format("postgresql://postgres@/app?host={}&port={}", socket_dir_.string(), port_); }

 private:
  fs::path data_;
  int port_;
  fs::path socket_dir_;
  bool started_ = false;
  std::string output_;
};

TEST_F(BackupStackTest, UpMakesTheStanzaArchivesWalAndTakesAFirstFullBackup) {
  EXPECT_TRUE(has_action(report_.actions, "created pgBackRest stanza pgstack")) << ::testing::PrintToString(report_.actions);
  ASSERT_TRUE(has_action(report_.actions, "first full backup")) << ::testing::PrintToString(report_.actions);
  for (const auto& a : report_.actions)
    if (a.find("first full backup") != std::string::npos) std::cout << "[ up took " << up_seconds_ << " s ] " << a << "\n";

  struct stat st {};
  ASSERT_EQ(::stat(pgbackrest_config(layout()).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "pgbackrest.conf may hold an S3 secret";
  EXPECT_NO_THROW(check_backups(layout()));

  auto backups = list_backups(layout());
  ASSERT_EQ(backups.size(), 1u);
  const auto& first = backups.front();
  EXPECT_EQ(first.type, BackupType::full);
  EXPECT_TRUE(first.label.ends_with("F")) << first.label;
  EXPECT_TRUE(first.prior.empty());
  EXPECT_GT(first.size, 1 << 20);
  EXPECT_GT(first.repo_size, 0);
  EXPECT_EQ(first.repo_delta, first.repo_size) << "a full backup stands alone";
  EXPECT_LT(first.repo_size, first.size) << "zstd compresses";
  EXPECT_EQ(first.wal_start.size(), 24u);
  EXPECT_GE(first.wal_stop, first.wal_start);
  EXPECT_LE(first.start, first.stop);

  // A WAL segment switched now reaches the repository, and nothing ever failed.
  pg::Connection primary(layout().dsn(nullptr, "postgres"));
  EXPECT_EQ(primary.query_value<std::string>("show archive_mode"), "on");
  primary.execute_script("create table if not exists wal_marker(id int); insert into wal_marker values (1)");
  const auto segment = primary.query_value<std::string>("select pg_walfile_name(pg_switch_wal())");
  ArchiveStatus archived;
  for (auto deadline = Clock::now() + 30s; Clock::now() < deadline;) {
    archived = archive_status(primary);
    if (archived.last_archived_wal >= segment) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_GE(archived.last_archived_wal, segment);
  EXPECT_GE(archived.archived_count, 1);
  EXPECT_TRUE(archived.last_archived_time.has_value());
  EXPECT_EQ(archived.failed_count, 0) << "last failure: " << archived.last_failed_wal;

  // The standby archives nothing while it follows the primary, but names its own folder.
  pg::Connection standby(layout().dsn(layout().standby(), "postgres"));
  EXPECT_EQ(standby.query_value<std::string>("show archive_mode"), "on");
  EXPECT_NE(standby.query_value<std::string>("show archive_command").find("--pg1-path=" + layout().standby()->dir.string()),
            std::string::npos);
  EXPECT_EQ(archive_status(standby).archived_count, 0);

  // A second up changes nothing: no new backup, no check, no config.
  auto again = up({.dir = root_ / "stack"});
  EXPECT_TRUE(again.actions.empty()) << again.actions.front();
  EXPECT_EQ(list_backups(layout()).size(), 1u);
}

TEST_F(BackupStackTest, DiffBackupRestoresARowIntoAScratchCopy) {
  pg::Connection primary(layout().dsn());
  primary.execute_script("create table drill(id int primary key, note text)");
  primary.query("insert into drill values (1, $1)", std::string("written before the diff"));

  auto diff = run_backup(layout(), BackupType::diff);
  EXPECT_EQ(diff.type, BackupType::diff);
  EXPECT_TRUE(diff.label.ends_with("D")) << diff.label;
  auto all = list_backups(layout());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(diff.prior, all.front().label);
  // A diff copies each changed file whole: the catalog files CREATE TABLE touches (which
  // pgstack's own schemas make larger) come to about a tenth of this small cluster.
  EXPECT_LT(diff.repo_delta * 5, all.front().repo_delta) << "a diff stores only what changed";
  EXPECT_GE(diff.repo_size, all.front().repo_size) << "restoring it reads the full backup too";

  // Written after the diff: only archived WAL brings it into the copy.
  primary.query("insert into drill values (2, $1)", std::string("from the archive"));
  const auto segment = primary.query_value<std::string>("select pg_walfile_name(pg_switch_wal())");
  for (auto deadline = Clock::now() + 30s; Clock::now() < deadline;) {
    if (archive_status(primary).last_archived_wal >= segment) break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_GE(archive_status(primary).last_archived_wal, segment) << "the segment holding row 2 was not archived";

  const auto target = root_ / "restored";
  EXPECT_THROW(restore_to(layout(), layout().primary().dir), pgstack::Error) << "never over the primary";
  restore_to(layout(), target);
  EXPECT_NE(pgstack::read_text_file((target / "postgresql.auto.conf").string()).find("archive_mode = 'off'"), std::string::npos);
  EXPECT_THROW(restore_to(layout(), target), pgstack::Error) << "the folder is not empty any more";

  ScratchServer copy(target, root_ / "restored-run", sys::free_tcp_port());
  ASSERT_TRUE(copy.started()) << copy.output();
  pg::Connection restored(copy.dsn());
  bool promoted = false;
  for (auto deadline = Clock::now() + 60s; !promoted && Clock::now() < deadline;) {
    promoted = !restored.query_value<bool>("select pg_is_in_recovery()");
    if (!promoted) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(promoted) << "the copy did not finish replaying the archive";
  EXPECT_EQ(restored.query_value<std::string>("select note from drill where id = 1"), "written before the diff");
  EXPECT_EQ(restored.query_value<std::string>("select note from drill where id = 2"), "from the archive");
  EXPECT_EQ(restored.query_value<std::string>("show archive_mode"), "off");
}

TEST_F(BackupStackTest, CliListsBackupsAndStatusShowsThemWithArchiving) {
  const auto dir = (root_ / "stack").string();
  auto list = pgstack_cli({"backup", "list", "--dir", dir, "--json"});
  ASSERT_EQ(list.code, 0) << list.output;
  auto doc = json_of(list);
  ASSERT_GE(doc["backups"].size(), 1u) << doc.dump();
  EXPECT_EQ(doc["backups"][0]["type"], "full");

  auto text = pgstack_cli({"backup", "list", "--dir", dir});
  EXPECT_EQ(text.code, 0);
  EXPECT_NE(text.output.find(doc["backups"][0]["label"].get<std::string>()), std::string::npos) << text.output;

  auto diff = pgstack_cli({"backup", "diff", "--dir", dir});
  ASSERT_EQ(diff.code, 0) << diff.output;
  EXPECT_NE(diff.output.find("diff backup "), std::string::npos) << diff.output;

  auto status = pgstack_cli({"status", "--dir", dir, "--json"});
  ASSERT_EQ(status.code, 0) << status.output;
  auto st = json_of(status)["backups"];
  EXPECT_EQ(st["last"]["type"], "diff") << st.dump();
  EXPECT_GE(st["count"].get<int>(), 2);
  EXPECT_EQ(st["archiving"]["failed_count"], 0) << st.dump();
  EXPECT_GE(st["archiving"]["archived_count"].get<int>(), 1) << st.dump();
  auto status_text = pgstack_cli({"status", "--dir", dir});
  EXPECT_NE(status_text.output.find("backup: last diff"), std::string::npos) << status_text.output;
  EXPECT_NE(status_text.output.find("WAL segments archived"), std::string::npos) << status_text.output;
}

// ---- without servers -------------------------------------------------------------

TEST(BackupCli, BadUsageExitsTwoAndAMissingStackOne) {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"backup"}, {"backup", "weekly"}, {"backup", "full", "--bogus"}, {"backup", "list", "extra"}}) {
    auto r = pgstack_cli(args);
    EXPECT_EQ(r.code, 2) << ::testing::PrintToString(args) << ": " << r.output;
  }
  auto weekly = pgstack_cli({"backup", "weekly"});
  EXPECT_NE(weekly.output.find("unknown command 'weekly' for 'pgstack backup' (its commands: full, diff, list, check)"),
            std::string::npos)
      << weekly.output;
  auto none = pgstack_cli({"backup", "full", "--dir", "/tmp/pgstack-no-such-stack"});
  EXPECT_EQ(none.code, 1) << none.output;
  EXPECT_NE(none.output.find("no stack in /tmp/pgstack-no-such-stack; run `pgstack up --dir"), std::string::npos)
      << none.output;
  auto help = pgstack_cli({"backup", "--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.output.find("list"), std::string::npos) << help.output;
}

TEST(BackupConfig, LocalRepositoryRetentionAndArchiveCommand) {
  auto layout = ClusterLayout::local("/srv/my stack", 6000);
  auto text = pgbackrest_config_text(layout);
  for (const char* line : {"repo1-type=posix\n", "repo1-path=/srv/my stack/backups\n", "repo1-retention-full-type=time\n",
                           "repo1-retention-full=28\n", "repo1-retention-diff=7\n", "compress-type=zst\n",
                           "process-max=2\n", "start-fast=y\n", "[pgstack]\n", "pg1-path=/srv/my stack/data/primary\n",
                           "pg1-socket-path=/srv/my stack/run\n", "pg1-port=6000\n",
                           "lock-path=/srv/my stack/pgbackrest/lock\n"})
    EXPECT_NE(text.find(line), std::string::npos) << line << " missing from:\n" << text;

  // The path has a space: the shell must see one word.
  auto command = archive_command(layout);
  EXPECT_NE(command.find(" --config='/srv/my stack/pgbackrest/pgbackrest.conf' --stanza=pgstack archive-push %p"),
            std::string::npos)
      << command;
  EXPECT_EQ(command.find("--pg1-path"), std::string::npos) << command;
  EXPECT_NE(archive_command(layout, layout.standby()).find("--pg1-path='/srv/my stack/data/standby' archive-push %p"),
            std::string::npos);
  auto settings = archive_settings(layout, layout.primary());
  ASSERT_EQ(settings.size(), 3u);
  EXPECT_EQ(settings[0].name, "archive_mode");
  EXPECT_EQ(settings[1].value.front(), '\'');
  EXPECT_NE(settings[1].value.find("''/srv/my stack/pgbackrest/pgbackrest.conf''"), std::string::npos)
      << "quotes doubled inside the postgresql.conf string: " << settings[1].value;
}

TEST(BackupConfig, S3RepositoryNeedsItsFieldsAndIsWritten) {
  auto layout = ClusterLayout::local("/srv/stack", 6000);
  layout.backup_repository = {.type = "s3", .path = "/team/app", .s3_bucket = "backups", .s3_endpoint = "minio.local:9000",
                              .s3_region = "us-east-1", .s3_key = "AKIA", .s3_key_secret = "s3cr3t",
                              .s3_uri_style = "path", .s3_verify_tls = false};
  auto text = pgbackrest_config_text(layout);
  for (const char* line : {"repo1-type=s3\n", "repo1-path=/team/app\n", "repo1-s3-bucket=backups\n",
                           "repo1-s3-endpoint=minio.local:9000\n", "repo1-s3-region=us-east-1\n", "repo1-s3-key=AKIA\n",
                           "repo1-s3-key-secret=s3cr3t\n", "repo1-s3-uri-style=path\n", "repo1-storage-verify-tls=n\n"})
    EXPECT_NE(text.find(line), std::string::npos) << line << " missing from:\n" << text;
  EXPECT_TRUE(repository_folder(layout).empty());

  layout.backup_repository.s3_bucket.clear();
  try {
    pgbackrest_config_text(layout);
    ADD_FAILURE() << "no bucket accepted";
  } catch (const pgstack::Error& e) {
    EXPECT_NE(std::string(e.what()).find("has no s3_bucket"), std::string::npos) << e.what();
  }
  layout.backup_repository = {.type = "nfs"};
  EXPECT_THROW(pgbackrest_config_text(layout), pgstack::Error);
  layout.backup_repository = {.path = "/a\nrepo1-path=/elsewhere"};
  EXPECT_THROW(pgbackrest_config_text(layout), pgstack::Error) << "a line break would inject settings";
}

TEST(BackupConfig, BackupTypesParse) {
  EXPECT_EQ(parse_backup_type("full"), BackupType::full);
  EXPECT_EQ(parse_backup_type("diff"), BackupType::diff);
  EXPECT_EQ(parse_backup_type("incr"), BackupType::incr);
  EXPECT_EQ(parse_backup_type("weekly"), std::nullopt);
  EXPECT_STREQ(to_string(BackupType::diff), "diff");
}

}  // namespace
}  // namespace pgstack::stack
