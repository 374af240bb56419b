// A test: the four Wasserman views with VT1/VT2 the physiologist drags (saved as an override with a reason; the
// zones follow), the per-method thresholds and their confidence, VO2max with its verdict and norm percentile, the
// zones, lactate when present, quality flags and the analysis history; reports of this test below.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api } from "../api";
import { STEP_FIELDS, asText, emptyStep, stepsBody, type Step } from "../lactate";
import { LineChart, type Band } from "../charts";
import { formatDateTime, formatNumber, t } from "../i18n";
import { say, sayFlag } from "../values";
import { keyStep, placeMarker, timeAtX, xAtTime, type MarkerName, type Markers } from "../markers";
import { canWrite, me } from "../session";
import { useSignal } from "../state";
import { ErrorLine, Field, Loading, useAction, useLoad } from "../ui";
import type { ExerciseTest } from "./athlete";
import { ReportList, ReportRequest } from "./reports";

interface Samples {
  count: number;
  columns: Record<string, (number | null)[] | null>;  // null: a channel the cart did not record
}

const PHASE_FILL: Record<string, string> = {
  baseline: "rgba(120,120,120,0.10)", constant: "rgba(31,78,156,0.07)", warmup: "rgba(31,78,156,0.07)",
  incremental: "rgba(242,169,0,0.10)", ramp: "rgba(242,169,0,0.10)", steps: "rgba(242,169,0,0.10)",
  recovery: "rgba(27,127,59,0.10)",
};

export function TestScreen({ id }: { id: string }) {
  const who = useSignal(me);
  const test = useLoad(() => api.get(`/api/v1/tests/${id}/`), [id]);
  const analysis = useLoad(() => api.get(`/api/v1/tests/${id}/analysis/`), [id]);
  const samples = useLoad(() => api.get(`/api/v1/tests/${id}/samples/`), [id]);
  const history = useLoad(() => api.get(`/api/v1/tests/${id}/analysis/versions/`), [id]);
  const a = analysis.data;
  const x = test.data;
  const reload = () => { analysis.reload(); history.reload(); };

  return (
    <section aria-labelledby="test-title">
      {x && <p><a href={`#/athletes/${x.athlete}`}>← {t("Athlete")}</a></p>}
      <h1 id="test-title">{t("Test")}{x ? ` · ${x.date ?? formatDateTime(x.created_at)} · ${say("modality", x.modality)}` : ""}</h1>
      <ErrorLine error={test.error || analysis.error || samples.error} />
      <Loading when={analysis.loading && !a} />
      {x && <p class="muted">{x.device || x.source_format} · {say("protocol", x.protocol)}
        {x.protocol_declared ? ` (${t("declared")})` : ` (${t("detected")})`} · {x.sample_count} {t("breaths")}</p>}
      {x && canWrite(who) && <TestDetails test={x} onSaved={() => { test.reload(); reload(); }} />}
      {a && a.status === "insufficient" && (
        <p class="error" role="alert">{t("Not enough data for an analysis:")} {((a.insufficient_reasons ?? []) as string[]).join("; ")}</p>
      )}
      {a && <Summary a={a} />}
      {a && samples.data && (
        <Thresholds testId={id} analysis={a} samples={samples.data} writable={canWrite(who)}
                    onSaved={(next) => { if (next && next.vt1 !== undefined) analysis.set(next); reload(); }} />
      )}
      {a && <Zones a={a} />}
      {a && <Methods a={a} />}
      {a && (a.lactate || a.lactate_thresholds || canWrite(who)) && (
        <Lactate a={a} testId={id} writable={canWrite(who)} onSaved={reload} />
      )}
      {a && <Quality a={a} />}
      <h2>{t("Analysis history")}</h2>
      {history.data && <History versions={history.data.versions ?? []} />}
      <h2>{t("Reports")}</h2>
      {canWrite(who) && <ReportRequest testId={id} />}
      <ReportList test={id} />
    </section>
  );
}

/** The test's date and modality (inputs of the analysis: a change re-derives it); a ZAN export has no date. */
function TestDetails({ test, onSaved }: { test: ExerciseTest; onSaved: () => void }) {
  const [date, setDate] = useState(test.date ?? "");
  const [modality, setModality] = useState<ExerciseTest["modality"]>(test.modality);
  const [error, setError] = useState<unknown>(null);
  const dirty = date !== (test.date ?? "") || modality !== test.modality;
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      await api.patch(`/api/v1/tests/${test.id}/`, { date: date || null, modality });
      onSaved();
    } catch (err) { setError(err); }
  };
  return (
    <form class="row" onSubmit={save} aria-label={t("Test details")}>
      <Field label={t("Test date")}>
        {(id) => <input id={id} type="date" value={date} onInput={(e) => setDate((e.target as HTMLInputElement).value)} />}
      </Field>
      <Field label={t("Modality")}>
        {(id) => <select id={id} value={modality} onChange={(e) => setModality((e.target as HTMLSelectElement).value as ExerciseTest["modality"])}>
          {["cycling", "running", "rowing", "other"].map((m) => <option key={m} value={m}>{say("modality", m)}</option>)}</select>}
      </Field>
      <button type="submit" disabled={!dirty}>{t("Save")}</button>
      <ErrorLine error={error} />
    </form>
  );
}

function Summary({ a }: { a: any }) {
  const v = a.vo2max ?? {};
  return (
    <div class="kpis" data-testid="summary">
      <div class="kpi"><span class="label">VO2max</span>
        <span class="value">{formatNumber(v.vo2_ml_min)} {t("ml/min")}</span>
        <span>{formatNumber(v.vo2_ml_kg_min, 1)} {t("ml/kg/min")}</span></div>
      <div class="kpi"><span class="label">{t("Verdict")}</span>
        <span class="value">{say("verdict", v.verdict)}</span>
        <span>{t("basis")}: {say("basis", v.verdict_basis)}</span></div>
      <div class="kpi"><span class="label">{t("Norm percentile")}</span>
        <span class="value">{v.percentile ?? v.percentile_band ?? "—"}</span>
        <span class="muted" title={v.norm_source}>{(v.norm_source ?? "").split("(")[0]}</span></div>
      <div class="kpi"><span class="label">VT1</span>
        <span class="value" data-testid="vt1-summary">{formatNumber(a.vt1?.vo2_ml_min)} {t("ml/min")}</span>
        <span>{a.vt1 ? `${formatNumber(a.vt1.vo2_pct_max)} % · ${formatNumber(a.vt1.time_s)} s` : "—"}
          {a.vt1?.manual ? ` · ${t("manual")}` : ""}</span></div>
      <div class="kpi"><span class="label">VT2</span>
        <span class="value">{formatNumber(a.vt2?.vo2_ml_min)} {t("ml/min")}</span>
        <span>{a.vt2 ? `${formatNumber(a.vt2.vo2_pct_max)} % · ${formatNumber(a.vt2.time_s)} s` : "—"}
          {a.vt2?.manual ? ` · ${t("manual")}` : ""}</span></div>
      <div class="kpi"><span class="label">{t("Peak")}</span>
        <span class="value">RER {formatNumber(a.peak?.rer, 2)}</span>
        <span>{t("HR")} {formatNumber(a.peak?.hr_bpm)} · VE {formatNumber(a.peak?.ve_l_min, 1)} {t("l/min")}</span></div>
    </div>
  );
}

const col = (s: Samples, name: string) => s.columns[name] ?? new Array(s.count).fill(null);

function ratio(a: (number | null)[], b: (number | null)[], scale = 1): (number | null)[] {
  return a.map((v, i) => (v !== null && b[i] ? (v * scale) / (b[i] as number) : null));
}

/** The charts and the threshold editor. */
function Thresholds({ testId, analysis, samples, writable, onSaved }: {
  testId: string; analysis: any; samples: Samples; writable: boolean; onSaved: (next: any) => void;
}) {
  const initial: Markers = { vt1: analysis.vt1?.time_s ?? null, vt2: analysis.vt2?.time_s ?? null };
  const [markers, setMarkers] = useState<Markers>(initial);
  const [reason, setReason] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState("");
  const ref = useRef(markers);
  ref.current = markers;
  useEffect(() => setMarkers(initial), [analysis.version]);

  const time = col(samples, "time_s") as number[];
  const bounds = (): [number, number] => [time[0] ?? 0, time[time.length - 1] ?? 0];
  const move = (next: Markers) => setMarkers(next);
  const common = { get: () => ref.current, onMove: move, bounds };

  const data = useMemo(() => {
    const vo2 = col(samples, "vo2_ml_min");
    const vco2 = col(samples, "vco2_ml_min");
    const ve = col(samples, "ve_l_min");
    // V-slope: VCO2 against VO2, the breaths ordered by VO2 (uPlot wants x ascending); `order` maps back to time
    const order = vo2.map((_, i) => i).filter((i) => vo2[i] !== null && vco2[i] !== null)
      .sort((p, q) => (vo2[p] as number) - (vo2[q] as number));
    return {
      main: [time, vo2, vco2, col(samples, "hr_bpm")],
      vslope: [order.map((i) => vo2[i] as number), order.map((i) => vco2[i] as number)],
      vslopeTimes: order.map((i) => time[i]),
      eq: [time, ratio(ve, vo2, 1000), ratio(ve, vco2, 1000)],
      pet: [time, col(samples, "peto2_mmhg"), col(samples, "petco2_mmhg")],
      hasPet: ["peto2_mmhg", "petco2_mmhg"].some((name) => (samples.columns[name] ?? []).some((v) => v !== null)),
    };
  }, [samples]);

  const bands: Band[] = (analysis.protocol?.phases ?? []).map((p: any) => ({
    start: p.start_s, end: p.end_s, label: say("phase", p.phase), fill: PHASE_FILL[p.phase] ?? "rgba(0,0,0,0.05)",
  }));
  const key = `${markers.vt1}:${markers.vt2}`;

  // the benchmark's figure (bench/console.py): from the data in hand to the charts drawn
  const started = useRef(performance.now());
  useEffect(() => {
    requestAnimationFrame(() => requestAnimationFrame(() => {
      document.body.dataset.chartsRenderMs = String(Math.round(performance.now() - started.current));
    }));
  }, [data]);

  const changed = (["vt1", "vt2"] as MarkerName[]).filter((n) => markers[n] !== initial[n]);
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const overrides: Record<string, unknown> = {};
    for (const n of changed) overrides[n] = markers[n] === null ? null : { time_s: markers[n], reason };
    try {
      const next = await api.patch(`/api/v1/tests/${testId}/analysis/`, { overrides, reason, recompute: false });
      setSaved(t("Saved as version {v}.", { v: next?.version ?? "—" }));
      onSaved(next);
    } catch (err) {
      setError(err);
    }
  };

  const setFromInput = (name: MarkerName, value: string) => {
    const v = Number(value);
    if (value !== "" && Number.isFinite(v)) setMarkers(placeMarker(markers, name, v, ...bounds()));
  };
  const onKey = (name: MarkerName) => (e: KeyboardEvent) => {
    const step = keyStep(e.key, e.shiftKey);
    if (!step || markers[name] === null) return;
    e.preventDefault();
    setMarkers(placeMarker(markers, name, (markers[name] as number) + step, ...bounds()));
  };

  return (
    <>
      <div class="charts" data-testid="charts">
        <LineChart title={t("VO2, VCO2 and heart rate vs time")} time={false} xLabel={t("time, s")}
                   yLabel={t("ml/min")} y2Label={t("bpm")} data={data.main} bands={bands}
                   series={[{ label: "VO2", stroke: "#1f4e9c" }, { label: "VCO2", stroke: "#c05a00" },
                            { label: t("HR"), stroke: "#7a1fa2", scale: "y2" }]}
                   markers={common} markerKey={key} />
        <LineChart title={t("V-slope: VCO2 vs VO2")} xLabel={t("VO2, ml/min")} yLabel={t("VCO2, ml/min")} scatter
                   data={data.vslope} series={[{ label: "VCO2", stroke: "#c05a00" }]}
                   markers={{ ...common,
                              toX: (tm) => xAtTime(data.vslope[0], data.vslopeTimes, tm),
                              toTime: (v) => timeAtX(data.vslope[0], data.vslopeTimes, v) }}
                   markerKey={key} />
        <LineChart title={t("Ventilatory equivalents vs time")} xLabel={t("time, s")} yLabel="VE/VO2, VE/VCO2"
                   data={data.eq} bands={bands}
                   series={[{ label: "VE/VO2", stroke: "#1b7f3b" }, { label: "VE/VCO2", stroke: "#b3261e" }]}
                   markers={common} markerKey={key} />
        {data.hasPet ? (
          <LineChart title={t("End-tidal pressures vs time")} xLabel={t("time, s")} yLabel={t("mmHg")}
                     data={data.pet} bands={bands}
                     series={[{ label: "PetO2", stroke: "#1f4e9c" }, { label: "PetCO2", stroke: "#c05a00" }]}
                     markers={common} markerKey={key} />
        ) : (
          <figure class="chart" data-testid="no-end-tidal">
            <figcaption>{t("End-tidal pressures vs time")}</figcaption>
            <p class="muted empty-chart">{t("This file has no end-tidal pressures (PetO2, PetCO2): the cart did not export them.")}</p>
          </figure>
        )}
      </div>
      <form class="card" onSubmit={save} aria-labelledby="thresholds-title">
        <h2 id="thresholds-title">{t("Thresholds")}</h2>
        <p class="muted">{t("Drag the VT1 and VT2 lines on any chart, or type the time; arrow keys move them by 1 s (Shift: 10 s).")}</p>
        <div class="grid">
          {(["vt1", "vt2"] as MarkerName[]).map((n) => (
            <Field key={n} label={t("{name} time, s", { name: n.toUpperCase() })}>
              {(fid) => <input id={fid} type="number" step="1" value={markers[n] ?? ""} readOnly={!writable}
                               onChange={(e) => setFromInput(n, (e.target as HTMLInputElement).value)}
                               onKeyDown={onKey(n)} data-testid={`${n}-time`} />}
            </Field>
          ))}
          {writable && (
            <Field label={t("Reason for the change")}>
              {(fid) => <input id={fid} required value={reason} placeholder={t("e.g. V-slope breakpoint at 1150 s")}
                               onInput={(e) => setReason((e.target as HTMLInputElement).value)} />}
            </Field>
          )}
        </div>
        {writable && (
          <div class="row">
            <button type="submit" class="primary" disabled={!changed.length || !reason.trim()}>{t("Save thresholds")}</button>
            <button type="button" disabled={!changed.length} onClick={() => setMarkers(initial)}>{t("Undo")}</button>
            <span aria-live="polite" class="ok">{saved}</span>
          </div>
        )}
        <ErrorLine error={error} />
      </form>
    </>
  );
}

function range(v: unknown, digits = 0): string {
  if (Array.isArray(v)) return `${formatNumber(v[0], digits)}–${formatNumber(v[1], digits)}`;
  return v === null || v === undefined ? "—" : formatNumber(v as number, digits);
}

function Zones({ a }: { a: any }) {
  const model = a.zone_model ?? "five_zone";
  const zones: any[] = a.zones?.[model] ?? [];
  return (
    <>
      <h2>{t("Training zones")}</h2>
      {a.zones?.note && <p class="muted">{say("zone", a.zones.note)}</p>}
      <table class="list" data-testid="zones">
        <caption>{model === "three_zone" ? t("Three-zone model") : t("Five-zone model")}</caption>
        <thead><tr><th scope="col">{t("Zone")}</th><th scope="col">{t("HR, bpm")}</th><th scope="col">{t("Power, W")}</th>
          <th scope="col">{t("Speed, km/h")}</th></tr></thead>
        <tbody>
          {zones.map((z) => (
            <tr key={z.name}><th scope="row">{say("zone", z.name)}</th><td>{range(z.hr_bpm)}</td><td>{range(z.power_w)}</td>
              <td>{range(z.speed_kmh, 1)}</td></tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function Methods({ a }: { a: any }) {
  const rows: { vt: string; m: any }[] = [];
  for (const vt of ["vt1", "vt2"]) for (const m of a[vt]?.methods ?? []) rows.push({ vt, m });
  return (
    <>
      <h2>{t("Thresholds by method")}</h2>
      <p class="muted">
        VT1: {say("method", a.vt1?.method)}, {t("confidence")} {formatNumber((a.vt1?.confidence ?? 0) * 100)} % ·
        VT2: {say("method", a.vt2?.method)}, {t("confidence")} {formatNumber((a.vt2?.confidence ?? 0) * 100)} %
      </p>
      <table class="list" data-testid="methods">
        <thead><tr><th scope="col">{t("Threshold")}</th><th scope="col">{t("Method")}</th><th scope="col">{t("time, s")}</th>
          <th scope="col">{t("VO2, ml/min")}</th><th scope="col">{t("HR, bpm")}</th><th scope="col">{t("Load")}</th></tr></thead>
        <tbody>
          {rows.map(({ vt, m }, i) => (
            <tr key={i}><td>{vt.toUpperCase()}</td><td>{say("method", m.method)}</td><td>{formatNumber(m.time_s)}</td>
              <td>{formatNumber(m.vo2_ml_min)}</td><td>{formatNumber(m.hr_bpm)}</td>
              <td>{m.power_w != null ? `${formatNumber(m.power_w)} ${t("W")}` : m.speed_kmh != null ? `${formatNumber(m.speed_kmh, 1)} ${t("km/h")}` : "—"}</td></tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function Lactate({ a, testId, writable, onSaved }: { a: any; testId: string; writable: boolean; onSaved: () => void }) {
  const steps = useLoad(() => api.get(`/api/v1/tests/${testId}/lactate-steps/`), [testId, a.version]);
  const list: any[] = steps.data?.steps ?? [];
  // the engine's answer: {thresholds: [{method, fitting, intensity, lactate, heart_rate}, ...]}
  const found = (a.lactate_thresholds ?? a.lactate ?? {}) as { thresholds?: any[] };
  const methods: any[] = Array.isArray(found.thresholds) ? found.thresholds.filter((m) => m.intensity != null) : [];
  return (
    <>
      <h2>{t("Lactate")}</h2>
      {list.length > 0 && (
        <LineChart title={t("Lactate vs intensity")} xLabel={t("intensity")} yLabel={t("mmol/l")} points
                   data={[list.map((s) => s.intensity), list.map((s) => s.lactate)]}
                   series={[{ label: t("Lactate"), stroke: "#b3261e" }]} height={220} />
      )}
      {methods.length > 0 && (
        <table class="list" data-testid="lactate-thresholds">
          <thead><tr><th scope="col">{t("Method")}</th><th scope="col">{t("intensity")}</th><th scope="col">{t("Lactate, mmol/l")}</th>
            <th scope="col">{t("HR, bpm")}</th></tr></thead>
          <tbody>
            {methods.map((m, i) => (
              <tr key={i}><td>{say("method", m.method ?? m.name)}</td><td>{formatNumber(m.intensity, 1)}</td>
                <td>{formatNumber(m.lactate, 2)}</td><td>{formatNumber(m.heart_rate ?? m.hr_bpm)}</td></tr>
            ))}
          </tbody>
        </table>
      )}
      {writable && steps.data && <StepsEditor testId={testId} stored={list} onSaved={onSaved} />}
    </>
  );
}

/** Enter the lactate of each stage (intensity in W or km/h, lactate in mmol/l, optional HR and stage length): saved,
 * the lactate thresholds are computed and the analysis gets a new version. */
function StepsEditor({ testId, stored, onSaved }: { testId: string; stored: any[]; onSaved: () => void }) {
  const [rows, setRows] = useState<Step[]>(() => stored.length
    ? stored.map((s) => ({ intensity: asText(s.intensity), lactate: asText(s.lactate), heart_rate: asText(s.heart_rate),
                           length_s: asText(s.length_s) }))
    : [emptyStep(), emptyStep(), emptyStep()]);
  const [saved, setSaved] = useState("");
  const action = useAction();
  const labels: Record<(typeof STEP_FIELDS)[number], string> = {
    intensity: t("Intensity (W or km/h)"), lactate: t("Lactate, mmol/l"), heart_rate: t("HR, bpm"),
    length_s: t("Stage length, s"),
  };
  const set = (i: number, f: (typeof STEP_FIELDS)[number], v: string) =>
    setRows(rows.map((r, j) => (j === i ? { ...r, [f]: v } : r)));
  const save = (e: Event) => {
    e.preventDefault();
    setSaved("");
    void action.run(() => api.post(`/api/v1/tests/${testId}/lactate-steps/`, stepsBody(rows)),
      (answer) => { setSaved(String(answer?.version ?? "—")); onSaved(); });
  };
  return (
    <form class="card" onSubmit={save} aria-labelledby="steps-title">
      <h3 id="steps-title">{t("Lactate steps")}</h3>
      <p class="muted">{t("One row per stage, in the order they were run; the lactate thresholds are computed when you save.")}</p>
      <table class="list steps" data-testid="lactate-steps">
        <thead><tr><th scope="col">{t("Stage")}</th>
          {STEP_FIELDS.map((f) => <th key={f} scope="col">{labels[f]}</th>)}
          <th scope="col"><span class="sr-only">{t("Actions")}</span></th></tr></thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={i}>
              <th scope="row">{i + 1}</th>
              {STEP_FIELDS.map((f) => (
                <td key={f}><input type="text" inputMode="decimal" value={r[f]}
                                   aria-label={t("{field}, stage {n}", { field: labels[f], n: i + 1 })}
                                   onInput={(e) => set(i, f, (e.target as HTMLInputElement).value)} /></td>
              ))}
              <td><button type="button" class="danger" aria-label={t("Remove stage {n}", { n: i + 1 })}
                          disabled={rows.length === 1} onClick={() => setRows(rows.filter((_, j) => j !== i))}>
                {t("Delete")}</button></td>
            </tr>
          ))}
        </tbody>
      </table>
      <ErrorLine error={action.error} />
      <div class="row">
        <button type="button" onClick={() => setRows([...rows, emptyStep()])} disabled={rows.length >= 60}>{t("Add a stage")}</button>
        <button type="submit" class="primary">{t("Save lactate steps")}</button>
        <span class="ok" aria-live="polite">{saved && t("Saved as version {v}.", { v: saved })}</span>
      </div>
    </form>
  );
}

function Quality({ a }: { a: any }) {
  const flags: any[] = a.quality?.flags ?? [];
  return (
    <>
      <h2>{t("Quality")}</h2>
      <p class="muted">{t("{n} breaths, {x} excluded, VO2 noise {cv} %", {
        n: a.quality?.n_breaths ?? "—", x: a.quality?.excluded_breaths ?? 0,
        cv: formatNumber((a.quality?.vo2_noise_cv ?? 0) * 100, 1) })}</p>
      {flags.length === 0 ? <p class="ok">{t("No quality flags.")}</p> : (
        <ul data-testid="quality-flags">
          {flags.map((f, i) => <li key={i} class={`flag-${f.severity}`}><strong>{say("severity", f.severity)}</strong>: {sayFlag(f)}</li>)}
        </ul>
      )}
    </>
  );
}

function History({ versions }: { versions: any[] }) {
  return (
    <table class="list" data-testid="history">
      <thead><tr><th scope="col">{t("Version")}</th><th scope="col">{t("When")}</th><th scope="col">{t("What changed")}</th>
        <th scope="col">{t("Reason")}</th></tr></thead>
      <tbody>
        {[...versions].reverse().map((v) => (
          <tr key={v.version}>
            <td>{v.version}</td><td>{formatDateTime(v.computed_at)}</td>
            <td>{(v.audit ?? []).map((e: any) => say("action", e.action)).join(", ") || "—"}
              {Object.keys(v.overrides ?? {}).length ? ` (${Object.keys(v.overrides).join(", ").toUpperCase()})` : ""}</td>
            <td>{(v.audit ?? []).map((e: any) => e.reason ?? e.changes?.reason).filter(Boolean).join("; ") || "—"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
