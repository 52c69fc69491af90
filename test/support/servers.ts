// Real servers on loopback for the remote binary cache tier: an nginx binary cache
// (WebDAV PUT), an OpenSSH server in front of a second Nix store (ssh-ng://), moto as
// S3, and two that fail (a port that accepts and never answers, a port with nothing
// listening). Each starter picks a free port on 127.0.0.1, writes its files under the
// caller's directory, returns once the server answers, and stop() ends the server's
// whole process group. Imports nothing of Vitest, so benchmarks can use it too.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server as NetServer, type Socket } from "node:net";
import { join } from "node:path";

export interface Server {
  /** What Nix is given: a store URL, or http://127.0.0.1:PORT for the plain TCP ones. */
  url: string;
  port: number;
  /** Ends the server (its whole process group); a second call does nothing. */
  stop(): Promise<void>;
}

export interface HttpRequest {
  method: string;
  /** The request's path and query as the client sent it, e.g. "/nar/1abc….nar.zst". */
  path: string;
  status: number;
}

export interface HttpCache extends Server {
  /** The directory nginx serves and PUTs into (nix-cache-info, *.narinfo, nar/). */
  root: string;
  /** Every request so far, from nginx's access log, oldest first. */
  requests(): HttpRequest[];
}

export interface SshStore extends Server {
  /**
   * ssh-ng://root@127.0.0.1?remote-store=local%3Froot%3D<storeRoot>&base64-ssh-public-host-key=…
   * (no ssh-key=: add `&ssh-key=<file>` where the job wrote the private key).
   */
  url: string;
  /** The client's private key, as a job gets it from a secret. */
  privateKey: string;
  /** privateKey written to a file (mode 0600), for ssh-key= or -i. */
  keyFile: string;
  /** NIX_SSHOPTS for this server: the port (Nix 2.8 takes none in the URL). */
  sshOpts: string;
  /** The remote store's root: its paths are under <storeRoot>/nix/store, not /nix/store. */
  storeRoot: string;
}

export interface S3Bucket extends Server {
  /** s3://BUCKET?endpoint=http://127.0.0.1:PORT&region=us-east-1 */
  url: string;
  bucket: string;
  /** http://127.0.0.1:PORT, moto's own endpoint. */
  endpoint: string;
  /** Dummy credentials (moto takes any). */
  env: Record<string, string>;
  /** The bucket's object keys (an unsigned ListObjects, which moto answers). */
  keys(): Promise<string[]>;
}

/** The virtualenv with moto that scripts/setup.sh makes once (NIX_CI_CACHE_MOTO overrides). */
export function motoVenv(): string {
  return process.env.NIX_CI_CACHE_MOTO ?? "/var/cache/nix-ci-cache/moto";
}

const LOOPBACK = "127.0.0.1";

/** A port on 127.0.0.1 that was free a moment ago (the kernel's pick). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, LOOPBACK, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A port with nothing listening: a connection is refused at once. */
export function closedPort(): Promise<number> {
  return freePort();
}

/** Accepts TCP connections and never sends a byte, like a server that hangs. */
export async function startHangingServer(): Promise<Server & { connections(): Promise<number> }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: NetServer = createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on("error", () => {});
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, LOOPBACK, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  let stopped: Promise<void> | undefined;
  return {
    url: `http://${LOOPBACK}:${port}`,
    port,
    // While this process's event loop is blocked (spawnSync), the kernel completes the
    // handshakes and holds the connections in the listen backlog, which is the same to
    // the client; they are accepted (and counted) once the loop runs again.
    connections: async () => {
      await new Promise((r) => setTimeout(r, 100));
      return accepted;
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      });
      return stopped;
    },
  };
}

// Every process group started here, killed when this process exits without stop().
const live = new Set<number>();
process.on("exit", () => {
  for (const pid of live) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {}
  }
});

interface Started {
  child: ChildProcess;
  log: string;
  stop(): Promise<void>;
}

/** Starts argv in a process group of its own, stdout and stderr to logFile. */
function startProcess(argv: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): Started {
  const fd = openSync(logFile, "a");
  const child = spawn(argv[0] as string, argv.slice(1), { detached: true, stdio: ["ignore", fd, fd], env });
  closeSync(fd);
  child.on("error", () => {});
  const pid = child.pid;
  if (pid === undefined) throw new Error(`cannot start ${argv[0]}`);
  live.add(pid);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  let stopped: Promise<void> | undefined;
  return {
    child,
    log: logFile,
    stop() {
      stopped ??= (async () => {
        const kill = (sig: NodeJS.Signals) => {
          try {
            process.kill(-pid, sig);
          } catch {}
        };
        kill("SIGTERM");
        const timer = setTimeout(() => kill("SIGKILL"), 3000);
        await exited;
        clearTimeout(timer);
        // What the leader left behind (nginx's workers, sshd's sessions).
        kill("SIGKILL");
        live.delete(pid);
      })();
      return stopped;
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls ready() until it holds; fails with the server's log when the process ends or time runs out. */
async function waitReady(s: Started, what: string, ready: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (s.child.exitCode !== null || s.child.signalCode !== null) {
      await s.stop();
      throw new Error(`${what} ended before it was ready (exit ${s.child.exitCode ?? s.child.signalCode}): ${tail(s.log)}`);
    }
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline) {
      await s.stop();
      throw new Error(`${what} not ready after ${timeoutMs} ms: ${tail(s.log)}`);
    }
    await sleep(50);
  }
}

function tail(file: string): string {
  return existsSync(file) ? readFileSync(file, "utf8").split("\n").slice(-15).join("\n") : "(no log)";
}

/** Fails (throws), never skips, when a program the tests need is missing. */
function requireProgram(path: string, pkg: string): string {
  if (!existsSync(path)) throw new Error(`${path} is missing: install ${pkg} (sh scripts/setup.sh does)`);
  return path;
}

/** Up to three tries: a port picked free can be taken before the server binds it. */
async function onFreePort<T>(start: (port: number) => Promise<T>): Promise<T> {
  let last: unknown;
  for (let i = 0; i < 3; i++) {
    try {
      return await start(await freePort());
    } catch (e) {
      last = e;
    }
  }
  throw last;
}

const isRoot = () => process.getuid?.() === 0;

/**
 * nginx (Debian's nginx-light: its dav module takes Nix's PUTs) serving <dir>/cache as
 * an HTTP binary cache that Nix can upload to (`nix copy --to URL`) and substitute from.
 */
export function startHttpCache(dir: string, opts: { priority?: number } = {}): Promise<HttpCache> {
  const nginx = requireProgram("/usr/sbin/nginx", "nginx-light");
  const root = join(dir, "cache");
  mkdirSync(join(dir, "tmp"), { recursive: true });
  mkdirSync(root, { recursive: true });
  const info = ["StoreDir: /nix/store", ...(opts.priority === undefined ? [] : [`Priority: ${opts.priority}`])];
  writeFileSync(join(root, "nix-cache-info"), `${info.join("\n")}\n`);
  const accessLog = join(dir, "access.log");
  return onFreePort(async (port) => {
    const t = join(dir, "tmp");
    writeFileSync(
      join(dir, "nginx.conf"),
      `# nix-ci-cache test: an HTTP binary cache on loopback
daemon off;
${isRoot() ? "user root;" : ""}
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 64; }
http {
  log_format reqs '$request_method\\t$request_uri\\t$status';
  access_log ${accessLog} reqs;
  client_body_temp_path ${t}/body;
  proxy_temp_path ${t}/proxy;
  fastcgi_temp_path ${t}/fastcgi;
  uwsgi_temp_path ${t}/uwsgi;
  scgi_temp_path ${t}/scgi;
  types { text/x-nix-narinfo narinfo; text/plain nix-cache-info; }
  default_type application/octet-stream;
  server {
    listen ${LOOPBACK}:${port};
    root ${root};
    dav_methods PUT;
    create_full_put_path on;
    dav_access user:rw group:r all:r;
    client_max_body_size 0;
  }
}
`,
    );
    const s = startProcess(
      [nginx, "-p", dir, "-e", join(dir, "error.log"), "-c", join(dir, "nginx.conf")],
      join(dir, "nginx.out"),
    );
    const url = `http://${LOOPBACK}:${port}`;
    await waitReady(s, "nginx", async () => (await fetch(`${url}/nix-cache-info`)).ok);
    return {
      url,
      port,
      root,
      stop: s.stop,
      requests: () =>
        (existsSync(accessLog) ? readFileSync(accessLog, "utf8") : "")
          .split("\n")
          .filter(Boolean)
          .map((line) => {
            const [method = "", path = "", status = "0"] = line.split("\t");
            return { method, path, status: Number(status) };
          }),
    };
  });
}

function sshKeygen(file: string): void {
  const r = spawnSync(
    requireProgram("/usr/bin/ssh-keygen", "openssh-client"),
    ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", file],
    {
      encoding: "utf8",
    },
  );
  if (r.status !== 0) throw new Error(`ssh-keygen -f ${file}: ${r.stderr}`);
}

/**
 * OpenSSH's sshd on loopback in front of a Nix store that is not this machine's
 * /nix/store: Nix's ssh-ng client runs `nix-daemon --stdio --store local?root=<storeRoot>`
 * there (the URL's remote-store=). Root logs in with a key (CI runs as root; so do the
 * tests). The host key is in the URL (base64-ssh-public-host-key=, which Nix writes to
 * a known_hosts file of its own), so nothing of ~/.ssh is read or written.
 *
 * The remote store checks the signatures of what is pushed to it (even from root:
 * Nix 2.8's `nix-daemon --stdio` adds paths with their signatures checked), against
 * its own trusted-public-keys: `trustedPublicKeys` (sshd's SetEnv NIX_CONFIG), as the
 * nix.conf of a shared store would list the keys of the CI jobs that push to it.
 */
export function startSshStore(dir: string, opts: { trustedPublicKeys?: string[] } = {}): Promise<SshStore> {
  const sshd = requireProgram("/usr/sbin/sshd", "openssh-server");
  requireProgram("/usr/bin/ssh", "openssh-client");
  mkdirSync(dir, { recursive: true });
  const hostKey = join(dir, "host_key");
  const keyFile = join(dir, "client_key");
  sshKeygen(hostKey);
  sshKeygen(keyFile);
  chmodSync(keyFile, 0o600);
  writeFileSync(join(dir, "authorized_keys"), readFileSync(`${keyFile}.pub`));
  const storeRoot = join(dir, "remote");
  mkdirSync(storeRoot, { recursive: true });
  // sshd refuses to start without its privilege separation directory, which the
  // service's unit makes (and a container, or a machine where it never ran, lacks).
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const hostPub = readFileSync(`${hostKey}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
  return onFreePort(async (port) => {
    const config = join(dir, "sshd_config");
    writeFileSync(
      config,
      `# nix-ci-cache test: ssh-ng:// store on loopback
Port ${port}
ListenAddress ${LOOPBACK}
HostKey ${hostKey}
AuthorizedKeysFile ${join(dir, "authorized_keys")}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile ${join(dir, "sshd.pid")}
LogLevel VERBOSE
${opts.trustedPublicKeys?.length ? `SetEnv NIX_CONFIG="trusted-public-keys = ${opts.trustedPublicKeys.join(" ")}"` : ""}
`,
    );
    // -D: stay in the foreground (our process group); -e: log to the log file.
    const s = startProcess([sshd, "-D", "-e", "-f", config], join(dir, "sshd.log"));
    await waitReady(s, "sshd", () => banner(port));
    const remoteStore = encodeURIComponent(`local?root=${storeRoot}`);
    return {
      url: `ssh-ng://root@${LOOPBACK}?remote-store=${remoteStore}&base64-ssh-public-host-key=${Buffer.from(hostPub).toString("base64")}`,
      port,
      privateKey: readFileSync(keyFile, "utf8"),
      keyFile,
      sshOpts: `-p ${port}`,
      storeRoot,
      stop: s.stop,
    };
  });
}

/** Whether an SSH server answers on port with its banner. */
function banner(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, LOOPBACK);
    const done = (ok: boolean) => {
      c.destroy();
      resolve(ok);
    };
    c.setTimeout(1000, () => done(false));
    c.once("error", () => done(false));
    c.once("data", (d) => done(d.toString().startsWith("SSH-")));
  });
}

/**
 * moto (an S3 emulation, in the virtualenv scripts/setup.sh makes) with one bucket
 * whose objects anyone may read (a bucket policy): Debian's Nix with S3 support (sid's
 * 2.34) is built without the AWS SDK and sends every S3 request unsigned. moto takes
 * unsigned writes too, which real S3 would refuse.
 */
export function startS3(dir: string, opts: { bucket?: string } = {}): Promise<S3Bucket> {
  const venv = motoVenv();
  const python = requireProgram(join(venv, "bin", "python3"), `moto in ${venv}`);
  // A new name each time: Nix's cache of binary cache facts (~/.cache/nix/binary-cache-*.sqlite)
  // knows an S3 store by its bucket alone, not the endpoint, and would skip this one's
  // nix-cache-info and take narinfos of an earlier bucket of that name for its own.
  const bucket = opts.bucket ?? `nix-cache-${randomBytes(4).toString("hex")}`;
  mkdirSync(dir, { recursive: true });
  return onFreePort(async (port) => {
    const s = startProcess([python, "-m", "moto.server", "-H", LOOPBACK, "-p", String(port)], join(dir, "moto.log"));
    const endpoint = `http://${LOOPBACK}:${port}`;
    await waitReady(s, "moto", async () => (await fetch(`${endpoint}/`)).ok, 60_000);
    const put = async (path: string, body?: string) => {
      const r = await fetch(`${endpoint}${path}`, {
        method: "PUT",
        ...(body === undefined ? {} : { body, headers: { "content-type": "application/json" } }),
      });
      if (!r.ok) throw new Error(`moto: PUT ${path}: ${r.status} ${await r.text()}`);
    };
    try {
      await put(`/${bucket}`);
      await put(
        `/${bucket}?policy`,
        JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Principal: "*", Action: ["s3:GetObject"], Resource: [`arn:aws:s3:::${bucket}/*`] }],
        }),
      );
    } catch (e) {
      await s.stop();
      throw e;
    }
    return {
      url: `s3://${bucket}?endpoint=${endpoint}&region=us-east-1`,
      port,
      bucket,
      endpoint,
      env: { AWS_ACCESS_KEY_ID: "nix-ci-cache-test", AWS_SECRET_ACCESS_KEY: "nix-ci-cache-test" },
      keys: async () => {
        const xml = await (await fetch(`${endpoint}/${bucket}?max-keys=1000`)).text();
        return [...xml.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1] as string);
      },
      stop: s.stop,
    };
  });
}
