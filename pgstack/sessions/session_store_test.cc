// Sessions against a real PostgreSQL: tokens stored hashed, sliding and absolute
// expiry, listing and revoking.
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <thread>

#include "pgstack/pg/errors.h"
#include "pgstack/pg/transaction.h"
#include "pgstack/schema/testing/schema_test_cluster.h"
#include "pgstack/sessions/session_store.h"

namespace pgstack::sessions {
namespace {

using namespace std::chrono_literals;

class SessionsTest : public ::testing::Test {
 protected:
  pgstack::testing::TestDatabase db_ = schema::cluster_with_schemas().create_database();
  pg::Pool pool_{{.primary = db_.dsn(), .max_size = 4}};
  pg::Connection conn_{db_.dsn()};
  SessionStore sessions_{pool_};

  // A session with sub-second timeouts, which only the SQL API can express.
  std::string create_sql(const char* idle, const char* absolute) {
    return conn_.query_value<std::string>(
        "select token from pgstack.session_create('u1', '{}', $1::interval, $2::interval)", idle, absolute);
  }
};

// In the caller's transaction, "log out everywhere" commits with the password change
// that asked for it, or not at all.
TEST_F(SessionsTest, RevokingInTheCallersTransactionTakesEffectOnlyIfItCommits) {
  const auto token = sessions_.create("user-tx").token;
  {
    pg::Transaction tx(conn_);
    EXPECT_EQ(SessionStore{tx}.revoke_all("user-tx"), 1);
    tx.rollback();
  }
  EXPECT_TRUE(sessions_.get(token).has_value()) << "the rolled-back revocation left the session valid";
  {
    pg::Transaction tx(conn_);
    EXPECT_EQ(SessionStore{tx}.revoke_all("user-tx"), 1);
    tx.commit();
  }
  EXPECT_FALSE(sessions_.get(token).has_value());
}

TEST_F(SessionsTest, ATokenIsRandomAndStoredOnlyHashed) {
  std::set<std::string> tokens;
  for (int i = 0; i < 50; ++i) tokens.insert(sessions_.create("user-1").token);
  EXPECT_EQ(tokens.size(), 50u);
  const std::string token = *tokens.begin();
  EXPECT_EQ(token.size(), 43u);  // 256 bits, base64url without padding
  EXPECT_EQ(token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
  // No column holds the token; its SHA-256 finds the row.
  EXPECT_EQ(conn_.query_value<std::int64_t>(
                "select count(*) from pgstack.sessions s where strpos(row_to_json(s)::text, $1) > 0", token), 0);
  EXPECT_EQ(conn_.query_value<std::int64_t>(
                "select count(*) from pgstack.sessions where token_hash = sha256(convert_to($1, 'UTF8'))", token), 1);
}

TEST_F(SessionsTest, CreateGetSetDataAndDestroy) {
  auto created = sessions_.create("user-1", {{"ip", "203.0.113.7"}});
  auto s = sessions_.get(created.token);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->id, created.id);
  EXPECT_EQ(s->user_id, "user-1");
  EXPECT_EQ(s->data, nlohmann::json({{"ip", "203.0.113.7"}}));
  EXPECT_TRUE(sessions_.set_data(created.token, {{"cart", {1, 2}}}));
  EXPECT_EQ(sessions_.get(created.token)->data, nlohmann::json({{"cart", {1, 2}}}));
  EXPECT_FALSE(sessions_.get(created.token + "x").has_value());
  EXPECT_TRUE(sessions_.destroy(created.token));
  EXPECT_FALSE(sessions_.get(created.token).has_value());
  EXPECT_FALSE(sessions_.set_data(created.token, nlohmann::json::object()));
}

TEST_F(SessionsTest, IdleExpirySlidesWithUseAndAbsoluteExpiryDoesNot) {
  auto sliding = create_sql("600 milliseconds", "1 hour");
  auto capped = create_sql("1 hour", "700 milliseconds");
  for (int i = 0; i < 4; ++i) {  // used every 300 ms for 1.2 s: stays valid past 600 ms
    std::this_thread::sleep_for(300ms);
    ASSERT_TRUE(sessions_.get(sliding).has_value()) << "after " << (i + 1) * 300 << " ms";
  }
  EXPECT_FALSE(sessions_.get(capped).has_value());  // 1.2 s > 700 ms, however it was used
  std::this_thread::sleep_for(700ms);                 // idle longer than 600 ms
  EXPECT_FALSE(sessions_.get(sliding).has_value());
  EXPECT_FALSE(sessions_.touch(sliding));
  // Expired sessions are swept.
  EXPECT_EQ(conn_.query_value<std::int64_t>("select pgstack.session_sweep()"), 2);
}

TEST_F(SessionsTest, AUsersSessionsAreListedAndRevoked) {
  auto phone = sessions_.create("user-1", {{"device", "phone"}});
  auto laptop = sessions_.create("user-1", {{"device", "laptop"}});
  auto tablet = sessions_.create("user-1", {{"device", "tablet"}});
  auto other = sessions_.create("user-2");
  auto list = sessions_.list("user-1");
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].data["device"], "tablet");  // newest first
  EXPECT_TRUE(sessions_.revoke(list[0].id));
  EXPECT_FALSE(sessions_.get(tablet.token).has_value());
  // "Log out my other devices", from the laptop.
  EXPECT_EQ(sessions_.revoke_all("user-1", laptop.token), 1);
  EXPECT_FALSE(sessions_.get(phone.token).has_value());
  EXPECT_TRUE(sessions_.get(laptop.token).has_value());
  EXPECT_EQ(sessions_.revoke_all("user-1"), 1);
  EXPECT_FALSE(sessions_.get(laptop.token).has_value());
  EXPECT_TRUE(sessions_.get(other.token).has_value());  // another user's session is untouched
}

TEST_F(SessionsTest, BadInputGetsAClearErrorAndChangesNothing) {
  auto sqlstate = [](auto f) {
    try {
      f();
    } catch (const pg::SqlError& e) {
      return e.sqlstate();
    }
    return std::string();
  };
  EXPECT_EQ(sqlstate([&] { sessions_.create(""); }), "22023");
  EXPECT_EQ(sqlstate([&] { sessions_.create(std::string(300, 'u')); }), "22023");
  EXPECT_EQ(sqlstate([&] { sessions_.create("u", nlohmann::json::array()); }), "22023");
  EXPECT_EQ(sqlstate([&] { sessions_.create("u", nlohmann::json::object(), {.absolute_timeout = -1s}); }), "22023");
  EXPECT_EQ(sqlstate([&] { sessions_.create("u", nlohmann::json::object(), {.idle_timeout = 0s}); }), "22023");
  EXPECT_EQ(conn_.query_value<std::int64_t>("select count(*) from pgstack.sessions"), 0);
  auto s = sessions_.create("u");
  EXPECT_EQ(sqlstate([&] { sessions_.set_data(s.token, "not an object"); }), "22023");
  EXPECT_EQ(sessions_.get(s.token)->data, nlohmann::json::object());
}

}  // namespace
}  // namespace pgstack::sessions
