// @vitest-environment node
import { describe, expect, it, vi } from "vitest";
import { Api, ApiError, describeProblem, withQuery } from "../src/api";

type Call = { url: string; init: RequestInit };

function json(status: number, body: unknown, type = "application/json"): Response {
  return new Response(body === null ? null : JSON.stringify(body), { status, headers: { "content-type": type } });
}

function fake(answers: ((call: Call) => Response)[]) {
  const calls: Call[] = [];
  const fetchImpl = vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
    const call = { url: String(url), init: init ?? {} };
    calls.push(call);
    const next = answers.shift();
    if (!next) throw new Error(`unexpected call ${call.url}`);
    return next(call);
  });
  return { api: new Api("", fetchImpl as unknown as typeof fetch), calls };
}

const header = (c: Call, name: string) => (c.init.headers as Record<string, string>)[name];
const pair = (access: string) => ({ access, refresh: `r-${access}`, token_type: "Bearer", expires_in: 600 });

describe("the API client", () => {
  it("logs in, then sends the access token on every call", async () => {
    const { api, calls } = fake([() => json(200, pair("a1")), () => json(200, { results: [] })]);
    expect(await api.login("anna@lab.example", "pw")).toEqual({ kind: "signed-in", mustChangePassword: false });
    await api.get("/api/v1/athletes/", { search: "Iv", page_size: 20, sex: undefined });
    expect(JSON.parse(String(calls[0].init.body))).toEqual({ email: "anna@lab.example", password: "pw" });
    expect(header(calls[0], "Authorization")).toBeUndefined();
    expect(calls[1].url).toBe("/api/v1/athletes/?search=Iv&page_size=20");
    expect(header(calls[1], "Authorization")).toBe("Bearer a1");
  });

  it("turns the login refusals into the next step: organisation, two-factor code, or the words", async () => {
    const problem = (status: number, slug: string, extra: object) =>
      () => json(status, { type: `urn:vo2:problem:${slug}`, status, detail: "…", ...extra }, "application/problem+json");
    const { api } = fake([
      problem(400, "tenant-required", { tenants: ["first-lab", "second-lab"] }),
      problem(401, "mfa-required", { challenge: "ch-1" }),
      problem(401, "not-authenticated", { detail: "Wrong e-mail or password." }),
      () => json(200, { ...pair("a2"), must_change_password: true }),
    ]);
    expect(await api.login("a@b.c", "x")).toEqual({ kind: "choose-tenant", tenants: ["first-lab", "second-lab"] });
    expect(await api.login("a@b.c", "x", "first-lab")).toEqual({ kind: "mfa", challenge: "ch-1" });
    expect(await api.login("a@b.c", "y")).toEqual({ kind: "refused", message: "Wrong e-mail or password." });
    expect(await api.loginWithCode("ch-1", "123456")).toEqual({ kind: "signed-in", mustChangePassword: true });
  });

  it("refreshes an expired access token once for concurrent calls and retries them", async () => {
    const expired = () => json(401, { type: "urn:vo2:problem:not-authenticated", detail: "token has expired" });
    const { api, calls } = fake([
      () => json(200, pair("old")),
      expired, expired,
      () => json(200, pair("new")),
      (c) => json(200, { who: header(c, "Authorization") }),
      (c) => json(200, { who: header(c, "Authorization") }),
    ]);
    await api.login("a@b.c", "x");
    const [one, two] = await Promise.all([api.get("/api/v1/athletes/"), api.get("/api/v1/tests/")]);
    expect(one).toEqual({ who: "Bearer new" });
    expect(two).toEqual({ who: "Bearer new" });
    const refreshes = calls.filter((c) => c.url === "/api/v1/auth/refresh");
    expect(refreshes).toHaveLength(1);
    expect(JSON.parse(String(refreshes[0].init.body))).toEqual({ refresh: "r-old" });
  });

  it("ends the session when the refresh is refused", async () => {
    const { api } = fake([
      () => json(200, pair("old")),
      () => json(401, { detail: "token has expired" }),
      () => json(401, { type: "urn:vo2:problem:not-authenticated", detail: "refresh token reused" }),
    ]);
    const ended = vi.fn();
    api.onSignedOut = ended;
    await api.login("a@b.c", "x");
    await expect(api.get("/api/v1/athletes/")).rejects.toBeInstanceOf(ApiError);
    expect(ended).toHaveBeenCalledOnce();
    expect(api.signedIn).toBe(false);
  });

  it("reads problem+json into words naming the fields", async () => {
    const { api } = fake([() => json(400, {
      type: "urn:vo2:problem:validation-error", status: 400, detail: "The request is invalid.",
      errors: { first_name: ["This field is required."] },
    }, "application/problem+json")]);
    const error = await api.post("/api/v1/athletes/", {}).catch((e) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(400);
    expect(error.slug).toBe("validation-error");
    expect(error.message).toBe("The request is invalid. — first_name: This field is required.");
    expect(describeProblem({}, 502)).toBe("HTTP 502");
  });

  it("sends an Idempotency-Key with creating POSTs and uploads, and logs out with the refresh token", async () => {
    const { api, calls } = fake([
      () => json(200, pair("a")), () => json(201, { id: "x" }), () => json(202, { id: "i" }), () => json(204, null),
    ]);
    await api.login("a@b.c", "x");
    await api.post("/api/v1/athletes/", { first_name: "A" }, true);
    const form = new FormData();
    form.set("athlete", "x");
    await api.upload("/api/v1/imports/", form);
    await api.logout();
    expect(header(calls[1], "Idempotency-Key")).toMatch(/^[0-9a-f]{32}$/);
    expect(header(calls[2], "Idempotency-Key")).not.toBe(header(calls[1], "Idempotency-Key"));
    expect(calls[2].init.body).toBe(form);
    expect(header(calls[2], "Content-Type")).toBeUndefined(); // the browser sets the multipart boundary
    expect(calls[3].url).toBe("/api/v1/auth/logout");
    expect(JSON.parse(String(calls[3].init.body))).toEqual({ refresh: "r-a" });
    expect(api.signedIn).toBe(false);
  });

  it("follows cursor pages", async () => {
    const { api, calls } = fake([
      () => json(200, pair("a")),
      () => json(200, { results: [1, 2], next: "http://127.0.0.1:8000/api/v1/athletes/?cursor=abc" }),
      () => json(200, { results: [3], next: null }),
    ]);
    await api.login("a@b.c", "x");
    expect(await api.all("/api/v1/athletes/")).toEqual([1, 2, 3]);
    expect(calls[2].url).toBe("/api/v1/athletes/?cursor=abc");
  });

  it("builds query strings without empty values", () => {
    expect(withQuery("/x", { a: 1, b: "", c: null, d: "é" })).toBe("/x?a=1&d=%C3%A9");
    expect(withQuery("/x?y=1", { a: true })).toBe("/x?y=1&a=true");
  });
});
