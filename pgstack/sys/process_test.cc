#include "pgstack/sys/process.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pgstack/pg/errors.h"
#include "pgstack/base/files.h"
#include "pgstack/testing/eventually.h"

namespace {

using namespace std::chrono_literals;
using pgstack::sys::run;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

// A temp folder removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "pgstack-sys-test-XXXXXX").string();
    path = ::mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path); }
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

template <class Pred>
bool eventually(Pred pred) {
  return pgstack::testing::eventually(pred, 5s);
}

uid_t uid_of(const std::string& user) {
  passwd* pw = ::getpwnam(user.c_str());
  return pw ? pw->pw_uid : static_cast<uid_t>(-1);
}

TEST(Run, CapturesStdoutAndStderrAndTheExitCode) {
  auto r = run({"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.output, "out\nerr\n");
}

TEST(Run, SearchesPathAndReportsSuccess) {
  auto r = run({"true"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output, "");
}

TEST(Run, FeedsInputOnStdin) {
  auto r = run({"cat"}, {.input = "hello\nworld\n"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output, "hello\nworld\n");
}

TEST(Run, FeedsLargeInputWhileReadingLargeOutput) {
  // Larger than both pipe buffers: a blocking writer or reader would deadlock here.
  std::string input;
  for (int i = 0; i < 200000; ++i) input += "line " + std::to_string(i) + "\n";
  auto r = run({"cat"}, {.timeout = 30s, .input = input});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output.size(), input.size());
  EXPECT_TRUE(r.output == input);
}

TEST(Run, SurvivesAChildThatDoesNotReadItsInput) {
  std::string input(4 << 20, 'x');
  auto r = run({"sh", "-c", "exit 0"}, {.timeout = 30s, .input = input});
  EXPECT_EQ(r.exit_code, 0);  // and no SIGPIPE killed us
}

TEST(Run, StdinIsDevNullWithoutInput) {
  auto r = run({"cat"}, {.timeout = 10s});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.output, "");
}

TEST(Run, ReportsDeathBySignalAs128PlusSignal) {
  auto r = run({"sh", "-c", "kill -TERM $$"});
  EXPECT_EQ(r.exit_code, 128 + SIGTERM);
}

TEST(Run, TimeoutKillsSleepQuickly) {
  auto start = std::chrono::steady_clock::now();
  auto r = run({"sleep", "30"}, {.timeout = 300ms});
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.exit_code, 128 + SIGKILL);
  EXPECT_LT(elapsed, 3s);
}

TEST(Run, TimeoutKillsWhatTheChildStartedToo) {
  auto r = run({"sh", "-c", "sleep 30 & echo $!; wait"}, {.timeout = 500ms});
  ASSERT_TRUE(r.timed_out);
  pid_t grandchild = std::stoi(r.output);
  EXPECT_TRUE(eventually([&] { return !pgstack::sys::process_alive(grandchild); }));
}

TEST(Run, DoesNotWaitForADaemonHoldingTheOutputPipe) {
  auto start = std::chrono::steady_clock::now();
  auto r = run({"sh", "-c", "echo parent; sleep 20 & echo $!"}, {.timeout = 15s});
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_FALSE(r.timed_out);
  EXPECT_THAT(r.output, HasSubstr("parent\n"));
  ::kill(std::stoi(r.output.substr(r.output.find('\n') + 1)), SIGKILL);
}

TEST(Run, MissingProgramExits127WithAReason) {
  auto r = run({"pgstack-no-such-program"});
  EXPECT_EQ(r.exit_code, 127);
  EXPECT_THAT(r.output, HasSubstr("pgstack-no-such-program"));
  EXPECT_THAT(r.output, HasSubstr("not found"));
}

TEST(Run, AddsAndReplacesEnvironmentEntries) {
  ::setenv("PGSTACK_SYS_TEST_B", "old", 1);
  auto r = run({"sh", "-c", "echo \"$PGSTACK_SYS_TEST_A/$PGSTACK_SYS_TEST_B\""},
               {.env = {"PGSTACK_SYS_TEST_A=42", "PGSTACK_SYS_TEST_B=new"}});
  EXPECT_EQ(r.output, "42/new\n");
}

TEST(Run, RunsInTheGivenWorkingDirectory) {
  TempDir dir;
  auto r = run({"pwd"}, {.cwd = dir.path.string()});
  EXPECT_EQ(r.output, dir.path.string() + "\n");
  auto bad = run({"pwd"}, {.cwd = (dir.path / "missing").string()});
  EXPECT_EQ(bad.exit_code, 126);
  EXPECT_THAT(bad.output, HasSubstr("missing"));
}

TEST(Run, ChildInheritsOnlyStdio) {
  int leaky = ::open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  ASSERT_GE(leaky, 0);
  auto r = run({"ls", "/proc/self/fd"});
  ::close(leaky);
  // 0, 1, 2 and the directory ls itself is reading.
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 4) << r.output;
}

TEST(Run, AsUserRunsAsPostgres) {
  if (!pgstack::sys::is_root()) GTEST_SKIP() << "switching users needs root";
  auto r = run({"id", "-un"}, {.as_user = "postgres"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "postgres\n");
  auto home = run({"sh", "-c", "echo $USER $HOME"}, {.as_user = "postgres"});
  EXPECT_EQ(home.output, "postgres " + std::string(::getpwnam("postgres")->pw_dir) + "\n");
  auto groups = run({"id", "-G"}, {.as_user = "postgres"});
  EXPECT_THAT(groups.output, Not(HasSubstr(" 0 "))) << "root's groups must be dropped";
}

TEST(Run, AsUserStartsInRootWhenOurDirectoryIsClosedToIt) {
  if (!pgstack::sys::is_root()) GTEST_SKIP() << "switching users needs root";
  TempDir closed;  // mkdtemp makes it 0700, root's own
  auto here = fs::current_path();
  fs::current_path(closed.path);
  auto r = run({"pwd"}, {.as_user = "postgres"});
  fs::current_path(here);
  EXPECT_EQ(r.output, "/\n");
}

TEST(Run, AsUnknownUserThrows) {
  EXPECT_THROW(run({"true"}, {.as_user = "pgstack-no-such-user"}), pgstack::Error);
}

// As root, the check runs in a child that first gives up root for nobody; a
// non-root test run checks itself directly.
TEST(Run, AsAnotherUserWithoutRootThrows) {
  if (!pgstack::sys::is_root()) {
    EXPECT_THROW(run({"true"}, {.as_user = "root"}), pgstack::Error);
    return;
  }
  EXPECT_EXIT(
      {
        struct passwd* nobody = ::getpwnam("nobody");
        if (!nobody || ::setgid(nobody->pw_gid) != 0 || ::setuid(nobody->pw_uid) != 0) std::_Exit(2);
        try {
          run({"true"}, {.as_user = "root"});
        } catch (const pgstack::Error&) {
          std::_Exit(0);
        }
        std::_Exit(1);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(Run, AsOurselvesNeedsNoSwitch) {
  auto me = run({"id", "-un"});
  me.output.pop_back();
  auto r = run({"id", "-un"}, {.as_user = me.output});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, me.output + "\n");
}

TEST(Spawn, ReturnsALiveDetachedPidWhoseOutputReachesTheLog) {
  TempDir dir;
  auto log = (dir.path / "out.log").string();
  pid_t pid = pgstack::sys::spawn({"sh", "-c", "echo started; echo oops >&2; sleep 30"}, {}, log);
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(pgstack::sys::process_alive(pid));
  EXPECT_EQ(::getsid(pid), pid) << "a session of its own";
  EXPECT_TRUE(eventually([&] { return read_file(log).find("oops") != std::string::npos; })) << read_file(log);
  EXPECT_THAT(read_file(log), HasSubstr("started\n"));
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  EXPECT_TRUE(eventually([&] { return !pgstack::sys::process_alive(pid); }));
  // Reaped by us, not left a zombie: the pid is gone entirely.
  EXPECT_TRUE(eventually([&] { return ::kill(pid, 0) != 0 && errno == ESRCH; }));
}

TEST(Spawn, AppendsToAnExistingLog) {
  TempDir dir;
  auto log = (dir.path / "out.log").string();
  std::ofstream(log) << "before\n";
  pid_t pid = pgstack::sys::spawn({"echo", "after"}, {}, log);
  EXPECT_TRUE(eventually([&] { return read_file(log) == "before\nafter\n"; })) << read_file(log);
  EXPECT_TRUE(eventually([&] { return !pgstack::sys::process_alive(pid); }));
}

TEST(Spawn, StdinPipeSignalsOurExit) {
  TempDir dir;
  auto log = (dir.path / "out.log").string();
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  pid_t pid = pgstack::sys::spawn({"sh", "-c", "cat >/dev/null; echo eof"}, {}, log, fds[0]);
  ::close(fds[0]);
  std::this_thread::sleep_for(200ms);  // time passing: the child must not see EOF while we live
  EXPECT_EQ(read_file(log), "");
  ::close(fds[1]);  // as if we died
  EXPECT_TRUE(eventually([&] { return read_file(log) == "eof\n"; })) << read_file(log);
  EXPECT_TRUE(eventually([&] { return !pgstack::sys::process_alive(pid); }));
}

TEST(Spawn, MissingProgramThrows) {
  TempDir dir;
  try {
    pgstack::sys::spawn({"pgstack-no-such-program"}, {}, (dir.path / "log").string());
    FAIL() << "expected pgstack::Error";
  } catch (const pgstack::Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("pgstack-no-such-program"));
  }
}

TEST(Spawn, AsUserCreatesTheLogForThatUser) {
  if (!pgstack::sys::is_root()) GTEST_SKIP() << "switching users needs root";
  TempDir dir;
  pgstack::sys::give_to_server_user(dir.path.string());
  auto log = (dir.path / "out.log").string();
  pid_t pid = pgstack::sys::spawn({"id", "-un"}, {.as_user = "postgres"}, log);
  EXPECT_TRUE(eventually([&] { return read_file(log) == "postgres\n"; })) << read_file(log);
  struct stat st {};
  ASSERT_EQ(::stat(log.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, uid_of("postgres"));
  EXPECT_TRUE(eventually([&] { return !pgstack::sys::process_alive(pid); }));
}

TEST(ProcessAlive, SeesUsAndNotTheDeadOrZombies) {
  EXPECT_TRUE(pgstack::sys::process_alive(::getpid()));
  EXPECT_FALSE(pgstack::sys::process_alive(0));
  EXPECT_FALSE(pgstack::sys::process_alive(-1));
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  // Not reaped yet: a zombie, which must read as dead.
  EXPECT_TRUE(eventually([&] { return !pgstack::sys::process_alive(child); }));
  ::waitpid(child, nullptr, 0);
  EXPECT_FALSE(pgstack::sys::process_alive(child));
}

TEST(LastLines, KeepsTheLastLinesWithoutSurroundingBlankSpace) {
  EXPECT_EQ(pgstack::sys::last_lines("one\ntwo\nthree\nfour\n\n", 2), "three\nfour");
  EXPECT_EQ(pgstack::sys::last_lines("only\n", 5), "only");
  EXPECT_EQ(pgstack::sys::last_lines("", 3), "");
}

TEST(Ports, FreePortsAreAllFree) {
  for (int i = 0; i < 5; ++i) {
    int port = pgstack::sys::free_tcp_ports(3);
    EXPECT_GT(port, 1024);
    EXPECT_LT(port, 65535 - 2);
    for (int p = port; p < port + 3; ++p) EXPECT_FALSE(pgstack::sys::port_in_use(p)) << p;
  }
}

TEST(Ports, FreePortIsFreeAndPortInUseSeesAListener) {
  int port = pgstack::sys::free_tcp_port();
  EXPECT_GT(port, 1024);
  EXPECT_LE(port, 65535);
  EXPECT_FALSE(pgstack::sys::port_in_use(port));

  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  EXPECT_TRUE(pgstack::sys::port_in_use(port));
  ::close(listener);
  EXPECT_FALSE(pgstack::sys::port_in_use(port));
}

TEST(Programs, PgBinaryFindsPostgres15) {
  auto initdb = pgstack::sys::pg_binary("initdb");
  EXPECT_EQ(initdb, "/usr/lib/postgresql/15/bin/initdb");
  EXPECT_EQ(::access(initdb.c_str(), X_OK), 0);
}

TEST(Programs, PgBinaryNamesThePackageWhenMissing) {
  try {
    pgstack::sys::pg_binary("pg_no_such_program");
    FAIL() << "expected pgstack::Error";
  } catch (const pgstack::Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("pg_no_such_program"));
    EXPECT_THAT(e.what(), HasSubstr("install postgresql-15 (scripts/install-deps)"));
  }
}

TEST(Programs, FindProgramSearchesPathAndSbin) {
  auto sh = pgstack::sys::find_program("sh");
  ASSERT_TRUE(sh.has_value());
  EXPECT_EQ(::access(sh->c_str(), X_OK), 0);
  EXPECT_FALSE(pgstack::sys::find_program("pgstack-no-such-program").has_value());
  EXPECT_FALSE(pgstack::sys::find_program("").has_value());
  EXPECT_EQ(pgstack::sys::find_program("/bin/sh"), "/bin/sh");
  EXPECT_FALSE(pgstack::sys::find_program("/etc/passwd").has_value()) << "not executable";
  // Only in sbin, which a non-root PATH usually lacks.
  const char* old_path = std::getenv("PATH");
  std::string saved = old_path ? old_path : "";
  ::setenv("PATH", "/bin", 1);
  EXPECT_EQ(pgstack::sys::find_program("runuser"), "/usr/sbin/runuser");
  ::setenv("PATH", saved.c_str(), 1);
}

TEST(Users, ServerUserIsPostgresOnlyForRoot) {
  EXPECT_EQ(pgstack::sys::is_root(), ::geteuid() == 0);
  EXPECT_EQ(pgstack::sys::server_user(), ::geteuid() == 0 ? "postgres" : "");
}

TEST(Users, GiveToServerUserChownsRecursively) {
  TempDir dir;
  fs::create_directories(dir.path / "a/b");
  std::ofstream(dir.path / "a/b/file") << "x";
  pgstack::sys::give_to_server_user(dir.path.string());
  uid_t expected = pgstack::sys::is_root() ? uid_of("postgres") : ::geteuid();
  for (auto p : {dir.path, dir.path / "a", dir.path / "a/b", dir.path / "a/b/file"}) {
    struct stat st {};
    ASSERT_EQ(::stat(p.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, expected) << p;
  }
}

TEST(Files, WriteAppendAndReadFromAnOffset) {
  TempDir dir;
  auto path = (dir.path / "f.txt").string();
  EXPECT_EQ(pgstack::read_text_file(path), "") << "missing reads as empty";
  pgstack::write_text_file(path, "first\n");
  pgstack::write_text_file(path, "second\n", pgstack::WriteMode::append);
  EXPECT_EQ(pgstack::read_text_file(path), "first\nsecond\n");
  EXPECT_EQ(pgstack::read_text_file(path, 6), "second\n");
  pgstack::write_text_file(path, "replaced");
  EXPECT_EQ(pgstack::read_text_file(path), "replaced");
  EXPECT_THROW(pgstack::write_text_file((dir.path / "no/such/dir").string(), "x"), pgstack::Error);
}

}  // namespace
