/**
 * A real Mosquitto for tests: a generated config on a free loopback port,
 * optional TLS (a throw-away CA, server and client certificates made with
 * openssl), optional password file (mosquitto_passwd), optional ACL,
 * persistence in a temp dir so sessions survive a restart. Stop, start and
 * restart it to simulate a broker going away; `close()` in afterAll.
 *
 *   const broker = await startMosquitto({ tls: true, users: { gw: 'secret' } });
 *   ... broker.url, broker.certs.caFile ...
 *   await broker.close();
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';

export interface MosquittoOptions {
  /** Serve MQTT over TLS (mqtts://); `requireClientCert` also demands a client certificate signed by the test CA. */
  tls?: boolean | { requireClientCert: boolean };
  /** User name -> password; when given, anonymous clients are refused. */
  users?: Record<string, string>;
  /** ACL file text (mosquitto `acl_file` syntax). */
  acl?: string;
  /** Keep sessions and queued messages across stop/start. Default true. */
  persistence?: boolean;
  /** Further mosquitto.conf lines. */
  extraConfig?: string[];
}

export interface TestCerts {
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  /** Signed by the same CA, for brokers that require client certificates. */
  clientCertFile: string;
  clientKeyFile: string;
  /** A CA that signed nothing here: a client trusting it must refuse the broker. */
  otherCaFile: string;
}

export interface Mosquitto {
  host: string;
  port: number;
  /** mqtt://127.0.0.1:PORT or mqtts://127.0.0.1:PORT. */
  url: string;
  dir: string;
  certs: TestCerts | null;
  readonly running: boolean;
  start(): Promise<void>;
  /** SIGTERM (Mosquitto saves its persistence file), SIGKILL if it does not exit in time. */
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** Stop and delete the temp dir. */
  close(): Promise<void>;
  /** Mosquitto's own log so far. */
  log(): string;
}

const HOST = '127.0.0.1';

/** The mosquitto binary: on PATH, or where Debian puts it (outside a normal user's PATH). */
export function mosquittoBinary(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    try {
      accessSync(join(d, 'mosquitto'), constants.X_OK);
      return join(d, 'mosquitto');
    } catch {
      // next
    }
  }
  return null;
}

/** A port nothing listens on right now (the broker binds it a moment later). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export async function startMosquitto(opts: MosquittoOptions = {}): Promise<Mosquitto> {
  const bin = mosquittoBinary();
  if (!bin) throw new Error('mosquitto not found on PATH or in /usr/sbin: run scripts/install-test-deps.sh');
  const dir = mkdtempSync(join(tmpdir(), 'loupe-mosquitto-'));
  const port = await freePort();
  const certs = opts.tls ? makeCerts(dir) : null;
  const conf = join(dir, 'mosquitto.conf');
  const logFile = join(dir, 'mosquitto.log');
  const lines = [
    `listener ${port} ${HOST}`,
    // Root would otherwise switch to the mosquitto user, who cannot read this temp dir.
    `user ${userInfo().username}`,
    `log_dest file ${logFile}`,
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'connection_messages true',
    'max_queued_messages 100000',
    'max_inflight_messages 100',
  ];
  if (opts.persistence !== false) lines.push('persistence true', `persistence_location ${dir}/`, 'autosave_interval 1');
  if (opts.users) {
    const pw = join(dir, 'passwd');
    writeFileSync(pw, '');
    for (const [user, password] of Object.entries(opts.users)) execFileSync('mosquitto_passwd', ['-b', pw, user, password], { stdio: 'pipe' });
    lines.push('allow_anonymous false', `password_file ${pw}`);
  } else {
    lines.push('allow_anonymous true');
  }
  if (opts.acl !== undefined) {
    const acl = join(dir, 'acl');
    writeFileSync(acl, opts.acl);
    lines.push(`acl_file ${acl}`);
  }
  if (certs) {
    lines.push(`cafile ${certs.caFile}`, `certfile ${certs.serverCertFile}`, `keyfile ${certs.serverKeyFile}`);
    const requireClientCert = typeof opts.tls === 'object' && opts.tls.requireClientCert;
    lines.push(`require_certificate ${requireClientCert ? 'true' : 'false'}`);
  }
  lines.push(...(opts.extraConfig ?? []));
  writeFileSync(conf, `${lines.join('\n')}\n`);

  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();

  const broker: Mosquitto = {
    host: HOST,
    port,
    url: `${certs ? 'mqtts' : 'mqtt'}://${HOST}:${port}`,
    dir,
    certs,
    get running() {
      return child !== null;
    },
    async start() {
      if (child) return;
      const c = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      c.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      child = c;
      exited = new Promise((resolve) =>
        c.once('exit', () => {
          if (child === c) child = null;
          resolve();
        }),
      );
      const deadline = Date.now() + 10_000;
      while (!(await canConnect(port))) {
        if (child !== c) throw new Error(`mosquitto exited at start: ${stderr.trim()}\n${broker.log()}`);
        if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${port} within 10 s\n${broker.log()}`);
        await sleep(25);
      }
    },
    async stop() {
      const c = child;
      if (!c) return;
      c.kill('SIGTERM');
      const killed = setTimeout(() => c.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killed);
      // The port must be free before a restart binds it again.
      const deadline = Date.now() + 5000;
      while ((await canConnect(port)) && Date.now() < deadline) await sleep(25);
    },
    async restart() {
      await broker.stop();
      await broker.start();
    },
    async close() {
      await broker.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    log() {
      try {
        return readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    },
  };
  await broker.start();
  return broker;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: HOST, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A CA, a server certificate for 127.0.0.1/localhost and a client certificate, all short-lived. */
function makeCerts(dir: string): TestCerts {
  const f = (name: string) => join(dir, name);
  const ssl = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl(['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=Loupe test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  ssl(['req', '-x509', ...ec, '-keyout', f('other-ca.key'), '-out', f('other-ca.crt'), '-days', '2', '-subj', '/CN=Some other CA']);
  const leaf = (name: string, cn: string, ext: string) => {
    writeFileSync(f(`${name}.ext`), ext);
    ssl(['req', ...ec, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${cn}`]);
    ssl(['x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${name}.crt`), '-days', '2', '-extfile', f(`${name}.ext`)]);
  };
  leaf('server', 'localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'loupe-test-client', 'extendedKeyUsage=clientAuth\n');
  return {
    caFile: f('ca.crt'),
    serverCertFile: f('server.crt'),
    serverKeyFile: f('server.key'),
    clientCertFile: f('client.crt'),
    clientKeyFile: f('client.key'),
    otherCaFile: f('other-ca.crt'),
  };
}
