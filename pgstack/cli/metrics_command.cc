// pgstack metrics [--listen HOST:PORT] [--once]: the stack's figures in Prometheus' text
// format, served at /metrics until SIGINT or SIGTERM (or printed once); every primary and
// standby of the stack is scraped, and PgBouncer and the backups, or the one --db server.
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
#include "pgstack/metrics/http_endpoint.h"
#include "pgstack/metrics/rules.h"
#include "pgstack/metrics/scraper.h"

namespace pgstack::cli {
namespace {

struct MetricsArgs {
  std::optional<std::string> db;
  std::string dir = cluster::kDefaultDir;
  std::optional<std::string> config;
  std::string listen = "127.0.0.1:9187";
  bool once = false;
  int top_statements = 50;
};

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
  metrics::ListenAddress address;
  try {
    address = metrics::parse_listen_address(args.listen);
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
  metrics::HttpEndpoint endpoint(scraper, address.host, address.port);
  std::cerr << fmt::format("pgstack metrics: serving http://{}:{}/metrics ({}); stop with Ctrl-C\n", address.host,
                           endpoint.port(), target.stack ? "the stack in " + target.dir : "one server")
            << std::flush;
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    endpoint.stop();
  });
  endpoint.serve();
  waiter.join();
}

}  // namespace

void add_metrics_commands(CLI::App& app) {
  auto args = std::make_shared<MetricsArgs>();
  auto* cmd = app.add_subcommand("metrics", "Serve the stack's metrics to Prometheus (or print them once)");
  cmd->add_option("--db", args->db, "One server to scrape (a database URL); default: the stack in --dir");
  cmd->add_option("--dir", args->dir, "The stack's folder")->capture_default_str();
  cmd->add_option("--config", args->config, "pgstack.toml with a [doctor] table of thresholds (default ./pgstack.toml)");
  cmd->add_option("--listen", args->listen, "HOST:PORT to serve /metrics on")->capture_default_str();
  cmd->add_flag("--once", args->once, "Print one scrape to stdout and exit");
  cmd->add_option("--top-statements", args->top_statements, "Statements of pg_stat_statements to export, by total time")
      ->check(whole_number_in(0, 10000))
      ->capture_default_str();
  auto* rules = cmd->add_subcommand("rules", "Print Prometheus alerting rules for the six alerts");
  rules->fallthrough();  // `metrics rules --config FILE` takes metrics' --config and --dir
  rules->callback([args] {
    set_command("pgstack metrics rules");
    ObserveTarget target;
    if (auto layout = cluster::ClusterLayout::load(args->dir)) target.stack = std::move(layout);
    std::cout << metrics::alerting_rules(resolve_thresholds(args->config, target));
  });
  cmd->callback([args, cmd, rules] {
    if (cmd->got_subcommand(rules)) return;
    run_metrics(*args);
  });
}

}  // namespace pgstack::cli
