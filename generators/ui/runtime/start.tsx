// Reframe UI runtime: starting the app in the browser.
// Copied into every generated app; do not edit the copy (`gen generate` rewrites it).

import { QueryClient, QueryClientProvider, useQuery, useQueryClient } from "@tanstack/react-query";
import { StrictMode, useMemo, useState, useSyncExternalStore } from "react";
import { createRoot } from "react-dom/client";
import { isProblem } from "../../client/errors";
import { ClientProvider } from "../../client/hooks";
import { Loading, ProblemAlert } from "./common";
import { SessionContext, entityNamed, type Session } from "./context";
import { answerEarlyFrom } from "./data";
import { DevOverlay, followDev, underDev } from "./dev";
import { Inspector } from "./inspector";
import type * as Early from "./early";
import { callerOf, type AppMeta } from "./meta";
import { loadOverrides } from "./overrides";
import { navigate } from "./router";
import { Shell } from "./shell";
import { EntityLookupContext, registerDefaultWidgets } from "./widgets";

/**
 * Mount the app at #root: the generated widgets first, then the project's overrides.
 *
 * `early`: the module that asked the page's first requests (ui/prefetch.ts ran it); the
 * app takes its answers, and its client.
 */
export async function start(app: AppMeta, early: typeof Early): Promise<void> {
  const scheme = localStorage.getItem("reframe.theme");
  if (scheme) document.documentElement.dataset.theme = scheme;
  registerDefaultWidgets();
  // Who is signed in: asked by ui/prefetch.ts before this module ran, else now, while the
  // overrides load.
  const me = early.signedIn().then(
    (found) => ({ found }),
    () => null,
  );
  await loadOverrides();
  const queryClient = new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 10_000,
        // A 4xx will not change by asking again.
        retry: (count, error) => !(isProblem(error) && error.status < 500) && count < 2,
      },
    },
  });
  const known = await me;
  if (known) queryClient.setQueryData(["auth", "me"], known.found);
  for (const [key, data] of early.arrivedQueries()) queryClient.setQueryData(key, data);
  answerEarlyFrom(early);
  const root = document.getElementById("root");
  if (!root) throw new Error("the page has no #root element");
  const shown = new Shown(app);
  // Under `gen dev`: a rebuilt model replaces `app` in place, then everything is asked anew.
  followDev(shown.set, () => void queryClient.invalidateQueries());
  createRoot(root).render(
    <StrictMode>
      <QueryClientProvider client={queryClient}>
        <ClientProvider client={early.client}>
          <App shown={shown} early={early} />
        </ClientProvider>
      </QueryClientProvider>
    </StrictMode>,
  );
}

/** The app being shown: the one the page loaded, until `gen dev` sends a rebuilt one. */
class Shown {
  private listeners = new Set<() => void>();
  constructor(private app: AppMeta) {}
  get = (): AppMeta => this.app;
  set = (app: AppMeta): void => {
    this.app = app;
    for (const listener of this.listeners) listener();
  };
  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };
}

function App(props: { shown: Shown; early: typeof Early }) {
  const app = useSyncExternalStore(props.shown.subscribe, props.shown.get);
  return (
    <EntityLookupContext.Provider value={(name) => entityNamed(app, name)}>
      <DevOverlay />
      {underDev() ? <Inspector app={app} /> : null}
      <Session app={app} early={props.early} />
    </EntityLookupContext.Provider>
  );
}

function Session(props: { app: AppMeta; early: typeof Early }) {
  const { early } = props;
  const queryClient = useQueryClient();
  const [, setTenant] = useState(early.chosenTenant);
  const me = useQuery({
    queryKey: ["auth", "me"],
    queryFn: early.whoIsSignedIn,
    staleTime: 60_000,
  });
  const session = useMemo<Session | null>(() => {
    if (me.data === undefined) return null;
    return {
      app: props.app,
      me: me.data,
      caller: callerOf(me.data),
      setTenant: (tenantId) => {
        early.chooseTenant(tenantId);
        setTenant(tenantId);
        // Everything seen so far belongs to the other tenant.
        void queryClient.resetQueries();
      },
      signOut: async () => {
        try {
          await early.client.auth.logout();
        } finally {
          early.chooseTenant(null);
          queryClient.clear();
          navigate("/app/login");
          await queryClient.resetQueries();
        }
      },
    };
  }, [me.data, props.app, early, queryClient]);
  if (me.error) return <ProblemAlert error={me.error} />;
  if (session === null) return <Loading what={props.app.name} />;
  return (
    <SessionContext.Provider value={session}>
      <Shell client={early.client} />
    </SessionContext.Provider>
  );
}
