// parse_sql_script: statements and their lines, syntax errors with their line.
#include "pgstack/schema/sql_script.h"

#include <gtest/gtest.h>

namespace pgstack::schema {
namespace {

TEST(SqlScript, SplitsStatementsAndNamesTheLineEachStartsOn) {
  auto script = parse_sql_script(
      "-- header comment\n"
      "CREATE TABLE a (id int);\n"
      "\n"
      "/* block /* nested */ comment */ INSERT INTO a VALUES (1);\n"
      "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;\n"
      "SELECT ';' AS semicolon_in_string");
  ASSERT_EQ(script.statements.size(), 4u);
  EXPECT_EQ(script.statements[0].text, "CREATE TABLE a (id int)");
  EXPECT_EQ(script.statements[0].line, 2);
  EXPECT_EQ(script.statements[1].text, "INSERT INTO a VALUES (1)");
  EXPECT_EQ(script.statements[1].line, 4);
  EXPECT_EQ(script.statements[2].text, "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$");
  EXPECT_EQ(script.statements[2].line, 5);
  EXPECT_EQ(script.statements[3].text, "SELECT ';' AS semicolon_in_string");
  EXPECT_EQ(script.statements[3].line, 6);
}

TEST(SqlScript, SyntaxErrorNamesItsLine) {
  try {
    parse_sql_script("CREATE TABLE a (id int);\n\nSELECT * FORM a;\n");
    FAIL() << "a syntax error must throw";
  } catch (const SqlScriptError& e) {
    EXPECT_EQ(e.line(), 3);
    EXPECT_NE(std::string(e.what()).find("syntax error at or near \"FORM\""), std::string::npos) << e.what();
  }
}

TEST(SqlScript, LinesCountCharactersNotBytes) {
  // "é" is two bytes; PostgreSQL's error positions count it as one character.
  std::string text = "SELECT 'é';\nSELECT x";
  EXPECT_EQ(line_of_position(text, 11), 1);  // the ';'
  EXPECT_EQ(line_of_position(text, 13), 2);  // the second SELECT
}

TEST(SqlScript, FindsTheIndexOfAConcurrentIndexBuild) {
  auto script = parse_sql_script(
      "CREATE INDEX CONCURRENTLY things_name ON app.things (name);\n"
      "CREATE INDEX plain ON things (name);\n"
      "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS other ON things (id)");
  ASSERT_EQ(script.statements.size(), 3u);
  ASSERT_TRUE(script.statements[0].concurrent_index);
  EXPECT_EQ(script.statements[0].concurrent_index->first, "app");
  EXPECT_EQ(script.statements[0].concurrent_index->second, "things_name");
  EXPECT_FALSE(script.statements[1].concurrent_index);
  ASSERT_TRUE(script.statements[2].concurrent_index);
  EXPECT_EQ(script.statements[2].concurrent_index->first, "");
  EXPECT_EQ(script.statements[2].concurrent_index->second, "other");
}

TEST(SqlScript, EmptyAndCommentOnlyTextsHaveNoStatements) {
  EXPECT_TRUE(parse_sql_script("").statements.empty());
  EXPECT_TRUE(parse_sql_script("-- nothing yet\n").statements.empty());
}

}  // namespace
}  // namespace pgstack::schema
