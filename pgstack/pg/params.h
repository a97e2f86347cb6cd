// Query parameters: C++ values encoded for libpq, binary where it pays (integers,
// floats, booleans, timestamps, bytea, arrays of them), text for text and JSON.
// Values always travel as parameters; SQL is never built from them.
//
//   auto params = pgstack::pg::Params::of(std::int64_t{42}, "alice", std::optional<double>{});
//   conn.execute("insert into t(id, name, score) values ($1, $2, $3)", params);
//   // usually implicit: conn.query("... $1, $2", 42, "alice");
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "pgstack/pg/types.h"

namespace pgstack::pg {

// ParamTraits<T> says how a T travels: its type OID, wire format (0 text, 1 binary),
// and how to append its bytes. Specialise it to teach pgstack a new type.
template <class T, class Enable = void>
struct ParamTraits;  // undefined: a type with no traits fails to compile here

namespace detail {
void append_be16(std::string& out, std::uint16_t v);
void append_be32(std::string& out, std::uint32_t v);
void append_be64(std::string& out, std::uint64_t v);
std::int64_t to_pg_microseconds(Timestamp t);  // microseconds since 2000-01-01 UTC; max/min: ±infinity
}  // namespace detail

template <>
struct ParamTraits<bool> {
  static constexpr Oid type = oid::kBool;
  static constexpr int format = 1;
  static void encode(bool v, std::string& out) { out.push_back(v ? 1 : 0); }
};

// Integers by width: int16 → int2, int32 → int4, int64 → int8. Unsigned and char
// types are refused at compile time: PostgreSQL has no unsigned integers.
template <class T>
struct ParamTraits<T, std::enable_if_t<std::is_integral_v<T> && std::is_signed_v<T> &&
                                       !std::is_same_v<T, bool> && !std::is_same_v<T, char> &&
                                       (sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8)>> {
  static constexpr Oid type = sizeof(T) == 2 ? oid::kInt2 : sizeof(T) == 4 ? oid::kInt4 : oid::kInt8;
  static constexpr int format = 1;
  static void encode(T v, std::string& out) {
    if constexpr (sizeof(T) == 2) detail::append_be16(out, static_cast<std::uint16_t>(v));
    else if constexpr (sizeof(T) == 4) detail::append_be32(out, static_cast<std::uint32_t>(v));
    else detail::append_be64(out, static_cast<std::uint64_t>(v));
  }
};

template <>
struct ParamTraits<double> {
  static constexpr Oid type = oid::kFloat8;
  static constexpr int format = 1;
  static void encode(double v, std::string& out);
};

template <>
struct ParamTraits<float> {
  static constexpr Oid type = oid::kFloat4;
  static constexpr int format = 1;
  static void encode(float v, std::string& out);
};

// Text goes untyped (OID 0), as a quoted literal would, so the server reads it as the
// type the statement needs: text, varchar, uuid, inet, an enum, a date...
template <>
struct ParamTraits<std::string_view> {
  static constexpr Oid type = oid::kUnknown;
  static constexpr int format = 0;
  static void encode(std::string_view v, std::string& out) { out.append(v); }
};
template <>
struct ParamTraits<std::string> : ParamTraits<std::string_view> {};
template <>
struct ParamTraits<const char*> : ParamTraits<std::string_view> {};
template <>
struct ParamTraits<char*> : ParamTraits<std::string_view> {};

template <>
struct ParamTraits<Bytes> {
  static constexpr Oid type = oid::kBytea;
  static constexpr int format = 1;
  static void encode(const Bytes& v, std::string& out) {
    out.append(reinterpret_cast<const char*>(v.data()), v.size());
  }
};

template <>
struct ParamTraits<Timestamp> {
  static constexpr Oid type = oid::kTimestamptz;
  static constexpr int format = 1;
  static void encode(Timestamp v, std::string& out) {
    detail::append_be64(out, static_cast<std::uint64_t>(detail::to_pg_microseconds(v)));
  }
};

// JSON travels as jsonb text; it is assignable to json columns too.
template <>
struct ParamTraits<nlohmann::json> {
  static constexpr Oid type = oid::kJsonb;
  static constexpr int format = 0;
  static void encode(const nlohmann::json& v, std::string& out) { out.append(v.dump()); }
};

namespace detail {
template <class T>
struct ArrayElement;
template <> struct ArrayElement<bool> { static constexpr Oid array = oid::kBoolArray; };
template <> struct ArrayElement<std::int16_t> { static constexpr Oid array = oid::kInt2Array; };
template <> struct ArrayElement<std::int32_t> { static constexpr Oid array = oid::kInt4Array; };
template <> struct ArrayElement<std::int64_t> { static constexpr Oid array = oid::kInt8Array; };
template <> struct ArrayElement<double> { static constexpr Oid array = oid::kFloat8Array; };
template <> struct ArrayElement<float> { static constexpr Oid array = oid::kFloat4Array; };
template <> struct ArrayElement<std::string> { static constexpr Oid array = oid::kTextArray; };
template <> struct ArrayElement<std::string_view> { static constexpr Oid array = oid::kTextArray; };
template <> struct ArrayElement<Bytes> { static constexpr Oid array = oid::kByteaArray; };
template <> struct ArrayElement<Timestamp> { static constexpr Oid array = oid::kTimestamptzArray; };
template <> struct ArrayElement<nlohmann::json> { static constexpr Oid array = oid::kJsonbArray; };

template <class T>
constexpr Oid element_oid() {
  if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::string_view>) return oid::kText;
  else if constexpr (std::is_same_v<T, nlohmann::json>) return oid::kJsonb;
  else return ParamTraits<T>::type;
}

// Binary array header (src/backend/utils/adt/arrayfuncs.c, array_send): ndim, has-null
// flag, element OID, then per dimension its length and lower bound.
void append_array_header(std::string& out, Oid element, std::size_t count, bool has_null);

template <class E>
void encode_element(const E& v, std::string& out) {
  if constexpr (std::is_same_v<E, nlohmann::json>) {
    out.push_back(1);  // jsonb's binary format: version byte, then the text
    out.append(v.dump());
  } else {
    ParamTraits<E>::encode(v, out);
  }
}
}  // namespace detail

// std::vector<T> → a one-dimensional array, always binary; std::optional elements are NULLs.
template <class T>
struct ParamTraits<std::vector<T>, std::enable_if_t<!std::is_same_v<T, std::byte>>> {
 private:
  template <class U> struct Unwrap { using type = U; static constexpr bool optional = false; };
  template <class U> struct Unwrap<std::optional<U>> { using type = U; static constexpr bool optional = true; };
  using E = typename Unwrap<T>::type;

 public:
  static constexpr Oid type = detail::ArrayElement<E>::array;
  static constexpr int format = 1;
  static void encode(const std::vector<T>& values, std::string& out) {
    bool has_null = false;
    if constexpr (Unwrap<T>::optional)
      for (const auto& v : values) has_null = has_null || !v.has_value();
    detail::append_array_header(out, detail::element_oid<E>(), values.size(), has_null);
    std::string element;
    for (const auto& v : values) {
      if constexpr (Unwrap<T>::optional) {
        if (!v) {
          detail::append_be32(out, 0xFFFFFFFFu);  // length -1: NULL
          continue;
        }
      }
      element.clear();
      if constexpr (Unwrap<T>::optional) detail::encode_element<E>(*v, element);
      else detail::encode_element<E>(v, element);
      detail::append_be32(out, static_cast<std::uint32_t>(element.size()));
      out.append(element);
    }
  }
};

// The parameters of one statement. Each value is copied in, so a Params can outlive
// the values it was built from and be sent later (pipelines queue them).
class Params {
 public:
  Params() = default;

  template <class... T>
  static Params of(const T&... values) {
    Params p;
    p.reserve(sizeof...(T));
    (p.add(values), ...);
    return p;
  }

  template <class T>
  Params& add(const T& value) {
    if constexpr (std::is_same_v<T, std::nullopt_t>) {
      add_null(oid::kUnknown);
    } else if constexpr (is_optional<T>::value) {
      using V = typename T::value_type;
      if (value) add(*value);
      else add_null(ParamTraits<Normalized<V>>::type);
    } else if constexpr (std::is_array_v<T>) {  // string literals: "abc"
      add(std::string_view(value));
    } else {
      using Traits = ParamTraits<Normalized<T>>;
      std::string bytes;
      Traits::encode(value, bytes);
      add_encoded(Traits::type, Traits::format, std::move(bytes));
    }
    return *this;
  }

  void add_encoded(Oid type, int format, std::string bytes);
  void add_null(Oid type);
  void reserve(std::size_t n);

  int size() const noexcept { return static_cast<int>(types_.size()); }
  const std::vector<Oid>& types() const noexcept { return types_; }
  // Pointer arrays in libpq's layout, valid while this Params lives and is not changed.
  const char* const* values() const;
  const int* lengths() const noexcept { return lengths_.data(); }
  const int* formats() const noexcept { return formats_.data(); }

 private:
  template <class T> struct is_optional : std::false_type {};
  template <class T> struct is_optional<std::optional<T>> : std::true_type {};
  template <class T>
  using Normalized = std::decay_t<T>;

  std::vector<Oid> types_;
  std::vector<std::string> data_;
  std::vector<bool> null_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
  mutable std::vector<const char*> pointers_;
};

}  // namespace pgstack::pg
