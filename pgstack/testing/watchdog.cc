#include "pgstack/testing/watchdog.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "pgstack/pg/errors.h"
#include "pgstack/sys/process.h"

namespace pgstack::testing::detail {

namespace {

// $1 = the cluster folder, $2 = pg_ctl. `cat` returns only at EOF: nobody writes.
// It runs as the server user, which owns the folder (so it may stop the server and
// remove the folder from sticky /tmp). Every server whose data folder sits directly
// in the cluster folder is stopped: the cluster's own, and any a test made beside it
// (a standby from pg_basebackup). A second stop covers a server still starting.
constexpr const char* kScript = R"(cat >/dev/null
[ -d "$1" ] || exit 0
for attempt in 1 2; do
  for pidfile in "$1"/*/postmaster.pid; do
    [ -f "$pidfile" ] && "$2" stop -D "${pidfile%/postmaster.pid}" -m immediate -w -t 20 -s >/dev/null 2>&1
  done
  [ "$attempt" = 1 ] && sleep 1
done
rm -rf "$1"
)";

}  // namespace

Watchdog::Watchdog(const std::string& root_dir) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw Error(std::string("TestCluster: pipe2 failed: ") + std::strerror(errno));
  try {
    pid_ = sys::spawn({"/bin/sh", "-c", kScript, "pgstack-test-watchdog", root_dir, sys::pg_binary("pg_ctl")},
                      {.as_user = sys::server_user(), .cwd = "/"}, "/dev/null", fds[0]);
  } catch (...) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw;
  }
  ::close(fds[0]);  // the watchdog's copy is its stdin; ours would keep the pipe open
  write_end_ = fds[1];
}

Watchdog::~Watchdog() {
  if (write_end_ >= 0) ::close(write_end_);
}

}  // namespace pgstack::testing::detail
