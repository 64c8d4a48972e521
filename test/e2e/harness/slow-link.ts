// A TCP relay in front of a store that holds back the store's replies: a slow store, whose deliveries are in flight longer.
import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * Every byte from the store reaches the client `delayMs` later (in order); the client's bytes go
 * through at once. An LMTP delivery then takes one delay per command, and the store has written the
 * message before Holdfast sees its 250: the window a crash turns into a duplicate.
 */
export class SlowLink {
  port = 0;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly targetPort: number,
    private readonly delayMs: number,
  ) {}

  async start(): Promise<number> {
    const server = createServer((client) => this.relay(client));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
    return this.port;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private relay(client: Socket): void {
    const store = connect(this.targetPort, '127.0.0.1');
    for (const socket of [client, store]) {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        store.destroy();
      });
    }
    const later = (action: () => void) => setTimeout(action, this.delayMs);
    store.on('data', (chunk: Buffer) => later(() => client.write(chunk)));
    store.on('end', () => later(() => client.end()));
    client.on('data', (chunk: Buffer) => store.write(chunk));
    client.on('end', () => store.end());
  }
}
