#include "bench/lookup_load.h"

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "pgstack/pg/pipeline.h"

namespace pgstack::bench {

namespace {

using Clock = std::chrono::steady_clock;

class RandomAid {
 public:
  RandomAid(long long accounts, std::uint64_t seed) : engine_(seed), pick_(1, static_cast<std::int32_t>(accounts)) {}
  std::int32_t operator()() { return pick_(engine_); }

 private:
  std::mt19937_64 engine_;
  std::uniform_int_distribution<std::int32_t> pick_;
};

// A lookup must find exactly its row; reading abalance is the decoding an application does.
std::int64_t balance_of(const pg::Result& r) {
  if (r.rows() != 1) throw Error(fmt::format("a lookup returned {} rows instead of 1", r.rows()));
  return r[0].get<std::int32_t>(0);
}

// One step of a client: does some lookups and says how many.
using Step = std::function<std::int64_t(RandomAid&)>;

// Runs `clients` threads of `step`. Each runs one untimed step first (opening its
// connection, preparing), then all start together and step until time is up. Returns
// lookups per second over the time from the start until the last thread stopped.
double measure(const LookupLoad& load, const Step& step) {
  if (load.accounts < 1) throw Error("no accounts to look up: pgbench_accounts is empty");
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> total{0};
  std::barrier ready(load.clients + 1);
  std::mutex failure_mu;
  std::exception_ptr failure;
  std::vector<std::thread> threads;
  for (int i = 0; i < load.clients; ++i) {
    threads.emplace_back([&, i] {
      RandomAid aid(load.accounts, 0x9e3779b97f4a7c15ULL * (i + 1));
      std::int64_t done = 0;
      bool arrived = false;
      try {
        step(aid);
        ready.arrive_and_wait();
        arrived = true;
        while (!stop.load(std::memory_order_relaxed)) done += step(aid);
      } catch (...) {
        std::lock_guard lock(failure_mu);
        if (!failure) failure = std::current_exception();
        stop = true;
      }
      if (!arrived) ready.arrive_and_drop();  // the others must not wait for us
      total += done;
    });
  }
  ready.arrive_and_wait();
  const auto start = Clock::now();
  // Sleep in short steps so a failing client ends the run early.
  while (!stop && Clock::now() - start < std::chrono::seconds(load.seconds))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  stop = true;
  for (auto& t : threads) t.join();
  const std::chrono::duration<double> elapsed = Clock::now() - start;
  if (failure) std::rethrow_exception(failure);
  return static_cast<double>(total) / elapsed.count();
}

}  // namespace

double run_lookups_one_at_a_time(pg::Pool& pool, const LookupLoad& load) {
  std::atomic<std::int64_t> sink{0};  // where the decoded balances go, so decoding is not optimised away
  const double rate = measure(load, [&](RandomAid& aid) -> std::int64_t {
    sink.fetch_add(balance_of(pool.query(kLookupSql, aid())), std::memory_order_relaxed);
    return 1;
  });
  return rate;
}

double run_lookups_pipelined(pg::Pool& pool, const LookupLoad& load) {
  std::atomic<std::int64_t> sink{0};
  const double rate = measure(load, [&](RandomAid& aid) -> std::int64_t {
    auto conn = pool.acquire();
    pg::Pipeline pipeline(*conn);
    for (int i = 0; i < load.batch; ++i) pipeline.add(kLookupSql, aid());
    std::int64_t sum = 0;
    for (const auto& r : pipeline.run()) sum += balance_of(r);
    sink.fetch_add(sum, std::memory_order_relaxed);
    return load.batch;
  });
  return rate;
}

}  // namespace pgstack::bench
