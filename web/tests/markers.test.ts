import { describe, expect, it, vi } from "vitest";
import { hitMarker, keyStep, markerPlugin, placeMarker, timeAtX, xAtTime, type Markers } from "../src/markers";

describe("VT1/VT2 markers", () => {
  it("picks the marker under the pointer, the nearer one when both are close", () => {
    expect(hitMarker({ vt1: 100, vt2: 300 }, 104)).toBe("vt1");
    expect(hitMarker({ vt1: 100, vt2: 110 }, 107)).toBe("vt2");
    expect(hitMarker({ vt1: 100, vt2: 300 }, 200)).toBeNull();
    expect(hitMarker({ vt1: 100 }, 115, 16)).toBe("vt1"); // a finger gets a wider target
  });

  it("keeps a dragged marker inside the test and VT1 before VT2", () => {
    const m: Markers = { vt1: 400, vt2: 600 };
    expect(placeMarker(m, "vt1", 450.4, 0, 900)).toEqual({ vt1: 450, vt2: 600 });
    expect(placeMarker(m, "vt1", 700, 0, 900)).toEqual({ vt1: 599, vt2: 600 });
    expect(placeMarker(m, "vt2", 100, 0, 900)).toEqual({ vt1: 400, vt2: 401 });
    expect(placeMarker(m, "vt2", 5000, 0, 900)).toEqual({ vt1: 400, vt2: 900 });
    expect(placeMarker({ vt1: null, vt2: null }, "vt1", -5, 0, 900)).toEqual({ vt1: 0, vt2: null });
  });

  it("moves with the arrow keys", () => {
    expect(keyStep("ArrowRight", false)).toBe(1);
    expect(keyStep("ArrowLeft", true)).toBe(-10);
    expect(keyStep("Enter", false)).toBe(0);
  });

  it("maps time to the V-slope's VO2 axis and back through the breaths", () => {
    const vo2 = [1000, 1500, 2000, 2600];
    const time = [60, 120, 180, 240];
    expect(timeAtX(vo2, time, 1950)).toBe(180);
    expect(xAtTime(vo2, time, 125)).toBe(1500);
    expect(timeAtX([], [], 1)).toBeNull();
  });

  it("drags a marker on a chart: pointer down on the line, move, release saves once", () => {
    // a chart 800 px wide showing 0..800 s: one pixel is one second
    const over = document.createElement("div");
    over.getBoundingClientRect = () => ({ left: 50, top: 0, width: 800, height: 300 } as DOMRect);
    const u = {
      over, bbox: { left: 0, top: 0, width: 800, height: 300 },
      valToPos: (v: number) => v, posToVal: (p: number) => p, redraw: vi.fn(),
    } as any;
    let markers: Markers = { vt1: 390, vt2: 632 };
    const moves: [Markers, boolean][] = [];
    const plugin = markerPlugin({
      get: () => markers, bounds: () => [0, 800],
      onMove: (m, done) => { markers = m; moves.push([m, done]); },
    });
    plugin.hooks.init!(u, {} as any, {} as any);
    const fire = (type: string, clientX: number) =>
      over.dispatchEvent(Object.assign(new MouseEvent(type, { clientX, bubbles: true }), { pointerId: 1, pointerType: "mouse" }));
    fire("pointerdown", 50 + 200); // nowhere near a marker: nothing happens
    fire("pointermove", 50 + 260);
    expect(moves).toEqual([]);
    fire("pointerdown", 50 + 393);
    fire("pointermove", 50 + 420);
    fire("pointermove", 50 + 450);
    fire("pointerup", 50 + 452);
    expect(moves.map(([m, done]) => [m.vt1, done])).toEqual([[420, false], [450, false], [452, true]]);
    expect(markers).toEqual({ vt1: 452, vt2: 632 });
    // dragging VT2 left past VT1 stops just after it
    fire("pointerdown", 50 + 630);
    fire("pointerup", 50 + 100);
    expect(markers).toEqual({ vt1: 452, vt2: 453 });
    expect(u.redraw).toHaveBeenCalled();
  });
});
