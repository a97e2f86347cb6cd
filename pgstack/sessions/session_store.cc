#include "pgstack/sessions/session_store.h"

namespace pgstack::sessions {

NewSession SessionStore::create(std::string_view user_id, const nlohmann::json& data, const SessionOptions& options) {
  std::optional<std::int64_t> idle;
  if (options.idle_timeout) idle = options.idle_timeout->count();
  auto r = db_.query(
      "select token, session_id, expires_at from pgstack.session_create($1, $2, $3 * interval '1 second', "
      "$4 * interval '1 second')",
      user_id, data, idle, static_cast<std::int64_t>(options.absolute_timeout.count()));
  return {r[0].get<std::string>(0), r[0].get<std::int64_t>(1), r[0].get<pg::Timestamp>(2)};
}

std::optional<Session> SessionStore::get(std::string_view token) {
  auto r = db_.query(
      "select session_id, user_id, data, created_at, last_seen_at, valid_until from pgstack.session_get($1)", token);
  if (r.empty()) return std::nullopt;
  return Session{r[0].get<std::int64_t>(0),  r[0].get<std::string>(1),   r[0].get<nlohmann::json>(2),
                 r[0].get<pg::Timestamp>(3), r[0].get<pg::Timestamp>(4), r[0].get<pg::Timestamp>(5)};
}

bool SessionStore::touch(std::string_view token) {
  return db_.query_value<bool>("select pgstack.session_touch($1)", token);
}

bool SessionStore::set_data(std::string_view token, const nlohmann::json& data) {
  return db_.query_value<bool>("select pgstack.session_set_data($1, $2)", token, data);
}

bool SessionStore::destroy(std::string_view token) {
  return db_.query_value<bool>("select pgstack.session_destroy($1)", token);
}

std::vector<Session> SessionStore::list(std::string_view user_id) {
  std::vector<Session> out;
  auto r = db_.query(
      "select session_id, data, created_at, last_seen_at, valid_until from pgstack.session_list($1)", user_id);
  for (auto row : r)
    out.push_back(Session{row.get<std::int64_t>(0), std::string(user_id), row.get<nlohmann::json>(1),
                          row.get<pg::Timestamp>(2), row.get<pg::Timestamp>(3), row.get<pg::Timestamp>(4)});
  return out;
}

bool SessionStore::revoke(std::int64_t session_id) {
  return db_.query_value<bool>("select pgstack.session_revoke($1)", session_id);
}

std::int64_t SessionStore::revoke_all(std::string_view user_id, std::optional<std::string_view> except_token) {
  std::optional<std::string> except;
  if (except_token) except = std::string(*except_token);
  return db_.query_value<std::int64_t>("select pgstack.session_revoke_all($1, $2)", user_id, except);
}

}  // namespace pgstack::sessions
