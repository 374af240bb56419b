// Login: e-mail and password, then the organisation when the account has several, the authenticator code when
// two-factor sign-in is on, a new password when the printed one must be changed; SSO when the e-mail's domain uses it.
import { useState } from "preact/hooks";
import { api, type Tokens } from "../api";
import { t } from "../i18n";
import { go, loadMe } from "../session";
import { ErrorLine, Field } from "../ui";

type Step = { kind: "password" } | { kind: "tenant"; tenants: string[] } | { kind: "mfa"; challenge: string }
  | { kind: "new-password" };

export function LoginScreen() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [tenant, setTenant] = useState("");
  const [code, setCode] = useState("");
  const [newPassword, setNewPassword] = useState("");
  const [step, setStep] = useState<Step>({ kind: "password" });
  const [sso, setSso] = useState<{ start_url: string; tenant?: string; password?: boolean } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const finish = async (mustChange: boolean) => {
    if (mustChange) {
      setStep({ kind: "new-password" });
      return;
    }
    await loadMe();
    go("/athletes");
  };

  const discover = async () => {
    if (!email.includes("@")) return;
    try {
      const found = await api.discover(email);
      setSso(found.method === "sso" && found.start_url
        ? { start_url: found.start_url, tenant: found.tenant, password: (found as any).password_login_allowed }
        : null);
    } catch {
      setSso(null);
    }
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (step.kind === "new-password") {
        await api.request("POST", "/api/v1/auth/password",
          { json: { current_password: password, new_password: newPassword } });
        setPassword(newPassword);
        const again = await api.login(email, newPassword, tenant || undefined);
        if (again.kind !== "signed-in") throw new Error(t("Log in again with your new password."));
        return await finish(false);
      }
      const outcome = step.kind === "mfa" ? await api.loginWithCode(step.challenge, code)
        : await api.login(email, password, tenant || undefined);
      if (outcome.kind === "signed-in") return await finish(outcome.mustChangePassword);
      if (outcome.kind === "choose-tenant") {
        setTenant(outcome.tenants[0] ?? "");
        setStep({ kind: "tenant", tenants: outcome.tenants });
      } else if (outcome.kind === "mfa") setStep({ kind: "mfa", challenge: outcome.challenge });
      else setError(outcome.message);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const startSso = () => {
    if (!sso) return;
    // The provider's callback answers the token pair as JSON on this origin: the console opens the flow in a
    // window of its own and reads that answer from it (same origin), so the tokens never touch the URL.
    const start = `${sso.start_url}${sso.start_url.includes("?") ? "&" : "?"}login_hint=${encodeURIComponent(email)}`;
    const popup = window.open(start, "vo2-sso", "width=520,height=680");
    if (!popup) {
      location.href = start;
      return;
    }
    const timer = setInterval(async () => {
      try {
        if (popup.closed) return clearInterval(timer);
        if (!popup.location.pathname.startsWith("/api/v1/auth/sso/callback")) return;
        if (popup.document.readyState !== "complete") return;
        // the browser shows a JSON answer in a <pre> (its viewer may add controls around it)
        const text = popup.document.querySelector("pre")?.textContent ?? popup.document.body.innerText;
        clearInterval(timer);
        popup.close();
        const tokens = JSON.parse(text) as Tokens;
        if (!tokens.access) throw new Error(text);
        api.setTokens(tokens);
        await finish(false);
      } catch (err) {
        if (err instanceof DOMException) return; // still at the provider (another origin)
        clearInterval(timer);
        setError(err);
      }
    }, 300);
  };

  return (
    <section class="login card" aria-labelledby="login-title">
      <h1 id="login-title">{t("Sign in to VO2max Report")}</h1>
      <form onSubmit={submit} noValidate>
        {(step.kind === "password" || step.kind === "tenant") && (
          <>
            <Field label="E-mail">
              {(id) => <input id={id} type="email" autoComplete="username" required value={email}
                              onInput={(e) => setEmail((e.target as HTMLInputElement).value)} onBlur={discover} />}
            </Field>
            {(!sso || sso.password !== false) && (
              <Field label={t("Password")}>
                {(id) => <input id={id} type="password" autoComplete="current-password" required value={password}
                                onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />}
              </Field>
            )}
          </>
        )}
        {step.kind === "tenant" && (
          <Field label={t("Organisation")} hint={t("Your account belongs to several organisations.")}>
            {(id) => (
              <select id={id} value={tenant} onChange={(e) => setTenant((e.target as HTMLSelectElement).value)}>
                {step.tenants.map((slug) => <option key={slug} value={slug}>{slug}</option>)}
              </select>
            )}
          </Field>
        )}
        {step.kind === "mfa" && (
          <Field label={t("Code from your authenticator app")} hint={t("Or one of your recovery codes.")}>
            {(id) => <input id={id} inputMode="numeric" autoComplete="one-time-code" required value={code} autoFocus
                            onInput={(e) => setCode((e.target as HTMLInputElement).value)} />}
          </Field>
        )}
        {step.kind === "new-password" && (
          <>
            <p>{t("This password was given to you once: choose your own now (10 characters or more).")}</p>
            <Field label={t("New password")}>
              {(id) => <input id={id} type="password" autoComplete="new-password" required minLength={10}
                              value={newPassword} autoFocus
                              onInput={(e) => setNewPassword((e.target as HTMLInputElement).value)} />}
            </Field>
          </>
        )}
        <ErrorLine error={error} />
        <div class="row">
          <button type="submit" class="primary" disabled={busy}>
            {step.kind === "new-password" ? t("Change password") : step.kind === "mfa" ? t("Verify") : t("Log in")}
          </button>
          {sso && step.kind === "password" && (
            <button type="button" onClick={startSso}>{t("Sign in with your organisation's SSO")}</button>
          )}
        </div>
      </form>
    </section>
  );
}
