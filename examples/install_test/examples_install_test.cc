// The install, tested as an application sees it: `cmake --install` of this build into
// a fresh prefix, examples/ configured with find_package(pgstack) against that prefix
// alone and built (with every installed header compiled on its own:
// consumer/CMakeLists.txt), then each example run against a real PostgreSQL with
// DATABASE_URL set, checking what it says it did against the database.
//
// The cases run in order and share one database: the worker runs the order's job.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "pgstack/jobs/job_queue.h"
#include "pgstack/pg/connection.h"
#include "pgstack/sys/process.h"
#include "pgstack/testing/test_cluster.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const fs::path kWork = PGSTACK_WORK_DIR;
const fs::path kPrefix = kWork / "prefix";
const fs::path kConsumerBuild = kWork / "build";
const fs::path kBin = kConsumerBuild / "examples";

// One cmake step; on failure, the command and its last lines.
void cmake_step(const std::vector<std::string>& args, std::chrono::seconds timeout) {
  std::vector<std::string> argv{PGSTACK_CMAKE_COMMAND};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = pgstack::sys::run(argv, {.timeout = timeout});
  std::string command;
  for (const auto& a : argv) command += a + " ";
  ASSERT_EQ(r.exit_code, 0) << command << (r.timed_out ? "(timed out)" : "") << "\n"
                            << pgstack::sys::last_lines(r.output, 60);
}

struct Installed {
  bool built = false;
  std::string database_url;
};

Installed& installed() {
  static Installed state;
  return state;
}

pgstack::testing::TestDatabase& database() {
  static pgstack::testing::TestDatabase db = pgstack::testing::TestCluster::shared().create_database();
  return db;
}

// Runs an example with DATABASE_URL set; its exit code and output.
pgstack::sys::RunResult run_example(const std::string& name, std::vector<std::string> args = {}) {
  std::vector<std::string> argv{(kBin / name).string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return pgstack::sys::run(argv, {.env = {"DATABASE_URL=" + installed().database_url}, .timeout = 60s});
}

#define REQUIRE_BUILT() \
  if (!installed().built) GTEST_FAIL() << "the examples were not built (see InstallsAndBuildsTheExamples)"

TEST(ExamplesInstall, InstallsAndBuildsTheExamples) {
  fs::remove_all(kWork);
  fs::create_directories(kWork);
  // What an application's build would do: install, then find_package() from the prefix only.
  ASSERT_NO_FATAL_FAILURE(cmake_step({"--install", PGSTACK_BUILD_DIR, "--prefix", kPrefix.string()}, 120s));
  ASSERT_TRUE(fs::exists(kPrefix / "lib/cmake/pgstack/pgstackConfig.cmake"));
  ASSERT_TRUE(fs::exists(kPrefix / "include/pgstack/pg/connection.h"));
  ASSERT_FALSE(fs::exists(kPrefix / "include/pgstack/testing")) << "test helpers were installed";
  // -O0 and no debug information: this build is about the package, not the code's speed.
  ASSERT_NO_FATAL_FAILURE(cmake_step({"-S", PGSTACK_SOURCE_DIR "/examples/install_test/consumer", "-B", kConsumerBuild.string(), "-G", "Ninja",
              "-DCMAKE_PREFIX_PATH=" + kPrefix.string(), "-DPGSTACK_EXAMPLES_DIR=" PGSTACK_SOURCE_DIR "/examples",
              "-DCMAKE_CXX_COMPILER=" PGSTACK_CXX_COMPILER, "-DCMAKE_BUILD_TYPE=Debug", "-DCMAKE_CXX_FLAGS_DEBUG=-O0",
              "-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF"},
                                     120s));
  ASSERT_NO_FATAL_FAILURE(cmake_step({"--build", kConsumerBuild.string(), "-j", "2"}, 300s));
  installed().built = true;

  // pgstack's SQL, installed by the example that uses pgstack::pgstack's MigrationRunner.
  installed().database_url = database().dsn();
  auto r = run_example("install_schema");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("pgstack's schema is installed"), std::string::npos) << r.output;
  pgstack::pg::Connection conn(installed().database_url);
  EXPECT_EQ(conn.query_value<std::int64_t>("select count(*) from pg_namespace where nspname = 'pgstack'"), 1);
}

TEST(ExamplesInstall, OrderAndItsJobCommitTogether) {
  REQUIRE_BUILT();
  auto r = run_example("order_with_receipt", {"42", "19.99"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::int64_t order_id = 0, job_id = 0;
  ASSERT_EQ(std::sscanf(r.output.c_str(), "order %ld (customer 42, total 19.99) and its send_receipt job %ld committed",
                        &order_id, &job_id),
            2)
      << r.output;
  pgstack::pg::Connection conn(installed().database_url);
  EXPECT_EQ(conn.query_value<std::string>("select total::text from orders where id = $1 and customer_id = 42", order_id),
            "19.99");
  auto job = pgstack::jobs::JobQueue::job(conn, job_id);
  ASSERT_TRUE(job.has_value()) << "job " << job_id << " is not in the queue";
  EXPECT_EQ(job->kind, "send_receipt");
  EXPECT_EQ(job->args.at("order_id").get<std::int64_t>(), order_id);

  // A failure before commit: neither the order nor its job exists.
  auto failed = run_example("order_with_receipt", {"--fail-before-commit"});
  EXPECT_EQ(failed.exit_code, 1) << failed.output;
  std::int64_t lost_order = 0, lost_job = 0;
  ASSERT_EQ(std::sscanf(failed.output.c_str(), "order %ld and job %ld written, then a failure before commit",
                        &lost_order, &lost_job),
            2)
      << failed.output;
  EXPECT_EQ(conn.query_value<std::int64_t>("select count(*) from orders where id = $1", lost_order), 0);
  EXPECT_FALSE(pgstack::jobs::JobQueue::job(conn, lost_job).has_value()) << "the rolled back job exists";
}

// Starts the worker (output to a file), waits for the order's receipt, stops it with
// SIGTERM and checks it finished cleanly.
TEST(ExamplesInstall, WorkerRunsTheJobAndStopsOnSigterm) {
  REQUIRE_BUILT();
  pgstack::pg::Connection conn(installed().database_url);
  auto order_id = conn.query_value<std::int64_t>("select max(id) from orders where customer_id = 42");

  const std::string log = (kWork / "receipt_worker.log").string();
  const std::string program = (kBin / "receipt_worker").string();
  const std::string url = "DATABASE_URL=" + installed().database_url;
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) env.push_back(*e);
  env.push_back(const_cast<char*>(url.c_str()));
  env.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&files, 1, 2);
  char* argv[] = {const_cast<char*>(program.c_str()), nullptr};
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, program.c_str(), &files, nullptr, argv, env.data()), 0);
  posix_spawn_file_actions_destroy(&files);
  auto read_log = [&] {
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };

  bool sent = false;
  for (auto deadline = std::chrono::steady_clock::now() + 30s; std::chrono::steady_clock::now() < deadline;) {
    try {  // the worker creates receipts when it starts
      if (conn.query_value<std::int64_t>("select count(*) from receipts where order_id = $1", order_id) == 1) {
        sent = true;
        break;
      }
    } catch (const pgstack::pg::SqlError&) {
    }
    std::this_thread::sleep_for(50ms);  // the worker has a LISTEN connection: usually there at once
  }
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  std::string output = read_log();
  ASSERT_TRUE(sent) << "no receipt for order " << order_id << " within 30 s; the worker said:\n" << output;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << ":\n" << output;
  EXPECT_NE(output.find("sent the receipt of order " + std::to_string(order_id) + " (total 19.99"), std::string::npos)
      << output;
  EXPECT_NE(output.find("stopped; 1 job(s) completed"), std::string::npos) << output;
}

TEST(ExamplesInstall, CacheServesTheSecondRead) {
  REQUIRE_BUILT();
  auto first = run_example("cache_aside", {"42"});
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_NE(first.output.find("read 1 of customer:42:summary: miss, computed from the orders table: "), std::string::npos)
      << first.output;
  EXPECT_NE(first.output.find("read 2 of customer:42:summary: hit, served from the cache: "), std::string::npos)
      << first.output;
  EXPECT_NE(first.output.find("\"orders\" : 1"), std::string::npos) << first.output;
  // The cache is in PostgreSQL: another process's first read is a hit.
  auto second = run_example("cache_aside", {"42"});
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("read 1 of customer:42:summary: hit"), std::string::npos) << second.output;
  EXPECT_EQ(second.output.find("miss"), std::string::npos) << second.output;
}

TEST(ExamplesInstall, LimiterRefusesPastTheLimit) {
  REQUIRE_BUILT();
  auto r = run_example("rate_limited_endpoint", {"8", "198.51.100.1"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("request 5 from 198.51.100.1: 200 OK, 0 left"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("request 6 from 198.51.100.1: 429 Too Many Requests, Retry-After: "), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("5 allowed, 3 refused"), std::string::npos) << r.output;
  // Another client has a bucket of its own.
  auto other = run_example("rate_limited_endpoint", {"1", "198.51.100.2"});
  EXPECT_NE(other.output.find("1 allowed, 0 refused"), std::string::npos) << other.output;
}

TEST(ExamplesInstall, ExamplesSayWhatIsMissing) {
  REQUIRE_BUILT();
  auto r = pgstack::sys::run({(kBin / "order_with_receipt").string()}, {.env = {"DATABASE_URL="}, .timeout = 30s});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("set DATABASE_URL"), std::string::npos) << r.output;
}

}  // namespace
