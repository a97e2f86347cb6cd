#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

#include "pgstack/ops/tune/tune.h"

namespace pgstack::tune {
namespace {

TEST(Parse, MeminfoTotal) {
  EXPECT_EQ(parse_meminfo_total("MemTotal:       24684092 kB\nMemFree: 1 kB\n"), 24684092 * kKiB);
  EXPECT_FALSE(parse_meminfo_total("MemFree: 1 kB\n"));
}

TEST(Parse, MemoryLimits) {
  EXPECT_EQ(parse_memory_limit("2147483648\n"), 2 * kGiB);
  EXPECT_FALSE(parse_memory_limit("max\n"));
  EXPECT_FALSE(parse_memory_limit("9223372036854771712\n"));  // v1: no limit
  EXPECT_FALSE(parse_memory_limit("garbage"));
  EXPECT_FALSE(parse_memory_limit(""));
}

TEST(Parse, CpuQuotas) {
  EXPECT_DOUBLE_EQ(*parse_cpu_max("200000 100000\n"), 2.0);
  EXPECT_DOUBLE_EQ(*parse_cpu_max("150000 100000"), 1.5);
  EXPECT_FALSE(parse_cpu_max("max 100000\n"));
  EXPECT_DOUBLE_EQ(*parse_cfs_quota("50000\n", "100000\n"), 0.5);
  EXPECT_FALSE(parse_cfs_quota("-1\n", "100000\n"));
}

TEST(Parse, MountinfoAndProcCgroup) {
  auto mounts = parse_mountinfo(
      "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
      "35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
      "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
      "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n");
  ASSERT_EQ(mounts.size(), 3u);
  EXPECT_EQ(mounts[0].mount_point, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(mounts[1].root, "/docker/abc");
  EXPECT_EQ(mounts[2].version, 2);

  auto groups = parse_proc_cgroup("4:memory:/docker/abc\n1:cpu,cpuacct:/docker/abc\n0::/\n");
  EXPECT_EQ(groups.memory, "/docker/abc");
  EXPECT_EQ(groups.cpu, "/docker/abc");
  EXPECT_EQ(groups.v2, "/");
}

// A fake /proc and /sys under a temp folder.
class FakeRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pgstack-tune-XXXXXX";
    root_ = mkdtemp(tmpl);
    write("proc/meminfo", "MemTotal:       33554432 kB\n");  // a 32 GB host
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  void write(const std::string& rel, const std::string& text) {
    auto path = root_ / rel;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }
  Machine detect(unsigned threads = 16) { return detect_machine({.root = root_, .hardware_threads = threads}); }
  std::filesystem::path root_;
};

TEST_F(FakeRoot, NoCgroupLimitsUsesHostFigures) {
  write("proc/self/cgroup", "0::/\n");
  write("proc/self/mountinfo", "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
  write("sys/fs/cgroup/memory.max", "max\n");
  write("sys/fs/cgroup/cpu.max", "max 100000\n");
  auto m = detect();
  EXPECT_EQ(m.memory, 32 * kGiB);
  EXPECT_EQ(m.cores, 16);
  EXPECT_EQ(m.memory_source, "MemTotal");
}

TEST_F(FakeRoot, CgroupV2LimitInNamespacedContainer) {
  write("proc/self/cgroup", "0::/\n");
  write("proc/self/mountinfo", "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
  write("sys/fs/cgroup/memory.max", "2147483648\n");
  write("sys/fs/cgroup/cpu.max", "150000 100000\n");
  auto m = detect();
  EXPECT_EQ(m.memory, 2 * kGiB);
  EXPECT_EQ(m.cores, 2);  // 1.5 CPUs round up
  EXPECT_NE(m.memory_source.find("memory.max"), std::string::npos);
}

TEST_F(FakeRoot, CgroupV2LimitOnAParentSlice) {
  write("proc/self/cgroup", "0::/app.slice/pg.service\n");
  write("proc/self/mountinfo", "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
  write("sys/fs/cgroup/app.slice/memory.max", "1073741824\n");
  write("sys/fs/cgroup/app.slice/pg.service/memory.max", "max\n");
  write("sys/fs/cgroup/app.slice/pg.service/cpu.max", "max 100000\n");
  auto m = detect();
  EXPECT_EQ(m.memory, 1 * kGiB);
  EXPECT_EQ(m.cores, 16);
}

TEST_F(FakeRoot, CgroupV1DockerWithoutNamespace) {
  // /proc/self/cgroup shows the host's path; the mount holds only our cgroup.
  write("proc/self/cgroup", "4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n");
  write("proc/self/mountinfo",
        "32 31 0:29 /docker/abc /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
        "35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
  write("sys/fs/cgroup/memory/memory.limit_in_bytes", "536870912\n");
  write("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "100000\n");
  write("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n");
  auto m = detect();
  EXPECT_EQ(m.memory, 512 * kMiB);
  EXPECT_EQ(m.cores, 1);
}

TEST_F(FakeRoot, CgroupV1UnlimitedKeepsMemTotal) {
  write("proc/self/cgroup", "4:memory:/process_api/c1\n");
  write("proc/self/mountinfo", "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
  write("sys/fs/cgroup/memory/process_api/c1/memory.limit_in_bytes", "9223372036854771712\n");
  write("sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
  auto m = detect(4);
  EXPECT_EQ(m.memory, 32 * kGiB);
  EXPECT_EQ(m.cores, 4);
}

TEST_F(FakeRoot, LimitAboveHostMemoryKeepsMemTotal) {
  write("proc/self/cgroup", "0::/\n");
  write("proc/self/mountinfo", "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
  write("sys/fs/cgroup/memory.max", "107374182400\n");  // 100 GB
  EXPECT_EQ(detect().memory, 32 * kGiB);
}

TEST(Detect, ThisMachineReportsSomething) {
  auto m = detect_machine();
  EXPECT_GT(m.memory, 0u);
  EXPECT_GE(m.cores, 1);
}

}  // namespace
}  // namespace pgstack::tune
