/**
 * A round-robin TCP balancer on loopback in front of the webhook replicas, as a Service is: each
 * new connection goes to the next replica, and to the other one when that one refuses it (the TLS
 * inside is relayed as is). A connection whose replica dies is closed, as a pod's would be.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface Balancer {
  port: number;
  /** Connections relayed to each backend so far. */
  connections: number[];
  close(): Promise<void>;
}

export async function balancer(backends: readonly number[]): Promise<Balancer> {
  const sockets = new Set<Socket>();
  const connections = backends.map(() => 0);
  let next = 0;
  const server: Server = createServer((inbound) => {
    sockets.add(inbound);
    inbound.on('error', () => undefined);
    inbound.on('close', () => sockets.delete(inbound));
    inbound.pause();
    const first = next++ % backends.length;
    const attempt = (tried: number) => {
      if (tried >= backends.length || inbound.destroyed) return void inbound.destroy();
      const i = (first + tried) % backends.length;
      const outbound = connect(backends[i]!, '127.0.0.1');
      let connected = false;
      outbound.on('error', () => (connected ? inbound.destroy() : attempt(tried + 1)));
      outbound.on('connect', () => {
        connected = true;
        connections[i]!++;
        sockets.add(outbound);
        outbound.on('close', () => (sockets.delete(outbound), inbound.destroy()));
        inbound.on('close', () => outbound.destroy());
        inbound.pipe(outbound);
        outbound.pipe(inbound);
        inbound.resume();
      });
    };
    attempt(0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    connections,
    close: () => new Promise((resolve) => (sockets.forEach((s) => s.destroy()), server.close(() => resolve()))),
  };
}
