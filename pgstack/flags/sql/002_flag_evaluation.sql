-- Evaluating a flag in SQL. pgstack/flags/evaluator.cc does the same in C++; the two
-- must agree for every subject and attribute set (flags_test checks them side by side).

-- The rollout bucket of a subject for a flag, 0..99999 (steps of 0.001%): FNV-1a
-- (32 bits) over the UTF-8 bytes of flag || ':' || subject, then an xor-shift-multiply
-- finaliser so that similar subjects ("user-1", "user-2") spread evenly; the top bits
-- pick the bucket. Keyed by the flag too, so one subject is not in the first 10% of
-- every flag. Arithmetic stays within bigint: each product is below 2^63.
CREATE FUNCTION pgstack.flag_bucket(p_flag text, p_subject text)
RETURNS integer LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
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
CREATE FUNCTION pgstack.flag_semver_compare(p_a text, p_b text)
RETURNS integer LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
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
CREATE FUNCTION pgstack.flag_constraint_matches(p_constraint jsonb, p_attributes jsonb)
RETURNS boolean LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
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
CREATE FUNCTION pgstack.flag_evaluation(p_flag text, p_environment text, p_subject text DEFAULT '',
                                        p_attributes jsonb DEFAULT '{}')
RETURNS TABLE (value jsonb, reason text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
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

CREATE FUNCTION pgstack.flag_evaluate(p_flag text, p_environment text, p_subject text DEFAULT '',
                                      p_attributes jsonb DEFAULT '{}')
RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT e.value FROM pgstack.flag_evaluation(p_flag, p_environment, p_subject, p_attributes) e
$$;
