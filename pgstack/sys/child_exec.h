// Internal to pgstack/sys: everything a forked child needs to exec a program, prepared
// in the parent. Between fork and exec a multi-threaded process may only make
// async-signal-safe calls (no malloc, no getpwnam, no locale), so the child only
// dup2s, switches ids and execs from data made here.
//
//   ChildExec plan(argv, options);            // in the parent: resolve path, user, env
//   pid_t pid = fork();
//   if (pid == 0) plan.exec_in_child({.stdin_fd = in, .stdout_fd = out, .stderr_fd = out, .report_fd = w});
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "pgstack/base/fd.h"
#include "pgstack/sys/process.h"

namespace pgstack::sys::detail {

// What went wrong in the child before (or at) exec, written to the report pipe.
struct ChildFailure {
  enum Stage : int { kExec = 1, kUser = 2, kCwd = 3, kFds = 4 } stage;
  int error;  // errno
};

// A descriptor closed when it goes out of scope (base/fd.h).
using Fd = pgstack::Fd;

struct Pipe {
  Fd read_end;
  Fd write_end;
};
// pipe2 with O_CLOEXEC; throws pgstack::Error.
Pipe make_pipe();
// Opens /dev/null read-only, close-on-exec.
Fd open_dev_null();

class ChildExec {
 public:
  struct Stdio {
    int stdin_fd;
    int stdout_fd;
    int stderr_fd;
    int report_fd;  // close-on-exec pipe: gets a ChildFailure if exec does not happen
  };

  // Throws pgstack::Error for an unknown user or switching user without root. A program
  // missing from PATH is not an error here: exec reports ENOENT as for any other child.
  ChildExec(const std::vector<std::string>& argv, const RunOptions& options);

  const std::string& program() const noexcept { return path_; }
  bool switches_user() const noexcept { return switch_user_; }
  uid_t uid() const noexcept { return uid_; }
  gid_t gid() const noexcept { return gid_; }
  // Only async-signal-safe calls from here on; never returns.
  [[noreturn]] void exec_in_child(const Stdio& stdio, bool new_session) const noexcept;
  // "cannot run 'pg_ctl': No such file or directory" for a failure the child reported.
  std::string describe(const ChildFailure& failure) const;

 private:
  std::string path_;
  std::vector<std::string> args_;
  std::vector<std::string> env_;
  std::vector<char*> argv_;
  std::vector<char*> envp_;
  std::string cwd_;
  std::string user_;
  std::optional<mode_t> umask_;
  bool switch_user_ = false;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  std::vector<gid_t> groups_;
};

// Reads a ChildFailure from the report pipe; false at EOF (exec succeeded).
bool read_child_failure(int report_fd, ChildFailure& failure);

}  // namespace pgstack::sys::detail
