// Who server processes run as: PostgreSQL refuses to run as root, so a root pgstack
// hands servers (and the folders they write) to the `postgres` system user.
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "pgstack/pg/errors.h"
#include "pgstack/sys/process.h"

namespace pgstack::sys {

namespace {
constexpr const char* kServerUser = "postgres";
}

bool is_root() { return ::geteuid() == 0; }

std::string server_user() { return is_root() ? kServerUser : std::string(); }

void give_to_server_user(const std::string& path) {
  if (!is_root()) return;
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  if (::getpwnam_r(kServerUser, &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
    throw Error(std::string("cannot give ") + path + " to user " + kServerUser +
                ": no such user; install postgresql-15 (scripts/install-deps)");
  }
  auto chown_one = [&](const std::filesystem::path& p) {
    if (::lchown(p.c_str(), entry.pw_uid, entry.pw_gid) != 0) {
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

}  // namespace pgstack::sys
