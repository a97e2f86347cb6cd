// Sessions in PostgreSQL instead of Redis (docs/sessions.md): random 256-bit tokens
// stored hashed, data as jsonb, sliding (idle) and absolute expiry, a user's sessions
// listed and revoked.
//
//   pgstack::sessions::SessionStore sessions{pool};
//   auto created = sessions.create("user-42", {{"ip", "203.0.113.7"}});   // give created.token to the client
//   if (auto s = sessions.get(token_from_cookie)) greet(s->user_id);       // nullopt: log in again
//   sessions.revoke_all("user-42");                                        // "log out everywhere"
//   pgstack::sessions::SessionStore{tx}.revoke_all("user-42");  // with the password change, in its transaction
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "pgstack/pg/executor.h"
#include "pgstack/pg/types.h"

namespace pgstack::sessions {

struct SessionOptions {
  // Ends this long after the session was last seen; nullopt: never idles out.
  std::optional<std::chrono::seconds> idle_timeout = std::chrono::minutes{30};
  // Ends this long after it began, however active.
  std::chrono::seconds absolute_timeout = std::chrono::hours{24 * 30};
};

struct NewSession {
  std::string token;  // 43 characters, base64url; shown only now, stored only hashed
  std::int64_t id = 0;
  pg::Timestamp expires_at;
};

struct Session {
  std::int64_t id = 0;
  std::string user_id;
  nlohmann::json data;
  pg::Timestamp created_at;
  pg::Timestamp last_seen_at;
  pg::Timestamp valid_until;  // the earlier of its idle and absolute expiry
};

class SessionStore {
 public:
  // On a pool, or inside the caller's connection or transaction (pg/executor.h): then
  // the decision commits or rolls back with the caller's own rows.
  explicit SessionStore(pg::Executor db) noexcept : db_(db) {}

  NewSession create(std::string_view user_id, const nlohmann::json& data = nlohmann::json::object(),
                    const SessionOptions& options = {});
  // nullopt for an unknown, expired or revoked token. Slides the idle expiry.
  std::optional<Session> get(std::string_view token);
  bool touch(std::string_view token);
  bool set_data(std::string_view token, const nlohmann::json& data);
  bool destroy(std::string_view token);
  // The user's valid sessions, newest first (user_id is not repeated in them).
  std::vector<Session> list(std::string_view user_id);
  bool revoke(std::int64_t session_id);
  // Ends all of the user's sessions but except_token's; returns how many ended.
  std::int64_t revoke_all(std::string_view user_id, std::optional<std::string_view> except_token = std::nullopt);

 private:
  pg::Executor db_;
};

}  // namespace pgstack::sessions
