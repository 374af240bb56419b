// The client against the API's own types: openapi-typescript (pinned) makes them from openapi.json, the merged
// OpenAPI document, and the whole console must type-check against them (each call's path, JSON body and answer).
// A probe with a wrong body and an unknown path must not, so the check is known to bite. The browser tests do the
// same against the live document of a running system (tests/e2e/test_console.py).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const WEB = join(__dirname, "..");
const TSC = join(WEB, "node_modules", ".bin", "tsc");

function typeCheck(project: string): string {
  try {
    execFileSync(TSC, ["--noEmit", "-p", project], { cwd: WEB, encoding: "utf8", stdio: "pipe" });
    return "";
  } catch (error: any) {
    return String(error.stdout ?? "") + String(error.stderr ?? "");
  }
}

describe("the client and the OpenAPI document", () => {
  it("type-checks against the types generated from openapi.json (src/api-schema.d.ts is what the tool makes now)", () => {
    const dir = mkdtempSync(join(tmpdir(), "vo2-schema-"));
    execFileSync(join(WEB, "node_modules", ".bin", "openapi-typescript"),
      ["openapi.json", "-o", join(dir, "api-schema.d.ts")], { cwd: WEB, stdio: "pipe" });
    const fresh = readFileSync(join(dir, "api-schema.d.ts"), "utf8");
    expect(fresh).toContain('"/api/v1/reports/{id}/link/"');
    expect(readFileSync(join(WEB, "src", "api-schema.d.ts"), "utf8"), "run `npm run types` in web/").toBe(fresh);
    expect(typeCheck("tsconfig.json")).toBe("");
  }, 600_000); // generous: tsc over the whole console on a loaded machine

  it("refuses a body the API does not take, an answer field it does not send and a path it does not have", () => {
    const dir = mkdtempSync(join(tmpdir(), "vo2-contract-"));
    writeFileSync(join(dir, "probe.ts"), `
      import { api } from "${join(WEB, "src", "api")}";
      export async function probe(id: string) {
        await api.post("/api/v1/reports/", { test: id, language: "de", template: "full", format: "pdf", conclusion: "" });
        const report = await api.get(\`/api/v1/reports/\${id}/\`);
        return [report.no_such_field, await api.get(\`/api/v1/no-such-route/\${id}/\`)];
      }`);
    const config = JSON.parse(readFileSync(join(WEB, "tsconfig.json"), "utf8"));
    config.include = [join(dir, "probe.ts")];
    config.compilerOptions.noUnusedLocals = false;
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(config));
    const errors = typeCheck(join(dir, "tsconfig.json"));
    expect(errors).toMatch(/"de"[^\n]*is not assignable|Type '"de"' is not assignable/);
    expect(errors).toContain("no_such_field");
    expect(errors).toContain("not in the OpenAPI document: get /api/v1/no-such-route/");
  }, 600_000); // generous: tsc over the whole console on a loaded machine
});
