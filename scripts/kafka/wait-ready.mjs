// Waits until the local Kafka broker is usable by kafkajs, up to a working consumer group.
// "Kafka Server started" in the log is not enough: right after start the group coordinator
// can still be loading __consumer_offsets, and kafkajs retries that poorly, so the first
// test to join a group would flake. Run from the repo root (kafkajs resolves from there).
// Usage: KAFKA_BROKERS=127.0.0.1:19092 node scripts/kafka/wait-ready.mjs
import { Kafka, Partitioners, logLevel } from 'kafkajs';

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(',');
const TOPIC = 'tilecast.warmup';
const GROUP = 'tilecast-warmup';
const CLUSTER_DEADLINE_MS = 60_000;
const GROUP_DEADLINE_MS = 60_000;
const ATTEMPT_MS = 15_000; // one consumer-group attempt; a healthy broker needs < 1 s

const log = (msg) => console.error(`wait-ready: ${msg}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Last-resort guard in case a kafkajs call never settles.
setTimeout(() => {
  log('gave up: overall timeout');
  process.exit(1);
}, CLUSTER_DEADLINE_MS + GROUP_DEADLINE_MS + 10_000).unref();

const kafka = new Kafka({
  clientId: 'tilecast-wait-ready',
  brokers,
  // Our loops own the retrying; kafkajs' own error logs would only be noise while waiting.
  logLevel: process.env.WAIT_READY_DEBUG ? logLevel.DEBUG : logLevel.NOTHING,
  connectionTimeout: 2_000,
  retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1_000 },
});

// Calls fn until it resolves or the deadline passes; rethrows the last error with context.
async function retryUntil(what, deadlineMs, fn) {
  const deadline = Date.now() + deadlineMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() >= deadline) {
        throw new Error(`${what} still failing after ${deadlineMs / 1000}s (${attempt} attempts): ${err.message}`);
      }
      await sleep(250);
    }
  }
}

// Join the group, receive our own message, commit its offset. Resolves once committed.
async function consumeOwnMessage(marker) {
  const consumer = kafka.consumer({
    groupId: GROUP,
    // Let a failed attempt end here so retryUntil starts a clean one.
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1_000, restartOnFailure: async () => false },
  });
  let timer;
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [TOPIC], fromBeginning: true });
    await new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no message within ${ATTEMPT_MS / 1000}s`)), ATTEMPT_MS);
      consumer.on(consumer.events.CRASH, ({ payload }) => reject(payload.error));
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            if (message.value?.toString() !== marker) return; // earlier runs' messages
            // An explicit commit proves the coordinator accepts offsets, not only joins.
            await consumer.commitOffsets([
              { topic: TOPIC, partition, offset: (BigInt(message.offset) + 1n).toString() },
            ]);
            resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => {});
  }
}

async function main() {
  const started = Date.now();
  const admin = kafka.admin();
  const producer = kafka.producer({
    idempotent: true, // same path as the app's producer: needs InitProducerId to work
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner, // silences kafkajs' v2 partitioner warning
  });
  try {
    const cluster = await retryUntil('describeCluster', CLUSTER_DEADLINE_MS, async () => {
      await admin.connect();
      return admin.describeCluster();
    });
    log(`cluster ${cluster.clusterId} answers (${cluster.brokers.length} broker(s))`);

    // Returns false (no error) when the topic exists already, e.g. a second run.
    await retryUntil('createTopics', GROUP_DEADLINE_MS, () =>
      admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1 }], waitForLeaders: true }),
    );

    const marker = `warmup-${process.pid}-${Date.now()}`;
    await retryUntil('produce', GROUP_DEADLINE_MS, async () => {
      await producer.connect();
      await producer.send({ topic: TOPIC, acks: -1, messages: [{ value: marker }] });
    });

    await retryUntil('consumer group', GROUP_DEADLINE_MS, () => consumeOwnMessage(marker));
    log(`consumer group ${GROUP} works (${Date.now() - started} ms)`);
  } finally {
    await producer.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    log(`NOT READY: ${err.message}`);
    process.exit(1);
  },
);
