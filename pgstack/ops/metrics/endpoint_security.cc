#include "pgstack/ops/metrics/endpoint_security.h"

#include <arpa/inet.h>
#include <crypt.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <sstream>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "pgstack/base/files.h"
#include "pgstack/base/strings.h"
#include "pgstack/pg/errors.h"

namespace pgstack::metrics {
namespace {

namespace fs = std::filesystem;

std::string read_secret_file(const fs::path& file, const std::string& what) {
  check_secret_file_mode(file, what);
  auto text = pgstack::read_text_file_if_readable(file.string());
  if (!text)
    throw pg::UsageError(fmt::format("{} {} cannot be read: {}; check the path and that this user may read it", what,
                                     file.string(), std::strerror(errno)));
  return std::move(*text);
}

// crypt(3) schemes worth storing a password with; DES, MD5 and plain text are not.
bool is_strong_hash(const std::string& hash) {
  for (const char* prefix : {"$2a$", "$2b$", "$2y$", "$6$", "$y$", "$gy$", "$7$"})
    if (hash.rfind(prefix, 0) == 0) return true;
  return false;
}

// Equal-length digests compared in constant time, so neither the length nor the first
// differing byte of a secret shows in the response time.
bool same_secret(const std::string& a, const std::string& b) {
  unsigned char da[SHA256_DIGEST_LENGTH];
  unsigned char db[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(a.data()), a.size(), da);
  SHA256(reinterpret_cast<const unsigned char*>(b.data()), b.size(), db);
  return CRYPTO_memcmp(da, db, sizeof da) == 0;
}

std::optional<std::string> base64_decode(const std::string& text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  std::size_t padding = text.size() - text.find_last_not_of('=') - 1;
  if (padding > 2) return std::nullopt;
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

// crypt(3) of password with hash's scheme and salt; empty when the hash is unusable.
std::string crypt_with(const std::string& password, const std::string& hash) {
  crypt_data data;
  std::memset(&data, 0, sizeof data);
  const char* out = crypt_rn(password.c_str(), hash.c_str(), &data, sizeof data);
  return out && out[0] != '*' ? std::string(out) : std::string();
}

}  // namespace

bool is_loopback(const std::string& host) {
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) != 1) return false;
  if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
  return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

void check_exposure(const std::string& host, const EndpointSecurity& security) {
  if (security.tls_cert.empty() != security.tls_key.empty())
    throw pg::UsageError("TLS needs both a certificate and its key: pass --tls-cert FILE and --tls-key FILE together "
                         "(or --tls-from-stack for the stack's own)");
  if (is_loopback(host) || security.tls() || security.authenticates() || security.insecure_listen) return;
  throw pg::UsageError(fmt::format(
      "listening on {}, other machines could read the stack's metrics (servers, roles, slow statements) without any "
      "check; protect it with --basic-auth-file FILE or --bearer-token-file FILE, and --tls-cert/--tls-key (or "
      "--tls-from-stack); or listen on 127.0.0.1; or pass --insecure-listen if a firewall already guards it",
      host));
}

std::vector<std::string> exposure_warnings(const std::string& host, const EndpointSecurity& security) {
  std::vector<std::string> out;
  if (is_loopback(host)) return out;
  if (!security.tls() && !security.authenticates())
    out.push_back(fmt::format("warning: --insecure-listen: anyone who can reach {} can read the stack's metrics", host));
  else if (!security.authenticates())
    out.push_back(fmt::format("warning: TLS without credentials: anyone who can reach {} can read the stack's metrics; "
                              "add --basic-auth-file or --bearer-token-file",
                              host));
  else if (!security.tls())
    out.push_back("warning: credentials over plain HTTP cross the network readable; add --tls-cert/--tls-key (or "
                  "--tls-from-stack)");
  return out;
}

void check_secret_file_mode(const fs::path& file, const std::string& what) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0)
    throw pg::UsageError(fmt::format("{} {}: {}; check the path", what, file.string(), std::strerror(errno)));
  if (!S_ISREG(st.st_mode))
    throw pg::UsageError(fmt::format("{} {} is not a regular file; give the file that holds it", what, file.string()));
  if (st.st_mode & (S_IRWXO | S_IWGRP))
    throw pg::UsageError(fmt::format("{} {} is open to others (mode {:04o}); a secret must be closed to them: "
                                     "chmod 600 {}",
                                     what, file.string(), st.st_mode & 07777, file.string()));
}

std::vector<BasicUser> parse_basic_auth_file(const std::string& text, const std::string& file) {
  std::vector<BasicUser> users;
  std::istringstream in(text);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    line = std::string(trim(line));
    if (line.empty() || line[0] == '#') continue;
    auto colon = line.find(':');
    // The line is never quoted back: it may hold a password written in clear by mistake.
    if (colon == std::string::npos || colon == 0)
      throw pg::UsageError(fmt::format("{}:{}: expected user:hash; make a line with `htpasswd -nB USER` or "
                                       "`printf 'USER:%s\\n' \"$(openssl passwd -6 -stdin)\"`",
                                       file, number));
    BasicUser user{line.substr(0, colon), line.substr(colon + 1)};
    if (!is_strong_hash(user.hash) || crypt_with("", user.hash).empty())
      throw pg::UsageError(fmt::format("{}:{}: the password of {} is not a bcrypt, sha512-crypt or yescrypt hash "
                                       "(store a hash, never the password: `openssl passwd -6 -stdin` or "
                                       "`htpasswd -nB {}`)",
                                       file, number, user.name, user.name));
    for (const auto& seen : users)
      if (seen.name == user.name)
        throw pg::UsageError(fmt::format("{}:{}: user {} is listed twice; keep one line per user", file, number, user.name));
    users.push_back(std::move(user));
  }
  if (users.empty())
    throw pg::UsageError(fmt::format("{} lists no user:hash line; add one, or drop --basic-auth-file", file));
  return users;
}

Credentials load_credentials(const EndpointSecurity& security) {
  Credentials out;
  if (!security.basic_auth_file.empty())
    out.users = parse_basic_auth_file(read_secret_file(security.basic_auth_file, "the basic auth file"),
                                      security.basic_auth_file.string());
  if (!security.bearer_token_file.empty()) {
    out.bearer_token = std::string(trim(read_secret_file(security.bearer_token_file, "the bearer token file")));
    if (out.bearer_token.size() < 16 || out.bearer_token.find_first_of(" \t\r\n") != std::string::npos)
      throw pg::UsageError(fmt::format("the bearer token file {} must hold one token of at least 16 characters, "
                                       "without spaces; make one with `openssl rand -hex 32 > {}`",
                                       security.bearer_token_file.string(), security.bearer_token_file.string()));
  }
  return out;
}

Authenticator::Authenticator(Credentials credentials) : credentials_(std::move(credentials)) {}

bool Authenticator::allows(const std::string& header) const {
  if (!credentials_.any()) return true;
  auto space = header.find(' ');
  if (space == std::string::npos) return false;
  std::string scheme = header.substr(0, space);
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::string value(trim(header.substr(space + 1)));
  if (scheme == "basic") return !credentials_.users.empty() && allows_basic(value);
  if (scheme == "bearer") return !credentials_.bearer_token.empty() && allows_bearer(value);
  return false;
}

bool Authenticator::allows_basic(const std::string& encoded) const {
  auto decoded = base64_decode(encoded);
  if (!decoded) return false;
  auto colon = decoded->find(':');
  if (colon == std::string::npos) return false;
  const std::string name = decoded->substr(0, colon);
  const std::string password = decoded->substr(colon + 1);
  const BasicUser* user = nullptr;
  for (const auto& u : credentials_.users)
    if (same_secret(u.name, name)) user = &u;
  // An unknown name is checked against the first user's hash and then refused: it costs
  // the same time as a wrong password, so response times do not tell which names exist.
  const std::string& hash = user ? user->hash : credentials_.users.front().hash;
  const bool match = same_secret(crypt_with(password, hash), hash);
  return user != nullptr && match;
}

bool Authenticator::allows_bearer(const std::string& token) const { return same_secret(token, credentials_.bearer_token); }

std::vector<std::string> Authenticator::challenges() const {
  std::vector<std::string> out;
  if (!credentials_.users.empty()) out.push_back("Basic realm=\"pgstack metrics\", charset=\"UTF-8\"");
  if (!credentials_.bearer_token.empty()) out.push_back("Bearer realm=\"pgstack metrics\"");
  return out;
}

}  // namespace pgstack::metrics
