/**
 * Telegram Mini App support without Telegram's script (nothing is fetched at run time): Telegram
 * opens the page with its launch parameters in the URL fragment (`#tgWebAppData=...&
 * tgWebAppThemeParams=...`), and the page talks back through the webview's postEvent bridge.
 */

export interface TelegramLaunch {
  /** The signed initData query string, verified by the hub. */
  initData: string;
  themeParams: Record<string, string>;
}

interface TelegramBridgeWindow {
  TelegramWebviewProxy?: { postEvent(eventType: string, eventData: string): void };
  external?: { notify?: (message: string) => void };
}

/** Reads Telegram's launch parameters from the fragment, then removes them from the address bar. */
export function readTelegramLaunch(): TelegramLaunch | undefined {
  const params = new URLSearchParams(location.hash.slice(1));
  const initData = params.get('tgWebAppData');
  if (!initData) return undefined;
  let themeParams: Record<string, string> = {};
  try {
    const parsed = JSON.parse(params.get('tgWebAppThemeParams') ?? '{}') as unknown;
    if (parsed && typeof parsed === 'object') themeParams = parsed as Record<string, string>;
  } catch {
    // No theme: the page's own colours.
  }
  history.replaceState(null, '', location.pathname + location.search);
  return { initData, themeParams };
}

/** Telegram Web opens Mini Apps in an iframe on this origin, and listens there for events. */
const TELEGRAM_WEB_ORIGIN = 'https://web.telegram.org';

/** Sends an event to the Telegram client (web_app_ready, web_app_expand, ...); no-op outside Telegram. */
export function postTelegramEvent(eventType: string, eventData: Record<string, unknown> = {}): void {
  const w = window as unknown as TelegramBridgeWindow;
  if (w.TelegramWebviewProxy) {
    w.TelegramWebviewProxy.postEvent(eventType, JSON.stringify(eventData));
  } else if (typeof w.external?.notify === 'function') {
    w.external.notify(JSON.stringify({ eventType, eventData }));
  } else if (window.parent !== window) {
    // Delivered only if the parent really is Telegram Web.
    window.parent.postMessage(JSON.stringify({ eventType, eventData }), TELEGRAM_WEB_ORIGIN);
  }
}

const THEME_VARIABLES: Record<string, string> = {
  bg_color: '--bg',
  secondary_bg_color: '--card',
  text_color: '--text',
  hint_color: '--muted',
  link_color: '--link',
  button_color: '--accent',
  button_text_color: '--accent-text',
  destructive_text_color: '--danger',
};

/** Applies Telegram's theme colours to the page's CSS variables (through the CSSOM, which the CSP allows). */
export function applyTelegramTheme(theme: Record<string, string>): void {
  for (const [key, variable] of Object.entries(THEME_VARIABLES)) {
    const value = theme[key];
    if (typeof value === 'string' && /^#[0-9a-f]{3,8}$/i.test(value)) document.documentElement.style.setProperty(variable, value);
  }
}
