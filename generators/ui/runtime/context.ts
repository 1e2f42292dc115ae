// Reframe UI runtime: what every view may ask of the app (the model, who is signed in).
// Copied into every generated app; do not edit the copy (`gen generate` rewrites it).

import { createContext, useContext } from "react";
import type { Me } from "../../client/client";
import type { AppMeta, Caller, EntityMeta } from "./meta";

export type Session = {
  readonly app: AppMeta;
  /** The signed-in user, or null. */
  readonly me: Me | null;
  /** `me` in the policy mirror's terms. */
  readonly caller: Caller;
  /** Switch the tenant requests act in (`X-Tenant`); null: the server's default. */
  readonly setTenant: (tenantId: string | null) => void;
  readonly signOut: () => Promise<void>;
};

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (session === null) throw new Error("useSession: render inside the app's <SessionContext.Provider>");
  return session;
}

export function entityNamed(app: AppMeta, name: string): EntityMeta | undefined {
  return app.entities.find((e) => e.name === name);
}

export function entityAtPath(app: AppMeta, path: string): EntityMeta | undefined {
  return app.entities.find((e) => e.path === path);
}
