// The primary's TLS certificate: a self-signed server.crt/server.key in the data folder,
// made once (openssl CLI) and kept across restarts; `ssl = on` reads them from there.
//
//   if (pgstack::stack::ensure_certificate(layout.primary().dir))
//     report.actions.push_back("made a self-signed TLS certificate");
#pragma once

#include <filesystem>

namespace pgstack::stack {

// Makes <data_dir>/server.crt and server.key (EC P-256, CN=localhost, SAN localhost,
// 127.0.0.1, ::1, ten years) when either is missing, owned by the server user, key mode
// 0600, certificate 0640. Returns true when it made them. Throws pgstack::Error when
// openssl fails.
bool ensure_certificate(const std::filesystem::path& data_dir);

// Closes <data_dir>/server.crt to others (0640) when it is open to them: certificates
// made before, and the standby's copy of the primary's.
void restrict_certificate_mode(const std::filesystem::path& data_dir);

}  // namespace pgstack::stack
