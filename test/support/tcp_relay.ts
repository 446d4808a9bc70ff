/** A TCP relay on loopback that can be cut, restored and slowed: the network faults of the leader-election tests and the soak. */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpRelay {
  /** Where to connect instead of the target (the TLS inside is relayed as is). */
  url: string;
  /** From now on nothing more is forwarded either way; connections stay open (a silent partition). */
  cut(): void;
  /** Forwards again: the connections open during the cut are closed (their streams lost bytes), new ones are relayed. */
  restore(): void;
  /** Holds every chunk this long each way from now on (0: none); the order of bytes is kept. */
  delay(ms: number): void;
  close(): Promise<void>;
}

export async function tcpRelay(target: URL): Promise<TcpRelay> {
  let cut = false;
  let delayMs = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    const outbound = connect(Number(target.port), target.hostname);
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => (sockets.delete(s), inbound.destroy(), outbound.destroy()));
    }
    const forward = (to: Socket) => {
      let lastDue = 0;
      return (c: Buffer) => {
        if (cut) return;
        if (delayMs <= 0 && lastDue <= performance.now()) return void to.write(c);
        const due = Math.max(performance.now() + delayMs, lastDue);
        lastDue = due;
        setTimeout(() => void (cut || to.destroyed || to.write(c)), due - performance.now());
      };
    };
    inbound.on('data', forward(outbound));
    outbound.on('data', forward(inbound));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `${target.protocol}//127.0.0.1:${port}`,
    cut: () => void (cut = true),
    restore: () => {
      if (cut) for (const s of sockets) s.destroy();
      cut = false;
    },
    delay: (ms: number) => void (delayMs = ms),
    close: () => new Promise((resolve) => (sockets.forEach((s) => s.destroy()), server.close(() => resolve()))),
  };
}
