#include "pgstack/ops/stack/preflight.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "pgstack/ops/stack/pgbouncer.h"
#include "pgstack/ops/stack/postgres_server.h"
#include "pgstack/pg/errors.h"
#include "pgstack/sys/process.h"

namespace pgstack::stack {
namespace {

namespace fs = std::filesystem;

constexpr int kHighestPort = 65535;

// dir itself when it exists, else its nearest existing parent.
fs::path nearest_existing(const fs::path& dir) {
  fs::path probe = dir;
  std::error_code ec;
  while (!fs::exists(probe, ec) && probe.has_parent_path() && probe != probe.parent_path()) probe = probe.parent_path();
  return probe;
}

std::string followers_text(const std::vector<PortFollower>& followers) {
  std::string text;
  for (std::size_t i = 0; i < followers.size(); ++i)
    text += fmt::format("{}{} listens on port+{}", i == 0 ? "" : (i + 1 == followers.size() ? " and " : ", "),
                        followers[i].name, followers[i].offset);
  return text;
}

}  // namespace

void check_primary_port(std::int64_t port, const std::string& source, const std::vector<PortFollower>& followers) {
  int highest_offset = 0;
  for (const auto& f : followers) highest_offset = std::max(highest_offset, f.offset);
  const int highest = kHighestPort - highest_offset;
  std::string why;
  if (port < kLowestServerPort) why = fmt::format("ports below {} need root, and the servers never run as root", kLowestServerPort);
  else if (port > kHighestPort) why = "TCP ports end at 65535" + (followers.empty() ? "" : ", and " + followers_text(followers));
  else if (port > highest) why = followers_text(followers);
  else return;
  throw PortRefused(fmt::format("{} is {}; it must be from {} to {}, because {}; nothing was created", source, port,
                                 kLowestServerPort, highest, why));
}

void check_folder_usable(const fs::path& dir) {
  const fs::path probe = nearest_existing(dir);
  std::error_code ec;
  if (!fs::is_directory(probe, ec))
    throw Error(fmt::format("cannot create {}: {} is not a folder; pass --dir with a writable folder", dir.string(),
                            probe.string()));
  if (::access(probe.c_str(), W_OK | X_OK) != 0)
    throw Error(fmt::format("cannot {} {}: {} is not writable ({}); pass --dir with a writable folder",
                            probe == dir ? "write to" : "create", dir.string(), probe.string(), std::strerror(errno)));
  // The stack's folder itself is opened to the server user's group when made; the folder
  // above it must let that user through.
  const fs::path above = probe == dir ? nearest_existing(dir.parent_path()) : probe;
  if (auto user = sys::server_user(); !user.empty()) {
    auto r = sys::run({"test", "-x", above.string()}, {.as_user = user});
    if (r.exit_code != 0)
      throw Error(fmt::format(
          "the {} user cannot reach {} ({} is private to its owner); pass --dir with a folder others may enter, or "
          "run chmod o+x on the parents; nothing was created",
          user, dir.string(), above.string()));
  }
}

NewStackRollback::NewStackRollback(const ClusterLayout& layout) : layout_(layout) {
  std::error_code ec;
  if (fs::exists(layout.dir, ec)) {
    for (const auto& entry : fs::directory_iterator(layout.dir, ec)) entries_before_.insert(entry.path());
    return;
  }
  topmost_created_ = layout.dir;
  while (topmost_created_.has_parent_path() && topmost_created_ != topmost_created_.parent_path() &&
         !fs::exists(topmost_created_.parent_path(), ec))
    topmost_created_ = topmost_created_.parent_path();
}

NewStackRollback::~NewStackRollback() {
  if (armed_) undo();
}

void NewStackRollback::undo() noexcept {
  try {
    stop_pgbouncer(layout_);
    // Standbys first, as `down` does.
    for (auto it = layout_.components.rbegin(); it != layout_.components.rend(); ++it) {
      PostgresServer server(layout_, *it);
      if (server.state().running) server.stop();
    }
  } catch (...) {
    // A server that will not stop keeps its files: removing them under it helps nobody.
    return;
  }
  std::error_code ec;
  if (!topmost_created_.empty()) {
    fs::remove_all(topmost_created_, ec);
    return;
  }
  std::vector<fs::path> added;
  for (const auto& entry : fs::directory_iterator(layout_.dir, ec))
    if (!entries_before_.count(entry.path())) added.push_back(entry.path());
  for (const auto& path : added) fs::remove_all(path, ec);
}

}  // namespace pgstack::stack
