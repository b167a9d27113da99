// Starts fauxqs (SQS and S3 on one port) bound to 127.0.0.1 only: its own
// CLI listens on every interface, and cutover's tests stay on loopback.
// Usage: FAUXQS_PORT=4566 node fauxqs-loopback.mjs
import { buildApp } from "fauxqs";
import { SqsStore } from "./node_modules/fauxqs/dist/sqs/sqsStore.js";
import { SnsStore } from "./node_modules/fauxqs/dist/sns/snsStore.js";
import { S3Store } from "./node_modules/fauxqs/dist/s3/s3Store.js";

const port = parseInt(process.env.FAUXQS_PORT ?? "4566", 10);
const host = `127.0.0.1:${port}`;
const app = buildApp({
  logger: process.env.FAUXQS_LOGGER === "true",
  host,
  stores: { sqsStore: new SqsStore(), snsStore: new SnsStore(), s3Store: new S3Store() },
});
await app.listen({ port, host: "127.0.0.1" });
console.log(`fauxqs listening on http://${host}`);
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => app.close().then(() => process.exit(0)));
}
