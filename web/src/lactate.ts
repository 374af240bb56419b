// Lactate steps as the console's table holds them (text, as typed) and as the API takes them (numbers).
import type { Body } from "./api";

export interface Step { intensity: string; lactate: string; heart_rate: string; length_s: string }
export const STEP_FIELDS = ["intensity", "lactate", "heart_rate", "length_s"] as const;
export const emptyStep = (): Step => ({ intensity: "", lactate: "", heart_rate: "", length_s: "" });
export const asText = (v: unknown) => (v === null || v === undefined ? "" : String(v));

/** The steps as the API takes them: numbers, the optional ones left out when empty (a comma is a decimal point). */
export function stepsBody(rows: Step[]): Body<"/api/v1/tests/{id}/lactate-steps/", "post"> {
  // an empty intensity or lactate beside a filled one goes as null, so the API names the missing field
  const number = (v: string) => (v.trim() ? Number(v.trim().replace(",", ".")) : NaN);
  return rows.filter((r) => r.intensity.trim() || r.lactate.trim()).map((r) => {
    const out: Body<"/api/v1/tests/{id}/lactate-steps/", "post">[number] = { intensity: number(r.intensity), lactate: number(r.lactate) };
    if (r.heart_rate.trim()) out.heart_rate = number(r.heart_rate);
    if (r.length_s.trim()) out.length_s = number(r.length_s);
    return out;
  });
}

