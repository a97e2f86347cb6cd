-- The flags module's SQL API (docs/flags.md), pinned in SQL: flags, their per-environment
-- configurations (checked in full), evaluation with rules, percentages and splits, and
-- the audit trail.
-- Run as the stack's application role `app` (a member of readwrite), in one transaction
-- that is rolled back. How to run it: docs/testing.md, "SQL-level tests (pgTAP)".
BEGIN;
SELECT plan(128);

-- ---- the API: what exists, and who may call it ------------------------------------
CREATE TEMP TABLE api (fn name, args name[], reads boolean);
INSERT INTO api VALUES
  ('flag_create', '{text,text,jsonb,jsonb,text,text}', false),
  ('flag_set', '{text,text,jsonb,text}', false),
  ('flag_delete', '{text,text}', false),
  ('flag_create_environment', '{text}', false),
  ('flag_evaluate', '{text,text,text,jsonb}', true),
  ('flag_evaluation', '{text,text,text,jsonb}', true),
  ('flag_list', '{text}', true),
  ('flag_history', '{text,integer}', true),
  ('flag_snapshot', '{text}', true),
  ('flag_bucket', '{text,text}', true),
  ('flag_semver_compare', '{text,text}', true);

-- readwrite may call every one; readonly only the reads; PUBLIC none; and no other
-- flags function, an internal helper, is executable by readwrite or readonly
-- (pgstack/schema/testing/api_privileges.sql).
SELECT * FROM pgstack_tap.api_privileges('flags', '^flag_');
-- (The configuration checks and the audit triggers are internal helpers: flag_set runs
-- the checks as the owner.)
-- Tables are read by the application roles and changed only through the functions, so
-- every change is checked and recorded; the audit trail cannot be rewritten.
SELECT table_privs_are('pgstack', 'flags', 'readwrite', '{SELECT}'::name[]);
SELECT table_privs_are('pgstack', 'flag_configs', 'readwrite', '{SELECT}'::name[]);
SELECT table_privs_are('pgstack', 'flag_changes', 'readwrite', '{SELECT}'::name[]);
SELECT throws_ok($$DELETE FROM pgstack.flag_changes$$, '42501', 'permission denied for table flag_changes',
                 'app cannot erase the audit trail');

-- ---- environments ----------------------------------------------------------------
SELECT set_eq($$SELECT name FROM pgstack.flag_environments$$, ARRAY['development', 'staging', 'production'],
              'development, staging and production exist');
SELECT lives_ok($$SELECT pgstack.flag_create_environment('qa')$$, 'flag_create_environment');
SELECT lives_ok($$SELECT pgstack.flag_create_environment('qa')$$, '... again is a no-op');
SELECT throws_ok($$SELECT pgstack.flag_create_environment('QA env')$$, '22023', 'flags: environment name ''QA env'' is not valid');

-- ---- creating flags --------------------------------------------------------------
-- Boolean flags serve true/false (off: false); variant flags one of at least two
-- distinct strings (off: the first, unless off_value says otherwise).
SELECT lives_ok($$SELECT pgstack.flag_create('checkout.new-flow', description => 'new checkout')$$,
                'flag_create: a boolean flag');
SELECT lives_ok($$SELECT pgstack.flag_create('button-color', 'variant', '["control", "blue", "green"]')$$,
                'flag_create: a variant flag');
SELECT lives_ok($$SELECT pgstack.flag_create('banner', 'variant', '["none", "sale"]', off_value => '"sale"')$$,
                '... with an off value of its own');
SELECT results_eq($$SELECT key, kind, off_value FROM pgstack.flags ORDER BY key$$,
                  $$VALUES ('banner', 'variant', '"sale"'::jsonb), ('button-color', 'variant', '"control"'),
                           ('checkout.new-flow', 'boolean', 'false')$$,
                  'off values: false, the first variant, or the one given');
SELECT throws_ok($$SELECT pgstack.flag_create('checkout.new-flow')$$, '42710', 'flags: flag ''checkout.new-flow'' exists');
SELECT throws_ok($$SELECT pgstack.flag_create('bad key!')$$, '22023', 'flags: flag key ''bad key!'' is not valid');
SELECT throws_ok($$SELECT pgstack.flag_create('v', 'variant', '["only"]')$$, '22023',
                 'flags: variants must be an array of at least two distinct non-empty strings');
SELECT throws_ok($$SELECT pgstack.flag_create('v', 'variant', '["a", "a"]')$$, '22023',
                 'flags: variants must be an array of at least two distinct non-empty strings', '... distinct');
SELECT throws_ok($$SELECT pgstack.flag_create('v', 'number')$$, '22023', 'flags: kind ''number'' is not boolean or variant');
SELECT throws_ok($$SELECT pgstack.flag_create('v', 'variant', '["a", "b"]', off_value => '"c"')$$, '22023',
                 'flags: off value "c" is not one of ["a", "b"]');
SELECT throws_ok($$SELECT pgstack.flag_create('v', variants => '["a", "b"]')$$, '22023',
                 'flags: a boolean flag has the values true and false');
SELECT is((SELECT count(*) FROM pgstack.flags WHERE key = 'v'), 0::bigint, 'no refused flag_create made a flag');

-- ---- evaluation without rules ----------------------------------------------------
-- No configuration in an environment, or enabled false: the off value. {"enabled": true}
-- alone turns a boolean flag on for everyone.
SELECT results_eq($$SELECT value, reason FROM pgstack.flag_evaluation('checkout.new-flow', 'production', 'user-42')$$,
                  $$VALUES ('false'::jsonb, 'no_config')$$, 'no configuration: the off value');
SELECT is(pgstack.flag_set('checkout.new-flow', 'production', '{"enabled": false}'), 1::bigint, 'flag_set returns version 1');
SELECT results_eq($$SELECT value, reason FROM pgstack.flag_evaluation('checkout.new-flow', 'production', 'user-42')$$,
                  $$VALUES ('false'::jsonb, 'disabled')$$, 'disabled: the off value');
SELECT is(pgstack.flag_set('checkout.new-flow', 'production', '{"enabled": true}'), 2::bigint, '... then version 2');
SELECT results_eq($$SELECT value, reason FROM pgstack.flag_evaluation('checkout.new-flow', 'production', 'user-42')$$,
                  $$VALUES ('true'::jsonb, 'default')$$, '{"enabled": true} alone: on for everyone');
SELECT is(pgstack.flag_evaluate('checkout.new-flow', 'staging'), 'false'::jsonb, 'environments are separate');

-- ---- rules -----------------------------------------------------------------------
-- The first rule that matches decides: every constraint of its `when` holds (and the
-- subject's bucket is inside its percentage); a split picks by bucket; else `default`.
SELECT ok(pgstack.flag_set('checkout.new-flow', 'staging', $${
  "enabled": true,
  "rules": [
    {"when": [{"attribute": "country", "op": "in", "values": ["DE", "FR"]}], "serve": true},
    {"when": [{"attribute": "app_version", "op": "semver_gte", "value": "2.1.0"}], "serve": true},
    {"when": [{"attribute": "plan", "op": "not_equals", "value": "free"}], "serve": false}
  ],
  "default": false}$$) = 1, 'flag_set with rules');
SELECT results_eq($$SELECT value, reason FROM pgstack.flag_evaluation('checkout.new-flow', 'staging', 'u', '{"country": "DE"}')$$,
                  $$VALUES ('true'::jsonb, 'rule 1')$$, 'in: rule 1 matches');
SELECT results_eq($$SELECT value, reason FROM pgstack.flag_evaluation('checkout.new-flow', 'staging', 'u', '{"app_version": "v2.1.0"}')$$,
                  $$VALUES ('true'::jsonb, 'rule 2')$$, 'semver_gte, with an optional v');
SELECT results_eq($$SELECT value, reason FROM pgstack.flag_evaluation('checkout.new-flow', 'staging', 'u', '{"app_version": "2.1.0-rc.1"}')$$,
                  $$VALUES ('false'::jsonb, 'default')$$, 'a pre-release sorts before its release');
SELECT results_eq($$SELECT value, reason FROM pgstack.flag_evaluation('checkout.new-flow', 'staging', 'u', '{"country": "DE", "plan": "pro"}')$$,
                  $$VALUES ('true'::jsonb, 'rule 1')$$, 'the first matching rule decides');
SELECT results_eq($$SELECT value, reason FROM pgstack.flag_evaluation('checkout.new-flow', 'staging', 'u', '{"plan": 5}')$$,
                  $$VALUES ('false'::jsonb, 'rule 3')$$, 'not_equals is JSON inequality: 5 is not "free"');
SELECT results_eq($$SELECT value, reason FROM pgstack.flag_evaluation('checkout.new-flow', 'staging', 'u', '{}')$$,
                  $$VALUES ('false'::jsonb, 'default')$$, 'a missing attribute satisfies no constraint, not even not_equals');
SELECT results_eq($$SELECT value, reason FROM pgstack.flag_evaluation('checkout.new-flow', 'staging', 'u', '{"plan": null}')$$,
                  $$VALUES ('false'::jsonb, 'default')$$, '... nor a null one');
SELECT results_eq($$SELECT value, reason FROM pgstack.flag_evaluation('checkout.new-flow', 'staging', 'u', '{"app_version": 3}')$$,
                  $$VALUES ('false'::jsonb, 'default')$$, 'an attribute of another type satisfies no semver_ constraint');
SELECT throws_ok($$SELECT pgstack.flag_evaluate('checkout.new-flow', 'staging', 'u', '[]')$$, '22023',
                 'flags: attributes must be a JSON object');
SELECT throws_ok($$SELECT pgstack.flag_evaluate('no.such.flag', 'staging')$$, '42704', 'flags: flag ''no.such.flag'' does not exist');
SELECT throws_ok($$SELECT pgstack.flag_evaluate('checkout.new-flow', 'mars')$$, '42704', 'flags: environment ''mars'' does not exist');

-- The other operators: one flag per case, on when its single constraint holds.
CREATE TEMP TABLE op_cases (n serial, op text, operand jsonb, attribute jsonb, holds boolean);
INSERT INTO op_cases (op, operand, attribute, holds) VALUES
  ('equals', '"pro"', '"pro"', true), ('equals', '"5"', '5', false),
  ('not_in', '["DE"]', '"FR"', true), ('not_in', '["DE"]', '"DE"', false),
  ('contains', '"@example.com"', '"a@example.com"', true), ('contains', '"beta"', '["alpha", "beta"]', true),
  ('contains', '"x"', '"abc"', false),
  ('starts_with', '"user-"', '"user-42"', true), ('starts_with', '"user-"', '42', false),
  ('ends_with', '".de"', '"shop.de"', true),
  ('lt', '10', '9.5', true), ('lt', '10', '"9"', false), ('lte', '10', '10', true),
  ('gt', '10', '11', true), ('gte', '10', '9', false),
  ('semver_eq', '"1.0.0"', '"1.0.0+build.7"', true), ('semver_lt', '"1.10.0"', '"1.9.0"', true),
  ('semver_lte', '"1.0.0"', '"1.0.0"', true), ('semver_gt', '"1.0.0"', '"1.0.0-alpha"', false);
CREATE TEMP TABLE op_flags AS
  SELECT pgstack.flag_create('op.' || n) IS NULL AS created,
         pgstack.flag_set('op.' || n, 'qa', jsonb_build_object('enabled', true, 'default', false, 'rules', jsonb_build_array(
           jsonb_build_object('serve', true, 'when', jsonb_build_array(jsonb_build_object(
             'attribute', 'a', 'op', op, CASE WHEN op IN ('in', 'not_in') THEN 'values' ELSE 'value' END, operand)))))) AS version
    FROM op_cases ORDER BY n;
SELECT is(pgstack.flag_evaluate('op.' || n, 'qa', 'u', jsonb_build_object('a', attribute)), to_jsonb(holds),
          format('%s %s against %s: %s', op, operand, attribute, CASE WHEN holds THEN 'holds' ELSE 'does not hold' END))
  FROM op_cases ORDER BY n;

-- ---- percentages, splits and buckets ---------------------------------------------
-- A subject's bucket (0..99,999) is fixed for a flag, so raising a percentage only adds
-- subjects; a percentage rule serves exactly the subjects whose bucket is below it.
SELECT ok(pgstack.flag_bucket('checkout.new-flow', 'user-42') BETWEEN 0 AND 99999, 'flag_bucket is 0..99,999');
SELECT is(pgstack.flag_bucket('checkout.new-flow', 'user-42'), pgstack.flag_bucket('checkout.new-flow', 'user-42'),
          '... and the same every time');
SELECT ok(pgstack.flag_set('checkout.new-flow', 'development', '{"enabled": true, "rules": [{"serve": true, "percentage": 30}]}') = 1,
          'a 30% rollout');
SELECT is_empty($$SELECT s FROM generate_series(1, 2000) s
                   WHERE pgstack.flag_evaluate('checkout.new-flow', 'development', 'user-' || s)
                         <> to_jsonb(pgstack.flag_bucket('checkout.new-flow', 'user-' || s) < 30000)$$,
                'it serves true exactly to the subjects whose bucket is below 30,000');
SELECT ok((SELECT count(*) FILTER (WHERE pgstack.flag_evaluate('checkout.new-flow', 'development', 'user-' || s) = 'true')
             FROM generate_series(1, 2000) s) BETWEEN 500 AND 700, '... about 30% of 2,000 subjects (500 to 700)');
SELECT ok((SELECT count(DISTINCT pgstack.flag_bucket('flag-' || f, 'user-42') < 10000) FROM generate_series(1, 50) f) = 2,
          'the flag key is part of the hash: one subject is not in the first 10% of every flag');
SELECT ok(pgstack.flag_set('button-color', 'production', $${"enabled": true, "rules": [
            {"when": [], "split": [{"value": "control", "weight": 50}, {"value": "blue", "weight": 50}]}]}$$) = 1,
          'a 50/50 split');
SELECT is_empty($$SELECT s FROM generate_series(1, 500) s, pgstack.flag_evaluation('button-color', 'production', 'user-' || s) e
                   WHERE e.reason <> 'rule 1 split'
                      OR e.value <> CASE WHEN pgstack.flag_bucket('button-color', 'user-' || s) < 50000 THEN '"control"' ELSE '"blue"' END::jsonb$$,
                'a split picks by bucket, in the order of its parts');
SELECT is(pgstack.flag_evaluate('button-color', 'staging', 'u'), '"control"'::jsonb, 'a variant flag''s off value');

-- Semantic versions (semver.org 2.0.0): -1, 0 or 1; NULL for something that is not one.
SELECT results_eq($$SELECT pgstack.flag_semver_compare(a, b) FROM (VALUES
                      ('1.2.3', '1.10.0'), ('v2.1.0', '2.1.0'), ('1.0.0+build', '1.0.0'), ('2.0.0', '2.0.0-rc.1'),
                      ('1.0.0-alpha', '1.0.0-alpha.1'), ('1.0.0-rc.1', '1.0.0-beta.11'), ('1.2', '1.2.0')) v(a, b)$$,
                  ARRAY[-1, 0, 0, 1, -1, 1, NULL], 'flag_semver_compare');

-- ---- configurations are checked in full ------------------------------------------
-- flag_set refuses (22023, naming the place) what neither evaluator could read, and
-- changes nothing.
SELECT throws_ok($$SELECT pgstack.flag_set('checkout.new-flow', 'staging', '{"enabled": true, "rules": [{"serve": true},
                   {"when": [{"attribute": "plan", "op": "equal", "value": "pro"}], "serve": true}]}')$$, '22023',
                 'flags: rules[2].when[1]: unknown op ''equal''');
SELECT throws_ok($$SELECT pgstack.flag_set('checkout.new-flow', 'staging', '{"enabled": "yes"}')$$, '22023',
                 'flags: enabled: must be true or false');
SELECT throws_ok($$SELECT pgstack.flag_set('checkout.new-flow', 'staging', '{"enabled": true, "rules": [{"serve": "maybe"}]}')$$,
                 '22023', 'flags: rules[1].serve: "maybe" is not one of the flag''s values [false, true]');
SELECT throws_ok($$SELECT pgstack.flag_set('button-color', 'staging', '{"enabled": true, "rules": [{"split": [{"value": "blue", "weight": 60}, {"value": "control", "weight": 30}]}]}')$$,
                 '22023', 'flags: rules[1].split: weights add up to 90, not 100');
SELECT throws_ok($$SELECT pgstack.flag_set('checkout.new-flow', 'staging', '{"enabled": true, "rules": [{"serve": true, "percentage": 10.0001}]}')$$,
                 '22023', 'flags: rules[1].percentage: 10.0001 is not a number from 0 to 100 with at most 3 decimals');
SELECT throws_ok($$SELECT pgstack.flag_set('checkout.new-flow', 'staging', '{"enabled": true, "colour": "red"}')$$,
                 '22023', 'flags: config: unknown field "colour"');
SELECT throws_ok($$SELECT pgstack.flag_set('no.such.flag', 'staging', '{"enabled": true}')$$, '42704',
                 'flags: flag ''no.such.flag'' does not exist');
SELECT throws_ok($$SELECT pgstack.flag_set('checkout.new-flow', 'mars', '{"enabled": true}')$$, '42704',
                 'flags: environment ''mars'' does not exist');
SELECT is((SELECT version FROM pgstack.flag_configs WHERE flag = 'checkout.new-flow' AND environment = 'staging'), 1::bigint,
          'the refused configurations changed nothing');

-- ---- list, snapshot, history, delete ---------------------------------------------
-- (The op.N flags above are left out.)
SELECT results_eq($$SELECT key, kind, enabled, rules, version, updated_by, description FROM pgstack.flag_list('production')
                     WHERE key NOT LIKE 'op.%'$$,
                  $$VALUES ('banner', 'variant', false, 0, NULL::bigint, NULL::text, ''),
                           ('button-color', 'variant', true, 1, 1::bigint, 'app', ''),
                           ('checkout.new-flow', 'boolean', true, 0, 2::bigint, 'app', 'new checkout')$$,
                  'flag_list: every flag with its state in the environment, by key; updated_by the database role');
SELECT results_eq($$SELECT key, off_value, config->'enabled' FROM pgstack.flag_snapshot('production') WHERE key NOT LIKE 'op.%' ORDER BY key$$,
                  $$VALUES ('banner', '"sale"'::jsonb, NULL::jsonb), ('button-color', '"control"', 'true'),
                           ('checkout.new-flow', 'false', 'true')$$,
                  'flag_snapshot: what a FlagClient loads, a flag without a configuration too');
-- Every change is recorded: who (the actor given, else SET LOCAL pgstack.actor, else
-- the database role), when, before and after; newest first.
SELECT results_eq($$SELECT environment, changed_by, before FROM pgstack.flag_history('checkout.new-flow', 3)$$,
                  $$VALUES ('development', 'app', NULL::jsonb), ('staging', 'app', NULL), ('production', 'app', '{"enabled": false}')$$,
                  'flag_history: newest first, with before, up to max_rows');
SELECT results_eq($$SELECT environment, changed_by, after->>'key' FROM pgstack.flag_changes WHERE flag = 'checkout.new-flow' ORDER BY id LIMIT 1$$,
                  $$VALUES (NULL::text, 'app', 'checkout.new-flow')$$, 'the creation is recorded (environment NULL: the flag itself)');
SELECT is(pgstack.flag_set('checkout.new-flow', 'production', '{"enabled": false}', actor => 'bob'), 3::bigint, 'a change by bob');
SELECT is((SELECT changed_by FROM pgstack.flag_history('checkout.new-flow', 1)), 'bob', '... is recorded as bob''s');
SELECT is(pgstack.flag_set('checkout.new-flow', 'production', '{"enabled": true}'), 4::bigint, 'the next change, without an actor');
SELECT is((SELECT changed_by FROM pgstack.flag_history('checkout.new-flow', 1)), 'app',
          '... is the database role''s: an actor holds for its own call only');
SET LOCAL pgstack.actor = 'carol';
SELECT is(pgstack.flag_set('checkout.new-flow', 'production', '{"enabled": false}'), 5::bigint, 'a change under SET LOCAL pgstack.actor');
SELECT is((SELECT changed_by FROM pgstack.flag_history('checkout.new-flow', 1)), 'carol', '... is recorded as carol''s');
SELECT is(pgstack.flag_set('banner', 'staging', '{"enabled": true}'), 1::bigint, 'banner gets a configuration');
SELECT is(pgstack.flag_delete('banner', actor => 'dave'), true, 'flag_delete');
SELECT is(pgstack.flag_delete('banner'), false, '... false when there is no such flag');
SELECT results_eq($$SELECT changed_by, before->>'key', after FROM pgstack.flag_history('banner', 1)$$,
                  $$VALUES ('dave', 'banner', NULL::jsonb)$$, 'the deletion stays in the history');
SELECT is_empty($$SELECT * FROM pgstack.flag_configs WHERE flag = 'banner'$$, '... and its configurations are gone');
SELECT is(pgstack.flag_set('checkout.new-flow', 'production', '{"enabled": true}'), 6::bigint, 'a change after dave''s call');
SELECT is((SELECT changed_by FROM pgstack.flag_history('checkout.new-flow', 1)), 'carol',
          '... is carol''s again: the SET LOCAL is back once a call with its own actor returns');

SELECT * FROM finish();
ROLLBACK;
