#include "pgstack/ops/stack/layout_recovery.h"

#include <charconv>
#include <regex>
#include <sstream>

#include <fmt/format.h>

#include "pgstack/pg/errors.h"
#include "pgstack/base/files.h"

namespace pgstack::stack {
namespace {

namespace fs = std::filesystem;

std::optional<int> to_port(const std::string& text) {
  int port = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || end != text.data() + text.size() || port < 1 || port > 65535) return std::nullopt;
  return port;
}

// Line 4 of postmaster.pid is the port the server listens on.
std::optional<int> port_in_pid_file(const fs::path& data) {
  std::istringstream in(pgstack::read_text_file((data / "postmaster.pid").string()));
  std::string line;
  for (int i = 0; i < 4 && std::getline(in, line); ++i) {
  }
  return line.empty() ? std::nullopt : to_port(line);
}

// The last `key = value` of a conf/ini file (the one that wins), value unquoted.
std::optional<std::string> setting_in(const fs::path& file, const std::string& key) {
  const std::regex pattern("^\\s*" + key + "\\s*=\\s*'?([^'#;\\s]*)'?");
  std::istringstream in(pgstack::read_text_file(file.string()));
  std::optional<std::string> value;
  std::smatch m;
  for (std::string line; std::getline(in, line);)
    if (std::regex_search(line, m, pattern)) value = m[1].str();
  return value;
}

int server_port(const fs::path& data) {
  if (auto port = port_in_pid_file(data)) return *port;
  const auto conf = data / "pgstack.conf";
  if (auto text = setting_in(conf, "port"))
    if (auto port = to_port(*text)) return *port;
  throw Error(fmt::format("cannot tell the port of the server in {}: no postmaster.pid and no port in {}; "
                          "restore stack.json from a backup of the stack's folder",
                          data.string(), conf.string()));
}

// PgBouncer's first [databases] entry names the database as dbname=...
std::optional<std::string> pooled_database_name(const fs::path& ini) {
  std::istringstream in(pgstack::read_text_file(ini.string()));
  const std::regex entry("dbname=([^\\s']+)");
  std::smatch m;
  for (std::string line; std::getline(in, line);)
    if (std::regex_search(line, m, entry)) return m[1].str();
  return std::nullopt;
}

}  // namespace

std::optional<ClusterLayout> recover_layout(const fs::path& dir) {
  auto layout = ClusterLayout::local(dir);
  if (!fs::exists(layout.primary().dir / "PG_VERSION")) return std::nullopt;
  layout.primary().port = server_port(layout.primary().dir);
  if (Component* standby = layout.standby()) {
    if (fs::exists(standby->dir / "PG_VERSION")) standby->port = server_port(standby->dir);
    else standby->port = layout.primary().port + 1;  // never made: up makes it where it would have
  }
  const auto ini = layout.pgbouncer_dir() / "pgbouncer.ini";
  if (fs::exists(ini)) {
    auto port = setting_in(ini, "listen_port");
    if (!port || !to_port(*port))
      throw Error(fmt::format("cannot read PgBouncer's listen_port in {}; restore stack.json from a backup of the "
                              "stack's folder",
                              ini.string()));
    layout.pgbouncer.port = *to_port(*port);
    if (auto db = pooled_database_name(ini)) layout.database = *db;
  } else {
    layout.pgbouncer.port = layout.primary().port + 2;
  }
  return layout;
}

}  // namespace pgstack::stack
