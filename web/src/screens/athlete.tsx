// One athlete: the upload (drag a cart export here), the tests, progress over time, the reports.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, type Schemas, type ApiError } from "../api";
import { formatDate, formatDateTime, formatNumber, t } from "../i18n";
import { say } from "../values";
import { importWarnings, sayProblem, sayWarning } from "../messages";
import { canWrite, me } from "../session";
import { notificationStream } from "../sse";
import { useSignal } from "../state";
import { ErrorLine, Field, Loading, Progress, useLoad } from "../ui";
import { LineChart } from "../charts";
import { ReportList } from "./reports";

export type ExerciseTest = Schemas["ExerciseTest"];

export function AthleteScreen({ id }: { id: string }) {
  const who = useSignal(me);
  const athlete = useLoad(() => api.get(`/api/v1/athletes/${id}/`), [id]);
  const tests = useLoad(() => api.get("/api/v1/tests/", { athlete: id, page_size: 100 }), [id]);
  const progress = useLoad(() => api.get(`/api/v1/athletes/${id}/progress/`), [id]);
  const a = athlete.data;
  return (
    <section aria-labelledby="athlete-title">
      <p><a href="#/athletes">← {t("Athletes")}</a></p>
      <ErrorLine error={athlete.error} />
      <h1 id="athlete-title">{a ? `${a.first_name} ${a.last_name}` : t("Athlete")}</h1>
      {a && <p class="muted">{say("sex", a.sex)} · {formatDate(a.birth_date)} · {a.sport || "—"}
        {a.body_mass_kg ? ` · ${t("{mass} kg", { mass: formatNumber(a.body_mass_kg, Number.isInteger(a.body_mass_kg) ? 0 : 1) })}` : ""}</p>}
      {canWrite(who) && <Upload athleteId={id} onImported={() => { tests.reload(); progress.reload(); }} />}
      <h2>{t("Tests")}</h2>
      <Loading when={tests.loading && !tests.data} />
      <ErrorLine error={tests.error} />
      {tests.data && (tests.data.results.length === 0 ? <p class="muted">{t("No tests yet.")}</p> : (
        <table class="list">
          <caption class="sr-only">{t("Tests")}</caption>
          <thead><tr><th scope="col">{t("Date")}</th><th scope="col">{t("Modality")}</th><th scope="col">{t("Protocol")}</th>
            <th scope="col">{t("Status")}</th><th scope="col">{t("Source")}</th><th scope="col">{t("Breaths")}</th></tr></thead>
          <tbody>
            {tests.data.results.map((x) => (
              <tr key={x.id}>
                <td><a href={`#/tests/${x.id}`}>{x.date ? formatDate(x.date) : t("Test of {when}", { when: formatDateTime(x.created_at) })}</a></td>
                <td>{say("modality", x.modality)}</td><td>{say("protocol", x.protocol)}</td><td>{say("status", x.status)}</td>
                <td>{x.source_format || "—"}</td><td>{x.sample_count}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ))}
      <h2>{t("Progress")}</h2>
      <ErrorLine error={progress.error} />
      {progress.data && <ProgressChart data={progress.data} />}
      <h2>{t("Reports")}</h2>
      <ReportList athlete={id} />
    </section>
  );
}

/** VO2max, VT1 and VT2 across the athlete's dated, analysed tests; changes beyond the meaningful threshold marked. */
function ProgressChart({ data }: { data: any }) {
  const rows: any[] = data.tests ?? [];
  if (rows.length === 0) return <p class="muted">{t("Progress needs analysed tests with a date.")}</p>;
  const x = rows.map((r) => new Date(r.date).getTime() / 1000);
  const num = (v: any) => (typeof v === "number" ? v : v?.vo2_ml_min ?? v?.value ?? null);
  const vo2 = rows.map((r) => num(r.vo2max));
  const vt1 = rows.map((r) => num(r.vt1));
  const vt2 = rows.map((r) => num(r.vt2));
  return (
    <>
      <LineChart title={t("VO2max, VT1 and VT2 over time, ml/min")} height={220} time
                 data={[x, vo2, vt1, vt2]}
                 series={[{ label: "VO2max", stroke: "#1f4e9c" }, { label: "VT1", stroke: "#1b7f3b" },
                          { label: "VT2", stroke: "#b3261e" }]} points />
      <table class="list">
        <caption>{t("Meaningful change: beyond {pct} %", { pct: data.meaningful_change_pct })}</caption>
        <thead><tr><th scope="col">{t("Date")}</th><th scope="col">VO2max</th><th scope="col">VT1</th><th scope="col">VT2</th>
          <th scope="col">{t("Change")}</th></tr></thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={i}>
              <td><a href={`#/tests/${r.test}`}>{formatDate(r.date)}</a></td>
              <td>{formatNumber(vo2[i])}</td><td>{formatNumber(vt1[i])}</td><td>{formatNumber(vt2[i])}</td>
              <td>{describeChange(r)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function describeChange(row: any): string {
  const change = row.changes ?? row.change;
  if (!change || typeof change !== "object") return "—";
  const parts: string[] = [];
  for (const [key, value] of Object.entries<any>(change)) {
    if (!value || typeof value !== "object") continue;
    const pct = value.pct ?? value.change_pct;
    if (typeof pct !== "number") continue;
    parts.push(`${key.toUpperCase()} ${pct > 0 ? "+" : ""}${formatNumber(pct, 1)} %${value.meaningful ? " ★" : ""}`);
  }
  return parts.join(", ") || "—";
}

const PROTOCOL_FIELDS = ["protocol_start", "protocol_increment", "protocol_stage_length_s", "protocol_baseline_s",
  "protocol_baseline_load"] as const;
const PROTOCOL_LABELS: Record<(typeof PROTOCOL_FIELDS)[number], string> = {
  protocol_start: "Start load (W or km/h)", protocol_increment: "Increment per stage or minute",
  protocol_stage_length_s: "Stage length, s", protocol_baseline_s: "Baseline, s", protocol_baseline_load: "Baseline load",
};

/** Drag a cart export here (or pick it); progress follows the import live; warnings and errors in words. */
function Upload({ athleteId, onImported }: { athleteId: string; onImported: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [hrFile, setHrFile] = useState<File | null>(null);
  const [over, setOver] = useState(false);
  const [job, setJob] = useState<any>(null);
  const [error, setError] = useState<unknown>(null);
  const [protocol, setProtocol] = useState<Record<string, string>>({ protocol: "" });
  const [note, setNote] = useState<string>("");
  const stop = useRef<(() => void) | null>(null);
  useEffect(() => () => stop.current?.(), []);

  const follow = (importId: string) => {
    let finished = false;
    const check = async () => {
      if (finished) return;
      const current = await api.get(`/api/v1/imports/${importId}/`);
      setJob(current);
      if (current.status === "done" || current.status === "failed") {
        finished = true;
        stop.current?.();
        if (current.status === "done") await afterImport(current);
      }
    };
    // Live from the notification stream: `progress` events carry this import's stage and percentage; when it says
    // done or failed (or a notification arrives) the import itself is read once for its warnings and test. A slow
    // poll stays as a fallback should the stream drop between reconnections.
    const closeStream = notificationStream(api, (event) => {
      if (event.event === "progress") {
        try {
          const state = JSON.parse(event.data);
          if (state.kind !== "import" || state.id !== importId) return;
          if (state.status === "done" || state.status === "failed") void check().catch(setError);
          else setJob((job: any) => ({ ...job, ...state, kind: undefined }));
        } catch {
          /* not JSON: ignored */
        }
      } else {
        void check().catch(setError);
      }
    });
    const timer = setInterval(() => void check().catch(setError), 3000);
    stop.current = () => { closeStream(); clearInterval(timer); };
    void check();
  };

  const afterImport = async (done: any) => {
    const notes: string[] = [];
    try {
      if (done.test && protocol.protocol) {
        const body: Record<string, unknown> = { protocol: protocol.protocol };
        for (const f of PROTOCOL_FIELDS) if (protocol[f]) body[f] = Number(protocol[f]);
        await api.patch(`/api/v1/tests/${done.test}/`, body);
        notes.push(t("Declared protocol saved; the analysis was re-derived."));
      }
      if (done.test && hrFile) {
        const form = new FormData();
        form.set("file", hrFile);
        const hr = await api.upload(`/api/v1/tests/${done.test}/heart-rate/`, form, false);
        notes.push(t("Heart-rate track added ({method}, coverage {coverage} %).",
          { method: hr.method ?? "—", coverage: formatNumber((hr.coverage ?? 0) * 100) }));
        notes.push(...(hr.warning_details ?? []).map(sayWarning));
      }
    } catch (e) {
      setError(e);
    }
    setNote(notes.join(" "));
    onImported();
  };

  const send = async (e: Event) => {
    e.preventDefault();
    if (!file) return;
    setError(null);
    setNote("");
    setJob({ status: "queued", progress: 0 });
    const form = new FormData();
    form.set("athlete", athleteId);
    form.set("file", file);
    try {
      const created = await api.upload("/api/v1/imports/", form);
      setJob(created);
      follow(created.id);
    } catch (err) {
      setJob(null);
      setError(err as ApiError);
    }
  };

  const pick = (files: FileList | null | undefined) => {
    if (files && files[0]) setFile(files[0]);
  };

  return (
    <form class="card upload" onSubmit={send} aria-labelledby="upload-title">
      <h2 id="upload-title">{t("Upload a test")}</h2>
      <div class={`dropzone${over ? " over" : ""}`} data-testid="dropzone"
           onDragOver={(e) => { e.preventDefault(); setOver(true); }} onDragLeave={() => setOver(false)}
           onDrop={(e) => { e.preventDefault(); setOver(false); pick(e.dataTransfer?.files); }}>
        <p>{file ? t("File: {name}", { name: file.name }) : t("Drag the cart's export here, or choose it:")}</p>
        <Field label={t("Cart export (ZAN, CORTEX, COSMED, Vyntus, MedGraphics, Oxynet, CSV/XLSX)")}>
          {(id) => <input id={id} type="file" onChange={(e) => pick((e.target as HTMLInputElement).files)} />}
        </Field>
      </div>
      <div class="grid">
        <Field label={t("Heart-rate file (FIT, TCX or CSV), optional")}>
          {(id) => <input id={id} type="file" accept=".fit,.tcx,.csv"
                          onChange={(e) => setHrFile((e.target as HTMLInputElement).files?.[0] ?? null)} />}
        </Field>
        <Field label={t("Declared protocol")}>
          {(id) => (
            <select id={id} value={protocol.protocol}
                    onChange={(e) => setProtocol({ ...protocol, protocol: (e.target as HTMLSelectElement).value })}>
              <option value="">{t("detect from the data")}</option>
              <option value="ramp">{t("ramp")}</option>
              <option value="steps">{t("steps")}</option>
            </select>
          )}
        </Field>
        {protocol.protocol && PROTOCOL_FIELDS.map((f) => (
          <Field key={f} label={t(PROTOCOL_LABELS[f])}>
            {(id) => <input id={id} type="number" step="any" value={protocol[f] ?? ""}
                            onInput={(e) => setProtocol({ ...protocol, [f]: (e.target as HTMLInputElement).value })} />}
          </Field>
        ))}
      </div>
      <div class="row">
        <button type="submit" class="primary" disabled={!file || (job && !["done", "failed"].includes(job.status))}>
          {t("Upload")}
        </button>
      </div>
      <ErrorLine error={error} />
      {job && (
        <div class="job" aria-live="polite" data-testid="import-status" data-status={job.status}>
          <Progress value={job.progress ?? 0} label={t("Import: {status}", { status: say("status", job.status) })} />
          {job.status === "failed" && job.error && (
            <p class="error" role="alert">{sayProblem(job.error)}</p>
          )}
          {job.warnings?.length > 0 && (
            <div class="warnings">
              <h3>{t("Warnings")}</h3>
              <ul>{importWarnings(job).map((w, i) => <li key={i}>{w}</li>)}</ul>
            </div>
          )}
          {job.status === "done" && job.test && (
            <p><a href={`#/tests/${job.test}`} class="button primary">{t("Open the test")}</a> {note}</p>
          )}
        </div>
      )}
    </form>
  );
}
