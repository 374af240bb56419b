// English and Russian. Keys are the English text; `ru.ts` holds the Russian. The language follows the browser until
// the user picks one (kept in localStorage: a preference, not a secret).
import { signal } from "./state";
import { RU } from "./ru";

export type Language = "en" | "ru";

export function browserLanguage(
  languages: readonly (string | undefined)[] = globalThis.navigator?.languages ?? [globalThis.navigator?.language],
): Language {
  for (const tag of languages) {
    if (!tag) continue; // no browser (the client's unit tests run in node)
    const base = tag.toLowerCase().split("-")[0];
    if (base === "ru") return "ru";
    if (base === "en") return "en";
  }
  return "en";
}

function initial(): Language {
  const saved = globalThis.localStorage?.getItem("vo2.language");
  return saved === "ru" || saved === "en" ? saved : browserLanguage();
}

export const language = signal<Language>(initial());

export function setLanguage(lang: Language): void {
  localStorage.setItem("vo2.language", lang);
  document.documentElement.lang = lang;
  language.set(lang);
}

/** The text in the current language; `{name}` placeholders are filled from `vars`. */
export function t(text: string, vars?: Record<string, string | number>): string {
  let out = language.get() === "ru" ? RU[text] ?? text : text;
  if (vars) for (const [k, v] of Object.entries(vars)) out = out.split(`{${k}}`).join(String(v));
  return out;
}

export function formatDate(value: string | null | undefined): string {
  if (!value) return "—";
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return value;
  return d.toLocaleDateString(language.get() === "ru" ? "ru-RU" : "en-GB");
}

export function formatDateTime(value: string | null | undefined): string {
  if (!value) return "—";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? value : d.toLocaleString(language.get() === "ru" ? "ru-RU" : "en-GB");
}

export function formatNumber(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  return value.toLocaleString(language.get() === "ru" ? "ru-RU" : "en-GB",
    { maximumFractionDigits: digits, minimumFractionDigits: digits });
}
