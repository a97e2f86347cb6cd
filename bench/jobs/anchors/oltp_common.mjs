// The "enqueue with the order" shapes shared by graphile_oltp.mjs and pgboss_oltp.mjs,
// the same as jobs_bench's produce and paced modes (bench/jobs/one_per_transaction.h):
// every transaction inserts an application row and enqueues one job beside it, while a
// worker in this process runs the jobs.
//   produce: <producers> clients committing back to back for <seconds>
//   paced:   <rate> transactions a second in total from 4 clients, for <seconds>;
//            commit (the COMMIT returning) → handler start, on this process's clock
import pg from "pg";

export const started = new Map(); // job id → performance.now() when its handler started

export function percentile(values, p) {
  if (values.length === 0) return 0;
  const v = [...values].sort((a, b) => a - b);
  return v[Math.floor(p * (v.length - 1))];
}

async function connect(conn) {
  const client = new pg.Client({ connectionString: conn });
  await client.connect();
  return client;
}

export async function prepare(conn) {
  const client = await connect(conn);
  await client.query(`create table if not exists bench_orders (id bigint generated always as identity primary key,
                       total numeric not null, created_at timestamptz not null default now())`);
  await client.end();
}

// The order and its job in one transaction; enqueue(client, orderId) returns the job id.
async function orderWithJob(client, enqueue) {
  await client.query("begin");
  const { rows } = await client.query("insert into bench_orders (total) values (99.50) returning id");
  const id = await enqueue(client, rows[0].id);
  await client.query("commit");
  return String(id);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function produce(conn, name, producers, seconds, enqueue) {
  let stop = false;
  const txnMs = [];
  const loops = [];
  const start = performance.now();
  for (let i = 0; i < producers; i++) {
    loops.push((async () => {
      const client = await connect(conn);
      while (!stop) {
        const t0 = performance.now();
        await orderWithJob(client, enqueue);
        txnMs.push(performance.now() - t0);
      }
      await client.end();
    })());
  }
  await sleep(seconds * 1000);
  stop = true;
  await Promise.all(loops);
  const elapsed = (performance.now() - start) / 1000;
  console.log(`RESULT ${name}_oltp_jobs_per_s=${Math.round(txnMs.length / elapsed)}`);
  console.log(`RESULT ${name}_oltp_txn_p50_ms=${percentile(txnMs, 0.5).toFixed(2)}`);
  console.log(`RESULT ${name}_oltp_txn_p99_ms=${percentile(txnMs, 0.99).toFixed(2)}`);
}

export async function paced(conn, name, rate, seconds, enqueue) {
  const threads = 4;
  const interval = (1000 * threads) / rate;
  const start = performance.now() + 100;
  const end = start + seconds * 1000;
  const committed = new Map();
  const loops = [];
  for (let i = 0; i < threads; i++) {
    loops.push((async () => {
      const client = await connect(conn);
      for (let due = start + (interval * i) / threads; due < end; due += interval) {
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        const id = await orderWithJob(client, enqueue);
        committed.set(id, performance.now());
      }
      await client.end();
    })());
  }
  await Promise.all(loops);
  for (let i = 0; i < 100 && started.size < committed.size; i++) await sleep(50);
  const lat = [];
  for (const [id, t] of committed) if (started.has(id)) lat.push(started.get(id) - t);
  if (lat.length !== committed.size) {
    console.error(`paced: ${lat.length} of ${committed.size} jobs started`);
    process.exitCode = 1;
  }
  console.log(`RESULT ${name}_paced_p50_ms=${percentile(lat, 0.5).toFixed(2)}`);
  console.log(`RESULT ${name}_paced_p99_ms=${percentile(lat, 0.99).toFixed(2)}`);
}
