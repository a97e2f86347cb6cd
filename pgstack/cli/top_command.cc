// pgstack top [--db URL | --dir DIR] [--once] [--json] [--interval 2s] [--limit N]:
// statements by total and by mean time (pg_stat_statements), the queries running now,
// and the tree of who blocks whom. In a terminal it redraws in place until Ctrl-C;
// --once (or output that is not a terminal) prints one frame for scripts.
#include <unistd.h>

#include <csignal>
#include <iostream>
#include <set>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "pgstack/cli/cli_context.h"
#include "pgstack/cli/commands.h"
#include "pgstack/cli/integer_options.h"
#include "pgstack/cli/observe_target.h"
#include "pgstack/ops/doctor/activity.h"

namespace pgstack::cli {
namespace {

volatile std::sig_atomic_t interrupted = 0;

struct TopArgs {
  std::optional<std::string> db;
  std::string dir = stack::kDefaultDir;
  bool once = false;
  bool json = false;
  std::string interval = "2s";
  int limit = 10;
};

std::string clip(const std::string& s, std::size_t width) {
  return s.size() <= width ? s : s.substr(0, width - 1) + "~";
}

void print_statements(std::string& out, const char* title, const std::vector<doctor::StatementStat>& list) {
  out += fmt::format("{}\n  {:>9} {:>12} {:>10} {:>6}  {}\n", title, "calls", "total ms", "mean ms", "share", "query");
  for (const auto& s : list)
    out += fmt::format("  {:>9} {:>12.1f} {:>10.3f} {:>5.1f}%  {}\n", s.calls, s.total_ms, s.mean_ms, s.share * 100,
                       clip(s.query, 90));
  if (list.empty()) out += "  (none yet)\n";
}

void print_tree(std::string& out, const doctor::Activity& a, int pid, int depth, std::set<int>& seen) {
  const auto* q = a.find(pid);
  out += fmt::format("  {}{} {}{}\n", std::string(static_cast<std::size_t>(depth) * 2, ' '), pid,
                     q ? fmt::format("{} {:.1f} s ", q->state, q->seconds) : std::string("(not a client session) "),
                     q ? clip(q->query, 80) : "");
  if (!seen.insert(pid).second) return;  // a cycle: shown once
  for (int child : a.blocked_by(pid)) print_tree(out, a, child, depth + 1, seen);
}

std::string frame(const doctor::Activity& a, const std::string& where) {
  std::string out = fmt::format("pgstack top: {}\n\n", where);
  if (!a.statements_unavailable.empty()) {
    out += "statements: " + a.statements_unavailable + "\n";
  } else {
    print_statements(out, "statements by total time", a.by_total_time);
    out += "\n";
    print_statements(out, "statements by mean time", a.by_mean_time);
  }
  out += fmt::format("\nlive queries ({})\n  {:>7} {:<12} {:<10} {:<20} {:>9} {:<18} {}\n", a.live.size(), "pid", "user",
                     "database", "state", "seconds", "waiting on", "query");
  for (const auto& q : a.live)
    out += fmt::format("  {:>7} {:<12} {:<10} {:<20} {:>9.1f} {:<18} {}\n", q.pid, clip(q.user, 12),
                       clip(q.database, 10), clip(q.state, 20), q.seconds, clip(q.wait, 18), clip(q.query, 60));
  auto roots = a.blocking_roots();
  out += fmt::format("\nblocking ({} trees)\n", roots.size());
  std::set<int> seen;
  for (int root : roots) print_tree(out, a, root, 0, seen);
  if (roots.empty()) out += "  nobody is blocked\n";
  return out;
}

void run_top(const TopArgs& args) {
  set_command("pgstack top");
  auto target = resolve_observe_target(args.db, args.dir);
  auto dsn = target.dsn ? *target.dsn : target.stack->dsn();
  auto where = target.dsn ? pg::redact_dsn(dsn) : "the primary of the stack in " + target.dir;
  auto interval = parse_duration(args.interval, "--interval");
  auto conn = connect(dsn);
  const bool live = !args.once && !args.json && ::isatty(STDOUT_FILENO);
  if (!live) {
    auto a = doctor::read_activity(conn, {.limit = args.limit});
    if (args.json) print_json(a.to_json());
    else std::cout << frame(a, where);
    return;
  }
  std::signal(SIGINT, [](int) { interrupted = 1; });
  std::signal(SIGTERM, [](int) { interrupted = 1; });
  while (!interrupted) {
    auto a = doctor::read_activity(conn, {.limit = args.limit});
    // Home and clear, then the frame: the terminal redraws in place.
    std::cout << "\x1b[H\x1b[2J" << frame(a, where) << "\n(refreshing every " << args.interval << "; Ctrl-C to quit)"
              << std::flush;
    for (auto waited = std::chrono::microseconds(0); waited < interval && !interrupted;
         waited += std::chrono::milliseconds(100))
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::cout << "\n";
}

}  // namespace

void add_top_command(CLI::App& app) {
  auto args = std::make_shared<TopArgs>();
  auto* cmd = app.add_subcommand("top", "Statements by total and mean time, live queries, and who blocks whom");
  cmd->add_option("--db", args->db, "The server to watch (a database URL); default: the stack's primary");
  cmd->add_option("--dir", args->dir, "The stack's folder")->capture_default_str();
  cmd->add_flag("--once", args->once, "Print one frame and exit (also when output is not a terminal)");
  cmd->add_flag("--json", args->json, "Print one frame as JSON");
  cmd->add_option("--interval", args->interval, "How often to refresh")->capture_default_str();
  cmd->add_option("--limit", args->limit, "Statements per list")
      ->check(whole_number_in(1, 1000))
      ->capture_default_str();
  cmd->callback([args] { run_top(*args); });
}

}  // namespace pgstack::cli
