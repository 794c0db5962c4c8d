/**
 * The page's one route besides the list: an open terminal, `#/terminal/<machine id>/<session id>`,
 * so the phone's Back button closes it and a link can open one. Pure parsing plus two history
 * helpers.
 */

export interface TerminalRoute {
  machineId: string;
  sessionId: string;
}

export function terminalRoute(hash: string): TerminalRoute | undefined {
  const m = /^#\/terminal\/([^/]+)\/([^/]+)$/.exec(hash);
  if (!m) return undefined;
  try {
    return { machineId: decodeURIComponent(m[1]!), sessionId: decodeURIComponent(m[2]!) };
  } catch {
    return undefined;
  }
}

export function terminalHref(machineId: string, sessionId: string): string {
  return `#/terminal/${encodeURIComponent(machineId)}/${encodeURIComponent(sessionId)}`;
}

/** Marks history entries the page pushed, so closing goes back to the list rather than off the page. */
const PUSHED = 'hapi-terminal';
const ROUTE_EVENT = 'hapi-route';

export function openTerminal(machineId: string, sessionId: string): void {
  history.pushState(PUSHED, '', terminalHref(machineId, sessionId));
  window.dispatchEvent(new Event(ROUTE_EVENT));
}

export function closeTerminal(): void {
  if (history.state === PUSHED) history.back();
  else history.replaceState(null, '', location.pathname + location.search);
}

/**
 * A notification's Open link (`/?open=<machine id>/<session id>`, see src/hub/notify/
 * telegram-format.ts): a query rather than a fragment, because Telegram puts its launch
 * parameters in the fragment. Turned into the terminal route, and the query dropped.
 */
export function openFromLaunchLink(): void {
  const params = new URLSearchParams(location.search);
  const m = /^([^/]+)\/([^/]+)$/.exec(params.get('open') ?? '');
  if (!m) return;
  params.delete('open');
  const search = params.toString();
  history.replaceState(null, '', `${location.pathname}${search ? `?${search}` : ''}${terminalHref(m[1]!, m[2]!)}`);
  window.dispatchEvent(new Event(ROUTE_EVENT));
}

/** Calls `fn` whenever the route may have changed (Back, Forward, a link, openTerminal); returns the unsubscribe. */
export function onRouteChange(fn: () => void): () => void {
  for (const type of ['hashchange', 'popstate', ROUTE_EVENT]) window.addEventListener(type, fn);
  return () => {
    for (const type of ['hashchange', 'popstate', ROUTE_EVENT]) window.removeEventListener(type, fn);
  };
}
