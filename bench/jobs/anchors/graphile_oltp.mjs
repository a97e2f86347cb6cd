// graphile-worker in the "enqueue with the order" shapes (oltp_common.mjs): each
// transaction calls graphile_worker.add_job in SQL beside its order; run() works the
// jobs in this process (LISTEN/NOTIFY, as graphile-worker always does).
//   node graphile_oltp.mjs <connection string> produce <producers> <seconds>
//   node graphile_oltp.mjs <connection string> paced <rate> <seconds>
import { run, makeWorkerUtils, Logger } from "graphile-worker";
import { prepare, produce, paced, started } from "./oltp_common.mjs";

const [conn, mode, nArg, secondsArg] = process.argv.slice(2);
const utils = await makeWorkerUtils({ connectionString: conn });
await utils.migrate();
await utils.release();
await prepare(conn);
const runner = await run({
  noHandleSignals: true,
  taskList: { noop: async (_payload, helpers) => void started.set(String(helpers.job.id), performance.now()) },
  preset: { worker: { connectionString: conn, concurrentJobs: 8, maxPoolSize: 10 } },
  logger: new Logger(() => (level, message) => {
    if (level === "error") console.error(message);
  }),
});
await new Promise((r) => setTimeout(r, 500));
const enqueue = async (client, orderId) =>
  (await client.query("select (graphile_worker.add_job('noop', json_build_object('order_id', $1::bigint))).id", [orderId]))
    .rows[0].id;
if (mode === "produce") await produce(conn, "graphile", Number(nArg), Number(secondsArg), enqueue);
else await paced(conn, "graphile", Number(nArg), Number(secondsArg), enqueue);
await runner.stop();
