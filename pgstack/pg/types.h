// The C++ types pgstack maps to PostgreSQL types, and their type OIDs.
//
//   pgstack::pg::Bytes blob = {std::byte{0xde}, std::byte{0xad}};        // bytea
//   pgstack::pg::Timestamp at = std::chrono::system_clock::now();         // timestamptz
//   nlohmann::json doc = {{"order_id", 42}};                              // jsonb
#pragma once

#include <chrono>
#include <cstddef>
#include <vector>

namespace pgstack::pg {

using Oid = unsigned int;
using Bytes = std::vector<std::byte>;
using Timestamp = std::chrono::system_clock::time_point;

// Built-in type OIDs (src/include/catalog/pg_type.dat); stable across PostgreSQL versions.
namespace oid {
inline constexpr Oid kUnknown = 0;  // "let the server infer", as for an untyped literal
inline constexpr Oid kBool = 16;
inline constexpr Oid kBytea = 17;
inline constexpr Oid kName = 19;
inline constexpr Oid kInt8 = 20;
inline constexpr Oid kInt2 = 21;
inline constexpr Oid kInt4 = 23;
inline constexpr Oid kText = 25;
inline constexpr Oid kOid = 26;
inline constexpr Oid kJson = 114;
inline constexpr Oid kXml = 142;
inline constexpr Oid kFloat4 = 700;
inline constexpr Oid kFloat8 = 701;
inline constexpr Oid kUnknownLiteral = 705;
inline constexpr Oid kBpchar = 1042;
inline constexpr Oid kVarchar = 1043;
inline constexpr Oid kDate = 1082;
inline constexpr Oid kTimestamp = 1114;
inline constexpr Oid kTimestamptz = 1184;
inline constexpr Oid kInterval = 1186;
inline constexpr Oid kNumeric = 1700;
inline constexpr Oid kUuid = 2950;
inline constexpr Oid kJsonb = 3802;
inline constexpr Oid kPgLsn = 3220;
inline constexpr Oid kBoolArray = 1000;
inline constexpr Oid kByteaArray = 1001;
inline constexpr Oid kInt2Array = 1005;
inline constexpr Oid kInt4Array = 1007;
inline constexpr Oid kTextArray = 1009;
inline constexpr Oid kVarcharArray = 1015;
inline constexpr Oid kInt8Array = 1016;
inline constexpr Oid kFloat4Array = 1021;
inline constexpr Oid kFloat8Array = 1022;
inline constexpr Oid kTimestampArray = 1115;
inline constexpr Oid kTimestamptzArray = 1185;
inline constexpr Oid kJsonbArray = 3807;
inline constexpr Oid kNameArray = 1003;
}  // namespace oid

}  // namespace pgstack::pg
