/** A TCP relay on loopback that can be cut: the network partition of the leader-election tests. */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpRelay {
  /** Where to connect instead of the target (the TLS inside is relayed as is). */
  url: string;
  /** From now on nothing more is forwarded either way; connections stay open (a silent partition). */
  cut(): void;
  close(): Promise<void>;
}

export async function tcpRelay(target: URL): Promise<TcpRelay> {
  let cut = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    const outbound = connect(Number(target.port), target.hostname);
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => (sockets.delete(s), inbound.destroy(), outbound.destroy()));
    }
    inbound.on('data', (c: Buffer) => void (cut || outbound.write(c)));
    outbound.on('data', (c: Buffer) => void (cut || inbound.write(c)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `${target.protocol}//127.0.0.1:${port}`,
    cut: () => void (cut = true),
    close: () => new Promise((resolve) => (sockets.forEach((s) => s.destroy()), server.close(() => resolve()))),
  };
}
