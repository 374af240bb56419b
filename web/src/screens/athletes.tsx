// Athletes: search, create, edit, delete (with confirmation). An athlete user sees only their own record here.
import { useState } from "preact/hooks";
import { api, type Schemas } from "../api";
import { formatDate, t } from "../i18n";
import { say } from "../values";
import { canWrite, go, isAthlete, me } from "../session";
import { useSignal } from "../state";
import { Confirm, ErrorLine, Field, Loading, useLoad } from "../ui";

export type Athlete = Schemas["Athlete"];

export function AthletesScreen() {
  const who = useSignal(me);
  const [search, setSearch] = useState("");
  const [editing, setEditing] = useState<Athlete | "new" | null>(null);
  const [deleting, setDeleting] = useState<Athlete | null>(null);
  const [error, setError] = useState<unknown>(null);
  const list = useLoad(() => api.get("/api/v1/athletes/", { search, page_size: 100 }),
    [search]);
  const writer = canWrite(who);

  const remove = async () => {
    if (!deleting) return;
    try {
      await api.del(`/api/v1/athletes/${deleting.id}/`);
      setDeleting(null);
      list.reload();
    } catch (e) {
      setError(e);
      setDeleting(null);
    }
  };

  return (
    <section aria-labelledby="athletes-title">
      <div class="head">
        <h1 id="athletes-title">{isAthlete(who) ? t("My tests") : t("Athletes")}</h1>
        {writer && <button type="button" class="primary" onClick={() => setEditing("new")}>{t("New athlete")}</button>}
      </div>
      {!isAthlete(who) && (
        <form class="search" role="search" onSubmit={(e) => e.preventDefault()}>
          <Field label={t("Search athletes")}>
            {(id) => <input id={id} type="search" value={search} placeholder={t("Name or sport")}
                            onInput={(e) => setSearch((e.target as HTMLInputElement).value)} />}
          </Field>
        </form>
      )}
      {editing && <AthleteForm athlete={editing === "new" ? null : editing}
                               onDone={(saved) => { setEditing(null); list.reload(); if (saved && editing === "new") go(`/athletes/${saved.id}`); }} />}
      <ErrorLine error={error || list.error} />
      <Loading when={list.loading && !list.data} />
      {list.data && (list.data.results.length === 0 ? <p class="muted">{t("No athletes yet.")}</p> : (
        <table class="list">
          <caption class="sr-only">{t("Athletes")}</caption>
          <thead>
            <tr><th scope="col">{t("Name")}</th><th scope="col">{t("Sex")}</th><th scope="col">{t("Born")}</th>
              <th scope="col">{t("Sport")}</th><th scope="col">{t("Body mass, kg")}</th>
              {writer && <th scope="col"><span class="sr-only">{t("Actions")}</span></th>}</tr>
          </thead>
          <tbody>
            {list.data.results.map((a) => (
              <tr key={a.id}>
                <td><a href={`#/athletes/${a.id}`}>{a.last_name} {a.first_name}</a></td>
                <td>{say("sex", a.sex)}</td>
                <td>{formatDate(a.birth_date)}</td>
                <td>{a.sport || "—"}</td>
                <td>{a.body_mass_kg ?? "—"}</td>
                {writer && (
                  <td class="actions">
                    <button type="button" onClick={() => setEditing(a)}
                            aria-label={t("Edit {name}", { name: `${a.first_name} ${a.last_name}` })}>{t("Edit")}</button>
                    <button type="button" class="danger" onClick={() => setDeleting(a)}
                            aria-label={t("Delete {name}", { name: `${a.first_name} ${a.last_name}` })}>{t("Delete")}</button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      ))}
      <Confirm open={!!deleting} title={t("Delete the athlete?")}
               text={t("{name} and all their tests, samples, results and reports will be deleted. This cannot be undone.",
                 { name: deleting ? `${deleting.first_name} ${deleting.last_name}` : "" })}
               confirm={t("Delete")} onConfirm={remove} onCancel={() => setDeleting(null)} />
    </section>
  );
}

export function AthleteForm({ athlete, onDone }: { athlete: Athlete | null; onDone: (saved: Athlete | null) => void }) {
  const [form, setForm] = useState({
    first_name: athlete?.first_name ?? "", last_name: athlete?.last_name ?? "", sex: athlete?.sex ?? "female",
    birth_date: athlete?.birth_date ?? "", height_cm: athlete?.height_cm?.toString() ?? "",
    body_mass_kg: athlete?.body_mass_kg?.toString() ?? "", sport: athlete?.sport ?? "", notes: athlete?.notes ?? "",
  });
  const [error, setError] = useState<unknown>(null);
  const set = (key: keyof typeof form) => (e: Event) =>
    setForm({ ...form, [key]: (e.target as HTMLInputElement).value });
  const save = async (e: Event) => {
    e.preventDefault();
    const body = {
      ...form, birth_date: form.birth_date || null,
      height_cm: form.height_cm ? Number(form.height_cm) : null,
      body_mass_kg: form.body_mass_kg ? Number(form.body_mass_kg) : null,
    };
    try {
      const saved = athlete ? await api.patch(`/api/v1/athletes/${athlete.id}/`, body)
        : await api.post("/api/v1/athletes/", body, true);
      onDone(saved);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form class="card grid" onSubmit={save} aria-label={athlete ? t("Edit athlete") : t("New athlete")}>
      <h2>{athlete ? t("Edit athlete") : t("New athlete")}</h2>
      <Field label={t("First name")}>{(id) => <input id={id} required value={form.first_name} onInput={set("first_name")} />}</Field>
      <Field label={t("Last name")}>{(id) => <input id={id} required value={form.last_name} onInput={set("last_name")} />}</Field>
      <Field label={t("Sex")}>
        {(id) => (
          <select id={id} value={form.sex} onChange={set("sex")}>
            <option value="female">{t("female")}</option>
            <option value="male">{t("male")}</option>
          </select>
        )}
      </Field>
      <Field label={t("Birth date")}>{(id) => <input id={id} type="date" value={form.birth_date} onInput={set("birth_date")} />}</Field>
      <Field label={t("Height, cm")}>{(id) => <input id={id} type="number" step="0.1" value={form.height_cm} onInput={set("height_cm")} />}</Field>
      <Field label={t("Body mass, kg")}>{(id) => <input id={id} type="number" step="0.1" value={form.body_mass_kg} onInput={set("body_mass_kg")} />}</Field>
      <Field label={t("Sport")}>{(id) => <input id={id} value={form.sport} onInput={set("sport")} />}</Field>
      <Field label={t("Notes")}>{(id) => <textarea id={id} value={form.notes} onInput={set("notes")} />}</Field>
      <ErrorLine error={error} />
      <div class="row wide">
        <button type="submit" class="primary">{t("Save")}</button>
        <button type="button" onClick={() => onDone(null)}>{t("Cancel")}</button>
      </div>
    </form>
  );
}
