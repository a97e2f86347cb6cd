-- Internal helpers are not part of the API (docs/kv.md lists it) and no application role
-- may call them: cache_view_refreshes_concurrently is used only by cache_refresh_views,
-- a SECURITY DEFINER maintenance task that runs as the owner.
REVOKE EXECUTE ON FUNCTION pgstack.cache_view_refreshes_concurrently(regclass) FROM readwrite, readonly;
