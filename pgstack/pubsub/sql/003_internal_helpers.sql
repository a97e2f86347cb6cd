-- Internal helpers are not part of the API (docs/pubsub.md lists it) and no application
-- role may call them. pubsub_read, which calls pubsub_check_channel, runs as the owner
-- from this release; it is read-only (STABLE), builds no SQL from its arguments and
-- answers the same whoever asks.
ALTER FUNCTION pgstack.pubsub_read(text, bigint, integer) SECURITY DEFINER SET search_path = pg_catalog, pgstack, pg_temp;

REVOKE EXECUTE ON FUNCTION pgstack.pubsub_check_channel(text) FROM readwrite, readonly;
