// Migration files without a server: names, checksums, markers, folders, module order.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "pgstack/schema/builtin_modules.h"
#include "pgstack/schema/migration_runner.h"

namespace pgstack::schema {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("pgstack_migrations_" + std::to_string(::getpid()) + "_" +
                                         std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  void write(const std::string& name, const std::string& text) const { std::ofstream(path_ / name) << text; }
  const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

TEST(MigrationFiles, VersionComesFromTheName) {
  EXPECT_EQ(migration_version("001_create_users.sql"), 1);
  EXPECT_EQ(migration_version("20261124_add_index.sql"), 20261124);
  EXPECT_EQ(migration_version("create_users.sql"), std::nullopt);
  EXPECT_EQ(migration_version("001_.sql"), std::nullopt);
  EXPECT_EQ(migration_version("000_zero.sql"), std::nullopt);
  EXPECT_EQ(migration_version("001_users.txt"), std::nullopt);
  EXPECT_EQ(migration_version("99999999999_too_big.sql"), std::nullopt);
  EXPECT_EQ(migration_version("1a_mixed.sql"), std::nullopt);
}

TEST(MigrationFiles, ChecksumIsSha256AndIgnoresCrlf) {
  auto m = make_migration("app", "001_a.sql", "001_a.sql", "SELECT 1;\n");
  // printf 'SELECT 1;\n' | sha256sum
  EXPECT_EQ(m.checksum, "b4e0497804e46e0a0b0b8c31975b062152d551bac49c3c2e80932567b4085dcd");
  auto crlf = make_migration("app", "001_a.sql", "001_a.sql", "SELECT 1;\r\n");
  EXPECT_EQ(crlf.checksum, m.checksum);
  auto other = make_migration("app", "001_a.sql", "001_a.sql", "SELECT 2;\n");
  EXPECT_NE(other.checksum, m.checksum);
}

TEST(MigrationFiles, NoTransactionMarkerOnTheFirstLine) {
  EXPECT_TRUE(make_migration("app", "001_a.sql", "a", "-- pgstack:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);").transactional == false);
  EXPECT_FALSE(make_migration("app", "001_a.sql", "a", "\n  -- pgstack:no-transaction  \nSELECT 1;").transactional);
  EXPECT_TRUE(make_migration("app", "001_a.sql", "a", "SELECT 1;\n-- pgstack:no-transaction\n").transactional);
  EXPECT_TRUE(make_migration("app", "001_a.sql", "a", "-- pgstack:no-transactions\nSELECT 1;").transactional);
}

TEST(MigrationFiles, LoadsAFolderInVersionOrderIgnoringOtherFiles) {
  TempDir dir;
  dir.write("010_third.sql", "SELECT 3;");
  dir.write("001_first.sql", "SELECT 1;");
  dir.write("2_second.sql", "SELECT 2;");
  dir.write("README.md", "not a migration");
  fs::create_directories(dir.path() / "archive");
  auto module = load_directory_module(dir.path());
  EXPECT_EQ(module.name, "app");
  ASSERT_EQ(module.migrations.size(), 3u);
  EXPECT_EQ(module.migrations[0].name, "001_first.sql");
  EXPECT_EQ(module.migrations[1].name, "2_second.sql");
  EXPECT_EQ(module.migrations[2].name, "010_third.sql");
  EXPECT_EQ(module.migrations[2].version, 10);
  EXPECT_EQ(module.migrations[0].source, (dir.path() / "001_first.sql").string());
}

TEST(MigrationFiles, BadFileNameIsRefusedNamingTheFile) {
  TempDir dir;
  dir.write("001_ok.sql", "SELECT 1;");
  dir.write("add_users.sql", "SELECT 1;");
  try {
    load_directory_module(dir.path());
    FAIL() << "a file without a version must be refused";
  } catch (const MigrationError& e) {
    EXPECT_NE(std::string(e.what()).find("add_users.sql"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("NNN_name.sql"), std::string::npos) << e.what();
  }
}

TEST(MigrationFiles, DuplicateVersionsAreRefusedNamingBothFiles) {
  TempDir dir;
  dir.write("001_a.sql", "SELECT 1;");
  dir.write("1_b.sql", "SELECT 1;");
  try {
    load_directory_module(dir.path());
    FAIL() << "two files with one version must be refused";
  } catch (const MigrationError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("001_a.sql"), std::string::npos) << what;
    EXPECT_NE(what.find("1_b.sql"), std::string::npos) << what;
  }
}

TEST(MigrationFiles, MissingFolderIsAClearError) {
  try {
    load_directory_module("/nonexistent/pgstack/migrations");
    FAIL() << "a missing folder must be refused";
  } catch (const MigrationError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/pgstack/migrations does not exist"), std::string::npos) << e.what();
  }
}

TEST(MigrationFiles, ModulesComeAfterTheirDependencies) {
  std::vector<EmbeddedModule> embedded = {
      {"jobs", {"core"}, {{"001_jobs.sql", "SELECT 1;"}}},
      {"cron", {"jobs", "core"}, {{"001_cron.sql", "SELECT 1;"}}},
      {"core", {}, {{"002_b.sql", "SELECT 2;"}, {"001_a.sql", "SELECT 1;"}}},
  };
  auto modules = modules_from_embedded(embedded);
  ASSERT_EQ(modules.size(), 3u);
  EXPECT_EQ(modules[0].name, "core");
  EXPECT_EQ(modules[1].name, "jobs");
  EXPECT_EQ(modules[2].name, "cron");
  EXPECT_EQ(modules[0].migrations[0].name, "001_a.sql");
  EXPECT_EQ(modules[0].migrations[0].source, "embedded:core/001_a.sql");
}

TEST(MigrationFiles, DependencyCycleAndUnknownDependencyAreRefused) {
  EXPECT_THROW(modules_from_embedded({{"a", {"b"}, {}}, {"b", {"a"}, {}}}), MigrationError);
  EXPECT_THROW(modules_from_embedded({{"a", {"nothere"}, {}}}), MigrationError);
  EXPECT_THROW(modules_from_embedded({{"a", {}, {}}, {"a", {}, {}}}), MigrationError);
  EXPECT_THROW(modules_from_embedded({{"Bad-Name", {}, {}}}), MigrationError);
}

TEST(MigrationFiles, TheCoreModuleIsBuiltIn) {
  auto modules = builtin_module_list();
  ASSERT_FALSE(modules.empty());
  EXPECT_EQ(modules.front().name, "core");
  ASSERT_FALSE(modules.front().migrations.empty());
  EXPECT_EQ(modules.front().migrations.front().name, "001_core.sql");
  EXPECT_NE(modules.front().migrations.front().sql.find("set_updated_at"), std::string::npos);
}

}  // namespace
}  // namespace pgstack::schema
