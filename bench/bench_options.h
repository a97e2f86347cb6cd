// driver_bench's command line: which client counts, how long, how many runs, and which
// server (a private one by default, so `make bench` needs nothing running).
//
//   DriverBenchOptions options = parse_driver_bench_options(argc, argv);  // exits on --help
//   for (int clients : options.clients) ...
#pragma once

#include <string>
#include <vector>

namespace pgstack::bench {

struct DriverBenchOptions {
  std::vector<int> clients = {2, 8};  // each count is measured on its own, all modes alike
  int seconds = 5;                    // length of one measured run
  int runs = 5;                       // runs per mode and client count; medians are quoted
  int scale = 10;                     // pgbench -i -s: 100,000 accounts per unit
  int batch = 100;                    // lookups per pipeline sync
  // An existing server instead of a private one. Its pgbench_* tables are used as they
  // are when present (never re-initialised: that would drop them), created otherwise.
  std::string dsn;
  // Exit 1 when a target is missed; off by default, since a noisy machine can miss one
  // for reasons that have nothing to do with the driver.
  bool require_targets = false;
};

// Parses argv; on --help or bad usage prints the reason and exits (0 or 2).
DriverBenchOptions parse_driver_bench_options(int argc, char** argv);

}  // namespace pgstack::bench
