// pg-boss's side of bench/jobs/run: enqueue N no-op jobs with insert(), then time
// worker processes (work() with batches) working them off, and print RESULT lines.
//   node pgboss_burndown.mjs <connection string> <jobs> <processes> <workers per process> <batch> <pool size per process>
import { fork } from "node:child_process";
import PgBoss from "pg-boss";
import pg from "pg";

const [conn, jobsArg, procsArg, workersArg, batchArg, poolArg] = process.argv.slice(2);
const queue = "noop";

if (process.env.PGBOSS_CHILD) {
  const boss = new PgBoss({ connectionString: conn, max: Number(poolArg), supervise: false, schedule: false });
  boss.on("error", (e) => console.error(e));
  await boss.start();
  for (let i = 0; i < Number(workersArg); i++)
    await boss.work(queue, { batchSize: Number(batchArg), pollingIntervalSeconds: 0.5 }, async () => {});
  process.send("ready");
  process.on("message", async () => {
    await boss.stop({ graceful: true, wait: true, timeout: 5000 });
    process.exit(0);
  });
} else {
  const jobs = Number(jobsArg);
  const boss = new PgBoss({ connectionString: conn, max: 4 });
  boss.on("error", (e) => console.error(e));
  await boss.start();
  await boss.deleteQueue(queue).catch(() => {});
  await boss.createQueue(queue);
  const t0 = performance.now();
  for (let done = 0; done < jobs; ) {
    const n = Math.min(10000, jobs - done);
    await boss.insert(Array.from({ length: n }, () => ({ name: queue, data: {} })));
    done += n;
  }
  const enqueueSeconds = (performance.now() - t0) / 1000;
  const client = new pg.Client({ connectionString: conn });
  await client.connect();
  await client.query("vacuum analyze pgboss.job");
  const children = [];
  const t1 = performance.now();
  for (let i = 0; i < Number(procsArg); i++) {
    const child = fork(new URL(import.meta.url).pathname, process.argv.slice(2), {
      env: { ...process.env, PGBOSS_CHILD: "1" },
    });
    children.push(child);
  }
  // pg-boss workers start polling when work() is called, so the clock starts at fork;
  // the processes' start-up (about 0.3 s) is counted against pg-boss, which favours the others.
  await Promise.all(children.map((c) => new Promise((resolve) => c.once("message", resolve))));
  for (;;) {
    const { rows } = await client.query("select count(*)::int as n from pgboss.job where name = $1 and state < 'completed'", [queue]);
    if (rows[0].n === 0) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const burnSeconds = (performance.now() - t1) / 1000;
  for (const c of children) c.send("stop");
  await Promise.all(children.map((c) => new Promise((r) => c.once("exit", r))));
  console.log(`RESULT pgboss_enqueue_jobs_per_s=${Math.round(jobs / enqueueSeconds)}`);
  console.log(`RESULT pgboss_burndown_jobs_per_s=${Math.round(jobs / burnSeconds)}`);
  await client.end();
  await boss.stop({ graceful: false, wait: true, timeout: 2000 });
}
