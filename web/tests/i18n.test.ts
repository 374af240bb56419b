import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { RU } from "../src/ru";
import { browserLanguage, setLanguage, t } from "../src/i18n";

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : /\.tsx?$/.test(name) ? [path] : [];
  });
}

describe("English and Russian", () => {
  it("has a Russian text for every literal the screens pass to t()", () => {
    const missing = new Set<string>();
    for (const file of sources(join(__dirname, "../src"))) {
      for (const m of readFileSync(file, "utf8").matchAll(/\bt\("((?:[^"\\]|\\.)*)"/g)) {
        const key = JSON.parse(`"${m[1]}"`);
        if (!(key in RU)) missing.add(key);
      }
    }
    expect([...missing]).toEqual([]);
  });

  it("follows the browser until the user chooses, and fills placeholders", () => {
    expect(browserLanguage(["ru-RU", "en"])).toBe("ru");
    expect(browserLanguage(["de-DE", "en-GB"])).toBe("en");
    expect(browserLanguage(["fr"])).toBe("en");
    setLanguage("ru");
    expect(t("Athletes")).toBe("Спортсмены");
    expect(t("File: {name}", { name: "zan_ramp" })).toBe("Файл: zan_ramp");
    expect(document.documentElement.lang).toBe("ru");
    setLanguage("en");
    expect(t("Athletes")).toBe("Athletes");
  });
});
