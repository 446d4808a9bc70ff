/** What TLS the webhook accepts: 1.2 with ECDHE and AEAD suites only, and 1.3 (Mozilla "intermediate"). */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { connect, type ConnectionOptions } from 'node:tls';
import { startTestWebhook } from '../support/webhook_server.ts';

let url: URL;
let ca: string;
let stop: () => Promise<void>;

beforeAll(async () => {
  const started = await startTestWebhook();
  url = new URL(started.server.url);
  ca = started.ca;
  stop = started.stop;
});

afterAll(() => stop());

/** The negotiated protocol and cipher, or the handshake error's code. */
function handshake(options: ConnectionOptions): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(
      { host: url.hostname, port: Number(url.port), ca, servername: 'localhost', ...options },
      () => {
        resolve(`${socket.getProtocol()} ${socket.getCipher().standardName}`);
        socket.destroy();
      },
    );
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(`refused ${err.code ?? err.message}`));
  });
}

describe('TLS policy', () => {
  test.each(['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305'])(
    'TLS 1.2 with the AEAD suite %s is accepted (the serving key is ECDSA)',
    async (cipher) => {
      expect(await handshake({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: cipher })).toMatch(
        /^TLSv1\.2 TLS_ECDHE_ECDSA_WITH_/,
      );
    },
  );

  test.each([
    'ECDHE-ECDSA-AES128-SHA',
    'ECDHE-ECDSA-AES256-SHA',
    'ECDHE-ECDSA-AES128-SHA256',
    'ECDHE-ECDSA-AES256-SHA384',
    'AES128-SHA',
    'AES128-GCM-SHA256',
  ])('TLS 1.2 with %s (CBC, SHA-1 or no forward secrecy) is refused', async (cipher) => {
    expect(await handshake({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: cipher })).toMatch(/^refused /);
  });

  test('TLS 1.3 is accepted', async () => {
    expect(await handshake({ minVersion: 'TLSv1.3' })).toMatch(/^TLSv1\.3 TLS_(AES|CHACHA20)/);
  });

  test('TLS 1.1 is refused', async () => {
    expect(await handshake({ minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' })).toMatch(
      /^refused /,
    );
  });
});
