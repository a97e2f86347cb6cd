-- The sessions module's SQL API (docs/sessions.md), pinned in SQL: login sessions whose
-- tokens are shown once and stored hashed, with idle and absolute expiry.
-- Run as the stack's application role `app` (a member of readwrite), in one transaction
-- that is rolled back. How to run it: docs/testing.md, "SQL-level tests (pgTAP)".
-- Expiry by the passing of time is not tested here (now() stands still inside one
-- transaction): session_store_test covers it.
BEGIN;
SELECT plan(69);

-- ---- the API: what exists, and who may call it ------------------------------------
CREATE TEMP TABLE api (fn name, args name[], reads boolean);
INSERT INTO api VALUES
  ('session_create', '{text,jsonb,interval,interval}', false),
  ('session_get', '{text}', false),            -- it writes: it slides the idle expiry
  ('session_touch', '{text}', false),
  ('session_set_data', '{text,jsonb}', false),
  ('session_destroy', '{text}', false),
  ('session_list', '{text}', true),
  ('session_revoke', '{bigint}', false),
  ('session_revoke_all', '{text,text}', false);

-- readwrite may call every one; readonly only the reads; PUBLIC none; and no other
-- sessions function, an internal helper, is executable by readwrite or readonly
-- (pgstack/schema/testing/api_privileges.sql).
SELECT * FROM pgstack_tap.api_privileges('sessions', '^session_');
-- The sweep is a maintenance task, run as the owner by pgstack.maintain() only.
SELECT throws_ok('SELECT pgstack.session_sweep()', '42501', 'permission denied for function session_sweep');
-- The table is read by the application roles and written only through the functions,
-- so no application role can plant or rewrite a session by hand.
SELECT table_privs_are('pgstack', 'sessions', 'readwrite', '{SELECT}'::name[]);
SELECT table_privs_are('pgstack', 'sessions', 'readonly', '{SELECT}'::name[]);
SELECT throws_ok($$UPDATE pgstack.sessions SET expires_at = now() + interval '100 years'$$, '42501',
                 'permission denied for table sessions', 'app cannot extend a session by hand');
SELECT throws_ok($$INSERT INTO pgstack.sessions (token_hash, user_id, expires_at) VALUES ('\x00', 'mallory', now())$$,
                 '42501', 'permission denied for table sessions', 'app cannot plant a session');

-- ---- create: a token shown once, stored hashed -----------------------------------
-- 256 random bits as 43 characters of base64url; the table keeps only its SHA-256.
CREATE TEMP TABLE phone AS
  SELECT * FROM pgstack.session_create('user-42', '{"device": "phone"}', interval '30 minutes', interval '7 days');
CREATE TEMP TABLE laptop AS SELECT * FROM pgstack.session_create('user-42', '{"device": "laptop"}');
CREATE TEMP TABLE other AS SELECT * FROM pgstack.session_create('user-7');
SELECT matches((SELECT token FROM phone), '^[A-Za-z0-9_-]{43}$', 'the token is 43 characters of base64url');
SELECT isnt((SELECT token FROM phone), (SELECT token FROM laptop), 'every session has a token of its own');
SELECT is((SELECT expires_at FROM phone), now() + interval '7 days', 'expires_at is the absolute timeout from now');
SELECT is((SELECT expires_at FROM laptop), now() + interval '30 days', '... 30 days by default');
SELECT is((SELECT token_hash FROM pgstack.sessions WHERE id = (SELECT session_id FROM phone)),
          sha256(convert_to((SELECT token FROM phone), 'UTF8')), 'the table holds the token''s SHA-256');
SELECT is_empty($$SELECT 1 FROM pgstack.sessions s, phone WHERE strpos(to_jsonb(s)::text, phone.token) > 0$$,
                'the token itself is stored nowhere in the row');

-- ---- get: the session of a valid token, or no row --------------------------------
SELECT results_eq($$SELECT session_id, user_id, data FROM pgstack.session_get((SELECT token FROM phone))$$,
                  $$SELECT session_id, 'user-42'::text, '{"device": "phone"}'::jsonb FROM phone$$,
                  'session_get returns the session of a token');
-- Valid until the earlier of idle and absolute expiry.
SELECT is((SELECT valid_until FROM pgstack.session_get((SELECT token FROM phone))), now() + interval '30 minutes',
          'valid_until: the idle timeout when it comes first');
CREATE TEMP TABLE short AS SELECT * FROM pgstack.session_create('user-9', '{}', interval '2 hours', interval '1 hour');
SELECT is((SELECT valid_until FROM pgstack.session_get((SELECT token FROM short))), now() + interval '1 hour',
          '... the absolute timeout when it comes first');
CREATE TEMP TABLE kiosk AS SELECT * FROM pgstack.session_create('user-9', '{}', idle_timeout => NULL);
SELECT is((SELECT valid_until FROM pgstack.session_get((SELECT token FROM kiosk))), now() + interval '30 days',
          'NULL idle_timeout: never idles out, only the absolute expiry holds');
SELECT is_empty($$SELECT * FROM pgstack.session_get('not-a-token')$$, 'an unknown token gives no row');
SELECT is_empty($$SELECT * FROM pgstack.session_get(NULL)$$, '... nor does NULL');

-- ---- touch and data --------------------------------------------------------------
SELECT is(pgstack.session_touch((SELECT token FROM phone)), true, 'session_touch marks a valid session seen');
SELECT is(pgstack.session_touch('not-a-token'), false, '... and is false for an unknown token');
SELECT is(pgstack.session_set_data((SELECT token FROM phone), '{"cart": [1, 2]}'), true, 'session_set_data');
SELECT is((SELECT data FROM pgstack.session_get((SELECT token FROM phone))), '{"cart": [1, 2]}'::jsonb,
          '... replaces the data (not merges)');
SELECT is(pgstack.session_set_data('not-a-token', '{}'), false, '... false for an unknown token');
SELECT throws_ok($$SELECT pgstack.session_set_data((SELECT token FROM phone), '[1, 2]')$$, '22023',
                 'sessions: data must be a JSON object');

-- ---- bad input raises 22023 and writes nothing -----------------------------------
SELECT throws_ok($$SELECT pgstack.session_create('')$$, '22023', 'sessions: user id of 0 bytes is not valid');
SELECT throws_ok($$SELECT pgstack.session_create(repeat('u', 257))$$, '22023', 'sessions: user id of 257 bytes is not valid');
SELECT throws_ok($$SELECT pgstack.session_create(NULL)$$, '22023', 'sessions: user id of NULL bytes is not valid');
SELECT throws_ok($$SELECT pgstack.session_create('u', '{}', interval '0')$$, '22023',
                 'sessions: timeouts must be positive (idle 00:00:00, absolute 30 days)');
SELECT throws_ok($$SELECT pgstack.session_create('u', '{}', absolute_timeout => interval '-1 day')$$, '22023',
                 'sessions: timeouts must be positive (idle 00:30:00, absolute -1 days)');
SELECT throws_ok($$SELECT pgstack.session_create('u', '"text"')$$, '22023', 'sessions: data must be a JSON object');
SELECT is((SELECT count(*) FROM pgstack.sessions WHERE user_id = 'u'), 0::bigint, 'none of the refused calls made a session');

-- ---- list, revoke, destroy -------------------------------------------------------
-- session_list: a user's valid sessions, newest first; revoke ends one by id,
-- revoke_all every one but the caller's, destroy logs a token out.
SELECT results_eq($$SELECT data->>'device' FROM pgstack.session_list('user-42')$$, $$VALUES ('laptop'), (NULL)$$,
                  'session_list: newest first (the phone''s data was replaced)');
SELECT results_eq($$SELECT session_id FROM pgstack.session_list('user-42')$$,
                  $$SELECT session_id FROM laptop UNION ALL SELECT session_id FROM phone$$, '... with their ids');
SELECT is(pgstack.session_revoke((SELECT session_id FROM laptop)), true, 'session_revoke ends a session by id');
SELECT is_empty($$SELECT * FROM pgstack.session_get((SELECT token FROM laptop))$$, '... its token stops working at once');
SELECT is(pgstack.session_revoke((SELECT session_id FROM laptop)), false, '... and a second revoke is false');
CREATE TEMP TABLE tablet AS SELECT * FROM pgstack.session_create('user-42');
CREATE TEMP TABLE watch AS SELECT * FROM pgstack.session_create('user-42');
SELECT is(pgstack.session_revoke_all('user-42', except_token => (SELECT token FROM phone)), 2::bigint,
          'session_revoke_all ends every other session of the user and counts them');
SELECT results_eq($$SELECT session_id FROM pgstack.session_list('user-42')$$, $$SELECT session_id FROM phone$$,
                  '... the excepted one is left');
SELECT isnt_empty($$SELECT * FROM pgstack.session_get((SELECT token FROM other))$$, '... and other users'' sessions too');
SELECT is(pgstack.session_destroy((SELECT token FROM phone)), true, 'session_destroy logs out');
SELECT is_empty($$SELECT * FROM pgstack.session_get((SELECT token FROM phone))$$, '... the token stops working');
SELECT is(pgstack.session_destroy((SELECT token FROM phone)), false, '... and a second destroy is false');
SELECT is(pgstack.session_revoke_all('user-9'), 2::bigint, 'session_revoke_all without except_token ends all');
SELECT is_empty($$SELECT * FROM pgstack.session_list('user-9')$$, '... none is left');

SELECT * FROM finish();
ROLLBACK;
