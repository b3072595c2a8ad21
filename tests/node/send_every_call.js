// Sends one call of each type through an official Node SDK to a tracking API, then flushes.
// Usage: node send_every_call.js segment|rudderstack HOST WRITE_KEY PREFIX
// Exits 0 once the SDK reports every message delivered, 1 on any delivery error.
"use strict";

const [sdk, host, writeKey, prefix] = process.argv.slice(2);

function calls(userId) {
  return [
    ["identify", { userId, traits: { email: "ann@example.com" } }],
    ["track", { userId, event: "Order Completed", properties: { revenue: 39.95 } }],
    ["page", { userId, category: "Docs", name: "Install", properties: { path: "/install" } }],
    ["screen", { userId, name: "Cart", properties: { items: 2 } }],
    ["group", { userId, groupId: "acme", traits: { plan: "pro" } }],
    ["alias", { userId, previousId: "anon-9" }],
  ].map(([type, message]) => [type, { ...message, messageId: `${prefix}-${type}` }]);
}

async function viaSegment() {
  const { Analytics } = require("@segment/analytics-node");
  const client = new Analytics({ writeKey, host, flushAt: 6, maxRetries: 0 });
  const failures = [];
  client.on("error", (error) => failures.push(error));
  for (const [type, message] of calls("user-1")) client[type](message);
  await client.closeAndFlush({ timeout: 20000 });
  if (failures.length) throw new Error(JSON.stringify(failures.map(String)));
}

async function viaRudderStack() {
  const Analytics = require("@rudderstack/rudder-sdk-node");
  const client = new Analytics(writeKey, {
    dataPlaneUrl: host,
    flushAt: 6,
    retryCount: 0,
    logLevel: "error",
  });
  const delivered = calls("user-1").map(
    ([type, message]) =>
      new Promise((resolve, reject) =>
        client[type](message, (error) => (error ? reject(error) : resolve())),
      ),
  );
  await client.flush();
  await Promise.all(delivered);
}

(sdk === "segment" ? viaSegment() : viaRudderStack()).then(
  () => process.exit(0),
  (error) => {
    console.error(String(error && error.stack ? error.stack : error));
    process.exit(1);
  },
);
