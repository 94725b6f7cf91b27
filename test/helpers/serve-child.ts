// `ivr serve` as a child process: its first stdout line is the machine-readable
// {"event":"listening","url":...}; tests wait for it before talking to the server.
import type { ChildProcess } from 'node:child_process';

/** Resolves with the listening line's URL; rejects if the child exits first or after `timeoutMs`. */
export function listeningUrl(child: ChildProcess, timeoutMs = 60_000): Promise<string> {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  return new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve((JSON.parse(out.slice(0, nl)) as { url: string }).url);
    });
    child.on('exit', (code) => reject(new Error(`ivr serve exited with ${code}: ${stderr}`)));
    setTimeout(() => reject(new Error(`ivr serve did not start within ${timeoutMs} ms: ${stderr}`)), timeoutMs).unref();
  });
}
