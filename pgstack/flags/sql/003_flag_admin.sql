-- Creating, configuring and listing flags. Every configuration is checked in full
-- before it is stored: a config that flag_set accepts is one both evaluators read.

CREATE FUNCTION pgstack.flag_fail(p_where text, p_what text, p_hint text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'flags: %: %', p_where, p_what USING ERRCODE = '22023',
    HINT = coalesce(p_hint, 'docs/flags.md describes the configuration format.');
END
$$;

-- A percentage or weight: a number from 0 to 100 with at most three decimals (the
-- buckets are steps of 0.001%).
CREATE FUNCTION pgstack.flag_check_share(p_value jsonb, p_where text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF p_value IS NULL OR jsonb_typeof(p_value) <> 'number' OR (p_value #>> '{}')::numeric NOT BETWEEN 0 AND 100
     OR (p_value #>> '{}')::numeric <> round((p_value #>> '{}')::numeric, 3) THEN
    PERFORM pgstack.flag_fail(p_where, format('%s is not a number from 0 to 100 with at most 3 decimals', coalesce(p_value::text, 'nothing')));
  END IF;
END
$$;

CREATE FUNCTION pgstack.flag_check_served(p_flag pgstack.flags, p_value jsonb, p_where text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF p_value IS NULL OR NOT p_flag.variants @> jsonb_build_array(p_value) THEN
    PERFORM pgstack.flag_fail(p_where, format('%s is not one of the flag''s values %s', coalesce(p_value::text, 'nothing'), p_flag.variants));
  END IF;
END
$$;

CREATE FUNCTION pgstack.flag_check_constraint(p_c jsonb, p_where text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_op text := p_c ->> 'op';
  v_key text;
BEGIN
  IF jsonb_typeof(p_c) IS DISTINCT FROM 'object' THEN
    PERFORM pgstack.flag_fail(p_where, 'a constraint is an object {"attribute", "op", "value" or "values"}');
  END IF;
  FOR v_key IN SELECT jsonb_object_keys(p_c) LOOP
    IF v_key NOT IN ('attribute', 'op', 'value', 'values') THEN
      PERFORM pgstack.flag_fail(p_where, format('unknown field "%s"', v_key));
    END IF;
  END LOOP;
  IF jsonb_typeof(p_c -> 'attribute') IS DISTINCT FROM 'string' OR p_c ->> 'attribute' = '' THEN
    PERFORM pgstack.flag_fail(p_where, 'attribute must be a non-empty string');
  END IF;
  IF v_op IN ('in', 'not_in') THEN
    IF jsonb_typeof(p_c -> 'values') IS DISTINCT FROM 'array' OR jsonb_array_length(p_c -> 'values') = 0
       OR p_c ? 'value'
       OR EXISTS (SELECT 1 FROM jsonb_array_elements(p_c -> 'values') v WHERE jsonb_typeof(v) IN ('object', 'array', 'null')) THEN
      PERFORM pgstack.flag_fail(p_where, format('%s takes "values": a non-empty array of strings, numbers or booleans', v_op));
    END IF;
    RETURN;
  END IF;
  IF p_c ? 'values' OR NOT p_c ? 'value' OR jsonb_typeof(p_c -> 'value') IN ('object', 'array', 'null') THEN
    PERFORM pgstack.flag_fail(p_where, format('%s takes "value": one string, number or boolean', coalesce(v_op, 'the operator')));
  END IF;
  CASE
    WHEN v_op IN ('equals', 'not_equals', 'contains') THEN NULL;
    WHEN v_op IN ('starts_with', 'ends_with') THEN
      IF jsonb_typeof(p_c -> 'value') <> 'string' THEN PERFORM pgstack.flag_fail(p_where, v_op || ' compares with a string'); END IF;
    WHEN v_op IN ('lt', 'lte', 'gt', 'gte') THEN
      IF jsonb_typeof(p_c -> 'value') <> 'number' THEN PERFORM pgstack.flag_fail(p_where, v_op || ' compares with a number'); END IF;
    WHEN v_op IN ('semver_eq', 'semver_lt', 'semver_lte', 'semver_gt', 'semver_gte') THEN
      IF jsonb_typeof(p_c -> 'value') <> 'string'
         OR pgstack.flag_semver_compare(p_c ->> 'value', p_c ->> 'value') IS NULL THEN
        PERFORM pgstack.flag_fail(p_where, format('%s compares with a semantic version such as "2.1.0", not %s', v_op, p_c -> 'value'));
      END IF;
    ELSE
      PERFORM pgstack.flag_fail(p_where, format('unknown op %s', coalesce(quote_literal(v_op), 'NULL')),
        'Operators: equals, not_equals, in, not_in, contains, starts_with, ends_with, lt, lte, gt, gte, semver_eq, semver_lt, semver_lte, semver_gt, semver_gte.');
  END CASE;
END
$$;

-- Raises 22023 naming the first problem ("rules[2].when[1]: unknown op 'equal'").
CREATE FUNCTION pgstack.flag_check_config(p_flag pgstack.flags, p_config jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_key text;
  v_rule record;
  v_c record;
  v_part record;
  v_where text;
  v_total numeric;
BEGIN
  IF jsonb_typeof(p_config) IS DISTINCT FROM 'object' THEN
    PERFORM pgstack.flag_fail('config', 'must be a JSON object {"enabled", "rules", "default"}');
  END IF;
  FOR v_key IN SELECT jsonb_object_keys(p_config) LOOP
    IF v_key NOT IN ('enabled', 'rules', 'default') THEN
      PERFORM pgstack.flag_fail('config', format('unknown field "%s"', v_key));
    END IF;
  END LOOP;
  IF jsonb_typeof(p_config -> 'enabled') IS DISTINCT FROM 'boolean' THEN
    PERFORM pgstack.flag_fail('enabled', 'must be true or false');
  END IF;
  IF p_config ? 'default' THEN
    PERFORM pgstack.flag_check_served(p_flag, p_config -> 'default', 'default');
  END IF;
  IF p_config ? 'rules' AND jsonb_typeof(p_config -> 'rules') <> 'array' THEN
    PERFORM pgstack.flag_fail('rules', 'must be an array');
  END IF;
  FOR v_rule IN SELECT r.rule, r.n FROM jsonb_array_elements(coalesce(p_config -> 'rules', '[]')) WITH ORDINALITY r(rule, n) LOOP
    v_where := format('rules[%s]', v_rule.n);
    IF jsonb_typeof(v_rule.rule) <> 'object' THEN
      PERFORM pgstack.flag_fail(v_where, 'a rule is an object {"when", "serve" (and "percentage") or "split"}');
    END IF;
    FOR v_key IN SELECT jsonb_object_keys(v_rule.rule) LOOP
      IF v_key NOT IN ('when', 'serve', 'percentage', 'split', 'description') THEN
        PERFORM pgstack.flag_fail(v_where, format('unknown field "%s"', v_key));
      END IF;
    END LOOP;
    IF v_rule.rule ? 'when' AND jsonb_typeof(v_rule.rule -> 'when') <> 'array' THEN
      PERFORM pgstack.flag_fail(v_where || '.when', 'must be an array of constraints');
    END IF;
    FOR v_c IN SELECT c.c, c.n FROM jsonb_array_elements(coalesce(v_rule.rule -> 'when', '[]')) WITH ORDINALITY c(c, n) LOOP
      PERFORM pgstack.flag_check_constraint(v_c.c, format('%s.when[%s]', v_where, v_c.n));
    END LOOP;
    IF (v_rule.rule ? 'serve') = (v_rule.rule ? 'split') THEN
      PERFORM pgstack.flag_fail(v_where, 'a rule has either "serve" or "split"');
    END IF;
    IF v_rule.rule ? 'serve' THEN
      PERFORM pgstack.flag_check_served(p_flag, v_rule.rule -> 'serve', v_where || '.serve');
      IF v_rule.rule ? 'percentage' THEN
        PERFORM pgstack.flag_check_share(v_rule.rule -> 'percentage', v_where || '.percentage');
      END IF;
    ELSE
      IF v_rule.rule ? 'percentage' THEN
        PERFORM pgstack.flag_fail(v_where, 'a split rule has weights, not a percentage');
      END IF;
      IF jsonb_typeof(v_rule.rule -> 'split') <> 'array' OR jsonb_array_length(v_rule.rule -> 'split') = 0 THEN
        PERFORM pgstack.flag_fail(v_where || '.split', 'must be a non-empty array of {"value", "weight"}');
      END IF;
      v_total := 0;
      FOR v_part IN SELECT s.p, s.n FROM jsonb_array_elements(v_rule.rule -> 'split') WITH ORDINALITY s(p, n) LOOP
        IF jsonb_typeof(v_part.p) <> 'object' OR (SELECT count(*) FROM jsonb_object_keys(v_part.p) k WHERE k NOT IN ('value', 'weight')) > 0 THEN
          PERFORM pgstack.flag_fail(format('%s.split[%s]', v_where, v_part.n), 'must be {"value", "weight"}');
        END IF;
        PERFORM pgstack.flag_check_served(p_flag, v_part.p -> 'value', format('%s.split[%s].value', v_where, v_part.n));
        PERFORM pgstack.flag_check_share(v_part.p -> 'weight', format('%s.split[%s].weight', v_where, v_part.n));
        v_total := v_total + (v_part.p ->> 'weight')::numeric;
      END LOOP;
      IF v_total <> 100 THEN
        PERFORM pgstack.flag_fail(v_where || '.split', format('weights add up to %s, not 100', v_total));
      END IF;
    END IF;
  END LOOP;
END
$$;

-- Every configuration is checked, also one written by hand (UPDATE flag_configs ...):
-- a config that both evaluators cannot read never reaches them.
CREATE FUNCTION pgstack.flag_check_config_row()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pgstack.flag_check_config((SELECT f FROM pgstack.flags f WHERE f.key = NEW.flag), NEW.config);
  RETURN NEW;
END
$$;
CREATE TRIGGER flag_check_config BEFORE INSERT OR UPDATE OF config ON pgstack.flag_configs
  FOR EACH ROW EXECUTE FUNCTION pgstack.flag_check_config_row();

CREATE FUNCTION pgstack.flag_create_environment(p_name text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF p_name IS NULL OR p_name !~ '^[a-z][a-z0-9_-]{0,62}$' THEN
    RAISE EXCEPTION 'flags: environment name % is not valid', coalesce(quote_literal(p_name), 'NULL') USING ERRCODE = '22023',
      HINT = 'Use lower-case letters, digits, _ and -, starting with a letter.';
  END IF;
  INSERT INTO pgstack.flag_environments (name) VALUES (p_name) ON CONFLICT DO NOTHING;
END
$$;

-- Creates a flag. Boolean flags serve true or false (off: false); variant flags serve
-- one of p_variants, strings (off: the first unless p_off_value says otherwise).
CREATE FUNCTION pgstack.flag_create(p_key text, p_kind text DEFAULT 'boolean', p_variants jsonb DEFAULT NULL,
                                    p_off_value jsonb DEFAULT NULL, p_description text DEFAULT '',
                                    p_actor text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_variants jsonb;
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
  IF p_actor IS NOT NULL THEN PERFORM set_config('pgstack.actor', p_actor, true); END IF;
  INSERT INTO pgstack.flags (key, kind, variants, off_value, description)
  VALUES (p_key, p_kind, v_variants, coalesce(p_off_value, v_variants -> 0), coalesce(p_description, ''));
END
$$;

-- Sets a flag's configuration in one environment (replacing the previous one) and
-- returns its new version. Recorded in flag_changes with p_actor.
CREATE FUNCTION pgstack.flag_set(p_key text, p_environment text, p_config jsonb, p_actor text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  v_flag pgstack.flags;
  v_version bigint;
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
  IF p_actor IS NOT NULL THEN PERFORM set_config('pgstack.actor', p_actor, true); END IF;
  INSERT INTO pgstack.flag_configs AS c (flag, environment, config, updated_by)
  VALUES (p_key, p_environment, p_config, pgstack.flag_actor())
  ON CONFLICT (flag, environment) DO UPDATE
    SET config = excluded.config, version = c.version + 1, updated_at = now(), updated_by = excluded.updated_by
  RETURNING c.version INTO v_version;
  RETURN v_version;
END
$$;

CREATE FUNCTION pgstack.flag_delete(p_key text, p_actor text DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF p_actor IS NOT NULL THEN PERFORM set_config('pgstack.actor', p_actor, true); END IF;
  DELETE FROM pgstack.flags WHERE key = p_key;
  RETURN FOUND;
END
$$;

-- Every flag with its state in one environment.
CREATE FUNCTION pgstack.flag_list(p_environment text)
RETURNS TABLE (key text, kind text, enabled boolean, rules integer, version bigint, updated_at timestamptz,
               updated_by text, description text)
LANGUAGE sql STABLE AS $$
  SELECT f.key, f.kind, coalesce((c.config -> 'enabled')::boolean, false),
         coalesce(jsonb_array_length(c.config -> 'rules'), 0), c.version, coalesce(c.updated_at, f.updated_at),
         c.updated_by, f.description
  FROM pgstack.flags f
  LEFT JOIN pgstack.flag_configs c ON c.flag = f.key AND c.environment = p_environment
  ORDER BY f.key
$$;

-- A flag's changes, newest first.
CREATE FUNCTION pgstack.flag_history(p_key text, p_limit integer DEFAULT 50)
RETURNS TABLE (id bigint, environment text, changed_by text, changed_at timestamptz, before jsonb, after jsonb)
LANGUAGE sql STABLE AS $$
  SELECT h.id, h.environment, h.changed_by, h.changed_at, h.before, h.after
  FROM pgstack.flag_changes h WHERE h.flag = p_key ORDER BY h.id DESC LIMIT p_limit
$$;

-- Everything a FlagClient needs for one environment, in one row per flag.
CREATE FUNCTION pgstack.flag_snapshot(p_environment text)
RETURNS TABLE (key text, kind text, off_value jsonb, config jsonb, version bigint)
LANGUAGE sql STABLE AS $$
  SELECT f.key, f.kind, f.off_value, c.config, c.version
  FROM pgstack.flags f
  LEFT JOIN pgstack.flag_configs c ON c.flag = f.key AND c.environment = p_environment
$$;
