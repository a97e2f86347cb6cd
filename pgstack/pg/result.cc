#include "pgstack/pg/result.h"

#include <libpq-fe.h>

#include <bit>
#include <charconv>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "pgstack/pg/json_text.h"

namespace pgstack::pg {

namespace {

std::uint16_t be16(const char* p) {
  return static_cast<std::uint16_t>((static_cast<std::uint8_t>(p[0]) << 8) | static_cast<std::uint8_t>(p[1]));
}
std::uint32_t be32(const char* p) {
  return (static_cast<std::uint32_t>(be16(p)) << 16) | be16(p + 2);
}
std::uint64_t be64(const char* p) {
  return (static_cast<std::uint64_t>(be32(p)) << 32) | be32(p + 4);
}

const char* type_name(Oid type) {
  switch (type) {
    case oid::kBool: return "boolean";
    case oid::kBytea: return "bytea";
    case oid::kName: return "name";
    case oid::kInt8: return "bigint";
    case oid::kInt2: return "smallint";
    case oid::kInt4: return "integer";
    case oid::kText: return "text";
    case oid::kOid: return "oid";
    case oid::kJson: return "json";
    case oid::kFloat4: return "real";
    case oid::kFloat8: return "double precision";
    case oid::kVarchar: return "varchar";
    case oid::kBpchar: return "char";
    case oid::kDate: return "date";
    case oid::kTimestamp: return "timestamp";
    case oid::kTimestamptz: return "timestamptz";
    case oid::kInterval: return "interval";
    case oid::kNumeric: return "numeric";
    case oid::kUuid: return "uuid";
    case oid::kJsonb: return "jsonb";
    default: return nullptr;
  }
}

[[noreturn]] void wrong_type(const FieldView& f, std::string_view cpp_type, std::string_view advice = {}) {
  const char* name = type_name(f.type);
  throw UsageError(fmt::format("column \"{}\" is of type {} and cannot be read as {}{}{}", f.column,
                               name ? std::string(name) : fmt::format("OID {}", f.type), cpp_type,
                               advice.empty() ? "" : "; ", advice));
}

void expect_length(const FieldView& f, int length, std::string_view cpp_type) {
  if (f.length != length)
    throw UsageError(fmt::format("column \"{}\": {} bytes where {} expects {}", f.column, f.length, cpp_type, length));
}

std::int64_t read_integer(const FieldView& f, std::string_view cpp_type) {
  switch (f.type) {
    case oid::kInt2:
      expect_length(f, 2, cpp_type);
      return static_cast<std::int16_t>(be16(f.data));
    case oid::kInt4:
      expect_length(f, 4, cpp_type);
      return static_cast<std::int32_t>(be32(f.data));
    case oid::kOid:
      expect_length(f, 4, cpp_type);
      return be32(f.data);
    case oid::kInt8:
      expect_length(f, 8, cpp_type);
      return static_cast<std::int64_t>(be64(f.data));
    default:
      wrong_type(f, cpp_type, "cast it in SQL (::bigint) or read it as the matching C++ type");
  }
}

template <class T>
T narrow_integer(const FieldView& f, const char* cpp_type) {
  const std::int64_t v = read_integer(f, cpp_type);
  if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max())
    throw UsageError(fmt::format("column \"{}\": value {} does not fit in {}; read it as std::int64_t", f.column, v,
                                 cpp_type));
  return static_cast<T>(v);
}

// numeric's binary form (numeric_send): ndigits, weight, sign, dscale, then base-10000 digits.
std::string numeric_to_string(const FieldView& f) {
  if (f.length < 8) throw UsageError(fmt::format("column \"{}\": truncated numeric value", f.column));
  const int ndigits = static_cast<std::int16_t>(be16(f.data));
  const int weight = static_cast<std::int16_t>(be16(f.data + 2));
  const std::uint16_t sign = be16(f.data + 4);
  const int dscale = static_cast<std::int16_t>(be16(f.data + 6));
  if (sign == 0xC000) return "NaN";
  if (sign == 0xD000) return "Infinity";
  if (sign == 0xF000) return "-Infinity";
  if (f.length < 8 + 2 * ndigits) throw UsageError(fmt::format("column \"{}\": truncated numeric value", f.column));
  auto digit = [&](int i) -> int { return (i >= 0 && i < ndigits) ? be16(f.data + 8 + 2 * i) : 0; };
  std::string out = sign == 0x4000 ? "-" : "";
  if (weight < 0) {
    out += '0';
  } else {
    for (int i = 0; i <= weight; ++i) out += i == 0 ? std::to_string(digit(i)) : fmt::format("{:04d}", digit(i));
  }
  if (dscale > 0) {
    std::string fraction;
    for (int i = weight + 1; static_cast<int>(fraction.size()) < dscale; ++i) fraction += fmt::format("{:04d}", digit(i));
    out += '.';
    out += fraction.substr(0, static_cast<std::size_t>(dscale));
  }
  return out;
}

constexpr std::int64_t kPostgresEpochUnixMicros = 946'684'800LL * 1'000'000LL;

std::string timestamp_to_string(std::int64_t pg_micros, bool with_zone) {
  if (pg_micros == std::numeric_limits<std::int64_t>::max()) return "infinity";
  if (pg_micros == std::numeric_limits<std::int64_t>::min()) return "-infinity";
  const std::int64_t unix_micros = pg_micros + kPostgresEpochUnixMicros;
  std::int64_t secs = unix_micros / 1'000'000;
  std::int64_t micros = unix_micros % 1'000'000;
  if (micros < 0) {
    micros += 1'000'000;
    secs -= 1;
  }
  const std::chrono::sys_seconds tp{std::chrono::seconds{secs}};
  const auto day = std::chrono::floor<std::chrono::days>(tp);
  const std::chrono::year_month_day ymd{day};
  const std::chrono::hh_mm_ss hms{tp - day};
  std::string out = fmt::format("{:04d}-{:02d}-{:02d} {:02d}:{:02d}:{:02d}", static_cast<int>(ymd.year()),
                                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                                hms.hours().count(), hms.minutes().count(), hms.seconds().count());
  if (micros != 0) out += fmt::format(".{:06d}", micros);
  if (with_zone) out += "+00";
  return out;
}

bool is_text_type(Oid type) {
  switch (type) {
    case oid::kText:
    case oid::kVarchar:
    case oid::kBpchar:
    case oid::kName:
    case oid::kJson:
    case oid::kXml:
    case oid::kUnknownLiteral:
      return true;
    default:
      return false;
  }
}

}  // namespace

bool ValueTraits<bool>::decode(const FieldView& f) {
  if (f.type != oid::kBool) wrong_type(f, "bool");
  expect_length(f, 1, "bool");
  return f.data[0] != 0;
}

std::int16_t ValueTraits<std::int16_t>::decode(const FieldView& f) { return narrow_integer<std::int16_t>(f, "std::int16_t"); }
std::int32_t ValueTraits<std::int32_t>::decode(const FieldView& f) { return narrow_integer<std::int32_t>(f, "std::int32_t"); }
std::int64_t ValueTraits<std::int64_t>::decode(const FieldView& f) { return read_integer(f, "std::int64_t"); }

double ValueTraits<double>::decode(const FieldView& f) {
  switch (f.type) {
    case oid::kFloat8:
      expect_length(f, 8, "double");
      return std::bit_cast<double>(be64(f.data));
    case oid::kFloat4:
      expect_length(f, 4, "double");
      return std::bit_cast<float>(be32(f.data));
    case oid::kInt2:
    case oid::kInt4:
    case oid::kInt8:
    case oid::kOid:
      return static_cast<double>(read_integer(f, "double"));
    case oid::kNumeric: {
      const std::string text = numeric_to_string(f);
      if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
      if (text == "Infinity") return std::numeric_limits<double>::infinity();
      if (text == "-Infinity") return -std::numeric_limits<double>::infinity();
      double v = 0;
      std::from_chars(text.data(), text.data() + text.size(), v);
      return v;
    }
    default:
      wrong_type(f, "double");
  }
}

float ValueTraits<float>::decode(const FieldView& f) {
  if (f.type == oid::kFloat4) {
    expect_length(f, 4, "float");
    return std::bit_cast<float>(be32(f.data));
  }
  return static_cast<float>(ValueTraits<double>::decode(f));
}

std::string ValueTraits<std::string>::decode(const FieldView& f) {
  if (is_text_type(f.type)) return std::string(f.data, static_cast<std::size_t>(f.length));
  switch (f.type) {
    case oid::kJsonb:  // version byte, then the JSON text
      if (f.length < 1 || f.data[0] != 1) throw UsageError(fmt::format("column \"{}\": unknown jsonb format", f.column));
      return std::string(f.data + 1, static_cast<std::size_t>(f.length - 1));
    case oid::kInt2:
    case oid::kInt4:
    case oid::kInt8:
    case oid::kOid:
      return std::to_string(read_integer(f, "std::string"));
    case oid::kFloat4:
    case oid::kFloat8:
      return fmt::format("{}", ValueTraits<double>::decode(f));
    case oid::kBool:
      return ValueTraits<bool>::decode(f) ? "true" : "false";
    case oid::kNumeric:
      return numeric_to_string(f);
    case oid::kUuid: {
      expect_length(f, 16, "std::string");
      std::string out;
      for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
        out += fmt::format("{:02x}", static_cast<std::uint8_t>(f.data[i]));
      }
      return out;
    }
    case oid::kTimestamptz:
    case oid::kTimestamp:
      expect_length(f, 8, "std::string");
      return timestamp_to_string(static_cast<std::int64_t>(be64(f.data)), f.type == oid::kTimestamptz);
    case oid::kDate: {
      expect_length(f, 4, "std::string");
      const auto days = static_cast<std::int32_t>(be32(f.data));
      return timestamp_to_string(static_cast<std::int64_t>(days) * 86'400'000'000LL, false).substr(0, 10);
    }
    case oid::kPgLsn: {
      expect_length(f, 8, "std::string");
      const std::uint64_t lsn = be64(f.data);
      return fmt::format("{:X}/{:X}", lsn >> 32, lsn & 0xFFFFFFFFu);
    }
    default:
      wrong_type(f, "std::string", "cast it to text in SQL (column::text)");
  }
}

Bytes ValueTraits<Bytes>::decode(const FieldView& f) {
  if (f.type != oid::kBytea) wrong_type(f, "pgstack::pg::Bytes", "read text columns as std::string");
  const auto* p = reinterpret_cast<const std::byte*>(f.data);
  return Bytes(p, p + f.length);
}

Timestamp ValueTraits<Timestamp>::decode(const FieldView& f) {
  std::int64_t pg_micros = 0;
  if (f.type == oid::kTimestamptz || f.type == oid::kTimestamp) {
    expect_length(f, 8, "Timestamp");
    pg_micros = static_cast<std::int64_t>(be64(f.data));
    if (pg_micros == std::numeric_limits<std::int64_t>::max()) return Timestamp::max();
    if (pg_micros == std::numeric_limits<std::int64_t>::min()) return Timestamp::min();
  } else if (f.type == oid::kDate) {
    expect_length(f, 4, "Timestamp");
    pg_micros = static_cast<std::int64_t>(static_cast<std::int32_t>(be32(f.data))) * 86'400'000'000LL;
  } else {
    wrong_type(f, "Timestamp");
  }
  // system_clock counts nanoseconds in 64 bits: years 1678 to 2261. Outside, the
  // conversion would silently wrap around to a wrong instant.
  constexpr std::int64_t kLimit = std::numeric_limits<Timestamp::duration::rep>::max() / 1000 - kPostgresEpochUnixMicros;
  if (pg_micros > kLimit || pg_micros < -kLimit - 2 * kPostgresEpochUnixMicros)
    throw UsageError(fmt::format("column \"{}\": {} is outside the range std::chrono::system_clock can hold (years "
                                 "1678 to 2261); read it as std::string",
                                 f.column, timestamp_to_string(pg_micros, f.type == oid::kTimestamptz)));
  return Timestamp{std::chrono::duration_cast<Timestamp::duration>(
      std::chrono::microseconds{pg_micros + kPostgresEpochUnixMicros})};
}

nlohmann::json ValueTraits<nlohmann::json>::decode(const FieldView& f) {
  if (f.type != oid::kJson && f.type != oid::kJsonb && !is_text_type(f.type)) wrong_type(f, "nlohmann::json");
  return parse_json(ValueTraits<std::string>::decode(f), fmt::format("column \"{}\"", f.column));
}

namespace detail {

void visit_array(const FieldView& f, ArrayVisitor& visitor) {
  // A scalar column must not be walked as an array: its bytes could pass for a header.
  if (type_name(f.type) != nullptr || f.length < 12) wrong_type(f, "std::vector", "the column is not an array");
  const int ndim = static_cast<std::int32_t>(be32(f.data));
  const std::uint32_t has_null = be32(f.data + 4);
  const Oid element = be32(f.data + 8);
  if (ndim < 0 || ndim > 6 || has_null > 1) wrong_type(f, "std::vector", "the column is not an array");
  if (ndim == 0) return;
  if (ndim != 1)
    throw UsageError(fmt::format("column \"{}\" is a {}-dimensional array; pgstack reads one dimension", f.column, ndim));
  if (f.length < 20) throw UsageError(fmt::format("column \"{}\": truncated array", f.column));
  const std::uint32_t count = be32(f.data + 12);
  const char* p = f.data + 20;
  const char* end = f.data + f.length;
  for (std::uint32_t i = 0; i < count; ++i) {
    if (end - p < 4) throw UsageError(fmt::format("column \"{}\": truncated array", f.column));
    const auto len = static_cast<std::int32_t>(be32(p));
    p += 4;
    if (len < 0) {
      visitor.null();
      continue;
    }
    if (end - p < len) throw UsageError(fmt::format("column \"{}\": truncated array", f.column));
    visitor.element(FieldView{element, p, len, f.column});
    p += len;
  }
}

std::string format_timestamp(Timestamp t) {
  if (t == Timestamp::max()) return "infinity";
  if (t == Timestamp::min()) return "-infinity";
  const auto us = std::chrono::floor<std::chrono::microseconds>(t.time_since_epoch()).count();
  return timestamp_to_string(us - kPostgresEpochUnixMicros, true);
}

[[noreturn]] void throw_null_as_value(std::string_view column, std::string_view cpp_type) {
  throw UsageError(fmt::format("column \"{}\" is NULL and cannot be read as {}; read it as std::optional<T>", column,
                               cpp_type));
}

}  // namespace detail

Result::Result(pg_result* result) : result_(result, &PQclear) {}

int Result::rows() const noexcept { return result_ ? PQntuples(result_.get()) : 0; }
int Result::columns() const noexcept { return result_ ? PQnfields(result_.get()) : 0; }

std::int64_t Result::affected_rows() const {
  if (!result_) return 0;
  const char* text = PQcmdTuples(result_.get());
  if (!text || !*text) return rows();
  std::int64_t n = 0;
  std::from_chars(text, text + std::strlen(text), n);
  return n;
}

std::string_view Result::column_name(int column) const {
  if (column < 0 || column >= columns())
    throw UsageError(fmt::format("column index {} is out of range: the result has {} columns", column, columns()));
  return PQfname(result_.get(), column);
}

int Result::column_index(std::string_view name) const {
  for (int i = 0; i < columns(); ++i)
    if (name == PQfname(result_.get(), i)) return i;
  std::string names;
  for (int i = 0; i < columns(); ++i) names += (i ? ", " : "") + std::string(PQfname(result_.get(), i));
  throw UsageError(fmt::format("the result has no column named \"{}\" (columns: {})", name, names));
}

Oid Result::column_type(int column) const {
  column_name(column);  // range check
  return PQftype(result_.get(), column);
}

Row Result::operator[](int row) const& { return Row(this, row); }

Row Result::at(int row) const& {
  if (row < 0 || row >= rows())
    throw UsageError(fmt::format("row {} is out of range: the result has {} rows", row, rows()));
  return Row(this, row);
}

bool Row::is_null(int column) const {
  // operator[] does not check the row; a row past the end would read as NULLs here.
  if (index_ < 0 || index_ >= result_->rows())
    throw UsageError(fmt::format("row {} is out of range: the result has {} rows", index_, result_->rows()));
  result_->column_name(column);  // range check
  return PQgetisnull(result_->native(), index_, column) != 0;
}

int Row::column_index(std::string_view name) const { return result_->column_index(name); }
std::string_view Row::column_name(int column) const { return result_->column_name(column); }

FieldView Row::field(int column) const {
  pg_result* r = result_->native();
  if (PQfformat(r, column) != 1)
    throw UsageError("typed access needs binary results; this result came back as text (execute_script?)");
  return FieldView{PQftype(r, column), PQgetvalue(r, index_, column), PQgetlength(r, index_, column),
                   PQfname(r, column)};
}

}  // namespace pgstack::pg
