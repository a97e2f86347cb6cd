#include "pgstack/sys/child_exec.h"

#include <sys/stat.h>

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "pgstack/pg/errors.h"

extern char** environ;

namespace pgstack::sys::detail {

Pipe make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw Error(std::string("pipe2 failed: ") + std::strerror(errno));
  return Pipe{Fd(fds[0]), Fd(fds[1])};
}

Fd open_dev_null() {
  int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(std::string("cannot open /dev/null: ") + std::strerror(errno));
  return Fd(fd);
}

namespace {

struct UserIds {
  uid_t uid;
  gid_t gid;
  std::string home;
};

UserIds lookup_user(const std::string& name) {
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  int rc = ::getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (rc != 0 || found == nullptr) {
    throw Error("cannot run as user '" + name + "': no such user" +
                (name == "postgres" ? " (install postgresql-15: scripts/install-deps)" : ""));
  }
  return UserIds{entry.pw_uid, entry.pw_gid, entry.pw_dir ? entry.pw_dir : "/"};
}

std::vector<gid_t> supplementary_groups(const std::string& user, gid_t gid) {
  int count = 32;
  std::vector<gid_t> groups(count);
  while (::getgrouplist(user.c_str(), gid, groups.data(), &count) < 0) groups.resize(count);
  groups.resize(count);
  return groups;
}

std::string current_user_name() {
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  if (::getpwuid_r(::geteuid(), &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) return {};
  return entry.pw_name;
}

// Sets NAME=value in env, replacing an existing NAME.
void set_env(std::vector<std::string>& env, const std::string& entry) {
  auto eq = entry.find('=');
  std::string prefix = entry.substr(0, eq == std::string::npos ? entry.size() : eq + 1);
  for (auto& existing : env) {
    if (existing.compare(0, prefix.size(), prefix) == 0) {
      existing = entry;
      return;
    }
  }
  env.push_back(entry);
}

// Makes dst a copy of src that survives exec (dup2 onto itself would keep close-on-exec).
bool install_fd(int src, int dst) noexcept {
  if (src == dst) return ::fcntl(dst, F_SETFD, 0) == 0;
  return ::dup2(src, dst) == dst;
}

[[noreturn]] void fail_in_child(int report_fd, ChildFailure::Stage stage, int error) noexcept {
  ChildFailure failure{stage, error};
  ssize_t ignored = ::write(report_fd, &failure, sizeof failure);
  (void)ignored;
  ::_exit(stage == ChildFailure::kExec && error == ENOENT ? 127 : 126);
}

}  // namespace

ChildExec::ChildExec(const std::vector<std::string>& argv, const RunOptions& options)
    : args_(argv), cwd_(options.cwd), user_(options.as_user), umask_(options.umask) {
  if (argv.empty() || argv[0].empty()) throw Error("run: empty command");
  path_ = find_program(argv[0]).value_or(std::string());

  for (char** e = environ; e != nullptr && *e != nullptr; ++e) env_.emplace_back(*e);
  if (!user_.empty()) {
    UserIds ids = lookup_user(user_);
    if (ids.uid != ::geteuid() || current_user_name() != user_) {
      if (!is_root()) {
        throw Error("cannot run '" + argv[0] + "' as user '" + user_ + "': switching users needs root");
      }
      switch_user_ = true;
      uid_ = ids.uid;
      gid_ = ids.gid;
      groups_ = supplementary_groups(user_, ids.gid);
      set_env(env_, "HOME=" + ids.home);
      set_env(env_, "USER=" + user_);
      set_env(env_, "LOGNAME=" + user_);
    }
  }
  for (const auto& entry : options.env) set_env(env_, entry);

  for (auto& a : args_) argv_.push_back(a.data());
  argv_.push_back(nullptr);
  for (auto& e : env_) envp_.push_back(e.data());
  envp_.push_back(nullptr);
}

void ChildExec::exec_in_child(const Stdio& stdio, bool new_session) const noexcept {
  // A session of its own detaches a background program from our terminal; a process
  // group of its own lets run() kill everything a timed-out program started.
  if (new_session) {
    ::setsid();
  } else {
    ::setpgid(0, 0);
  }
  if (!install_fd(stdio.stdin_fd, 0) || !install_fd(stdio.stdout_fd, 1) || !install_fd(stdio.stderr_fd, 2)) {
    fail_in_child(stdio.report_fd, ChildFailure::kFds, errno);
  }
  // Descriptors other code opened without O_CLOEXEC must not leak into servers either.
  ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);

  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGPIPE, &dfl, nullptr);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);

  if (switch_user_) {
    if (::setgroups(groups_.size(), groups_.data()) != 0 || ::setgid(gid_) != 0 || ::setuid(uid_) != 0) {
      fail_in_child(stdio.report_fd, ChildFailure::kUser, errno);
    }
  }
  if (!cwd_.empty() && ::chdir(cwd_.c_str()) != 0) fail_in_child(stdio.report_fd, ChildFailure::kCwd, errno);
  if (umask_) ::umask(*umask_);
  // Our directory may be closed to the new user (root's home): relative paths could not
  // work there anyway, and PostgreSQL's programs warn about it, so start in / instead.
  if (cwd_.empty() && switch_user_ && ::access(".", X_OK) != 0) (void)::chdir("/");
  if (path_.empty()) fail_in_child(stdio.report_fd, ChildFailure::kExec, ENOENT);
  ::execve(path_.c_str(), argv_.data(), envp_.data());
  fail_in_child(stdio.report_fd, ChildFailure::kExec, errno);
}

std::string ChildExec::describe(const ChildFailure& failure) const {
  std::string what = "cannot run '" + args_[0] + "'";
  std::string reason = std::strerror(failure.error);
  switch (failure.stage) {
    case ChildFailure::kExec:
      if (path_.empty()) return what + ": not found on PATH";
      return what + " (" + path_ + "): " + reason;
    case ChildFailure::kUser:
      return what + " as user '" + user_ + "': " + reason;
    case ChildFailure::kCwd:
      return what + " in '" + cwd_ + "': " + reason;
    case ChildFailure::kFds:
      return what + ": cannot set up stdin/stdout: " + reason;
  }
  return what + ": " + reason;
}

bool read_child_failure(int report_fd, ChildFailure& failure) {
  for (;;) {
    ssize_t n = ::read(report_fd, &failure, sizeof failure);
    if (n < 0 && errno == EINTR) continue;
    return n == static_cast<ssize_t>(sizeof failure);
  }
}

}  // namespace pgstack::sys::detail
