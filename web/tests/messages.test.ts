// Every warning code and problem type the services can send has an English and a Russian text (src/messages.ts).
// The codes are read where they are made: the readers' warning codes from the OpenAPI document (the analysis
// service's ReaderWarningCode enum, made from formats/notices.py, whose templates name the params), the problem types
// from every service's, the kit's and the gateway's sources (each place that raises one with a literal slug).
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { setLanguage } from "../src/i18n";
import { FIELD_CODES, PROBLEMS, WARNINGS, importWarnings, sayProblem, sayWarning } from "../src/messages";
import { ApiError } from "../src/api";
import { message } from "../src/ui";

const ROOT = join(__dirname, "..", "..");
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");
const placeholders = (text: string) => new Set([...text.matchAll(/\{([a-z0-9_]+)[:}]/g)].map((m) => m[1]));

function pythonSources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return ["tests", "migrations", "__pycache__"].includes(name) ? [] : pythonSources(path);
    return name.endsWith(".py") ? [path] : [];
  });
}

/** The reader warning codes the document lists, each with the params its English template names. */
function readerCodes(): Map<string, Set<string>> {
  const doc = JSON.parse(read("web/openapi.json"));
  const codes: string[] = doc.components.schemas.ReaderWarningCode.enum;
  const source = read("services/analysis/analysis/formats/notices.py");
  const block = source.slice(source.indexOf("NOTES: dict[str, str] = {"), source.indexOf("\n}\n", source.indexOf("NOTES:")));
  const entries = block.split(/^ {4}(?="[a-z0-9_]+":)/m).slice(1);
  const params = new Map(entries.map((e) => [e.match(/^"([a-z0-9_]+)"/)![1], placeholders(e.slice(e.indexOf(":") + 1))]));
  return new Map(codes.map((code) => [code, params.get(code) ?? new Set<string>()]));
}

/** The problem types raised anywhere with a literal slug, and the kit's one slug per status. */
function problemTypes(): Set<string> {
  const slug = "([a-z][a-z0-9]*(?:-[a-z0-9]+)*)";
  const patterns = [
    new RegExp(`\\(\\s*(?:send,\\s*)?(?:status\\s*=\\s*)?[0-9]{3},\\s*"${slug}"`, "g"), // problem(409, "x"), ProblemError(…)
    new RegExp(`(?:FormatError|AlignmentError)\\(\\s*"${slug}"`, "g"),                 // the readers' (status later)
    new RegExp(`urn:vo2:problem:${slug}`, "g"),
    new RegExp(`\\bslug\\s*=\\s*"([a-z]+(?:-[a-z0-9]+)+)"`, "g"),
  ];
  const found = new Set<string>();
  for (const dir of ["services", "libs/servicekit/servicekit", "gateway/gateway"]) {
    for (const file of pythonSources(join(ROOT, dir))) {
      const text = readFileSync(file, "utf8");
      for (const re of patterns) for (const m of text.matchAll(re)) found.add(m[1]);
    }
  }
  const kit = read("libs/servicekit/servicekit/problems.py");
  const table = kit.slice(kit.indexOf("SLUG_BY_STATUS = {"), kit.indexOf("}", kit.indexOf("SLUG_BY_STATUS = {")));
  for (const m of table.matchAll(/"([a-z-]+)"/g)) found.add(m[1]);
  return found;
}

describe("the services' codes in words", () => {
  const readers = readerCodes();
  const problems = problemTypes();

  it("are found where they are made (the readers above still read them)", () => {
    expect(readers.size).toBeGreaterThan(40);
    expect(readers.get("column_empty")).toEqual(new Set(["column"]));
    expect(readers.get("no_test_date")).toEqual(new Set());
    expect(problems.size).toBeGreaterThan(90);
    for (const slug of ["validation-error", "forbidden", "not-found", "import-running", "payload-too-large",
      "unsupported-logo", "unknown-format", "xml-entities-forbidden", "rate-limited", "analysis-unavailable",
      "plan-limit", "invalid-credentials", "heart-rate-recorded", "precondition-failed"]) {
      expect(problems, slug).toContain(slug);
    }
  });

  it("every reader warning code has an English and a Russian text naming the same params as the reader's", () => {
    const missing: string[] = [];
    for (const [code, params] of readers) {
      const texts = WARNINGS[code];
      if (!texts || !texts[0].trim() || !texts[1].trim()) { missing.push(code); continue; }
      expect(placeholders(texts[0]), `${code} (English)`).toEqual(params);
      expect(placeholders(texts[1]), `${code} (Russian)`).toEqual(params);
    }
    expect(missing).toEqual([]);
    expect(Object.keys(WARNINGS).filter((code) => !readers.has(code)), "texts for codes no reader sends").toEqual([]);
  });

  it("every problem type has an English and a Russian text with the same params", () => {
    const missing = [...problems].filter((slug) => !PROBLEMS[slug]?.[0].trim() || !PROBLEMS[slug]?.[1].trim());
    expect(missing).toEqual([]);
    for (const [slug, [en, ru]] of Object.entries(PROBLEMS)) expect(placeholders(ru), slug).toEqual(placeholders(en));
    for (const [code, [en, ru]] of Object.entries(FIELD_CODES)) expect(placeholders(ru), code).toEqual(placeholders(en));
  });

  it("say an import's warnings by code in Russian, with their figures, and an unknown code as it came", () => {
    const job = {
      warnings: ["hr_bpm: column present but empty; treated as absent", "the export has no test date; enter the date on the test",
        "body mass 68.0 kg estimated from absolute / relative VO2 (not in the export)",
        "athlete_mismatch:sex: the file says male, the record female", "a-new-code's English text"],
      warning_details: [
        { code: "column_empty", params: { column: "hr_bpm" }, message: "hr_bpm: column present but empty; treated as absent" },
        { code: "no_test_date", params: {}, message: "the export has no test date; enter the date on the test" },
        { code: "body_mass_estimated", params: { body_mass_kg: 68.5 }, message: "body mass 68.5 kg estimated …" },
        { code: "athlete_mismatch:sex", params: {}, message: "athlete_mismatch:sex: the file says male, the record female" },
        { code: "a_new_code", params: { x: 1 }, message: "a-new-code's English text" },
      ],
    };
    setLanguage("ru");
    expect(importWarnings(job)).toEqual([
      "hr_bpm: столбец есть, но пуст; считается отсутствующим",
      "в файле нет даты теста; укажите дату в карточке теста",
      "масса тела 68,5 кг рассчитана по абсолютному и относительному VO2 (в файле её нет)",
      "спортсмен в файле не совпадает с карточкой (sex)",
      "a-new-code's English text",
    ]);
    expect(sayWarning({ code: "time_disorder_dropped", params: { count: 1, repeated: 1, backwards: 0, row_word: "row",
      row: 380, time: 905, previous: 905 } })).toBe("отброшены повторяющиеся или идущие назад отметки времени: 1 "
      + "(повторов 1, назад 0; первая — строка 380: 905 с после 905 с)");
    setLanguage("en");
    expect(importWarnings(job).slice(0, 3)).toEqual(job.warnings.slice(0, 2).concat(
      "body mass 68.5 kg estimated from absolute / relative VO2 (not in the export)"));
    expect(importWarnings(job)[3]).toBe(job.warnings[3]); // a flag's English message carries the figures
    // an import stored before the codes: its English texts
    expect(importWarnings({ warnings: ["old text"] })).toEqual(["old text"]);
  });

  it("say problems by type in Russian, with field names and validator codes; English keeps the server's detail", () => {
    const invalid = { type: "urn:vo2:problem:validation-error", title: "Bad Request", status: 400,
      detail: "first_name: This field is required.",
      errors: [{ field: "first_name", detail: "This field is required.", code: "required" },
        { field: "sport", detail: "Ensure this field has no more than 100 characters.", code: "max_length" },
        { field: "mystery", detail: "Something else.", code: "what" }] };
    const tooLarge = { type: "urn:vo2:problem:payload-too-large", status: 413, limit_bytes: 52428800,
      detail: "The upload is larger than the limit of 52,428,800 bytes." };
    const unreadable = { type: "urn:vo2:problem:unknown-format", status: 422, detail: "no known cart layout", stage: "parsing" };
    const unknown = { type: "urn:vo2:problem:brand-new", status: 409, detail: "A new kind of conflict." };
    setLanguage("ru");
    expect(sayProblem(invalid)).toBe("Некоторые поля заполнены неверно. — Имя: обязательное поле — "
      + "Вид спорта: не длиннее 100 символов — mystery: Something else.");
    expect(sayProblem(tooLarge)).toBe("Файл больше допустимого размера (52\u00a0428\u00a0800 байт).");
    expect(sayProblem(unreadable)).toBe("Этот файл не похож на выгрузку газоанализатора, которую умеет читать система.");
    expect(sayProblem(unknown)).toBe("A new kind of conflict.");
    // an ApiError in words follows the language shown now, not the one it was made in
    const error = new ApiError(403, { type: "urn:vo2:problem:forbidden", detail: "You may not." });
    expect(message(error)).toBe("Вашей роли это не разрешено.");
    setLanguage("en");
    expect(message(error)).toBe("You may not.");
    expect(sayProblem(invalid)).toBe("first_name: This field is required. — sport: Ensure this field has no more than "
      + "100 characters. — mystery: Something else.");
    expect(sayProblem(tooLarge)).toBe(tooLarge.detail);
    expect(sayProblem({ type: "urn:vo2:problem:not-found", status: 404 })).toBe("Not found (it may have been deleted).");
  });
});
