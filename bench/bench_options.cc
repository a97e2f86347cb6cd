#include "bench/bench_options.h"

#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>

namespace pgstack::bench {

DriverBenchOptions parse_driver_bench_options(int argc, char** argv) {
  DriverBenchOptions o;
  CLI::App app{
      "driver_bench: point lookups through pgstack's pool, one at a time and pipelined, side by side with "
      "`pgbench -S -M prepared` at the same client count against the same server.",
      "driver_bench"};
  app.add_option("--clients", o.clients, "client counts to measure (threads = connections = pgbench -c/-j)")
      ->delimiter(',')
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--seconds", o.seconds, "seconds per measured run")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--runs", o.runs, "runs per mode; medians are reported")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--scale", o.scale, "pgbench scale when the tables are created")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--batch", o.batch, "lookups per pipeline sync")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--dsn", o.dsn, "use this server instead of starting a private one");
  app.add_flag("--require-targets", o.require_targets, "exit 1 when a target is missed");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    std::exit(code == 0 ? 0 : 2);
  }
  return o;
}

}  // namespace pgstack::bench
