// One PostgreSQL server of the stack, driven through initdb and pg_ctl as the server
// user (postgres when we are root). Used by stack.cc; other components (PgBouncer,
// pgBackRest) get files of their own beside it.
//
//   PostgresServer server(layout, layout.primary());
//   if (!server.initialized()) server.initdb();
//   server.write_config(settings); server.start();
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "pgstack/ops/stack/layout.h"
#include "pgstack/ops/tune/tune.h"

namespace pgstack::stack {

struct ServerState {
  bool running = false;
  pid_t pid = 0;
  bool stale_pid = false;  // postmaster.pid names a dead process: the server crashed
};

// A postgresql.conf string value: quoted, with quotes and backslashes inside doubled.
std::string conf_string(std::string_view text);

class PostgresServer {
 public:
  PostgresServer(const ClusterLayout& layout, const Component& component);

  bool initialized() const;  // PG_VERSION exists in the data folder
  ServerState state() const;

  // initdb --data-checksums -E UTF8, superuser `postgres`, peer auth on the socket and
  // none over TCP until pg_hba.h's files replace initdb's; includes pgstack.conf at the
  // end of postgresql.conf so the managed settings win over the defaults.
  void initdb();
  // Writes the managed include file (pgstack.conf); returns true when it changed.
  bool write_config(const std::vector<tune::Setting>& settings);
  // Fills the (empty) data folder with a copy of the primary taken by pg_basebackup
  // over the stack's socket, streaming WAL meanwhile, configured (-R) to follow the
  // primary through the physical replication slot `slot`.
  void base_backup_from(const Component& primary, const std::string& slot);
  // pg_ctl start -w; retries while a crashed server's children still hold shared memory.
  void start();
  // pg_ctl stop -m fast -w.
  void stop();
  // Applies changed configuration files (postgresql.conf, pg_hba.conf) to the running
  // server: reloads it and waits until new sessions see the reload; restarts it (fast)
  // when a changed setting needs a restart. Returns true when it restarted.
  bool apply_config(const std::string& superuser_dsn);

  std::string config_file() const;  // <data>/pgstack.conf

 private:
  const ClusterLayout& layout_;
  const Component& component_;
};

// Extra settings the stack needs beside tune's: addresses, socket folder, TLS, SCRAM,
// WAL archiving to pgBackRest (backup.h).
std::vector<tune::Setting> stack_settings(const ClusterLayout& layout, const Component& component, bool pg_cron);

// True when the pg_cron package for PostgreSQL 15 is installed (library and control file).
bool pg_cron_installed();

}  // namespace pgstack::stack
