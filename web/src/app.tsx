// The shell: the top bar (navigation, language, logout) and the route → screen table.
import { useSignal } from "./state";
import { language, setLanguage, t, type Language } from "./i18n";
import { canWrite, go, isAdmin, isAthlete, me, route, signOut } from "./session";
import { LoginScreen } from "./screens/login";
import { AthletesScreen } from "./screens/athletes";
import { AthleteScreen } from "./screens/athlete";
import { TestScreen } from "./screens/test";
import { ReportsScreen } from "./screens/reports";
import { SettingsScreen } from "./screens/settings";
import { AccountScreen } from "./screens/account";

export function App() {
  const path = useSignal(route);
  const who = useSignal(me);
  useSignal(language); // re-render every text when the language changes
  if (!who || path === "/login") return <Shell><LoginScreen /></Shell>;
  const parts = path.split("/").filter(Boolean);
  let screen;
  if (parts[0] === "athletes" && parts[1]) screen = <AthleteScreen id={parts[1]} />;
  else if (parts[0] === "tests" && parts[1]) screen = <TestScreen id={parts[1]} />;
  else if (parts[0] === "reports") screen = <ReportsScreen />;
  else if (parts[0] === "settings" && isAdmin(who)) screen = <SettingsScreen />;
  else if (parts[0] === "account") screen = <AccountScreen />;
  else screen = <AthletesScreen />;
  return <Shell>{screen}</Shell>;
}

function Shell({ children }: { children: any }) {
  const who = useSignal(me);
  const lang = useSignal(language);
  const path = useSignal(route);
  const link = (href: string, label: string) => (
    <a href={"#" + href} aria-current={path.startsWith(href) ? "page" : undefined}>{label}</a>
  );
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById("main")?.focus(); }}>
        {t("Skip to content")}
      </a>
      <header class="topbar">
        <span class="brand">VO2max Report</span>
        {who && (
          <nav aria-label={t("Main")}>
            {link("/athletes", isAthlete(who) ? t("My tests") : t("Athletes"))}
            {link("/reports", t("Reports"))}
            {isAdmin(who) && link("/settings", t("Lab settings"))}
            {link("/account", t("My account"))}
          </nav>
        )}
        <span class="spacer" />
        <label class="lang">
          <span class="sr-only">{t("Language")}</span>
          <select value={lang} onChange={(e) => setLanguage((e.target as HTMLSelectElement).value as Language)}
                  aria-label={t("Language")}>
            <option value="en">English</option>
            <option value="ru">Русский</option>
          </select>
        </label>
        {who && (
          <>
            <span class="who" title={who.user.email}>
              {who.user.full_name || who.user.email}{who.tenant ? ` · ${who.tenant.name}` : ""}
              {canWrite(who) ? "" : ` (${who.roles.join(", ")})`}
            </span>
            <button type="button" onClick={() => void signOut()}>{t("Log out")}</button>
          </>
        )}
      </header>
      <main id="main" tabIndex={-1}>{children}</main>
    </>
  );
}

export { go };
