-- The capability contract's functions run with JIT off (docs/architecture.md, "The
-- capability contract"). They read small queue, catalog and statistics tables; planned
-- on tables autovacuum has never analyzed (a few rows never reach its threshold) their
-- estimated cost passes jit_above_cost, and LLVM then spends 25-50 ms compiling a
-- statement that runs in under one: measured, it was half of a pgstack doctor run and a
-- fifth of a metrics scrape (docs/BENCHMARKS.md).
ALTER FUNCTION pgstack.core_health(jsonb) SET jit = off;
