// The configuration schema: every setting, its default, and the cross-checks between sections.
import { isIP } from 'node:net';
import { z } from 'zod';
import { existsSync } from 'node:fs';
import { parseDuration, parseEndpoint, parseHostPort, parseRetrySchedule, parseSize } from './units.js';

/** A value written in human units ("30s", "50mb"), parsed into a number with a helpful error. */
const humanUnit =
  (parse: (value: string | number) => number | undefined, what: string, examples: string) => (fallback: string) =>
    z
      .union([z.string(), z.number()])
      .default(fallback)
      .transform((value, context) => {
        const parsed = parse(value);
        if (parsed === undefined) {
          context.addIssue({ code: 'custom', message: `not a ${what}: ${String(value)} (use e.g. ${examples})` });
          return z.NEVER;
        }
        return parsed;
      });

const duration = humanUnit(parseDuration, 'duration', '30s, 5m, 2h, 5d');
const size = humanUnit(parseSize, 'size', '512kb, 50mb, 4gb');

const hostPort = z.string().transform((value, context) => {
  const parsed = parseHostPort(value);
  if (!parsed) {
    context.addIssue({ code: 'custom', message: `not host:port: ${value}` });
    return z.NEVER;
  }
  return parsed;
});

/** A mailstore's endpoint: host:port, or unix:/path for a store on this machine. */
const storeEndpoint = z.string().transform((value, context) => {
  const parsed = parseEndpoint(value);
  if (!parsed) {
    context.addIssue({ code: 'custom', message: `not host:port or unix:/path: ${value}` });
    return z.NEVER;
  }
  return parsed;
});

/** LMTP/SMTP AUTH to a store: the password in the file, or here (never logged either way). */
const storeAuth = z
  .strictObject({
    user: z.string().min(1),
    pass: z.string().min(1).optional(),
    passFile: z
      .string()
      .refine((path) => existsSync(path), 'the password file does not exist')
      .optional(),
    /** The SASL mechanism; by default the first of PLAIN, LOGIN that the store offers. */
    method: z.enum(['PLAIN', 'LOGIN']).optional(),
  })
  .refine(
    (auth) => (auth.pass === undefined) !== (auth.passFile === undefined),
    'give exactly one of pass and passFile',
  );

/** An IPv4/IPv6 address or a CIDR block ("192.0.2.0/24"). */
const addressOrBlock = z.string().refine((value) => {
  const [address = '', bits, ...rest] = value.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
}, 'an IP address or a CIDR block such as 192.0.2.0/24');

/** Mailstore ids become BullMQ queue names, which may not contain ':'. */
const mailstoreId = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'mailstore ids are letters, digits, _ . - (no ":")');

const mailstore = z.strictObject({
  endpoints: z.array(storeEndpoint).min(1, 'a mailstore needs at least one endpoint'),
  protocol: z.enum(['lmtp', 'smtp']).default('lmtp'),
  auth: storeAuth.optional(),
  /**
   * TLS to the store: none (the default, for a store on the same host or network segment),
   * starttls (required: a store that does not offer it is not delivered to), or implicit (TLS
   * from the first byte). The certificate is verified against the system's CAs, or `ca`.
   */
  tls: z
    .strictObject({
      mode: z.enum(['none', 'starttls', 'implicit']).default('none'),
      ca: z
        .string()
        .refine((path) => existsSync(path), 'the CA file does not exist')
        .optional(),
      verify: z.boolean().default(true),
      /** The name the certificate must carry, when it is not the endpoint's host. */
      servername: z.string().optional(),
    })
    .prefault({}),
  concurrency: z.number().int().min(1).max(1000).default(10),
  /**
   * A permanent "mailbox full" (552 5.2.2, as Cyrus answers with lmtp_over_quota_perm_failure):
   * bounce (the default, as Postfix does), or defer: keep the mail and retry it on the store's
   * schedule until the user has room or its lifetime runs out (then it bounces as expired).
   * A temporary one (452 4.2.2) is always deferred.
   */
  mailboxFull: z.enum(['bounce', 'defer']).default('bounce'),
  retry: z
    .string()
    .default('1m,5m*2,15m*4,1h')
    .transform((value, context) => {
      const intervals = parseRetrySchedule(value);
      if (!intervals) {
        context.addIssue({ code: 'custom', message: `not a retry schedule: ${value} (use e.g. 1m,5m*2,1h*3)` });
        return z.NEVER;
      }
      return intervals;
    }),
  lifetime: duration('5d'),
  /** Messages per second once fully open; 0: no limit but concurrency. */
  rate: z.number().min(0).default(0),
  ramp: z
    .strictObject({
      startRate: z.number().gt(0).default(5),
      startConcurrency: z.number().int().min(1).default(2),
      step: duration('30s'),
      /** Without a store rate, the ramp counts the store as fully open at this pace. */
      ceiling: z.number().gt(0).default(200),
    })
    .prefault({}),
  trip: z
    .strictObject({
      enabled: z.boolean().default(true),
      failures: z.number().int().min(1).default(5),
      probeInterval: duration('30s'),
      maxProbeInterval: duration('10m'),
    })
    .prefault({}),
  guard: z
    .strictObject({
      enabled: z.boolean().default(true),
      threshold: z.number().int().min(1).default(5),
      ratio: z.number().gt(0).max(1).default(0.5),
      window: duration('10m'),
    })
    .prefault({}),
  timeouts: z
    .strictObject({ connect: duration('10s'), greeting: duration('30s'), socket: duration('5m') })
    .prefault({}),
  /** Above any of these (0: no limit), new mail for the store gets 452 at RCPT; other stores are unaffected. */
  backlogLimit: z
    .strictObject({
      messages: z.number().int().min(0).default(0),
      bytes: size('0'),
      oldestAge: duration('0s'),
    })
    .prefault({}),
  /**
   * The safety net: a compressed copy of each delivery to the store, kept `period` within `budget`
   * bytes (oldest dropped first), for `holdfast replay` after a restore from a lagging replica.
   */
  retention: z
    .strictObject({
      enabled: z.boolean().default(true),
      period: duration('48h').refine((value) => value >= 60_000, 'the retention period is at least 1m'),
      budget: size('100mb'),
    })
    .prefault({}),
});

const domain = z.strictObject({
  mailstore: mailstoreId,
  rejectUnknownUsers: z.boolean().default(true),
});

const sentinel = z.strictObject({ host: z.string().min(1), port: z.number().int().min(1).max(65535) });

const redis = z
  .strictObject({
    url: z
      .string()
      .regex(/^(rediss?|unix):\/\//, 'a redis:// rediss:// or unix:// URL')
      .optional(),
    sentinels: z.array(sentinel).min(1).optional(),
    sentinelName: z.string().default('mymaster'),
    /**
     * A Redis Cluster: some of its nodes (ioredis finds the rest). Each mailstore's keys hash to
     * one slot (its hash tag), so stores spread over the shards (docs/scaling.md).
     */
    cluster: z.strictObject({ nodes: z.array(sentinel).min(1) }).optional(),
    password: z.string().optional(),
    /**
     * How queued bodies are stored: gzip (fastest level) or none. gzip lets the same Redis hold
     * about twice as much mail through an outage; bodies streamed in (over limits.messageBuffer) stay as received.
     */
    bodyCompression: z.enum(['gzip', 'none']).default('gzip'),
    durability: z.enum(['strict', 'relaxed']).default('strict'),
    replicas: z.number().int().min(0).default(0),
    replicaTimeout: duration('2s'),
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9_{}-]+$/, 'letters, digits, _ - { } only')
      .default('hf'),
    embedded: z
      .strictObject({
        dir: z.string().default('./var/redis'),
        binary: z.string().default('redis-server'),
        maxmemory: size('4gb'),
      })
      .prefault({}),
  })
  .refine((value) => [value.url, value.sentinels, value.cluster].filter(Boolean).length <= 1, {
    message: 'give one of url, sentinels or cluster',
  })
  .refine((value) => !(value.cluster && /[{}]/.test(value.prefix)), {
    message: 'with cluster, the prefix must not contain { or }: each mailstore hash-tags its own keys',
    path: ['prefix'],
  });

/** The listener's STARTTLS certificate and TLS settings. */
const listenerTls = z.strictObject({
  key: z.string().min(1),
  cert: z.string().min(1),
  /** The oldest TLS version STARTTLS accepts. */
  minVersion: z.enum(['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
  /** An OpenSSL cipher list (Node's `ciphers`); unset: Node's default list. */
  ciphers: z.string().min(1).optional(),
  /**
   * How often the key and certificate files are looked at: changed (a certbot renewal), they are
   * read again for new sessions. SIGHUP reads them at once.
   */
  checkInterval: duration('5s'),
});

/** PROXY protocol v1/v2 from a load balancer: every connection must start with a valid header. */
const listenerProxyProtocol = z
  .strictObject({
    enabled: z.boolean().default(false),
    /** Addresses or CIDR blocks of the proxies; connections from any other peer are dropped. Empty: any peer. */
    trustedProxies: z.array(addressOrBlock).default([]),
  })
  .prefault({});

export const configSchema = z.strictObject({
  listener: z
    .strictObject({
      host: z.string().default('0.0.0.0'),
      port: z.number().int().min(0).max(65535).default(25),
      hostname: z.string().min(1).default('localhost'),
      tls: listenerTls.optional(),
      /** How long a client waits for the 220 greeting; one that talks before it is refused (an early talker). */
      greetingPause: duration('0s'),
      /** Line endings other than CRLF inside DATA: `normalize` them to CRLF, or `reject` the message (550 5.5.2). */
      bareLineEndings: z.enum(['normalize', 'reject']).default('normalize'),
      proxyProtocol: listenerProxyProtocol,
    })
    .prefault({}),
  /**
   * Several addresses to listen on (IPv4 and IPv6, or several interfaces), each with its own
   * STARTTLS certificate and PROXY protocol setting. Given, it replaces listener.host, port, tls and
   * proxyProtocol; hostname, greetingPause and bareLineEndings stay in listener, for all of them.
   */
  listeners: z
    .array(
      z.strictObject({
        host: z.string().default('0.0.0.0'),
        port: z.number().int().min(0).max(65535).default(25),
        tls: listenerTls.optional(),
        proxyProtocol: listenerProxyProtocol,
      }),
    )
    .min(1)
    .optional(),
  limits: z
    .strictObject({
      maxMessageSize: size('50mb'),
      /** Bytes of a message a session holds in memory; the rest is written into Redis as it arrives. */
      messageBuffer: size('256kb'),
      maxRecipients: z.number().int().min(1).default(1000),
      /** The longest command line (octets, without the CRLF); longer gets 421 and the connection closes. */
      commandLineLength: z.number().int().min(512).default(2048),
      connections: z
        .strictObject({
          total: z.number().int().min(1).default(1000),
          perIp: z.number().int().min(1).default(20),
          /** New connections per minute from one address (0: no limit); more get 421 4.7.0. */
          ratePerIp: z.number().int().min(0).default(0),
          /** Messages (MAIL FROM) per minute from one client (0: no limit); more get 450 4.7.1. */
          messageRatePerIp: z.number().int().min(0).default(0),
          /** Recipients (RCPT TO) per minute from one client (0: no limit); more get 450 4.7.1. */
          recipientRatePerIp: z.number().int().min(0).default(0),
          /** Every per-client limit above counts an IPv6 client by this many leading bits (a subscriber's /64); 128: per address. */
          ipv6Prefix: z.number().int().min(16).max(128).default(64),
        })
        .prefault({}),
      timeouts: z
        .strictObject({
          socket: duration('5m'),
          enqueue: duration('5s'),
          /** From connecting, or from the reply to the previous message, to the end of the next message. */
          transaction: duration('30m'),
        })
        .prefault({}),
      redisMemoryHighWater: z.number().gt(0).max(1).default(0.9),
    })
    .prefault({}),
  domains: z.record(z.string().min(1), domain).refine((value) => Object.keys(value).length > 0, {
    message: 'at least one local domain is needed',
  }),
  routing: z
    .strictObject({
      users: z.record(z.string().min(3), mailstoreId).default({}),
      file: z.string().optional(),
    })
    .prefault({}),
  mailstores: z.record(mailstoreId, mailstore).refine((value) => Object.keys(value).length > 0, {
    message: 'at least one mailstore is needed',
  }),
  redis: redis.prefault({}),
  bounces: z
    .strictObject({
      smarthost: hostPort.optional(),
      sender: z.string().optional(),
    })
    .prefault({}),
  shutdown: z.strictObject({ grace: duration('30s') }).prefault({}),
  workers: z
    .strictObject({
      lockDuration: duration('30s'),
      stalledInterval: duration('15s'),
      /** How often a worker that takes no due job is looked for (and restarted). */
      watchdogInterval: duration('30s'),
      /**
       * Delivery processes started by `holdfast start` beside the main one (SMTP intake, policy,
       * admin API), so that intake and delivery each have a core; 0: delivery in the main process.
       */
      processes: z.number().int().min(0).max(32).default(1),
    })
    .prefault({}),
  admin: z
    .strictObject({
      enabled: z.boolean().default(true),
      host: z.string().min(1).default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(8025),
      /** Bearer token for the admin API; better from HOLDFAST_ADMIN_TOKEN or tokenFile than in this file. */
      token: z.string().min(16, 'an admin token needs at least 16 characters').optional(),
      tokenFile: z.string().optional(),
    })
    .prefault({}),
  /** The message trace: every message's events, kept this long after its latest one, within these bounds. */
  trace: z
    .strictObject({
      retention: duration('7d').refine((value) => value >= 60_000, 'the trace retention is at least 1m'),
      maxEventsPerMessage: z.number().int().min(10).max(10_000).default(200),
      maxMessagesPerRecipient: z.number().int().min(1).max(100_000).default(1000),
    })
    .prefault({}),
  log: z.strictObject({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info') }).prefault({}),
});

/**
 * Checks that every mailstore named by a domain or a routing entry exists. It reads the raw
 * input loosely, so it runs (and reports) even when other parts of the file are invalid.
 */
export function crossCheck(raw: unknown): string[] {
  const section = (value: unknown, key: string): Record<string, unknown> => {
    const child = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
    return typeof child === 'object' && child !== null ? (child as Record<string, unknown>) : {};
  };
  const stores = new Set(Object.keys(section(raw, 'mailstores')));
  const problems: string[] = [];
  for (const store of stores) {
    // zod reports a bad record key without its message: say what a valid id is.
    if (!mailstoreId.safeParse(store).success)
      problems.push(`mailstores.${store}: ids are letters, digits, _ . - (no ":")`);
  }
  for (const [name, settings] of Object.entries(section(raw, 'domains'))) {
    const store = section({ settings }, 'settings').mailstore;
    if (typeof store === 'string' && !stores.has(store))
      problems.push(`domains.${name}.mailstore: unknown mailstore "${store}"`);
  }
  if (Array.isArray((raw as Record<string, unknown> | null)?.listeners)) {
    const listener = section(raw, 'listener');
    for (const key of ['host', 'port', 'tls', 'proxyProtocol'])
      if (key in listener) problems.push(`listener.${key}: with listeners, set it for each address in listeners`);
  }
  for (const [address, store] of Object.entries(section(section(raw, 'routing'), 'users'))) {
    if (typeof store === 'string' && !stores.has(store))
      problems.push(`routing.users.${address}: unknown mailstore "${store}"`);
  }
  return problems;
}

export type Config = z.output<typeof configSchema>;

/** One address the SMTP front listens on, with its TLS and PROXY settings. */
export type ListenerAddress = Pick<Config['listener'], 'host' | 'port' | 'tls' | 'proxyProtocol'>;

/** Where the SMTP front listens: `listeners`, or the one address of `listener`. */
export function listenerAddresses(config: Config): ListenerAddress[] {
  return config.listeners ?? [config.listener];
}
export type MailstoreConfig = Config['mailstores'][string];
export type Endpoint = MailstoreConfig['endpoints'][number];
