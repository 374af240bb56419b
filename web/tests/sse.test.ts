// @vitest-environment node
import { describe, expect, it } from "vitest";
import { SseParser } from "../src/sse";

describe("the event-stream parser", () => {
  it("joins events split across chunks, skips heartbeats and keeps the last id", () => {
    const p = new SseParser();
    expect(p.feed(": heartbeat\n\nevent: notif")).toEqual([]);
    expect(p.feed("ication\nid: 42\ndata: {\"kind\":\"import.done\"}\n\n")).toEqual(
      [{ event: "notification", id: "42", data: "{\"kind\":\"import.done\"}" }]);
    expect(p.lastEventId).toBe("42");
    expect(p.feed("data: a\r\ndata: b\r\n\r\n")).toEqual([{ event: "message", id: "42", data: "a\nb" }]);
  });
});
