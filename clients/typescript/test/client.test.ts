// The client against a running demo gateway (GATEWAY_URL, GATEWAY_KEY): real HTTP on loopback.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  type ActivityCreate,
  type CursorPath,
  createGatewayClient,
  GatewayProblem,
  iterate,
  ok,
  pages,
} from "../src/index.js";

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`set ${name} to a running demo gateway's (gateway serve --demo)`);
  }
  return value;
}

const baseUrl = required("GATEWAY_URL");
const gateway = createGatewayClient({ baseUrl, apiKey: required("GATEWAY_KEY") });

// Checked by tsc, not at run time: the lists the iterators walk are exactly the cursor ones.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const cursorPathsAreTheLists: Equal<CursorPath, "/v1/activities" | "/v1/tests" | "/v1/traces"> = true;
void cursorPathsAreTheLists;

test("iterate walks every page of the merged activity list exactly once", async () => {
  const whole = await ok(gateway.GET("/v1/activities", { params: { query: { limit: 1000 } } }));
  assert.equal(whole.next_cursor, null, "the demo holds fewer than 1000 activities");
  assert.deepEqual(whole.errors, []);

  let pageCount = 0;
  for await (const page of pages(gateway, "/v1/activities", { limit: 7 })) {
    assert.ok(page.items.length <= 7);
    assert.deepEqual(page.errors, []);
    pageCount += 1;
  }
  const walked: string[] = [];
  for await (const activity of iterate(gateway, "/v1/activities", { limit: 7 })) {
    walked.push(activity.id);
  }
  assert.equal(pageCount, Math.ceil(whole.items.length / 7));
  assert.equal(new Set(walked).size, walked.length, "an activity came twice");
  assert.deepEqual(new Set(walked), new Set(whole.items.map((activity) => activity.id)));
  const providers = new Set(whole.items.map((activity) => activity.provider));
  assert.ok(providers.has("sweatstack") && providers.has("astral"), [...providers].join(", "));
});

test("filters are sent as the API reads them: repeated sport, one provider", async () => {
  const sports = ["running", "cycling"];
  const found: string[] = [];
  const query = { sport: sports, provider: ["astral"], limit: 50 };
  for await (const activity of iterate(gateway, "/v1/activities", query)) {
    assert.equal(activity.provider, "astral");
    found.push(activity.sport);
  }
  assert.ok(found.length > 0, "the demo's astral user has runs and rides");
  // A parent sport matches its sub-sports (`cycling.road`).
  const within = (sport: string, parent: string) => sport === parent || sport.startsWith(`${parent}.`);
  assert.ok(found.every((sport) => sports.some((s) => within(sport, s))), found.join(", "));
  assert.ok(sports.every((s) => found.some((sport) => within(sport, s))), found.join(", "));
});

test("an activity created at local reads back, lists, deletes, and then is a 404 problem", async () => {
  const draft: ActivityCreate = {
    provider: "local",
    sport: "cycling",
    start: "2026-11-29T06:30:00Z",
    duration_s: 3600,
    distance_m: 30500,
    name: "TypeScript client ride",
    tags: ["ts-client"],
  };
  const created = await ok(gateway.POST("/v1/activities", { body: draft }));
  assert.match(created.id, /^local:/);
  assert.equal(created.end, "2026-11-29T07:30:00Z");
  const path = { activity_id: created.id };

  const read = await ok(gateway.GET("/v1/activities/{activity_id}", { params: { path } }));
  assert.deepEqual(
    [read.id, read.provider, read.sport, read.start, read.duration_s, read.distance_m, read.name, read.tags],
    [created.id, "local", "cycling", draft.start, 3600, 30500, "TypeScript client ride", ["ts-client"]],
  );

  const tagged: string[] = [];
  const query = { provider: ["local"], tags: ["ts-client"] };
  for await (const activity of iterate(gateway, "/v1/activities", query)) {
    tagged.push(activity.id);
  }
  assert.deepEqual(tagged, [created.id]);

  const deleted = await gateway.DELETE("/v1/activities/{activity_id}", { params: { path } });
  assert.equal(deleted.response.status, 204);

  const problem = await caught(ok(gateway.GET("/v1/activities/{activity_id}", { params: { path } })));
  assert.equal(problem.status, 404);
  assert.equal(problem.title, "Not found");
  assert.ok(problem.detail?.includes(created.id.slice("local:".length)), problem.detail);
  assert.equal(problem.instance, `/v1/activities/${created.id}`);
});

test("a bad query parameter is a 400 problem naming the field", async () => {
  const problem = await caught(ok(gateway.GET("/v1/activities", { params: { query: { limit: 0 } } })));
  assert.equal(problem.status, 400);
  assert.equal(problem.field, "limit");
  assert.deepEqual(
    problem.errors.map((error) => error["field"]),
    ["limit"],
  );
});

test("a body the provider refuses is a 422 problem naming the field", async () => {
  const problem = await caught(
    ok(
      gateway.POST("/v1/activities", {
        body: { provider: "local", sport: "running", start: "2026-11-29T06:30:00Z", duration_s: -1 },
      }),
    ),
  );
  assert.equal(problem.status, 422);
  assert.equal(problem.field, "duration_s");
});

test("an unknown key is a 401 problem, and a request's own headers cannot replace the key", async () => {
  const stranger = createGatewayClient({ baseUrl, apiKey: "gw_not_a_key" });
  const problem = await caught(ok(stranger.GET("/v1/providers")));
  assert.equal(problem.status, 401);

  const headers = { Authorization: "Bearer gw_not_a_key" };
  const providers = await ok(gateway.GET("/v1/providers", { headers }));
  assert.ok(providers.some((provider) => provider.name === "local"));
});

test("a failure that is no problem document still becomes a GatewayProblem", async () => {
  const proxy = createGatewayClient({
    baseUrl,
    apiKey: "gw_any",
    fetch: async () => new Response("<html>Bad gateway</html>", { status: 502, statusText: "Bad Gateway" }),
  });
  const problem = await caught(ok(proxy.GET("/v1/providers")));
  assert.equal(problem.status, 502);
  assert.equal(problem.title, "Bad Gateway");
  assert.equal(problem.detail, "<html>Bad gateway</html>");
});

test("the types refuse what the API refuses", () => {
  // A create names its provider: without one it does not compile.
  // @ts-expect-error provider is required
  const missing: ActivityCreate = { sport: "running", start: "2026-11-29T06:30:00Z", duration_s: 60 };
  assert.equal(missing.provider, undefined);
});

async function caught(call: Promise<unknown>): Promise<GatewayProblem> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof GatewayProblem, String(error));
    return error;
  }
  assert.fail("the call succeeded");
}
