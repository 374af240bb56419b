// Lab settings (owners and admins): members and invitations with their roles, the analysis defaults, the report
// branding with its logo, webhooks with their deliveries (each attempt, retry, ping) and API keys. Secrets (a
// webhook's, an API key's) are shown once, as the API gives them.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, type Body } from "../api";
import type { components } from "../api-schema";
import { formatDateTime, t } from "../i18n";
import { say } from "../values";
import { Confirm, ErrorLine, FileField, InputField, Loading, SelectField, useAction, useLoad } from "../ui";

type EventPattern = components["schemas"]["EventsEnum"];  // what a webhook's `events` may hold

const ROLES = ["owner", "admin", "physiologist", "athlete", "viewer"] as const;
type Role = (typeof ROLES)[number];
const TABS = ["Members", "Analysis defaults", "Report branding", "Webhooks", "API keys"] as const;
type Tab = (typeof TABS)[number];
const roleOptions = (roles: readonly Role[]) => roles.map((r) => [r, say("role", r)] as const);

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

/** A settings document edited in place: loaded, its fields, saved back (PUT). */
function SettingsForm<T extends Record<string, any>>(props: {
  load: () => Promise<T>; save: (s: T) => Promise<T>; title: string; id: string;
  children: (s: T, set: (patch: Partial<T>) => void) => ComponentChildren;
}) {
  const current = useLoad(props.load, []);
  const action = useAction();
  const [saved, setSaved] = useState("");
  const s = current.data;
  if (!s) return <><ErrorLine error={current.error} /><Loading when={current.loading} /></>;
  const save = (e: Event) => {
    e.preventDefault();
    setSaved("");
    void action.run(() => props.save(s),
      (next) => { current.set(next); setSaved("Saved."); });
  };
  return (
    <form class="card grid" onSubmit={save} aria-labelledby={props.id}>
      <h2 id={props.id}>{props.title}</h2>
      {props.children(s, (patch) => current.set({ ...s, ...patch }))}
      <ErrorLine error={action.error} />
      <div class="row wide"><button type="submit" class="primary">{t("Save")}</button>
        <span class="ok" aria-live="polite">{saved && t("Saved.")}</span></div>
    </form>
  );
}

/** A list with a form that creates an item, and the item's secret shown once when the API answers one. */
function SecretOnce({ label, secret }: { label: string; secret: string }) {
  return secret ? <p>{label} <span class="secret">{secret}</span></p> : null;
}

function Members() {
  const members = useLoad(() => api.get("/api/v1/tenants/current/members/", { page_size: 200 }), []);
  const invitations = useLoad(() => api.get("/api/v1/tenants/current/invitations/", { page_size: 200 }), []);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("physiologist");
  const [done, setDone] = useState("");
  const [removing, setRemoving] = useState<any>(null);
  const action = useAction();
  const invite = (e: Event) => {
    e.preventDefault();
    void action.run(() => api.post("/api/v1/tenants/current/members/", { email, role }), () => {
      setDone(t("Invitation sent to {email}.", { email }));
      setEmail("");
      invitations.reload();
    });
  };
  return (
    <>
      <h2>{t("Members")}</h2>
      <ErrorLine error={action.error || members.error} />
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
                          onChange={(e) => void action.run(() => api.patch(`/api/v1/tenants/current/members/${m.id}/`,
                            { role: (e.target as HTMLSelectElement).value as Role }), members.reload)}>
                    {roleOptions(ROLES).map(([r, text]) => <option key={r} value={r}>{text}</option>)}
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
        <InputField label={t("E-mail")} type="email" required value={email} onInput={setEmail} />
        <SelectField label={t("Role")} value={role} options={roleOptions(ROLES)} onChange={(v) => setRole(v as Role)} />
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
              <tr key={i.id}><td>{i.email}</td><td>{say("role", i.role)}</td><td>{say("status", i.status)}</td>
                <td>{formatDateTime(i.expires_at)}</td>
                <td>{i.status === "pending" && (
                  <button type="button" class="danger" aria-label={t("Revoke the invitation of {email}", { email: i.email })}
                          onClick={() => void action.run(() => api.del(`/api/v1/tenants/current/invitations/${i.id}/`),
                            invitations.reload)}>
                    {t("Revoke")}</button>)}</td></tr>
            ))}
          </tbody>
        </table>
      ))}
      <Confirm open={!!removing} title={t("Remove the member?")}
               text={t("{email} will no longer reach this organisation.", { email: removing?.email ?? "" })}
               confirm={t("Remove")} onCancel={() => setRemoving(null)}
               onConfirm={() => { const m = removing; setRemoving(null);
                 void action.run(() => api.del(`/api/v1/tenants/current/members/${m.id}/`), members.reload); }} />
    </>
  );
}

type Defaults = Body<"/api/v1/tests/settings/", "put">;
type Averaging = NonNullable<Defaults["averaging"]>;

function AnalysisDefaults() {
  return (
    <SettingsForm load={() => api.get("/api/v1/tests/settings/")}
                  save={(s) => api.put("/api/v1/tests/settings/", { ...s, averaging: s.averaging as Averaging,
                                                                   outliers: s.outliers as Defaults["outliers"] })}
                  title={t("Analysis defaults")} id="defaults-title">
      {(s, set) => {
        const given = (s.averaging ?? {}) as Averaging;  // {}: the default, a 30-s time average
        const averaging: Averaging = given.method ? given : { method: "time", seconds: 30 };
        const method = (value: string) => set({ averaging: { method: value as Averaging["method"],
          ...(value === "time" ? { seconds: averaging.seconds ?? 30 } : {}),
          ...(value === "breath" ? { breaths: averaging.breaths ?? 7 } : {}) } });
        return (
          <>
            <SelectField label={t("Averaging")} value={averaging.method ?? "time"} onChange={method}
                         options={[["time", t("time average")], ["breath", t("breath average")], ["bin", t("time bins")],
                                   ["butterworth", t("Butterworth filter")]]} />
            {averaging.method === "time" && (
              <InputField label={t("Averaging window, s")} type="number" min={5} max={120} value={averaging.seconds ?? 30}
                          onInput={(v) => set({ averaging: { ...averaging, seconds: Number(v) } })} />
            )}
            <SelectField label={t("Zone model")} value={s.zone_model} onChange={(v) => set({ zone_model: v as typeof s.zone_model })}
                         options={[["three_zone", t("Three-zone model")], ["five_zone", t("Five-zone model")]]} />
            <InputField label={t("Meaningful change, %")} type="number" step="0.5" min={0}
                        value={s.meaningful_change_pct ?? ""}
                        onInput={(v) => set({ meaningful_change_pct: Number(v) })} />
          </>
        );
      }}
    </SettingsForm>
  );
}

function Branding() {
  const [version, setVersion] = useState(0); // a new logo: the form reloads with its `logo` link
  return (
    <>
      <SettingsForm key={version} load={() => api.get("/api/v1/reports/settings")}
                    save={({ logo: _logo, ...body }) => api.put("/api/v1/reports/settings", body)}
                    title={t("Report branding")} id="branding-title">
        {(s, set) => (
          <>
            <InputField label={t("Lab name on reports")} value={s.lab_name ?? ""} onInput={(v) => set({ lab_name: v })} />
            <InputField label={t("Address")} value={s.lab_address ?? ""} onInput={(v) => set({ lab_address: v })} />
            <InputField label={t("Contact")} value={s.lab_contact ?? ""} onInput={(v) => set({ lab_contact: v })} />
            <InputField label={t("Accent colour")} type="color" value={s.accent_color || "#1f4e9c"}
                        onInput={(v) => set({ accent_color: v })} />
            <SelectField label={t("Default report language")} value={s.language} onChange={(v) => set({ language: v as typeof s.language })}
                         options={[["ru", "Русский"], ["en", "English"]]} />
            <SelectField label={t("Default template")} value={s.template} onChange={(v) => set({ template: v as typeof s.template })}
                         options={[["full", t("Full lab report")], ["athlete", t("Athlete summary")]]} />
            <div class="field"><label>
              <input type="checkbox" checked={!!s.auto_report}
                     onChange={(e) => set({ auto_report: (e.target as HTMLInputElement).checked })} />
              {" "}{t("Make a report automatically after each analysis")}</label></div>
            <p class="muted wide" data-testid="logo-state">{s.logo ? t("A logo is set.") : t("No logo yet.")}</p>
          </>
        )}
      </SettingsForm>
      <Logo version={version} onChanged={() => setVersion((v) => v + 1)} />
    </>
  );
}

/** The logo on every report page: shown as stored (read with the token, shown from a blob: URL), replaced, removed. */
function Logo({ version, onChanged }: { version: number; onChanged: () => void }) {
  const [src, setSrc] = useState<string | null>(null);
  const [file, setFile] = useState<File | null>(null);
  const [done, setDone] = useState("");
  const action = useAction();
  useEffect(() => {
    let url: string | null = null;
    let live = true;
    api.send("GET", "/api/v1/reports/settings/logo", { headers: { Accept: "*/*" } })
      .then((r) => r.blob())
      .then((blob) => { if (live) { url = URL.createObjectURL(blob); setSrc(url); } })
      .catch(() => { if (live) setSrc(null); }); // 404: no logo
    return () => { live = false; if (url) URL.revokeObjectURL(url); };
  }, [version]);
  const upload = (e: Event) => {
    e.preventDefault();
    if (!file) return;
    const form = new FormData();
    form.set("logo", file);
    void action.run(() => api.request("PUT", "/api/v1/reports/settings/logo", { form }),
      () => { setDone("saved"); setFile(null); onChanged(); });
  };
  const remove = () => void action.run(() => api.del("/api/v1/reports/settings/logo"),
    () => { setDone("removed"); onChanged(); });
  return (
    <form class="card" onSubmit={upload} aria-labelledby="logo-title">
      <h2 id="logo-title">{t("Logo on reports")}</h2>
      {src ? <img class="logo-preview" src={src} alt={t("The lab's logo as reports show it")} data-testid="logo" />
        : <p class="muted">{t("No logo yet.")}</p>}
      <FileField label={t("PNG or SVG, up to 512 KiB")} accept="image/png,image/svg+xml" onFile={setFile} />
      <ErrorLine error={action.error} />
      <div class="row">
        <button type="submit" class="primary" disabled={!file}>{t("Upload logo")}</button>
        {src && <button type="button" class="danger" onClick={remove}>{t("Remove logo")}</button>}
        <span class="ok" aria-live="polite">{done === "saved" ? t("Logo saved.") : done === "removed" ? t("Logo removed.") : ""}</span>
      </div>
    </form>
  );
}

function Webhooks() {
  const list = useLoad(() => api.get("/api/v1/webhooks/", { page_size: 100 }), []);
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState("reports.report.ready, measurements.test.analyzed");
  const [secret, setSecret] = useState("");
  const [open, setOpen] = useState<string | null>(null);
  const [pinged, setPinged] = useState(0);
  const action = useAction();
  const create = (e: Event) => {
    e.preventDefault();
    void action.run(() => api.post("/api/v1/webhooks/",
      // the server names an unknown pattern in its 400 (the document lists the patterns: EventsEnum)
      { url, events: events.split(",").map((s) => s.trim()).filter(Boolean) as EventPattern[] }, true),
    (made) => { setSecret(made.secret ?? ""); setUrl(""); list.reload(); });
  };
  const ping = (w: any) => void action.run(() => api.post(`/api/v1/webhooks/${w.id}/ping/`, undefined, true),
    () => { setOpen(w.id); setPinged((n) => n + 1); });
  return (
    <>
      <h2>{t("Webhooks")}</h2>
      <ErrorLine error={action.error || list.error} />
      {list.data && (list.data.results.length === 0 ? <p class="muted">{t("No webhooks.")}</p> : (
        <table class="list" data-testid="webhooks">
          <thead><tr><th scope="col">URL</th><th scope="col">{t("Events")}</th><th scope="col">{t("Enabled")}</th>
            <th scope="col"><span class="sr-only">{t("Actions")}</span></th></tr></thead>
          <tbody>{list.data.results.map((w: any) => (
            <tr key={w.id}><td>{w.url}</td><td>{w.events.join(", ")}</td>
              <td>{w.enabled ? t("yes") : `${t("no")} ${w.disabled_reason ?? ""}`}</td>
              <td class="actions">
                <button type="button" aria-expanded={open === w.id} aria-label={t("Deliveries to {url}", { url: w.url })}
                        onClick={() => setOpen(open === w.id ? null : w.id)}>{t("Deliveries")}</button>
                <button type="button" aria-label={t("Send a ping to {url}", { url: w.url })} onClick={() => ping(w)}>
                  {t("Ping")}</button>
                <button type="button" class="danger" aria-label={t("Delete the webhook {url}", { url: w.url })}
                        onClick={() => void action.run(() => api.del(`/api/v1/webhooks/${w.id}/`), list.reload)}>
                  {t("Delete")}</button></td></tr>))}</tbody>
        </table>
      ))}
      {open && <Deliveries key={open} endpoint={list.data?.results.find((w: any) => w.id === open)} bump={pinged} />}
      <SecretOnce label={t("Signing secret (shown once):")} secret={secret} />
      <form class="card grid" onSubmit={create} aria-labelledby="webhook-title">
        <h2 id="webhook-title">{t("Add a webhook")}</h2>
        <InputField label="URL" type="url" required value={url} placeholder="https://" onInput={setUrl} />
        <InputField label={t("Events (comma-separated; patterns like reports.*)")} required value={events}
                    onInput={setEvents} />
        <div class="row wide"><button type="submit" class="primary">{t("Add")}</button></div>
      </form>
    </>
  );
}

/** An endpoint's deliveries, newest first, each with every attempt; a delivery can be sent again. Reloaded every
 * 2 s while one is still on its way, so a ping or a retry shows its attempts as they happen. */
function Deliveries({ endpoint, bump }: { endpoint: any; bump: number }) {
  const list = useLoad(() => api.get(`/api/v1/webhooks/${endpoint.id}/deliveries/`), [endpoint.id, bump]);
  const action = useAction();
  const rows: any[] = list.data?.results ?? [];
  const moving = rows.some((d) => d.status !== "done" && d.status !== "failed");
  useEffect(() => {
    if (!moving) return;
    const timer = setInterval(list.reload, 2000);
    return () => clearInterval(timer);
  }, [moving]);
  const retry = (d: any) => void action.run(
    () => api.post(`/api/v1/webhooks/${endpoint.id}/deliveries/${d.id}/retry/`, undefined, true), list.reload);
  return (
    <section class="card" aria-labelledby="deliveries-title" data-testid="deliveries">
      <h2 id="deliveries-title">{t("Deliveries to {url}", { url: endpoint.url })}</h2>
      <ErrorLine error={action.error || list.error} />
      <Loading when={list.loading && !list.data} />
      {list.data && (rows.length === 0 ? <p class="muted">{t("No deliveries yet.")}</p> : (
        <table class="list">
          <thead><tr><th scope="col">{t("Event")}</th><th scope="col">{t("Status")}</th><th scope="col">{t("Attempts")}</th>
            <th scope="col">{t("Created")}</th><th scope="col">{t("Next attempt")}</th>
            <th scope="col"><span class="sr-only">{t("Actions")}</span></th></tr></thead>
          <tbody>{rows.map((d) => (
            <tr key={d.id} data-status={d.status}>
              <td>{d.event_type}</td>
              <td>{say("status", d.status)}{d.problem ? <span class="error"> — {d.problem}</span> : ""}</td>
              <td>
                <ol class="attempts">{(d.attempt_log ?? []).map((a: any, i: number) => (
                  <li key={i}>{formatDateTime(a.at)}: {a.status_code ? `HTTP ${a.status_code}` : t("no answer")}
                    {a.latency_ms != null ? ` · ${a.latency_ms} ${t("ms")}` : ""}{a.error ? ` · ${a.error}` : ""}</li>))}</ol>
              </td>
              <td>{formatDateTime(d.created_at)}</td><td>{formatDateTime(d.next_attempt_at)}</td>
              <td><button type="button" aria-label={t("Send the {event} delivery again", { event: d.event_type })}
                          onClick={() => retry(d)}>{t("Retry")}</button></td>
            </tr>))}</tbody>
        </table>
      ))}
    </section>
  );
}

function ApiKeys() {
  const list = useLoad(() => api.get("/api/v1/tenants/current/api-keys/", { page_size: 100 }), []);
  const [name, setName] = useState("");
  const [role, setRole] = useState<"viewer" | "physiologist" | "admin">("viewer");
  const [secret, setSecret] = useState("");
  const action = useAction();
  const create = (e: Event) => {
    e.preventDefault();
    void action.run(() => api.post("/api/v1/tenants/current/api-keys/", { name, role }),
      (made) => { setSecret(made.secret ?? ""); setName(""); list.reload(); });
  };
  return (
    <>
      <h2>{t("API keys")}</h2>
      <ErrorLine error={action.error || list.error} />
      {list.data && (list.data.results.length === 0 ? <p class="muted">{t("No API keys.")}</p> : (
        <table class="list">
          <thead><tr><th scope="col">{t("Name")}</th><th scope="col">{t("Role")}</th><th scope="col">{t("Prefix")}</th>
            <th scope="col">{t("Last used")}</th><th scope="col">{t("Status")}</th><th scope="col"><span class="sr-only">{t("Actions")}</span></th></tr></thead>
          <tbody>{list.data.results.map((k: any) => (
            <tr key={k.id}><td>{k.name}</td><td>{say("role", k.role)}</td><td><code>{k.prefix}</code></td>
              <td>{formatDateTime(k.last_used_at)}</td><td>{say("status", k.revoked_at ? "revoked" : "active")}</td>
              <td>{!k.revoked_at && <button type="button" class="danger" aria-label={t("Revoke the key {name}", { name: k.name })}
                                            onClick={() => void action.run(() => api.del(`/api/v1/tenants/current/api-keys/${k.id}/`), list.reload)}>
                {t("Revoke")}</button>}</td></tr>))}</tbody>
        </table>
      ))}
      <SecretOnce label={t("The key (shown once):")} secret={secret} />
      <form class="card grid" onSubmit={create} aria-labelledby="key-title">
        <h2 id="key-title">{t("Create an API key")}</h2>
        <InputField label={t("Name")} required value={name} onInput={setName} />
        <SelectField label={t("Role")} value={role} onChange={(v) => setRole(v as typeof role)}
                     options={roleOptions(["viewer", "physiologist", "admin"])} />
        <div class="row wide"><button type="submit" class="primary">{t("Create")}</button></div>
      </form>
    </>
  );
}
