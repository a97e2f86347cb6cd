-- The kv module's SQL API (docs/kv.md), pinned in SQL: keys and values with expiry,
-- counters, leased locks, cache entries, namespaces, and who may call what.
-- Run as the stack's application role `app` (a member of readwrite), in one transaction
-- that is rolled back: nothing stays behind. How to run it: docs/testing.md,
-- "SQL-level tests (pgTAP)".
BEGIN;
SELECT plan(205);

-- ---- the API: what exists, and who may call it ------------------------------------
-- Every function docs/kv.md lists, with its argument types; `reads` marks the ones the
-- read-only role may call too.
CREATE TEMP TABLE api (fn name, args name[], reads boolean);
INSERT INTO api VALUES
  ('kv_create_namespace', '{text,boolean}', false),
  ('kv_drop_namespace', '{text}', false),
  ('kv_require_namespace', '{text}', true),
  ('kv_flush', '{text}', false),
  ('kv_get', '{text,text}', true),
  ('kv_get_text', '{text,text}', true),
  ('kv_get_json', '{text,text}', true),
  ('kv_mget', '{text,text[]}', true),
  ('kv_lookup', '{text,text[]}', true),
  ('kv_exists', '{text,text}', true),
  ('kv_ttl', '{text,text}', true),
  ('kv_keys', '{text,text,text,integer}', true),
  ('kv_set', '{text,text,bytea,interval,text}', false),
  ('kv_set', '{text,text,text,interval,text}', false),
  ('kv_set', '{text,text,jsonb,interval,text}', false),
  ('kv_mset', '{text,text[],bytea[],interval}', false),
  ('kv_delete', '{text,text}', false),
  ('kv_delete', '{text,text[]}', false),
  ('kv_incr', '{text,text,bigint,interval}', false),
  ('kv_compare_and_set', '{text,text,bytea,bytea,interval}', false),
  ('kv_expire', '{text,text,interval}', false),
  ('kv_try_lock', '{text,text,text,interval}', false),
  ('kv_unlock', '{text,text,text}', false),
  ('kv_cache_put', '{text,text,bytea,interval,interval}', false),
  ('register_materialized_view', '{regclass,interval}', false),
  ('unregister_materialized_view', '{regclass}', false),
  -- the capability contract (docs/architecture.md): doctor, metrics and advise call them
  ('kv_health', '{jsonb}', true),
  ('kv_metrics', '{}', true),
  ('kv_usage', '{}', true),
  ('kv_advice', '{jsonb,jsonb,"double precision"}', true);

-- readwrite (the application) may call every one; readonly only the reads; PUBLIC (any
-- role that can connect) none; and no other kv function, an internal helper, is
-- executable by readwrite or readonly (pgstack/schema/testing/api_privileges.sql).
SELECT * FROM pgstack_tap.api_privileges('kv', '^(kv_|cache_|register_materialized|unregister_materialized)');

-- The maintenance tasks (kv_sweep, cache_refresh_views) run as the schema's owner,
-- through pgstack.maintain() only: the check above finds them executable by no
-- application role, and calling one directly is refused.
SELECT throws_ok('SELECT pgstack.kv_sweep()', '42501', 'permission denied for function kv_sweep',
                 'app cannot run kv_sweep itself');

-- Tables: keys and locks are the application's data, which readwrite writes directly;
-- the namespace and view registries, and each namespace's partition, only the owner.
SELECT table_privs_are('pgstack', 'kv_entries', 'readwrite', '{SELECT,INSERT,UPDATE,DELETE}'::name[]);
SELECT table_privs_are('pgstack', 'kv_locks', 'readwrite', '{SELECT,INSERT,UPDATE,DELETE}'::name[]);
SELECT table_privs_are('pgstack', 'kv_namespaces', 'readwrite', '{SELECT}'::name[]);
SELECT table_privs_are('pgstack', 'cache_views', 'readwrite', '{SELECT}'::name[]);
SELECT table_privs_are('pgstack', 'kv_entries', 'readonly', '{SELECT}'::name[]);
SELECT table_privs_are('pgstack', 'kv_ns_default', 'readwrite', '{}'::name[]);
SELECT throws_ok($$INSERT INTO pgstack.kv_namespaces (name) VALUES ('sneaky')$$, '42501',
                 'permission denied for table kv_namespaces', 'app cannot add a namespace by hand');

-- ---- namespaces ------------------------------------------------------------------
-- Unlogged by default (emptied by a crash, not replicated), logged on request; creating
-- one is idempotent, asking for the other persistence is an error; `default` exists
-- and cannot be dropped.
SELECT lives_ok($$SELECT pgstack.kv_create_namespace('t_cache')$$, 'kv_create_namespace creates a namespace');
SELECT lives_ok($$SELECT pgstack.kv_create_namespace('t_cache')$$, '... and again is a no-op');
SELECT lives_ok($$SELECT pgstack.kv_create_namespace('t_settings', logged => true)$$, 'a logged namespace');
SELECT is((SELECT relpersistence FROM pg_class WHERE oid = 'pgstack.kv_ns_t_cache'::regclass), 'u',
          'a namespace is an unlogged partition by default');
SELECT is((SELECT relpersistence FROM pg_class WHERE oid = 'pgstack.kv_ns_t_settings'::regclass), 'p',
          '... and a permanent (logged) one when asked');
SELECT throws_ok($$SELECT pgstack.kv_create_namespace('t_cache', logged => true)$$, '55000',
                 'kv: namespace t_cache exists and is unlogged', 'the other persistence is an error');
SELECT throws_ok($$SELECT pgstack.kv_create_namespace('Bad-Name')$$, '22023',
                 'kv: namespace name ''Bad-Name'' is not valid', 'names are ^[a-z][a-z0-9_]{0,47}$');
SELECT table_privs_are('pgstack', 'kv_ns_t_cache', 'readwrite', '{}'::name[]);
SELECT throws_ok($$SELECT pgstack.kv_set('nope', 'k', 'v')$$, '42704',
                 'kv: namespace ''nope'' does not exist', 'writing to an unknown namespace is 42704');
SELECT is(pgstack.kv_drop_namespace('t_settings'), true, 'kv_drop_namespace drops it');
SELECT is(pgstack.kv_drop_namespace('t_settings'), false, '... and says false when there is none');
SELECT hasnt_table('pgstack', 'kv_ns_t_settings', '... with its partition');
SELECT throws_ok($$SELECT pgstack.kv_drop_namespace('default')$$, '55000',
                 'kv: the default namespace cannot be dropped');

-- ---- set and get -----------------------------------------------------------------
-- Values are bytes; text and jsonb overloads store their UTF-8 text. A key with a ttl
-- reads back its time left; without one it never expires.
SELECT is(pgstack.kv_set('default', 'greeting', 'hello', interval '5 minutes'), true, 'kv_set returns true when it wrote');
SELECT is(pgstack.kv_get_text('default', 'greeting'), 'hello', 'kv_get_text reads it back');
SELECT is(pgstack.kv_get('default', 'greeting'), '\x68656c6c6f'::bytea, 'kv_get returns the bytes');
SELECT is(pgstack.kv_ttl('default', 'greeting'), interval '5 minutes', 'kv_ttl is the time left');
SELECT is(pgstack.kv_exists('default', 'greeting'), true, 'kv_exists');
SELECT ok(pgstack.kv_set('default', 'bytes', '\x00ff'::bytea), 'a bytea value');
SELECT is(pgstack.kv_get('default', 'bytes'), '\x00ff'::bytea, '... comes back byte for byte');
SELECT ok(pgstack.kv_set('default', 'doc', '{"a": [1, 2]}'::jsonb), 'a jsonb value');
SELECT is(pgstack.kv_get_json('default', 'doc'), '{"a": [1, 2]}'::jsonb, 'kv_get_json parses it');
SELECT is(pgstack.kv_ttl('default', 'doc'), NULL, 'kv_ttl is NULL for a key that never expires');
SELECT is(pgstack.kv_ttl('default', 'absent'), NULL, '... and for an absent key');
SELECT is(pgstack.kv_get('default', 'absent'), NULL, 'kv_get of an absent key is NULL');
SELECT is(pgstack.kv_exists('default', 'absent'), false, 'kv_exists of an absent key is false');

-- Modes: if_absent (SET NX) writes only when the key is absent or expired, if_present
-- (SET XX) only when it is live; each says whether it wrote.
SELECT is(pgstack.kv_set('default', 'greeting', 'again', mode => 'if_absent'), false, 'if_absent on a live key writes nothing');
SELECT is(pgstack.kv_get_text('default', 'greeting'), 'hello', '... the value is unchanged');
SELECT is(pgstack.kv_set('default', 'fresh', 'new', mode => 'if_present'), false, 'if_present on an absent key writes nothing');
SELECT is(pgstack.kv_exists('default', 'fresh'), false, '... the key is still absent');
SELECT is(pgstack.kv_set('default', 'greeting', 'hi', mode => 'if_present'), true, 'if_present on a live key writes');
SELECT is(pgstack.kv_ttl('default', 'greeting'), NULL, '... and a new value replaces the expiry (ttl NULL: permanent)');

-- Bad input raises before anything is written: 22023 for a key of 0 or over 1024 bytes,
-- a ttl that is not positive or an unknown mode; 22004 for a NULL value.
SELECT throws_ok($$SELECT pgstack.kv_set('default', '', 'v')$$, '22023', 'kv: key of 0 bytes is not valid');
SELECT throws_ok($$SELECT pgstack.kv_set('default', repeat('k', 1025), 'v')$$, '22023', 'kv: key of 1025 bytes is not valid');
SELECT ok(pgstack.kv_set('default', repeat('k', 1024), 'v'), 'a key of 1024 bytes is fine');
SELECT throws_ok($$SELECT pgstack.kv_set('default', 'k', 'v', interval '0')$$, '22023', 'kv: ttl 00:00:00 is not positive');
SELECT throws_ok($$SELECT pgstack.kv_set('default', 'k', 'v', mode => 'sometimes')$$, '22023',
                 'kv: mode ''sometimes'' is not one of always, if_absent, if_present');
SELECT throws_ok($$SELECT pgstack.kv_set('default', 'k', NULL::text)$$, '22004', 'kv: value is NULL');
SELECT is(pgstack.kv_exists('default', 'k'), false, 'none of the refused writes left a key');

-- ---- expiry ----------------------------------------------------------------------
-- An expired key is invisible at once to every function, whether or not its row has
-- been swept. (The test moves the key's expiry into the past by hand, which readwrite
-- may do: kv's tables are the application's.)
SELECT ok(pgstack.kv_set('default', 'old', 'gone soon', interval '1 hour'), 'a key with a ttl');
UPDATE pgstack.kv_entries SET expires_at = now() - interval '1 second' WHERE namespace = 'default' AND key = 'old';
SELECT is(pgstack.kv_get('default', 'old'), NULL, 'an expired key reads as NULL');
SELECT is(pgstack.kv_exists('default', 'old'), false, '... does not exist');
SELECT is(pgstack.kv_ttl('default', 'old'), NULL, '... has no ttl');
SELECT is_empty($$SELECT * FROM pgstack.kv_lookup('default', '{old}')$$, '... is not among the live entries');
SELECT is(pgstack.kv_set('default', 'old', 'reborn', mode => 'if_present'), false, '... if_present does not see it');
SELECT is(pgstack.kv_set('default', 'old', 'reborn', mode => 'if_absent'), true, '... and if_absent counts it as absent');
SELECT is(pgstack.kv_get_text('default', 'old'), 'reborn', '... and writes the new value');

-- The maintenance task kv_sweep removes expired rows; the application runs it through
-- pgstack.maintain(), which readwrite may call.
UPDATE pgstack.kv_entries SET expires_at = now() - interval '1 second' WHERE namespace = 'default' AND key = 'old';
SELECT is((SELECT error FROM pgstack.maintain() WHERE task = 'kv_sweep'), NULL, 'maintain() runs kv_sweep without an error');
SELECT is((SELECT count(*) FROM pgstack.kv_entries WHERE namespace = 'default' AND key = 'old'), 0::bigint,
          '... which removed the expired row');
SELECT is((SELECT count(*) FROM pgstack.kv_entries WHERE namespace = 'default' AND key = 'greeting'), 1::bigint,
          '... and kept the live ones');

-- ---- many keys -------------------------------------------------------------------
-- kv_mset writes many keys in one statement (a key given twice takes its last value);
-- kv_mget answers in the order asked, NULL for a missing key; kv_keys pages through
-- live keys in key order; kv_delete says how many were live.
SELECT is(pgstack.kv_mset('t_cache', '{a,b,c,a}', ARRAY['1', '2', '3', '4']::bytea[], interval '1 hour'), 3::bigint,
          'kv_mset writes each key once and returns how many');
SELECT results_eq($$SELECT key, value FROM pgstack.kv_mget('t_cache', '{c,missing,a}')$$,
                  $$VALUES ('c', '3'::bytea), ('missing', NULL), ('a', '4')$$,
                  'kv_mget: in the order given, NULL for a missing key, the last value of a repeated key');
SELECT is(pgstack.kv_ttl('t_cache', 'b'), interval '1 hour', 'kv_mset gives every key the ttl');
SELECT results_eq($$SELECT key FROM pgstack.kv_keys('t_cache')$$, $$VALUES ('a'), ('b'), ('c')$$, 'kv_keys: key order');
SELECT results_eq($$SELECT key FROM pgstack.kv_keys('t_cache', after => 'a', max_rows => 1)$$, $$VALUES ('b')$$,
                  'kv_keys pages with after and max_rows');
SELECT ok(pgstack.kv_set('t_cache', 'user:1', 'x') AND pgstack.kv_set('t_cache', 'user:2', 'y'), 'two keys with a prefix');
SELECT results_eq($$SELECT key FROM pgstack.kv_keys('t_cache', prefix => 'user:')$$, $$VALUES ('user:1'), ('user:2')$$,
                  'kv_keys filters by prefix');
-- (kv_lookup is inlined into the query, so its keys keep kv_entries' COLLATE "C":
-- bytes; COLLATE "default" compares them with the literals.)
SELECT results_eq($$SELECT key COLLATE "default", value, refresh_at FROM pgstack.kv_lookup('t_cache', '{b,zzz,a}') ORDER BY key$$,
                  $$VALUES ('a', '4'::bytea, NULL::timestamptz), ('b', '2', NULL)$$, 'kv_lookup: the live entries only');
SELECT throws_ok($$SELECT pgstack.kv_mset('t_cache', '{a,b}', ARRAY['1']::bytea[])$$, '22023', 'kv: 2 keys but 1 values');
SELECT throws_ok($$SELECT pgstack.kv_mset('t_cache', '{a,b}', ARRAY['1', NULL]::bytea[])$$, '22004', 'kv: value 2 is NULL');
SELECT is(pgstack.kv_get_text('t_cache', 'a'), '4', 'a refused kv_mset wrote nothing');
SELECT is(pgstack.kv_delete('t_cache', '{a,b,missing}'::text[]), 2::bigint, 'kv_delete(keys) counts the live keys it removed');
SELECT is(pgstack.kv_delete('t_cache', 'c'), true, 'kv_delete(key) is true for a live key');
SELECT is(pgstack.kv_delete('t_cache', 'c'), false, '... and false when it was not there');
SELECT lives_ok($$SELECT pgstack.kv_flush('t_cache')$$, 'kv_flush');
SELECT is_empty($$SELECT * FROM pgstack.kv_keys('t_cache')$$, '... deletes every key of the namespace');
SELECT is(pgstack.kv_get_text('default', 'greeting'), 'hi', '... and only of that namespace');
SELECT throws_ok($$SELECT pgstack.kv_flush('nope')$$, '42704', 'kv: namespace ''nope'' does not exist');

-- ---- counters --------------------------------------------------------------------
-- kv_incr: a missing key starts at 0 and takes the ttl (a fixed window); an existing
-- one keeps its expiry; a key holding something else than an integer is 22P02.
SELECT is(pgstack.kv_incr('default', 'hits'), 1::bigint, 'kv_incr of a missing key starts at 0');
SELECT is(pgstack.kv_incr('default', 'hits', 41), 42::bigint, 'kv_incr by n');
SELECT is(pgstack.kv_incr('default', 'hits', -2), 40::bigint, '... n may be negative');
SELECT is(pgstack.kv_incr('default', 'window', ttl => interval '15 minutes'), 1::bigint, 'a counter with a ttl');
SELECT is(pgstack.kv_incr('default', 'window', ttl => interval '1 hour'), 2::bigint, '... counts on');
SELECT is(pgstack.kv_ttl('default', 'window'), interval '15 minutes', '... and keeps the expiry of its first increment');
SELECT throws_ok($$SELECT pgstack.kv_incr('default', 'greeting')$$, '22P02', 'kv: key ''greeting'' does not hold an integer');
SELECT throws_ok($$SELECT pgstack.kv_incr('default', 'hits', NULL)$$, '22004', 'kv: increment is NULL');
SELECT is(pgstack.kv_get_text('default', 'hits'), '40', 'a counter is its decimal text');

-- ---- compare-and-set, expire -----------------------------------------------------
SELECT is(pgstack.kv_compare_and_set('default', 'cfg', NULL, 'v1'), true, 'compare_and_set with expected NULL: only if absent');
SELECT is(pgstack.kv_compare_and_set('default', 'cfg', NULL, 'v2'), false, '... so not a second time');
SELECT is(pgstack.kv_compare_and_set('default', 'cfg', 'v0', 'v2'), false, 'a wrong expected value writes nothing');
SELECT is(pgstack.kv_compare_and_set('default', 'cfg', 'v1', 'v2'), true, 'the right one writes');
SELECT is(pgstack.kv_get_text('default', 'cfg'), 'v2', '... the new value');
SELECT is(pgstack.kv_expire('default', 'cfg', interval '10 seconds'), true, 'kv_expire sets a live key''s expiry');
SELECT is(pgstack.kv_ttl('default', 'cfg'), interval '10 seconds', '... as its ttl');
SELECT is(pgstack.kv_expire('default', 'cfg', NULL), true, 'kv_expire with NULL');
SELECT is(pgstack.kv_ttl('default', 'cfg'), NULL, '... makes it never expire');
SELECT is(pgstack.kv_expire('default', 'absent', interval '1 minute'), false, 'kv_expire of an absent key is false');

-- ---- leased locks ----------------------------------------------------------------
-- kv_try_lock takes (namespace, key) for an owner until its ttl passes; only that owner
-- may extend it or unlock it; once the lease ran out anyone may take it.
SELECT is(pgstack.kv_try_lock('default', 'report', 'worker-a', interval '30 seconds'), true, 'a free lock is taken');
SELECT is(pgstack.kv_try_lock('default', 'report', 'worker-b', interval '30 seconds'), false, '... not by another owner');
SELECT is(pgstack.kv_try_lock('default', 'report', 'worker-a', interval '60 seconds'), true, '... its owner extends it');
SELECT is(pgstack.kv_unlock('default', 'report', 'worker-b'), false, 'another owner cannot unlock it');
SELECT is(pgstack.kv_unlock('default', 'report', 'worker-a'), true, 'its owner can');
SELECT is(pgstack.kv_try_lock('default', 'report', 'worker-b', interval '30 seconds'), true, 'then another owner takes it');
SELECT is(pgstack.lease_holder('kv:default:report'), 'worker-b', '... a core lease named kv:<namespace>:<key>');
SELECT is(pgstack.lease_holder('report'), NULL, '... so a lease of another module''s name is another lock');
SELECT is(pgstack.kv_try_lock('default', 'short', 'worker-a', interval '1 millisecond'), true, 'a short lock is taken');
SELECT pg_sleep(0.01);
SELECT is(pgstack.kv_try_lock('default', 'short', 'worker-b', interval '30 seconds'), true, 'a lock whose lease ran out is free');
SELECT is(pgstack.kv_try_lock('default', 'short', 'worker-a', interval '30 seconds'), false, '... and its new owner''s');
SELECT throws_ok($$SELECT pgstack.kv_try_lock('default', 'report', 'worker-a', interval '0')$$, '22023',
                 'kv: ttl 00:00:00 is not positive', 'a lock needs a positive lease');

-- ---- cache entries ---------------------------------------------------------------
-- kv_cache_put: fresh for fresh_for, then stale (still served, refresh_at passed) for
-- stale_for more, then gone.
SELECT lives_ok($$SELECT pgstack.kv_cache_put('default', 'page:/', 'html', interval '60 seconds', interval '30 seconds')$$,
                'kv_cache_put');
SELECT results_eq($$SELECT refresh_at - now(), expires_at - now() FROM pgstack.kv_lookup('default', '{page:/}')$$,
                  $$VALUES (interval '60 seconds', interval '90 seconds')$$,
                  '... fresh for fresh_for, kept stale_for longer');
SELECT is(pgstack.kv_get_text('default', 'page:/'), 'html', '... readable like any key');
SELECT throws_ok($$SELECT pgstack.kv_cache_put('default', 'page:/', 'x', interval '1 minute', interval '-1 second')$$, '22023',
                 'kv: cache lifetimes must be given, fresh_for positive and stale_for not negative');

-- ---- materialized views ----------------------------------------------------------
-- register_materialized_view takes only a materialized view (the owner registers it;
-- app owns none, so only the refusals are tested here: docs_examples_test and kv_test
-- register one as its owner).
SELECT throws_ok($$SELECT pgstack.register_materialized_view('pgstack.kv_namespaces', interval '5 minutes')$$, '42809',
                 'cache: kv_namespaces is not a materialized view');
SELECT throws_ok($$SELECT pgstack.unregister_materialized_view('pgstack.kv_namespaces')$$, '42501',
                 'cache: kv_namespaces belongs to postgres, not to app', 'only a view''s owner unregisters it');

SELECT * FROM finish();
ROLLBACK;
