// Internal to TestCluster: the temp folder a test cluster lives in, who owns it, and the
// sweep that removes folders (and stops servers) left by test processes that died
// without cleaning up — a crash of the watchdog, a reboot, a kill -9 of both.
//
//   auto base = cluster_folder_base();                  // $TMPDIR, or /tmp if unusable
//   sweep_stale_cluster_folders(base);
//   std::string root = make_cluster_folder(base);       // base/pgstack-test-XXXXXX
#pragma once

#include <sys/types.h>

#include <string>

namespace pgstack::testing::detail {

inline constexpr const char* kFolderPrefix = "pgstack-test-";
inline constexpr const char* kOwnerFile = "owner.pid";  // "<pid> <start time>" of the test process

// $TMPDIR (else /tmp); /tmp when $TMPDIR would make the server's socket path longer
// than a Unix socket allows, or when the server user could not reach into it.
std::string cluster_folder_base();

// mkdtemp base/pgstack-test-XXXXXX, with our owner file written before anything else.
std::string make_cluster_folder(const std::string& base);

// True while the process that wrote root's owner file still runs (same pid, same
// start time, so a reused pid does not count).
bool owner_alive(const std::string& root);

// The pid on the first line of data_dir/postmaster.pid; 0 when there is none.
pid_t read_postmaster_pid(const std::string& data_dir);

// True when pid runs and is a PostgreSQL server process (not a zombie, not a reused pid).
bool is_live_postgres(pid_t pid);

// Stops the server in data_dir (pg_ctl stop -m immediate as the server user, SIGKILL if
// that fails) when its postmaster.pid names a live postgres. Never throws.
void stop_server_now(const std::string& data_dir) noexcept;

// Removes data_dir/postmaster.pid and socket_dir/.s.PGSQL.*.lock when the pid they name
// is not a live postgres: postgres itself trusts kill(pid, 0), which a zombie passes.
void remove_stale_lock_files(const std::string& data_dir, const std::string& socket_dir) noexcept;

// Waits (up to timeout_ms) until no process has data_dir as its working directory:
// after a postmaster is SIGKILLed its children linger a moment, still attached to the
// shared memory a new postmaster must not share.
void wait_for_server_processes_to_exit(const std::string& data_dir, int timeout_ms) noexcept;

// Removes every base/pgstack-test-* folder whose owner is dead, stopping its server
// first. A folder without an owner file is left alone for a minute (it may be being
// created right now). Returns how many folders it removed. Never throws.
int sweep_stale_cluster_folders(const std::string& base) noexcept;

}  // namespace pgstack::testing::detail
