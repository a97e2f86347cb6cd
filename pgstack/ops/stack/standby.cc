#include "pgstack/ops/stack/standby.h"

#include <fmt/format.h>

#include "pgstack/ops/stack/pg_hba.h"
#include "pgstack/ops/stack/postgres_server.h"
#include "pgstack/ops/stack/tls.h"
#include "pgstack/pg/connection.h"
#include "pgstack/pg/errors.h"
#include "pgstack/sys/process.h"

namespace pgstack::stack {
namespace fs = std::filesystem;

std::string replication_slot(const Component& standby) {
  // Component names are ours ("standby"); slot names allow [a-z0-9_] only.
  std::string slot = "pgstack_";
  for (char c : standby.name) slot += (std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '_');
  return slot;
}

namespace {

// Created once; a slot that exists (a standby made before) is kept with its position.
bool ensure_slot(const ClusterLayout& layout, const std::string& slot) {
  pg::Connection primary(layout.dsn(&layout.primary(), "postgres"));
  return primary
      .query_optional<std::string>(
          "SELECT slot_name::text FROM pg_create_physical_replication_slot($1) "
          "WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)",
          slot)
      .has_value();
}

}  // namespace

std::vector<std::string> ensure_standby(
    const ClusterLayout& layout,
    const std::function<std::vector<tune::Setting>(const Component&)>& settings_for) {
  std::vector<std::string> actions;
  const Component* standby = layout.standby();
  if (!standby) return actions;
  PostgresServer server(layout, *standby);
  auto state = server.state();
  if (state.running) {
    // Settings changed in pgstack.toml (max_connections, archiving) reach a running
    // standby too: a hot standby whose max_connections is below the primary's stops
    // replaying until it is restarted with the new value.
    bool changed = server.write_config(settings_for(*standby));
    if (changed) actions.push_back("rewrote " + server.config_file());
    restrict_certificate_mode(standby->dir);
    if (write_pg_hba(standby->dir)) {
      actions.push_back(fmt::format("wrote {}/pg_hba.conf and pg_ident.conf", standby->dir.string()));
      changed = true;
    }
    if (changed && server.apply_config(layout.dsn(standby, "postgres")))
      actions.push_back(fmt::format("restarted the standby to apply the new settings (pid {})", server.state().pid));
    return actions;
  }

  if (!server.initialized()) {
    std::error_code ec;
    if (fs::exists(standby->dir, ec) && !fs::is_empty(standby->dir, ec)) {
      // A base backup cut short (killed, disk full): no PG_VERSION yet, so nothing in
      // it is worth keeping; start it again from the primary.
      fs::remove_all(standby->dir, ec);
      if (ec)
        throw Error(fmt::format("cannot remove the unfinished standby folder {}: {}; remove it and run pgstack up again",
                                standby->dir.string(), ec.message()));
      actions.push_back(fmt::format("removed the unfinished standby copy in {}", standby->dir.string()));
    }
    const auto slot = replication_slot(*standby);
    if (ensure_slot(layout, slot)) actions.push_back(fmt::format("created replication slot {} on the primary", slot));
    server.base_backup_from(layout.primary(), slot);
    actions.push_back(fmt::format("copied the primary into {} with pg_basebackup", standby->dir.string()));
  }
  if (sys::port_in_use(standby->port))
    throw Error(fmt::format("port {} (the standby's) is in use by another process; stop it or pass --port so the "
                            "primary and standby move to a free pair",
                            standby->port));
  if (server.write_config(settings_for(*standby))) actions.push_back("wrote " + server.config_file());
  // The copy holds the primary's files; these rewrite those of a standby made before.
  restrict_certificate_mode(standby->dir);
  if (write_pg_hba(standby->dir))
    actions.push_back(fmt::format("wrote {}/pg_hba.conf and pg_ident.conf", standby->dir.string()));
  if (state.stale_pid) actions.push_back("found a stale postmaster.pid on the standby (it had crashed); restarting it");
  server.start();
  actions.push_back(fmt::format("started the standby on port {} (pid {}), streaming from the primary", standby->port,
                                server.state().pid));
  return actions;
}

}  // namespace pgstack::stack
