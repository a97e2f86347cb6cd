// pgstack.toml parsing: what each key sets, and that every mistake is an error naming
// the file, the key and the fix. No server needed.
#include "pgstack/ops/stack/stack_config.h"

#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

#include "pgstack/pg/errors.h"

namespace pgstack::stack {
namespace {

namespace fs = std::filesystem;

class StackConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pgstack-config-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path write(const std::string& text) {
    auto file = dir_ / "pgstack.toml";
    std::ofstream(file) << text;
    return file;
  }
  // The error load_stack_config throws for text ("" when it accepts it).
  std::string error_for(const std::string& text) {
    try {
      load_stack_config(write(text));
      return "";
    } catch (const Error& e) {
      return e.what();
    }
  }
  fs::path dir_;
};

TEST_F(StackConfigTest, AnEmptyFileChangesNoDefault) {
  auto config = load_stack_config(write(""));
  EXPECT_EQ(config.file, dir_ / "pgstack.toml");
  auto layout = ClusterLayout::local(dir_ / ".pgstack", 6000);
  const auto before = layout.to_json();
  apply_stack_config(config, layout);
  layout.config_file.clear();
  EXPECT_EQ(layout.to_json(), before);
}

TEST_F(StackConfigTest, EverySectionSetsItsPartOfTheLayout) {
  auto config = load_stack_config(write(R"(
[stack]
max_connections = 300
[primary]
host = "localhost"
port = 6100
[standby]
port = 6200
[pgbouncer]
port = 6300
default_pool_size = 30
max_db_connections = 45
max_client_conn = 2000
[backup]
path = "backups-here"
)"));
  EXPECT_EQ(config.max_connections, 300);
  auto layout = ClusterLayout::local(dir_ / ".pgstack", 6000);
  apply_stack_config(config, layout);
  EXPECT_EQ(layout.primary().port, 6100);
  EXPECT_EQ(layout.standby()->port, 6200);
  EXPECT_EQ(layout.pgbouncer.port, 6300);
  EXPECT_EQ(layout.pgbouncer.default_pool_size, 30);
  EXPECT_EQ(layout.pgbouncer.max_db_connections, 45);
  EXPECT_EQ(layout.pgbouncer.max_client_conn, 2000);
  EXPECT_EQ(layout.backup_repository.type, "posix");
  EXPECT_EQ(layout.backup_repository.path, dir_ / "backups-here");  // relative to the file
}

TEST_F(StackConfigTest, AnS3RepositoryNeedsItsFields) {
  auto config = load_stack_config(write(R"(
[backup]
type = "s3"
bucket = "acme-backups"
endpoint = "minio.internal:9000"
region = "us-east-1"
key = "AKIA"
key_secret = "secret"
uri_style = "path"
verify_tls = false
)"));
  ASSERT_TRUE(config.backup_repository);
  EXPECT_EQ(config.backup_repository->s3_bucket, "acme-backups");
  EXPECT_EQ(config.backup_repository->s3_uri_style, "path");
  EXPECT_FALSE(config.backup_repository->s3_verify_tls);
  auto missing = error_for("[backup]\ntype = \"s3\"\nbucket = \"b\"\n");
  EXPECT_NE(missing.find("[backup] endpoint is missing"), std::string::npos) << missing;
}

TEST_F(StackConfigTest, MistakesNameTheFileTheKeyAndTheFix) {
  struct Case {
    std::string text;
    std::string expected;
  };
  for (const auto& c : std::vector<Case>{
           {"[pgbouncer]\nprot = 6000\n", "[pgbouncer] prot is not a setting pgstack knows"},
           {"[primary]\nport = 80\n", "[primary] port is 80; it must be from 1024 to 65535"},
           {"[primary]\nport = \"6000\"\n", "[primary] port must be a whole number"},
           {"[primary]\nhost = \"db2.internal\"\n", "must be \"localhost\""},
           {"[replica]\nport = 6000\n", "[replica] is not a section pgstack knows"},
           {"[pgbouncer]\ndefault_pool_size = 60\nmax_db_connections = 50\n", "is below default_pool_size"},
           {"[pgbouncer]\nenabled = \"yes\"\n", "[pgbouncer] enabled must be true or false"},
           {"[backup]\ntype = \"ftp\"\n", "[backup] type is \"ftp\""},
           {"[primary]\nport = 6000\n[standby]\nport = 6000\n", "port 6000 is given to two components"},
           {"[primary\nport = 6000\n", "pgstack.toml:1:"},
       }) {
    auto error = error_for(c.text);
    EXPECT_NE(error.find(c.expected), std::string::npos) << c.text << " gave: " << error;
    if (!error.empty()) {
      EXPECT_NE(error.find((dir_ / "pgstack.toml").string()), std::string::npos) << error;
    }
  }
}

TEST_F(StackConfigTest, TuneSetsTheHostsMemoryAndCoresAndServersTakeExtraSettings) {
  auto config = load_stack_config(write(R"(
[tune]
memory = "8GB"
cpus = 2
[primary.settings]
work_mem = "32MB"
jit = false
random_page_cost = 1.5
max_parallel_workers = 4
log_line_prefix = "it's %m "
pg_stat_statements.track = "top"
[standby.settings]
statement_timeout = "30s"
)"));
  EXPECT_EQ(config.tune_memory, 8ull << 30);
  EXPECT_EQ(config.tune_cpus, 2);
  using Settings = StackConfig::ConfSettings;
  // toml++ keeps a table's keys sorted.
  EXPECT_EQ(config.primary_settings, (Settings{{"jit", "off"},
                                               {"log_line_prefix", "'it''s %m '"},
                                               {"max_parallel_workers", "4"},
                                               {"pg_stat_statements.track", "'top'"},
                                               {"random_page_cost", "1.5"},
                                               {"work_mem", "'32MB'"}}));
  EXPECT_EQ(config.standby_settings, (Settings{{"statement_timeout", "'30s'"}}));
  auto none = load_stack_config(write("[primary]\nport = 6000\n"));
  EXPECT_FALSE(none.tune_memory);
  EXPECT_TRUE(none.primary_settings.empty());
}

TEST_F(StackConfigTest, TuneAndSettingsMistakesNameTheKeyAndTheLimit) {
  struct Case {
    std::string text;
    std::string expected;
  };
  for (const auto& c : std::vector<Case>{
           {"[tune]\nmemory = \"100000TB\"\n", "[tune] memory is 100000TB, above the 16TB tune accepts"},
           {"[tune]\nmemory = \"lots\"\n", "[tune] memory is \"lots\", not a size"},
           {"[tune]\nmemory = 8\n", "[tune] memory must be a string"},
           {"[tune]\nmemory = \"512kB\"\n", "[tune] memory is less than 1MB"},
           {"[tune]\ncpus = 0\n", "[tune] cpus is 0; it must be from 1 to 1024"},
           {"[tune]\ncpus = 5000\n", "it must be from 1 to 1024"},
           {"[tune]\nram = \"8GB\"\n", "[tune] ram is not a setting pgstack knows"},
           {"[primary]\nsettings = 5\n", "[primary] settings must be a table"},
           {"[primary.settings]\n\"Work-Mem\" = \"1MB\"\n", "[primary] settings.Work-Mem is not a PostgreSQL setting name"},
           {"[standby.settings]\nsearch_path = [\"a\", \"b\"]\n", "[standby] settings.search_path must be a string"},
           {"[primary.settings]\napplication_name = \"a\\nb\"\n", "holds a control character"},
       }) {
    auto error = error_for(c.text);
    EXPECT_NE(error.find(c.expected), std::string::npos) << c.text << " gave: " << error;
  }
}

}  // namespace
}  // namespace pgstack::stack
