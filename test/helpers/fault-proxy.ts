// A small HTTP proxy on 127.0.0.1 for the reliability tests: it forwards every
// request to one target (the lab's moto or Vault) and, on demand, answers
// instead of the target — N× 503 or throttling errors shaped like AWS's query
// protocol XML, then passes again — or stops answering altogether (cut: the
// port is closed, so clients get ECONNREFUSED) and comes back on the same port
// (restore). It keeps every request and response it carried, so a test can see
// what a run sent and received (e.g. the Vault tokens handed out to it).
import http from 'node:http';
import net from 'node:net';
import crypto from 'node:crypto';

export interface Seen {
  method: string;
  url: string;
  body: string;
  status: number;
  response: string;
  injected: boolean;
}

export interface Fault {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

export type Match = RegExp | ((r: { method: string; url: string; body: string }) => boolean);

/** AWS query-protocol error bodies (IAM, STS), as AWS sends them. */
export function awsErrorXml(code: string, message: string, type: 'Sender' | 'Receiver' = 'Sender'): string {
  return `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>${type}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${crypto.randomUUID()}</RequestId></ErrorResponse>`;
}

export const FAULTS = {
  throttle: (): Fault => ({ status: 400, body: awsErrorXml('ThrottlingException', 'Rate exceeded'), headers: { 'content-type': 'text/xml' } }),
  unavailable: (): Fault => ({ status: 503, body: awsErrorXml('ServiceUnavailable', 'Service is unavailable, please try again', 'Receiver'), headers: { 'content-type': 'text/xml' } }),
};

export interface FaultProxy {
  url: string;
  port: number;
  /** Every request carried or answered, in order. */
  seen: Seen[];
  /** How many requests were answered with an injected fault. */
  injected(): number;
  /** Answer the next `n` requests matching `match` (default: any) with `fault`, then pass again. */
  inject(n: number, fault: () => Fault, match?: Match): void;
  /**
   * Called once the target answered a matching request: after the answer went back to the
   * client, or with `beforeReply` before it does (the client never learns the outcome if it
   * dies then). Returns a function that removes the hook.
   */
  after(match: Match, fn: (s: Seen) => void, opts?: { beforeReply?: boolean }): () => void;
  /** Hold matching requests this long before forwarding them. */
  delay(match: Match, ms: number): void;
  /** When a matching request arrives: drop it unanswered and cut (the next ones are refused). */
  cutOn(match: Match): Promise<Seen>;
  /** Stop answering: close the port and every open connection. */
  cut(): Promise<void>;
  /** Listen again on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

function matches(m: Match | undefined, r: { method: string; url: string; body: string }): boolean {
  if (!m) return true;
  return m instanceof RegExp ? m.test(`${r.method} ${r.url}\n${r.body}`) : m(r);
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const t = new URL(target);
  const seen: Seen[] = [];
  const queue: { n: number; fault: () => Fault; match?: Match }[] = [];
  const afters: { match: Match; fn: (s: Seen) => void; beforeReply: boolean }[] = [];
  const delays: { match: Match; ms: number }[] = [];
  let cutter: { match: Match; resolve: (s: Seen) => void } | undefined;
  let injectedCount = 0;
  const sockets = new Set<net.Socket>();
  let port = 0;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const r = { method: req.method ?? 'GET', url: req.url ?? '/', body: body.toString('utf8') };
        if (cutter && matches(cutter.match, r)) {
          const c = cutter;
          cutter = undefined;
          const s: Seen = { ...r, status: 0, response: '', injected: true };
          seen.push(s);
          req.socket.destroy();
          await proxy.cut();
          c.resolve(s);
          return;
        }
        const q = queue.find((x) => x.n > 0 && matches(x.match, r));
        if (q) {
          q.n--;
          injectedCount++;
          const f = q.fault();
          seen.push({ ...r, status: f.status, response: f.body, injected: true });
          res.writeHead(f.status, { 'x-amzn-requestid': crypto.randomUUID(), ...(f.headers ?? {}) });
          res.end(f.body);
          return;
        }
        const d = delays.find((x) => matches(x.match, r));
        if (d) await new Promise((ok) => setTimeout(ok, d.ms));
        const headers = { ...req.headers, host: t.host };
        const up = http.request({ host: t.hostname, port: Number(t.port || 80), method: r.method, path: r.url, headers }, (ur) => {
          const out: Buffer[] = [];
          ur.on('data', (c: Buffer) => out.push(c));
          ur.on('end', () => {
            const response = Buffer.concat(out);
            const s: Seen = { ...r, status: ur.statusCode ?? 0, response: response.toString('utf8'), injected: false };
            seen.push(s);
            const h = { ...ur.headers };
            delete h['transfer-encoding'];
            h['content-length'] = String(response.length);
            for (const a of [...afters]) if (a.beforeReply && matches(a.match, r)) a.fn(s);
            if (res.destroyed || !server.listening) return;
            res.writeHead(ur.statusCode ?? 502, h);
            res.end(response, () => {
              for (const a of [...afters]) if (!a.beforeReply && matches(a.match, r)) a.fn(s);
            });
          });
        });
        up.on('error', (e) => {
          seen.push({ ...r, status: 502, response: String(e), injected: false });
          res.writeHead(502);
          res.end(String(e));
        });
        up.end(body);
      })();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const listen = (p: number): Promise<void> =>
    new Promise((ok, fail) => {
      server.once('error', fail);
      server.listen(p, '127.0.0.1', () => {
        server.off('error', fail);
        ok();
      });
    });
  await listen(0);
  port = (server.address() as net.AddressInfo).port;

  const proxy: FaultProxy = {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    injected: () => injectedCount,
    inject(n, fault, match) {
      queue.push({ n, fault, ...(match ? { match } : {}) });
    },
    after(match, fn, opts = {}) {
      const hook = { match, fn, beforeReply: Boolean(opts.beforeReply) };
      afters.push(hook);
      return () => {
        const i = afters.indexOf(hook);
        if (i >= 0) afters.splice(i, 1);
      };
    },
    delay(match, ms) {
      delays.push({ match, ms });
    },
    cutOn(match) {
      return new Promise((resolve) => (cutter = { match, resolve }));
    },
    async cut() {
      if (!server.listening) return;
      const closed = new Promise<void>((ok) => server.close(() => ok()));
      for (const s of sockets) s.destroy();
      await closed;
    },
    async restore() {
      if (!server.listening) await listen(port);
    },
    async close() {
      await proxy.cut();
    },
  };
  return proxy;
}
