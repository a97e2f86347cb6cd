// Running other programs: PostgreSQL's initdb/pg_ctl, pgbouncer, pgbackrest. Servers
// refuse to run as root, so when pgstack runs as root they run as the `postgres`
// system user (RunOptions::as_user).
//
//   auto r = pgstack::sys::run({pg_binary("initdb"), "-D", dir}, {.as_user = server_user()});
//   if (r.exit_code != 0) throw pgstack::Error("initdb failed: " + r.output);
//
// Children inherit only stdin, stdout and stderr: every descriptor pgstack opens is
// close-on-exec, and the child marks any other inherited one close-on-exec before exec,
// so a server started from one thread never holds a pipe another thread relies on.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace pgstack::sys {

struct RunOptions {
  // Run as this user (switching groups, gid and uid) when non-empty; needs root unless
  // it names the current user. HOME, USER and LOGNAME then describe that user.
  std::string as_user;
  // Extra NAME=value entries added to (or replacing ones in) the inherited environment.
  std::vector<std::string> env;
  // Working directory of the child; empty keeps ours (or / when as_user may not enter it).
  std::string cwd;
  // Killed (SIGKILL, with its whole process group) after this long; zero waits forever.
  std::chrono::milliseconds timeout{0};
  // Stdin text for the program (empty: /dev/null). Ignored by spawn().
  std::string input;
  // The child's umask, for programs that create files with whatever mode it leaves
  // (PgBouncer's log and pid file); unset: ours.
  std::optional<mode_t> umask;
};

struct RunResult {
  int exit_code = -1;  // 128 + signal when killed by one; 127 when it could not be started
  std::string output;  // stdout and stderr, interleaved
  bool timed_out = false;
};

// Runs argv[0] (searched on PATH, then /usr/sbin and /sbin) and waits for it, capturing
// its output. The child runs in a process group of its own so a timeout also kills what
// it started. A program that cannot be started gives exit_code 127 (126 when found but
// not runnable, or cwd/user switching failed) with the reason in output. Output that
// a daemonised grandchild writes after the child exits is not waited for.
RunResult run(const std::vector<std::string>& argv, const RunOptions& options = {});

// The last `lines` lines of a program's output (or a log), without leading or trailing
// blank space: the program's own words for an error message.
std::string last_lines(const std::string& text, int lines);

// Starts argv in the background, detached from our terminal and process group (setsid),
// with stdout and stderr appended to log_file (created when missing, owned by as_user);
// returns its pid without waiting. Throws pgstack::Error when it cannot be started.
//
// Zombies: the child stays ours and a detached thread reaps it when it exits (we do not
// double-fork: in containers PID 1 often never reaps orphans, so a double-forked child
// would stay a zombie until the machine stops). Do not waitpid() the returned pid;
// poll process_alive() instead. If we die first, the child lives on under init.
pid_t spawn(const std::vector<std::string>& argv, const RunOptions& options, const std::string& log_file);

// As above, with stdin read from stdin_fd instead of /dev/null; the caller keeps (and
// closes) stdin_fd. Give it the read end of a pipe only we write to, and the child sees
// EOF when we exit or die in any way — how TestCluster's watchdog learns of our death.
pid_t spawn(const std::vector<std::string>& argv, const RunOptions& options, const std::string& log_file,
            int stdin_fd);

bool is_root();
// The user server processes run as: `postgres` when we are root, else ourselves (empty).
std::string server_user();
// Makes path owned by server_user() when we are root (recursively, not following
// symlinks); no-op otherwise. Throws pgstack::Error naming the path on failure.
void give_to_server_user(const std::string& path);
// The OS user name server processes run as: `postgres` when we are root, else our own.
// Peer authentication maps it (and root) to the database superuser (pg_hba.h).
std::string server_os_user();
// Makes the folder path private to the stack: mode 0750, and when we are root its group
// becomes the server user's primary group, so the servers may enter a folder root owns
// while other local users may not. Throws pgstack::Error naming the path.
void restrict_folder_to_stack(const std::string& path);

// Full path of a PostgreSQL 15 program (initdb, pg_ctl, postgres, pg_basebackup...) in
// /usr/lib/postgresql/15/bin, or in $PGSTACK_PG_BINDIR when set; throws pgstack::Error
// naming the package to install when it is missing.
std::string pg_binary(const std::string& name);
// Full path of an executable on PATH (or in /usr/sbin, /sbin), or nullopt. A name with
// a slash is checked as given.
std::optional<std::string> find_program(const std::string& name);

// True while pid runs; a zombie (exited, not yet reaped by its parent) counts as dead.
bool process_alive(pid_t pid);
// A TCP port on 127.0.0.1 nobody listens on now (the kernel's choice). Another process
// may take it before we use it: callers retry on "address in use".
int free_tcp_port();
// The first of count neighbouring free ports (port, port + 1, ...): a stack takes three,
// for its primary, standby and PgBouncer.
int free_tcp_ports(int count);
// True when something accepts connections on 127.0.0.1:port.
bool port_in_use(int port);

}  // namespace pgstack::sys
