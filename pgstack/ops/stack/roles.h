// The stack's roles, their passwords and privileges (docs/stack.md): group roles
// `readwrite` and `readonly`; logins `app` (readwrite), `migrations` (readwrite, and the
// only one that may CREATE in schema public), `app_reader` (readonly); default privileges
// so what `migrations` creates is usable by both groups; timeouts set on the roles.
// Passwords are random, SCRAM-hashed by the server and kept in the credentials file.
//
//   pgstack::pg::Connection conn(layout.dsn());   // the superuser, over the socket
//   for (auto& line : pgstack::stack::ensure_roles(conn, layout)) report.actions.push_back(line);
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "pgstack/ops/stack/layout.h"
#include "pgstack/pg/connection.h"

namespace pgstack::stack {

struct StackRole {
  std::string name;
  bool login = false;
  std::vector<std::string> member_of;
  // ALTER ROLE ... SET: they hold for every session, also through a transaction pooler.
  std::vector<std::pair<std::string, std::string>> settings;
};

// The roles `up` makes, group roles first.
const std::vector<StackRole>& stack_roles();

// The login roles with a password in the credentials file: the superuser and the
// login roles of stack_roles().
std::vector<std::string> password_roles();

// The credentials file: libpq's passfile format, one `*:*:*:role:password` line per role,
// mode 0600 (docs/stack.md). Passwords are URL-safe base64, so they never need escaping.
std::map<std::string, std::string> read_credentials(const std::filesystem::path& file);
void write_credentials(const std::filesystem::path& file, const std::map<std::string, std::string>& passwords);

// 32 characters of URL-safe base64 from OpenSSL's RAND_bytes (192 bits).
std::string random_password();

// Makes what is missing: passwords (only for roles without one in the file), roles,
// memberships, role settings and privileges in the database conn is connected to.
// Returns what it did; empty when everything was in place.
std::vector<std::string> ensure_roles(pg::Connection& conn, const ClusterLayout& layout);

}  // namespace pgstack::stack
