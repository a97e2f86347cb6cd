// JSON a person wrote gets an error in words, with where it went wrong, and never the
// library's own "[json.exception...]" text.
#include "pgstack/pg/json_text.h"

#include <gtest/gtest.h>

#include "pgstack/pg/errors.h"

namespace pgstack::pg {
namespace {

// The message parse_json throws for text, or "" when it parses.
std::string error_of(std::string_view text) {
  try {
    parse_json(text, "--attributes");
    return "";
  } catch (const UsageError& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.find("json.exception"), std::string::npos) << message;
    EXPECT_TRUE(message.starts_with("--attributes is not valid JSON")) << message;
    return message;
  }
}

TEST(ParseJson, ValidTextParses) {
  EXPECT_EQ(parse_json(R"({"plan": "pro", "seats": 3})", "x")["seats"], 3);
  EXPECT_EQ(error_of("[1, 2]"), "");
}

TEST(ParseJson, SaysWhatIsWrongAndWhere) {
  EXPECT_EQ(error_of("plan=pro"), "--attributes is not valid JSON: unexpected 'p' at line 1, column 1");
  EXPECT_EQ(error_of("{'plan': 1}"),
            "--attributes is not valid JSON: unexpected ''' at line 1, column 2 (JSON strings take double quotes)");
  EXPECT_EQ(error_of("{\n  \"plan\": pro\n}"), "--attributes is not valid JSON: unexpected 'p' at line 2, column 11");
  EXPECT_EQ(error_of(R"({"plan": "pro")"),
            "--attributes is not valid JSON: it ends too early (an unclosed string, array or object?)");
  EXPECT_EQ(error_of("  "), "--attributes is not valid JSON: it is empty");
  EXPECT_EQ(error_of(""), "--attributes is not valid JSON: it is empty");
  EXPECT_NE(error_of("[1e999]").find("a number too large"), std::string::npos);
}

}  // namespace
}  // namespace pgstack::pg
