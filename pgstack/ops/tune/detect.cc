// Machine detection. Inside a container /proc/meminfo shows the host's memory; the
// real budget is the cgroup limit (timescaledb-tune#58 tuned for the host and got the
// server OOM-killed). So we find our cgroup's folder through /proc/self/cgroup and
// /proc/self/mountinfo and take the smallest limit on the way up to the mount.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <sstream>
#include <thread>

#include "pgstack/base/files.h"
#include "pgstack/base/strings.h"
#include "pgstack/ops/tune/tune.h"

namespace pgstack::tune {
namespace {

template <class T>
std::optional<T> to_number(std::string_view s) {
  s = trim(s);
  T value{};
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || ptr != s.data() + s.size()) return std::nullopt;
  return value;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    auto pos = s.find(sep, start);
    parts.push_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return parts;
}

std::optional<std::string> read_file(const std::filesystem::path& path) {
  return pgstack::read_text_file_if_readable(path.string());
}

// The folder of cgroup `path` under `mount`, or nullopt when the mount does not hold it.
std::optional<std::string> cgroup_dir(const CgroupMount& mount, const std::string& path) {
  if (mount.root == "/") return mount.mount_point + (path == "/" ? "" : path);
  if (path == mount.root) return mount.mount_point;
  if (path.starts_with(mount.root + "/")) return mount.mount_point + path.substr(mount.root.size());
  // Without a cgroup namespace a container sees the host's path in /proc/self/cgroup
  // while its mount holds only its own cgroup: the mount point is then our folder.
  return mount.mount_point;
}

struct Limit {
  double value;
  std::string file;
};

// Walks from dir up to the mount point, reading file in each folder with parse, and
// returns the smallest limit found: a parent's limit binds its children too.
template <class Parse>
std::optional<Limit> smallest_limit(const std::filesystem::path& root, const CgroupMount& mount, const std::string& dir,
                                    Parse parse) {
  std::optional<Limit> best;
  std::string current = dir;
  while (true) {
    auto value = parse(root, current);
    if (value && (!best || *value < best->value)) best = Limit{*value, current};
    if (current.size() <= mount.mount_point.size()) break;
    auto slash = current.rfind('/');
    if (slash == std::string::npos || slash < mount.mount_point.size()) break;
    current = current.substr(0, slash);
  }
  return best;
}

std::filesystem::path under(const std::filesystem::path& root, const std::string& absolute) {
  return root / std::filesystem::path(absolute).relative_path();
}

}  // namespace

std::optional<std::uint64_t> parse_meminfo_total(std::string_view meminfo) {
  for (auto line : split(meminfo, '\n')) {
    if (!line.starts_with("MemTotal:")) continue;
    auto rest = trim(line.substr(9));
    if (rest.ends_with("kB")) rest = trim(rest.substr(0, rest.size() - 2));
    if (auto kb = to_number<std::uint64_t>(rest)) return *kb * kKiB;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> parse_memory_limit(std::string_view contents) {
  auto text = trim(contents);
  if (text == "max") return std::nullopt;
  auto value = to_number<std::uint64_t>(text);
  // cgroup v1 writes "no limit" as LONG_MAX rounded down to a page: 9223372036854771712.
  if (!value || *value >= (std::uint64_t{1} << 62)) return std::nullopt;
  return value;
}

std::optional<double> parse_cpu_max(std::string_view contents) {
  auto parts = split(trim(contents), ' ');
  if (parts.empty() || parts[0] == "max") return std::nullopt;
  auto quota = to_number<std::int64_t>(parts[0]);
  auto period = parts.size() > 1 ? to_number<std::int64_t>(parts[1]) : std::optional<std::int64_t>(100000);
  if (!quota || !period || *quota <= 0 || *period <= 0) return std::nullopt;
  return static_cast<double>(*quota) / static_cast<double>(*period);
}

std::optional<double> parse_cfs_quota(std::string_view quota_text, std::string_view period_text) {
  auto quota = to_number<std::int64_t>(quota_text);
  auto period = to_number<std::int64_t>(period_text);
  if (!quota || !period || *quota <= 0 || *period <= 0) return std::nullopt;
  return static_cast<double>(*quota) / static_cast<double>(*period);
}

std::vector<CgroupMount> parse_mountinfo(std::string_view mountinfo) {
  // "35 31 0:32 /root /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory"
  std::vector<CgroupMount> mounts;
  for (auto line : split(mountinfo, '\n')) {
    auto dash = line.find(" - ");
    if (dash == std::string_view::npos) continue;
    auto left = split(line.substr(0, dash), ' ');
    auto right = split(line.substr(dash + 3), ' ');
    if (left.size() < 5 || right.size() < 3) continue;
    CgroupMount m;
    if (right[0] == "cgroup2") {
      m.version = 2;
    } else if (right[0] == "cgroup") {
      m.version = 1;
      for (auto opt : split(right[2], ','))
        if (opt == "memory" || opt == "cpu" || opt == "cpuacct" || opt == "cpuset") m.controllers.emplace_back(opt);
      if (m.controllers.empty()) continue;  // name=systemd and friends limit nothing
    } else {
      continue;
    }
    m.root = std::string(left[3]);
    m.mount_point = std::string(left[4]);
    mounts.push_back(std::move(m));
  }
  return mounts;
}

ProcessCgroups parse_proc_cgroup(std::string_view text) {
  // "0::/user.slice/..." (v2) or "4:memory:/docker/abc" and "1:cpu,cpuacct:/docker/abc" (v1)
  ProcessCgroups out;
  for (auto line : split(text, '\n')) {
    auto first = line.find(':');
    if (first == std::string_view::npos) continue;
    auto second = line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    auto controllers = line.substr(first + 1, second - first - 1);
    std::string path(trim(line.substr(second + 1)));
    if (line.substr(0, first) == "0" && controllers.empty()) out.v2 = path;
    for (auto c : split(controllers, ',')) {
      if (c == "memory") out.memory = path;
      if (c == "cpu") out.cpu = path;
    }
  }
  return out;
}

Machine detect_machine(const DetectOptions& options) {
  const auto& root = options.root;
  Machine machine;
  machine.memory = parse_meminfo_total(read_file(root / "proc/meminfo").value_or("")).value_or(0);
  machine.memory_source = "MemTotal";
  unsigned threads = options.hardware_threads ? options.hardware_threads : std::thread::hardware_concurrency();
  machine.cores = static_cast<int>(std::max(threads, 1u));
  machine.cores_source = "hardware threads";

  auto mounts = parse_mountinfo(read_file(root / "proc/self/mountinfo").value_or(""));
  auto groups = parse_proc_cgroup(read_file(root / "proc/self/cgroup").value_or(""));

  auto read_memory = [](const std::filesystem::path& r, const std::string& dir, const char* file) -> std::optional<double> {
    auto text = read_file(under(r, dir + "/" + file));
    if (!text) return std::nullopt;
    auto v = parse_memory_limit(*text);
    return v ? std::optional<double>(static_cast<double>(*v)) : std::nullopt;
  };
  auto consider_memory = [&](const std::optional<Limit>& limit, const char* file) {
    if (!limit) return;
    auto bytes = static_cast<std::uint64_t>(limit->value);
    if (machine.memory == 0 || bytes < machine.memory) {
      machine.memory = bytes;
      machine.memory_source = limit->file + "/" + file;
    }
  };
  auto consider_cpu = [&](const std::optional<Limit>& limit, const char* file) {
    if (!limit) return;
    int cores = std::max(1, static_cast<int>(std::ceil(limit->value - 1e-9)));
    if (cores < machine.cores) {
      machine.cores = cores;
      machine.cores_source = limit->file + "/" + file;
    }
  };

  for (const auto& m : mounts) {
    if (m.version == 2 && !groups.v2.empty()) {
      auto dir = cgroup_dir(m, groups.v2);
      if (!dir) continue;
      consider_memory(smallest_limit(root, m, *dir,
                                     [&](const auto& r, const std::string& d) { return read_memory(r, d, "memory.max"); }),
                      "memory.max");
      consider_cpu(smallest_limit(root, m, *dir,
                                  [](const auto& r, const std::string& d) -> std::optional<double> {
                                    auto text = read_file(under(r, d + "/cpu.max"));
                                    return text ? parse_cpu_max(*text) : std::nullopt;
                                  }),
                   "cpu.max");
    } else if (m.version == 1) {
      auto has = [&](const char* c) { return std::find(m.controllers.begin(), m.controllers.end(), c) != m.controllers.end(); };
      if (has("memory") && !groups.memory.empty()) {
        if (auto dir = cgroup_dir(m, groups.memory))
          consider_memory(smallest_limit(root, m, *dir,
                                         [&](const auto& r, const std::string& d) {
                                           return read_memory(r, d, "memory.limit_in_bytes");
                                         }),
                          "memory.limit_in_bytes");
      }
      if (has("cpu") && !groups.cpu.empty()) {
        if (auto dir = cgroup_dir(m, groups.cpu))
          consider_cpu(smallest_limit(root, m, *dir,
                                      [](const auto& r, const std::string& d) -> std::optional<double> {
                                        auto quota = read_file(under(r, d + "/cpu.cfs_quota_us"));
                                        auto period = read_file(under(r, d + "/cpu.cfs_period_us"));
                                        return quota && period ? parse_cfs_quota(*quota, *period) : std::nullopt;
                                      }),
                       "cpu.cfs_quota_us");
      }
    }
  }
  return machine;
}

}  // namespace pgstack::tune
