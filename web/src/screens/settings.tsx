// Lab settings (owners and admins): members and invitations with their roles, the analysis defaults, the report
// branding, webhooks and API keys. Secrets (a webhook's, an API key's) are shown once, as the API gives them.
import { useState } from "preact/hooks";
import { api } from "../api";
import { formatDateTime, t } from "../i18n";
import { Confirm, ErrorLine, Field, Loading, useLoad } from "../ui";

const ROLES = ["owner", "admin", "physiologist", "athlete", "viewer"];
const TABS = ["Members", "Analysis defaults", "Report branding", "Webhooks", "API keys"] as const;
type Tab = (typeof TABS)[number];

export function SettingsScreen() {
  const [tab, setTab] = useState<Tab>("Members");
  return (
    <section aria-labelledby="settings-title">
      <h1 id="settings-title">{t("Lab settings")}</h1>
      <div class="tabs" role="group" aria-label={t("Settings sections")}>
        {TABS.map((name) => (
          <button key={name} type="button" aria-pressed={tab === name} onClick={() => setTab(name)}>{t(name)}</button>
        ))}
      </div>
      {tab === "Members" && <Members />}
      {tab === "Analysis defaults" && <AnalysisDefaults />}
      {tab === "Report branding" && <Branding />}
      {tab === "Webhooks" && <Webhooks />}
      {tab === "API keys" && <ApiKeys />}
    </section>
  );
}

function Members() {
  const members = useLoad(() => api.get<any>("/api/v1/tenants/current/members/", { page_size: 200 }), []);
  const invitations = useLoad(() => api.get<any>("/api/v1/tenants/current/invitations/", { page_size: 200 }), []);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState("physiologist");
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState("");
  const [removing, setRemoving] = useState<any>(null);
  const act = async (fn: () => Promise<unknown>, after: () => void) => {
    setError(null);
    try { await fn(); after(); } catch (e) { setError(e); }
  };
  const invite = (e: Event) => {
    e.preventDefault();
    void act(() => api.post("/api/v1/tenants/current/members/", { email, role }), () => {
      setDone(t("Invitation sent to {email}.", { email }));
      setEmail("");
      invitations.reload();
    });
  };
  return (
    <>
      <h2>{t("Members")}</h2>
      <ErrorLine error={error || members.error} />
      <Loading when={members.loading && !members.data} />
      {members.data && (
        <table class="list">
          <thead><tr><th scope="col">{t("E-mail")}</th><th scope="col">{t("Name")}</th><th scope="col">{t("Role")}</th>
            <th scope="col">{t("Active")}</th><th scope="col"><span class="sr-only">{t("Actions")}</span></th></tr></thead>
          <tbody>
            {members.data.results.map((m: any) => (
              <tr key={m.id}>
                <td>{m.email}</td><td>{m.full_name || "—"}</td>
                <td>
                  <select aria-label={t("Role of {email}", { email: m.email })} value={m.role}
                          onChange={(e) => void act(() => api.patch(`/api/v1/tenants/current/members/${m.id}/`,
                            { role: (e.target as HTMLSelectElement).value }), members.reload)}>
                    {ROLES.map((r) => <option key={r} value={r}>{t(r)}</option>)}
                  </select>
                </td>
                <td>{m.is_active ? t("yes") : t("no")}</td>
                <td><button type="button" class="danger" onClick={() => setRemoving(m)}
                            aria-label={t("Remove {email}", { email: m.email })}>{t("Remove")}</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form class="card grid" onSubmit={invite} aria-labelledby="invite-title">
        <h2 id="invite-title">{t("Invite a member")}</h2>
        <Field label={t("E-mail")}>{(id) => <input id={id} type="email" required value={email}
                                                   onInput={(e) => setEmail((e.target as HTMLInputElement).value)} />}</Field>
        <Field label={t("Role")}>
          {(id) => <select id={id} value={role} onChange={(e) => setRole((e.target as HTMLSelectElement).value)}>
            {ROLES.map((r) => <option key={r} value={r}>{t(r)}</option>)}</select>}
        </Field>
        <div class="row wide"><button type="submit" class="primary">{t("Invite")}</button>
          <span class="ok" aria-live="polite">{done}</span></div>
      </form>
      <h2>{t("Invitations")}</h2>
      {invitations.data && (invitations.data.results.length === 0 ? <p class="muted">{t("No invitations.")}</p> : (
        <table class="list">
          <thead><tr><th scope="col">{t("E-mail")}</th><th scope="col">{t("Role")}</th><th scope="col">{t("Status")}</th>
            <th scope="col">{t("Expires")}</th><th scope="col"><span class="sr-only">{t("Actions")}</span></th></tr></thead>
          <tbody>
            {invitations.data.results.map((i: any) => (
              <tr key={i.id}><td>{i.email}</td><td>{t(i.role)}</td><td>{t(i.status)}</td><td>{formatDateTime(i.expires_at)}</td>
                <td>{i.status === "pending" && (
                  <button type="button" class="danger" aria-label={t("Revoke the invitation of {email}", { email: i.email })}
                          onClick={() => void act(() => api.del(`/api/v1/tenants/current/invitations/${i.id}/`), invitations.reload)}>
                    {t("Revoke")}</button>)}</td></tr>
            ))}
          </tbody>
        </table>
      ))}
      <Confirm open={!!removing} title={t("Remove the member?")}
               text={t("{email} will no longer reach this organisation.", { email: removing?.email ?? "" })}
               confirm={t("Remove")} onCancel={() => setRemoving(null)}
               onConfirm={() => { const m = removing; setRemoving(null);
                 void act(() => api.del(`/api/v1/tenants/current/members/${m.id}/`), members.reload); }} />
    </>
  );
}

function AnalysisDefaults() {
  const current = useLoad(() => api.get<any>("/api/v1/tests/settings/"), []);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState("");
  const s = current.data;
  if (!s) return <><ErrorLine error={current.error} /><Loading when={current.loading} /></>;
  const averaging = s.averaging ?? { method: "time", seconds: 30 };
  const update = (patch: Record<string, unknown>) => current.set({ ...s, ...patch });
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      current.set(await api.put("/api/v1/tests/settings/", s));
      setSaved(t("Saved."));
    } catch (err) { setError(err); }
  };
  return (
    <form class="card grid" onSubmit={save} aria-labelledby="defaults-title">
      <h2 id="defaults-title">{t("Analysis defaults")}</h2>
      <Field label={t("Averaging")}>
        {(id) => <select id={id} value={averaging.method}
                         onChange={(e) => update({ averaging: { method: (e.target as HTMLSelectElement).value,
                           ...((e.target as HTMLSelectElement).value === "time" ? { seconds: averaging.seconds ?? 30 } : {}),
                           ...((e.target as HTMLSelectElement).value === "breath" ? { breaths: averaging.breaths ?? 7 } : {}) } })}>
          <option value="time">{t("time average")}</option><option value="breath">{t("breath average")}</option>
          <option value="bin">{t("time bins")}</option><option value="butterworth">{t("Butterworth filter")}</option></select>}
      </Field>
      {averaging.method === "time" && (
        <Field label={t("Averaging window, s")}>
          {(id) => <input id={id} type="number" min={5} max={120} value={averaging.seconds ?? 30}
                          onInput={(e) => update({ averaging: { ...averaging, seconds: Number((e.target as HTMLInputElement).value) } })} />}
        </Field>
      )}
      <Field label={t("Zone model")}>
        {(id) => <select id={id} value={s.zone_model} onChange={(e) => update({ zone_model: (e.target as HTMLSelectElement).value })}>
          <option value="three_zone">{t("Three-zone model")}</option><option value="five_zone">{t("Five-zone model")}</option></select>}
      </Field>
      <Field label={t("Meaningful change, %")}>
        {(id) => <input id={id} type="number" step="0.5" min={0} value={s.meaningful_change_pct ?? ""}
                        onInput={(e) => update({ meaningful_change_pct: Number((e.target as HTMLInputElement).value) })} />}
      </Field>
      <ErrorLine error={error} />
      <div class="row wide"><button type="submit" class="primary">{t("Save")}</button><span class="ok" aria-live="polite">{saved}</span></div>
    </form>
  );
}

function Branding() {
  const current = useLoad(() => api.get<any>("/api/v1/reports/settings"), []);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState("");
  const s = current.data;
  if (!s) return <><ErrorLine error={current.error} /><Loading when={current.loading} /></>;
  const text = (key: string, label: string) => (
    <Field label={label}>{(id) => <input id={id} value={s[key] ?? ""}
                                          onInput={(e) => current.set({ ...s, [key]: (e.target as HTMLInputElement).value })} />}</Field>
  );
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const { logo: _logo, ...body } = s;
    try {
      current.set(await api.put("/api/v1/reports/settings", body));
      setSaved(t("Saved."));
    } catch (err) { setError(err); }
  };
  return (
    <form class="card grid" onSubmit={save} aria-labelledby="branding-title">
      <h2 id="branding-title">{t("Report branding")}</h2>
      {text("lab_name", t("Lab name on reports"))}
      {text("lab_address", t("Address"))}
      {text("lab_contact", t("Contact"))}
      <Field label={t("Accent colour")}>
        {(id) => <input id={id} type="color" value={s.accent_color || "#1f4e9c"}
                        onInput={(e) => current.set({ ...s, accent_color: (e.target as HTMLInputElement).value })} />}
      </Field>
      <Field label={t("Default report language")}>
        {(id) => <select id={id} value={s.language} onChange={(e) => current.set({ ...s, language: (e.target as HTMLSelectElement).value })}>
          <option value="ru">Русский</option><option value="en">English</option></select>}
      </Field>
      <Field label={t("Default template")}>
        {(id) => <select id={id} value={s.template} onChange={(e) => current.set({ ...s, template: (e.target as HTMLSelectElement).value })}>
          <option value="full">{t("Full lab report")}</option><option value="athlete">{t("Athlete summary")}</option></select>}
      </Field>
      <div class="field"><label>
        <input type="checkbox" checked={!!s.auto_report}
               onChange={(e) => current.set({ ...s, auto_report: (e.target as HTMLInputElement).checked })} />
        {" "}{t("Make a report automatically after each analysis")}</label></div>
      <p class="muted wide">{s.logo ? t("A logo is set.") : t("No logo: upload one with PUT /api/v1/reports/settings/logo.")}</p>
      <ErrorLine error={error} />
      <div class="row wide"><button type="submit" class="primary">{t("Save")}</button><span class="ok" aria-live="polite">{saved}</span></div>
    </form>
  );
}

function Webhooks() {
  const list = useLoad(() => api.get<any>("/api/v1/webhooks/", { page_size: 100 }), []);
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState("reports.report.ready, measurements.test.analyzed");
  const [secret, setSecret] = useState("");
  const [error, setError] = useState<unknown>(null);
  const create = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const made = await api.post<any>("/api/v1/webhooks/",
        { url, events: events.split(",").map((s) => s.trim()).filter(Boolean) }, true);
      setSecret(made.secret ?? "");
      setUrl("");
      list.reload();
    } catch (err) { setError(err); }
  };
  return (
    <>
      <h2>{t("Webhooks")}</h2>
      <ErrorLine error={error || list.error} />
      {list.data && (list.data.results.length === 0 ? <p class="muted">{t("No webhooks.")}</p> : (
        <table class="list">
          <thead><tr><th scope="col">URL</th><th scope="col">{t("Events")}</th><th scope="col">{t("Enabled")}</th>
            <th scope="col"><span class="sr-only">{t("Actions")}</span></th></tr></thead>
          <tbody>{list.data.results.map((w: any) => (
            <tr key={w.id}><td>{w.url}</td><td>{w.events.join(", ")}</td>
              <td>{w.enabled ? t("yes") : `${t("no")} ${w.disabled_reason ?? ""}`}</td>
              <td><button type="button" class="danger" aria-label={t("Delete the webhook {url}", { url: w.url })}
                          onClick={async () => { try { await api.del(`/api/v1/webhooks/${w.id}/`); list.reload(); } catch (err) { setError(err); } }}>
                {t("Delete")}</button></td></tr>))}</tbody>
        </table>
      ))}
      {secret && <p>{t("Signing secret (shown once):")} <span class="secret">{secret}</span></p>}
      <form class="card grid" onSubmit={create} aria-labelledby="webhook-title">
        <h2 id="webhook-title">{t("Add a webhook")}</h2>
        <Field label="URL">{(id) => <input id={id} type="url" required value={url} placeholder="https://"
                                            onInput={(e) => setUrl((e.target as HTMLInputElement).value)} />}</Field>
        <Field label={t("Events (comma-separated; patterns like reports.*)")}>
          {(id) => <input id={id} required value={events} onInput={(e) => setEvents((e.target as HTMLInputElement).value)} />}
        </Field>
        <div class="row wide"><button type="submit" class="primary">{t("Add")}</button></div>
      </form>
    </>
  );
}

function ApiKeys() {
  const list = useLoad(() => api.get<any>("/api/v1/tenants/current/api-keys/", { page_size: 100 }), []);
  const [name, setName] = useState("");
  const [role, setRole] = useState("viewer");
  const [secret, setSecret] = useState("");
  const [error, setError] = useState<unknown>(null);
  const create = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const made = await api.post<any>("/api/v1/tenants/current/api-keys/", { name, role });
      setSecret(made.secret ?? "");
      setName("");
      list.reload();
    } catch (err) { setError(err); }
  };
  return (
    <>
      <h2>{t("API keys")}</h2>
      <ErrorLine error={error || list.error} />
      {list.data && (list.data.results.length === 0 ? <p class="muted">{t("No API keys.")}</p> : (
        <table class="list">
          <thead><tr><th scope="col">{t("Name")}</th><th scope="col">{t("Role")}</th><th scope="col">{t("Prefix")}</th>
            <th scope="col">{t("Last used")}</th><th scope="col">{t("Status")}</th><th scope="col"><span class="sr-only">{t("Actions")}</span></th></tr></thead>
          <tbody>{list.data.results.map((k: any) => (
            <tr key={k.id}><td>{k.name}</td><td>{t(k.role)}</td><td><code>{k.prefix}</code></td>
              <td>{formatDateTime(k.last_used_at)}</td><td>{k.revoked_at ? t("revoked") : t("active")}</td>
              <td>{!k.revoked_at && <button type="button" class="danger" aria-label={t("Revoke the key {name}", { name: k.name })}
                                            onClick={async () => { try { await api.del(`/api/v1/tenants/current/api-keys/${k.id}/`); list.reload(); } catch (err) { setError(err); } }}>
                {t("Revoke")}</button>}</td></tr>))}</tbody>
        </table>
      ))}
      {secret && <p>{t("The key (shown once):")} <span class="secret">{secret}</span></p>}
      <form class="card grid" onSubmit={create} aria-labelledby="key-title">
        <h2 id="key-title">{t("Create an API key")}</h2>
        <Field label={t("Name")}>{(id) => <input id={id} required value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />}</Field>
        <Field label={t("Role")}>
          {(id) => <select id={id} value={role} onChange={(e) => setRole((e.target as HTMLSelectElement).value)}>
            <option value="viewer">{t("viewer")}</option><option value="physiologist">{t("physiologist")}</option>
            <option value="admin">{t("admin")}</option></select>}
        </Field>
        <div class="row wide"><button type="submit" class="primary">{t("Create")}</button></div>
      </form>
    </>
  );
}
