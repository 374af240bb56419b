// Reports: request one (language, template, format, conclusion), its status live (the notification stream says
// when it is ready or failed; its progress is read between events), download it; the history of reports.
import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { formatDateTime, t } from "../i18n";
import { notificationStream } from "../sse";
import { signal, useSignal } from "../state";
import { ErrorLine, Field, Loading, useLoad } from "../ui";

export interface Report {
  id: string;
  test: string;
  athlete: string;
  language: string;
  template: string;
  format: string;
  status: "queued" | "rendering" | "done" | "failed";
  progress: number;
  error: any;
  pages: number | null;
  size_bytes: number | null;
  created_at: string;
  finished_at: string | null;
  auto: boolean;
}

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
  const [form, setForm] = useState({ language: "ru", template: "full", format: "pdf", conclusion: "" });
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

export function ReportList({ athlete, test }: { athlete?: string; test?: string }) {
  const bump = useSignal(requested);
  const list = useLoad(() => api.get<{ results: Report[] }>("/api/v1/reports/", { athlete, test, page_size: 50 }),
    [athlete, test, bump]);
  const [error, setError] = useState<unknown>(null);
  const pending = (list.data?.results ?? []).some((r) => r.status === "queued" || r.status === "rendering");

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
      const response = await api.send("GET", `/api/v1/reports/${r.id}/file/`, { headers: { Accept: "*/*" } });
      const blob = await response.blob();
      const disposition = response.headers.get("content-disposition") ?? "";
      const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] ?? `report-${r.id}.${r.format}`;
      const url = URL.createObjectURL(blob);
      const link = document.createElement("a");
      link.href = url;
      link.download = name;
      document.body.appendChild(link);
      link.click();
      link.remove();
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
          <thead><tr><th scope="col">{t("Requested")}</th><th scope="col">{t("Language")}</th><th scope="col">{t("Template")}</th>
            <th scope="col">{t("Format")}</th><th scope="col">{t("Status")}</th><th scope="col">{t("File")}</th></tr></thead>
          <tbody>
            {list.data.results.map((r) => (
              <tr key={r.id} data-status={r.status}>
                <td>{formatDateTime(r.created_at)}{r.auto ? ` (${t("automatic")})` : ""}
                  {!test && <> · <a href={`#/tests/${r.test}`}>{t("test")}</a></>}</td>
                <td>{r.language.toUpperCase()}</td><td>{t(r.template)}</td><td>{r.format.toUpperCase()}</td>
                <td aria-live="polite">{r.status === "rendering" ? `${t("rendering")} ${r.progress} %` : t(r.status)}
                  {r.status === "failed" && r.error && <span class="error"> — {r.error.detail ?? r.error.title}</span>}</td>
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
