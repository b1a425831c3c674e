/** A CPU profile of part of a bench run, written as a .cpuprofile (open it in Chrome DevTools). */
import inspector from 'node:inspector';

/** Starts profiling this process's main thread; the returned function stops and gives the profile. */
export async function startProfile(): Promise<() => Promise<object>> {
  const session = new inspector.Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<Record<string, unknown>>((resolve, reject) => session.post(method, params, (err, res) => (err ? reject(err) : resolve(res as Record<string, unknown>))));
  await post('Profiler.enable');
  await post('Profiler.start');
  return async () => {
    const { profile } = await post('Profiler.stop');
    session.disconnect();
    return profile as object;
  };
}
