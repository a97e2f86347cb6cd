#include "pgstack/ops/stack/layout.h"

#include <cctype>
#include <sstream>

#include <fmt/format.h>

#include "pgstack/ops/stack/layout_recovery.h"
#include "pgstack/pg/errors.h"
#include "pgstack/base/files.h"

namespace pgstack::stack {

const char* to_string(Role role) {
  switch (role) {
    case Role::primary: return "primary";
    case Role::standby: return "standby";
    case Role::pooler: return "pooler";
  }
  return "primary";
}

ClusterLayout ClusterLayout::local(const std::filesystem::path& dir, int port) {
  ClusterLayout layout;
  layout.dir = std::filesystem::absolute(dir).lexically_normal();
  if (layout.dir.has_filename() == false) layout.dir = layout.dir.parent_path();  // drop a trailing slash
  layout.components.push_back({.name = "primary", .role = Role::primary, .port = port, .dir = layout.dir / "data" / "primary"});
  layout.add_standby();
  layout.pgbouncer.port = port + 2;
  return layout;
}

namespace {

ClusterLayout parse_stack_file(const std::filesystem::path& dir, std::istream& in) {
  auto layout = ClusterLayout::local(dir);
  auto doc = nlohmann::json::parse(in);
  layout.database = doc.value("database", std::string(kDatabase));
  layout.components.clear();
  for (const auto& c : doc.at("components")) {
    auto role = c.at("role").get<std::string>();
    if (role != "primary" && role != "standby") throw Error(fmt::format("unknown role '{}'", role));
    layout.components.push_back({.name = c.at("name").get<std::string>(),
                                 .role = role == "primary" ? Role::primary : Role::standby,
                                 .port = c.at("port").get<int>(),
                                 .dir = c.at("dir").get<std::string>()});
  }
  (void)layout.primary();
  layout.config_file = doc.value("config", std::string());
  // Stacks made before PgBouncer was part of them get it at its default port.
  layout.pgbouncer.port = layout.primary().port + 2;
  if (auto p = doc.find("pgbouncer"); p != doc.end()) {
    layout.pgbouncer.enabled = p->value("enabled", true);
    layout.pgbouncer.port = p->value("port", layout.pgbouncer.port);
    layout.pgbouncer.default_pool_size = p->value("default_pool_size", layout.pgbouncer.default_pool_size);
    layout.pgbouncer.max_db_connections = p->value("max_db_connections", layout.pgbouncer.max_db_connections);
    layout.pgbouncer.max_client_conn = p->value("max_client_conn", layout.pgbouncer.max_client_conn);
  }
  return layout;
}

// nlohmann's message without its "[json.exception.type_error.302] " prefix.
std::string json_problem(const std::exception& e) {
  std::string text = e.what();
  if (text.rfind("[json.exception.", 0) == 0)
    if (auto end = text.find("] "); end != std::string::npos) text.erase(0, end + 2);
  return text;
}

}  // namespace

std::optional<ClusterLayout> ClusterLayout::load(const std::filesystem::path& dir, BrokenFile broken) {
  const auto file = local(dir).stack_file();
  const auto text = pgstack::read_text_file_if_readable(file.string());
  if (!text) {
    auto rebuilt = recover_layout(dir);
    if (rebuilt) rebuilt->rebuilt_because = fmt::format("{} was missing", file.string());
    return rebuilt;
  }
  try {
    std::istringstream in(*text);
    return parse_stack_file(dir, in);
  } catch (const std::exception& e) {
    const auto problem = json_problem(e);
    if (broken == BrokenFile::refuse)
      throw Error(fmt::format("{} is not a valid stack file ({}); run pgstack up, which sets it aside as "
                              "stack.json.broken and rebuilds it from the servers' own files",
                              file.string(), problem));
    auto rebuilt = recover_layout(dir);
    if (!rebuilt)
      throw Error(fmt::format("{} is not a valid stack file ({}) and {} holds no server to rebuild it from; move it "
                              "away and run pgstack up to make a new stack",
                              file.string(), problem, dir.string()));
    std::error_code ec;
    std::filesystem::rename(file, std::filesystem::path(file.string() + ".broken"), ec);
    if (ec) throw Error(fmt::format("cannot set {} aside: {}; move it away by hand", file.string(), ec.message()));
    rebuilt->rebuilt_because = fmt::format("{} was not valid ({}); kept as stack.json.broken", file.string(), problem);
    return rebuilt;
  }
}

const Component& ClusterLayout::primary() const {
  for (const auto& c : components)
    if (c.role == Role::primary) return c;
  throw Error("the stack layout has no primary");
}

Component& ClusterLayout::primary() {
  return const_cast<Component&>(static_cast<const ClusterLayout*>(this)->primary());
}

const Component* ClusterLayout::standby() const {
  for (const auto& c : components)
    if (c.role == Role::standby) return &c;
  return nullptr;
}

Component* ClusterLayout::standby() {
  return const_cast<Component*>(static_cast<const ClusterLayout*>(this)->standby());
}

void ClusterLayout::add_standby() {
  if (standby()) return;
  const int port = primary().port + 1;
  components.push_back({.name = "standby", .role = Role::standby, .port = port, .dir = dir / "data" / "standby"});
}

namespace {
// Percent-encodes what a URI query value may not hold as is (spaces, &, #, %...).
std::string uri_encode(const std::string& text) {
  std::string out;
  for (unsigned char ch : text) {
    if (std::isalnum(ch) || ch == '/' || ch == '.' || ch == '_' || ch == '-' || ch == '~') out += static_cast<char>(ch);
    else out += fmt::format("%{:02X}", ch);
  }
  return out;
}
}  // namespace

std::string ClusterLayout::dsn(const Component* c, const std::string& db) const {
  if (!c) c = &primary();
  // A URI with the socket folder as host: libpq and psql both accept it.
  return fmt::format("postgresql://{}@/{}?host={}&port={}", kSuperuser, db.empty() ? database : db,
                     uri_encode(run_dir().string()), c->port);
}

std::string ClusterLayout::tcp_dsn(const Component* c, const std::string& db) const {
  if (!c) c = &primary();
  // No password in the DSN: libpq reads it from the passfile, so DSNs can be printed and logged.
  return fmt::format("postgresql://{}@127.0.0.1:{}/{}?sslmode=require&passfile={}", kSuperuser, c->port,
                     db.empty() ? database : db, uri_encode(credentials_file().string()));
}

std::string ClusterLayout::role_dsn(const std::string& role, const Component* c) const {
  if (!c) c = &primary();
  return fmt::format("postgresql://{}@127.0.0.1:{}/{}?sslmode=require&passfile={}", uri_encode(role), c->port, database,
                     uri_encode(credentials_file().string()));
}

std::string ClusterLayout::pooled_dsn(const std::string& role, bool read_only) const {
  return fmt::format("postgresql://{}@127.0.0.1:{}/{}?sslmode=require&passfile={}", uri_encode(role), pgbouncer.port,
                     pooled_database(read_only), uri_encode(credentials_file().string()));
}

std::string ClusterLayout::pgbouncer_admin_dsn() const {
  return fmt::format("postgresql://{}@/pgbouncer?host={}&port={}&passfile={}", kSuperuser,
                     uri_encode(run_dir().string()), pgbouncer.port, uri_encode(credentials_file().string()));
}

nlohmann::json ClusterLayout::to_json() const {
  nlohmann::json components_json = nlohmann::json::array();
  for (const auto& c : components) {
    components_json.push_back({{"name", c.name},
                               {"role", to_string(c.role)},
                               {"port", c.port},
                               {"dir", c.dir.string()},
                               {"socket_dir", run_dir().string()},
                               {"log_file", log_file(c).string()},
                               {"dsn", dsn(&c)},
                               {"tcp_dsn", tcp_dsn(&c)}});
  }
  return {{"version", 1},
          {"dir", dir.string()},
          {"database", database},
          {"config", config_file.string()},
          {"dsn", dsn()},
          {"tcp_dsn", tcp_dsn()},
          {"components", components_json},
          {"pgbouncer",
           {{"enabled", pgbouncer.enabled},
            {"port", pgbouncer.port},
            {"default_pool_size", pgbouncer.default_pool_size},
            {"max_db_connections", pgbouncer.max_db_connections},
            {"max_client_conn", pgbouncer.max_client_conn},
            {"dsn", pooled_dsn("app")},
            {"read_only_dsn", pooled_dsn("app_reader", true)}}}};
}

void ClusterLayout::save() const {
  // No secret in it, but it maps the stack: the stack's user and group only.
  pgstack::replace_file_if_changed(stack_file().string(), to_json().dump(2) + "\n", 0640);
}

}  // namespace pgstack::stack
