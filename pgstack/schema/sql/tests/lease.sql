-- The core lease primitive (schema/sql/005_lease.sql, docs/maintenance.md "Leases"),
-- pinned in SQL: take, extend, contend, expire, release, bad input, and who may call
-- what. Run as the stack's application role `app` (a member of readwrite), in one
-- transaction that is rolled back. docs/testing.md, "SQL-level tests (pgTAP)".
BEGIN;
SELECT plan(46);

-- ---- the API ---------------------------------------------------------------------
SELECT has_table('pgstack', 'leases', 'the leases table');
SELECT is((SELECT relpersistence FROM pg_class WHERE oid = 'pgstack.leases'::regclass), 'p'::"char",
          'leases are logged: a crash or a failover does not free them before their ttl');
SELECT function_returns('pgstack', 'lease_acquire', '{text,text,interval}'::name[], 'boolean');
SELECT function_returns('pgstack', 'lease_release', '{text,text}'::name[], 'boolean');
SELECT function_returns('pgstack', 'lease_holder', '{text}'::name[], 'text');
SELECT is(pg_get_function_identity_arguments('pgstack.lease_acquire(text, text, interval)'::regprocedure),
          'name text, holder text, ttl interval', 'lease_acquire(name, holder, ttl)');
SELECT is(pg_get_function_identity_arguments('pgstack.lease_release(text, text)'::regprocedure),
          'name text, holder text', 'lease_release(name, holder)');
SELECT is(pg_get_function_identity_arguments('pgstack.lease_holder(text)'::regprocedure), 'name text', 'lease_holder(name)');

-- ---- take, extend, contend --------------------------------------------------------
SELECT is(pgstack.lease_holder('test:a'), NULL, 'a lease nobody took has no holder');
SELECT is(pgstack.lease_acquire('test:a', 'p1', interval '30 seconds'), true, 'a free lease is taken');
SELECT is(pgstack.lease_holder('test:a'), 'p1', '... and held by its taker');
SELECT ok((SELECT expires_at - clock_timestamp() BETWEEN interval '29 seconds' AND interval '30 seconds'
             FROM pgstack.leases WHERE name = 'test:a'), '... until ttl from now');
SELECT is(pgstack.lease_acquire('test:a', 'p2', interval '30 seconds'), false, 'another holder cannot take a held lease');
SELECT is(pgstack.lease_holder('test:a'), 'p1', '... which keeps its holder');
SELECT ok((SELECT expires_at - clock_timestamp() < interval '31 seconds' FROM pgstack.leases WHERE name = 'test:a'),
          '... and its expiry');
SELECT pg_sleep(0.01);
SELECT is(pgstack.lease_acquire('test:a', 'p1', interval '10 minutes'), true, 'its holder extends it');
SELECT ok((SELECT expires_at - clock_timestamp() > interval '9 minutes' FROM pgstack.leases WHERE name = 'test:a'),
          '... to ttl from now');
SELECT ok((SELECT expires_at - acquired_at >= interval '10 minutes 10 milliseconds' FROM pgstack.leases WHERE name = 'test:a'),
          '... keeping when it was taken (10 ms before the extension)');
SELECT is(pgstack.lease_acquire('test:b', 'p2', interval '30 seconds'), true, 'leases of other names are independent');
SELECT is(pgstack.lease_holder('test:a'), 'p1', '... of each other');

-- ---- expire ----------------------------------------------------------------------
SELECT is(pgstack.lease_acquire('test:short', 'p1', interval '1 millisecond'), true, 'a short lease is taken');
SELECT pg_sleep(0.01);
SELECT is(pgstack.lease_holder('test:short'), NULL, 'a lease that ran out has no holder');
SELECT is(pgstack.lease_acquire('test:short', 'p2', interval '30 seconds'), true, '... and another holder takes it over');
SELECT is(pgstack.lease_holder('test:short'), 'p2', '... and holds it');
SELECT is((SELECT expires_at - acquired_at FROM pgstack.leases WHERE name = 'test:short'), interval '30 seconds',
          '... from the takeover on');
SELECT is(pgstack.lease_release('test:short', 'p1'), false, 'the holder whose lease was taken over cannot release it');
SELECT is(pgstack.lease_holder('test:short'), 'p2', '... which stays the new holder''s');

-- ---- release ---------------------------------------------------------------------
SELECT is(pgstack.lease_release('test:a', 'p2'), false, 'another holder cannot release a lease');
SELECT is(pgstack.lease_holder('test:a'), 'p1', '... which stays held');
SELECT is(pgstack.lease_release('test:a', 'p1'), true, 'its holder releases it');
SELECT is(pgstack.lease_holder('test:a'), NULL, '... and it is free');
SELECT is(pgstack.lease_acquire('test:a', 'p2', interval '30 seconds'), true, '... for another holder at once');
SELECT is(pgstack.lease_release('test:absent', 'p1'), false, 'releasing an absent lease is false');

-- ---- bad input: 22023, a message that says what failed, nothing changed -----------
SELECT throws_ok($$SELECT pgstack.lease_acquire('test:a', 'p2', interval '0')$$, '22023',
                 'lease test:a: ttl 00:00:00 is not positive', 'a ttl of 0 is refused');
SELECT throws_ok($$SELECT pgstack.lease_acquire('test:a', 'p2', interval '-5 seconds')$$, '22023',
                 'lease test:a: ttl -00:00:05 is not positive', 'a negative ttl is refused');
SELECT throws_ok($$SELECT pgstack.lease_acquire('test:a', 'p2', NULL)$$, '22023',
                 'lease test:a: ttl NULL is not positive', 'a NULL ttl is refused');
SELECT throws_ok($$SELECT pgstack.lease_acquire('', 'p2', interval '1 minute')$$, '22023',
                 'lease: name of 0 bytes is not valid', 'an empty name is refused');
SELECT throws_ok($$SELECT pgstack.lease_acquire('test:c', '', interval '1 minute')$$, '22023',
                 'lease test:c: holder of 0 bytes is not valid', 'an empty holder is refused');
SELECT is(pgstack.lease_holder('test:c'), NULL, '... taking nothing');

-- ---- housekeeping ----------------------------------------------------------------
SELECT is((SELECT count(*) FROM pgstack.maintenance_tasks WHERE name = 'lease_sweep' AND every = interval '1 minute'),
          1::bigint, 'lease_sweep is a maintenance task');

-- ---- who may do what ---------------------------------------------------------------
SELECT table_privs_are('pgstack', 'leases', 'readwrite', '{SELECT}'::name[], 'readwrite reads leases, writes them only through the functions');
SELECT throws_ok($$UPDATE pgstack.leases SET holder = 'thief'$$, '42501', 'permission denied for table leases',
                 'app cannot take over a lease by writing the table');
SELECT function_privs_are('pgstack', 'lease_acquire', '{text,text,interval}'::name[], 'readonly', '{}'::name[],
                          'app_reader (readonly) cannot take a lease');
SELECT function_privs_are('pgstack', 'lease_release', '{text,text}'::name[], 'readonly', '{}'::name[],
                          'app_reader (readonly) cannot release one');
SELECT function_privs_are('pgstack', 'lease_holder', '{text}'::name[], 'readonly', '{EXECUTE}'::name[],
                          'app_reader (readonly) may see who holds one');
SELECT is_empty($$SELECT p.oid::regprocedure FROM pg_proc p
                   WHERE p.oid IN ('pgstack.lease_check(text, text, interval)'::regprocedure, 'pgstack.lease_sweep()'::regprocedure)
                     AND (has_function_privilege('readwrite', p.oid, 'EXECUTE') OR has_function_privilege('readonly', p.oid, 'EXECUTE'))$$,
                'the helpers lease_check and lease_sweep are granted to no role');

SELECT * FROM finish();
ROLLBACK;
