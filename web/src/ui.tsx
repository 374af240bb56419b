// Small shared pieces: labelled fields, the error line, the confirmation dialog, a loader hook.
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError, describeProblem } from "./api";
import { t } from "./i18n";

let nextId = 0;
export function useId(prefix = "f"): string {
  const ref = useRef<string>();
  if (!ref.current) ref.current = `${prefix}-${++nextId}`;
  return ref.current;
}

export function Field(props: { label: string; children: (id: string) => ComponentChildren; hint?: string }) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      {props.children(id)}
      {props.hint && <small class="hint">{props.hint}</small>}
    </div>
  );
}

export function message(error: unknown): string {
  if (error instanceof ApiError) return describeProblem(error.problem, error.status); // in the language shown now
  if (error instanceof Error) return error.message;
  return String(error);
}

export function ErrorLine({ error }: { error: unknown }) {
  if (!error) return null;
  return <p class="error" role="alert">{message(error)}</p>;
}

/** Data for a screen: loads on mount and when `deps` change; `reload()` after a write. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): {
  data: T | undefined; error: unknown; loading: boolean; reload: () => void; set: (v: T) => void;
  /** the latest data, for callbacks that outlive a render (stream handlers) */
  get: () => T | undefined;
} {
  const [data, setData] = useState<T>();
  const latest = useRef<T>();
  latest.current = data;
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setLoading(true);
    load().then((v) => { if (live) { setData(v); setError(null); } })
      .catch((e) => { if (live) setError(e); })
      .finally(() => { if (live) setLoading(false); });
    return () => { live = false; };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { data, error, loading, reload, set: setData, get: () => latest.current };
}

/** A modal dialog (the native <dialog>: focus is trapped and Escape closes it). */
export function Confirm(props: { open: boolean; title: string; text: string; confirm: string;
                                 onConfirm: () => void; onCancel: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (props.open && !d.open) d.showModal?.();
    if (!props.open && d.open) d.close();
  }, [props.open]);
  return (
    <dialog ref={ref} aria-labelledby="confirm-title" onCancel={(e) => { e.preventDefault(); props.onCancel(); }}>
      <h2 id="confirm-title">{props.title}</h2>
      <p>{props.text}</p>
      <div class="row">
        <button type="button" class="danger" onClick={props.onConfirm}>{props.confirm}</button>
        <button type="button" onClick={props.onCancel}>{t("Cancel")}</button>
      </div>
    </dialog>
  );
}

export function Loading({ when }: { when: boolean }) {
  return when ? <p class="muted" aria-live="polite">{t("Loading…")}</p> : null;
}

export function Progress({ value, label }: { value: number; label: string }) {
  return (
    <div class="progress-wrap">
      <progress max={100} value={value} aria-label={label}>{value} %</progress>
      <span>{label} · {value} %</span>
    </div>
  );
}

/** A labelled select of [value, text] options. */
export function SelectField(props: { label: string; value: string; options: readonly (readonly [string, string])[];
                                     onChange: (value: string) => void; hint?: string }) {
  return (
    <Field label={props.label} hint={props.hint}>
      {(id) => <select id={id} value={props.value} onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}>
        {props.options.map(([value, text]) => <option key={value} value={value}>{text}</option>)}</select>}
    </Field>
  );
}

/** A labelled input (text, e-mail, URL, number...). */
export function InputField(props: { label: string; value: string | number; onInput: (value: string) => void;
                                    type?: string; required?: boolean; placeholder?: string; hint?: string;
                                    min?: number; max?: number; step?: string; autoComplete?: string;
                                    inputMode?: "numeric" | "decimal" | "text" }) {
  const { label, hint, onInput, ...rest } = props;
  return (
    <Field label={label} hint={hint}>
      {(id) => <input id={id} {...rest} onInput={(e) => onInput((e.target as HTMLInputElement).value)} />}
    </Field>
  );
}

/** Runs a write and keeps its refusal for an ErrorLine: `run(fn, after)`. */
export function useAction(): { error: unknown; setError: (e: unknown) => void;
                               run: (fn: () => Promise<unknown>, after?: (result: any) => void) => Promise<void> } {
  const [error, setError] = useState<unknown>(null);
  const run = async (fn: () => Promise<unknown>, after?: (result: any) => void) => {
    setError(null);
    try { const result = await fn(); after?.(result); } catch (e) { setError(e); }
  };
  return { error, setError, run };
}

/** A labelled file input; `onFile` gets the chosen file (or null). */
export function FileField(props: { label: string; accept?: string; onFile: (file: File | null) => void; hint?: string }) {
  return (
    <Field label={props.label} hint={props.hint}>
      {(id) => <input id={id} type="file" accept={props.accept}
                      onChange={(e) => props.onFile((e.target as HTMLInputElement).files?.[0] ?? null)} />}
    </Field>
  );
}
