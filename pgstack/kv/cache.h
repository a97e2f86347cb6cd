// Cache-aside with stampede protection, on a kv namespace. On a miss exactly one
// process computes the value (it holds a leased lock, kv_try_lock); the others wait for
// it, or, when a stale value is kept (stale_for), get the stale value at once. Within
// one process, concurrent callers for a key share one computation.
//
//   pgstack::kv::Cache cache{pool, {.name_space = "pages", .stale_for = std::chrono::seconds{30}}};
//   std::string html = cache.get_or_compute("page:/home", std::chrono::seconds{60}, [] { return render_home(); });
//
// Materialized views as a cache are registered in SQL instead:
//   select pgstack.register_materialized_view('daily_sales', interval '5 minutes');
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "pgstack/kv/store.h"

namespace pgstack::kv {

struct CacheOptions {
  std::string name_space = "default";
  bool logged = false;  // for a namespace the cache creates
  // After ttl, a value is kept this much longer and served while one process
  // recomputes it. 0: an expired value is never served.
  Ttl stale_for{0};
  // The computing process holds the lock this long at most. If it dies, another
  // takes over after it; a compute that runs longer may be repeated by another.
  Ttl compute_lease{std::chrono::seconds{30}};
  // How often a waiter looks for the value being computed elsewhere.
  std::chrono::milliseconds wait_poll{10};
};

struct CacheStats {
  std::uint64_t hits = 0;          // fresh value found
  std::uint64_t stale_hits = 0;    // stale value served while another process recomputes
  std::uint64_t computes = 0;      // compute() run here
  std::uint64_t waits = 0;         // waited for a value computed elsewhere
};

class Cache {
 public:
  Cache(pg::Pool& pool, CacheOptions options = {});

  // The cached value, or compute()'s result stored for ttl. If compute throws, the
  // exception reaches this caller and the callers in this process that were waiting
  // for the same key; waiters in other processes take the lock and compute themselves.
  std::string get_or_compute(std::string_view key, Ttl ttl, const std::function<std::string()>& compute);
  void invalidate(std::string_view key);

  CacheStats stats() const;
  Store& store() noexcept { return store_; }

 private:
  std::string fill(const std::string& key, Ttl ttl, const std::function<std::string()>& compute);
  std::string compute_and_store(const std::string& key, Ttl ttl, const std::function<std::string()>& compute,
                                const std::string& owner);

  Store store_;
  CacheOptions options_;
  std::string owner_prefix_;
  std::atomic<std::uint64_t> next_owner_{0};
  std::mutex flights_mutex_;
  std::map<std::string, std::shared_future<std::string>, std::less<>> flights_;  // computations in this process
  std::atomic<std::uint64_t> hits_{0}, stale_hits_{0}, computes_{0}, waits_{0};
};

}  // namespace pgstack::kv
