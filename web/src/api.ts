// The console's client of the public API (/api/v1 on the same origin). Tokens live in memory only (never in
// localStorage, where any script could read them); the access token is refreshed before it expires and once more
// when an answer says it expired. Every route the console calls is listed in ROUTES, which the browser tests check
// against the gateway's merged /api/openapi.json (tests/e2e/test_console.py), so a renamed route fails CI.

// ---- the API's types, generated from its OpenAPI document ------------------------------------------------------
// `api-schema.d.ts` is made by openapi-typescript (pinned in package-lock.json) from `openapi.json`, the merged
// document the gateway serves (`npm run types` after refreshing openapi.json; tests/contract.test.ts fails when it
// is stale, and the browser tests type-check this client against the live document too). A call's path, as the screens write it with ids filled
// in, is matched segment by segment to the document's route; its JSON body and its answer take that route's types,
// and a path the document does not have is a compile error.
import type { components, paths } from "./api-schema";
import { sayProblem } from "./messages";

/** The document's named schemas (Athlete, ExerciseTest, Report, ...). */
export type Schemas = components["schemas"];

type Verb = "get" | "post" | "put" | "patch" | "delete";
type Segments<S extends string> = S extends `${infer H}/${infer R}` ? [H, ...Segments<R>] : [S];
/** A written segment matches the document's: equal, or any non-empty text where the document has `{name}`. */
type SameSegments<A extends unknown[], B extends unknown[]> =
  A extends [infer a, ...infer ra] ? B extends [infer b, ...infer rb]
    ? (b extends `{${string}}` ? (a extends "" ? false : true) : [a] extends [b] ? ([b] extends [a] ? true : false) : false) extends true
      ? SameSegments<ra, rb> : false
    : false
  : B extends [] ? true : false;
type Bare<S extends string> = S extends `${infer P}?${string}` ? Bare<P> : S extends `${infer P}/` ? P : S;
type Has<P extends keyof paths, M extends Verb> = paths[P][M] extends undefined ? false : true;
type Exact<S extends string, M extends Verb> = {
  [P in keyof paths & string]: Has<P, M> extends true ? (Bare<P> extends Bare<S> ? (Bare<S> extends Bare<P> ? P : never) : never) : never
}[keyof paths & string];
type Matching<S extends string, M extends Verb> = {
  [P in keyof paths & string]: Has<P, M> extends true ? (SameSegments<Segments<Bare<S>>, Segments<Bare<P>>> extends true ? P : never) : never
}[keyof paths & string];
/** The document's route for a written path: the literal one when there is one ("tests/settings" before "tests/{id}"). */
export type RouteOf<S extends string, M extends Verb> = [Exact<S, M>] extends [never] ? Matching<S, M> : Exact<S, M>;
type Operation<S extends string, M extends Verb> = NonNullable<paths[RouteOf<S, M>][M]>;
type JsonContent<X> = X extends { content: { "application/json": infer B } } ? B : null;
/** What a route answers when it succeeds (200, 201 or 202 as JSON; null for 204). */
export type Answer<S extends string, M extends Verb> = Operation<S, M> extends { responses: infer R }
  ? R extends { 200: infer A } ? JsonContent<A> : R extends { 201: infer A } ? JsonContent<A>
    : R extends { 202: infer A } ? JsonContent<A> : null
  : never;
/** The JSON body a route takes. */
export type Body<S extends string, M extends Verb> = Operation<S, M> extends { requestBody?: infer B }
  ? NonNullable<B> extends { content: { "application/json": infer J } } ? J : never
  : never;
/** A path the document has for this method, or a compile error naming the path. */
export type Known<S extends string, M extends Verb> = [RouteOf<S, M>] extends [never] ? `not in the OpenAPI document: ${M} ${S}` : S;

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** Every (method, OpenAPI path) the console calls; `{id}`-style parameters as the OpenAPI document names them. */
export const ROUTES: ReadonlyArray<readonly [Method, string]> = [
  ["POST", "/api/v1/auth/login"],
  ["POST", "/api/v1/auth/login/discover"],
  ["POST", "/api/v1/auth/login/mfa"],
  ["POST", "/api/v1/auth/refresh"],
  ["POST", "/api/v1/auth/logout"],
  ["POST", "/api/v1/auth/password"],
  ["GET", "/api/v1/users/me"],
  ["GET", "/api/v1/auth/me"],
  ["GET", "/api/v1/auth/sso/callback"],
  ["GET", "/api/v1/athletes/"],
  ["POST", "/api/v1/athletes/"],
  ["GET", "/api/v1/athletes/{id}/"],
  ["PATCH", "/api/v1/athletes/{id}/"],
  ["DELETE", "/api/v1/athletes/{id}/"],
  ["GET", "/api/v1/athletes/{id}/progress/"],
  ["GET", "/api/v1/tests/"],
  ["GET", "/api/v1/tests/{id}/"],
  ["PATCH", "/api/v1/tests/{id}/"],
  ["GET", "/api/v1/tests/{id}/analysis/"],
  ["PATCH", "/api/v1/tests/{id}/analysis/"],
  ["GET", "/api/v1/tests/{id}/analysis/versions/"],
  ["GET", "/api/v1/tests/{id}/lactate-steps/"],
  ["POST", "/api/v1/tests/{id}/lactate-steps/"],
  ["GET", "/api/v1/tenants/current/"],
  ["DELETE", "/api/v1/tenants/current/invitations/{id}/"],
  ["GET", "/api/v1/tests/{id}/samples/"],
  ["POST", "/api/v1/tests/{id}/heart-rate/"],
  ["POST", "/api/v1/imports/"],
  ["GET", "/api/v1/imports/{id}/"],
  ["GET", "/api/v1/reports/"],
  ["POST", "/api/v1/reports/"],
  ["GET", "/api/v1/reports/{id}/"],
  ["GET", "/api/v1/reports/{id}/file/"],
  ["GET", "/api/v1/reports/{id}/link/"],
  ["PUT", "/api/v1/reports/settings/logo"],
  ["GET", "/api/v1/reports/settings/logo"],
  ["DELETE", "/api/v1/reports/settings/logo"],
  ["GET", "/api/v1/reports/settings"],
  ["PUT", "/api/v1/reports/settings"],
  ["GET", "/api/v1/notifications/stream/"],
  ["GET", "/api/v1/tenants/current/members/"],
  ["POST", "/api/v1/tenants/current/members/"],
  ["PATCH", "/api/v1/tenants/current/members/{id}/"],
  ["DELETE", "/api/v1/tenants/current/members/{id}/"],
  ["GET", "/api/v1/tenants/current/invitations/"],
  ["GET", "/api/v1/tenants/current/api-keys/"],
  ["POST", "/api/v1/tenants/current/api-keys/"],
  ["DELETE", "/api/v1/tenants/current/api-keys/{id}/"],
  ["GET", "/api/v1/webhooks/"],
  ["POST", "/api/v1/webhooks/"],
  ["DELETE", "/api/v1/webhooks/{id}/"],
  ["GET", "/api/v1/webhooks/{id}/deliveries/"],
  ["POST", "/api/v1/webhooks/{id}/ping/"],
  ["POST", "/api/v1/webhooks/{id}/deliveries/{delivery_id}/retry/"],
  ["GET", "/api/v1/auth/mfa/totp"],
  ["POST", "/api/v1/auth/mfa/totp"],
  ["POST", "/api/v1/auth/mfa/totp/confirm"],
  ["POST", "/api/v1/auth/mfa/totp/disable"],
  ["GET", "/api/v1/tests/settings/"],
  ["PUT", "/api/v1/tests/settings/"],
];

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  /** field problems: [{field, detail, code?}] (the services), or {field: [messages]} */
  errors?: unknown;
  [extra: string]: unknown;
}

/** A refused request: the problem+json body, with the slug of its `type` (urn:vo2:problem:<slug>). */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;
  constructor(status: number, problem: Problem) {
    super(describeProblem(problem, status));
    this.status = status;
    this.problem = problem;
  }
  get slug(): string {
    return (this.problem.type ?? "").split(":").pop() ?? "";
  }
}

/** A problem in words, in the console's language (messages.ts): in English its detail, then each field's problem
 * ("first_name: This field is required."); in Russian by its type and each field's code. */
export function describeProblem(problem: Problem, status: number): string {
  return sayProblem(problem, status);
}

export interface Tokens {
  access: string;
  refresh: string;
  expires_in: number;
  must_change_password?: boolean;
}

export type LoginOutcome =
  | { kind: "signed-in"; mustChangePassword: boolean }
  | { kind: "choose-tenant"; tenants: string[] }
  | { kind: "mfa"; challenge: string }
  | { kind: "refused"; message: string };

export interface RequestOptions {
  json?: unknown;
  form?: FormData;
  query?: Record<string, string | number | boolean | undefined | null>;
  headers?: Record<string, string>;
  /** the answer as it came (a file download); otherwise JSON, or null for 204 */
  raw?: boolean;
  signal?: AbortSignal;
  /** no token (public routes) */
  anonymous?: boolean;
}

type Fetch = typeof fetch;

export function newIdempotencyKey(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function withQuery(path: string, query?: RequestOptions["query"]): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}${path.includes("?") ? "&" : "?"}${text}` : path;
}

export class Api {
  private tokens: Tokens | null = null;
  private refreshing: Promise<boolean> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** called when the session ends without the user asking (refresh refused) */
  onSignedOut: () => void = () => {};

  constructor(private readonly base = "", private readonly fetchImpl: Fetch = (...a) => fetch(...a),
) {}

  get signedIn(): boolean {
    return this.tokens !== null;
  }

  get accessToken(): string | null {
    return this.tokens?.access ?? null;
  }

  /** The claims of the access token (roles, tenant, subject); not verified here, the gateway does that. */
  claims(): Record<string, unknown> {
    const token = this.tokens?.access;
    if (!token) return {};
    try {
      const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(decodeURIComponent(escape(atob(part.padEnd(part.length + ((4 - part.length % 4) % 4), "=")))));
    } catch {
      return {};
    }
  }

  setTokens(tokens: Tokens | null): void {
    this.tokens = tokens;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (tokens && tokens.expires_in > 0) {
      // refresh at four fifths of the lifetime, so a request rarely meets an expired token
      const delay = Math.max(5, tokens.expires_in * 0.8) * 1000;
      this.timer = setTimeout(() => void this.refresh(), delay);
    }
  }

  async login(email: string, password: string, tenant?: string): Promise<LoginOutcome> {
    const body: Record<string, string> = { email, password };
    if (tenant) body.tenant = tenant;
    try {
      this.setTokens(await this.request<Tokens>("POST", "/api/v1/auth/login", { json: body, anonymous: true }));
      return { kind: "signed-in", mustChangePassword: !!this.tokens?.must_change_password };
    } catch (error) {
      return this.loginRefusal(error);
    }
  }

  async loginWithCode(challenge: string, code: string): Promise<LoginOutcome> {
    try {
      this.setTokens(await this.request<Tokens>("POST", "/api/v1/auth/login/mfa",
        { json: { challenge, code }, anonymous: true }));
      return { kind: "signed-in", mustChangePassword: !!this.tokens?.must_change_password };
    } catch (error) {
      return this.loginRefusal(error);
    }
  }

  private loginRefusal(error: unknown): LoginOutcome {
    if (!(error instanceof ApiError)) throw error;
    if (error.slug === "tenant-required" && Array.isArray(error.problem.tenants)) {
      return { kind: "choose-tenant", tenants: error.problem.tenants as string[] };
    }
    if (error.slug === "mfa-required" && typeof error.problem.challenge === "string") {
      return { kind: "mfa", challenge: error.problem.challenge };
    }
    return { kind: "refused", message: error.message };
  }

  /** Which way this e-mail signs in: {method: "password"} or {method: "sso", start_url, tenant}. */
  discover(email: string): Promise<{ method: string; start_url?: string; tenant?: string }> {
    return this.request("POST", "/api/v1/auth/login/discover", { json: { email }, anonymous: true });
  }

  /** Rotates the refresh token; one refresh at a time however many requests need it. */
  refresh(): Promise<boolean> {
    if (!this.tokens) return Promise.resolve(false);
    if (!this.refreshing) {
      const refreshToken = this.tokens.refresh;
      this.refreshing = this.request<Tokens>("POST", "/api/v1/auth/refresh",
        { json: { refresh: refreshToken }, anonymous: true })
        .then((tokens) => { this.setTokens(tokens); return true; })
        .catch(() => { this.setTokens(null); this.onSignedOut(); return false; })
        .finally(() => { this.refreshing = null; });
    }
    return this.refreshing;
  }

  async logout(): Promise<void> {
    const tokens = this.tokens;
    this.setTokens(null);
    if (tokens) {
      await this.request("POST", "/api/v1/auth/logout", { json: { refresh: tokens.refresh }, anonymous: true })
        .catch(() => undefined); // signed out here whatever the server said
    }
  }

  async request<T = unknown>(method: Method, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.send(method, path, options);
    if (options.raw) return response as unknown as T;
    if (response.status === 204) return null as T;
    const type = response.headers.get("content-type") ?? "";
    return (type.includes("json") ? await response.json() : await response.text()) as T;
  }

  /** The answer itself (for streams and files), after the token and refresh rules; refusals throw ApiError. */
  async send(method: Method, path: string, options: RequestOptions = {}): Promise<Response> {
    let response = await this.once(method, path, options);
    if (response.status === 401 && !options.anonymous && this.tokens) {
      const problem = await readProblem(response.clone());
      if (problem.type !== "urn:vo2:problem:mfa-required" && (await this.refresh())) {
        response = await this.once(method, path, options);
      }
    }
    if (!response.ok) throw new ApiError(response.status, await readProblem(response));
    return response;
  }

  private once(method: Method, path: string, options: RequestOptions): Promise<Response> {
    const headers: Record<string, string> = { Accept: "application/json", ...options.headers };
    let body: BodyInit | undefined;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.json);
    } else if (options.form) {
      body = options.form;
    }
    if (!options.anonymous && this.tokens) headers.Authorization = `Bearer ${this.tokens.access}`;
    return this.fetchImpl(this.base + withQuery(path, options.query),
      { method, headers, body, signal: options.signal });
  }

  // ---- typed helpers the screens use (types from the OpenAPI document, above) ---------------------------------
  get<S extends string>(path: Known<S, "get">, query?: RequestOptions["query"]): Promise<Answer<S, "get">> {
    return this.request("GET", path, { query });
  }

  post<S extends string>(path: Known<S, "post">, json?: Body<S, "post">, create = false): Promise<Answer<S, "post">> {
    return this.request("POST", path,
      { json, headers: create ? { "Idempotency-Key": newIdempotencyKey() } : undefined });
  }

  patch<S extends string>(path: Known<S, "patch">, json: Body<S, "patch">): Promise<Answer<S, "patch">> {
    return this.request("PATCH", path, { json });
  }

  put<S extends string>(path: Known<S, "put">, json: Body<S, "put">): Promise<Answer<S, "put">> {
    return this.request("PUT", path, { json });
  }

  del<S extends string>(path: Known<S, "delete">): Promise<unknown> {
    return this.request("DELETE", path);
  }

  upload<S extends string>(path: Known<S, "post">, form: FormData, create = true): Promise<Answer<S, "post">> {
    return this.request("POST", path,
      { form, headers: create ? { "Idempotency-Key": newIdempotencyKey() } : undefined });
  }

  /** Every item of a cursor-paged list (follows `next`, bounded). */
  async all<S extends string>(path: Known<S, "get">, query?: RequestOptions["query"], maxPages = 20)
    : Promise<Answer<S, "get"> extends { results: (infer T)[] } ? T[] : never> {
    type Page = { results: any[]; next?: string | null };
    const items: any[] = [];
    let page = await this.request<Page>("GET", path, { query });
    items.push(...page.results);
    for (let i = 1; page.next && i < maxPages; i++) {
      const next = new URL(page.next, "http://x");
      page = await this.request<Page>("GET", next.pathname + next.search); // the same route's next page
      items.push(...page.results);
    }
    return items as any;
  }
}

async function readProblem(response: Response): Promise<Problem> {
  try {
    const text = await response.text();
    const parsed = text ? JSON.parse(text) : {};
    return typeof parsed === "object" && parsed !== null ? parsed : { detail: String(parsed) };
  } catch {
    return { detail: `HTTP ${response.status}` };
  }
}

export const api = new Api();
