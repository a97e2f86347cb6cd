// run() and spawn(): fork, exec from a plan prepared in the parent (child_exec.h), and
// for run() a poll loop over the output pipe, the input pipe and a pidfd.
#include "pgstack/sys/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "pgstack/pg/errors.h"
#include "pgstack/sys/child_exec.h"
#include "pgstack/base/files.h"

namespace pgstack::sys {

using detail::ChildExec;
using detail::ChildFailure;
using detail::Fd;

namespace {

using Clock = std::chrono::steady_clock;

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Reads what is available; false once the pipe is at EOF (or broken).
bool read_available(int fd, std::string& out) {
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      out.append(buffer, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN;
  }
}

// Writing to a pipe whose reader exited raises SIGPIPE, which would kill us: block it in
// this thread while we feed the child, and swallow one we caused.
class SigpipeBlocked {
 public:
  SigpipeBlocked() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    already_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeBlocked() {
    if (!already_pending_) {
      timespec zero{};
      while (sigtimedwait(&pipe_, nullptr, &zero) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t pipe_{};
  sigset_t old_{};
  bool already_pending_ = false;
};

// Waits for pid, retrying on EINTR; returns its status.
int wait_for(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

}  // namespace

RunResult run(const std::vector<std::string>& argv, const RunOptions& options) {
  ChildExec plan(argv, options);
  auto output = detail::make_pipe();
  auto report = detail::make_pipe();
  Fd stdin_read;
  Fd stdin_write;
  if (options.input.empty()) {
    stdin_read = detail::open_dev_null();
  } else {
    auto p = detail::make_pipe();
    stdin_read = std::move(p.read_end);
    stdin_write = std::move(p.write_end);
  }

  pid_t pid = ::fork();
  if (pid < 0) throw Error(std::string("fork failed: ") + std::strerror(errno));
  if (pid == 0) {
    plan.exec_in_child({stdin_read.get(), output.write_end.get(), output.write_end.get(), report.write_end.get()},
                       /*new_session=*/false);
  }
  ::setpgid(pid, pid);  // also here: the child may not have run yet when we kill its group
  output.write_end.reset();
  report.write_end.reset();
  stdin_read.reset();

  RunResult result;
  ChildFailure failure{};
  if (detail::read_child_failure(report.read_end.get(), failure)) {
    result.exit_code = exit_code_of(wait_for(pid));
    result.output = plan.describe(failure) + "\n";
    return result;
  }

  SigpipeBlocked sigpipe_blocked;
  set_nonblocking(output.read_end.get());
  if (stdin_write) set_nonblocking(stdin_write.get());
  // glibc 2.36's <sys/pidfd.h> lacks extern "C", so call the kernel directly.
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  const auto deadline = options.timeout.count() > 0 ? Clock::now() + options.timeout : Clock::time_point::max();
  std::size_t input_written = 0;
  bool output_open = true;
  int status = 0;
  bool exited = false;

  while (!exited) {
    pollfd fds[3];
    nfds_t n = 0;
    if (output_open) fds[n++] = {output.read_end.get(), POLLIN, 0};
    if (stdin_write) fds[n++] = {stdin_write.get(), POLLOUT, 0};
    if (pidfd) fds[n++] = {pidfd.get(), POLLIN, 0};
    // Without a pidfd (old kernels) we notice the exit by polling waitpid.
    int wait_ms = pidfd ? 1000 : 20;
    if (deadline != Clock::time_point::max()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      wait_ms = static_cast<int>(std::clamp<long long>(left, 0, wait_ms));
    }
    if (::poll(fds, n, wait_ms) < 0 && errno != EINTR) throw Error(std::string("poll failed: ") + std::strerror(errno));

    if (output_open) output_open = read_available(output.read_end.get(), result.output);
    if (stdin_write) {
      while (input_written < options.input.size()) {
        ssize_t w = ::write(stdin_write.get(), options.input.data() + input_written, options.input.size() - input_written);
        if (w > 0) {
          input_written += static_cast<std::size_t>(w);
        } else if (w < 0 && errno == EINTR) {
          continue;
        } else {
          if (w < 0 && errno != EAGAIN) input_written = options.input.size();  // the child stopped reading
          break;
        }
      }
      if (input_written == options.input.size()) stdin_write.reset();  // EOF for the child
    }

    pid_t waited = ::waitpid(pid, &status, WNOHANG);
    if (waited == pid) exited = true;
    if (!exited && Clock::now() >= deadline) {
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      result.timed_out = true;
      status = wait_for(pid);
      exited = true;
    }
  }
  // The child is gone; take what it left in the pipe but do not wait for grandchildren
  // (a server it daemonised) that may hold the pipe open.
  if (output_open) read_available(output.read_end.get(), result.output);
  result.exit_code = exit_code_of(status);
  return result;
}

pid_t spawn(const std::vector<std::string>& argv, const RunOptions& options, const std::string& log_file) {
  return spawn(argv, options, log_file, -1);
}

pid_t spawn(const std::vector<std::string>& argv, const RunOptions& options, const std::string& log_file,
            int stdin_fd) {
  ChildExec plan(argv, options);
  Fd log(::open(log_file.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  if (!log && errno == ENOENT) {
    log = Fd(::open(log_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
    // Only a file we created changes owner: an existing one (even /dev/null) stays as is.
    if (log && plan.switches_user()) (void)::fchown(log.get(), plan.uid(), plan.gid());
  }
  if (!log) throw Error("cannot open log file " + log_file + ": " + std::strerror(errno));
  Fd dev_null;
  if (stdin_fd < 0) {
    dev_null = detail::open_dev_null();
    stdin_fd = dev_null.get();
  }
  auto report = detail::make_pipe();

  pid_t pid = ::fork();
  if (pid < 0) throw Error(std::string("fork failed: ") + std::strerror(errno));
  if (pid == 0) plan.exec_in_child({stdin_fd, log.get(), log.get(), report.write_end.get()}, /*new_session=*/true);
  report.write_end.reset();

  ChildFailure failure{};
  if (detail::read_child_failure(report.read_end.get(), failure)) {
    wait_for(pid);
    throw Error(plan.describe(failure));
  }
  try {
    std::thread([pid] { wait_for(pid); }).detach();
  } catch (const std::system_error&) {
    // No thread to spare: the child still runs; it stays a zombie after it exits.
  }
  return pid;
}

bool process_alive(pid_t pid) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0 && errno != EPERM) return false;
  // The state letter follows the command name, which is in parentheses and may itself
  // contain ") ", so look after the last one.
  std::string stat = read_text_file("/proc/" + std::to_string(pid) + "/stat");
  auto paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return true;  // no /proc: trust kill()
  char state = stat[paren + 2];
  return state != 'Z' && state != 'X';
}

std::string last_lines(const std::string& text, int lines) {
  // Trailing blank lines are not lines worth showing.
  std::size_t end = text.find_last_not_of("\n ");
  if (end == std::string::npos) return {};
  const std::string body = text.substr(0, end + 1);
  std::size_t pos = body.size();
  while (pos > 0 && lines > 0) {
    pos = body.rfind('\n', pos - 1);
    if (pos == std::string::npos) {
      pos = 0;
      break;
    }
    --lines;
  }
  std::string out = body.substr(pos);
  while (!out.empty() && out.front() == '\n') out.erase(0, 1);
  return out;
}

}  // namespace pgstack::sys
