/**
 * Server-Sent Events over fetch, for when the sign-in travels in a header (an EventSource can
 * send no headers): the page inside another site's iframe (Telegram Web). No DOM or Preact
 * imports, so it is tested in Node against a real server.
 */
export interface StreamHandlers {
  open(): void;
  event(type: string, data: string): void;
  /** The stream ended or could not open; `status` is the HTTP status when there was one. */
  lost(status?: number): void;
}

/** Reads `event:` / `data:` blocks from the response body until it ends; the caller reconnects. */
export function openFetchEventStream(path: string, headers: Record<string, string>, on: StreamHandlers): { close(): void } {
  const abort = new AbortController();
  void (async () => {
    let res: Response;
    try {
      res = await fetch(path, { headers: { Accept: 'text/event-stream', ...headers }, signal: abort.signal, credentials: 'same-origin' });
    } catch {
      if (!abort.signal.aborted) on.lost();
      return;
    }
    if (!res.ok || !res.body) {
      if (!abort.signal.aborted) on.lost(res.status);
      return;
    }
    on.open();
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n?/g, '\n');
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let type = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line === '' || line.startsWith(':')) continue;
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'event') type = text;
            else if (field === 'data') data.push(text);
          }
          if (data.length > 0) on.event(type, data.join('\n'));
        }
      }
    } catch {
      // Aborted, or the connection dropped: reported below.
    }
    if (!abort.signal.aborted) on.lost();
  })();
  return { close: () => abort.abort() };
}
