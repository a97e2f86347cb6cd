#include "pgstack/kv/cache.h"

#include <fmt/format.h>
#include <unistd.h>

#include <random>
#include <thread>

namespace pgstack::kv {

Cache::Cache(pg::Pool& pool, CacheOptions options)
    : store_(pool, StoreOptions{.name_space = options.name_space, .create = true, .logged = options.logged}),
      options_(std::move(options)) {
  // Lock owners must differ between processes and between calls of one process.
  std::random_device random;
  owner_prefix_ = fmt::format("{}:{:08x}{:08x}:", ::getpid(), random(), random());
}

CacheStats Cache::stats() const {
  return {.hits = hits_.load(), .stale_hits = stale_hits_.load(), .computes = computes_.load(), .waits = waits_.load()};
}

void Cache::invalidate(std::string_view key) { store_.remove(key); }

std::string Cache::get_or_compute(std::string_view key, Ttl ttl, const std::function<std::string()>& compute) {
  auto cached = store_.get_cached(key);
  if (cached && !cached->stale) {
    ++hits_;
    return std::move(cached->value);
  }

  // One computation per key in this process: the first caller leads, the rest share
  // its result (or get the stale value at once).
  std::promise<std::string> promise;
  std::shared_future<std::string> flight;
  bool leader = false;
  {
    std::lock_guard lock(flights_mutex_);
    auto it = flights_.find(key);
    if (it != flights_.end()) {
      flight = it->second;
    } else {
      leader = true;
      flight = promise.get_future().share();
      flights_.emplace(std::string(key), flight);
    }
  }
  if (!leader) {
    if (cached) {
      ++stale_hits_;
      return std::move(cached->value);
    }
    return flight.get();
  }

  const std::string k(key);
  auto land = [&] {
    std::lock_guard lock(flights_mutex_);
    flights_.erase(k);
  };
  try {
    std::string value;
    if (cached) {
      // Stale: refresh it if no other process is doing so, else serve it as it is.
      const std::string owner = owner_prefix_ + std::to_string(next_owner_++);
      if (store_.try_lock(k, owner, options_.compute_lease)) {
        value = compute_and_store(k, ttl, compute, owner);
      } else {
        ++stale_hits_;
        value = std::move(cached->value);
      }
    } else {
      value = fill(k, ttl, compute);
    }
    promise.set_value(value);
    land();
    return value;
  } catch (...) {
    promise.set_exception(std::current_exception());
    land();
    throw;
  }
}

// A miss: compute under the lock, or wait for whoever holds it. A holder that dies
// loses the lock when its lease runs out; one that fails releases it, and a waiter
// takes over.
std::string Cache::fill(const std::string& key, Ttl ttl, const std::function<std::string()>& compute) {
  bool counted_wait = false;
  while (true) {
    const std::string owner = owner_prefix_ + std::to_string(next_owner_++);
    if (store_.try_lock(key, owner, options_.compute_lease)) {
      // Whoever held the lock before may have stored the value just now.
      if (auto cached = store_.get_cached(key); cached && !cached->stale) {
        store_.unlock(key, owner);
        return std::move(cached->value);
      }
      return compute_and_store(key, ttl, compute, owner);
    }
    if (!counted_wait) {
      ++waits_;
      counted_wait = true;
    }
    std::this_thread::sleep_for(options_.wait_poll);
    if (auto cached = store_.get_cached(key)) return std::move(cached->value);
  }
}

std::string Cache::compute_and_store(const std::string& key, Ttl ttl, const std::function<std::string()>& compute,
                                     const std::string& owner) {
  ++computes_;
  // Released on every way out (a failed compute, a failed store); if even the unlock
  // fails, the lease runs out by itself, and the first error is the one reported.
  struct Release {
    Store& store;
    const std::string& key;
    const std::string& owner;
    ~Release() {
      try {
        store.unlock(key, owner);
      } catch (...) {
      }
    }
  } release{store_, key, owner};
  std::string value = compute();
  store_.put_cached(key, value, ttl, options_.stale_for);
  return value;
}

}  // namespace pgstack::kv
