// A worker process for the fault tests (SIGKILL mid-job, competing periodic
// schedulers): runs a Worker until SIGTERM, then stops it gracefully.
//   jobs_test_worker --dsn URL --name w1 [--sleep-ms 3000] [--lease-ms 2000] [--periodic NAME CRON KIND]
// Handlers: kind "record" inserts (job id, attempt, worker, 'start') into table ran, sleeps
// --sleep-ms, then inserts 'end'; kind "tick" does nothing.
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include "pgstack/jobs/worker.h"
#include "pgstack/pg/connection.h"

namespace {
volatile std::sig_atomic_t stop_requested = 0;
void on_term(int) { stop_requested = 1; }
}  // namespace

int main(int argc, char** argv) {
  std::string dsn, name, periodic_name, periodic_cron, periodic_kind;
  int sleep_ms = 0, lease_ms = 2000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--dsn") dsn = next();
    else if (a == "--name") name = next();
    else if (a == "--sleep-ms") sleep_ms = std::stoi(next());
    else if (a == "--lease-ms") lease_ms = std::stoi(next());
    else if (a == "--periodic") {
      periodic_name = next();
      periodic_cron = next();
      periodic_kind = next();
    } else {
      std::cerr << "jobs_test_worker: unknown argument " << a << "\n";
      return 2;
    }
  }
  std::signal(SIGTERM, on_term);
  pgstack::jobs::Worker worker({.dsn = dsn,
                                .queues = {{"default", 4}},
                                .name = name,
                                .batch_size = 10,
                                .poll_interval = std::chrono::milliseconds(200),
                                .lease = std::chrono::milliseconds(lease_ms),
                                .heartbeat_interval = std::chrono::milliseconds(lease_ms / 4),
                                .maintenance_interval = std::chrono::milliseconds(100)});
  worker.handle("record", [&](pgstack::jobs::JobContext& job) {
    thread_local pgstack::pg::Connection conn(dsn);
    conn.query("insert into ran (job_id, attempt, worker, event) values ($1, $2, $3, 'start')", job.job().id,
               job.job().attempt, name);
    std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
    conn.query("insert into ran (job_id, attempt, worker, event) values ($1, $2, $3, 'end')", job.job().id,
               job.job().attempt, name);
  });
  worker.handle("tick", [](pgstack::jobs::JobContext&) {});
  if (!periodic_name.empty()) worker.every(periodic_name, periodic_cron, periodic_kind);
  worker.start();
  std::cout << "started " << worker.name() << std::endl;
  while (!stop_requested) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  worker.stop(std::chrono::seconds(5));
  return 0;
}
