// Bad input at the command line, for every command at once where the parser can list
// them: integer arguments, unknown and missing commands, `help` and `--version`, the
// commands doctor's fix texts name; and `up`'s preflight, which refuses before it
// creates anything and leaves nothing behind when a new stack's first `up` fails.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <gtest/gtest.h>

#include "pgstack/cli/command_tree.h"
#include "pgstack/cli/commands.h"
#include "pgstack/cli/integer_options.h"
#include "pgstack/base/files.h"
#include "pgstack/sys/process.h"
#include "pgstack/testing/cli_runner.h"
#include "pgstack/testing/test_cluster.h"

namespace pgstack::cli {
namespace {

namespace fs = std::filesystem;
using pgstack::testing::CliResult;

CliResult pgstack_cli(const std::vector<std::string>& args, const std::string& cwd = {}) {
  return pgstack::testing::run_cli(PGSTACK_CLI_PATH, args, cwd);
}

// Every command of the app with its full name, depth first.
void collect_commands(CLI::App& app, const std::string& path, std::vector<std::pair<CLI::App*, std::string>>& out) {
  out.emplace_back(&app, path);
  for (auto* sub : app.get_subcommands([](CLI::App*) { return true; }))
    collect_commands(*sub, path + " " + sub->get_name(), out);
}

std::vector<std::pair<CLI::App*, std::string>> all_commands(CLI::App& app) {
  std::vector<std::pair<CLI::App*, std::string>> out;
  collect_commands(app, "pgstack", out);
  return out;
}

// The words after "pgstack" in a command's full name.
std::vector<std::string> words_of(const std::string& path) {
  std::istringstream in(path);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  words.erase(words.begin());
  return words;
}

// What CLI11 says when it parses args into a fresh app; "" when it parses.
std::string validation_error(const std::vector<std::string>& args) {
  auto app = make_app();
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11's order for a vector
  try {
    app->parse(reversed);
  } catch (const CLI::ValidationError& e) {
    return e.what();
  } catch (const CLI::ParseError& e) {
    return std::string("not a validation error: ") + e.what();
  }
  return "";
}

TEST(CliInput, EveryIntegerArgumentRefusesWhatItCannotHoldInsteadOfClampingIt) {
  auto app = make_app();
  int options = 0;
  for (auto& [command, path] : all_commands(*app)) {
    for (auto* option : command->get_options([](CLI::Option* o) { return is_integer_option(*o); })) {
      ++options;
      auto args_with = [&, option = option](const std::string& value) {
        auto args = words_of(path);
        // A positional after others (`docs get COLLECTION ID`): a word for each before it.
        if (option->get_positional())
          for (auto* before : command->get_options([](CLI::Option* o) { return o->get_positional(); })) {
            if (before == option) break;
            args.push_back("x");
          }
        if (!option->get_positional()) args.push_back(option->get_name());
        args.push_back(value);
        return args;
      };
      const std::string where = path + " " + option->get_name();
      auto huge = validation_error(args_with("99999999999999999999"));
      EXPECT_NE(huge.find("99999999999999999999 is too large"), std::string::npos) << where << ": " << huge;
      auto words = validation_error(args_with("12abc"));
      EXPECT_NE(words.find("'12abc' is not a whole number"), std::string::npos) << where << ": " << words;
      auto hex = validation_error(args_with("0x10"));
      EXPECT_NE(hex.find("'0x10' is not a whole number"), std::string::npos) << where << ": " << hex;
    }
  }
  EXPECT_GE(options, 8) << "the walk found too few integer options to be walking the whole CLI";
}

TEST(CliInput, ARangedIntegerSaysItsRangeAndLeadingZerosAreDecimal) {
  auto limit = validation_error({"jobs", "list", "--limit", "0"});
  EXPECT_NE(limit.find("--limit: 0 is too small; it must be from 1 to 10000"), std::string::npos) << limit;
  auto id = validation_error({"jobs", "show", "99999999999999999999"});
  EXPECT_NE(id.find("it must be from 1 to 9223372036854775807"), std::string::npos) << id;
  // "010" is ten, not octal eight: the check hands CLI11 the normalised text.
  auto whole = whole_number_in(1, 100);
  std::string text = "010";
  EXPECT_EQ(whole(text), "");
  EXPECT_EQ(text, "10");

  auto r = pgstack_cli({"jobs", "show", "99999999999999999999", "--db", "postgresql://nobody@127.0.0.1:1/none"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("pgstack jobs show: id: 99999999999999999999 is too large"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("run `pgstack jobs show --help`"), std::string::npos) << r.output;
}

TEST(CliInput, AnUnknownCommandInEveryGroupIsNamedWithTheGroupsCommands) {
  auto app = make_app();
  int groups = 0;
  for (auto& [command, path] : all_commands(*app)) {
    if (subcommand_names(*command).empty()) continue;
    ++groups;
    auto args = words_of(path);
    args.push_back("frob");
    auto r = pgstack_cli(args);
    EXPECT_EQ(r.code, 2) << path << ": " << r.output;
    EXPECT_NE(r.output.find("unknown command 'frob' for '" + path + "' (its commands: "), std::string::npos)
        << path << ": " << r.output;
    EXPECT_NE(r.output.find("run `" + path + " --help`"), std::string::npos) << r.output;
    if (command->get_require_subcommand_min() > 0) {
      auto none = pgstack_cli(words_of(path));
      EXPECT_EQ(none.code, 2) << path << ": " << none.output;
      EXPECT_NE(none.output.find(path + ": a command is missing; its commands: "), std::string::npos)
          << path << ": " << none.output;
    }
  }
  EXPECT_GE(groups, 9);

  // Options after the unknown word do not hide it, and a near miss gets a suggestion.
  auto weekly = pgstack_cli({"backup", "weekly", "--dir", "/tmp/x"});
  EXPECT_EQ(weekly.code, 2) << weekly.output;
  EXPECT_NE(weekly.output.find("unknown command 'weekly' for 'pgstack backup' (its commands: full, diff, list, check)"),
            std::string::npos)
      << weekly.output;
  auto typo = pgstack_cli({"jobs", "lsit"});
  EXPECT_NE(typo.output.find("did you mean 'list'?"), std::string::npos) << typo.output;
  auto prefix = pgstack_cli({"--json", "migrate", "stat"});  // an option before the command changes nothing
  EXPECT_EQ(prefix.code, 2) << prefix.output;
  auto top_level = pgstack_cli({"frobnicate"});
  EXPECT_NE(top_level.output.find("unknown command 'frobnicate' for 'pgstack'"), std::string::npos) << top_level.output;
}

TEST(CliInput, HelpAndVersion) {
  auto version = pgstack_cli({"--version"});
  EXPECT_EQ(version.code, 0) << version.output;
  EXPECT_EQ(version.output, version_line() + "\n");

  auto root = pgstack_cli({"help"});
  EXPECT_EQ(root.code, 0) << root.output;
  EXPECT_NE(root.output.find("Usage: pgstack"), std::string::npos) << root.output;
  EXPECT_NE(root.output.find("doctor"), std::string::npos) << root.output;
  auto show = pgstack_cli({"help", "jobs", "show"});
  EXPECT_EQ(show.code, 0) << show.output;
  EXPECT_NE(show.output.find("Usage: pgstack jobs show"), std::string::npos) << show.output;
  EXPECT_EQ(show.output, pgstack_cli({"jobs", "show", "--help"}).output);
  auto unknown = pgstack_cli({"help", "jobs", "frob"});
  EXPECT_EQ(unknown.code, 2) << unknown.output;
  EXPECT_NE(unknown.output.find("unknown command 'frob' for 'pgstack jobs'"), std::string::npos) << unknown.output;
}

// The string literals of a C++ file, adjacent ones joined ("a " "b" is "a b"); comments skipped.
std::vector<std::string> string_literals(const std::string& code) {
  std::vector<std::string> out;
  bool joining = false;
  for (std::size_t i = 0; i < code.size(); ++i) {
    const char c = code[i];
    if (code.compare(i, 2, "//") == 0) {
      i = code.find('\n', i);
      if (i == std::string::npos) break;
      continue;
    }
    if (code.compare(i, 2, "/*") == 0) {
      i = code.find("*/", i) + 1;
      continue;
    }
    if (c == '\'') {  // a char literal: skip it, quote marks included
      i += code[i + 1] == '\\' ? 3 : 2;
      continue;
    }
    if (c == 'R' && i + 1 < code.size() && code[i + 1] == '"') {  // R"delim(...)delim"
      const auto open = code.find('(', i);
      const auto close = code.find(")" + code.substr(i + 2, open - i - 2) + "\"", open);
      out.push_back(code.substr(open + 1, close - open - 1));
      i = code.find('"', close);
      joining = false;
      continue;
    }
    if (c == '"') {
      std::string literal;
      for (++i; i < code.size() && code[i] != '"'; ++i) {
        if (code[i] == '\\') ++i;
        literal += code[i];
      }
      if (joining) out.back() += literal;
      else out.push_back(literal);
      joining = true;
      continue;
    }
    if (!std::isspace(static_cast<unsigned char>(c))) joining = false;
  }
  return out;
}

// "pgstack jobs list --queue {} --state discarded (...)": the command the words name and
// the options given to it; the first word that is neither ends it. "" when it is real.
std::string check_named_command(CLI::App& app, const std::string& mention) {
  std::istringstream in(mention);
  std::vector<std::string> tokens;
  for (std::string t; in >> t;) tokens.push_back(t);
  // Words that are commands, as far as they go; a group must be followed by one of its own.
  std::vector<std::string> words;
  std::size_t i = 0;
  for (; i < tokens.size(); ++i) {
    std::string word = tokens[i];
    while (!word.empty() && !std::isalnum(static_cast<unsigned char>(word.back()))) word.pop_back();
    auto match = match_command(app, {words.begin(), words.end()});
    auto next = words;
    next.push_back(word);
    if (match_command(app, next).unknown) {
      if (words.empty() || match.command->get_require_subcommand_min() > 0)
        return "names no command: pgstack " + fmt::format("{}", fmt::join(next, " "));
      break;
    }
    words = next;
    if (word != tokens[i]) {  // punctuation ends the command
      ++i;
      break;
    }
  }
  auto* command = match_command(app, words).command;
  for (; i < tokens.size() && tokens[i].starts_with("--"); ++i) {
    std::string name = tokens[i];
    while (!name.empty() && !std::isalnum(static_cast<unsigned char>(name.back()))) name.pop_back();
    const auto* option = command->get_option_no_throw(name);
    if (!option) return fmt::format("pgstack {} has no option {}", fmt::join(words, " "), name);
    if (option->get_type_size_min() > 0) ++i;  // its value
  }
  return "";
}

// The string constants of a SQL file: '...' with '' inside, constants separated only by
// whitespace joined (PostgreSQL joins them across a newline); -- comments skipped.
std::vector<std::string> sql_string_literals(const std::string& sql) {
  std::vector<std::string> out;
  bool joining = false;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    if (sql.compare(i, 2, "--") == 0) {
      i = sql.find('\n', i);
      if (i == std::string::npos) break;
      continue;
    }
    if (sql[i] == '\'') {
      std::string literal;
      for (++i; i < sql.size(); ++i) {
        if (sql[i] == '\'' && i + 1 < sql.size() && sql[i + 1] == '\'') literal += sql[i++];
        else if (sql[i] == '\'') break;
        else literal += sql[i];
      }
      if (joining) out.back() += literal;
      else out.push_back(literal);
      joining = true;
      continue;
    }
    if (!std::isspace(static_cast<unsigned char>(sql[i]))) joining = false;
  }
  return out;
}

// Every `pgstack <command> ...` the texts mention names a command that exists; returns
// how many they mention.
int check_mentions(CLI::App& app, const std::string& file, const std::vector<std::string>& texts) {
  int mentions = 0;
  for (const auto& text : texts) {
    for (std::size_t at = text.find("pgstack "); at != std::string::npos; at = text.find("pgstack ", at + 1)) {
      if (at > 0 && (std::isalnum(static_cast<unsigned char>(text[at - 1])) || text[at - 1] == '_')) continue;
      const std::string rest = text.substr(at + 8);
      if (rest.empty() || !std::islower(static_cast<unsigned char>(rest[0]))) continue;
      ++mentions;
      EXPECT_EQ(check_named_command(app, rest), "") << file << ": \"" << text << "\"";
    }
  }
  return mentions;
}

// doctor's and advise's own texts (pgstack/doctor), and the capabilities' health checks
// and advice, which are SQL (pgstack/*/sql/NNN_capability_contract.sql).
TEST(CliInput, EveryCommandDoctorsAndAdvisesTextsNameExists) {
  auto app = make_app();
  int mentions = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(PGSTACK_SOURCE_DIR) / "pgstack/ops/doctor")) {
    const auto name = entry.path().filename().string();
    if (entry.path().extension() != ".cc" || name.ends_with("_test.cc")) continue;
    mentions += check_mentions(*app, name, string_literals(pgstack::read_text_file(entry.path().string())));
  }
  int sql_mentions = 0;
  for (const auto& entry : fs::recursive_directory_iterator(fs::path(PGSTACK_SOURCE_DIR) / "pgstack")) {
    const auto& path = entry.path();
    if (!path.filename().string().ends_with("_capability_contract.sql")) continue;
    sql_mentions += check_mentions(*app, path.string(), sql_string_literals(pgstack::read_text_file(path.string())));
  }
  EXPECT_GE(mentions, 10) << "found too few mentions to be reading doctor's texts";
  EXPECT_GE(sql_mentions, 5) << "found too few mentions to be reading the health checks' texts";
}

TEST(CliInput, TheSourceScannerFindsJoinedLiteralsAndAMissingCommand) {
  auto literals = string_literals("f(\"run pgstack backup \"\n   \"check\"); // \"pgstack nope\"\nchar q = '\"';");
  ASSERT_EQ(literals.size(), 1u);
  EXPECT_EQ(literals[0], "run pgstack backup check");
  auto app = make_app();
  EXPECT_EQ(check_named_command(*app, "backup frob"), "names no command: pgstack backup frob");
  EXPECT_EQ(check_named_command(*app, "frob the standby"), "names no command: pgstack frob");
  EXPECT_EQ(check_named_command(*app, "top on the standby"), "");
  EXPECT_EQ(check_named_command(*app, "jobs list --queue q --state discarded (why)"), "");
  EXPECT_EQ(check_named_command(*app, "jobs list --bogus 1"), "pgstack jobs list has no option --bogus");
  auto sql = sql_string_literals("SELECT 'run pgstack jobs ''stats'' '\n  'now' -- 'pgstack nope'\n, 'x'");
  ASSERT_EQ(sql.size(), 2u);
  EXPECT_EQ(sql[0], "run pgstack jobs 'stats' now");
  EXPECT_EQ(sql[1], "x");
}


// ---- up's preflight ----------------------------------------------------------------

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/pgstack-input-XXXXXX";
    path = ::mkdtemp(tmpl);
    fs::permissions(path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
  }
  ~TempDir() {
    // A stack a failed test left running must not outlive it.
    for (const char* server : {"stack/data/standby", "stack/data/primary"})
      if (fs::exists(path / server / "postmaster.pid"))
        sys::run({sys::pg_binary("pg_ctl"), "stop", "-m", "immediate", "-D", (path / server).string()},
                 {.as_user = sys::server_user(), .timeout = std::chrono::seconds(60)});
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path path;
};

TEST(CliInput, UpRefusesAPortItCannotUseWithTheRangeThatIsTrueBeforeCreatingAnything) {
  TempDir tmp;
  const auto dir = (tmp.path / "stack").string();
  auto privileged = pgstack_cli({"up", "--dir", dir, "--port", "80"});
  EXPECT_EQ(privileged.code, 2) << privileged.output;  // a bad --port is bad usage
  EXPECT_NE(privileged.output.find("--port is 80; it must be from 1024 to 65533, because ports below 1024 need root"),
            std::string::npos)
      << privileged.output;
  // 65533 is inside the range the message gives; 65534 is not.
  auto high = pgstack_cli({"up", "--dir", dir, "--port", "65534"});
  EXPECT_EQ(high.code, 2) << high.output;  // a bad --port is bad usage
  EXPECT_NE(high.output.find("--port is 65534; it must be from 1024 to 65533, because the standby listens on port+1 "
                             "and PgBouncer listens on port+2"),
            std::string::npos)
      << high.output;
  auto beyond = pgstack_cli({"up", "--dir", dir, "--port", "99999999999"});
  EXPECT_EQ(beyond.code, 2) << beyond.output;  // a bad --port is bad usage
  EXPECT_NE(beyond.output.find("--port is 99999999999; it must be from 1024 to 65533, because TCP ports end at 65535"),
            std::string::npos)
      << beyond.output;
  EXPECT_FALSE(fs::exists(dir)) << "up created the stack's folder before refusing its port";

  // With the standby's and PgBouncer's ports in pgstack.toml, the primary may take 65535.
  std::ofstream(tmp.path / "own-ports.toml") << "[standby]\nport = 65000\n[pgbouncer]\nport = 65001\n";
  auto own = pgstack_cli({"up", "--dir", dir, "--port", "1000", "--config", (tmp.path / "own-ports.toml").string()});
  EXPECT_EQ(own.code, 2) << own.output;
  // From the file, the same range, named after the file's key; a failure (1), not usage.
  std::ofstream(tmp.path / "high.toml") << "[primary]\nport = 65535\n";
  auto file = pgstack_cli({"up", "--dir", dir, "--config", (tmp.path / "high.toml").string()});
  EXPECT_EQ(file.code, 1) << file.output;
  EXPECT_NE(file.output.find("[primary] port in " + (tmp.path / "high.toml").string() +
                             " is 65535; it must be from 1024 to 65533"),
            std::string::npos)
      << file.output;
  EXPECT_NE(own.output.find("it must be from 1024 to 65535, because ports below 1024"), std::string::npos) << own.output;
  EXPECT_FALSE(fs::exists(dir));
}

TEST(CliInput, UpRefusesAFolderTheServerUserCannotReachBeforeCreatingAnything) {
  if (!sys::is_root()) GTEST_SKIP() << "only as root do the servers run as another user (postgres)";
  TempDir tmp;
  const auto private_parent = tmp.path / "private";
  fs::create_directory(private_parent);
  fs::permissions(private_parent, fs::perms::owner_all, fs::perm_options::replace);
  auto r = pgstack_cli({"up", "--dir", (private_parent / "stack").string(), "--port",
                        std::to_string(sys::free_tcp_ports(3))});
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("the postgres user cannot reach " + (private_parent / "stack").string()), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("nothing was created"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::is_empty(private_parent));
}

TEST(CliInput, UpRefusesADoctorThresholdOutOfRangeBeforeCreatingAnything) {
  TempDir tmp;
  const auto config = tmp.path / "pgstack.toml";
  std::ofstream(config) << "[doctor]\ncache_hit_ratio_min = 2\n";
  const auto dir = (tmp.path / "stack").string();
  auto r = pgstack_cli({"up", "--dir", dir, "--port", std::to_string(sys::free_tcp_ports(3)), "--config",
                        config.string()});
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find(config.string() + ": [doctor] cache_hit_ratio_min is 2; it must be from 0 to 1"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(dir));
}

// A backup repository the server user cannot write: up fails after initdb and the
// primary's start, at the pgBackRest stanza.
fs::path config_with_unwritable_repository(const fs::path& folder) {
  const auto repository = folder / "locked-repository";
  fs::create_directory(repository);
  fs::permissions(repository, fs::perms::owner_read | fs::perms::owner_exec, fs::perm_options::replace);
  std::ofstream(folder / "pgstack.toml") << "[backup]\ntype = \"posix\"\npath = \"" << repository.string() << "\"\n";
  return folder / "pgstack.toml";
}

bool a_server_runs_in(const fs::path& dir) {
  auto r = sys::run({"pgrep", "-f", "postgres.*-D " + dir.string()}, {});
  return r.exit_code == 0;
}

TEST(CliInput, ANewStacksFailedFirstUpLeavesNothingBehind) {
  TempDir tmp;
  const auto config = config_with_unwritable_repository(tmp.path);
  const auto dir = tmp.path / "stack";
  auto r = pgstack_cli({"up", "--dir", dir.string(), "--port", std::to_string(sys::free_tcp_ports(3)), "--config",
                        config.string()});
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_FALSE(fs::exists(dir)) << "the failed up left " << dir << " behind: " << r.output;
  EXPECT_FALSE(a_server_runs_in(dir)) << "the failed up left a server running";

  // A folder the user made is kept, emptied of what up put in it (and only that).
  fs::create_directory(dir);
  std::ofstream(dir / "notes.txt") << "mine\n";
  r = pgstack_cli({"up", "--dir", dir.string(), "--port", std::to_string(sys::free_tcp_ports(3)), "--config",
                   config.string()});
  EXPECT_EQ(r.code, 1) << r.output;
  ASSERT_TRUE(fs::exists(dir));
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(dir)) left.push_back(e.path().filename().string());
  EXPECT_EQ(left, std::vector<std::string>{"notes.txt"});
  EXPECT_FALSE(a_server_runs_in(dir));
}

// ---- error messages ------------------------------------------------------------------

TEST(CliInput, ALibrarysErrorIsPrefixedWithTheCommandOnce) {
  auto& cluster = pgstack::testing::TestCluster::shared();
  // The test server holds its port: metrics cannot listen there.
  auto r = pgstack_cli({"metrics", "--db", cluster.dsn(), "--listen", "127.0.0.1:" + std::to_string(cluster.port())});
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("pgstack metrics: cannot listen on 127.0.0.1:"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("pgstack metrics: pgstack metrics:"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace pgstack::cli
