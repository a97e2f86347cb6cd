// pgstack's side of bench/jobs/run (docs/BENCHMARKS.md): the job queue measured on a
// database of its own (a private throwaway server when --dsn is not given: the smoke
// test's way). Prints RESULT lines the script reads.
//   jobs_bench burndown  --dsn URL [--jobs 1000000] [--workers 6] [--concurrency 8] [--batch 500]
//       enqueue --jobs no-op jobs in bulk, then time Workers (each: 4 connections) working them off
//   jobs_bench latency   --dsn URL [--jobs 200]
//       one idle Worker (poll interval 60 s): enqueue one job at a time, enqueue-to-start p50/p99
//   jobs_bench sustained --dsn URL [--rate 2000] [--seconds 600] [--sample 30]
//       enqueue at a fixed rate while Workers work; every --sample seconds print the
//       throughput and the dead tuples and size of the queue's tables
//   jobs_bench produce   --dsn URL [--producers 8] [--seconds 20]
//   jobs_bench paced     --dsn URL [--rate 100] [--seconds 20]
//       one job per transaction beside an application row (one_per_transaction.h)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "pgstack/jobs/job_queue.h"
#include "pgstack/jobs/worker.h"
#include "pgstack/pg/connection.h"
#include "pgstack/schema/migration_runner.h"
#include "pgstack/testing/test_cluster.h"
#include "bench/jobs/one_per_transaction.h"
#include "bench/private_database.h"

namespace {

using namespace pgstack;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string dsn;
  long jobs = 1000000;
  int workers = 6;
  int concurrency = 8;
  int batch = 500;
  int rate = 2000;
  int seconds = 600;
  int sample = 30;
  int producers = 8;
};

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void prepare(pg::Connection& conn) {
  schema::MigrationRunner(conn).apply(schema::builtin_module_list());
  jobs::JobQueue::register_kind(conn, "noop");
}

// Enqueues n no-op jobs, 100k per statement; returns jobs/s.
double bulk_enqueue(pg::Connection& conn, long n) {
  auto start = Clock::now();
  for (long done = 0; done < n;) {
    long chunk = std::min<long>(100000, n - done);
    std::vector<jobs::JobRequest> batch(static_cast<std::size_t>(chunk), jobs::JobRequest{"noop", nlohmann::json::object(), {}});
    jobs::JobQueue::enqueue_many(conn, batch);
    done += chunk;
  }
  return static_cast<double>(n) / seconds_since(start);
}

std::vector<std::unique_ptr<jobs::Worker>> start_workers(const Options& o, std::atomic<long>& done,
                                                         std::chrono::milliseconds poll = 1000ms) {
  std::vector<std::unique_ptr<jobs::Worker>> workers;
  for (int i = 0; i < o.workers; ++i) {
    workers.push_back(std::make_unique<jobs::Worker>(jobs::WorkerOptions{
        .dsn = o.dsn, .queues = {{"default", o.concurrency}}, .name = fmt::format("bench-{}", i),
        .batch_size = o.batch, .poll_interval = poll}));
    workers.back()->handle("noop", [&](jobs::JobContext&) { done.fetch_add(1, std::memory_order_relaxed); });
  }
  for (auto& w : workers) w->start();
  return workers;
}

int burndown(const Options& o) {
  pg::Connection conn(o.dsn);
  prepare(conn);
  conn.query("select pgstack.jobs_maintain()");
  const auto completed_before = jobs::JobQueue::stats(conn)[0].completed;
  double enqueue_rate = bulk_enqueue(conn, o.jobs);
  conn.execute_script("vacuum analyze pgstack.job_stream");
  std::atomic<long> done{0};
  // Workers start on a paused queue and the clock starts when they are all up (as for
  // the anchors): connecting is not part of the burn-down.
  jobs::JobQueue::pause(conn, "default");
  auto workers = start_workers(o, done);
  std::this_thread::sleep_for(500ms);
  auto start = Clock::now();
  jobs::JobQueue::resume(conn, "default");
  while (done.load() < o.jobs) std::this_thread::sleep_for(5ms);
  double elapsed = seconds_since(start);
  // Finished means recorded: wait for the last completions to commit.
  while (jobs::JobQueue::stats(conn)[0].running > 0) std::this_thread::sleep_for(5ms);
  double recorded = seconds_since(start);
  for (auto& w : workers) w->stop();
  auto s = jobs::JobQueue::stats(conn)[0];
  if (s.completed - completed_before != o.jobs || s.available != 0) {
    std::cerr << fmt::format("burndown: {} of {} jobs completed, {} still available\n", s.completed - completed_before,
                             o.jobs, s.available);
    return 1;
  }
  std::cout << fmt::format("RESULT pgstack_enqueue_jobs_per_s={:.0f}\n", enqueue_rate);
  std::cout << fmt::format("RESULT pgstack_burndown_jobs_per_s={:.0f}\n", static_cast<double>(o.jobs) / recorded);
  std::cout << fmt::format("handlers ran all {} jobs in {:.2f} s; completions recorded by {:.2f} s\n", o.jobs, elapsed, recorded);
  return 0;
}

int latency(const Options& o) {
  pg::Connection conn(o.dsn);
  prepare(conn);
  std::mutex m;
  std::vector<double> samples;
  jobs::Worker worker({.dsn = o.dsn, .queues = {{"default", 4}}, .name = "latency", .poll_interval = 60s});
  worker.handle("noop", [&](jobs::JobContext& job) {
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::system_clock::now() - job.job().available_at).count();
    std::lock_guard lock(m);
    samples.push_back(ms);
  });
  worker.start();
  std::this_thread::sleep_for(1s);
  for (long i = 0; i < o.jobs; ++i) {
    jobs::JobQueue::enqueue(conn, "noop");
    auto until = Clock::now() + 5s;
    while (Clock::now() < until) {
      {
        std::lock_guard lock(m);
        if (samples.size() == static_cast<std::size_t>(i + 1)) break;
      }
      std::this_thread::sleep_for(200us);
    }
    std::this_thread::sleep_for(20ms);  // low load: one job at a time
  }
  worker.stop();
  std::sort(samples.begin(), samples.end());
  if (samples.size() != static_cast<std::size_t>(o.jobs)) {
    std::cerr << fmt::format("latency: {} of {} jobs started within 5 s each\n", samples.size(), o.jobs);
    return 1;
  }
  auto pct = [&](double p) { return samples[static_cast<std::size_t>(p * static_cast<double>(samples.size() - 1))]; };
  std::cout << fmt::format("RESULT pgstack_latency_p50_ms={:.2f}\nRESULT pgstack_latency_p99_ms={:.2f}\n", pct(0.5), pct(0.99));
  return 0;
}

int sustained(const Options& o) {
  pg::Connection conn(o.dsn);
  prepare(conn);
  std::atomic<long> done{0};
  auto workers = start_workers(o, done, 200ms);
  auto start = Clock::now();
  auto next_sample = start + std::chrono::seconds(o.sample);
  long enqueued = 0, done_at_last = 0;
  std::cout << "   t_s  enqueued/s  completed/s  available  dead_tuples  tables_MB\n";
  auto last = start;
  while (seconds_since(start) < o.seconds) {
    // 10 enqueue transactions a second, rate/10 jobs each.
    auto due = static_cast<long>(seconds_since(start) * o.rate);
    if (due > enqueued) {
      std::vector<jobs::JobRequest> batch(static_cast<std::size_t>(due - enqueued), jobs::JobRequest{"noop", nlohmann::json::object(), {}});
      jobs::JobQueue::enqueue_many(conn, batch);
      enqueued = due;
    }
    if (Clock::now() >= next_sample) {
      auto d = done.load();
      double span = seconds_since(last);
      auto row = conn.query(
          "select coalesce(sum(n_dead_tup), 0)::bigint, "
          "(sum(pg_total_relation_size(relid)) / 1048576.0)::float8 "
          "from pg_stat_user_tables where schemaname = 'pgstack' and relname like 'job%'");
      auto s = jobs::JobQueue::stats(conn)[0];
      std::cout << fmt::format("{:6.0f}  {:10.0f}  {:11.0f}  {:9}  {:11}  {:9.1f}\n", seconds_since(start),
                               static_cast<double>(o.rate), static_cast<double>(d - done_at_last) / span, s.available,
                               row[0].get<std::int64_t>(0), row[0].get<double>(1))
                << std::flush;
      std::cout << fmt::format("SAMPLE t={:.0f} completed_per_s={:.0f} dead_tuples={} tables_mb={:.1f}\n",
                               seconds_since(start), static_cast<double>(d - done_at_last) / span,
                               row[0].get<std::int64_t>(0), row[0].get<double>(1));
      done_at_last = d;
      last = Clock::now();
      next_sample += std::chrono::seconds(o.sample);
    }
    std::this_thread::sleep_for(100ms);
  }
  for (auto& w : workers) w->stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"pgstack job queue benchmark (bench/jobs/run drives it)"};
  Options o;
  std::string mode;
  app.add_option("mode", mode, "burndown | latency | sustained | produce | paced")
      ->required()
      ->check(CLI::IsMember({"burndown", "latency", "sustained", "produce", "paced"}));
  app.add_option("--dsn", o.dsn, "Database (superuser: it installs pgstack's schemas); default: a private server");
  app.add_option("--jobs", o.jobs, "Jobs (burndown, latency)");
  app.add_option("--workers", o.workers, "Worker instances (4 connections each)");
  app.add_option("--concurrency", o.concurrency, "Handlers per worker");
  app.add_option("--batch", o.batch, "Jobs per claim");
  app.add_option("--rate", o.rate, "Jobs enqueued per second (sustained: 2000, paced: 100)");
  app.add_option("--seconds", o.seconds, "Length of the run (sustained: 600, produce and paced: 20)");
  app.add_option("--producers", o.producers, "Producer threads, one transaction per job (produce)");
  app.add_option("--sample", o.sample, "Seconds between samples (sustained)");
  CLI11_PARSE(app, argc, argv);
  try {
    auto private_db = pgstack::bench::private_database_unless_given(o.dsn);
    if (mode == "burndown") return burndown(o);
    if (mode == "produce" || mode == "paced") {
      pgstack::bench::jobs::OnePerTransactionOptions one{.dsn = o.dsn, .producers = o.producers,
                                                         .rate = app.count("--rate") ? o.rate : 100,
                                                         .seconds = app.count("--seconds") ? o.seconds : 20};
      return mode == "produce" ? pgstack::bench::jobs::produce(one) : pgstack::bench::jobs::paced(one);
    }
    if (mode == "latency") {
      if (o.jobs > 10000) o.jobs = 200;
      return latency(o);
    }
    return sustained(o);
  } catch (const std::exception& e) {
    std::cerr << "jobs_bench: " << e.what() << "\n";
    return 1;
  }
}
