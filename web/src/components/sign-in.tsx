import { useState } from 'preact/hooks';
import { ApiError, signInWithToken } from '../api.js';
import type { SignedIn } from '../types.js';

/** Sign-in with an owner or namespace token (`hapi hub` prints the owner token; `hapi token create` mints others). */
export function SignIn(props: { notice?: string; onSignedIn: (who: SignedIn) => void }) {
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!token.trim()) return;
    setBusy(true);
    setError('');
    try {
      const who = await signInWithToken(token.trim());
      setToken('');
      props.onSignedIn(who);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="sign-in">
      <h1>hapi</h1>
      <p class="muted">Sign in to see your machines and sessions.</p>
      {props.notice && <p class="notice" role="status">{props.notice}</p>}
      <form onSubmit={submit} class="card">
        <label for="token">Hub token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="current-password"
          spellcheck={false}
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
          placeholder="owner or namespace token"
          required
        />
        <button type="submit" class="primary" disabled={busy || !token.trim()}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}
