-- The ratelimit module's SQL API (docs/ratelimit.md), pinned in SQL: GCRA limits, one
-- statement per decision, exact across connections.
-- Run as the stack's application role `app` (a member of readwrite), in one transaction
-- that is rolled back. How to run it: docs/testing.md, "SQL-level tests (pgTAP)".
-- rate_limit decides on the wall clock (clock_timestamp()), so a decision inside a long
-- transaction is still made at the real time; the times it returns are checked within
-- a second of what the arithmetic says.
BEGIN;
SELECT plan(34);

-- ---- the API: what exists, and who may call it ------------------------------------
CREATE TEMP TABLE api (fn name, args name[], reads boolean);
INSERT INTO api VALUES
  ('rate_limit', '{text,integer,interval,integer,integer}', false),
  ('rate_limit_reset', '{text}', false);
SELECT function_returns('pgstack', 'rate_limit', '{text,integer,interval,integer,integer}'::name[], 'setof record');
-- readwrite may call both; readonly (which writes nothing) neither; PUBLIC none; and no
-- other rate-limit function, an internal helper, is executable by readwrite or readonly
-- (pgstack/schema/testing/api_privileges.sql). The sweep (rate_limit_sweep) is a
-- maintenance task, run as the owner by pgstack.maintain() only; the table is read by
-- the application roles, written only through the functions.
SELECT * FROM pgstack_tap.api_privileges('ratelimit', '^rate_limit');
SELECT table_privs_are('pgstack', 'rate_limits', 'readwrite', '{SELECT}'::name[]);
SELECT throws_ok($$DELETE FROM pgstack.rate_limits$$, '42501', 'permission denied for table rate_limits',
                 'app cannot reset every limit by hand');
-- Unlogged: no WAL per decision (and a crash empties it: limits fail open once).
SELECT is((SELECT relpersistence FROM pg_class WHERE oid = 'pgstack.rate_limits'::regclass), 'u',
          'pgstack.rate_limits is unlogged');

-- ---- decisions -------------------------------------------------------------------
-- 10 per hour (T = 6 minutes), burst 10 by default: a fresh key allows 10 at once,
-- then refuses until one T has passed.
SELECT results_eq($$SELECT allowed, remaining, retry_after FROM pgstack.rate_limit('ip:203.0.113.7', 10, interval '1 hour')$$,
                  $$VALUES (true, 9, interval '0')$$, 'a fresh key: allowed, 9 of 10 left');
-- (One call per row of generate_series: a set-returning function in the select list.)
SELECT results_eq($$SELECT count(*) FILTER (WHERE (d).allowed), min((d).remaining)
                      FROM (SELECT pgstack.rate_limit('ip:203.0.113.7', 10, interval '1 hour') AS d
                              FROM generate_series(1, 9)) nine$$,
                  $$VALUES (9::bigint, 0)$$, 'the burst: 9 more are allowed, down to 0 left');
CREATE TEMP TABLE refused AS SELECT * FROM pgstack.rate_limit('ip:203.0.113.7', 10, interval '1 hour');
SELECT results_eq($$SELECT allowed, remaining FROM refused$$, $$VALUES (false, 0)$$, 'the 11th is refused');
SELECT ok((SELECT retry_after BETWEEN interval '5 minutes 59 seconds' AND interval '6 minutes' FROM refused),
          'retry_after: when one request is allowed again (T = 6 minutes)');
SELECT ok((SELECT reset_after BETWEEN interval '59 minutes 59 seconds' AND interval '1 hour' FROM refused),
          'reset_after: when the bucket is full again (10 T)');
SELECT is((SELECT allowed FROM pgstack.rate_limit('ip:203.0.113.8', 10, interval '1 hour')), true,
          'keys are independent');

-- burst and cost: a request may count for more than one; cost 0 only looks.
SELECT results_eq($$SELECT allowed, remaining FROM pgstack.rate_limit('user:42:export', 10, interval '1 hour', burst => 2)$$,
                  $$VALUES (true, 1)$$, 'burst 2: one left after the first');
SELECT results_eq($$SELECT allowed, remaining FROM pgstack.rate_limit('user:42:export', 10, interval '1 hour', burst => 2, cost => 0)$$,
                  $$VALUES (true, 1)$$, 'cost 0 only looks');
SELECT results_eq($$SELECT allowed, remaining FROM pgstack.rate_limit('user:42:export', 10, interval '1 hour', burst => 2, cost => 2)$$,
                  $$VALUES (false, 1)$$, 'a request of cost 2 does not fit in what is left');
SELECT results_eq($$SELECT allowed, remaining FROM pgstack.rate_limit('user:42:export', 10, interval '1 hour', burst => 2)$$,
                  $$VALUES (true, 0)$$, '... and a refused request took nothing');

-- rate_limit_reset forgets a key: its next request finds a full bucket.
SELECT is(pgstack.rate_limit_reset('ip:203.0.113.7'), true, 'rate_limit_reset');
SELECT is((SELECT remaining FROM pgstack.rate_limit('ip:203.0.113.7', 10, interval '1 hour')), 9, '... the bucket is full again');
SELECT is(pgstack.rate_limit_reset('never-seen'), false, 'rate_limit_reset of an unknown key is false');

-- ---- bad input raises 22023 and changes nothing ----------------------------------
SELECT throws_ok($$SELECT pgstack.rate_limit('k', 0, interval '1 minute')$$, '22023', 'ratelimit: rate 0 per 00:01:00 is not valid');
SELECT throws_ok($$SELECT pgstack.rate_limit('k', 10, interval '0')$$, '22023', 'ratelimit: rate 10 per 00:00:00 is not valid');
SELECT throws_ok($$SELECT pgstack.rate_limit('', 10, interval '1 minute')$$, '22023', 'ratelimit: key of 0 bytes is not valid');
SELECT throws_ok($$SELECT pgstack.rate_limit(repeat('k', 1025), 10, interval '1 minute')$$, '22023',
                 'ratelimit: key of 1025 bytes is not valid');
SELECT throws_ok($$SELECT pgstack.rate_limit('k', 10, interval '1 minute', cost => 11)$$, '22023',
                 'ratelimit: cost 11 with burst 10 is not valid', 'a cost above the burst could never pass');
SELECT is_empty($$SELECT * FROM pgstack.rate_limits WHERE key = 'k'$$, 'the refused calls left no row');

-- ---- the sweep -------------------------------------------------------------------
-- A key whose bucket is full again is the same as no row; the maintenance task
-- rate_limit_sweep (run through pgstack.maintain(), which readwrite may call) removes it.
SELECT is((SELECT allowed FROM pgstack.rate_limit('t:sweep', 1000, interval '1 millisecond')), true, 'a key that refills in 1 µs');
SELECT pg_sleep(0.01);
SELECT is((SELECT error FROM pgstack.maintain() WHERE task = 'rate_limit_sweep'), NULL, 'maintain() runs rate_limit_sweep');
SELECT is_empty($$SELECT * FROM pgstack.rate_limits WHERE key = 't:sweep'$$, '... which removed the full bucket');

SELECT * FROM finish();
ROLLBACK;
