// What `pgstack up` checks before it creates or starts anything (ports, the folder), and
// how a new stack's first `up` that fails part-way is undone: what it started is
// stopped and what it created removed, never a file of an existing stack or one the
// user made.
//
//   check_primary_port(port, "--port", {{"the standby", 1}, {"PgBouncer", 2}});
//   check_folder_usable(layout.dir);
//   NewStackRollback rollback(layout);   // before the first thing is created
//   ...; rollback.keep();                // on success
#pragma once

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "pgstack/ops/stack/layout.h"
#include "pgstack/pg/errors.h"

namespace pgstack::stack {

// Below it only root may listen, and the servers never run as root.
inline constexpr int kLowestServerPort = 1024;

// A component whose port is the primary's plus offset unless pgstack.toml gives its own.
struct PortFollower {
  std::string name;  // "the standby"
  int offset = 1;
};

// A port up cannot use: bad usage when it came from --port, which the CLI tells apart.
class PortRefused : public Error {
 public:
  using Error::Error;
};

// Refuses (PortRefused) a primary port (source: "--port", "[primary] port in FILE") that is privileged
// or leaves a follower past 65535: "--port is 65535; it must be from 1024 to 65533,
// because the standby listens on port+1 and PgBouncer on port+2".
void check_primary_port(std::int64_t port, const std::string& source, const std::vector<PortFollower>& followers);

// We can create (or write) dir and the server user can enter the folder that will hold
// it: checked on the nearest folder that exists, before anything is made.
void check_folder_usable(const std::filesystem::path& dir);

// Made for a stack that does not exist yet; unless keep() is called, its destructor
// stops the stack's servers and removes what `up` created: the whole folder when up
// made it, else only the entries up added to the user's (empty) folder.
class NewStackRollback {
 public:
  explicit NewStackRollback(const ClusterLayout& layout);
  ~NewStackRollback();
  NewStackRollback(const NewStackRollback&) = delete;
  NewStackRollback& operator=(const NewStackRollback&) = delete;
  void keep() { armed_ = false; }

 private:
  void undo() noexcept;
  const ClusterLayout& layout_;  // up's, whose ports change as it goes
  std::filesystem::path topmost_created_;  // the highest folder that did not exist; empty if dir did
  std::set<std::filesystem::path> entries_before_;
  bool armed_ = true;
};

}  // namespace pgstack::stack
