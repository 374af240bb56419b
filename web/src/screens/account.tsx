// My account: two-factor sign-in (TOTP). Enrolment shows the authenticator's QR code and its secret, a first code
// confirms it and the recovery codes are shown once; with a fresh code it can be turned off (unless the lab requires it).
import { useMemo, useState } from "preact/hooks";
import { api } from "../api";
import { qrPath } from "../qr";
import { formatDateTime, t } from "../i18n";
import { me } from "../session";
import { useSignal } from "../state";
import { ErrorLine, InputField, Loading, useAction, useLoad } from "../ui";

interface Enrolment { secret: string; otpauth_uri: string; digits: number; period: number }

function QrCode({ text, label }: { text: string; label: string }) {
  const { size, d } = useMemo(() => qrPath(text), [text]);
  return (
    <svg class="qr" viewBox={`0 0 ${size} ${size}`} role="img" aria-label={label} data-testid="totp-qr"
         shape-rendering="crispEdges">
      <rect width={size} height={size} fill="#fff" />
      <path d={d} fill="#000" />
    </svg>
  );
}

export function AccountScreen() {
  const who = useSignal(me);
  const state = useLoad(() => api.get("/api/v1/auth/mfa/totp"), []);
  const [enrolment, setEnrolment] = useState<Enrolment | null>(null);
  const [codes, setCodes] = useState<string[] | null>(null);
  const [code, setCode] = useState("");
  const action = useAction();
  const s = state.data;

  const start = () => void action.run(() => api.post("/api/v1/auth/mfa/totp"),
    (made) => { setEnrolment(made); setCodes(null); setCode(""); });
  const confirm = (e: Event) => {
    e.preventDefault();
    void action.run(() => api.post("/api/v1/auth/mfa/totp/confirm", { code: code.trim() }),
      (done) => { setCodes(done.recovery_codes); setEnrolment(null); setCode(""); state.reload(); });
  };
  const disable = (e: Event) => {
    e.preventDefault();
    void action.run(() => api.post("/api/v1/auth/mfa/totp/disable", { code: code.trim() }),
      () => { setCode(""); setCodes(null); state.reload(); });
  };

  return (
    <section aria-labelledby="account-title">
      <h1 id="account-title">{t("My account")}</h1>
      {who && <p class="muted">{who.user.full_name ? `${who.user.full_name} · ` : ""}{who.user.email}</p>}
      <h2>{t("Two-factor sign-in")}</h2>
      <ErrorLine error={action.error || state.error} />
      <Loading when={state.loading && !s} />
      {s && (
        <p data-testid="mfa-state">
          {s.enabled ? t("On since {when}; {n} recovery codes left.", { when: formatDateTime(s.confirmed_at), n: s.recovery_codes_left })
            : t("Off: signing in needs only the password.")}
          {s.required ? ` ${t("Your lab requires it for your role.")}` : ""}
        </p>
      )}
      {codes && (
        <div class="card" data-testid="recovery-codes">
          <h3>{t("Recovery codes")}</h3>
          <p>{t("Each one signs you in once when the authenticator is not at hand. They are shown only now: keep them somewhere safe.")}</p>
          <ul class="codes">{codes.map((c) => <li key={c}><code>{c}</code></li>)}</ul>
        </div>
      )}
      {s && !s.enabled && !enrolment && (
        <div class="row"><button type="button" class="primary" onClick={start}>{t("Set up two-factor sign-in")}</button></div>
      )}
      {enrolment && (
        <form class="card enrol" onSubmit={confirm} aria-labelledby="enrol-title">
          <h3 id="enrol-title">{t("Scan the code with your authenticator app")}</h3>
          <QrCode text={enrolment.otpauth_uri} label={t("QR code for your authenticator app")} />
          <p>{t("Or type this secret into the app:")} <span class="secret" data-testid="totp-secret">{enrolment.secret}</span></p>
          <p class="muted">{t("{digits} digits, a new code every {period} s.", { digits: enrolment.digits, period: enrolment.period })}</p>
          <InputField label={t("Code from your authenticator app")} required inputMode="numeric" autoComplete="one-time-code"
                      value={code} onInput={setCode} />
          <div class="row"><button type="submit" class="primary" disabled={!code.trim()}>{t("Confirm")}</button>
            <button type="button" onClick={() => setEnrolment(null)}>{t("Cancel")}</button></div>
        </form>
      )}
      {s && s.enabled && !s.required && (
        <form class="card" onSubmit={disable} aria-labelledby="disable-title">
          <h3 id="disable-title">{t("Turn two-factor sign-in off")}</h3>
          <InputField label={t("Code from your authenticator app")} required inputMode="numeric" autoComplete="one-time-code"
                      value={code} onInput={setCode} />
          <div class="row"><button type="submit" class="danger" disabled={!code.trim()}>{t("Turn off")}</button></div>
        </form>
      )}
    </section>
  );
}
