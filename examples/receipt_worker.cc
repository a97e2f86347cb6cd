// A worker for order_with_receipt's send_receipt jobs. It runs until SIGINT (Ctrl-C) or
// SIGTERM (what systemd, Kubernetes and docker stop send), then finishes the jobs in
// flight, hands back the ones it had claimed but not started, and exits 0.
//
//   DATABASE_URL=postgresql://app@localhost/app ./receipt_worker
//
// "Sending" a receipt here is recording it in a receipts table, once per order: a job
// can run more than once (a worker killed mid-job leaves it to be retried), so a real
// handler makes its effect idempotent the same way.
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "pgstack/jobs/worker.h"
#include "pgstack/pg/pool.h"

int main() {
  const char* url = std::getenv("DATABASE_URL");
  if (url == nullptr || *url == '\0') {
    std::cerr << "receipt_worker: set DATABASE_URL to a database with pgstack installed\n";
    return 2;
  }

  // Block the stop signals before any thread starts: every thread inherits the mask,
  // so only the sigwait() below receives them (no handler runs on a worker thread).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  try {
    // One pool for the handlers' queries and the worker's own (completions, heartbeats):
    // 4 handlers, and room for the worker beside them.
    pgstack::pg::Pool pool({.primary = url, .max_size = 8});
    pool.query(
        "create table if not exists receipts ("
        "  order_id bigint primary key,"
        "  total numeric(12, 2) not null,"
        "  sent_at timestamptz not null default now())");

    // Its LISTEN and claim sessions go to the pool's primary (url) directly.
    pgstack::jobs::Worker worker({.pool = &pool, .queues = {{.name = "default", .concurrency = 4}}});
    worker.handle("send_receipt", [&pool](pgstack::jobs::JobContext& job) {
      auto order_id = job.args().at("order_id").get<std::int64_t>();
      auto conn = pool.acquire();
      // Throwing fails this attempt; the job is retried later with backoff.
      auto total = conn.query_value<std::string>("select total::text from orders where id = $1", order_id);
      conn.query("insert into receipts (order_id, total) values ($1, $2::numeric) on conflict do nothing", order_id,
                 total);
      std::cout << "sent the receipt of order " << order_id << " (total " << total << ", job " << job.job().id
                << ", attempt " << job.job().attempt << ")" << std::endl;
    });
    worker.start();
    std::cout << "worker " << worker.name() << " is running; stop it with Ctrl-C or SIGTERM" << std::endl;

    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    std::cout << "got " << strsignal(signal_number) << ": finishing the jobs in flight" << std::endl;
    worker.stop(std::chrono::seconds(30));

    std::uint64_t completed = 0;
    for (const auto& [queue, figures] : worker.metrics().queues) completed += figures.completed;
    std::cout << "stopped; " << completed << " job(s) completed" << std::endl;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "receipt_worker: " << e.what() << "\n";
    return 1;
  }
}
