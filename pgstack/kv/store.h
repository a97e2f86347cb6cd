// Keys and values in PostgreSQL instead of Redis: get, set, mget, mset, delete, incr,
// compare-and-set, expire and ttl on a namespace (an unlogged partition unless created
// logged). Calls are statements on connections borrowed from the pool, on the tables of
// the SQL API in schema pgstack (docs/kv.md), so other languages see the same keys;
// concurrent get() and set() calls share statements (see below).
//
//   pgstack::kv::Store kv{pool};                                   // namespace "default"
//   kv.set("greeting", "hello", std::chrono::minutes{5});
//   auto hits = kv.incr("hits:2026-11-30");                         // exact under concurrency
//   if (auto v = kv.get("greeting")) std::cout << *v;
//
//   pgstack::pg::Transaction tx(conn);                             // with the order, or not at all
//   pgstack::kv::Store{tx}.set("order:42:status", "paid");
//   tx.commit();
//
// An expired key is gone at once for every call; its row is removed later by the
// kv_sweep maintenance task (run by pgstack::schema::Housekeeper or `pgstack maintain`).
//
// A Store is meant to be shared by every thread of a process: concurrent get() and
// set() calls are coalesced into one statement for many callers (StoreOptions::
// coalesce_in_flight), which is what lets a few connections serve many threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "pgstack/pg/executor.h"

namespace pgstack::kv {

// Lifetimes travel with microsecond precision, as PostgreSQL's interval keeps them.
using Ttl = std::chrono::microseconds;

enum class SetMode {
  always,      // SET
  if_absent,   // SET NX: an expired key counts as absent
  if_present,  // SET XX
};

struct StoreOptions {
  std::string name_space = "default";
  // Creates the namespace when it is missing, logged (WAL, replicated, survives a
  // crash) or not. An existing namespace of the other kind is an error.
  bool create = true;
  bool logged = false;
  // Concurrent get() calls, and concurrent set() calls with SetMode::always, are
  // coalesced (kv/coalescer.h): while this many statements of a kind are running,
  // further calls queue, and the next statement carries all of them (up to 64 keys).
  // A lone call runs at once, as its own statement. 0: every call is its own statement.
  std::size_t coalesce_in_flight = 2;
};

struct KeyTtl {
  bool exists = false;
  std::optional<Ttl> remaining;  // nullopt: the key never expires (or does not exist)
};

class Store {
 public:
  // On a pool, shared by every thread (calls are coalesced), or inside the caller's
  // connection or transaction (pg/executor.h): then each call is a statement of that
  // transaction, committed or rolled back with the caller's own rows, never coalesced.
  explicit Store(pg::Executor db, StoreOptions options = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& name_space() const noexcept { return options_.name_space; }

  std::optional<std::string> get(std::string_view key);
  // The value parsed as JSON; throws pgstack::UsageError when it is not JSON.
  std::optional<nlohmann::json> get_json(std::string_view key);
  // Values in the order of keys; nullopt for absent and expired keys. One statement.
  std::vector<std::optional<std::string>> mget(const std::vector<std::string>& keys);
  bool exists(std::string_view key);
  KeyTtl ttl(std::string_view key);

  // Returns whether it wrote (always true for SetMode::always). No ttl: never expires.
  bool set(std::string_view key, std::string_view value, std::optional<Ttl> ttl = std::nullopt,
           SetMode mode = SetMode::always);
  bool set_json(std::string_view key, const nlohmann::json& value, std::optional<Ttl> ttl = std::nullopt,
                SetMode mode = SetMode::always);
  // All in one statement, with one ttl; a key given twice takes its last value.
  std::int64_t mset(const std::vector<std::pair<std::string, std::string>>& entries,
                    std::optional<Ttl> ttl = std::nullopt);
  // Returns whether the key was live.
  bool remove(std::string_view key);
  // Returns how many of the keys were live.
  std::int64_t remove(const std::vector<std::string>& keys);
  // Adds by and returns the new value. A missing key starts at 0 and gets ttl; an
  // existing key keeps its expiry (a counter made with a ttl is a fixed window).
  std::int64_t incr(std::string_view key, std::int64_t by = 1, std::optional<Ttl> ttl = std::nullopt);
  // Sets desired only if the key holds expected now (nullopt: only if it is absent).
  bool compare_and_set(std::string_view key, std::optional<std::string_view> expected, std::string_view desired,
                       std::optional<Ttl> ttl = std::nullopt);
  // Sets a live key's expiry (nullopt: never). Returns whether the key exists.
  bool expire(std::string_view key, std::optional<Ttl> ttl);

  // A lock with a lease: taken unless another owner holds it; the same owner extends it.
  bool try_lock(std::string_view key, std::string_view owner, Ttl lease);
  bool unlock(std::string_view key, std::string_view owner);

  // Deletes every key of the namespace (TRUNCATE).
  void flush();

  // The cache's view of a key (kv::Cache): fresh until fresh_for, then stale (still
  // returned, with stale set) for stale_for more.
  struct Cached {
    std::string value;
    bool stale = false;
  };
  std::optional<Cached> get_cached(std::string_view key);
  void put_cached(std::string_view key, std::string_view value, Ttl fresh_for, Ttl stale_for);


 private:
  std::optional<std::string> get_alone(std::string_view key);
  bool set_alone(std::string_view key, std::string_view value, std::optional<Ttl> ttl, SetMode mode);

  pg::Executor db_;
  StoreOptions options_;
  struct Coalescing;  // store.cc
  std::unique_ptr<Coalescing> coalescing_;
};

const char* to_string(SetMode mode) noexcept;

}  // namespace pgstack::kv
