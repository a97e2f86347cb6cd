-- Who may do what in this module, and one convention for the whole SQL API
-- (docs/stack.md#security, schema/sql/003_access.sql):
--  * parameters take bare names, as the docs write them (kv_set(namespace, key, value,
--    ttl, mode)); functions whose parameters were p_-prefixed are made again;
--  * every function pins its search_path (pg_catalog, pgstack, pg_temp last);
--  * the sessions table is the owner's: every function that writes it runs as the
--    owner, so no application role can plant or rewrite a session by hand;
--  * EXECUTE for readwrite (the API) and readonly (what only reads), never PUBLIC.

-- The functions whose parameters are renamed: dropped and made again below.
DROP FUNCTION pgstack.session_token_hash(text);
DROP FUNCTION pgstack.session_create(text, jsonb, interval, interval);
DROP FUNCTION pgstack.session_get(text);
DROP FUNCTION pgstack.session_touch(text);
DROP FUNCTION pgstack.session_set_data(text, jsonb);
DROP FUNCTION pgstack.session_destroy(text);
DROP FUNCTION pgstack.session_list(text);
DROP FUNCTION pgstack.session_revoke(bigint);
DROP FUNCTION pgstack.session_revoke_all(text, text);

CREATE FUNCTION pgstack.session_token_hash(token text)
RETURNS bytea LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pgstack, pg_temp
AS $$ SELECT sha256(convert_to(session_token_hash.token, 'UTF8')) $$;

-- Starts a session and returns its token, the only time the token is seen. 256 bits:
-- SHA-256 over three v4 UUIDs (366 bits from the server's strong random source), so
-- no extension is needed. base64url without padding: 43 characters.
CREATE FUNCTION pgstack.session_create(user_id text, data jsonb DEFAULT '{}', idle_timeout interval DEFAULT interval '30 minutes', absolute_timeout interval DEFAULT interval '30 days')
RETURNS TABLE (token text, session_id bigint, expires_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_user_id ALIAS FOR $1;
  p_data ALIAS FOR $2;
  p_idle_timeout ALIAS FOR $3;
  p_absolute_timeout ALIAS FOR $4;
  v_token text;
BEGIN
  IF p_user_id IS NULL OR octet_length(p_user_id) NOT BETWEEN 1 AND 256 THEN
    RAISE EXCEPTION 'sessions: user id of % bytes is not valid', coalesce(octet_length(p_user_id)::text, 'NULL')
      USING ERRCODE = '22023', HINT = 'Pass the user''s id as text, 1 to 256 bytes.';
  END IF;
  IF p_absolute_timeout IS NULL OR p_absolute_timeout <= interval '0'
     OR (p_idle_timeout IS NOT NULL AND p_idle_timeout <= interval '0') THEN
    RAISE EXCEPTION 'sessions: timeouts must be positive (idle %, absolute %)',
      coalesce(p_idle_timeout::text, 'none'), coalesce(p_absolute_timeout::text, 'NULL')
      USING ERRCODE = '22023', HINT = 'Pass a positive absolute timeout, and a positive idle timeout or NULL for none.';
  END IF;
  IF p_data IS NULL OR jsonb_typeof(p_data) <> 'object' THEN
    RAISE EXCEPTION 'sessions: data must be a JSON object' USING ERRCODE = '22023';
  END IF;
  v_token := translate(rtrim(encode(sha256(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())
                                           || uuid_send(gen_random_uuid())), 'base64'), '='), '+/', '-_');
  INSERT INTO pgstack.sessions AS s (token_hash, user_id, data, idle_timeout, expires_at)
  VALUES (pgstack.session_token_hash(v_token), p_user_id, p_data, p_idle_timeout, now() + p_absolute_timeout)
  RETURNING s.id, s.expires_at INTO session_id, expires_at;
  token := v_token;
  RETURN NEXT;
END
$$;

-- The session of a token, or no row when the token is unknown or expired. Slides the
-- idle expiry forward; to spare a write per request it does so only once the last
-- touch is older than a twentieth of the idle timeout (at most a minute).
CREATE FUNCTION pgstack.session_get(token text)
RETURNS TABLE (session_id bigint, user_id text, data jsonb, created_at timestamptz, last_seen_at timestamptz,
               valid_until timestamptz)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_token ALIAS FOR $1;
  v_session pgstack.sessions;
BEGIN
  SELECT * INTO v_session FROM pgstack.sessions s WHERE s.token_hash = pgstack.session_token_hash(p_token);
  IF NOT FOUND OR pgstack.session_valid_until(v_session) <= now() THEN
    RETURN;
  END IF;
  IF v_session.idle_timeout IS NOT NULL
     AND v_session.last_seen_at < now() - least(v_session.idle_timeout / 20, interval '1 minute') THEN
    UPDATE pgstack.sessions s SET last_seen_at = now() WHERE s.id = v_session.id RETURNING * INTO v_session;
    IF NOT FOUND THEN RETURN; END IF;  -- destroyed in between
  END IF;
  RETURN QUERY SELECT v_session.id, v_session.user_id, v_session.data, v_session.created_at, v_session.last_seen_at,
                      pgstack.session_valid_until(v_session);
END
$$;

-- Marks the session seen now (slides its idle expiry). False when it is not valid.
CREATE FUNCTION pgstack.session_touch(token text)
RETURNS boolean LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  WITH touched AS (
    UPDATE pgstack.sessions s SET last_seen_at = now()
    WHERE s.token_hash = pgstack.session_token_hash(session_touch.token) AND pgstack.session_valid_until(s) > now()
    RETURNING 1)
  SELECT count(*) > 0 FROM touched
$$;

-- Replaces the session's data. False when the session is not valid.
CREATE FUNCTION pgstack.session_set_data(token text, data jsonb)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_token ALIAS FOR $1;
  p_data ALIAS FOR $2;
BEGIN
  IF p_data IS NULL OR jsonb_typeof(p_data) <> 'object' THEN
    RAISE EXCEPTION 'sessions: data must be a JSON object' USING ERRCODE = '22023';
  END IF;
  UPDATE pgstack.sessions s SET data = p_data, last_seen_at = now()
  WHERE s.token_hash = pgstack.session_token_hash(p_token) AND pgstack.session_valid_until(s) > now();
  RETURN FOUND;
END
$$;

-- Logs out: the token stops working at once.
CREATE FUNCTION pgstack.session_destroy(token text)
RETURNS boolean LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  WITH gone AS (DELETE FROM pgstack.sessions s WHERE s.token_hash = pgstack.session_token_hash(session_destroy.token) RETURNING 1)
  SELECT count(*) > 0 FROM gone
$$;

-- A user's valid sessions, newest first (for a "your devices" page).
CREATE FUNCTION pgstack.session_list(user_id text)
RETURNS TABLE (session_id bigint, data jsonb, created_at timestamptz, last_seen_at timestamptz, valid_until timestamptz)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT s.id, s.data, s.created_at, s.last_seen_at, pgstack.session_valid_until(s)
  FROM pgstack.sessions s
  WHERE s.user_id = session_list.user_id AND pgstack.session_valid_until(s) > now()
  ORDER BY s.created_at DESC, s.id DESC
$$;

-- Ends one of a user's sessions by its id (from session_list).
CREATE FUNCTION pgstack.session_revoke(session_id bigint)
RETURNS boolean LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  WITH gone AS (DELETE FROM pgstack.sessions s WHERE s.id = session_revoke.session_id RETURNING 1) SELECT count(*) > 0 FROM gone
$$;

-- Ends every session of a user, except the one of except_token if given ("log out
-- my other devices"). Returns how many ended.
CREATE FUNCTION pgstack.session_revoke_all(user_id text, except_token text DEFAULT NULL)
RETURNS bigint LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  WITH gone AS (
    DELETE FROM pgstack.sessions s
    WHERE s.user_id = session_revoke_all.user_id
      AND (session_revoke_all.except_token IS NULL OR s.token_hash <> pgstack.session_token_hash(session_revoke_all.except_token))
    RETURNING 1)
  SELECT count(*) FROM gone
$$;

-- The others keep their definitions; they pin their search_path (and run as the owner where
-- they write what only the owner may write).
ALTER FUNCTION pgstack.session_valid_until(pgstack.sessions) SECURITY INVOKER SET search_path = pg_catalog, pgstack, pg_temp;
ALTER FUNCTION pgstack.session_sweep() SECURITY DEFINER SET search_path = pg_catalog, pgstack, pg_temp;

-- Who may call what: nobody by default (PUBLIC), readwrite the API, readonly the reads.
REVOKE ALL ON FUNCTION pgstack.session_valid_until(pgstack.sessions) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.session_token_hash(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.session_create(text, jsonb, interval, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.session_get(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.session_touch(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.session_set_data(text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.session_destroy(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.session_list(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.session_revoke(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.session_revoke_all(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.session_sweep() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
  pgstack.session_create(text, jsonb, interval, interval),
  pgstack.session_get(text),
  pgstack.session_touch(text),
  pgstack.session_set_data(text, jsonb),
  pgstack.session_destroy(text),
  pgstack.session_revoke(bigint),
  pgstack.session_revoke_all(text, text)
  TO readwrite;
GRANT EXECUTE ON FUNCTION
  pgstack.session_valid_until(pgstack.sessions),
  pgstack.session_token_hash(text),
  pgstack.session_list(text)
  TO readwrite, readonly;

-- The table: read by both roles, written only by the functions above.
REVOKE ALL ON pgstack.sessions FROM PUBLIC, readwrite, readonly;
GRANT SELECT ON pgstack.sessions TO readwrite, readonly;
REVOKE ALL ON SEQUENCE pgstack.sessions_id_seq FROM PUBLIC, readwrite, readonly;
