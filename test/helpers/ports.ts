// Free TCP ports on loopback for the servers a test starts, taken below the kernel's ephemeral range.
//
// A server a test stops and starts again (a mailstore that goes down, a Redis restarted) must get its
// port back. Inside the ephemeral range (32768-60999 here) it may not: while nothing listens, an
// outgoing connection to that port can be given the very same port as its source and connect to
// itself (a TCP self-connect), holding the port as long as the client waits for a greeting. Below
// the range no outgoing connection ever takes a port, so the servers' ports are picked in 23000-29999
// (the Redis Cluster helper has 20000-22767 and its bus ports 30000-32767).
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';

export const TEST_PORT_LOW = 23000;
export const TEST_PORT_HIGH = 29999;

/** The kernel's ephemeral range, or the usual Linux one where it cannot be read. */
function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    return [Number(low), Number(high)];
  } catch {
    return [32768, 60999];
  }
}

const [EPHEMERAL_LOW, EPHEMERAL_HIGH] = ephemeralRange();
/** On a machine whose ephemeral range covers ours, the OS's choice is as good as any. */
const RANGE_USABLE = TEST_PORT_HIGH < EPHEMERAL_LOW || TEST_PORT_LOW > EPHEMERAL_HIGH;

/** Whether nothing listens on 127.0.0.1:port now. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function osPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A random port of the test range, not checked: for a caller that binds it and tries again when taken. */
export function randomTestPort(): number {
  return TEST_PORT_LOW + Math.floor(Math.random() * (TEST_PORT_HIGH - TEST_PORT_LOW + 1));
}

/** A port nothing listens on now, outside the ephemeral range where the machine allows it. */
export async function freePort(): Promise<number> {
  if (!RANGE_USABLE) return osPort();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = randomTestPort();
    if (await portFree(port)) return port;
  }
  throw new Error(`no free port in ${TEST_PORT_LOW}-${TEST_PORT_HIGH}`);
}
