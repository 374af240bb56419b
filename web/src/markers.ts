// VT1/VT2 markers on the test's charts: vertical lines the physiologist drags (mouse, touch or pen) or moves with
// the arrow keys. The logic is here, apart from uPlot, so that it is unit-tested; `markerPlugin` binds it to a chart.
import type uPlot from "uplot";

export type MarkerName = "vt1" | "vt2";
export type Markers = Record<MarkerName, number | null>;

export const MARKER_COLOURS: Record<MarkerName, string> = { vt1: "#1b7f3b", vt2: "#b3261e" };

/** Which marker is under the pointer (within `tolerance` px), the nearest one if both are. */
export function hitMarker(positions: Partial<Record<MarkerName, number>>, x: number, tolerance = 8): MarkerName | null {
  let best: MarkerName | null = null;
  let distance = Infinity;
  for (const name of ["vt1", "vt2"] as MarkerName[]) {
    const at = positions[name];
    if (at === undefined || !Number.isFinite(at)) continue;
    const d = Math.abs(at - x);
    if (d <= tolerance && d < distance) {
      best = name;
      distance = d;
    }
  }
  return best;
}

/** A dragged marker stays inside the data and on its side of the other one (VT1 before VT2, `gap` apart). */
export function placeMarker(markers: Markers, name: MarkerName, value: number, min: number, max: number,
                            gap = 1): Markers {
  let v = Math.min(max, Math.max(min, value));
  if (name === "vt1" && markers.vt2 !== null) v = Math.min(v, markers.vt2 - gap);
  if (name === "vt2" && markers.vt1 !== null) v = Math.max(v, markers.vt1 + gap);
  return { ...markers, [name]: Math.round(v) };
}

/** Arrow keys move the focused marker by 1 s (10 s with Shift). */
export function keyStep(key: string, shift: boolean): number {
  const step = shift ? 10 : 1;
  if (key === "ArrowLeft" || key === "ArrowDown") return -step;
  if (key === "ArrowRight" || key === "ArrowUp") return step;
  return 0;
}

/** For charts whose x is not time (V-slope: VCO2 vs VO2): the time of the breath whose x is nearest `x`. */
export function timeAtX(xs: ArrayLike<number>, times: ArrayLike<number>, x: number): number | null {
  let best = -1;
  let distance = Infinity;
  for (let i = 0; i < xs.length; i++) {
    const d = Math.abs(xs[i] - x);
    if (Number.isFinite(d) && d < distance) {
      distance = d;
      best = i;
    }
  }
  return best < 0 ? null : times[best];
}

/** ... and the x of the breath nearest a time. */
export function xAtTime(xs: ArrayLike<number>, times: ArrayLike<number>, time: number): number | null {
  const t = timeAtX(times, xs, time);
  return t;
}

export interface MarkerPluginOptions {
  get: () => Markers;
  /** called while dragging (`done` false) and once when the pointer is released (`done` true) */
  onMove: (markers: Markers, done: boolean) => void;
  /** chart x of a marker's time, and time of a chart x; identity for time charts */
  toX?: (time: number) => number | null;
  toTime?: (x: number) => number | null;
  bounds: () => [number, number];
}

/** uPlot plugin: draws the two markers and lets the user drag them. */
export function markerPlugin(opts: MarkerPluginOptions): uPlot.Plugin {
  const toX = opts.toX ?? ((t: number) => t);
  const toTime = opts.toTime ?? ((x: number) => x);
  let dragging: MarkerName | null = null;

  const positions = (u: uPlot): Partial<Record<MarkerName, number>> => {
    const markers = opts.get();
    const out: Partial<Record<MarkerName, number>> = {};
    for (const name of ["vt1", "vt2"] as MarkerName[]) {
      const t = markers[name];
      if (t === null) continue;
      const x = toX(t);
      if (x !== null) out[name] = u.valToPos(x, "x");
    }
    return out;
  };

  const timeAt = (u: uPlot, clientX: number): number | null => {
    const rect = u.over.getBoundingClientRect();
    return toTime(u.posToVal(clientX - rect.left, "x"));
  };

  return {
    hooks: {
      init: (u: uPlot) => {
        const over = u.over;
        over.addEventListener("pointerdown", (e: PointerEvent) => {
          const rect = over.getBoundingClientRect();
          const hit = hitMarker(positions(u), e.clientX - rect.left, e.pointerType === "touch" ? 16 : 8);
          if (!hit) return;
          dragging = hit;
          over.setPointerCapture?.(e.pointerId);
          e.preventDefault();
          e.stopPropagation();
        });
        over.addEventListener("pointermove", (e: PointerEvent) => {
          const rect = over.getBoundingClientRect();
          if (!dragging) {
            over.style.cursor = hitMarker(positions(u), e.clientX - rect.left) ? "ew-resize" : "";
            return;
          }
          const t = timeAt(u, e.clientX);
          if (t === null) return;
          const [min, max] = opts.bounds();
          opts.onMove(placeMarker(opts.get(), dragging, t, min, max), false);
          u.redraw(false, false);
        });
        const release = (e: PointerEvent) => {
          if (!dragging) return;
          const t = timeAt(u, e.clientX);
          const [min, max] = opts.bounds();
          const next = t === null ? opts.get() : placeMarker(opts.get(), dragging, t, min, max);
          dragging = null;
          opts.onMove(next, true);
          u.redraw(false, false);
        };
        over.addEventListener("pointerup", release);
        over.addEventListener("pointercancel", release);
      },
      draw: (u: uPlot) => {
        const ctx = u.ctx;
        const at = positions(u);
        const { top, height } = u.bbox;
        ctx.save();
        for (const name of ["vt1", "vt2"] as MarkerName[]) {
          const x = at[name];
          if (x === undefined) continue;
          const px = Math.round(u.bbox.left + x * devicePixelRatio);
          ctx.strokeStyle = MARKER_COLOURS[name];
          ctx.lineWidth = 2 * devicePixelRatio;
          ctx.setLineDash(name === "vt1" ? [] : [6 * devicePixelRatio, 4 * devicePixelRatio]);
          ctx.beginPath();
          ctx.moveTo(px, top);
          ctx.lineTo(px, top + height);
          ctx.stroke();
          ctx.fillStyle = MARKER_COLOURS[name];
          ctx.font = `${12 * devicePixelRatio}px sans-serif`;
          ctx.fillText(name.toUpperCase(), px + 4 * devicePixelRatio, top + 14 * devicePixelRatio);
        }
        ctx.restore();
      },
    },
  };
}
