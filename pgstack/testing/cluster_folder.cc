#include "pgstack/testing/cluster_folder.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <thread>
#include <vector>

#include "pgstack/pg/errors.h"
#include "pgstack/base/files.h"
#include "pgstack/sys/process.h"

namespace pgstack::testing::detail {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// Unix socket paths hold at most 107 bytes; the server adds "/.s.PGSQL.65535" to
// <base>/pgstack-test-XXXXXX/sock.
constexpr std::size_t kMaxBaseLength = 107 - (1 + 20 + 5 + 15);
// A folder with no owner file yet is someone's cluster being created, unless older.
constexpr auto kOwnerlessGrace = 60s;

std::string read_text(const fs::path& path) { return pgstack::read_text_file(path.string()); }

// Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot.
std::string start_time_of(pid_t pid) {
  std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  auto paren = stat.rfind(')');
  if (paren == std::string::npos) return {};
  std::istringstream fields(stat.substr(paren + 2));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
  }
  return field;
}

// The server user must be able to walk into base: every ancestor searchable by others
// (when root hands the cluster to `postgres`).
bool reachable_by_server_user(const fs::path& base) {
  if (!sys::is_root()) return true;
  for (fs::path p = base; !p.empty(); p = p.parent_path()) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0 || (st.st_mode & S_IXOTH) == 0) return false;
    if (p == p.root_path()) break;
  }
  return true;
}

}  // namespace

std::string cluster_folder_base() {
  const char* tmpdir = std::getenv("TMPDIR");
  std::string base = tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp";
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  std::error_code ec;
  if (base.size() > kMaxBaseLength || !fs::is_directory(base, ec) || !reachable_by_server_user(base)) return "/tmp";
  return base;
}

std::string make_cluster_folder(const std::string& base) {
  std::string pattern = base + "/" + kFolderPrefix + "XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw Error("TestCluster: cannot create a folder in " + base + ": " + std::strerror(errno));
  }
  try {
    pgstack::write_text_file((fs::path(pattern) / kOwnerFile).string(),
                         std::to_string(::getpid()) + " " + start_time_of(::getpid()) + "\n");
  } catch (...) {
    std::error_code ec;
    fs::remove_all(pattern, ec);
    throw;
  }
  return pattern;
}

bool owner_alive(const std::string& root) {
  std::istringstream in(read_text(fs::path(root) / kOwnerFile));
  pid_t pid = 0;
  std::string start_time;
  if (!(in >> pid >> start_time) || !sys::process_alive(pid)) return false;
  return start_time_of(pid) == start_time;
}

pid_t read_postmaster_pid(const std::string& data_dir) {
  std::istringstream in(read_text(fs::path(data_dir) / "postmaster.pid"));
  long pid = 0;
  if (!(in >> pid) || pid <= 0) return 0;
  return static_cast<pid_t>(pid);
}

bool is_live_postgres(pid_t pid) {
  if (!sys::process_alive(pid)) return false;
  std::string comm = read_text("/proc/" + std::to_string(pid) + "/comm");
  return comm.empty() || comm.rfind("postgres", 0) == 0;
}

void stop_server_now(const std::string& data_dir) noexcept {
  try {
    pid_t pid = read_postmaster_pid(data_dir);
    if (!is_live_postgres(pid)) return;
    auto r = sys::run({sys::pg_binary("pg_ctl"), "stop", "-D", data_dir, "-m", "immediate", "-w", "-t", "20", "-s"},
                      {.as_user = sys::server_user(), .cwd = "/", .timeout = 30s});
    if (r.exit_code != 0 && is_live_postgres(pid)) ::kill(pid, SIGKILL);
    wait_for_server_processes_to_exit(data_dir, 10000);
  } catch (...) {
    // A sweep or a destructor: nothing useful to report to.
  }
}

void remove_stale_lock_files(const std::string& data_dir, const std::string& socket_dir) noexcept {
  std::error_code ec;
  std::vector<fs::path> lock_files{fs::path(data_dir) / "postmaster.pid"};
  for (auto it = fs::directory_iterator(socket_dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.rfind(".s.PGSQL.", 0) == 0 && name.size() > 5 && name.compare(name.size() - 5, 5, ".lock") == 0) {
      lock_files.push_back(it->path());
    }
  }
  for (const auto& lock : lock_files) {
    std::istringstream in(read_text(lock));
    long pid = 0;
    if (!(in >> pid) || is_live_postgres(static_cast<pid_t>(pid))) continue;
    std::error_code remove_ec;
    fs::remove(lock, remove_ec);
    // The socket a lock file guards is stale too; postgres would refuse to replace it.
    if (lock.extension() == ".lock") fs::remove(fs::path(lock).replace_extension(), remove_ec);
  }
}

void wait_for_server_processes_to_exit(const std::string& data_dir, int timeout_ms) noexcept {
  std::error_code ec;
  fs::path target = fs::canonical(data_dir, ec);
  if (ec) return;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    bool found = false;
    for (auto it = fs::directory_iterator("/proc", ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::error_code link_ec;
      if (fs::read_symlink(it->path() / "cwd", link_ec) == target && sys::process_alive(std::stoi(name))) {
        found = true;
        break;
      }
    }
    if (!found || std::chrono::steady_clock::now() >= deadline) return;
    std::this_thread::sleep_for(20ms);
  }
}

int sweep_stale_cluster_folders(const std::string& base) noexcept {
  int removed = 0;
  std::error_code ec;
  for (auto it = fs::directory_iterator(base, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    try {
      const fs::path root = it->path();
      if (root.filename().string().rfind(kFolderPrefix, 0) != 0) continue;
      std::error_code entry_ec;
      if (!fs::is_directory(fs::symlink_status(root, entry_ec))) continue;
      if (!fs::exists(root / kOwnerFile, entry_ec)) {
        auto age = fs::file_time_type::clock::now() - fs::last_write_time(root, entry_ec);
        if (entry_ec || age < kOwnerlessGrace) continue;
      } else if (owner_alive(root.string())) {
        continue;
      }
      // The cluster's server, and any a test made beside it (a standby).
      for (auto sub = fs::directory_iterator(root, entry_ec); !entry_ec && sub != fs::directory_iterator();
           sub.increment(entry_ec))
        if (fs::exists(sub->path() / "postmaster.pid")) stop_server_now(sub->path().string());
      if (fs::remove_all(root, entry_ec) > 0 && !entry_ec) ++removed;
    } catch (...) {
      // Someone else's folder we cannot touch, or one that vanished meanwhile.
    }
  }
  return removed;
}

}  // namespace pgstack::testing::detail
