// See one_per_transaction.h.
#include "bench/jobs/one_per_transaction.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "pgstack/jobs/job_queue.h"
#include "pgstack/jobs/worker.h"
#include "pgstack/pg/connection.h"
#include "pgstack/pg/transaction.h"
#include "pgstack/schema/migration_runner.h"

namespace pgstack::bench::jobs {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using pgstack::jobs::JobContext;
using pgstack::jobs::JobQueue;
using pgstack::jobs::Worker;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

// pgstack's schemas (a no-op when installed), the kind and the application's table.
void prepare(const std::string& dsn) {
  pg::Connection conn(dsn);
  schema::MigrationRunner(conn).apply(schema::builtin_module_list());
  JobQueue::register_kind(conn, "noop");
  conn.execute_script("create table if not exists bench_orders (id bigint generated always as identity primary key, "
                      "total numeric not null, created_at timestamptz not null default now())");
}

// When each job's transaction committed (the commit call returned) and when its handler
// started, by job id.
struct Timeline {
  std::mutex mutex;
  std::unordered_map<std::int64_t, Clock::time_point> committed, started;
  void commit(std::int64_t id, Clock::time_point t) {
    std::lock_guard lock(mutex);
    committed[id] = t;
  }
  void start(std::int64_t id) {
    auto t = Clock::now();
    std::lock_guard lock(mutex);
    started[id] = t;
  }
  std::vector<double> latencies_ms() {
    std::lock_guard lock(mutex);
    std::vector<double> out;
    for (auto& [id, c] : committed)
      if (auto s = started.find(id); s != started.end()) out.push_back(ms_between(c, s->second));
    return out;
  }
};

std::unique_ptr<Worker> start_worker(const std::string& dsn, Timeline* timeline) {
  auto worker = std::make_unique<Worker>(pgstack::jobs::WorkerOptions{
      .dsn = dsn, .queues = {{"default", 8}}, .name = "oltp", .log = [](const std::string& line) {
        std::cerr << "worker: " << line << "\n";
      }});
  worker->handle("noop", [timeline](JobContext& job) {
    if (timeline) timeline->start(job.job().id);
  });
  worker->start();
  return worker;
}

// The order and its job, in one transaction; returns the job's id.
std::int64_t order_with_job(pg::Connection& conn) {
  pg::Transaction tx(conn);
  auto order = tx.query_value<std::int64_t>("insert into bench_orders (total) values (99.50) returning id");
  auto id = JobQueue::enqueue(tx, "noop", {{"order_id", order}}).id;
  tx.commit();
  return id;
}

}  // namespace

int produce(const OnePerTransactionOptions& o) {
  prepare(o.dsn);
  auto worker = start_worker(o.dsn, nullptr);
  std::this_thread::sleep_for(500ms);
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> txn_ms(static_cast<std::size_t>(o.producers));
  std::vector<std::thread> threads;
  for (int i = 0; i < o.producers; ++i)
    threads.emplace_back([&, i] {
      pg::Connection conn(o.dsn);
      while (!stop) {
        auto t0 = Clock::now();
        order_with_job(conn);
        txn_ms[static_cast<std::size_t>(i)].push_back(ms_between(t0, Clock::now()));
      }
    });
  auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(o.seconds));
  stop = true;
  for (auto& t : threads) t.join();
  double elapsed = ms_between(start, Clock::now()) / 1000.0;
  worker->stop();
  std::vector<double> all;
  for (auto& v : txn_ms) all.insert(all.end(), v.begin(), v.end());
  std::cout << fmt::format("RESULT pgstack_oltp_jobs_per_s={:.0f}\n", static_cast<double>(all.size()) / elapsed);
  std::cout << fmt::format("RESULT pgstack_oltp_txn_p50_ms={:.2f}\nRESULT pgstack_oltp_txn_p99_ms={:.2f}\n",
                           percentile(all, 0.5), percentile(all, 0.99));
  return all.empty() ? 1 : 0;
}

int paced(const OnePerTransactionOptions& o) {
  prepare(o.dsn);
  Timeline timeline;
  auto worker = start_worker(o.dsn, &timeline);
  std::this_thread::sleep_for(500ms);
  // Four threads, each on a fixed schedule: together `rate` transactions a second,
  // evenly spaced, whatever the latency of the one before.
  constexpr int kThreads = 4;
  const auto interval = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
      static_cast<double>(kThreads) / std::max(1, o.rate)));
  const auto start = Clock::now() + 100ms;
  const auto end = start + std::chrono::seconds(o.seconds);
  std::atomic<long> offered{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] {
      pg::Connection conn(o.dsn);
      for (auto due = start + interval * i / kThreads; due < end; due += interval) {
        std::this_thread::sleep_until(due);
        auto id = order_with_job(conn);
        timeline.commit(id, Clock::now());
        ++offered;
      }
    });
  for (auto& t : threads) t.join();
  std::this_thread::sleep_for(1s);  // the last jobs start
  worker->stop();
  auto lat = timeline.latencies_ms();
  if (lat.size() != static_cast<std::size_t>(offered.load())) {
    std::cerr << fmt::format("paced: {} of {} jobs started\n", lat.size(), offered.load());
    return 1;
  }
  std::cout << fmt::format("RESULT pgstack_paced_p50_ms={:.2f}\nRESULT pgstack_paced_p99_ms={:.2f}\n",
                           percentile(lat, 0.5), percentile(lat, 0.99));
  std::cout << fmt::format("{} jobs at {} a second offered for {} s\n", offered.load(), o.rate, o.seconds);
  return 0;
}

}  // namespace pgstack::bench::jobs
