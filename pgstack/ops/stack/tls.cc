#include "pgstack/ops/stack/tls.h"

#include <sys/stat.h>

#include <fmt/format.h>

#include "pgstack/pg/errors.h"
#include "pgstack/sys/process.h"

namespace pgstack::stack {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

void restrict_certificate_mode(const fs::path& data_dir) {
  // Not a secret, but nothing in the stack's folder is others' to read.
  const auto crt = data_dir / "server.crt";
  struct stat st {};
  if (::stat(crt.c_str(), &st) == 0 && (st.st_mode & 0007) != 0) ::chmod(crt.c_str(), 0640);
}

bool ensure_certificate(const fs::path& data_dir) {
  const auto crt = data_dir / "server.crt";
  const auto key = data_dir / "server.key";
  if (fs::exists(crt) && fs::exists(key)) {
    restrict_certificate_mode(data_dir);
    return false;
  }
  auto openssl = sys::find_program("openssl");
  if (!openssl)
    throw Error("openssl is not installed and the stack's TLS certificate is missing; run apt-get install openssl");
  auto r = sys::run({*openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-days", "3650", "-subj", "/CN=localhost", "-addext",
                     "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1", "-keyout", key.string() + ".tmp", "-out",
                     crt.string() + ".tmp"},
                    {.timeout = 60s});
  if (r.exit_code != 0)
    throw Error(fmt::format("openssl could not make the TLS certificate in {} (exit {}): {}", data_dir.string(),
                            r.exit_code, r.output));
  // The server refuses a key others may read.
  ::chmod((key.string() + ".tmp").c_str(), 0600);
  ::chmod((crt.string() + ".tmp").c_str(), 0640);
  sys::give_to_server_user(key.string() + ".tmp");
  sys::give_to_server_user(crt.string() + ".tmp");
  fs::rename(key.string() + ".tmp", key);
  fs::rename(crt.string() + ".tmp", crt);
  return true;
}

}  // namespace pgstack::stack
