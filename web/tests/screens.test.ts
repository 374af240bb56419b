// Pieces of the new screens that are plain functions: the lactate steps as the API takes them, the QR code of an
// authenticator's otpauth:// URI.
import { describe, expect, it } from "vitest";
import { qrPath } from "../src/qr";
import { stepsBody } from "../src/lactate";

describe("lactate steps", () => {
  it("sends numbers (a comma is a decimal point), leaves out empty optional fields and empty rows", () => {
    expect(stepsBody([
      { intensity: "100", lactate: "1,1", heart_rate: "118", length_s: "" },
      { intensity: " 150 ", lactate: "1.4", heart_rate: "", length_s: "180" },
      { intensity: "", lactate: "", heart_rate: "", length_s: "" },
    ])).toEqual([{ intensity: 100, lactate: 1.1, heart_rate: 118 }, { intensity: 150, lactate: 1.4, length_s: 180 }]);
  });
});

describe("the authenticator's QR code", () => {
  it("is a square of modules with the three finder patterns and a quiet zone", () => {
    const { size, d } = qrPath("otpauth://totp/VO2max%20Report:lab-admin%40first.lab?secret=JBSWY3DPEHPK3PXP&issuer=VO2max%20Report");
    const n = size - 8;
    expect((n - 21) % 4).toBe(0); // a QR version's width: 21 + 4k modules
    const dark = new Set([...d.matchAll(/M(\d+) (\d+)/g)].map((m) => `${Number(m[1]) - 4},${Number(m[2]) - 4}`));
    for (const [x0, y0] of [[0, 0], [n - 7, 0], [0, n - 7]]) {
      for (let i = 0; i < 7; i++) { // each finder's outer ring is dark
        for (const [x, y] of [[x0 + i, y0], [x0 + i, y0 + 6], [x0, y0 + i], [x0 + 6, y0 + i]]) {
          expect(dark.has(`${x},${y}`), `${x},${y}`).toBe(true);
        }
      }
      expect(dark.has(`${x0 + 1},${y0 + 1}`)).toBe(false); // and its inner ring light
    }
    expect([...dark].every((p) => p.split(",").every((v) => Number(v) >= 0 && Number(v) < n))).toBe(true);
  });
});
