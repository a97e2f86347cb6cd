// Migrations as files: names, checksums, the no-transaction marker, a folder of
// NNN_name.sql, and pgstack's embedded modules put in dependency order.
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "pgstack/base/files.h"
#include "pgstack/schema/builtin_modules.h"
#include "pgstack/schema/migration_runner.h"

namespace pgstack::schema {
namespace {

constexpr std::string_view kNoTransactionMarker = "-- pgstack:no-transaction";

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr) != 1)
    throw pgstack::Error("could not compute a SHA-256 checksum (OpenSSL EVP_Digest failed)");
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

// A checkout on Windows (git autocrlf) must not look like an edited migration.
std::string normalize_line_endings(std::string_view sql) {
  std::string out;
  out.reserve(sql.size());
  for (std::size_t i = 0; i < sql.size(); ++i)
    if (!(sql[i] == '\r' && i + 1 < sql.size() && sql[i + 1] == '\n')) out += sql[i];
  return out;
}

bool starts_with_marker(std::string_view sql) {
  // The first non-blank line, so a file may start with an empty line or a BOM.
  if (sql.starts_with("\xEF\xBB\xBF")) sql.remove_prefix(3);
  std::size_t i = sql.find_first_not_of(" \t\r\n");
  if (i == std::string_view::npos) return false;
  std::string_view line = sql.substr(i, sql.find('\n', i) - i);
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.remove_suffix(1);
  return line == kNoTransactionMarker;
}

bool valid_module_name(std::string_view name) {
  return !name.empty() && name.size() <= 63 &&
         std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::islower(c) || std::isdigit(c) || c == '_'; });
}

std::string read_file(const std::filesystem::path& path) {
  auto content = pgstack::read_text_file_if_readable(path.string());
  if (!content) throw MigrationError(fmt::format("cannot read {}: check that the file exists and is readable", path.string()), path.string());
  return std::move(*content);
}

}  // namespace

MigrationError::MigrationError(std::string message, std::string file, int line)
    : Error(std::move(message)), file_(std::move(file)), line_(line) {}

const char* to_string(MigrationState state) {
  switch (state) {
    case MigrationState::applied: return "applied";
    case MigrationState::pending: return "pending";
    case MigrationState::changed: return "changed";
    case MigrationState::missing_file: return "missing_file";
  }
  return "unknown";
}

std::optional<int> migration_version(std::string_view file_name) {
  if (!file_name.ends_with(".sql")) return std::nullopt;
  std::size_t underscore = file_name.find('_');
  if (underscore == 0 || underscore == std::string_view::npos) return std::nullopt;
  std::string_view digits = file_name.substr(0, underscore);
  std::string_view rest = file_name.substr(underscore + 1, file_name.size() - underscore - 1 - 4);
  if (rest.empty() || !std::all_of(digits.begin(), digits.end(), [](unsigned char c) { return std::isdigit(c); }))
    return std::nullopt;
  int version = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), version);
  if (ec != std::errc() || end != digits.data() + digits.size() || version <= 0) return std::nullopt;
  return version;
}

Migration make_migration(const std::string& module, const std::string& file_name, const std::string& source,
                         std::string_view sql) {
  auto version = migration_version(file_name);
  if (!version)
    throw MigrationError(fmt::format("{}: a migration's name must be NNN_name.sql with NNN a positive number, "
                                     "e.g. 001_create_users.sql; rename the file",
                                     source),
                         source);
  Migration m;
  m.module = module;
  m.version = *version;
  m.name = file_name;
  m.source = source;
  m.sql = normalize_line_endings(sql);
  m.checksum = sha256_hex(m.sql);
  m.transactional = !starts_with_marker(m.sql);
  return m;
}

namespace {

Module make_module(const std::string& name, std::vector<std::string> depends_on, std::vector<Migration> migrations,
                   const std::string& where) {
  if (!valid_module_name(name))
    throw MigrationError(fmt::format("module name '{}' ({}) must be lower-case letters, digits and _", name, where));
  std::sort(migrations.begin(), migrations.end(), [](const Migration& a, const Migration& b) { return a.version < b.version; });
  for (std::size_t i = 1; i < migrations.size(); ++i)
    if (migrations[i].version == migrations[i - 1].version)
      throw MigrationError(fmt::format("{} and {} both have version {}: each version may appear once; renumber one of them",
                                       migrations[i - 1].source, migrations[i].source, migrations[i].version),
                           migrations[i].source);
  return Module{name, std::move(depends_on), std::move(migrations)};
}

}  // namespace

Module load_directory_module(const std::filesystem::path& dir, const std::string& module_name) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw MigrationError(fmt::format("migrations folder {} does not exist or is not a folder; "
                                     "pass the folder that holds your NNN_name.sql files",
                                     dir.string()),
                         dir.string());
  std::vector<Migration> migrations;
  std::filesystem::directory_iterator it(dir, ec), end;
  if (ec) throw MigrationError(fmt::format("cannot list {}: {}", dir.string(), ec.message()), dir.string());
  for (; it != end; it.increment(ec)) {
    if (ec) throw MigrationError(fmt::format("cannot list {}: {}", dir.string(), ec.message()), dir.string());
    if (!it->is_regular_file(ec)) continue;
    auto name = it->path().filename().string();
    if (!name.ends_with(".sql")) continue;  // README.md and friends live beside migrations
    auto path = it->path().string();
    migrations.push_back(make_migration(module_name, name, path, read_file(it->path())));
  }
  return make_module(module_name, {}, std::move(migrations), dir.string());
}

std::vector<Module> order_modules(std::vector<Module> modules) {
  std::map<std::string, const Module*> by_name;
  for (const auto& m : modules)
    if (!by_name.emplace(m.name, &m).second)
      throw MigrationError(fmt::format("two modules are named '{}'; module names must be unique", m.name));
  std::vector<Module> ordered;
  std::set<std::string> done, visiting;
  // Depth-first: a module goes out after everything it depends on.
  std::function<void(const Module&)> visit = [&](const Module& m) {
    if (done.count(m.name)) return;
    if (!visiting.insert(m.name).second)
      throw MigrationError(fmt::format("modules depend on each other in a cycle through '{}'", m.name));
    for (const auto& dep : m.depends_on) {
      auto found = by_name.find(dep);
      if (found == by_name.end())
        throw MigrationError(fmt::format("module '{}' depends on '{}', which is not built in", m.name, dep));
      visit(*found->second);
    }
    visiting.erase(m.name);
    done.insert(m.name);
    ordered.push_back(m);
  };
  for (const auto& m : modules) visit(m);
  return ordered;
}

std::vector<Module> modules_from_embedded(const std::vector<EmbeddedModule>& embedded) {
  std::vector<Module> modules;
  for (const auto& e : embedded) {
    std::vector<Migration> migrations;
    for (const auto& f : e.files)
      migrations.push_back(make_migration(e.name, f.name, fmt::format("embedded:{}/{}", e.name, f.name), f.sql));
    modules.push_back(make_module(e.name, e.depends_on, std::move(migrations), "built in"));
    modules.back().builtin = true;
  }
  return order_modules(std::move(modules));
}

}  // namespace pgstack::schema
