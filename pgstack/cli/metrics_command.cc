// pgstack metrics [--listen HOST:PORT] [--once]: the stack's figures in Prometheus' text
// format, served at /metrics until SIGINT or SIGTERM (or printed once); every primary and
// standby of the stack is scraped, and PgBouncer and the backups, or the one --db server.
// Loopback by default; another address needs TLS or credentials (endpoint_security.h).
// pgstack metrics rules: alerting rules for the six alerts at pgstack.toml's thresholds.
#include <pthread.h>
#include <signal.h>

#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "pgstack/cli/cli_context.h"
#include "pgstack/cli/commands.h"
#include "pgstack/cli/integer_options.h"
#include "pgstack/cli/observe_target.h"
#include "pgstack/ops/metrics/http_endpoint.h"
#include "pgstack/ops/metrics/metrics_config.h"
#include "pgstack/ops/metrics/rules.h"
#include "pgstack/ops/metrics/scraper.h"

namespace pgstack::cli {
namespace {

struct MetricsArgs {
  std::optional<std::string> db;
  std::string dir = stack::kDefaultDir;
  std::optional<std::string> config;
  std::optional<std::string> listen;  // unset: [metrics] listen, else kDefaultListen
  metrics::EndpointSecurity security;
  bool tls_from_stack = false;
  bool once = false;
  int top_statements = 50;
};

constexpr const char* kDefaultListen = "127.0.0.1:9187";

// The flags over pgstack.toml's [metrics] table: a flag given wins over its key.
metrics::MetricsConfig listen_settings(const MetricsArgs& args, const ObserveTarget& target) {
  metrics::MetricsConfig out;
  if (auto file = resolve_config_file(args.config, target)) out = metrics::load_metrics_config(*file);
  if (args.listen) out.listen = args.listen;
  auto take = [](std::filesystem::path& field, const std::filesystem::path& flag) {
    if (!flag.empty()) field = flag;
  };
  take(out.security.tls_cert, args.security.tls_cert);
  take(out.security.tls_key, args.security.tls_key);
  take(out.security.basic_auth_file, args.security.basic_auth_file);
  take(out.security.bearer_token_file, args.security.bearer_token_file);
  out.security.insecure_listen |= args.security.insecure_listen;
  out.tls_from_stack |= args.tls_from_stack;
  if (out.tls_from_stack) {
    if (!target.stack) throw BadUsage("--tls-from-stack needs a stack (--dir); with --db pass --tls-cert and --tls-key");
    out.security.tls_cert = target.stack->primary().dir / "server.crt";
    out.security.tls_key = target.stack->primary().dir / "server.key";
  }
  return out;
}

metrics::ScraperOptions scraper_options(const MetricsArgs& args, const ObserveTarget& target) {
  metrics::ScraperOptions o;
  if (target.stack) o = metrics::Scraper::for_stack(*target.stack);
  else o.servers.push_back({"db", *target.dsn});
  o.collect.top_statements = args.top_statements;
  o.collect.idle_in_transaction_seconds = resolve_thresholds(args.config, target).idle_in_transaction_seconds;
  return o;
}

void run_metrics(const MetricsArgs& args) {
  set_command("pgstack metrics");
  auto target = resolve_observe_target(args.db, args.dir);
  metrics::Scraper scraper(scraper_options(args, target));
  if (args.once) {
    std::cout << scraper.scrape() << std::flush;
    return;
  }
  const auto settings = listen_settings(args, target);
  const auto& security = settings.security;
  metrics::ListenAddress address;
  try {
    address = metrics::parse_listen_address(settings.listen.value_or(kDefaultListen));
  } catch (const pg::UsageError& e) {
    throw BadUsage(e.what());
  }
  // SIGINT and SIGTERM are taken by one thread (sigwait), which stops the server; the
  // mask is set before any other thread starts, so they all inherit it.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::optional<metrics::HttpEndpoint> endpoint;
  try {
    endpoint.emplace(scraper, address.host, address.port, security);
  } catch (const pg::UsageError& e) {
    throw BadUsage(e.what());
  }
  for (const auto& warning : metrics::exposure_warnings(address.host, security)) std::cerr << warning << "\n";
  std::cerr << fmt::format("pgstack metrics: serving {}://{}:{}/metrics ({}{}); stop with Ctrl-C\n",
                           endpoint->tls() ? "https" : "http", address.host, endpoint->port(),
                           target.stack ? "the stack in " + target.dir : "one server",
                           security.authenticates() ? ", credentials required" : "")
            << std::flush;
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    endpoint->stop();
  });
  endpoint->serve();
  waiter.join();
}

}  // namespace

void add_metrics_commands(CLI::App& app) {
  auto args = std::make_shared<MetricsArgs>();
  auto* cmd = app.add_subcommand("metrics", "Serve the stack's metrics to Prometheus (or print them once)");
  cmd->add_option("--db", args->db, "One server to scrape (a database URL); default: the stack in --dir");
  cmd->add_option("--dir", args->dir, "The stack's folder")->capture_default_str();
  cmd->add_option("--config", args->config,
                  "pgstack.toml with [doctor] thresholds and [metrics] listen settings (default ./pgstack.toml)");
  cmd->add_option("--listen", args->listen,
                  "HOST:PORT to serve /metrics on (default: [metrics] listen, else 127.0.0.1:9187); an address "
                  "other machines reach needs TLS or credentials");
  // Secrets are read from files, never from argv, which every user on the host can see.
  cmd->add_option("--tls-cert", args->security.tls_cert, "PEM certificate: serve HTTPS (with --tls-key)");
  cmd->add_option("--tls-key", args->security.tls_key, "PEM private key of --tls-cert (closed to others)");
  cmd->add_flag("--tls-from-stack", args->tls_from_stack,
                "Serve HTTPS with the stack's own certificate (the primary's server.crt and server.key)");
  cmd->add_option("--basic-auth-file", args->security.basic_auth_file,
                  "File of user:hash lines (bcrypt, sha512-crypt or yescrypt; closed to others): require basic auth");
  cmd->add_option("--bearer-token-file", args->security.bearer_token_file,
                  "File holding one token (closed to others): require Authorization: Bearer");
  cmd->add_flag("--insecure-listen", args->security.insecure_listen,
                "Serve a non-loopback address with neither TLS nor credentials (warned about)");
  cmd->add_flag("--once", args->once, "Print one scrape to stdout and exit");
  cmd->add_option("--top-statements", args->top_statements, "Statements of pg_stat_statements to export, by total time")
      ->check(whole_number_in(0, 10000))
      ->capture_default_str();
  auto* rules = cmd->add_subcommand("rules", "Print Prometheus alerting rules for the six alerts");
  rules->fallthrough();  // `metrics rules --config FILE` takes metrics' --config and --dir
  rules->callback([args] {
    set_command("pgstack metrics rules");
    ObserveTarget target;
    if (auto layout = stack::ClusterLayout::load(args->dir)) target.stack = std::move(layout);
    std::cout << metrics::alerting_rules(resolve_thresholds(args->config, target));
  });
  cmd->callback([args, cmd, rules] {
    if (cmd->got_subcommand(rules)) return;
    run_metrics(*args);
  });
}

}  // namespace pgstack::cli
