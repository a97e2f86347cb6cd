-- Feature flags (docs/flags.md): boolean and multivariant flags, configured per
-- environment by an ordered list of rules; every change recorded. The C++ FlagClient
-- evaluates from memory and reloads on NOTIFY pgstack_flags; pgstack.flag_evaluate
-- gives the same answer in SQL (the same rules, the same hash).

CREATE TABLE pgstack.flag_environments (
  name text PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT flag_environment_name_format CHECK (name ~ '^[a-z][a-z0-9_-]{0,62}$')
);
INSERT INTO pgstack.flag_environments (name) VALUES ('development'), ('staging'), ('production');

CREATE TABLE pgstack.flags (
  key text PRIMARY KEY,
  kind text NOT NULL,
  -- The values the flag can serve: [false, true] for a boolean flag, strings otherwise.
  variants jsonb NOT NULL,
  -- Served where the flag is off, or has no configuration for the environment.
  off_value jsonb NOT NULL,
  description text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT flag_key_format CHECK (key ~ '^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$'),
  CONSTRAINT flag_kind_known CHECK (kind IN ('boolean', 'variant'))
);
CREATE TRIGGER set_updated_at BEFORE UPDATE ON pgstack.flags FOR EACH ROW EXECUTE FUNCTION pgstack.set_updated_at();

-- A flag's rules in one environment, as one validated document (flag_set checks it):
--   {"enabled": true,
--    "rules": [{"when": [{"attribute": "country", "op": "in", "values": ["DE", "FR"]}],
--               "serve": true, "percentage": 30},
--              {"when": [], "split": [{"value": "a", "weight": 50}, {"value": "b", "weight": 50}]}],
--    "default": false}
-- One document per (flag, environment) makes a change atomic and its record whole.
CREATE TABLE pgstack.flag_configs (
  flag text NOT NULL REFERENCES pgstack.flags (key) ON DELETE CASCADE,
  environment text NOT NULL REFERENCES pgstack.flag_environments (name),
  config jsonb NOT NULL,
  version bigint NOT NULL DEFAULT 1,
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by text NOT NULL,
  PRIMARY KEY (flag, environment)
);

-- Every change to a flag or its configuration: who, when, before and after.
CREATE TABLE pgstack.flag_changes (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  flag text NOT NULL,
  environment text,  -- NULL: the flag itself (created, described, deleted)
  changed_by text NOT NULL,
  changed_at timestamptz NOT NULL DEFAULT now(),
  before jsonb,
  after jsonb
);
CREATE INDEX flag_changes_flag ON pgstack.flag_changes (flag, id);
COMMENT ON TABLE pgstack.flag_changes IS 'pgstack flags: the audit trail of every flag change';

-- Who made a change: what the caller declared (flag_set's p_actor, or
-- SET LOCAL pgstack.actor = ...), else the database role.
CREATE FUNCTION pgstack.flag_actor()
RETURNS text LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('pgstack.actor', true), ''), session_user::text)
$$;

-- Triggers: record the change and tell every FlagClient to reload (one notification
-- per flag per transaction: PostgreSQL folds identical ones).
CREATE FUNCTION pgstack.flag_record_flag_change()
RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_flag text := CASE WHEN TG_OP = 'DELETE' THEN OLD.key ELSE NEW.key END;
BEGIN
  INSERT INTO pgstack.flag_changes (flag, environment, changed_by, before, after)
  VALUES (v_flag, NULL, pgstack.flag_actor(),
          CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) - 'created_at' - 'updated_at' END,
          CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) - 'created_at' - 'updated_at' END);
  PERFORM pg_notify('pgstack_flags', v_flag);
  RETURN NULL;
END
$$;

CREATE FUNCTION pgstack.flag_record_config_change()
RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_flag text := CASE WHEN TG_OP = 'DELETE' THEN OLD.flag ELSE NEW.flag END;
BEGIN
  -- A config deleted with its flag is recorded by the flag's own change.
  IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM pgstack.flags WHERE key = v_flag) THEN
    RETURN NULL;
  END IF;
  INSERT INTO pgstack.flag_changes (flag, environment, changed_by, before, after)
  VALUES (v_flag, CASE WHEN TG_OP = 'DELETE' THEN OLD.environment ELSE NEW.environment END, pgstack.flag_actor(),
          CASE WHEN TG_OP <> 'INSERT' THEN OLD.config END, CASE WHEN TG_OP <> 'DELETE' THEN NEW.config END);
  PERFORM pg_notify('pgstack_flags', v_flag);
  RETURN NULL;
END
$$;

CREATE TRIGGER flag_record_change AFTER INSERT OR UPDATE OR DELETE ON pgstack.flags
  FOR EACH ROW EXECUTE FUNCTION pgstack.flag_record_flag_change();
CREATE TRIGGER flag_record_change AFTER INSERT OR UPDATE OR DELETE ON pgstack.flag_configs
  FOR EACH ROW EXECUTE FUNCTION pgstack.flag_record_config_change();
