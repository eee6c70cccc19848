/**
 * A typed client of the training-data gateway for web and mobile apps.
 *
 * The request and response types come from `schema.d.ts`, which `npm run generate` makes from
 * the gateway's committed OpenAPI document; the requests are made by openapi-fetch. This
 * module adds only what the document cannot say: the API key on every request, a problem
 * document as a thrown error, and iterators that walk `next_cursor`.
 */

import createClient, { type Client, type ClientOptions, type Middleware } from "openapi-fetch";

import type { components, operations, paths } from "./schema.js";

export type { components, operations, paths };

/** Every schema of the API by name: `Schemas["Activity"]`, `Schemas["ActivityCreate"]`, ... */
export type Schemas = components["schemas"];
export type Activity = Schemas["Activity"];
export type ActivityCreate = Schemas["ActivityCreate"];
export type ActivityPage = Schemas["ActivityPage"];
export type Problem = Schemas["Problem"];
export type ProviderFailure = Schemas["ProviderFailure"];

/** The openapi-fetch client over every route of the gateway. */
export type GatewayClient = Client<paths>;

export interface GatewayClientOptions {
  /** Where the gateway listens, e.g. `http://127.0.0.1:8000`. */
  baseUrl: string;
  /** A gateway API key (or the operator's key for the admin routes), sent as a Bearer token. */
  apiKey: string;
  /** Another `fetch` (a test double, React Native's, one with a proxy agent). */
  fetch?: ClientOptions["fetch"];
  /** Headers sent with every request besides the Authorization header. */
  headers?: Record<string, string>;
}

/** A client whose every request carries `Authorization: Bearer <apiKey>`. */
export function createGatewayClient(options: GatewayClientOptions): GatewayClient {
  if (!options.apiKey) {
    throw new TypeError("createGatewayClient needs an apiKey");
  }
  const client = createClient<paths>({
    baseUrl: options.baseUrl,
    headers: options.headers,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  client.use(bearer(options.apiKey));
  return client;
}

// A middleware rather than a default header, so no per-request `headers` can drop the key by
// accident, and the key never sits in an options object a caller might log.
function bearer(apiKey: string): Middleware {
  return {
    onRequest({ request }) {
      request.headers.set("Authorization", `Bearer ${apiKey}`);
      return request;
    },
  };
}

/**
 * An RFC 9457 problem document the gateway answered with, as an Error.
 *
 * `field` names the query parameter or body field at fault, `provider` the provider that
 * failed or refused, `retryAfter` how many seconds to wait before trying again.
 */
export class GatewayProblem extends Error {
  readonly status: number;
  readonly title: string;
  readonly detail: string | undefined;
  readonly field: string | undefined;
  readonly provider: string | undefined;
  readonly capability: string | undefined;
  readonly type: string | undefined;
  readonly instance: string | undefined;
  readonly retryAfter: number | undefined;
  /** Every problem when there were several (an invalid body with more than one bad field). */
  readonly errors: readonly Record<string, unknown>[];
  /** The whole document, with any members this client does not name. */
  readonly problem: Readonly<Record<string, unknown>>;

  constructor(problem: Problem & Record<string, unknown>) {
    const headline = `${problem.status} ${problem.title}`;
    super(problem.detail ? `${headline}: ${problem.detail}` : headline);
    this.name = "GatewayProblem";
    this.status = problem.status;
    this.title = problem.title;
    this.detail = problem.detail;
    this.field = problem.field;
    this.provider = problem.provider;
    this.capability = problem.capability;
    this.type = problem.type;
    this.instance = problem.instance;
    this.retryAfter = problem.retry_after;
    this.errors = problem.errors ?? [];
    this.problem = problem;
  }

  /**
   * The problem a failed answer carries. A body that is no problem document (a proxy's HTML
   * page, an empty body) still gives one, from the status line, with the body as `detail`.
   */
  static fromResponse(response: Response, body: unknown): GatewayProblem {
    if (isProblem(body)) {
      return new GatewayProblem({ ...body, status: response.status });
    }
    const text = typeof body === "string" ? body.trim() : body === undefined ? "" : JSON.stringify(body);
    return new GatewayProblem({
      status: response.status,
      title: response.statusText || `HTTP ${response.status}`,
      ...(text ? { detail: text.slice(0, 500) } : {}),
    });
  }
}

function isProblem(body: unknown): body is Problem & Record<string, unknown> {
  return (
    typeof body === "object" &&
    body !== null &&
    typeof (body as { title?: unknown }).title === "string" &&
    typeof (body as { status?: unknown }).status === "number"
  );
}

/** What every openapi-fetch call resolves to: `data` on success, `error` otherwise. */
interface Answer<Data> {
  data?: Data;
  error?: unknown;
  response: Response;
}

/**
 * The data of a successful answer, or a thrown `GatewayProblem`:
 * `const activity = await ok(gateway.GET("/v1/activities/{activity_id}", {...}))`.
 */
export async function ok<Data>(call: Promise<Answer<Data>> | Answer<Data>): Promise<Data> {
  const { data, error, response } = await call;
  if (!response.ok) {
    throw GatewayProblem.fromResponse(response, error);
  }
  // A 204 has no body: `data` is undefined, and so is the type openapi-fetch gives it.
  return data as Data;
}

/** A page of any list the gateway walks by cursor. */
export interface Page<Item> {
  items: Item[];
  next_cursor: string | null;
}

/** The routes whose GET takes `cursor` and answers a page: activities, tests, traces. */
export type CursorPath = {
  [P in keyof paths]: paths[P] extends {
    get: {
      parameters: { query?: infer Query };
      responses: { 200: { content: { "application/json": Page<unknown> } } };
    };
  }
    ? "cursor" extends keyof NonNullable<Query>
      ? P
      : never
    : never;
}[keyof paths];

type ListOperation<P extends CursorPath> = paths[P]["get"];
/** The filters of a list route, without the cursor the iterator keeps. */
export type ListQuery<P extends CursorPath> = Omit<
  NonNullable<ListOperation<P>["parameters"]["query"]>,
  "cursor"
>;
/** A whole page of a list route, with `errors` (providers that failed) and `freshness`. */
export type ListPage<P extends CursorPath> =
  ListOperation<P>["responses"][200]["content"]["application/json"];
/** One item of a list route. */
export type ListItem<P extends CursorPath> = ListPage<P>["items"][number];

/**
 * Every page of a list, following `next_cursor` until there is none. Each page keeps its
 * `errors`: the providers that failed for it while the others' items still came.
 */
export async function* pages<P extends CursorPath>(
  client: GatewayClient,
  path: P,
  query?: ListQuery<P>,
): AsyncGenerator<ListPage<P>, void, undefined> {
  let cursor: string | undefined;
  do {
    // openapi-fetch cannot relate a path that is still generic to its options; the public
    // signature above is what keeps the query and the page typed.
    const get = client.GET as (
      path: string,
      init: { params: { query: Record<string, unknown> } },
    ) => Promise<Answer<ListPage<P>>>;
    const page = await ok(get(path, { params: { query: { ...query, ...(cursor ? { cursor } : {}) } } }));
    yield page;
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
}

/**
 * Every item of a list, page after page:
 * `for await (const activity of iterate(gateway, "/v1/activities", { limit: 100 })) ...`.
 * Use `pages` to see which providers failed on the way.
 */
export async function* iterate<P extends CursorPath>(
  client: GatewayClient,
  path: P,
  query?: ListQuery<P>,
): AsyncGenerator<ListItem<P>, void, undefined> {
  for await (const page of pages(client, path, query)) {
    yield* page.items as ListItem<P>[];
  }
}
