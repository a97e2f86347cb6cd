// Internal to TestCluster: a process that removes a test cluster when the test process
// dies in any way, SIGKILL included. It is `/bin/sh` reading the read end of a pipe whose
// write end only we hold (close-on-exec, so postgres and other children never inherit
// it); when the read hits EOF we are gone, and it stops the server and removes the folder.
//
//   detail::Watchdog watchdog(root_dir);   // right after the folder exists
//   ...                                     // initdb, start, run tests
//   // our exit (or death) closes the pipe; the watchdog cleans what is left
#pragma once

#include <sys/types.h>

#include <string>

namespace pgstack::testing::detail {

class Watchdog {
 public:
  // Starts the watchdog for root_dir (its server's data is root_dir/data). Throws
  // pgstack::Error when it cannot be started.
  explicit Watchdog(const std::string& root_dir);
  // Closes our end; the watchdog then cleans whatever is left of root_dir and exits.
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  pid_t pid() const noexcept { return pid_; }

 private:
  int write_end_ = -1;
  pid_t pid_ = 0;
};

}  // namespace pgstack::testing::detail
