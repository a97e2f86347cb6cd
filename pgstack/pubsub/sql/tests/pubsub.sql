-- The pubsub module's SQL API (docs/pubsub.md), pinned in SQL: live messages (NOTIFY,
-- at most once, up to 1 MB) and durable ones (stored, read on from a position).
-- Run as the stack's application role `app` (a member of readwrite). How to run it:
-- docs/testing.md, "SQL-level tests (pgTAP)".
-- What a live subscriber receives is not visible from SQL in one session; pubsub_test
-- (C++) listens for it.

-- Durable messages are read only once the transactions that wrote them have ended, so
-- the reading tests need messages that are committed: this transaction publishes three
-- on a channel of this run's own and commits (on a stack they stay until pubsub_prune
-- removes them after the retention, 7 days). psql's \gset keeps the channel and ids.
BEGIN;
SELECT 'pgtap.' || pg_current_xact_id() AS channel \gset
SELECT pgstack.pubsub_publish_durable(:'channel', 'first') AS first_id \gset
SELECT pgstack.pubsub_publish_durable(:'channel', 'second') AS second_id \gset
SELECT pgstack.pubsub_publish_durable(:'channel', 'third') AS third_id \gset
COMMIT;

-- Everything else happens in one transaction that is rolled back.
BEGIN;
SELECT plan(51);

-- ---- the API: what exists, and who may call it ------------------------------------
CREATE TEMP TABLE api (fn name, args name[], reads boolean);
INSERT INTO api VALUES
  ('pubsub_publish', '{text,text}', false),
  ('pubsub_publish_durable', '{text,text}', false),
  ('pubsub_read', '{text,bigint,integer}', true),
  ('pubsub_position', '{text,text}', true),
  ('pubsub_ack', '{text,text,bigint}', false);

-- readwrite may call every one; readonly only the reads; PUBLIC none; and no other
-- pubsub function, an internal helper, is executable by readwrite or readonly
-- (pgstack/schema/testing/api_privileges.sql).
SELECT * FROM pgstack_tap.api_privileges('pubsub', '^pubsub_');
-- Pruning (pubsub_prune) is a maintenance task, run as the owner by pgstack.maintain()
-- only; the tables are read by the application roles and written only through the
-- functions.
SELECT table_privs_are('pgstack', 'pubsub_messages', 'readwrite', '{SELECT}'::name[]);
SELECT table_privs_are('pgstack', 'pubsub_consumers', 'readwrite', '{SELECT}'::name[]);
SELECT throws_ok($$INSERT INTO pgstack.pubsub_messages (channel, payload) VALUES ('invoices', 'forged')$$, '42501',
                 'permission denied for table pubsub_messages', 'app cannot forge a durable message');
SELECT throws_ok($$UPDATE pgstack.pubsub_settings SET retention = interval '1 second'$$, '42501',
                 'permission denied for table pubsub_settings', 'app cannot shorten the retention');

-- ---- live messages ---------------------------------------------------------------
-- pubsub_publish returns the message's id; delivery is at commit, so these,
-- rolled back, are never sent. Any size up to 1 MB (cut into chunks under NOTIFY's
-- 8000-byte limit); a bigger payload is 54000.
SELECT ok(pgstack.pubsub_publish('orders.created', '{"id": 42}') > 0, 'pubsub_publish returns a message id');
SELECT lives_ok($$SELECT pgstack.pubsub_publish('big', repeat('é', 524288))$$, 'a payload of exactly 1 MB (multibyte text)');
SELECT throws_ok($$SELECT pgstack.pubsub_publish('big', repeat('x', 1048577))$$, '54000',
                 'pubsub: payload of 1048577 bytes is over the 1 MB limit of live messages');
SELECT throws_ok($$SELECT pgstack.pubsub_publish('big', NULL)$$, '22004', 'pubsub: payload is NULL');
-- Channel names: 1 to 53 letters, digits, _ . : and -; anything else is 22023.
SELECT lives_ok($$SELECT pgstack.pubsub_publish('a:b.c-d_' || repeat('e', 45), '')$$, 'a channel name of 53 characters');
SELECT throws_ok($$SELECT pgstack.pubsub_publish(repeat('e', 54), '')$$, '22023',
                 format('pubsub: channel name %L is not valid', repeat('e', 54)), '... 54 are too many');
SELECT throws_ok($$SELECT pgstack.pubsub_publish('orders created', '')$$, '22023',
                 'pubsub: channel name ''orders created'' is not valid');
SELECT throws_ok($$SELECT pgstack.pubsub_publish('', '')$$, '22023', 'pubsub: channel name '''' is not valid');
SELECT throws_ok($$SELECT pgstack.pubsub_publish_durable('orders created', 'x')$$, '22023',
                 'pubsub: channel name ''orders created'' is not valid', 'the same names for durable messages');

-- ---- durable messages ------------------------------------------------------------
-- pubsub_read: the messages after a message, in the order of the transactions that
-- wrote them, max_rows at a time; after_id 0 starts from the oldest kept.
SELECT results_eq(format('SELECT id, payload FROM pgstack.pubsub_read(%L)', :'channel'),
                  format('VALUES (%s::bigint, %L::text), (%s, %L), (%s, %L)', :first_id, 'first', :second_id, 'second', :third_id, 'third'),
                  'pubsub_read from the start: every message, in order');
SELECT results_eq(format('SELECT payload FROM pgstack.pubsub_read(%L, after_id => %s)', :'channel', :first_id),
                  $$VALUES ('second'), ('third')$$, '... after a message');
SELECT results_eq(format('SELECT payload FROM pgstack.pubsub_read(%L, max_rows => 1)', :'channel'),
                  $$VALUES ('first')$$, '... max_rows at a time');
SELECT is_empty(format('SELECT * FROM pgstack.pubsub_read(%L, after_id => %s)', :'channel', :third_id),
                '... nothing after the last');
SELECT is_empty($$SELECT * FROM pgstack.pubsub_read('pgtap.no-such-channel')$$, 'a channel without messages reads empty');
SELECT ok((SELECT bool_and(published_at <= now()) FROM pgstack.pubsub_read(:'channel')), 'each message carries published_at');
-- A message of a transaction that has not ended is stored but not read yet, so no
-- reader can skip it when its transaction commits after later ones.
SELECT ok(pgstack.pubsub_publish_durable(:'channel', 'fourth') > :third_id, 'pubsub_publish_durable returns the message id');
SELECT is((SELECT payload FROM pgstack.pubsub_messages WHERE channel = :'channel' ORDER BY id DESC LIMIT 1), 'fourth',
          '... it is stored with this transaction');
SELECT is_empty(format('SELECT * FROM pgstack.pubsub_read(%L, after_id => %s)', :'channel', :third_id),
                '... but read only once its transaction has ended');
SELECT throws_ok($$SELECT pgstack.pubsub_publish_durable('invoices', NULL)$$, '22004', 'pubsub: payload is NULL');

-- A named consumer keeps its position: 0 before its first ack, then the last message
-- it acknowledged.
SELECT is(pgstack.pubsub_position('mailer', :'channel'), 0::bigint, 'pubsub_position of a new consumer is 0');
SELECT lives_ok(format('SELECT pgstack.pubsub_ack(%L, %L, %s)', 'mailer', :'channel', :second_id), 'pubsub_ack');
SELECT is(pgstack.pubsub_position('mailer', :'channel'), :second_id::bigint, '... moves the position');
SELECT results_eq(format('SELECT payload FROM pgstack.pubsub_read(%L, pgstack.pubsub_position(%L, %L))', :'channel', 'mailer', :'channel'),
                  $$VALUES ('third')$$, '... and reading from the position gives what comes after');
SELECT is(pgstack.pubsub_position('billing', :'channel'), 0::bigint, 'each consumer has its own position');
SELECT lives_ok(format('SELECT pgstack.pubsub_ack(%L, %L, %s)', 'mailer', :'channel', :third_id), 'a second ack');
SELECT is(pgstack.pubsub_position('mailer', :'channel'), :third_id::bigint, '... moves it on');
SELECT throws_ok(format('SELECT pgstack.pubsub_ack(%L, %L, 1)', 'bad consumer', :'channel'), '22023',
                 'pubsub: consumer name ''bad consumer'' is not valid');

-- Pruning (the retention, 7 days by default) runs through pgstack.maintain().
SELECT is((SELECT retention FROM pgstack.pubsub_settings), interval '7 days', 'the retention is 7 days');
SELECT is_empty($$SELECT * FROM pgstack.maintain() WHERE error IS NOT NULL$$, 'maintain() runs pubsub_prune (when due) without an error');
SELECT is((SELECT count(*) FROM pgstack.pubsub_messages WHERE channel = :'channel'), 4::bigint, '... which keeps young messages');

SELECT * FROM finish();
ROLLBACK;
