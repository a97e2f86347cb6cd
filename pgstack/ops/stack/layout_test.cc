#include "pgstack/ops/stack/layout.h"

#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

#include "pgstack/pg/errors.h"

namespace pgstack::stack {
namespace {

class LayoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pgstack-layout-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(LayoutTest, LocalLayoutHasAPrimaryWithDsns) {
  auto layout = ClusterLayout::local(dir_ / "stack", 54999);
  EXPECT_EQ(layout.primary().port, 54999);
  EXPECT_EQ(layout.primary().dir, dir_ / "stack" / "data" / "primary");
  EXPECT_EQ(layout.dsn(), "postgresql://postgres@/app?host=" + (dir_ / "stack" / "run").string() + "&port=54999");
  EXPECT_EQ(layout.tcp_dsn(), "postgresql://postgres@127.0.0.1:54999/app?sslmode=require&passfile=" +
                                  (dir_ / "stack" / "credentials").string());
  EXPECT_EQ(layout.role_dsn("app_reader").find("postgresql://app_reader@127.0.0.1:54999/app?sslmode=require&passfile="), 0u);
  EXPECT_EQ(layout.dsn(nullptr, "postgres").find("postgresql://postgres@/postgres?"), 0u);
}

TEST_F(LayoutTest, SaveThenLoadRoundTrips) {
  EXPECT_FALSE(ClusterLayout::load(dir_));
  auto layout = ClusterLayout::local(dir_, 55001);
  layout.save();
  auto loaded = ClusterLayout::load(dir_);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->to_json(), layout.to_json());
  EXPECT_EQ(loaded->to_json()["components"][0]["role"], "primary");
}

TEST_F(LayoutTest, MalformedStackFileNamesTheFile) {
  std::ofstream(dir_ / "stack.json") << "{not json";
  try {
    ClusterLayout::load(dir_);
    FAIL() << "expected an error";
  } catch (const pgstack::Error& e) {
    EXPECT_NE(std::string(e.what()).find("stack.json"), std::string::npos) << e.what();
  }
}

TEST_F(LayoutTest, SocketPathIsEncodedInTheUri) {
  auto layout = ClusterLayout::local(dir_ / "my stack", 54320);
  EXPECT_NE(layout.dsn().find("my%20stack"), std::string::npos) << layout.dsn();
}

}  // namespace
}  // namespace pgstack::stack
