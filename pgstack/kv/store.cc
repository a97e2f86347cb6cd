#include "pgstack/kv/store.h"

#include <fmt/format.h>

#include "pgstack/kv/batches.h"
#include "pgstack/base/coalescer.h"
#include "pgstack/pg/errors.h"
#include "pgstack/pg/json_text.h"

namespace pgstack::kv {

using batches::from_bytes;
using batches::micros;
using batches::to_bytes;

struct Store::Coalescing {
  explicit Coalescing(std::size_t in_flight)
      : gets({.max_in_flight = in_flight, .max_batch = batches::kMaxKeys}),
        sets({.max_in_flight = in_flight, .max_batch = batches::kMaxKeys}) {}
  Coalescer<std::string, std::optional<std::string>> gets;
  Coalescer<batches::Set, bool> sets;
};

const char* to_string(SetMode mode) noexcept {
  switch (mode) {
    case SetMode::always: return "always";
    case SetMode::if_absent: return "if_absent";
    case SetMode::if_present: return "if_present";
  }
  return "always";
}

Store::~Store() = default;

Store::Store(pg::Executor db, StoreOptions options) : db_(db), options_(std::move(options)) {
  // Only a pool's calls are coalesced: a statement of the caller's transaction cannot
  // carry other threads' calls.
  if (db_.on_pool() && options_.coalesce_in_flight > 0) coalescing_ = std::make_unique<Coalescing>(options_.coalesce_in_flight);
  if (options_.create)
    db_.query("select pgstack.kv_create_namespace($1, $2)", options_.name_space, options_.logged);
  else
    db_.query("select pgstack.kv_require_namespace($1)", options_.name_space);
}

std::optional<std::string> Store::get(std::string_view key) {
  if (!coalescing_) return get_alone(key);
  using Batch = decltype(coalescing_->gets)::Batch;
  return coalescing_->gets.submit(std::string(key), [this](Batch batch) {
    std::vector<const std::string*> keys;
    keys.reserve(batch.size());
    for (auto* call : batch) keys.push_back(&call->request);
    auto values = batches::get(db_, options_.name_space, keys);
    for (std::size_t i = 0; i < batch.size(); ++i) batch[i]->reply = std::move(values[i]);
  });
}

std::optional<std::string> Store::get_alone(std::string_view key) {
  // The batch statement for one key: kv_lookup inlined into a single index probe.
  const std::string k(key);
  return std::move(batches::get(db_, options_.name_space, {&k})[0]);
}

std::optional<nlohmann::json> Store::get_json(std::string_view key) {
  auto value = get(key);
  if (!value) return std::nullopt;
  try {
    return pg::parse_json(*value, fmt::format("kv: the value of key '{}' in namespace {}", key, options_.name_space));
  } catch (const pg::UsageError& e) {
    throw pg::UsageError(fmt::format("{}; read it with get()", e.what()));
  }
}

std::vector<std::optional<std::string>> Store::mget(const std::vector<std::string>& keys) {
  std::vector<std::optional<std::string>> out;
  if (keys.empty()) return out;
  out.reserve(keys.size());
  auto r = db_.query("select value from pgstack.kv_mget($1, $2)", options_.name_space, keys);
  for (auto row : r) {
    auto v = row.get<std::optional<pg::Bytes>>(0);
    out.push_back(v ? std::optional<std::string>(from_bytes(*v)) : std::nullopt);
  }
  return out;
}

bool Store::exists(std::string_view key) {
  return db_.query("select 1 from pgstack.kv_lookup($1, array[$2::text])", options_.name_space, key).rows() > 0;
}

KeyTtl Store::ttl(std::string_view key) {
  auto r = db_.query(
      "select (extract(epoch from expires_at - now()) * 1000000)::int8 from pgstack.kv_lookup($1, array[$2::text])",
      options_.name_space, key);
  if (r.empty()) return {};
  auto us = r[0].get<std::optional<std::int64_t>>(0);
  KeyTtl out{.exists = true};
  if (us) out.remaining = Ttl(*us);
  return out;
}

bool Store::set(std::string_view key, std::string_view value, std::optional<Ttl> ttl, SetMode mode) {
  if (!coalescing_ || mode != SetMode::always || !batches::valid_write(key, ttl))
    return set_alone(key, value, ttl, mode);
  using Batch = decltype(coalescing_->sets)::Batch;
  return coalescing_->sets.submit(batches::Set{std::string(key), std::string(value), ttl}, [this](Batch batch) {
    std::vector<const batches::Set*> sets;
    sets.reserve(batch.size());
    for (auto* call : batch) sets.push_back(&call->request);
    batches::set(db_, options_.name_space, sets);
    for (auto* call : batch) call->reply = true;
  });
}

bool Store::set_alone(std::string_view key, std::string_view value, std::optional<Ttl> ttl, SetMode mode) {
  return batches::set_one(db_, options_.name_space, key, value, ttl, to_string(mode));
}

bool Store::set_json(std::string_view key, const nlohmann::json& value, std::optional<Ttl> ttl, SetMode mode) {
  return set(key, value.dump(), ttl, mode);
}

std::int64_t Store::mset(const std::vector<std::pair<std::string, std::string>>& entries, std::optional<Ttl> ttl) {
  if (entries.empty()) return 0;
  std::vector<std::string> keys;
  std::vector<pg::Bytes> values;
  keys.reserve(entries.size());
  values.reserve(entries.size());
  for (const auto& [k, v] : entries) {
    keys.push_back(k);
    values.push_back(to_bytes(v));
  }
  return db_.query_value<std::int64_t>("select pgstack.kv_mset($1, $2, $3, $4 * interval '1 microsecond')",
                                         options_.name_space, keys, values, micros(ttl));
}

bool Store::remove(std::string_view key) { return remove(std::vector<std::string>{std::string(key)}) > 0; }

std::int64_t Store::remove(const std::vector<std::string>& keys) {
  if (keys.empty()) return 0;
  return db_.query_value<std::int64_t>("select pgstack.kv_delete($1, $2::text[])", options_.name_space, keys);
}

std::int64_t Store::incr(std::string_view key, std::int64_t by, std::optional<Ttl> ttl) {
  return db_.query_value<std::int64_t>("select pgstack.kv_incr($1, $2, $3, $4 * interval '1 microsecond')",
                                         options_.name_space, key, by, micros(ttl));
}

bool Store::compare_and_set(std::string_view key, std::optional<std::string_view> expected, std::string_view desired,
                            std::optional<Ttl> ttl) {
  std::optional<pg::Bytes> expected_bytes;
  if (expected) expected_bytes = to_bytes(*expected);
  return db_.query_value<bool>(
      "select pgstack.kv_compare_and_set($1, $2, $3, $4, $5 * interval '1 microsecond')", options_.name_space, key,
      expected_bytes, to_bytes(desired), micros(ttl));
}

bool Store::expire(std::string_view key, std::optional<Ttl> ttl) {
  return db_.query_value<bool>("select pgstack.kv_expire($1, $2, $3 * interval '1 microsecond')",
                                 options_.name_space, key, micros(ttl));
}

bool Store::try_lock(std::string_view key, std::string_view owner, Ttl lease) {
  return db_.query_value<bool>("select pgstack.kv_try_lock($1, $2, $3, $4 * interval '1 microsecond')",
                                 options_.name_space, key, owner, lease.count());
}

bool Store::unlock(std::string_view key, std::string_view owner) {
  return db_.query_value<bool>("select pgstack.kv_unlock($1, $2, $3)", options_.name_space, key, owner);
}

std::optional<Store::Cached> Store::get_cached(std::string_view key) {
  auto r = db_.query(
      "select value, coalesce(refresh_at <= now(), false) from pgstack.kv_lookup($1, array[$2::text])",
      options_.name_space, key);
  if (r.empty()) return std::nullopt;
  return Cached{from_bytes(r[0].get<pg::Bytes>(0)), r[0].get<bool>(1)};
}

void Store::put_cached(std::string_view key, std::string_view value, Ttl fresh_for, Ttl stale_for) {
  db_.query("select pgstack.kv_cache_put($1, $2, $3, $4 * interval '1 microsecond', $5 * interval '1 microsecond')",
              options_.name_space, key, to_bytes(value), fresh_for.count(), stale_for.count());
}

void Store::flush() { db_.query("select pgstack.kv_flush($1)", options_.name_space); }

}  // namespace pgstack::kv
