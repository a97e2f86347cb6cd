-- Publish/subscribe (docs/pubsub.md), in two modes:
--  * live: NOTIFY on channel 'pgstack:<channel>'. Delivered at commit to whoever is
--    listening then: at most once, nothing kept. Payloads over NOTIFY's 8000-byte
--    limit are cut into numbered chunks sent in one transaction (PostgreSQL delivers a
--    transaction's notifications together and in order) and put together again by
--    the subscriber. Every notification reads "<message id>:<chunk>:<chunks>:<text>".
--  * durable: the message is stored in pubsub_messages and a wake-up is sent on
--    'pgstack.d:<channel>'; a consumer reads what follows its last position, so it
--    misses nothing while it was away (kept for the retention, 7 days by default).

-- Ids for live messages: never rolled back, so they never repeat, which also keeps two
-- identical payloads of one transaction from being folded into one notification.
CREATE SEQUENCE pgstack.pubsub_message_seq AS bigint;

-- xid orders messages by the transaction that wrote them: ids are drawn before commit
-- and commit out of order, so readers go by (xid, id) and read only transactions that
-- have ended (xid below the snapshot's xmin). Nothing committed later can then land
-- behind a position a reader has passed.
CREATE TABLE pgstack.pubsub_messages (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  channel text NOT NULL,
  payload text NOT NULL,
  xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  published_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pubsub_messages_channel_position ON pgstack.pubsub_messages (channel, xid, id);
CREATE INDEX pubsub_messages_published_at ON pgstack.pubsub_messages USING brin (published_at);
COMMENT ON TABLE pgstack.pubsub_messages IS 'pgstack pubsub: messages of durable channels, kept for the retention';

-- Where named consumers of durable channels are (pubsub_ack).
CREATE TABLE pgstack.pubsub_consumers (
  consumer text NOT NULL,
  channel text NOT NULL,
  last_id bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, channel)
);

CREATE TABLE pgstack.pubsub_settings (
  single boolean PRIMARY KEY DEFAULT true CHECK (single),
  retention interval NOT NULL DEFAULT interval '7 days'
);
INSERT INTO pgstack.pubsub_settings DEFAULT VALUES;

CREATE FUNCTION pgstack.pubsub_check_channel(p_channel text)
RETURNS void LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF p_channel IS NULL OR p_channel !~ '^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,52}$' THEN
    RAISE EXCEPTION 'pubsub: channel name % is not valid', coalesce(quote_literal(p_channel), 'NULL')
      USING ERRCODE = '22023', HINT = 'Use 1 to 53 letters, digits, _ . : and -, e.g. ''orders.created''.';
  END IF;
END
$$;

-- Publishes to live subscribers, at commit of the caller's transaction. Up to 1 MB;
-- returns the message's id.
CREATE FUNCTION pgstack.pubsub_publish(p_channel text, p_payload text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  v_limit constant integer := 7900;  -- bytes of text per notification, below 8000 with the header
  v_id bigint;
  v_chunks text[] := '{}';
  v_pos integer := 1;
  v_take integer;
  v_piece text;
  v_length integer := length(p_payload);
BEGIN
  PERFORM pgstack.pubsub_check_channel(p_channel);
  IF p_payload IS NULL THEN
    RAISE EXCEPTION 'pubsub: payload is NULL' USING ERRCODE = '22004';
  END IF;
  IF octet_length(p_payload) > 1048576 THEN
    RAISE EXCEPTION 'pubsub: payload of % bytes is over the 1 MB limit of live messages', octet_length(p_payload)
      USING ERRCODE = '54000', HINT = 'Store large data in a table and publish its key, or use pubsub_publish_durable.';
  END IF;
  v_id := nextval('pgstack.pubsub_message_seq');
  -- Cut on character boundaries (a notification must be valid text), at most v_limit
  -- bytes each: start from v_limit characters and shrink by the excess.
  LOOP
    v_take := v_limit;
    LOOP
      v_piece := substr(p_payload, v_pos, v_take);
      EXIT WHEN octet_length(v_piece) <= v_limit;
      v_take := v_take - greatest(1, (octet_length(v_piece) - v_limit) / 4);
    END LOOP;
    v_chunks := v_chunks || v_piece;
    v_pos := v_pos + v_take;
    EXIT WHEN v_pos > v_length;
  END LOOP;
  FOR i IN 1 .. cardinality(v_chunks) LOOP
    PERFORM pg_notify('pgstack:' || p_channel, format('%s:%s:%s:%s', v_id, i, cardinality(v_chunks), v_chunks[i]));
  END LOOP;
  RETURN v_id;
END
$$;

-- Publishes durably: stored (with the caller's transaction) and announced at commit.
CREATE FUNCTION pgstack.pubsub_publish_durable(p_channel text, p_payload text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  v_id bigint;
BEGIN
  PERFORM pgstack.pubsub_check_channel(p_channel);
  IF p_payload IS NULL THEN
    RAISE EXCEPTION 'pubsub: payload is NULL' USING ERRCODE = '22004';
  END IF;
  INSERT INTO pgstack.pubsub_messages (channel, payload) VALUES (p_channel, p_payload) RETURNING id INTO v_id;
  -- One wake-up per channel and transaction: identical notifications are folded.
  PERFORM pg_notify('pgstack.d:' || p_channel, '');
  RETURN v_id;
END
$$;

-- Durable messages of a channel after message p_after_id (0: from the oldest kept), up
-- to p_limit, in the order of the transactions that wrote them (then by id): the same
-- order for every reader. Only transactions that have ended are read (see the
-- table's comment), so a message is never skipped; a long transaction elsewhere
-- delays delivery until it ends.
CREATE FUNCTION pgstack.pubsub_read(p_channel text, p_after_id bigint DEFAULT 0, p_limit integer DEFAULT 100)
RETURNS TABLE (id bigint, payload text, published_at timestamptz)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_after_xid xid8;
  v_horizon xid8 := pg_snapshot_xmin(pg_current_snapshot());
BEGIN
  PERFORM pgstack.pubsub_check_channel(p_channel);
  SELECT m.xid INTO v_after_xid FROM pgstack.pubsub_messages m WHERE m.id = p_after_id AND m.channel = p_channel;
  IF NOT FOUND THEN
    -- Not kept any more (or 0): everything still kept after that id.
    RETURN QUERY
      SELECT m.id, m.payload, m.published_at FROM pgstack.pubsub_messages m
      WHERE m.channel = p_channel AND m.id > p_after_id AND m.xid < v_horizon
      ORDER BY m.xid, m.id LIMIT p_limit;
    RETURN;
  END IF;
  RETURN QUERY
    SELECT m.id, m.payload, m.published_at FROM pgstack.pubsub_messages m
    WHERE m.channel = p_channel AND (m.xid, m.id) > (v_after_xid, p_after_id) AND m.xid < v_horizon
    ORDER BY m.xid, m.id LIMIT p_limit;
END
$$;

-- A named consumer's position: where pubsub_read should go on from.
CREATE FUNCTION pgstack.pubsub_position(p_consumer text, p_channel text)
RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT coalesce((SELECT last_id FROM pgstack.pubsub_consumers WHERE consumer = p_consumer AND channel = p_channel), 0)
$$;

-- Records that a named consumer has handled everything up to p_id.
CREATE FUNCTION pgstack.pubsub_ack(p_consumer text, p_channel text, p_id bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF p_consumer IS NULL OR p_consumer !~ '^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$' THEN
    RAISE EXCEPTION 'pubsub: consumer name % is not valid', coalesce(quote_literal(p_consumer), 'NULL')
      USING ERRCODE = '22023';
  END IF;
  INSERT INTO pgstack.pubsub_consumers (consumer, channel, last_id) VALUES (p_consumer, p_channel, p_id)
  ON CONFLICT (consumer, channel) DO UPDATE SET last_id = excluded.last_id, updated_at = now();
END
$$;

-- Drops durable messages older than the retention. A maintenance task.
CREATE FUNCTION pgstack.pubsub_prune()
RETURNS bigint LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pgstack AS $$
  WITH gone AS (
    DELETE FROM pgstack.pubsub_messages
    WHERE published_at < now() - (SELECT retention FROM pgstack.pubsub_settings)
    RETURNING 1)
  SELECT count(*) FROM gone
$$;

SELECT pgstack.register_maintenance_task('pubsub_prune', 'pgstack.pubsub_prune()', interval '1 minute');
REVOKE EXECUTE ON FUNCTION pgstack.pubsub_prune() FROM PUBLIC;
