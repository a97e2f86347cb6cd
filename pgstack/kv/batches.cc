#include "pgstack/kv/batches.h"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <unordered_map>

#include <fmt/format.h>

#include "pgstack/pg/errors.h"
#include "pgstack/pg/params.h"

namespace pgstack::kv::batches {

namespace {

// "select ... kv_lookup($1, array[$2::text, ..., $<n+1>::text])" for n = 1, 2, 4 .. 64.
// Keys travel as scalar parameters, not as one array, and a batch is padded to the next
// power of two: with a fixed number of keys per statement, PostgreSQL's generic plan
// costs what a custom plan would, so the plan cache keeps it and a batch is never
// re-planned. With an array parameter the plan cache keeps choosing a custom plan for
// small batches and plans every call: a batch of 2 keys ran at a fifth of the calls/s
// of a single get.
const std::array<std::string, 7>& lookup_statements() {
  static const std::array<std::string, 7> statements = [] {
    std::array<std::string, 7> out;
    for (std::size_t i = 0, n = 1; i < out.size(); ++i, n *= 2) {
      out[i] = "select key, value from pgstack.kv_lookup($1, array[";
      for (std::size_t k = 0; k < n; ++k) out[i] += fmt::format("{}${}::text", k ? ", " : "", k + 2);
      out[i] += "])";
    }
    return out;
  }();
  return statements;
}

}  // namespace

std::optional<std::int64_t> micros(std::optional<Ttl> ttl) {
  if (!ttl) return std::nullopt;
  return ttl->count();
}

pg::Bytes to_bytes(std::string_view s) {
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  return pg::Bytes(p, p + s.size());
}

std::string from_bytes(const pg::Bytes& b) { return std::string(reinterpret_cast<const char*>(b.data()), b.size()); }

bool set_one(pg::Executor db, const std::string& name_space, std::string_view key, std::string_view value,
             std::optional<Ttl> ttl, const char* mode) {
  return db.query_value<bool>("select pgstack.kv_set($1, $2, $3, $4 * interval '1 microsecond', $5)", name_space,
                                key, to_bytes(value), micros(ttl), mode);
}

bool valid_write(std::string_view key, std::optional<Ttl> ttl) {
  return !key.empty() && key.size() <= 1024 && (!ttl || ttl->count() > 0);
}

std::vector<std::optional<std::string>> get(pg::Executor db, const std::string& name_space,
                                            const std::vector<const std::string*>& keys) {
  if (keys.empty()) return {};
  if (keys.size() > kMaxKeys) throw std::invalid_argument(fmt::format("kv batches: {} keys, at most {}", keys.size(), kMaxKeys));
  std::size_t slot = 0;
  while ((std::size_t{1} << slot) < keys.size()) ++slot;
  const std::size_t width = std::size_t{1} << slot;
  pg::Params params;
  params.reserve(width + 1);
  params.add(name_space);
  for (const auto* key : keys) params.add(*key);
  for (auto i = keys.size(); i < width; ++i) params.add(*keys[0]);  // padding: a key already asked for
  auto rows = db.execute(lookup_statements()[slot], params);
  std::unordered_map<std::string, std::string> found;
  for (auto row : rows) {
    found.emplace(row.get<std::string>(0), from_bytes(row.get<pg::Bytes>(1)));
  }
  std::vector<std::optional<std::string>> out;
  out.reserve(keys.size());
  for (const auto* key : keys) {
    auto it = found.find(*key);
    out.push_back(it == found.end() ? std::nullopt : std::optional<std::string>(it->second));
  }
  return out;
}

namespace {

// "insert into pgstack.kv_entries ... values ($1, $2::text, $3::bytea, now() + $4 ...),
// ... on conflict ... do update" for n rows: kv_mset's upsert, sent as a statement of
// its own. Going through kv_mset's PL/pgSQL (its checks, a second executor) cost a
// quarter of a batch's time; the checks are made here before a call joins a batch
// (valid_write). Each row carries its own ttl, so one statement serves a batch of mixed
// ttls. Built once per width, prepared once per connection (the statement cache); the
// keys are scalar parameters, so the plan cache keeps a generic plan (see lookups).
const std::string& upsert_statement(std::size_t rows) {
  static const std::vector<std::string> statements = [] {
    std::vector<std::string> out(kMaxKeys + 1);
    for (std::size_t n = 1; n <= kMaxKeys; ++n) {
      std::string& sql = out[n];
      sql = "insert into pgstack.kv_entries as e (namespace, key, value, expires_at) values ";
      for (std::size_t r = 0; r < n; ++r)
        sql += fmt::format("{}($1, ${}::text, ${}::bytea, now() + ${}::int8 * interval '1 microsecond')", r ? ", " : "",
                           3 * r + 2, 3 * r + 3, 3 * r + 4);
      sql += " on conflict (namespace, key) do update"
             " set value = excluded.value, expires_at = excluded.expires_at, refresh_at = null";
    }
    return out;
  }();
  return statements.at(rows);
}

}  // namespace

void set(pg::Executor db, const std::string& name_space, const std::vector<const Set*>& sets) {
  if (sets.empty()) return;
  // One row per key, the later call's value for a key set twice (an upsert may not
  // touch a row twice), in key order: every batch locks rows in the same order, so two
  // batches never deadlock. std::string compares bytes, as the keys' collation "C" does.
  std::vector<const Set*> rows;
  rows.reserve(sets.size());
  for (auto it = sets.rbegin(); it != sets.rend(); ++it) rows.push_back(*it);
  std::stable_sort(rows.begin(), rows.end(), [](const Set* a, const Set* b) { return a->key < b->key; });
  rows.erase(std::unique(rows.begin(), rows.end(), [](const Set* a, const Set* b) { return a->key == b->key; }),
             rows.end());
  if (rows.size() > kMaxKeys) throw std::invalid_argument(fmt::format("kv batches: {} keys, at most {}", rows.size(), kMaxKeys));
  pg::Params params;
  params.reserve(3 * rows.size() + 1);
  params.add(name_space);
  for (const auto* row : rows) {
    params.add(row->key);
    params.add(to_bytes(row->value));
    params.add(micros(row->ttl));
  }
  try {
    db.execute(upsert_statement(rows.size()), params);
  } catch (const pg::SqlError& e) {
    // The namespace was dropped after the store checked it: kv's own error says so.
    if (e.sqlstate() == "23514") db.query("select pgstack.kv_require_namespace($1)", name_space);
    throw;
  }
}

}  // namespace pgstack::kv::batches
