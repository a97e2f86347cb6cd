// Who server processes run as: PostgreSQL refuses to run as root, so a root pgstack
// hands servers (and the folders they write) to the `postgres` system user.
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "pgstack/pg/errors.h"
#include "pgstack/sys/process.h"

namespace pgstack::sys {

namespace {
constexpr const char* kServerUser = "postgres";

// The passwd entry of name (uid or name lookups), or nullopt.
struct UserEntry {
  std::string name;
  uid_t uid;
  gid_t gid;
};
std::optional<UserEntry> find_user(const char* name) {
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  if (::getpwnam_r(name, &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) return std::nullopt;
  return UserEntry{entry.pw_name, entry.pw_uid, entry.pw_gid};
}
std::optional<UserEntry> find_user(uid_t uid) {
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  if (::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) return std::nullopt;
  return UserEntry{entry.pw_name, entry.pw_uid, entry.pw_gid};
}
UserEntry server_entry(const std::string& path) {
  auto entry = find_user(kServerUser);
  if (!entry)
    throw Error(std::string("cannot give ") + path + " to user " + kServerUser +
                ": no such user; install postgresql-15 (scripts/install-deps)");
  return *entry;
}
}  // namespace

bool is_root() { return ::geteuid() == 0; }

std::string server_user() { return is_root() ? kServerUser : std::string(); }

void give_to_server_user(const std::string& path) {
  if (!is_root()) return;
  const auto entry = server_entry(path);
  auto chown_one = [&](const std::filesystem::path& p) {
    if (::lchown(p.c_str(), entry.uid, entry.gid) != 0) {
      throw Error("cannot give " + p.string() + " to user " + kServerUser + ": " + std::strerror(errno));
    }
  };
  chown_one(path);
  std::error_code ec;
  if (!std::filesystem::is_directory(std::filesystem::symlink_status(path, ec))) return;
  for (auto it = std::filesystem::recursive_directory_iterator(path, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    chown_one(it->path());
  }
  if (ec) throw Error("cannot give " + path + " to user " + kServerUser + ": " + ec.message());
}

std::string server_os_user() {
  if (is_root()) return kServerUser;
  auto self = find_user(::geteuid());
  if (!self) throw Error("cannot tell which user this process runs as (no passwd entry for uid " +
                         std::to_string(::geteuid()) + ")");
  return self->name;
}

void restrict_folder_to_stack(const std::string& path) {
  if (is_root()) {
    const auto entry = server_entry(path);
    if (::lchown(path.c_str(), static_cast<uid_t>(-1), entry.gid) != 0)
      throw Error("cannot give the group of " + path + " to " + kServerUser + ": " + std::strerror(errno));
  }
  if (::chmod(path.c_str(), 0750) != 0) throw Error("cannot make " + path + " private (mode 0750): " + std::strerror(errno));
}

}  // namespace pgstack::sys
