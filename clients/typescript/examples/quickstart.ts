import { createGatewayClient, GatewayProblem, iterate, ok } from "../src/index.js";

const gateway = createGatewayClient({
  baseUrl: process.env["GATEWAY_URL"] ?? "http://127.0.0.1:8000",
  apiKey: process.env["GATEWAY_KEY"] ?? "",
});

// Every activity of every connected provider, newest first, walking `next_cursor`.
const perProvider = new Map<string, number>();
for await (const activity of iterate(gateway, "/v1/activities", { limit: 100 })) {
  perProvider.set(activity.provider, (perProvider.get(activity.provider) ?? 0) + 1);
}
console.log("activities:", Object.fromEntries(perProvider));

// Create one at `local` (the gateway's own store, there for every user), read it, delete it.
const created = await ok(
  gateway.POST("/v1/activities", {
    body: { provider: "local", sport: "running", start: "2026-11-30T07:00:00Z", duration_s: 1800 },
  }),
);
const path = { activity_id: created.id };
const read = await ok(gateway.GET("/v1/activities/{activity_id}", { params: { path } }));
console.log("created:", read.id, read.sport, read.end);
await ok(gateway.DELETE("/v1/activities/{activity_id}", { params: { path } }));

// Every error answer is a problem document, thrown as a GatewayProblem.
try {
  await ok(gateway.GET("/v1/activities/{activity_id}", { params: { path } }));
} catch (error) {
  if (!(error instanceof GatewayProblem) || error.status !== 404) throw error;
  console.log("deleted:", error.status, error.title);
}
