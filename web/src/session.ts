// Who is signed in (GET /auth/me after login) and the console's route (the URL hash).
import { api } from "./api";
import { signal } from "./state";

export interface Me {
  user: { id: string; email: string; full_name: string; is_operator: boolean };
  tenant: { id: string; slug: string; name: string; settings?: { language?: string } } | null;
  roles: string[];
  other_tenants: { slug: string; name: string }[];
}

export const me = signal<Me | null>(null);
export const route = signal<string>(location.hash.replace(/^#/, "") || "/athletes");

window.addEventListener("hashchange", () => route.set(location.hash.replace(/^#/, "") || "/athletes"));

export function go(path: string): void {
  if (location.hash !== "#" + path) location.hash = path;
  else route.set(path);
}

export async function loadMe(): Promise<Me> {
  const who = await api.get("/api/v1/auth/me");
  me.set(who);
  return who;
}

export async function signOut(): Promise<void> {
  await api.logout();
  me.set(null);
  go("/login");
}

api.onSignedOut = () => {
  me.set(null);
  go("/login");
};

const WRITERS = new Set(["owner", "admin", "physiologist"]);
export const canWrite = (who: Me | null) => !!who && who.roles.some((r) => WRITERS.has(r));
export const isAdmin = (who: Me | null) => !!who && who.roles.some((r) => r === "owner" || r === "admin");
export const isAthlete = (who: Me | null) => !!who && who.roles.length > 0 && who.roles.every((r) => r === "athlete");
