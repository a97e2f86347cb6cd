#include "pgstack/ops/metrics/metrics_config.h"

#include "pgstack/base/toml_table.h"

namespace pgstack::metrics {

MetricsConfig load_metrics_config(const std::filesystem::path& file) {
  MetricsConfig config;
  auto root = pgstack::read_toml_file(file);
  pgstack::TomlTable t(file, root, "metrics");
  config.listen = t.text("listen");
  config.security.tls_cert = t.path("tls_cert").value_or("");
  config.security.tls_key = t.path("tls_key").value_or("");
  config.tls_from_stack = t.boolean("tls_from_stack").value_or(false);
  config.security.basic_auth_file = t.path("basic_auth_file").value_or("");
  config.security.bearer_token_file = t.path("bearer_token_file").value_or("");
  config.security.insecure_listen = t.boolean("insecure_listen").value_or(false);
  t.done();
  if (config.tls_from_stack && config.security.tls())
    t.fail("tls_from_stack", "and tls_cert/tls_key both name a certificate; keep one of them");
  return config;
}

}  // namespace pgstack::metrics
