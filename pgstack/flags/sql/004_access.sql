-- Who may do what in this module, and one convention for the whole SQL API
-- (docs/stack.md#security, schema/sql/003_access.sql):
--  * parameters take bare names, as the docs write them (kv_set(namespace, key, value,
--    ttl, mode)); functions whose parameters were p_-prefixed are made again;
--  * every function pins its search_path (pg_catalog, pgstack, pg_temp last);
--  * the tables (and the audit trail flag_changes) are the owner's: creating, setting
--    and deleting flags run as the owner, so every change goes through the checks and
--    is recorded;
--  * EXECUTE for readwrite (the API) and readonly (what only reads), never PUBLIC.

-- The functions whose parameters are renamed: dropped and made again below.
DROP FUNCTION pgstack.flag_bucket(text, text);
DROP FUNCTION pgstack.flag_semver_compare(text, text);
DROP FUNCTION pgstack.flag_constraint_matches(jsonb, jsonb);
DROP FUNCTION pgstack.flag_evaluation(text, text, text, jsonb);
DROP FUNCTION pgstack.flag_evaluate(text, text, text, jsonb);
DROP FUNCTION pgstack.flag_fail(text, text, text);
DROP FUNCTION pgstack.flag_check_share(jsonb, text);
DROP FUNCTION pgstack.flag_check_served(pgstack.flags, jsonb, text);
DROP FUNCTION pgstack.flag_check_constraint(jsonb, text);
DROP FUNCTION pgstack.flag_check_config(pgstack.flags, jsonb);
DROP FUNCTION pgstack.flag_create_environment(text);
DROP FUNCTION pgstack.flag_create(text, text, jsonb, jsonb, text, text);
DROP FUNCTION pgstack.flag_set(text, text, jsonb, text);
DROP FUNCTION pgstack.flag_delete(text, text);
DROP FUNCTION pgstack.flag_list(text);
DROP FUNCTION pgstack.flag_history(text, integer);
DROP FUNCTION pgstack.flag_snapshot(text);

-- Evaluating a flag in SQL. pgstack/flags/evaluator.cc does the same in C++; the two
-- must agree for every subject and attribute set (flags_test checks them side by side).

-- The rollout bucket of a subject for a flag, 0..99999 (steps of 0.001%): FNV-1a
-- (32 bits) over the UTF-8 bytes of flag || ':' || subject, then an xor-shift-multiply
-- finaliser so that similar subjects ("user-1", "user-2") spread evenly; the top bits
-- pick the bucket. Keyed by the flag too, so one subject is not in the first 10% of
-- every flag. Arithmetic stays within bigint: each product is below 2^63.
CREATE FUNCTION pgstack.flag_bucket(flag text, subject text)
RETURNS integer LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_flag ALIAS FOR $1;
  p_subject ALIAS FOR $2;
  v_bytes bytea := convert_to(p_flag || ':' || p_subject, 'UTF8');
  v_h bigint := 2166136261;
BEGIN
  FOR i IN 0 .. length(v_bytes) - 1 LOOP
    v_h := ((v_h # get_byte(v_bytes, i)) * 16777619) % 4294967296;
  END LOOP;
  v_h := v_h # (v_h >> 16);
  v_h := (v_h * 2146121005) % 4294967296;
  v_h := v_h # (v_h >> 15);
  RETURN ((v_h * 100000) >> 32)::integer;
END
$$;

-- Semantic versions (semver.org 2.0.0, with an optional leading v): -1, 0 or 1, or
-- NULL when either is not a version. Build metadata is ignored, a pre-release sorts
-- before its release, and pre-release identifiers compare numerically when numeric.
CREATE FUNCTION pgstack.flag_semver_compare(a text, b text)
RETURNS integer LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_a ALIAS FOR $1;
  p_b ALIAS FOR $2;
  v_pattern constant text :=
    '^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$';
  v_a text[] := regexp_match(p_a, v_pattern);
  v_b text[] := regexp_match(p_b, v_pattern);
  v_pa text[];
  v_pb text[];
  v_x text;
  v_y text;
BEGIN
  IF v_a IS NULL OR v_b IS NULL THEN RETURN NULL; END IF;
  FOR i IN 1 .. 3 LOOP
    IF v_a[i]::numeric <> v_b[i]::numeric THEN
      RETURN sign(v_a[i]::numeric - v_b[i]::numeric)::integer;
    END IF;
  END LOOP;
  IF v_a[4] IS NULL AND v_b[4] IS NULL THEN RETURN 0; END IF;
  IF v_a[4] IS NULL THEN RETURN 1; END IF;
  IF v_b[4] IS NULL THEN RETURN -1; END IF;
  v_pa := string_to_array(v_a[4], '.');
  v_pb := string_to_array(v_b[4], '.');
  FOR i IN 1 .. least(cardinality(v_pa), cardinality(v_pb)) LOOP
    v_x := v_pa[i];
    v_y := v_pb[i];
    IF v_x ~ '^[0-9]+$' AND v_y ~ '^[0-9]+$' THEN
      IF v_x::numeric <> v_y::numeric THEN RETURN sign(v_x::numeric - v_y::numeric)::integer; END IF;
    ELSIF v_x ~ '^[0-9]+$' THEN
      RETURN -1;
    ELSIF v_y ~ '^[0-9]+$' THEN
      RETURN 1;
    ELSIF v_x COLLATE "C" <> v_y COLLATE "C" THEN
      RETURN CASE WHEN v_x COLLATE "C" < v_y COLLATE "C" THEN -1 ELSE 1 END;
    END IF;
  END LOOP;
  RETURN sign(cardinality(v_pa) - cardinality(v_pb))::integer;
END
$$;

-- Whether one constraint of a rule holds for the attributes. A missing (or null)
-- attribute satisfies no constraint, not even not_equals or not_in.
CREATE FUNCTION pgstack.flag_constraint_matches(condition jsonb, attributes jsonb)
RETURNS boolean LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_constraint ALIAS FOR $1;
  p_attributes ALIAS FOR $2;
  v_attr jsonb := p_attributes -> (p_constraint ->> 'attribute');
  v_op text := p_constraint ->> 'op';
  v_value jsonb := p_constraint -> 'value';
  v_cmp integer;
  v_a float8;
  v_b float8;
BEGIN
  IF v_attr IS NULL OR jsonb_typeof(v_attr) = 'null' THEN
    RETURN false;
  END IF;
  CASE v_op
    WHEN 'equals' THEN RETURN v_attr = v_value;
    WHEN 'not_equals' THEN RETURN v_attr <> v_value;
    WHEN 'in' THEN
      RETURN EXISTS (SELECT 1 FROM jsonb_array_elements(p_constraint -> 'values') v WHERE v = v_attr);
    WHEN 'not_in' THEN
      RETURN NOT EXISTS (SELECT 1 FROM jsonb_array_elements(p_constraint -> 'values') v WHERE v = v_attr);
    WHEN 'contains' THEN
      IF jsonb_typeof(v_attr) = 'string' AND jsonb_typeof(v_value) = 'string' THEN
        RETURN strpos(v_attr #>> '{}', v_value #>> '{}') > 0;
      ELSIF jsonb_typeof(v_attr) = 'array' THEN
        RETURN EXISTS (SELECT 1 FROM jsonb_array_elements(v_attr) e WHERE e = v_value);
      END IF;
      RETURN false;
    WHEN 'starts_with' THEN
      RETURN jsonb_typeof(v_attr) = 'string' AND starts_with(v_attr #>> '{}', v_value #>> '{}');
    WHEN 'ends_with' THEN
      RETURN jsonb_typeof(v_attr) = 'string'
        AND right(v_attr #>> '{}', length(v_value #>> '{}')) = v_value #>> '{}';
    WHEN 'lt', 'lte', 'gt', 'gte' THEN
      IF jsonb_typeof(v_attr) <> 'number' THEN RETURN false; END IF;
      -- float8 on both sides, as the C++ evaluator compares doubles.
      v_a := (v_attr #>> '{}')::float8;
      v_b := (v_value #>> '{}')::float8;
      RETURN CASE v_op WHEN 'lt' THEN v_a < v_b WHEN 'lte' THEN v_a <= v_b WHEN 'gt' THEN v_a > v_b ELSE v_a >= v_b END;
    WHEN 'semver_eq', 'semver_lt', 'semver_lte', 'semver_gt', 'semver_gte' THEN
      IF jsonb_typeof(v_attr) <> 'string' THEN RETURN false; END IF;
      v_cmp := pgstack.flag_semver_compare(v_attr #>> '{}', v_value #>> '{}');
      IF v_cmp IS NULL THEN RETURN false; END IF;
      RETURN CASE v_op WHEN 'semver_eq' THEN v_cmp = 0 WHEN 'semver_lt' THEN v_cmp < 0 WHEN 'semver_lte' THEN v_cmp <= 0
                       WHEN 'semver_gt' THEN v_cmp > 0 ELSE v_cmp >= 0 END;
    ELSE
      RETURN false;  -- flag_set refuses unknown operators; nothing else writes configs
  END CASE;
END
$$;

-- The value a flag serves a subject in an environment, and why:
--   'no_config' / 'disabled'  the flag's off value
--   'rule N'                  rule N (from 1) matched (and the subject is in its percentage)
--   'rule N split'            rule N matched; its split chose the value by the subject's bucket
--   'default'                 no rule matched: the environment's default; without one, the
--                             off value, or true for a boolean flag that has no rules
CREATE FUNCTION pgstack.flag_evaluation(flag text, environment text, subject text DEFAULT '', attributes jsonb DEFAULT '{}')
RETURNS TABLE (value jsonb, reason text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_flag ALIAS FOR $1;
  p_environment ALIAS FOR $2;
  p_subject ALIAS FOR $3;
  p_attributes ALIAS FOR $4;
  v_flag pgstack.flags;
  v_config jsonb;
  v_rule record;
  v_constraint jsonb;
  v_matches boolean;
  v_bucket integer;
  v_threshold numeric;
  v_variant record;
BEGIN
  SELECT * INTO v_flag FROM pgstack.flags f WHERE f.key = p_flag;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'flags: flag % does not exist', coalesce(quote_literal(p_flag), 'NULL') USING ERRCODE = '42704',
      HINT = 'pgstack flags list shows the flags; create one with pgstack.flag_create.';
  END IF;
  PERFORM 1 FROM pgstack.flag_environments e WHERE e.name = p_environment;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'flags: environment % does not exist', coalesce(quote_literal(p_environment), 'NULL')
      USING ERRCODE = '42704', HINT = 'Environments: select name from pgstack.flag_environments.';
  END IF;
  IF p_attributes IS NOT NULL AND jsonb_typeof(p_attributes) <> 'object' THEN
    RAISE EXCEPTION 'flags: attributes must be a JSON object' USING ERRCODE = '22023';
  END IF;
  SELECT c.config INTO v_config FROM pgstack.flag_configs c WHERE c.flag = p_flag AND c.environment = p_environment;
  IF NOT FOUND THEN
    value := v_flag.off_value; reason := 'no_config'; RETURN NEXT; RETURN;
  END IF;
  IF NOT (v_config -> 'enabled')::boolean THEN
    value := v_flag.off_value; reason := 'disabled'; RETURN NEXT; RETURN;
  END IF;
  v_bucket := pgstack.flag_bucket(p_flag, coalesce(p_subject, ''));
  FOR v_rule IN SELECT r.rule, r.n FROM jsonb_array_elements(coalesce(v_config -> 'rules', '[]')) WITH ORDINALITY AS r(rule, n)
                ORDER BY r.n LOOP
    v_matches := true;
    FOR v_constraint IN SELECT c FROM jsonb_array_elements(coalesce(v_rule.rule -> 'when', '[]')) c LOOP
      IF NOT pgstack.flag_constraint_matches(v_constraint, coalesce(p_attributes, '{}')) THEN
        v_matches := false;
        EXIT;
      END IF;
    END LOOP;
    CONTINUE WHEN NOT v_matches;
    IF v_rule.rule ? 'split' THEN
      v_threshold := 0;
      FOR v_variant IN SELECT s.part, s.n FROM jsonb_array_elements(v_rule.rule -> 'split') WITH ORDINALITY AS s(part, n)
                       ORDER BY s.n LOOP
        v_threshold := v_threshold + (v_variant.part ->> 'weight')::numeric * 1000;
        IF v_bucket < v_threshold THEN
          value := v_variant.part -> 'value'; reason := 'rule ' || v_rule.n || ' split'; RETURN NEXT; RETURN;
        END IF;
      END LOOP;
    ELSIF NOT v_rule.rule ? 'percentage' OR v_bucket < (v_rule.rule ->> 'percentage')::numeric * 1000 THEN
      value := v_rule.rule -> 'serve'; reason := 'rule ' || v_rule.n; RETURN NEXT; RETURN;
    END IF;
  END LOOP;
  -- Without a default: an enabled boolean flag with no rules is on for everyone
  -- ({"enabled": true} alone turns it on); with rules, whoever no rule serves gets the off value.
  value := coalesce(v_config -> 'default',
                    CASE WHEN v_flag.kind = 'boolean' AND jsonb_array_length(coalesce(v_config -> 'rules', '[]')) = 0
                         THEN 'true'::jsonb ELSE v_flag.off_value END);
  reason := 'default';
  RETURN NEXT;
END
$$;

CREATE FUNCTION pgstack.flag_evaluate(flag text, environment text, subject text DEFAULT '', attributes jsonb DEFAULT '{}')
RETURNS jsonb LANGUAGE sql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT e.value FROM pgstack.flag_evaluation(flag_evaluate.flag, flag_evaluate.environment, flag_evaluate.subject, flag_evaluate.attributes) e
$$;

-- Creating, configuring and listing flags. Every configuration is checked in full
-- before it is stored: a config that flag_set accepts is one both evaluators read.

CREATE FUNCTION pgstack.flag_fail(path text, what text, hint text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_where ALIAS FOR $1;
  p_what ALIAS FOR $2;
  p_hint ALIAS FOR $3;
BEGIN
  RAISE EXCEPTION 'flags: %: %', p_where, p_what USING ERRCODE = '22023',
    HINT = coalesce(p_hint, 'docs/flags.md describes the configuration format.');
END
$$;

-- A percentage or weight: a number from 0 to 100 with at most three decimals (the
-- buckets are steps of 0.001%).
CREATE FUNCTION pgstack.flag_check_share(value jsonb, path text)
RETURNS void LANGUAGE plpgsql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_value ALIAS FOR $1;
  p_where ALIAS FOR $2;
BEGIN
  IF p_value IS NULL OR jsonb_typeof(p_value) <> 'number' OR (p_value #>> '{}')::numeric NOT BETWEEN 0 AND 100
     OR (p_value #>> '{}')::numeric <> round((p_value #>> '{}')::numeric, 3) THEN
    PERFORM pgstack.flag_fail(p_where, format('%s is not a number from 0 to 100 with at most 3 decimals', coalesce(p_value::text, 'nothing')));
  END IF;
END
$$;

CREATE FUNCTION pgstack.flag_check_served(flag pgstack.flags, value jsonb, path text)
RETURNS void LANGUAGE plpgsql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_flag ALIAS FOR $1;
  p_value ALIAS FOR $2;
  p_where ALIAS FOR $3;
BEGIN
  IF p_value IS NULL OR NOT p_flag.variants @> jsonb_build_array(p_value) THEN
    PERFORM pgstack.flag_fail(p_where, format('%s is not one of the flag''s values %s', coalesce(p_value::text, 'nothing'), p_flag.variants));
  END IF;
END
$$;

CREATE FUNCTION pgstack.flag_check_constraint(condition jsonb, path text)
RETURNS void LANGUAGE plpgsql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_c ALIAS FOR $1;
  p_where ALIAS FOR $2;
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
CREATE FUNCTION pgstack.flag_check_config(flag pgstack.flags, config jsonb)
RETURNS void LANGUAGE plpgsql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_flag ALIAS FOR $1;
  p_config ALIAS FOR $2;
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

CREATE FUNCTION pgstack.flag_create_environment(name text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_name ALIAS FOR $1;
BEGIN
  IF p_name IS NULL OR p_name !~ '^[a-z][a-z0-9_-]{0,62}$' THEN
    RAISE EXCEPTION 'flags: environment name % is not valid', coalesce(quote_literal(p_name), 'NULL') USING ERRCODE = '22023',
      HINT = 'Use lower-case letters, digits, _ and -, starting with a letter.';
  END IF;
  INSERT INTO pgstack.flag_environments (name) VALUES (p_name) ON CONFLICT DO NOTHING;
END
$$;

-- Creates a flag. Boolean flags serve true or false (off: false); variant flags serve
-- one of variants, strings (off: the first unless off_value says otherwise).
CREATE FUNCTION pgstack.flag_create(key text, kind text DEFAULT 'boolean', variants jsonb DEFAULT NULL, off_value jsonb DEFAULT NULL, description text DEFAULT '', actor text DEFAULT NULL)
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
-- returns its new version. Recorded in flag_changes with actor.
CREATE FUNCTION pgstack.flag_set(key text, environment text, config jsonb, actor text DEFAULT NULL)
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

CREATE FUNCTION pgstack.flag_delete(key text, actor text DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_key ALIAS FOR $1;
  p_actor ALIAS FOR $2;
BEGIN
  IF p_actor IS NOT NULL THEN PERFORM set_config('pgstack.actor', p_actor, true); END IF;
  DELETE FROM pgstack.flags WHERE key = p_key;
  RETURN FOUND;
END
$$;

-- Every flag with its state in one environment.
CREATE FUNCTION pgstack.flag_list(environment text)
RETURNS TABLE (key text, kind text, enabled boolean, rules integer, version bigint, updated_at timestamptz,
               updated_by text, description text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT f.key, f.kind, coalesce((c.config -> 'enabled')::boolean, false),
         coalesce(jsonb_array_length(c.config -> 'rules'), 0), c.version, coalesce(c.updated_at, f.updated_at),
         c.updated_by, f.description
  FROM pgstack.flags f
  LEFT JOIN pgstack.flag_configs c ON c.flag = f.key AND c.environment = flag_list.environment
  ORDER BY f.key
$$;

-- A flag's changes, newest first.
CREATE FUNCTION pgstack.flag_history(key text, max_rows integer DEFAULT 50)
RETURNS TABLE (id bigint, environment text, changed_by text, changed_at timestamptz, before jsonb, after jsonb)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT h.id, h.environment, h.changed_by, h.changed_at, h.before, h.after
  FROM pgstack.flag_changes h WHERE h.flag = flag_history.key ORDER BY h.id DESC LIMIT flag_history.max_rows
$$;

-- Everything a FlagClient needs for one environment, in one row per flag.
CREATE FUNCTION pgstack.flag_snapshot(environment text)
RETURNS TABLE (key text, kind text, off_value jsonb, config jsonb, version bigint)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT f.key, f.kind, f.off_value, c.config, c.version
  FROM pgstack.flags f
  LEFT JOIN pgstack.flag_configs c ON c.flag = f.key AND c.environment = flag_snapshot.environment
$$;

-- The others keep their definitions; they pin their search_path (and run as the owner where
-- they write what only the owner may write).
ALTER FUNCTION pgstack.flag_actor() SECURITY INVOKER SET search_path = pg_catalog, pgstack, pg_temp;
ALTER FUNCTION pgstack.flag_record_flag_change() SECURITY INVOKER SET search_path = pg_catalog, pgstack, pg_temp;
ALTER FUNCTION pgstack.flag_record_config_change() SECURITY INVOKER SET search_path = pg_catalog, pgstack, pg_temp;
ALTER FUNCTION pgstack.flag_check_config_row() SECURITY INVOKER SET search_path = pg_catalog, pgstack, pg_temp;

-- Who may call what: nobody by default (PUBLIC), readwrite the API, readonly the reads.
REVOKE ALL ON FUNCTION pgstack.flag_actor() FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.flag_record_flag_change() FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.flag_record_config_change() FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.flag_bucket(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.flag_semver_compare(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.flag_constraint_matches(jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.flag_evaluation(text, text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.flag_evaluate(text, text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.flag_fail(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.flag_check_share(jsonb, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.flag_check_served(pgstack.flags, jsonb, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.flag_check_constraint(jsonb, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.flag_check_config(pgstack.flags, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.flag_check_config_row() FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.flag_create_environment(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.flag_create(text, text, jsonb, jsonb, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.flag_set(text, text, jsonb, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.flag_delete(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.flag_list(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.flag_history(text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.flag_snapshot(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
  pgstack.flag_create_environment(text),
  pgstack.flag_create(text, text, jsonb, jsonb, text, text),
  pgstack.flag_set(text, text, jsonb, text),
  pgstack.flag_delete(text, text)
  TO readwrite;
GRANT EXECUTE ON FUNCTION
  pgstack.flag_actor(),
  pgstack.flag_bucket(text, text),
  pgstack.flag_semver_compare(text, text),
  pgstack.flag_constraint_matches(jsonb, jsonb),
  pgstack.flag_evaluation(text, text, text, jsonb),
  pgstack.flag_evaluate(text, text, text, jsonb),
  pgstack.flag_list(text),
  pgstack.flag_history(text, integer),
  pgstack.flag_snapshot(text)
  TO readwrite, readonly;

-- Tables: read by both roles, written only by the functions above (the audit trail by
-- their triggers).
REVOKE ALL ON pgstack.flag_environments, pgstack.flags, pgstack.flag_configs, pgstack.flag_changes
  FROM PUBLIC, readwrite, readonly;
GRANT SELECT ON pgstack.flag_environments, pgstack.flags, pgstack.flag_configs, pgstack.flag_changes
  TO readwrite, readonly;
REVOKE ALL ON SEQUENCE pgstack.flag_changes_id_seq FROM PUBLIC, readwrite, readonly;
