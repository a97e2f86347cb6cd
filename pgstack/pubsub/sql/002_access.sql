-- Who may do what in this module, and one convention for the whole SQL API
-- (docs/stack.md#security, schema/sql/003_access.sql):
--  * parameters take bare names, as the docs write them (kv_set(namespace, key, value,
--    ttl, mode)); functions whose parameters were p_-prefixed are made again;
--  * every function pins its search_path (pg_catalog, pgstack, pg_temp last);
--  * the tables are the owner's: publishing, acknowledging and pruning run as the owner;
--  * EXECUTE for readwrite (the API) and readonly (what only reads), never PUBLIC.

-- The functions whose parameters are renamed: dropped and made again below.
DROP FUNCTION pgstack.pubsub_check_channel(text);
DROP FUNCTION pgstack.pubsub_publish(text, text);
DROP FUNCTION pgstack.pubsub_publish_durable(text, text);
DROP FUNCTION pgstack.pubsub_read(text, bigint, integer);
DROP FUNCTION pgstack.pubsub_position(text, text);
DROP FUNCTION pgstack.pubsub_ack(text, text, bigint);

CREATE FUNCTION pgstack.pubsub_check_channel(channel text)
RETURNS void LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_channel ALIAS FOR $1;
BEGIN
  IF p_channel IS NULL OR p_channel !~ '^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,52}$' THEN
    RAISE EXCEPTION 'pubsub: channel name % is not valid', coalesce(quote_literal(p_channel), 'NULL')
      USING ERRCODE = '22023', HINT = 'Use 1 to 53 letters, digits, _ . : and -, e.g. ''orders.created''.';
  END IF;
END
$$;

-- Publishes to live subscribers, at commit of the caller's transaction. Up to 1 MB;
-- returns the message's id.
CREATE FUNCTION pgstack.pubsub_publish(channel text, payload text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_channel ALIAS FOR $1;
  p_payload ALIAS FOR $2;
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
CREATE FUNCTION pgstack.pubsub_publish_durable(channel text, payload text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_channel ALIAS FOR $1;
  p_payload ALIAS FOR $2;
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

-- Durable messages of a channel after message after_id (0: from the oldest kept), up
-- to max_rows, in the order of the transactions that wrote them (then by id): the same
-- order for every reader. Only transactions that have ended are read (see the
-- table's comment), so a message is never skipped; a long transaction elsewhere
-- delays delivery until it ends.
CREATE FUNCTION pgstack.pubsub_read(channel text, after_id bigint DEFAULT 0, max_rows integer DEFAULT 100)
RETURNS TABLE (id bigint, payload text, published_at timestamptz)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_channel ALIAS FOR $1;
  p_after_id ALIAS FOR $2;
  p_limit ALIAS FOR $3;
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
CREATE FUNCTION pgstack.pubsub_position(consumer text, channel text)
RETURNS bigint LANGUAGE sql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT coalesce((SELECT last_id FROM pgstack.pubsub_consumers WHERE consumer = pubsub_position.consumer AND channel = pubsub_position.channel), 0)
$$;

-- Records that a named consumer has handled everything up to message_id.
CREATE FUNCTION pgstack.pubsub_ack(consumer text, channel text, message_id bigint)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_consumer ALIAS FOR $1;
  p_channel ALIAS FOR $2;
  p_id ALIAS FOR $3;
BEGIN
  IF p_consumer IS NULL OR p_consumer !~ '^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$' THEN
    RAISE EXCEPTION 'pubsub: consumer name % is not valid', coalesce(quote_literal(p_consumer), 'NULL')
      USING ERRCODE = '22023';
  END IF;
  INSERT INTO pgstack.pubsub_consumers (consumer, channel, last_id) VALUES (p_consumer, p_channel, p_id)
  ON CONFLICT (consumer, channel) DO UPDATE SET last_id = excluded.last_id, updated_at = now();
END
$$;

-- The others keep their definitions; they pin their search_path (and run as the owner where
-- they write what only the owner may write).
ALTER FUNCTION pgstack.pubsub_prune() SECURITY DEFINER SET search_path = pg_catalog, pgstack, pg_temp;

-- Who may call what: nobody by default (PUBLIC), readwrite the API, readonly the reads.
REVOKE ALL ON FUNCTION pgstack.pubsub_check_channel(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.pubsub_publish(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.pubsub_publish_durable(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.pubsub_read(text, bigint, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.pubsub_position(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.pubsub_ack(text, text, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.pubsub_prune() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
  pgstack.pubsub_publish(text, text),
  pgstack.pubsub_publish_durable(text, text),
  pgstack.pubsub_ack(text, text, bigint)
  TO readwrite;
GRANT EXECUTE ON FUNCTION
  pgstack.pubsub_check_channel(text),
  pgstack.pubsub_read(text, bigint, integer),
  pgstack.pubsub_position(text, text)
  TO readwrite, readonly;

-- Tables: read by both roles, written only by the functions above.
REVOKE ALL ON pgstack.pubsub_messages, pgstack.pubsub_consumers, pgstack.pubsub_settings FROM PUBLIC, readwrite, readonly;
GRANT SELECT ON pgstack.pubsub_messages, pgstack.pubsub_consumers, pgstack.pubsub_settings TO readwrite, readonly;
REVOKE ALL ON SEQUENCE pgstack.pubsub_message_seq, pgstack.pubsub_messages_id_seq FROM PUBLIC, readwrite, readonly;
