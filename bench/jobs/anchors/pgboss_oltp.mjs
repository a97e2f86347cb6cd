// pg-boss in the "enqueue with the order" shapes (oltp_common.mjs): each transaction
// calls send() on its own client (the db option) beside its order; work() runs the
// jobs in this process in batches of up to 100, polling every 0.5 s (pg-boss's shortest;
// it sends no NOTIFY). With batches of 8 it could not keep up with 100 jobs/s.
//   node pgboss_oltp.mjs <connection string> produce <producers> <seconds>
//   node pgboss_oltp.mjs <connection string> paced <rate> <seconds>
import PgBoss from "pg-boss";
import { prepare, produce, paced, started } from "./oltp_common.mjs";

const [conn, mode, nArg, secondsArg] = process.argv.slice(2);
const queue = "noop";
await prepare(conn);
const boss = new PgBoss({ connectionString: conn, max: 10, supervise: false, schedule: false });
boss.on("error", (e) => console.error(e));
await boss.start();
await boss.createQueue(queue);
await boss.work(queue, { batchSize: 100, pollingIntervalSeconds: 0.5 }, async (jobs) => {
  for (const job of jobs) started.set(String(job.id), performance.now());
});
await new Promise((r) => setTimeout(r, 500));
const enqueue = (client, orderId) =>
  boss.send(queue, { order_id: orderId }, { db: { executeSql: (text, values) => client.query(text, values) } });
if (mode === "produce") await produce(conn, "pgboss", Number(nArg), Number(secondsArg), enqueue);
else await paced(conn, "pgboss", Number(nArg), Number(secondsArg), enqueue);
await boss.stop({ graceful: false, wait: true, timeout: 2000 });
