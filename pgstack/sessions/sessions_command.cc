// pgstack sessions list|revoke [--db URL] [--json]: a user's sessions, and logging a
// user out everywhere, through the sessions SQL API (docs/sessions.md).
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "pgstack/capability/capability.h"
#include "pgstack/cli/cli_context.h"
#include "pgstack/cli/integer_options.h"
#include "pgstack/sessions/session_store.h"

namespace pgstack::sessions {

capability::Capability capability();  // capability.cc

namespace {

using namespace pgstack::cli;

struct SessionsArgs {
  std::optional<std::string> db;
  bool json = false;
  std::optional<std::string> user;
  std::optional<std::int64_t> id;
};

template <class F>
void with_sessions(const SessionsArgs& args, F f) {
  // The command's own connection (no statement cache: the DSN may be PgBouncer's).
  auto conn = connect_installed(args.db, capability());
  sessions::SessionStore store(conn);
  f(store);
}

void run_list(const SessionsArgs& args) {
  set_command("pgstack sessions list");
  with_sessions(args, [&](sessions::SessionStore& store) {
    auto list = store.list(*args.user);
    if (args.json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& s : list)
        out.push_back({{"id", s.id}, {"data", s.data}, {"created_at", utc_text(s.created_at)},
                       {"last_seen_at", utc_text(s.last_seen_at)}, {"valid_until", utc_text(s.valid_until)}});
      print_json({{"user", *args.user}, {"sessions", out}});
      return;
    }
    std::cout << fmt::format("{:>10}  {:<21} {:<21} {:<21} {}\n", "ID", "CREATED", "LAST SEEN", "VALID UNTIL", "DATA");
    for (const auto& s : list)
      std::cout << fmt::format("{:>10}  {:<21} {:<21} {:<21} {}\n", s.id, utc_text(s.created_at),
                               utc_text(s.last_seen_at), utc_text(s.valid_until), s.data.dump());
    if (list.empty()) std::cout << fmt::format("(user {} has no valid sessions)\n", *args.user);
  });
}

void run_revoke(const SessionsArgs& args) {
  set_command("pgstack sessions revoke");
  if (args.user.has_value() == args.id.has_value())
    throw BadUsage("give either --user (every session of that user) or --id (one session)");
  with_sessions(args, [&](sessions::SessionStore& store) {
    std::int64_t ended = args.user ? store.revoke_all(*args.user) : (store.revoke(*args.id) ? 1 : 0);
    if (args.json) {
      print_json({{"revoked", ended}});
      return;
    }
    if (args.id && ended == 0) throw pgstack::Error(fmt::format("session {} does not exist", *args.id));
    if (args.user)
      std::cout << fmt::format("revoked {} session{} of user {}\n", ended, ended == 1 ? "" : "s", *args.user);
    else
      std::cout << fmt::format("revoked session {}\n", *args.id);
  });
}

}  // namespace

void add_commands(CLI::App& app) {
  auto* sessions = app.add_subcommand("sessions", "Sessions: list a user's, revoke (docs/sessions.md)");
  sessions->require_subcommand(1);
  auto args = std::make_shared<SessionsArgs>();
  auto common = [&](CLI::App* cmd) {
    cmd->add_option("--db", args->db, "Database URL (default: $DATABASE_URL, then the local stack)");
    cmd->add_flag("--json", args->json, "Print as JSON");
  };
  auto* list = sessions->add_subcommand("list", "A user's valid sessions, newest first");
  common(list);
  list->add_option("--user", args->user, "User id")->required();
  list->callback([args] { run_list(*args); });
  auto* revoke = sessions->add_subcommand("revoke", "End sessions at once: all of a user's, or one by id");
  common(revoke);
  revoke->add_option("--user", args->user, "End every session of this user");
  revoke->add_option("--id", args->id, "End this session (an id from `sessions list`)")
      ->check(positive_id());
  revoke->callback([args] { run_revoke(*args); });
}

}  // namespace pgstack::sessions
