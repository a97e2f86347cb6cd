// The SQL the docs show is the SQL that works (issue 14, item 14):
//  - every ```sql block of README.md and docs/*.md runs, file by file in a fresh
//    database with pgstack installed, as an application role (readwrite, plus CREATE
//    on public as a team's own migrations role has). A block may be preceded by
//    `<!-- docs-test setup: SQL -->` (run first, as the superuser: tables the example
//    assumes) or `<!-- docs-test skip: why -->`.
//  - every signature or call written `pgstack.name(...)` in backticks names a function
//    that exists, with parameter names it really has (so `flag_create('x',
//    description => 'd')` in a doc can no longer fail for a reader).
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "pgstack/pg/connection.h"
#include "pgstack/schema/testing/schema_test_cluster.h"
#include "pgstack/schema/sql_script.h"
#include "pgstack/base/files.h"

namespace pgstack::schema {
namespace {

namespace fs = std::filesystem;

struct SqlBlock {
  std::string file;
  int line = 0;  // of the block's first SQL line
  std::string setup;
  std::string sql;
};

std::vector<fs::path> documents() {
  std::vector<fs::path> files = {fs::path(PGSTACK_SOURCE_DIR) / "README.md"};
  for (const auto& e : fs::directory_iterator(fs::path(PGSTACK_SOURCE_DIR) / "docs"))
    if (e.path().extension() == ".md") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::string text_of(const fs::path& file) { return pgstack::read_text_file(file.string()); }

std::vector<SqlBlock> sql_blocks(const fs::path& file) {
  std::vector<SqlBlock> blocks;
  std::istringstream in(text_of(file));
  std::string line, setup;
  bool skip = false, in_sql = false, in_other = false;
  SqlBlock block;
  for (int n = 1; std::getline(in, line); ++n) {
    if (in_sql) {
      if (line.rfind("```", 0) == 0) {
        in_sql = false;
        if (!skip) blocks.push_back(block);
        skip = false;
        setup.clear();
      } else {
        block.sql += line + "\n";
      }
    } else if (in_other) {
      in_other = line.rfind("```", 0) != 0;
    } else if (line.rfind("```sql", 0) == 0) {
      in_sql = true;
      block = {.file = file.filename().string(), .line = n + 1, .setup = setup};
    } else if (line.rfind("```", 0) == 0) {
      in_other = true;
    } else if (line.rfind("<!-- docs-test setup:", 0) == 0) {
      setup += line.substr(21, line.rfind("-->") - 21) + "\n";
    } else if (line.rfind("<!-- docs-test skip:", 0) == 0) {
      skip = true;
    }
  }
  return blocks;
}

// A fresh database per document, with the application role examples run as.
class DocsExamples : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pg::Connection admin(cluster_with_schemas().dsn());
    admin.execute_script(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'docs_reader') THEN "
        "CREATE ROLE docs_reader LOGIN IN ROLE readwrite; END IF; END $$");
  }
};

TEST_F(DocsExamples, EverySqlBlockRunsAsAnApplicationRole) {
  int ran = 0;
  for (const auto& doc : documents()) {
    auto blocks = sql_blocks(doc);
    if (blocks.empty()) continue;
    auto db = cluster_with_schemas().create_database();
    pg::Connection super(db.dsn());
    super.execute_script("GRANT CREATE ON SCHEMA public TO docs_reader");
    pg::Connection reader(db.dsn() + " user=docs_reader");
    for (const auto& b : blocks) {
      SCOPED_TRACE(fmt::format("{}:{}", b.file, b.line));
      if (!b.setup.empty()) super.execute_script(b.setup);
      // One statement at a time, as psql sends them: BEGIN/COMMIT and CONCURRENTLY work.
      for (const auto& s : parse_sql_script(b.sql).statements) {
        try {
          reader.execute_script(s.text);
        } catch (const std::exception& e) {
          ADD_FAILURE() << b.file << ":" << (b.line + s.line - 1) << ": " << s.text << "\n  -> " << e.what();
        }
      }
      ++ran;
    }
  }
  EXPECT_GE(ran, 8) << "the docs' SQL blocks were not found";
}

struct DocumentedCall {
  std::string where;     // file:line
  bool qualified = true;  // written pgstack.name(...), not a bare name in a table
  std::string function;  // without "pgstack."
  std::vector<std::string> names;  // parameter names it writes (a leading identifier of an argument)
};

// Top-level comma-separated arguments of "(...)", brackets and quotes respected.
std::vector<std::string> arguments(const std::string& inside) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  char quote = 0;
  for (char c : inside) {
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '(' || c == '[' || c == '{') {
      ++depth;
    } else if (c == ')' || c == ']' || c == '}') {
      --depth;
    } else if (c == ',' && depth == 0) {
      out.push_back(cur);
      cur.clear();
      continue;
    }
    cur += c;
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

// The text between the "(" at open and its matching ")"; nullopt when unbalanced.
std::optional<std::string> parenthesised(const std::string& code, std::size_t open) {
  int depth = 0;
  char quote = 0;
  for (std::size_t i = open; i < code.size(); ++i) {
    const char c = code[i];
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '\'') {
      quote = c;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')' && --depth == 0) {
      return code.substr(open + 1, i - open - 1);
    }
  }
  return std::nullopt;
}

bool is_keyword(const std::string& word) {
  static const std::set<std::string> kWords = {"array", "now", "interval", "true", "false", "null", "NULL", "select"};
  return kWords.count(word) > 0;
}

// The first cell of a table row ("| a \\| b | c |" holds "a \\| b"); empty for other lines.
std::string first_cell(const std::string& line) {
  if (line.rfind("|", 0) != 0) return {};
  for (std::size_t i = 1; i < line.size(); ++i)
    if (line[i] == '|' && line[i - 1] != '\\') return line.substr(1, i - 1);
  return {};
}

// Calls in backticks: `pgstack.name(...)` anywhere, and `name(...)` in a table row's
// first cell (the API tables list signatures unqualified).
std::vector<DocumentedCall> documented_calls(const fs::path& file) {
  std::vector<DocumentedCall> calls;
  std::istringstream in(text_of(file));
  const std::regex qualified(R"(pgstack\.([a-z_]+)\()");
  const std::regex unqualified(R"(^([a-z_]+)\()");
  const std::regex backticked("`([^`]+)`");
  const std::regex param(R"(^\s*([a-z_][a-z0-9_]*)(\s*(=>|=)|\s+[a-z]|\s*$))");
  std::string line;
  bool in_code = false;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.rfind("```", 0) == 0) in_code = !in_code;
    if (in_code) continue;  // blocks are executed by the test above
    struct Found {
      std::string function, args;
      bool qualified;
    };
    std::vector<Found> found;
    std::smatch m;
    const auto cell = first_cell(line);
    for (std::sregex_iterator span(cell.begin(), cell.end(), backticked), end; span != end; ++span) {
      const std::string code = (*span)[1];
      if (!std::regex_search(code, m, unqualified)) continue;
      if (auto args = parenthesised(code, static_cast<std::size_t>(m.length(1)))) found.push_back({m[1], *args, false});
    }
    for (std::sregex_iterator span(line.begin(), line.end(), backticked), end; span != end; ++span) {
      const std::string code = (*span)[1];
      for (std::sregex_iterator q(code.begin(), code.end(), qualified), qend; q != qend; ++q) {
        const auto open = static_cast<std::size_t>(q->position(1) + q->length(1));
        if (auto args = parenthesised(code, open)) found.push_back({(*q)[1], *args, true});
      }
    }
    for (const auto& [function, args, is_qualified] : found) {
      DocumentedCall c{.where = fmt::format("{}:{}", file.filename().string(), n), .qualified = is_qualified,
                       .function = function};
      for (const auto& arg : arguments(args)) {
        std::smatch p;
        if (std::regex_search(arg, p, param) && !is_keyword(p[1])) c.names.push_back(p[1]);
      }
      calls.push_back(std::move(c));
    }
  }
  return calls;
}

TEST_F(DocsExamples, EveryDocumentedFunctionExistsWithTheParameterNamesShown) {
  auto db = cluster_with_schemas().create_database();
  pg::Connection conn(db.dsn());
  int checked = 0;
  for (const auto& doc : documents()) {
    for (const auto& c : documented_calls(doc)) {
      auto overloads = conn.query(
          "SELECT coalesce(proargnames, '{}') FROM pg_proc WHERE pronamespace = 'pgstack'::regnamespace "
          "AND proname = $1",
          c.function);
      // A bare name in a table may be a C++ method (driver.md's `at(i)`): SQL API names
      // carry their module's prefix, so only those must exist.
      static const std::regex kApiName("^(kv_|cache_|flag|session_|rate_limit|pubsub_|lease_|job|enqueue|claim_|complete_|"
                                       "checkpoint_|release_|heartbeat_|register_|maintain|list_jobs|cancel_|retry_)");
      if (overloads.rows() == 0 && !c.qualified && !std::regex_search(c.function, kApiName)) continue;
      if (overloads.rows() == 0) {
        ADD_FAILURE() << c.where << ": pgstack." << c.function << " does not exist";
        continue;
      }
      bool fits = false;
      for (auto row : overloads) {
        auto names = row.get<std::vector<std::string>>(0);
        std::set<std::string> have(names.begin(), names.end());
        bool all = true;
        for (const auto& n : c.names) all = all && have.count(n);
        fits = fits || all;
      }
      std::string shown;
      for (const auto& n : c.names) shown += (shown.empty() ? "" : ", ") + n;
      EXPECT_TRUE(fits) << c.where << ": pgstack." << c.function << " has no parameter among (" << shown << ")";
      ++checked;
    }
  }
  EXPECT_GE(checked, 40) << "the docs' function tables were not found";
}

}  // namespace
}  // namespace pgstack::schema
