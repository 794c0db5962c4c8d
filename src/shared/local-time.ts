/**
 * Local date and time as `toLocaleString('en-US')` writes it ("8/24/2025, 6:46:22 PM"), the
 * documented format of runner.state.json's startTime and lastHeartbeat, written by hand: the
 * first toLocaleString() call maps ICU's locale data, ~8 MB of resident memory for the life of
 * the daemon (bench/idle.mjs).
 */
export function formatUsLocaleTime(d: Date): string {
  const h = d.getHours() % 12 || 12;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getMonth() + 1}/${d.getDate()}/${d.getFullYear()}, ${h}:${p(d.getMinutes())}:${p(d.getSeconds())} ${d.getHours() < 12 ? 'AM' : 'PM'}`;
}
