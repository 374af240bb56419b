// The QR code of an authenticator's otpauth:// URI, drawn as one SVG path.
import qrcode from "qrcode-generator";

/** The QR code of an otpauth:// URI as one SVG path (no inline style: the CSP forbids it). */
export function qrPath(text: string): { size: number; d: string } {
  const qr = qrcode(0, "M");
  qr.addData(text);
  qr.make();
  const n = qr.getModuleCount();
  let d = "";
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) if (qr.isDark(r, c)) d += `M${c + 4} ${r + 4}h1v1h-1z`;
  return { size: n + 8, d }; // a 4-module quiet zone on every side
}

