// Running other programs: PostgreSQL's initdb/pg_ctl, pgbouncer, pgbackrest. Servers
// refuse to run as root, so when pgstack runs as root they run as the `postgres`
// system user (RunOptions::as_user).
//
//   auto r = pgstack::sys::run({pg_binary("initdb"), "-D", dir}, {.as_user = server_user()});
//   if (r.exit_code != 0) throw pgstack::Error("initdb failed: " + r.output);
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace pgstack::sys {

struct RunOptions {
  // Run as this user (switching uid/gid) when non-empty; needs root.
  std::string as_user;
  // Extra NAME=value entries added to the inherited environment.
  std::vector<std::string> env;
  std::string cwd;
  // Killed (SIGKILL) after this long; zero waits forever.
  std::chrono::milliseconds timeout{0};
  // Stdin text for the program (empty: /dev/null).
  std::string input;
};

struct RunResult {
  int exit_code = -1;  // 128 + signal when killed by one
  std::string output;  // stdout and stderr, interleaved
  bool timed_out = false;
};

// Runs argv[0] (searched on PATH) and waits for it, capturing its output.
RunResult run(const std::vector<std::string>& argv, const RunOptions& options = {});

// Starts argv in the background, detached from our terminal and process group, with
// output appended to log_file; returns its pid without waiting.
pid_t spawn(const std::vector<std::string>& argv, const RunOptions& options, const std::string& log_file);

bool is_root();
// The user server processes run as: `postgres` when we are root, else ourselves (empty).
std::string server_user();
// Makes path owned by server_user() when we are root (recursively); no-op otherwise.
void give_to_server_user(const std::string& path);

// Full path of a PostgreSQL 15 program (initdb, pg_ctl, postgres, pg_basebackup...);
// throws pgstack::Error naming the package to install when it is missing.
std::string pg_binary(const std::string& name);
// Full path of a program on PATH (or in /usr/sbin), or nullopt.
std::optional<std::string> find_program(const std::string& name);

bool process_alive(pid_t pid);
// A TCP port on 127.0.0.1 nobody listens on now (the kernel's choice).
int free_tcp_port();
// True when something accepts connections on 127.0.0.1:port.
bool port_in_use(int port);

}  // namespace pgstack::sys
