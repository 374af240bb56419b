// Reports: request one (language, template, format, conclusion), its status live (the notification stream says
// when it is ready or failed; its progress is read between events), download it; the history of reports.
import { useEffect, useState } from "preact/hooks";
import { api, type Body, type Schemas } from "../api";
import { formatDateTime, t } from "../i18n";
import { say } from "../values";
import { sayProblem } from "../messages";
import { notificationStream } from "../sse";
import { signal, useSignal } from "../state";
import { ErrorLine, Field, Loading, useLoad } from "../ui";

export type Report = Schemas["Report"];

/** Bumped when a report is requested, so every list on the page shows it at once. */
const requested = signal(0);

export function ReportsScreen() {
  return (
    <section aria-labelledby="reports-title">
      <h1 id="reports-title">{t("Reports")}</h1>
      <ReportList />
    </section>
  );
}

export function ReportRequest({ testId }: { testId: string }) {
  const [form, setForm] = useState<Omit<Body<"/api/v1/reports/", "post">, "test">>(
    { language: "ru", template: "full", format: "pdf", conclusion: "" });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const set = (key: keyof typeof form) => (e: Event) =>
    setForm({ ...form, [key]: (e.target as HTMLInputElement).value });
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.post("/api/v1/reports/", { test: testId, ...form }, true);
      requested.set(requested.get() + 1);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card grid" onSubmit={submit} aria-labelledby="report-request-title">
      <h2 id="report-request-title">{t("Request a report")}</h2>
      <Field label={t("Report language")}>
        {(id) => <select id={id} value={form.language} onChange={set("language")}>
          <option value="ru">Русский</option><option value="en">English</option></select>}
      </Field>
      <Field label={t("Template")}>
        {(id) => <select id={id} value={form.template} onChange={set("template")}>
          <option value="full">{t("Full lab report")}</option><option value="athlete">{t("Athlete summary")}</option></select>}
      </Field>
      <Field label={t("Format")}>
        {(id) => <select id={id} value={form.format} onChange={set("format")}>
          <option value="pdf">PDF</option><option value="docx">DOCX (Word)</option></select>}
      </Field>
      <div class="wide">
        <Field label={t("Conclusion")}>
          {(id) => <textarea id={id} maxLength={4000} value={form.conclusion} onInput={set("conclusion")} />}
        </Field>
      </div>
      <ErrorLine error={error} />
      <div class="row wide"><button type="submit" class="primary" disabled={busy}>{t("Request report")}</button></div>
    </form>
  );
}

/** Athletes' names by id, read once per page load (the list reloads each second while a report is being made). */
const names = new Map<string, Promise<string>>();
function athleteName(id: string): Promise<string> {
  if (!names.has(id)) {
    names.set(id, api.get(`/api/v1/athletes/${id}/`).then((a) => [a.last_name, a.first_name].filter(Boolean).join(" "))
      .catch(() => { names.delete(id); return "—"; }));
  }
  return names.get(id)!;
}

function useAthleteNames(ids: string[]): Record<string, string> {
  const [known, setKnown] = useState<Record<string, string>>({});
  const key = [...new Set(ids)].sort().join(",");
  useEffect(() => {
    let live = true;
    const wanted = key ? key.split(",") : [];
    void Promise.all(wanted.map(async (id) => [id, await athleteName(id)] as const))
      .then((pairs) => { if (live) setKnown(Object.fromEntries(pairs)); });
    return () => { live = false; };
  }, [key]);
  return known;
}

/** A click on a link to `href` (an attachment: the browser saves it and the page stays). */
function save(href: string, name?: string): void {
  const link = document.createElement("a");
  link.href = href;
  if (name) link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
}

export function ReportList({ athlete, test }: { athlete?: string; test?: string }) {
  const bump = useSignal(requested);
  const list = useLoad(() => api.get("/api/v1/reports/", { athlete, test, page_size: 50 }),
    [athlete, test, bump]);
  const [error, setError] = useState<unknown>(null);
  const pending = (list.data?.results ?? []).some((r) => r.status === "queued" || r.status === "rendering");
  const showAthlete = !athlete && !test;
  const who = useAthleteNames(showAthlete ? (list.data?.results ?? []).flatMap((r) => (r.athlete ? [r.athlete] : [])) : []);

  useEffect(() => {
    if (!pending) return;
    // live: every notification (report ready/failed) and once a second while any report is being made
    const close = notificationStream(api, () => list.reload());
    const timer = setInterval(() => list.reload(), 1000);
    return () => { close(); clearInterval(timer); };
  }, [pending]);

  const download = async (r: Report) => {
    setError(null);
    try {
      // With presigned downloads (S3) the file is at a short-lived link of the object store. The page's CSP keeps
      // fetch on this origin (connect-src 'self'), so the console does not follow the 307: it asks for the link and
      // navigates to it; the store answers an attachment, so the page stays. Without a link, the bytes come here.
      const link = await api.get(`/api/v1/reports/${r.id}/link/`);
      if (link.url) {
        save(link.url);
        return;
      }
      const response = await api.send("GET", `/api/v1/reports/${r.id}/file/`, { headers: { Accept: "*/*" } });
      const blob = await response.blob();
      const disposition = response.headers.get("content-disposition") ?? "";
      const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] ?? `report-${r.id}.${r.format}`;
      const url = URL.createObjectURL(blob);
      save(url, name);
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      setError(err);
    }
  };

  return (
    <>
      <ErrorLine error={error || list.error} />
      <Loading when={list.loading && !list.data} />
      {list.data && (list.data.results.length === 0 ? <p class="muted">{t("No reports yet.")}</p> : (
        <table class="list" data-testid="reports">
          <caption class="sr-only">{t("Reports")}</caption>
          <thead><tr>{showAthlete && <th scope="col">{t("Athlete")}</th>}<th scope="col">{t("Requested")}</th><th scope="col">{t("Language")}</th><th scope="col">{t("Template")}</th>
            <th scope="col">{t("Format")}</th><th scope="col">{t("Status")}</th><th scope="col">{t("File")}</th></tr></thead>
          <tbody>
            {list.data.results.map((r) => (
              <tr key={r.id} data-status={r.status}>
                {showAthlete && <td>{r.athlete ? <a href={`#/athletes/${r.athlete}`}>{who[r.athlete] ?? "…"}</a> : "—"}</td>}
                <td>{formatDateTime(r.created_at)}{r.auto ? ` (${t("automatic")})` : ""}
                  {!test && <> · <a href={`#/tests/${r.test}`}>{t("test")}</a></>}</td>
                <td>{r.language.toUpperCase()}</td><td>{say("template", r.template)}</td><td>{r.format.toUpperCase()}</td>
                <td aria-live="polite">{r.status === "rendering" ? `${say("status", "rendering")} ${r.progress} %` : say("status", r.status)}
                  {r.status === "failed" && r.error && <span class="error"> — {sayProblem(r.error)}</span>}</td>
                <td>{r.status === "done" ? (
                  <button type="button" onClick={() => void download(r)}
                          aria-label={t("Download {format} report ({language})", { format: r.format.toUpperCase(), language: r.language.toUpperCase() })}>
                    {t("Download")}{r.pages ? ` · ${r.pages} ${t("pages")}` : ""}
                  </button>) : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ))}
    </>
  );
}
