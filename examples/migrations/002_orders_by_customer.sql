-- pgstack:no-transaction
-- Built without locking out writes; a failed build leaves no INVALID index behind.
CREATE INDEX CONCURRENTLY orders_by_customer ON orders (customer_id);
