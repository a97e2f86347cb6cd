// Who may read the metrics endpoint: TLS and basic or bearer authentication, the three
// Prometheus speaks (basic_auth, authorization, tls_config). The metrics name the
// stack's servers, roles, slow statements and backup state, so an endpoint reachable
// from other machines must not be open: anything but loopback needs TLS or credentials,
// or an explicit --insecure-listen that is warned about.
//
// Secrets come from files, never argv (ps shows argv to every user), and a file others
// can read is refused. Passwords are stored hashed (crypt(3): bcrypt, sha512-crypt or
// yescrypt), one "user:hash" line each, as htpasswd -B or `openssl passwd -6` makes them.
//
//   EndpointSecurity security{.basic_auth_file = "/etc/pgstack/metrics.passwd"};
//   check_exposure("0.0.0.0", security);              // throws UsageError when it would be open
//   Authenticator auth(load_credentials(security));   // throws UsageError naming the file and line
//   if (!auth.allows(request.get_header_value("Authorization"))) reply 401;
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace pgstack::metrics {

struct EndpointSecurity {
  std::filesystem::path tls_cert;           // PEM; with tls_key, the endpoint speaks HTTPS only
  std::filesystem::path tls_key;
  std::filesystem::path basic_auth_file;    // "user:crypt-hash" lines; # comments
  std::filesystem::path bearer_token_file;  // one token, at least 16 characters
  bool insecure_listen = false;             // a non-loopback address with neither TLS nor credentials
  bool tls() const { return !tls_cert.empty() || !tls_key.empty(); }
  bool authenticates() const { return !basic_auth_file.empty() || !bearer_token_file.empty(); }
};

// 127.0.0.0/8, ::1, ::ffff:127.x.x.x and "localhost". Any other name is treated as
// reachable from elsewhere, since what it resolves to can change.
bool is_loopback(const std::string& host);

// Throws pg::UsageError when host is not loopback and security has neither TLS nor
// credentials nor insecure_listen, and when tls_cert or tls_key comes without the other.
void check_exposure(const std::string& host, const EndpointSecurity& security);

// What the operator should know about a listen that is allowed but weak: nothing for
// loopback; credentials over plain HTTP; TLS that anyone may scrape; --insecure-listen.
std::vector<std::string> exposure_warnings(const std::string& host, const EndpointSecurity& security);

struct BasicUser {
  std::string name;
  std::string hash;  // crypt(3) output: $2b$..., $6$..., $y$...
};

struct Credentials {
  std::vector<BasicUser> users;
  std::string bearer_token;
  bool any() const { return !users.empty() || !bearer_token.empty(); }
};

// Reads the files security names (not the TLS files: HttpEndpoint loads those) and
// checks that no secret file is open to others. Throws pg::UsageError saying which file,
// which line, what is wrong and what to do; never quotes a secret.
Credentials load_credentials(const EndpointSecurity& security);

// Refuses (pg::UsageError) a secret file (key, password or token) that others may read
// or that anyone but its owner may write.
void check_secret_file_mode(const std::filesystem::path& file, const std::string& what);

// "user:hash" lines; file names the source in errors. Exposed for tests.
std::vector<BasicUser> parse_basic_auth_file(const std::string& text, const std::string& file);

// Checks an Authorization header against the credentials, in time that does not depend
// on how much of a secret matched. With no credentials every request is allowed.
class Authenticator {
 public:
  explicit Authenticator(Credentials credentials);
  bool allows(const std::string& authorization_header) const;
  // The WWW-Authenticate challenges a 401 carries: Basic and/or Bearer.
  std::vector<std::string> challenges() const;

 private:
  bool allows_basic(const std::string& encoded) const;
  bool allows_bearer(const std::string& token) const;
  Credentials credentials_;
};

}  // namespace pgstack::metrics
