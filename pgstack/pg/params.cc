#include "pgstack/pg/params.h"

#include <bit>
#include <cstring>
#include <limits>

namespace pgstack::pg {

namespace detail {

void append_be16(std::string& out, std::uint16_t v) {
  const char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(b, 2);
}

void append_be32(std::string& out, std::uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                     static_cast<char>(v)};
  out.append(b, 4);
}

void append_be64(std::string& out, std::uint64_t v) {
  append_be32(out, static_cast<std::uint32_t>(v >> 32));
  append_be32(out, static_cast<std::uint32_t>(v));
}

// PostgreSQL's epoch is 2000-01-01 00:00:00 UTC, 946684800 s after the Unix epoch.
constexpr std::int64_t kPostgresEpochUnixMicros = 946'684'800LL * 1'000'000LL;

std::int64_t to_pg_microseconds(Timestamp t) {
  // Timestamp::max()/min() are what 'infinity'/'-infinity' read as; they go back the same way.
  if (t == Timestamp::max()) return std::numeric_limits<std::int64_t>::max();
  if (t == Timestamp::min()) return std::numeric_limits<std::int64_t>::min();
  // floor, not duration_cast: before 1970 truncation would round toward the epoch, so
  // an instant would land in the microsecond after the one that holds it.
  const auto us = std::chrono::floor<std::chrono::microseconds>(t.time_since_epoch()).count();
  return us - kPostgresEpochUnixMicros;
}

void append_array_header(std::string& out, Oid element, std::size_t count, bool has_null) {
  if (count == 0) {  // an empty array has no dimensions
    append_be32(out, 0);
    append_be32(out, 0);
    append_be32(out, element);
    return;
  }
  append_be32(out, 1);  // one dimension
  append_be32(out, has_null ? 1 : 0);
  append_be32(out, element);
  append_be32(out, static_cast<std::uint32_t>(count));
  append_be32(out, 1);  // lower bound: arrays start at 1
}

}  // namespace detail

void ParamTraits<double>::encode(double v, std::string& out) {
  detail::append_be64(out, std::bit_cast<std::uint64_t>(v));
}

void ParamTraits<float>::encode(float v, std::string& out) {
  detail::append_be32(out, std::bit_cast<std::uint32_t>(v));
}

void Params::add_encoded(Oid type, int format, std::string bytes) {
  types_.push_back(type);
  lengths_.push_back(static_cast<int>(bytes.size()));
  formats_.push_back(format);
  data_.push_back(std::move(bytes));
  null_.push_back(false);
}

void Params::add_null(Oid type) {
  types_.push_back(type);
  lengths_.push_back(0);
  formats_.push_back(0);
  data_.emplace_back();
  null_.push_back(true);
}

void Params::reserve(std::size_t n) {
  types_.reserve(n);
  lengths_.reserve(n);
  formats_.reserve(n);
  data_.reserve(n);
  null_.reserve(n);
}

const char* const* Params::values() const {
  // Rebuilt on every call: adding values (or copying this Params) moves the strings,
  // short ones stored inline included, so earlier pointers may dangle.
  pointers_.resize(data_.size());
  for (std::size_t i = 0; i < data_.size(); ++i) pointers_[i] = null_[i] ? nullptr : data_[i].data();
  return pointers_.data();
}

}  // namespace pgstack::pg
