-- An actor given to flag_create, flag_set or flag_delete names that call's change only
-- (docs/flags.md: "actor when given, else SET LOCAL pgstack.actor, else the database
-- role"). Until now the call's set_config(..., is_local => true) held to the end of the
-- caller's transaction, so a later change in it without an actor was recorded as the
-- earlier call's actor (found by pgstack/flags/sql/tests/flags.sql). Each function now
-- puts the caller's own setting back before it returns; an error rolls the setting back
-- anyway. The bodies are 004_access.sql's otherwise; CREATE OR REPLACE keeps the
-- owner and the grants.

CREATE OR REPLACE FUNCTION pgstack.flag_create(key text, kind text DEFAULT 'boolean', variants jsonb DEFAULT NULL, off_value jsonb DEFAULT NULL, description text DEFAULT '', actor text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_key ALIAS FOR $1;
  p_kind ALIAS FOR $2;
  p_variants ALIAS FOR $3;
  p_off_value ALIAS FOR $4;
  p_description ALIAS FOR $5;
  p_actor ALIAS FOR $6;
  v_variants jsonb;
  v_actor_before text;
BEGIN
  IF p_key IS NULL OR p_key !~ '^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$' THEN
    RAISE EXCEPTION 'flags: flag key % is not valid', coalesce(quote_literal(p_key), 'NULL') USING ERRCODE = '22023',
      HINT = 'Use up to 128 letters, digits, _ . : and -, e.g. ''checkout.new-flow''.';
  END IF;
  IF p_kind = 'boolean' THEN
    IF p_variants IS NOT NULL AND p_variants <> '[false, true]' AND p_variants <> '[true, false]' THEN
      RAISE EXCEPTION 'flags: a boolean flag has the values true and false' USING ERRCODE = '22023',
        HINT = 'Create a ''variant'' flag for other values.';
    END IF;
    v_variants := '[false, true]';
  ELSIF p_kind = 'variant' THEN
    IF jsonb_typeof(p_variants) IS DISTINCT FROM 'array' OR jsonb_array_length(p_variants) < 2
       OR EXISTS (SELECT 1 FROM jsonb_array_elements(p_variants) v WHERE jsonb_typeof(v) <> 'string' OR v #>> '{}' = '')
       OR (SELECT count(DISTINCT v) FROM jsonb_array_elements(p_variants) v) <> jsonb_array_length(p_variants) THEN
      RAISE EXCEPTION 'flags: variants must be an array of at least two distinct non-empty strings' USING ERRCODE = '22023',
        HINT = 'e.g. ''["control", "blue", "green"]''';
    END IF;
    v_variants := p_variants;
  ELSE
    RAISE EXCEPTION 'flags: kind % is not boolean or variant', coalesce(quote_literal(p_kind), 'NULL') USING ERRCODE = '22023';
  END IF;
  IF p_off_value IS NOT NULL AND NOT v_variants @> jsonb_build_array(p_off_value) THEN
    RAISE EXCEPTION 'flags: off value % is not one of %', p_off_value, v_variants USING ERRCODE = '22023';
  END IF;
  IF EXISTS (SELECT 1 FROM pgstack.flags WHERE key = p_key) THEN
    RAISE EXCEPTION 'flags: flag % exists', quote_literal(p_key) USING ERRCODE = '42710',
      HINT = 'Change its rules with pgstack.flag_set, or delete it first with pgstack.flag_delete.';
  END IF;
  -- The actor names this call's change only: the caller's own setting comes back below.
  v_actor_before := current_setting('pgstack.actor', true);
  IF p_actor IS NOT NULL THEN PERFORM set_config('pgstack.actor', p_actor, true); END IF;
  INSERT INTO pgstack.flags (key, kind, variants, off_value, description)
  VALUES (p_key, p_kind, v_variants, coalesce(p_off_value, v_variants -> 0), coalesce(p_description, ''));
  IF p_actor IS NOT NULL THEN PERFORM set_config('pgstack.actor', coalesce(v_actor_before, ''), true); END IF;
END
$$;

CREATE OR REPLACE FUNCTION pgstack.flag_set(key text, environment text, config jsonb, actor text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_key ALIAS FOR $1;
  p_environment ALIAS FOR $2;
  p_config ALIAS FOR $3;
  p_actor ALIAS FOR $4;
  v_flag pgstack.flags;
  v_version bigint;
  v_actor_before text;
BEGIN
  SELECT * INTO v_flag FROM pgstack.flags WHERE key = p_key FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'flags: flag % does not exist', coalesce(quote_literal(p_key), 'NULL') USING ERRCODE = '42704',
      HINT = 'Create it first with pgstack.flag_create.';
  END IF;
  PERFORM 1 FROM pgstack.flag_environments WHERE name = p_environment;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'flags: environment % does not exist', coalesce(quote_literal(p_environment), 'NULL')
      USING ERRCODE = '42704', HINT = 'Create it with pgstack.flag_create_environment.';
  END IF;
  PERFORM pgstack.flag_check_config(v_flag, p_config);
  -- The actor names this call's change only: the caller's own setting comes back below.
  v_actor_before := current_setting('pgstack.actor', true);
  IF p_actor IS NOT NULL THEN PERFORM set_config('pgstack.actor', p_actor, true); END IF;
  INSERT INTO pgstack.flag_configs AS c (flag, environment, config, updated_by)
  VALUES (p_key, p_environment, p_config, pgstack.flag_actor())
  ON CONFLICT (flag, environment) DO UPDATE
    SET config = excluded.config, version = c.version + 1, updated_at = now(), updated_by = excluded.updated_by
  RETURNING c.version INTO v_version;
  IF p_actor IS NOT NULL THEN PERFORM set_config('pgstack.actor', coalesce(v_actor_before, ''), true); END IF;
  RETURN v_version;
END
$$;

CREATE OR REPLACE FUNCTION pgstack.flag_delete(key text, actor text DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_key ALIAS FOR $1;
  p_actor ALIAS FOR $2;
  v_actor_before text;
  v_deleted boolean;
BEGIN
  -- The actor names this call's change only: the caller's own setting comes back below.
  v_actor_before := current_setting('pgstack.actor', true);
  IF p_actor IS NOT NULL THEN PERFORM set_config('pgstack.actor', p_actor, true); END IF;
  DELETE FROM pgstack.flags WHERE key = p_key;
  v_deleted := FOUND;
  IF p_actor IS NOT NULL THEN PERFORM set_config('pgstack.actor', coalesce(v_actor_before, ''), true); END IF;
  RETURN v_deleted;
END
$$;
