-- Sessions in PostgreSQL instead of Redis (docs/sessions.md). The client holds a
-- random 256-bit token; the table holds only its SHA-256, so a leaked backup or a
-- read-only SQL account cannot log anyone in. Logged: sessions survive a crash and
-- reach the standby.
CREATE TABLE pgstack.sessions (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  token_hash bytea NOT NULL UNIQUE,
  user_id text NOT NULL,
  data jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  -- Sliding expiry: the session ends this long after it was last seen (NULL: never idle out).
  idle_timeout interval,
  -- Absolute expiry: the session ends then, however active it is.
  expires_at timestamptz NOT NULL,
  CONSTRAINT session_user_id_length CHECK (octet_length(user_id) BETWEEN 1 AND 256)
) WITH (fillfactor = 80);  -- room for HOT updates of last_seen_at
CREATE INDEX sessions_user_id ON pgstack.sessions (user_id);
COMMENT ON TABLE pgstack.sessions IS 'pgstack sessions: one row per login, found by the SHA-256 of its token';

CREATE TRIGGER set_updated_at BEFORE UPDATE OF data ON pgstack.sessions
  FOR EACH ROW EXECUTE FUNCTION pgstack.set_updated_at();

-- When a session stops being valid: the earlier of its idle and absolute expiry.
CREATE FUNCTION pgstack.session_valid_until(s pgstack.sessions)
RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
  SELECT least(s.expires_at, s.last_seen_at + s.idle_timeout)
$$;

CREATE FUNCTION pgstack.session_token_hash(p_token text)
RETURNS bytea LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT sha256(convert_to(p_token, 'UTF8')) $$;

-- Starts a session and returns its token, the only time the token is seen. 256 bits:
-- SHA-256 over three v4 UUIDs (366 bits from the server's strong random source), so
-- no extension is needed. base64url without padding: 43 characters.
CREATE FUNCTION pgstack.session_create(p_user_id text, p_data jsonb DEFAULT '{}',
                                       p_idle_timeout interval DEFAULT interval '30 minutes',
                                       p_absolute_timeout interval DEFAULT interval '30 days')
RETURNS TABLE (token text, session_id bigint, expires_at timestamptz)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
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
CREATE FUNCTION pgstack.session_get(p_token text)
RETURNS TABLE (session_id bigint, user_id text, data jsonb, created_at timestamptz, last_seen_at timestamptz,
               valid_until timestamptz)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
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
CREATE FUNCTION pgstack.session_touch(p_token text)
RETURNS boolean LANGUAGE sql AS $$
  WITH touched AS (
    UPDATE pgstack.sessions s SET last_seen_at = now()
    WHERE s.token_hash = pgstack.session_token_hash(p_token) AND pgstack.session_valid_until(s) > now()
    RETURNING 1)
  SELECT count(*) > 0 FROM touched
$$;

-- Replaces the session's data. False when the session is not valid.
CREATE FUNCTION pgstack.session_set_data(p_token text, p_data jsonb)
RETURNS boolean LANGUAGE plpgsql AS $$
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
CREATE FUNCTION pgstack.session_destroy(p_token text)
RETURNS boolean LANGUAGE sql AS $$
  WITH gone AS (DELETE FROM pgstack.sessions s WHERE s.token_hash = pgstack.session_token_hash(p_token) RETURNING 1)
  SELECT count(*) > 0 FROM gone
$$;

-- A user's valid sessions, newest first (for a "your devices" page).
CREATE FUNCTION pgstack.session_list(p_user_id text)
RETURNS TABLE (session_id bigint, data jsonb, created_at timestamptz, last_seen_at timestamptz, valid_until timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT s.id, s.data, s.created_at, s.last_seen_at, pgstack.session_valid_until(s)
  FROM pgstack.sessions s
  WHERE s.user_id = p_user_id AND pgstack.session_valid_until(s) > now()
  ORDER BY s.created_at DESC, s.id DESC
$$;

-- Ends one of a user's sessions by its id (from session_list).
CREATE FUNCTION pgstack.session_revoke(p_session_id bigint)
RETURNS boolean LANGUAGE sql AS $$
  WITH gone AS (DELETE FROM pgstack.sessions s WHERE s.id = p_session_id RETURNING 1) SELECT count(*) > 0 FROM gone
$$;

-- Ends every session of a user, except the one of p_except_token if given ("log out
-- my other devices"). Returns how many ended.
CREATE FUNCTION pgstack.session_revoke_all(p_user_id text, p_except_token text DEFAULT NULL)
RETURNS bigint LANGUAGE sql AS $$
  WITH gone AS (
    DELETE FROM pgstack.sessions s
    WHERE s.user_id = p_user_id
      AND (p_except_token IS NULL OR s.token_hash <> pgstack.session_token_hash(p_except_token))
    RETURNING 1)
  SELECT count(*) FROM gone
$$;

-- Deletes expired sessions, a bounded batch per run. Registered as a maintenance task.
CREATE FUNCTION pgstack.session_sweep()
RETURNS bigint LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pgstack AS $$
  WITH gone AS (
    DELETE FROM pgstack.sessions WHERE id IN (
      SELECT s.id FROM pgstack.sessions s WHERE pgstack.session_valid_until(s) <= now() LIMIT 10000)
    RETURNING 1)
  SELECT count(*) FROM gone
$$;

SELECT pgstack.register_maintenance_task('session_sweep', 'pgstack.session_sweep()', interval '1 minute');
REVOKE EXECUTE ON FUNCTION pgstack.session_sweep() FROM PUBLIC;
