// Reframe UI runtime: the app shell: navigation, sign-in, tenant switcher, routes.
// Copied into every generated app; do not edit the copy (`gen generate` rewrites it).

import { useQueryClient } from "@tanstack/react-query";
import { useState, type ComponentProps, type ComponentType, type FormEvent } from "react";
import type { Client, Me } from "../../client/client";
import { ProblemAlert } from "./common";
import { entityAtPath, useSession } from "./context";
import { DetailView } from "./detail";
import { CreateForm, EditForm } from "./form";
import { ListView } from "./list";
import type { EntityMeta } from "./meta";
import { ModuleErrors } from "./overrides";
import { resolveComponent, useRegistry } from "./registry";
import { navigate, parseRoute, useLocation } from "./router";
import { Link } from "./widgets";

/** The shell around every page. */
export function Shell(props: { client: Client }) {
  const { path, query } = useLocation();
  const session = useSession();
  useRegistry();
  const route = parseRoute(path, query);
  const signedOut = session.me === null;
  const open = route.page === "login" || route.page === "signup" || route.page === "magic-link";
  let page;
  if (signedOut && !open) page = <SignIn client={props.client} />;
  else if (route.page === "login") page = <SignIn client={props.client} />;
  else if (route.page === "signup") page = <SignUp client={props.client} />;
  else if (route.page === "magic-link") page = <MagicLink client={props.client} token={route.token} />;
  else if (route.page === "home") page = <Home />;
  else if (route.page === "missing") page = <NotFound />;
  else {
    const entity = entityAtPath(session.app, route.path);
    if (!entity) page = <NotFound />;
    else if (route.page === "list") page = <Replaceable name={`${entity.name}.list`} fallback={ListView} props={{ entity }} />;
    else if (route.page === "new") page = <Replaceable name={`${entity.name}.form`} fallback={CreateForm} props={{ entity }} />;
    else if (route.page === "detail")
      page = <Replaceable name={`${entity.name}.detail`} fallback={DetailView} props={{ entity, rowKey: route.key }} />;
    else page = <Replaceable name={`${entity.name}.edit`} fallback={EditForm} props={{ entity, rowKey: route.key }} />;
  }
  return (
    <div className="rf-shell">
      <a className="rf-skip" href="#rf-main">
        Skip to content
      </a>
      <header className="rf-topbar">
        <Link className="rf-brand" href="/app/">
          {session.app.name}
        </Link>
        {session.me ? <Account me={session.me} /> : null}
      </header>
      <div className="rf-body">
        {session.me ? <Navigation /> : null}
        <main id="rf-main" tabIndex={-1}>
          <ModuleErrors />
          {page}
        </main>
      </div>
    </div>
  );
}

/** A generated view, or the component an override registered under its name. */
function Replaceable<P extends object>(props: { name: string; fallback: ComponentType<P>; props: P }) {
  const found = resolveComponent<P>(props.name);
  const View = found?.component ?? props.fallback;
  return (
    <div data-component={props.name} data-override={found ? "true" : undefined}>
      <View {...props.props} />
    </div>
  );
}

function navigable(entities: readonly EntityMeta[]): EntityMeta[] {
  return entities.filter((e) => !e.builtin);
}

function Navigation() {
  const session = useSession();
  const { path } = useLocation();
  return (
    <nav className="rf-nav" aria-label="Main">
      <ul>
        {navigable(session.app.entities).map((entity) => {
          const current = path === entity.route || path.startsWith(`${entity.route}/`);
          return (
            <li key={entity.name}>
              <Link href={entity.route} aria-current={current ? "page" : undefined}>
                {entity.labelPlural}
              </Link>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}

function Account(props: { me: Me }) {
  const session = useSession();
  const { me } = props;
  return (
    <div className="rf-account">
      {me.memberships.length > 1 ? (
        <label>
          <span>Organisation</span>{" "}
          <select value={me.tenant?.id ?? ""} onChange={(e) => session.setTenant(e.target.value || null)}>
            {me.memberships.map((m) => (
              <option key={m.tenant.id} value={m.tenant.id}>
                {m.tenant.name}
              </option>
            ))}
          </select>
        </label>
      ) : me.tenant ? (
        <span className="rf-tenant">{me.tenant.name}</span>
      ) : null}
      <span className="rf-user" data-testid="current-user">
        {me.user.email}
        {me.roles.length ? <span className="rf-roles"> ({me.roles.join(", ")})</span> : null}
      </span>
      <ThemeToggle />
      <button type="button" className="rf-button" onClick={() => void session.signOut()}>
        Log out
      </button>
    </div>
  );
}

function ThemeToggle() {
  const [scheme, setScheme] = useState(() => document.documentElement.dataset.theme ?? "");
  const next = scheme === "dark" ? "light" : "dark";
  return (
    <button
      type="button"
      className="rf-button"
      aria-pressed={scheme === "dark"}
      onClick={() => {
        document.documentElement.dataset.theme = next;
        localStorage.setItem("reframe.theme", next);
        setScheme(next);
      }}
    >
      Dark mode
    </button>
  );
}

function Home() {
  const session = useSession();
  return (
    <section className="rf-page" aria-labelledby="rf-page-title">
      <h1 id="rf-page-title">{session.app.name}</h1>
      <ul className="rf-cards">
        {navigable(session.app.entities).map((entity) => (
          <li key={entity.name}>
            <Link href={entity.route}>{entity.labelPlural}</Link>
            {entity.doc ? <p>{entity.doc}</p> : null}
          </li>
        ))}
      </ul>
    </section>
  );
}

function NotFound() {
  return (
    <section className="rf-page">
      <h1>Not found</h1>
      <p>
        There is no page here. <Link href="/app/">Go to the start page</Link>.
      </p>
    </section>
  );
}

/** After signing in: reload who is signed in, then go where the user was going. */
function useSignedIn() {
  const queryClient = useQueryClient();
  return async () => {
    await queryClient.resetQueries();
    const { path } = parseLocation();
    navigate(path.startsWith("/app/login") || path.startsWith("/app/signup") || path.startsWith("/app/magic-link") ? "/app/" : path, {
      replace: true,
    });
  };
}

function parseLocation() {
  return { path: window.location.pathname + window.location.search };
}

/** A required, labelled input of the sign-in and sign-up forms. */
function AuthField(props: { id: string; label: string } & ComponentProps<"input">) {
  const { id, label, ...input } = props;
  return (
    <div className="rf-field">
      <label htmlFor={id}>{label}</label>
      <input id={id} required {...input} />
    </div>
  );
}

function SignIn(props: { client: Client }) {
  const session = useSession();
  const signedIn = useSignedIn();
  const [error, setError] = useState<unknown>(null);
  const [sent, setSent] = useState(false);
  const [busy, setBusy] = useState(false);
  const magic = session.app.authProviders.includes("magic_link");
  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError(null);
    try {
      await props.client.auth.login({ email: String(form.get("email")), password: String(form.get("password")) });
      await signedIn();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const sendLink = async (email: string) => {
    setError(null);
    try {
      await props.client.transport.request<void>("POST", "/auth/magic-link", { body: { email } });
      setSent(true);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <section className="rf-page rf-auth" aria-labelledby="rf-page-title">
      <h1 id="rf-page-title">Sign in to {session.app.name}</h1>
      <form onSubmit={submit} className="rf-form">
        <AuthField id="login-email" label="Email" name="email" type="email" autoComplete="username" />
        <AuthField id="login-password" label="Password" name="password" type="password" autoComplete="current-password" />
        <ProblemAlert error={error} />
        <div className="rf-form-buttons">
          <button type="submit" className="rf-button rf-primary" disabled={busy}>
            Sign in
          </button>
          {magic ? (
            <button
              type="button"
              className="rf-button"
              onClick={() => void sendLink((document.getElementById("login-email") as HTMLInputElement).value)}
            >
              Email me a sign-in link
            </button>
          ) : null}
        </div>
        {sent ? <p role="status">If that address has an account, a sign-in link is on its way.</p> : null}
      </form>
      <p>
        New here? <Link href="/app/signup">Create an account</Link>
      </p>
    </section>
  );
}

function SignUp(props: { client: Client }) {
  const session = useSession();
  const signedIn = useSignedIn();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError(null);
    try {
      await props.client.auth.signup({
        email: String(form.get("email")),
        password: String(form.get("password")),
        tenant: String(form.get("tenant")),
      });
      // Sign-up answers a token; the login sets the session cookie the app uses.
      await props.client.auth.login({ email: String(form.get("email")), password: String(form.get("password")) });
      await signedIn();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="rf-page rf-auth" aria-labelledby="rf-page-title">
      <h1 id="rf-page-title">Create your {session.app.name} account</h1>
      <form onSubmit={submit} className="rf-form">
        <AuthField id="signup-email" label="Email" name="email" type="email" autoComplete="username" />
        <AuthField id="signup-password" label="Password" name="password" type="password" autoComplete="new-password" minLength={8} />
        <AuthField id="signup-tenant" label="Organisation name" name="tenant" />
        <ProblemAlert error={error} />
        <div className="rf-form-buttons">
          <button type="submit" className="rf-button rf-primary" disabled={busy}>
            Create account
          </button>
        </div>
      </form>
      <p>
        Have an account? <Link href="/app/login">Sign in</Link>
      </p>
    </section>
  );
}

function MagicLink(props: { client: Client; token: string | null }) {
  const signedIn = useSignedIn();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  return (
    <section className="rf-page rf-auth" aria-labelledby="rf-page-title">
      <h1 id="rf-page-title">Sign in with your link</h1>
      {props.token ? (
        <button
          type="button"
          className="rf-button rf-primary"
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            try {
              await props.client.transport.request("POST", "/auth/magic-link/verify", { body: { token: props.token } });
              await signedIn();
            } catch (e) {
              setError(e);
            } finally {
              setBusy(false);
            }
          }}
        >
          Sign in
        </button>
      ) : (
        <p>This link has no token: ask for a new one from the sign-in page.</p>
      )}
      <ProblemAlert error={error} />
    </section>
  );
}
