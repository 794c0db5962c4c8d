import type { ComponentType } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, currentSession, setSignedOutHandler, signInWithLink, signInWithTelegram, signOut, takeSignInCode } from './api.js';
import { MachineCard } from './components/machine-card.js';
import { needsYou } from './components/approvals.js';
import { SessionRow } from './components/session-row.js';
import { SignIn } from './components/sign-in.js';
import { StartSession } from './components/start-session.js';
import { compareMachines } from './format.js';
import { MutesContext, PushToggle, useMutes } from './notifications.js';
import { closeTerminal, onRouteChange, openFromLaunchLink, terminalRoute } from './route.js';
import { useHubData, useNow } from './hub-data.js';
import { applyTelegramTheme, postTelegramEvent, readTelegramLaunch } from './telegram.js';
import type { TerminalViewProps } from './terminal/terminal-view.js';
import type { Session, SignedIn } from './types.js';

type Auth = { status: 'loading' } | { status: 'signed-out'; notice?: string } | { status: 'signed-in'; who: SignedIn };

function message(err: unknown): string {
  return err instanceof ApiError || err instanceof Error ? err.message : String(err);
}

export function App() {
  const [auth, setAuth] = useState<Auth>({ status: 'loading' });

  useEffect(() => {
    setSignedOutHandler(() => setAuth({ status: 'signed-out', notice: 'Your sign-in has ended; sign in again.' }));
    const launch = readTelegramLaunch();
    openFromLaunchLink();
    void (async () => {
      if (launch) {
        applyTelegramTheme(launch.themeParams);
        postTelegramEvent('web_app_ready');
        postTelegramEvent('web_app_expand');
        try {
          setAuth({ status: 'signed-in', who: await signInWithTelegram(launch.initData, window.parent !== window) });
        } catch (err) {
          setAuth({ status: 'signed-out', notice: `Telegram sign-in failed: ${message(err)}` });
        }
        return;
      }
      const code = takeSignInCode();
      if (code) {
        try {
          setAuth({ status: 'signed-in', who: await signInWithLink(code) });
          return;
        } catch (err) {
          // An already signed-in page keeps its sign-in; otherwise say why the link did not work.
          const who = await currentSession().catch(() => undefined);
          setAuth(who ? { status: 'signed-in', who } : { status: 'signed-out', notice: `Sign-in link: ${message(err)}` });
          return;
        }
      }
      try {
        const who = await currentSession();
        setAuth(who ? { status: 'signed-in', who } : { status: 'signed-out' });
      } catch (err) {
        setAuth({ status: 'signed-out', notice: message(err) });
      }
    })();
  }, []);

  if (auth.status === 'loading') {
    return (
      <main class="loading" aria-busy="true">
        <p class="muted">Loading…</p>
      </main>
    );
  }
  if (auth.status === 'signed-out') {
    return <SignIn notice={auth.notice} onSignedIn={(who) => setAuth({ status: 'signed-in', who })} />;
  }
  return (
    <Dashboard
      who={auth.who}
      onSignedOut={(notice) => setAuth({ status: 'signed-out', notice })}
    />
  );
}

/** A read-only sign-in sees everything and changes nothing: the page hides what it cannot do (the hub refuses it anyway). */
export function isReadOnly(who: SignedIn): boolean {
  return who.scope === 'TOKEN_SCOPE_READ_ONLY';
}

/** The open terminal's route, and the terminal's code once loaded (xterm is fetched on first use). */
function useTerminalRoute() {
  const [route, setRoute] = useState(() => terminalRoute(location.hash));
  useEffect(() => onRouteChange(() => setRoute(terminalRoute(location.hash))), []);
  const [View, setView] = useState<ComponentType<TerminalViewProps>>();
  const [loadError, setLoadError] = useState('');
  useEffect(() => {
    if (!route || View) return;
    import('./terminal/terminal-view.js').then(
      (m) => setView(() => m.TerminalView),
      (err: unknown) => setLoadError(`Could not load the terminal: ${message(err)}`),
    );
  }, [route, View]);
  const close = () => {
    // Opened from the list: go back (the list keeps its scroll). Opened by a link: replace.
    closeTerminal();
    setRoute(undefined);
  };
  return { route, View, loadError, close };
}

function Dashboard(props: { who: SignedIn; onSignedOut: (notice?: string) => void }) {
  const readOnly = isReadOnly(props.who);
  const terminal = useTerminalRoute();
  const { data, live, error } = useHubData(true, () => props.onSignedOut('Your sign-in has ended; sign in again.'));
  const now = useNow(1000);
  const mutes = useMutes(!readOnly);
  const machines = [...data.machines.values()].sort(compareMachines);
  const byMachine = new Map<string, Session[]>();
  for (const s of data.sessions.values()) {
    const list = byMachine.get(s.machineId ?? '') ?? [];
    list.push(s);
    byMachine.set(s.machineId ?? '', list);
  }

  // Sessions asking for a decision, oldest request first: shown above everything else.
  const needing = [...data.sessions.values()]
    .filter(needsYou)
    .sort((a, b) => String(a.activity?.requests?.[0]?.requestedAt ?? '').localeCompare(String(b.activity?.requests?.[0]?.requestedAt ?? '')));

  const leave = async () => {
    try {
      await signOut();
    } finally {
      props.onSignedOut();
    }
  };

  return (
    <MutesContext.Provider value={mutes}>
      <header class="topbar">
        <span class="brand">hapi</span>
        <span class="namespace" title="namespace">
          {props.who.namespace}
          {props.who.owner && <span class="pill owner">owner</span>}
          {readOnly && <span class="pill read-only">read-only</span>}
        </span>
        <span class={`live live-${live}`} role="status" aria-live="polite">
          {live === 'live' ? 'live' : live === 'connecting' ? 'connecting…' : 'reconnecting…'}
        </span>
        <PushToggle />
        <button type="button" class="link" onClick={leave}>
          Sign out
        </button>
      </header>
      <main class="dashboard">
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        {needing.length > 0 && (
          <section class="needs-you" aria-label="Sessions that need you">
            <h2 class="section-title">
              Needs you <span class="muted">({needing.length})</span>
            </h2>
            <ul class="sessions">
              {needing.map((s) => (
                <SessionRow
                  key={s.id}
                  session={s}
                  machineId={s.machineId ?? ''}
                  machineOnline={data.machines.get(s.machineId ?? '')?.online ?? false}
                  now={now}
                  readOnly={readOnly}
                />
              ))}
            </ul>
          </section>
        )}
        {!readOnly && <StartSession machines={machines} />}
        <h2 class="section-title">
          Machines <span class="muted">({machines.filter((m) => m.online).length} online)</span>
        </h2>
        {machines.length === 0 && live === 'live' && (
          <p class="muted">
            No machines yet. On a machine, point its runner at this hub (<code>HAPI_API_URL</code> and{' '}
            <code>CLI_API_TOKEN</code>) and start it with <code>hapi runner start</code>.
          </p>
        )}
        {machines.map((m) => (
          <MachineCard key={m.id} machine={m} sessions={byMachine.get(m.id) ?? []} now={now} readOnly={readOnly} />
        ))}
      </main>
      {terminal.route && terminal.loadError && (
        <p class="error" role="alert">
          {terminal.loadError}
        </p>
      )}
      {terminal.route && terminal.View && (
        <terminal.View
          key={`${terminal.route.machineId}/${terminal.route.sessionId}`}
          machineId={terminal.route.machineId}
          sessionId={terminal.route.sessionId}
          session={data.sessions.get(terminal.route.sessionId)}
          scopeReadOnly={readOnly}
          onClose={terminal.close}
        />
      )}
    </MutesContext.Provider>
  );
}
