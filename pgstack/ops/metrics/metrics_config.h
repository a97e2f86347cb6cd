// pgstack.toml's [metrics] table: where `pgstack metrics` listens and who may read it,
// for an exporter run as a service with no flags. Flags given on the command line win.
//
//   # pgstack.toml
//   [metrics]
//   listen = "0.0.0.0:9187"
//   tls_from_stack = true                     # or tls_cert = "...", tls_key = "..."
//   basic_auth_file = "/etc/pgstack/metrics.passwd"
//
//   auto config = pgstack::metrics::load_metrics_config("pgstack.toml");
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "pgstack/ops/metrics/endpoint_security.h"

namespace pgstack::metrics {

struct MetricsConfig {
  std::optional<std::string> listen;  // HOST:PORT
  EndpointSecurity security;          // paths relative to the file made absolute
  bool tls_from_stack = false;
};

// Reads [metrics] (absent: every field unset). Throws pgstack::Error naming the file,
// the key and the fix for an unknown key or a value of the wrong type.
MetricsConfig load_metrics_config(const std::filesystem::path& file);

}  // namespace pgstack::metrics
