-- The core module: the schema every pgstack workload lives in, and the helpers
-- every table uses.
CREATE SCHEMA IF NOT EXISTS pgstack;
COMMENT ON SCHEMA pgstack IS 'pgstack: workloads on PostgreSQL (jobs, cache, flags, search, ...). Managed by pgstack migrations.';

-- Keeps updated_at honest whatever client writes the row:
--   CREATE TRIGGER set_updated_at BEFORE UPDATE ON things
--     FOR EACH ROW EXECUTE FUNCTION pgstack.set_updated_at();
CREATE OR REPLACE FUNCTION pgstack.set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION pgstack.set_updated_at() IS 'BEFORE UPDATE trigger: sets NEW.updated_at to now()';
