// pgstack pubsub publish|listen [--db URL] [--json]: publish/subscribe from the command
// line (docs/pubsub.md). listen prints live messages as they arrive, one per line.
#include <csignal>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "pgstack/capability/capability.h"
#include "pgstack/cli/cli_context.h"
#include "pgstack/cli/integer_options.h"
#include "pgstack/pubsub/pubsub.h"

namespace pgstack::pubsub {

capability::Capability capability();  // capability.cc

namespace {

using namespace pgstack::cli;

struct PubsubArgs {
  std::optional<std::string> db;
  bool json = false;
  std::string channel;              // publish
  std::vector<std::string> channels;  // listen
  std::string message;
  bool durable = false;
  std::optional<int> count;
  std::optional<std::string> timeout;
};

volatile std::sig_atomic_t interrupted = 0;

void run_publish(const PubsubArgs& args) {
  set_command("pgstack pubsub publish");
  auto conn = connect_installed(args.db, capability());
  const auto& channel = args.channel;
  auto id = args.durable ? pubsub::publish_durable(conn, channel, args.message) : pubsub::publish(conn, channel, args.message);
  if (args.json)
    print_json({{"channel", channel}, {"id", id}, {"durable", args.durable}});
  else
    std::cout << fmt::format("published message {} on {}{}\n", id, channel, args.durable ? " (durable)" : "");
}

void run_listen(const PubsubArgs& args) {
  set_command("pgstack pubsub listen");
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (args.timeout) deadline = std::chrono::steady_clock::now() + parse_duration(*args.timeout, "--timeout");
  auto probe = connect_installed(args.db, capability());
  if (behind_pooler(probe))
    throw BadUsage(
        "listen needs a direct connection to the server: through a transaction pooler (PgBouncer) LISTEN is lost "
        "when the transaction ends; pass --db with the primary's DSN (pgstack env: PGSTACK_PRIMARY_URL)");
  pubsub::Subscriber sub({.dsn = resolve_dsn(args.db)});
  for (const auto& c : args.channels) sub.subscribe(c);
  std::signal(SIGINT, [](int) { interrupted = 1; });
  std::signal(SIGTERM, [](int) { interrupted = 1; });
  if (!args.json) std::cerr << fmt::format("listening on {} (Ctrl-C to stop)\n", fmt::join(args.channels, ", "));
  int received = 0;
  while (!interrupted && (!args.count || received < *args.count)) {
    if (deadline && std::chrono::steady_clock::now() >= *deadline) break;
    auto m = sub.next(std::chrono::milliseconds(200));
    if (!m) continue;
    ++received;
    if (args.json)
      std::cout << nlohmann::json({{"channel", m->channel}, {"id", m->id}, {"payload", m->payload}}).dump() << std::endl;
    else
      std::cout << fmt::format("{}: {}", m->channel, m->payload) << std::endl;
  }
}

}  // namespace

void add_commands(CLI::App& app) {
  auto* ps = app.add_subcommand("pubsub", "Publish and listen to messages (docs/pubsub.md)");
  ps->require_subcommand(1);
  auto args = std::make_shared<PubsubArgs>();
  auto common = [&](CLI::App* cmd) {
    cmd->add_option("--db", args->db, "Database URL (default: $DATABASE_URL, then the local stack)");
    cmd->add_flag("--json", args->json, "Print as JSON (listen: one object per line)");
  };
  auto* publish = ps->add_subcommand("publish", "Publish a message on a channel");
  common(publish);
  publish->add_option("channel", args->channel, "Channel")->required();
  publish->add_option("message", args->message, "Message text")->required();
  publish->add_flag("--durable", args->durable, "Store it, for consumers that read on from their position");
  publish->callback([args] { run_publish(*args); });
  auto* listen = ps->add_subcommand("listen", "Print live messages of channels as they arrive");
  common(listen);
  listen->add_option("channels", args->channels, "Channels")->required();
  listen->add_option("--count", args->count, "Stop after this many messages")
      ->check(whole_number_in(1, 1000000000));
  listen->add_option("--timeout", args->timeout, "Stop after this long: 30s, 5m, ...");
  listen->callback([args] { run_listen(*args); });
}

}  // namespace pgstack::pubsub
