// pgstack's side of the Redis comparison (bench/ephemeral/run puts it beside
// redis-benchmark): KV get, set and mget through kv::Store (one blocking thread per
// client) or kv::AsyncStore (--async: redis-benchmark's own model, --clients calls
// outstanding, each issued from the last one's callback, no thread per client),
// rate-limit decisions through ratelimit::Limiter, and flag evaluations from
// FlagClient's in-process snapshot. Prints one `RESULT name=value` line per figure.
//
//   ephemeral_bench populate --dsn URL --keys 100000
//   ephemeral_bench kv --dsn URL --op get --clients 8 --seconds 10 [--async]
//   ephemeral_bench flags --dsn URL --seconds 5
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <iostream>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "pgstack/flags/flag_client.h"
#include "pgstack/kv/async_store.h"
#include "pgstack/kv/store.h"
#include "pgstack/pg/pool.h"
#include "pgstack/ratelimit/limiter.h"
#include "bench/private_database.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string dsn;
  std::string op = "get";
  int clients = 8;
  double seconds = 10;
  int keys = 100000;
  int value_size = 3;  // redis-benchmark's default -d
  int batch = 100;     // mget: keys per call
  // Server connections the client threads share (a pool, as an application has): more
  // backends than this on two cores only add context switches.
  int connections = 8;
  int coalesce = 2;  // StoreOptions::coalesce_in_flight
  bool async = false;     // kv through AsyncStore, redis-benchmark's event-loop model
  int async_threads = 2;  // AsyncStoreOptions::threads
};

std::size_t pool_size(const Options& o) { return static_cast<std::size_t>(std::min(o.clients, o.connections)); }

std::string key_of(int i) { return fmt::format("key:{:012d}", i); }  // redis-benchmark's key:__rand_int__ shape

// Operations per second and the 99th percentile latency (ms) of everything timed.
std::pair<double, double> rate_and_p99(const std::vector<std::vector<float>>& latencies, double elapsed) {
  std::vector<float> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  if (all.empty()) return {0, 0};
  auto p99 = all.begin() + static_cast<std::ptrdiff_t>(all.size() * 99 / 100);
  std::nth_element(all.begin(), p99, all.end());
  return {static_cast<double>(all.size()) / elapsed, *p99};
}

// Runs op on `clients` threads for `seconds` after a warm-up; each op is timed.
// Returns operations per second and the 99th percentile latency in ms.
template <class MakeOp>
std::pair<double, double> drive(const Options& o, MakeOp make_op) {
  std::atomic<bool> go{false}, stop{false};
  std::vector<std::vector<float>> latencies(static_cast<std::size_t>(o.clients));
  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  for (int t = 0; t < o.clients; ++t)
    threads.emplace_back([&, t] {
      auto op = make_op(t);
      std::mt19937 random(static_cast<unsigned>(t) * 7919u + 1u);
      for (int i = 0; i < 50; ++i) op(random);  // connection opened, statements prepared
      ++ready;
      while (!go) std::this_thread::yield();
      auto& mine = latencies[static_cast<std::size_t>(t)];
      mine.reserve(1 << 20);
      while (!stop) {
        auto started = Clock::now();
        op(random);
        mine.push_back(std::chrono::duration<float, std::milli>(Clock::now() - started).count());
      }
    });
  while (ready < o.clients) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto started = Clock::now();
  go = true;
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
  stop = true;
  auto elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  for (auto& t : threads) t.join();
  return rate_and_p99(latencies, elapsed);
}

// The event-loop model redis-benchmark uses: `clients` chains of calls, each with one
// call outstanding, all issued from callbacks (kv::AsyncStore's threads), none blocking
// a thread of its own. issue(key, done) starts one call; done() must be called once.
template <class Issue>
std::pair<double, double> drive_async(const Options& o, Issue issue) {
  struct Chain {
    std::mt19937 random;
    std::vector<float> latencies;
    Clock::time_point started;
  };
  std::uniform_int_distribution<int> pick(0, o.keys - 1);
  std::vector<Chain> chains(static_cast<std::size_t>(o.clients));
  std::atomic<bool> measuring{false}, stop{false};
  std::atomic<int> running{o.clients};
  std::mutex m;
  std::condition_variable all_stopped;
  std::function<void(Chain&)> next = [&](Chain& c) {
    c.started = Clock::now();
    issue(key_of(pick(c.random)), [&, &c = c] {
      if (measuring) c.latencies.push_back(std::chrono::duration<float, std::milli>(Clock::now() - c.started).count());
      if (!stop) return next(c);
      std::lock_guard lock(m);
      if (--running == 0) all_stopped.notify_all();
    });
  };
  for (std::size_t i = 0; i < chains.size(); ++i) {
    chains[i].random.seed(static_cast<unsigned>(i) * 7919u + 1u);
    chains[i].latencies.reserve(1 << 20);
    next(chains[i]);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // warm-up: connections, prepared statements
  measuring = true;
  auto started = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
  stop = true;
  auto elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  {
    std::unique_lock lock(m);
    all_stopped.wait(lock, [&] { return running == 0; });
  }
  std::vector<std::vector<float>> latencies;
  for (auto& c : chains) latencies.push_back(std::move(c.latencies));
  return rate_and_p99(latencies, elapsed);
}

void run_async(const Options& o) {
  pgstack::pg::Pool pool({.primary = o.dsn, .max_size = pool_size(o)});
  pgstack::kv::AsyncStore kv(pool, {.threads = static_cast<std::size_t>(o.async_threads)});
  const std::string value(static_cast<std::size_t>(o.value_size), 'x');
  // A failed call still ends its turn (the run must finish); the run then fails.
  std::atomic<int> failed{0};
  std::mutex first_error_mutex;
  std::string first_error;
  auto note = [&](std::exception_ptr e) {
    if (!e) return;
    if (failed++ > 0) return;
    std::lock_guard lock(first_error_mutex);
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      first_error = x.what();
    }
  };
  std::pair<double, double> r;
  if (o.op == "get") {
    r = drive_async(o, [&](std::string key, auto done) {
      kv.get(std::move(key), [done, &note](std::optional<std::string>, std::exception_ptr e) { note(e); done(); });
    });
  } else if (o.op == "set") {
    r = drive_async(o, [&](std::string key, auto done) {
      kv.set(std::move(key), value, std::nullopt, [done, &note](std::exception_ptr e) { note(e); done(); });
    });
  } else {
    throw std::invalid_argument("--async: --op is get or set");
  }
  if (failed > 0) throw std::runtime_error(fmt::format("{} calls failed; the first: {}", failed.load(), first_error));
  std::cout << fmt::format("RESULT ops={:.0f}\nRESULT p99_ms={:.3f}\n", r.first, r.second);
}

void populate(const Options& o) {
  pgstack::pg::Pool pool({.primary = o.dsn, .max_size = 1});
  pgstack::kv::Store kv(pool);
  kv.flush();
  const std::string value(static_cast<std::size_t>(o.value_size), 'x');
  std::vector<std::pair<std::string, std::string>> batch;
  for (int i = 0; i < o.keys; ++i) {
    batch.emplace_back(key_of(i), value);
    if (batch.size() == 10000 || i + 1 == o.keys) {
      kv.mset(batch);
      batch.clear();
    }
  }
  pool.query("vacuum analyze pgstack.kv_ns_default");
  std::cout << fmt::format("RESULT populated={}\n", o.keys);
}

void run_kv(const Options& o) {
  if (o.async) return run_async(o);
  pgstack::pg::Pool pool({.primary = o.dsn, .max_size = pool_size(o)});
  pgstack::kv::Store kv(pool, {.create = false, .coalesce_in_flight = static_cast<std::size_t>(o.coalesce)});
  const std::string value(static_cast<std::size_t>(o.value_size), 'x');
  std::uniform_int_distribution<int> pick(0, o.keys - 1);
  std::pair<double, double> r;
  if (o.op == "ping") {  // the floor: any statement's round trip through the pool
    r = drive(o, [&](int) { return [&](std::mt19937&) { pool.query("select 1"); }; });
  } else if (o.op == "get") {
    r = drive(o, [&](int) { return [&, pick](std::mt19937& g) mutable { kv.get(key_of(pick(g))); }; });
  } else if (o.op == "set") {
    r = drive(o, [&](int) { return [&, pick](std::mt19937& g) mutable { kv.set(key_of(pick(g)), value); }; });
  } else if (o.op == "mget") {
    r = drive(o, [&](int) {
      return [&, pick, keys = std::vector<std::string>(static_cast<std::size_t>(o.batch))](std::mt19937& g) mutable {
        for (auto& k : keys) k = key_of(pick(g));
        kv.mget(keys);
      };
    });
    r.first *= o.batch;  // keys per second
  } else {
    throw std::invalid_argument("--op is ping, get, set or mget");
  }
  std::cout << fmt::format("RESULT ops={:.0f}\nRESULT p99_ms={:.3f}\n", r.first, r.second);
}

void run_ratelimit(const Options& o) {
  pgstack::pg::Pool pool({.primary = o.dsn, .max_size = pool_size(o)});
  pgstack::ratelimit::Limiter limiter(pool);
  std::uniform_int_distribution<int> pick(0, o.keys - 1);
  const pgstack::ratelimit::Limit limit{.rate = 100, .per = std::chrono::seconds(1)};
  auto r = drive(o, [&](int) {
    return [&, pick](std::mt19937& g) mutable { limiter.allow(fmt::format("ip:{}", pick(g)), limit); };
  });
  std::cout << fmt::format("RESULT ops={:.0f}\nRESULT p99_ms={:.3f}\n", r.first, r.second);
}

// One thread, as the target says: evaluations of a flag with a constraint and a 30%
// rollout, from the client's in-process snapshot, for rotating subjects.
void run_flags(const Options& o) {
  pgstack::pg::Connection conn(o.dsn);
  conn.query("select pgstack.flag_delete('bench.checkout')");
  conn.query("select pgstack.flag_create('bench.checkout')");
  conn.query(
      "select pgstack.flag_set('bench.checkout', 'production', '{\"enabled\": true, \"rules\": ["
      "{\"when\": [{\"attribute\": \"country\", \"op\": \"in\", \"values\": [\"DE\", \"FR\", \"NL\"]}], \"serve\": true, "
      "\"percentage\": 30}], \"default\": false}')");
  pgstack::flags::FlagClient flags({.dsn = o.dsn});
  std::vector<pgstack::flags::Context> subjects;
  for (int i = 0; i < 1024; ++i)
    subjects.push_back({.subject = fmt::format("user-{}", i), .attributes = {{"country", i % 2 ? "DE" : "US"}}});
  std::uint64_t evaluations = 0, on = 0;
  auto started = Clock::now();
  const auto until = started + std::chrono::duration<double>(o.seconds);
  while (Clock::now() < until) {
    for (int i = 0; i < 1024; ++i) on += flags.is_enabled("bench.checkout", subjects[static_cast<std::size_t>(i)]);
    evaluations += 1024;
  }
  auto elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  std::cout << fmt::format("RESULT evaluations={:.0f}\nRESULT share_on={:.3f}\n", evaluations / elapsed,
                           static_cast<double>(on) / static_cast<double>(evaluations));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"pgstack's side of the Redis comparison (bench/ephemeral/run)"};
  app.require_subcommand(1);
  Options o;
  std::string mode;
  auto common = [&](CLI::App* cmd) {
    cmd->add_option("--dsn", o.dsn, "Database with pgstack installed (default: a private server, for smoke tests)");
    cmd->add_option("--clients", o.clients, "Threads, one connection each")->capture_default_str();
    cmd->add_option("--seconds", o.seconds, "Measured time")->capture_default_str();
    cmd->add_option("--keys", o.keys, "Key space")->capture_default_str();
    cmd->add_option("--connections", o.connections, "Server connections the threads share")->capture_default_str();
    cmd->callback([&mode, cmd] { mode = cmd->get_name(); });
  };
  auto* pop = app.add_subcommand("populate", "Write --keys keys into the default namespace");
  common(pop);
  pop->add_option("--value-size", o.value_size)->capture_default_str();
  auto* kv = app.add_subcommand("kv", "get, set or mget throughput and p99");
  common(kv);
  kv->add_option("--op", o.op, "ping (select 1), get, set or mget")->capture_default_str();
  kv->add_option("--value-size", o.value_size)->capture_default_str();
  kv->add_option("--batch", o.batch, "mget: keys per call")->capture_default_str();
  kv->add_option("--coalesce", o.coalesce, "get and set: statements in flight before calls are coalesced (0: off)")
      ->capture_default_str();
  kv->add_flag("--async", o.async, "get and set through kv::AsyncStore: one thread, --clients calls outstanding");
  kv->add_option("--async-threads", o.async_threads, "AsyncStore's threads")->capture_default_str();
  auto* rl = app.add_subcommand("ratelimit", "Rate-limit decisions per second and p99");
  common(rl);
  auto* fl = app.add_subcommand("flags", "In-process flag evaluations per second, one thread");
  common(fl);
  CLI11_PARSE(app, argc, argv);
  try {
    auto private_db = pgstack::bench::private_database_unless_given(o.dsn);
    if (private_db && mode == "kv") populate(o);  // a private database starts empty
    if (mode == "populate") populate(o);
    else if (mode == "kv") run_kv(o);
    else if (mode == "ratelimit") run_ratelimit(o);
    else run_flags(o);
  } catch (const std::exception& e) {
    std::cerr << "ephemeral_bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
