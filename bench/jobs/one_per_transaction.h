// jobs_bench's "enqueue with the order" shapes (issue 14, item 7): every transaction
// inserts an application row and enqueues one job beside it, while a Worker runs the
// jobs. bench/jobs/run puts each beside graphile-worker (add_job) and pg-boss (send).
//
//   produce: --producers threads, each committing such transactions back to back for
//            --seconds; prints jobs/s and the transaction's p50/p99.
//   paced:   --rate transactions a second offered in total (from 4 threads), for
//            --seconds; prints commit → handler-start p50/p99 (the producer's commit
//            returning, on this machine's clock, to the handler starting).
#pragma once

#include <string>

namespace pgstack::bench::jobs {

struct OnePerTransactionOptions {
  std::string dsn;
  int producers = 8;
  int rate = 100;
  int seconds = 20;
};

int produce(const OnePerTransactionOptions& options);
int paced(const OnePerTransactionOptions& options);

}  // namespace pgstack::bench::jobs
