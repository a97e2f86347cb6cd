// Finding the programs pgstack runs: PostgreSQL 15's live outside PATH on Debian.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "pgstack/pg/errors.h"
#include "pgstack/sys/process.h"

namespace pgstack::sys {

namespace {

constexpr const char* kPgBinDir = "/usr/lib/postgresql/15/bin";
// Root's tools (runuser, pgbouncer on some systems) live in sbin, often not on a
// non-root PATH.
constexpr const char* kSbinDirs[] = {"/usr/local/sbin", "/usr/sbin", "/sbin"};

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

std::string pg_binary(const std::string& name) {
  // $PGSTACK_PG_BINDIR: PostgreSQL 15 installed elsewhere than Debian puts it.
  const char* env = std::getenv("PGSTACK_PG_BINDIR");
  const std::string dir = env != nullptr && *env != '\0' ? env : kPgBinDir;
  std::string path = dir + "/" + name;
  if (name.empty() || name.find('/') != std::string::npos || !is_executable_file(path)) {
    throw Error("PostgreSQL 15 program '" + name + "' not found in " + dir +
                ": install postgresql-15 (scripts/install-deps)" +
                (env != nullptr && *env != '\0' ? ", or fix $PGSTACK_PG_BINDIR" : ""));
  }
  return path;
}

std::optional<std::string> find_program(const std::string& name) {
  if (name.empty()) return std::nullopt;
  if (name.find('/') != std::string::npos) {
    return is_executable_file(name) ? std::optional<std::string>(name) : std::nullopt;
  }
  const char* path_env = std::getenv("PATH");
  std::istringstream dirs(path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;  // an empty entry means ".", which we never search
    std::string candidate = dir + "/" + name;
    if (is_executable_file(candidate)) return candidate;
  }
  for (const char* sbin : kSbinDirs) {
    std::string candidate = std::string(sbin) + "/" + name;
    if (is_executable_file(candidate)) return candidate;
  }
  return std::nullopt;
}

}  // namespace pgstack::sys
