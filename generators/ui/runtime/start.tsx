// Reframe UI runtime: starting the app in the browser.
// Copied into every generated app; do not edit the copy (`gen generate` rewrites it).

import { QueryClient, QueryClientProvider, useQuery, useQueryClient } from "@tanstack/react-query";
import { StrictMode, useMemo, useState } from "react";
import { createRoot } from "react-dom/client";
import { createClient, type Client, type Me } from "../../client/client";
import { isProblem } from "../../client/errors";
import { ClientProvider } from "../../client/hooks";
import { Loading, ProblemAlert } from "./common";
import { SessionContext, entityNamed, type Session } from "./context";
import { callerOf, type AppMeta } from "./meta";
import { loadOverrides } from "./overrides";
import { navigate } from "./router";
import { Shell } from "./shell";
import { EntityLookupContext, registerDefaultWidgets } from "./widgets";

const TENANT_KEY = "reframe.tenant";

/** Mount the app at #root: the generated widgets first, then the project's overrides. */
export async function start(app: AppMeta): Promise<void> {
  const scheme = localStorage.getItem("reframe.theme");
  if (scheme) document.documentElement.dataset.theme = scheme;
  registerDefaultWidgets();
  const client = createClient({ cookies: true, tenant: () => localStorage.getItem(TENANT_KEY) });
  // Who is signed in is asked while the overrides load, not after.
  const me = whoIsSignedIn(client).then(
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
  const root = document.getElementById("root");
  if (!root) throw new Error("the page has no #root element");
  createRoot(root).render(
    <StrictMode>
      <QueryClientProvider client={queryClient}>
        <ClientProvider client={client}>
          <EntityLookupContext.Provider value={(name) => entityNamed(app, name)}>
            <Session app={app} client={client} />
          </EntityLookupContext.Provider>
        </ClientProvider>
      </QueryClientProvider>
    </StrictMode>,
  );
}

/** The signed-in user, or null. */
async function whoIsSignedIn(client: Client): Promise<Me | null> {
  // Signed-in browsers hold the (readable) CSRF cookie; without it, asking would only get a 401.
  if (!document.cookie.split("; ").some((c) => c.startsWith("reframe_csrf="))) return null;
  try {
    return await client.auth.me();
  } catch (error) {
    if (isProblem(error, 401)) return null;
    throw error;
  }
}

function Session(props: { app: AppMeta; client: Client }) {
  const queryClient = useQueryClient();
  const [, setTenant] = useState(() => localStorage.getItem(TENANT_KEY));
  const me = useQuery({
    queryKey: ["auth", "me"],
    queryFn: () => whoIsSignedIn(props.client),
    staleTime: 60_000,
  });
  const session = useMemo<Session | null>(() => {
    if (me.data === undefined) return null;
    return {
      app: props.app,
      me: me.data,
      caller: callerOf(me.data),
      setTenant: (tenantId) => {
        if (tenantId) localStorage.setItem(TENANT_KEY, tenantId);
        else localStorage.removeItem(TENANT_KEY);
        setTenant(tenantId);
        // Everything seen so far belongs to the other tenant.
        void queryClient.resetQueries();
      },
      signOut: async () => {
        try {
          await props.client.auth.logout();
        } finally {
          localStorage.removeItem(TENANT_KEY);
          queryClient.clear();
          navigate("/app/login");
          await queryClient.resetQueries();
        }
      },
    };
  }, [me.data, props.app, props.client, queryClient]);
  if (me.error) return <ProblemAlert error={me.error} />;
  if (session === null) return <Loading what={props.app.name} />;
  return (
    <SessionContext.Provider value={session}>
      <Shell client={props.client} />
    </SessionContext.Provider>
  );
}
