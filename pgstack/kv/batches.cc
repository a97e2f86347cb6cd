#include "pgstack/kv/batches.h"

#include <algorithm>
#include <array>
#include <unordered_map>

#include <fmt/format.h>

#include "pgstack/pg/params.h"
#include "pgstack/pg/pipeline.h"

namespace pgstack::kv::batches {

namespace {

// "select ... kv_lookup($1, array[$2::text, ..., $<n+1>::text])" for n = 1, 2, 4 .. 64.
// Keys travel as scalar parameters, not as one array, and a batch is padded to the next
// power of two: with a fixed number of keys per statement, PostgreSQL's generic plan
// costs what a custom plan would, so the plan cache keeps it and a batch is never
// re-planned (with an array parameter it re-plans on every call, which costs about a
// third of a get).
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

bool set_one(pg::Connection& conn, const std::string& name_space, std::string_view key, std::string_view value,
             std::optional<Ttl> ttl, const char* mode) {
  return conn.query_value<bool>("select pgstack.kv_set($1, $2, $3, $4 * interval '1 microsecond', $5)", name_space,
                                key, to_bytes(value), micros(ttl), mode);
}

bool valid_write(std::string_view key, std::optional<Ttl> ttl) {
  return !key.empty() && key.size() <= 1024 && (!ttl || ttl->count() > 0);
}

std::vector<std::optional<std::string>> get(pg::Connection& conn, const std::string& name_space,
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
  auto rows = conn.execute(lookup_statements()[slot], params);
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

void set(pg::Connection& conn, const std::string& name_space, const std::vector<const Set*>& sets) {
  if (sets.empty()) return;
  // kv_mset takes one ttl; it locks rows in key order, so two batches never deadlock.
  std::vector<std::optional<Ttl>> ttls;
  for (const auto* s : sets)
    if (std::find(ttls.begin(), ttls.end(), s->ttl) == ttls.end()) ttls.push_back(s->ttl);
  auto statement_for = [&](const std::optional<Ttl>& ttl, auto&& send) {
    std::vector<std::string> keys;
    std::vector<pg::Bytes> values;
    for (const auto* s : sets) {
      if (s->ttl != ttl) continue;
      keys.push_back(s->key);
      values.push_back(to_bytes(s->value));
    }
    send("select pgstack.kv_mset($1, $2, $3, $4 * interval '1 microsecond')", name_space, keys, values, micros(ttl));
  };
  if (ttls.size() == 1) {  // the common case: one statement, no pipeline needed
    statement_for(ttls[0], [&](const char* sql, const auto&... args) { conn.query(sql, args...); });
    return;
  }
  pg::Pipeline statements(conn);
  for (const auto& ttl : ttls)
    statement_for(ttl, [&](const char* sql, const auto&... args) { statements.add(sql, args...); });
  statements.run();
}

}  // namespace pgstack::kv::batches
