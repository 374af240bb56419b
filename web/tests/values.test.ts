// Every value the API can send and the console shows has an English and a Russian text (src/values.ts). The values
// are read where they are made: the OpenAPI document's enums (statuses, roles, sex, modality, protocol, template),
// the status choices of the services' models, and the analysis engine's sources (verdicts, methods, phases, quality
// flags, zones, audit actions).
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { setLanguage } from "../src/i18n";
import { VALUES, say, sayFlag, type Kind } from "../src/values";

const ROOT = join(__dirname, "..", "..");
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");
const engine = (name: string) => read(`services/analysis/analysis/engine/${name}.py`);
const all = (text: string, re: RegExp) => [...text.matchAll(re)].map((m) => m[1]);

/** The values each kind must cover, from the sources that send them. */
function sent(): Record<Kind, Set<string>> {
  const doc = JSON.parse(read("web/openapi.json"));
  const enums = (pattern: RegExp) => Object.entries<any>(doc.components.schemas)
    .filter(([name, s]) => pattern.test(name) && Array.isArray(s.enum)).flatMap(([, s]) => s.enum as string[]);
  const choices = (path: string, cls: string) => {
    const text = read(path);
    const block = text.slice(text.indexOf(`class ${cls}(models.TextChoices)`)).split(/\n\s*\n/)[0];
    return all(block, /= "([^"]+)"/g);
  };
  const engineSources = readdirSync(join(ROOT, "services/analysis/analysis/engine")).filter((f) => f.endsWith(".py"))
    .map((f) => engine(f.replace(/\.py$/, ""))).join("\n");
  const tuple = (text: string, name: string) => all(text.slice(text.indexOf(`${name} = `)).split("\n")[0], /"([^"]+)"/g);
  const thresholds = engine("thresholds");
  const lactate = engine("lactate");
  const methodOrder = lactate.slice(lactate.indexOf("METHOD_ORDER = ["), lactate.indexOf("]", lactate.indexOf("METHOD_ORDER = [")));
  return {
    status: new Set([...enums(/Status.*Enum$/), ...choices("libs/servicekit/servicekit/jobs.py", "Status"),
                     ...choices("services/identity/identity/invitations/models.py", "Status")]
      .filter((s) => s !== "confirmed" && s !== "")),
    role: new Set(enums(/Role.*Enum$/)),
    modality: new Set(enums(/^ModalityEnum$/)),
    sex: new Set(enums(/^SexEnum$/)),
    protocol: new Set([...enums(/^ProtocolEnum$/), ...all(engine("protocol"), /kind="([a-z]+)"/g)]),
    template: new Set(enums(/^TemplateEnum$/)),
    phase: new Set([...all(engine("protocol"), /role = "([a-z_]+)"/g), ...all(engine("phases"), /"phase": "([a-z_]+)"/g)]),
    verdict: new Set(all(engine("vo2max"), /return "(vo2max|vo2peak)"/g)),
    basis: new Set(all(engine("vo2max"), /return "vo2(?:max|peak)", "([^"]+)"/g)),
    method: new Set([...tuple(thresholds, "VT1_METHODS"), ...tuple(thresholds, "VT2_METHODS"),
                     ...all(thresholds, /label = "([a-z]+)"/g), ...all(thresholds, /label, basis = med, "([a-z]+)"/g),
                     ...all(engine("overrides"), /method="([a-z]+)"/g), ...all(methodOrder, /"([^"]+)"/g)]),
    severity: new Set(all(engine("quality"), /"(info|warning|error)"/g)),
    flag: new Set([...[...engineSources.matchAll(/flag\(flags, "([a-z_]+)(:[^"]*)?"/g)].map((m) => m[1] + (m[2] ? ":" : "")),
                   ...["vt1", "vt2"].map((n) => `${n}_undetermined`), // f"{name}_undetermined"
                   ...all(engineSources, /flag\(flags, f"([a-z_]+:)\{/g)]),
    zone: new Set([...all(engine("zones"), /zone\("([^"]+)"/g), ...all(engine("zones"), /\["note"\] = "([^"]+)"/g)]),
    action: new Set(choices("services/measurements/measurements/results/models.py", "Action")),
  };
}

describe("values the API sends", () => {
  const expected = sent();

  it("are found in their sources (the readers above still read them)", () => {
    for (const [kind, values] of Object.entries(expected)) expect(values.size, kind).toBeGreaterThan(1);
    expect(expected.flag).toContain("too_short");
    expect(expected.flag).toContain("missing_channel:");
    expect(expected.flag).toContain("athlete_mismatch:");
    expect(expected.method).toContain("V-slope");
    expect(expected.method).toContain("OBLA 4.0");
    expect(expected.phase).toContain("warm_up");
    expect(expected.status).toContain("rendering");
    expect(expected.status).toContain("revoked");
  });

  it("each have an English and a Russian text", () => {
    const missing: string[] = [];
    for (const [kind, values] of Object.entries(expected) as [Kind, Set<string>][]) {
      for (const value of values) {
        const texts = VALUES[kind][value];
        if (!texts || !texts[0].trim() || !texts[1].trim()) missing.push(`${kind}: ${value}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("show in the chosen language; a flag with figures keeps them in English", () => {
    setLanguage("ru");
    expect(say("status", "rendering")).toBe("формируется");
    expect(say("phase", "warm_up")).toBe("разминка");
    expect(say("verdict", "vo2peak")).toBe("VO2peak (без плато)");
    expect(say("flag", "missing_channel:petco2_mmhg")).toBe("нет канала petco2_mmhg");
    expect(sayFlag({ code: "too_short", message: "exercise phase lasts 200 s (< 5 min)" }))
      .toBe("тест или его нагрузочная фаза слишком короткие");
    expect(say("status", null)).toBe("—");
    setLanguage("en");
    expect(sayFlag({ code: "too_short", message: "exercise phase lasts 200 s (< 5 min)" }))
      .toBe("exercise phase lasts 200 s (< 5 min)");
    expect(say("phase", "warm_up")).toBe("warm-up");
    expect(say("status", "a-new-one")).toBe("a-new-one"); // unknown: as it came
  });
});
