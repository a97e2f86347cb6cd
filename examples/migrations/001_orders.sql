-- The README's tour: the table its job and kv examples are about. Run by
-- `pgstack migrate up --dir examples/migrations` as role migrations, so `app` may use
-- it through the stack's default privileges (docs/stack.md).
CREATE TABLE orders (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id bigint NOT NULL,
  total numeric(12, 2) NOT NULL CHECK (total >= 0),
  created_at timestamptz NOT NULL DEFAULT now()
);
