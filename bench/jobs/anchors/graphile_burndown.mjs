// graphile-worker's side of bench/jobs/run: enqueue N no-op jobs with addJobs, then
// time worker processes (run()) working them off with batching on (local queue,
// batched completion), and print RESULT lines.
//   node graphile_burndown.mjs <connection string> <jobs> <processes> <concurrency> <pool size per process>
import { fork } from "node:child_process";
import { run, makeWorkerUtils, Logger } from "graphile-worker";
import pg from "pg";

const [conn, jobsArg, procsArg, concArg, poolArg] = process.argv.slice(2);

if (process.env.GRAPHILE_CHILD) {
  // A worker process: works until the parent says stop.
  const concurrency = Number(concArg);
  const runner = await run({
    noHandleSignals: true,
    taskList: { noop: async () => {} },
    preset: {
      worker: {
        connectionString: conn,
        concurrentJobs: concurrency,
        maxPoolSize: Number(poolArg),
        pollInterval: 1000,
        localQueue: { size: Number(process.env.GW_LOCAL_QUEUE || 500) },
        completeJobBatchDelay: 0,
        failJobBatchDelay: 0,
      },
    },
    // Quiet, but errors still show.
    logger: new Logger(() => (level, message) => {
      if (level === "error") console.error(message);
    }),
  });
  process.send("ready");
  process.on("message", async () => {
    await runner.stop();
    process.exit(0);
  });
} else {
  const jobs = Number(jobsArg);
  const utils = await makeWorkerUtils({ connectionString: conn });
  await utils.migrate();
  const client = new pg.Client({ connectionString: conn });
  await client.connect();
  await client.query("delete from graphile_worker._private_jobs");
  const t0 = performance.now();
  for (let done = 0; done < jobs; ) {
    const n = Math.min(10000, jobs - done);
    await utils.addJobs(Array.from({ length: n }, () => ({ identifier: "noop", payload: {} })));
    done += n;
  }
  const enqueueSeconds = (performance.now() - t0) / 1000;
  await client.query("vacuum analyze graphile_worker._private_jobs");
  const children = [];
  for (let i = 0; i < Number(procsArg); i++) {
    const child = fork(new URL(import.meta.url).pathname, process.argv.slice(2), {
      env: { ...process.env, GRAPHILE_CHILD: "1" },
    });
    await new Promise((resolve) => child.once("message", resolve));
    children.push(child);
  }
  // The workers start idle-listening; the clock starts when all are up, as for pgstack.
  const t1 = performance.now();
  await client.query("select pg_notify('jobs:insert', '{}')");
  for (;;) {
    const { rows } = await client.query("select count(*)::int as n from graphile_worker._private_jobs");
    if (rows[0].n === 0) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const burnSeconds = (performance.now() - t1) / 1000;
  for (const c of children) c.send("stop");
  await Promise.all(children.map((c) => new Promise((r) => c.once("exit", r))));
  console.log(`RESULT graphile_enqueue_jobs_per_s=${Math.round(jobs / enqueueSeconds)}`);
  console.log(`RESULT graphile_burndown_jobs_per_s=${Math.round(jobs / burnSeconds)}`);
  await client.end();
  await utils.release();
}
