// An order and the job that sends its receipt, committed in one transaction: the
// receipt job exists exactly when the order does. No "order saved but the message was
// lost", no "job for an order that rolled back", and no second system to keep in step.
//
//   DATABASE_URL=postgresql://app@localhost/app ./order_with_receipt [customer_id total]
//   DATABASE_URL=... ./order_with_receipt --fail-before-commit   # neither is written
//
// receipt_worker (receipt_worker.cc) runs the job. The orders table is the README's
// (examples/migrations/001_orders.sql); it is created here when missing.
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

#include "pgstack/jobs/job_queue.h"
#include "pgstack/pg/pool.h"

int main(int argc, char** argv) {
  const char* url = std::getenv("DATABASE_URL");
  if (url == nullptr || *url == '\0') {
    std::cerr << "order_with_receipt: set DATABASE_URL to a database with pgstack installed, e.g.\n"
                 "  DATABASE_URL=postgresql://app@localhost/app order_with_receipt\n";
    return 2;
  }
  const bool fail_before_commit = argc == 2 && std::string_view(argv[1]) == "--fail-before-commit";
  std::int64_t customer_id = 7;
  std::string total = "19.99";  // numeric: sent as text, cast by the server, no rounding
  if (argc == 3) {
    customer_id = std::stoll(argv[1]);
    total = argv[2];
  } else if (argc != 1 && !fail_before_commit) {
    std::cerr << "usage: order_with_receipt [customer_id total | --fail-before-commit]\n";
    return 2;
  }

  try {
    pgstack::pg::Pool pool({.primary = url, .max_size = 2});
    pool.query(
        "create table if not exists orders ("
        "  id bigint generated always as identity primary key,"
        "  customer_id bigint not null,"
        "  total numeric(12, 2) not null check (total >= 0),"
        "  created_at timestamptz not null default now())");

    // A job's kind is registered before the first enqueue (the worker also registers the
    // kinds it handles when it starts); registering again changes nothing.
    {
      auto conn = pool.acquire();
      pgstack::jobs::JobQueue::register_kind(conn, "send_receipt");
    }

    // Rolled back when it goes out of scope without commit(): on an exception too.
    auto tx = pool.begin();
    auto order_id = tx.query_value<std::int64_t>(
        "insert into orders (customer_id, total) values ($1, $2::numeric) returning id", customer_id, total);
    // The job is a row written by this same transaction (pgstack.job_enqueue).
    auto job = pgstack::jobs::JobQueue::enqueue(tx, "send_receipt", {{"order_id", order_id}});

    if (fail_before_commit) {
      std::cout << "order " << order_id << " and job " << job.id
                << " written, then a failure before commit: both rolled back, neither exists\n";
      return 1;  // tx's destructor rolls back
    }
    tx.commit();
    std::cout << "order " << order_id << " (customer " << customer_id << ", total " << total
              << ") and its send_receipt job " << job.id << " committed in one transaction\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "order_with_receipt: " << e.what() << "\n";
    return 1;
  }
}
