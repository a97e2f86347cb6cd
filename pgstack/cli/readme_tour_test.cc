// The README's CLI tour, run as written (issue 14, item 18): the block between
// `<!-- readme-tour: begin -->` and `<!-- readme-tour: end -->` runs under bash -e in a
// fresh folder holding a copy of examples/ and the built binary where the tour expects
// it. The only addition is a pgstack.toml choosing free ports, so the run cannot meet a
// stack already on this machine. A line that fails fails the test with its output.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "pgstack/base/files.h"
#include "pgstack/sys/process.h"

namespace {

namespace fs = std::filesystem;

std::string readme_tour() {
  const std::string text = pgstack::read_text_file((fs::path(PGSTACK_SOURCE_DIR) / "README.md").string());
  const auto begin = text.find("<!-- readme-tour: begin -->");
  const auto end = text.find("<!-- readme-tour: end -->");
  if (begin == std::string::npos || end == std::string::npos) return {};
  auto block = text.substr(begin, end - begin);
  const auto open = block.find("```sh\n");
  const auto close = block.rfind("```");
  if (open == std::string::npos || close <= open) return {};
  return block.substr(open + 6, close - open - 6);
}

TEST(ReadmeTour, RunsAsWritten) {
  const auto tour = readme_tour();
  ASSERT_FALSE(tour.empty()) << "README.md has no readme-tour block";
  ASSERT_NE(tour.find("$B up"), std::string::npos);

  char tmpl[] = "/tmp/pgstack-tour-XXXXXX";
  const fs::path root = ::mkdtemp(tmpl);
  // The server user passes through to the stack's folder, as through a home folder.
  fs::permissions(root, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  fs::create_directories(root / "examples");
  fs::copy(fs::path(PGSTACK_SOURCE_DIR) / "examples" / "migrations", root / "examples" / "migrations",
           fs::copy_options::recursive);
  fs::create_directories(root / "build" / "pgstack" / "cli");
  fs::create_symlink(PGSTACK_CLI_PATH, root / "build" / "pgstack" / "cli" / "pgstack");
  const auto ports = pgstack::sys::free_tcp_ports(3);
  std::ofstream(root / "pgstack.toml") << fmt::format("[primary]\nport = {}\n", ports);
  std::ofstream(root / "tour.sh") << "set -euo pipefail\nset -x\n" << tour;

  auto r = pgstack::sys::run({"bash", (root / "tour.sh").string()},
                             {.env = {"DATABASE_URL=", "PGSTACK_MIGRATIONS_URL="},
                              .cwd = root.string(),
                              .timeout = std::chrono::seconds(400)});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  // The tour ends with destroy; whatever it left running is stopped before removal.
  if (fs::exists(root / ".pgstack"))
    pgstack::sys::run({PGSTACK_CLI_PATH, "destroy", "--yes"}, {.cwd = root.string(), .timeout = std::chrono::seconds(60)});
  // What each step printed, for the reader of a passing run too.
  EXPECT_NE(r.output.find("pgstack_up{"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("INSERT 0 1"), std::string::npos) << r.output;
  fs::remove_all(root);
}

}  // namespace
