/** Connection options for Temporal from config (address, namespace, TLS, API key: Temporal's env conventions). */
import { readFileSync } from 'node:fs';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import type { Config } from '../config';

type TlsOptions = NonNullable<ConnectionOptions['tls']>;

function tlsOf(cfg: Config): TlsOptions | undefined {
  const wantsTls = cfg.TEMPORAL_TLS || !!cfg.TEMPORAL_API_KEY || !!cfg.TEMPORAL_TLS_CLIENT_CERT_PATH;
  if (!wantsTls) return undefined;
  const tls: Record<string, unknown> = {};
  if (cfg.TEMPORAL_TLS_SERVER_NAME) tls.serverNameOverride = cfg.TEMPORAL_TLS_SERVER_NAME;
  if (cfg.TEMPORAL_TLS_SERVER_CA_CERT_PATH) tls.serverRootCACertificate = readFileSync(cfg.TEMPORAL_TLS_SERVER_CA_CERT_PATH);
  if (cfg.TEMPORAL_TLS_CLIENT_CERT_PATH && cfg.TEMPORAL_TLS_CLIENT_KEY_PATH) {
    tls.clientCertPair = { crt: readFileSync(cfg.TEMPORAL_TLS_CLIENT_CERT_PATH), key: readFileSync(cfg.TEMPORAL_TLS_CLIENT_KEY_PATH) };
  }
  return tls as TlsOptions;
}

/** Options for a client `Connection`. */
export function clientConnectionOptions(cfg: Config): ConnectionOptions {
  const tls = tlsOf(cfg);
  return {
    address: cfg.TEMPORAL_ADDRESS,
    ...(tls ? { tls } : {}),
    ...(cfg.TEMPORAL_API_KEY ? { apiKey: cfg.TEMPORAL_API_KEY } : {}),
    connectTimeout: 5_000,
  };
}

/** Options for a worker's `NativeConnection`. */
export function nativeConnectionOptions(cfg: Config): NativeConnectionOptions {
  const tls = tlsOf(cfg);
  return {
    address: cfg.TEMPORAL_ADDRESS,
    ...(tls ? { tls: tls as NativeConnectionOptions['tls'] } : {}),
    ...(cfg.TEMPORAL_API_KEY ? { apiKey: cfg.TEMPORAL_API_KEY } : {}),
  };
}

/** Connects a client; fails with a message naming TEMPORAL_ADDRESS when the server is unreachable. */
export async function connectClient(cfg: Config): Promise<Client> {
  let connection: Connection;
  try {
    connection = await Connection.connect(clientConnectionOptions(cfg));
  } catch (err) {
    throw new Error(`cannot reach Temporal at TEMPORAL_ADDRESS=${cfg.TEMPORAL_ADDRESS}: ${(err as Error).message}`);
  }
  return new Client({ connection, namespace: cfg.TEMPORAL_NAMESPACE });
}

/** Connects a worker connection; fails naming TEMPORAL_ADDRESS. */
export async function connectNative(cfg: Config): Promise<NativeConnection> {
  try {
    return await NativeConnection.connect(nativeConnectionOptions(cfg));
  } catch (err) {
    throw new Error(`cannot reach Temporal at TEMPORAL_ADDRESS=${cfg.TEMPORAL_ADDRESS}: ${(err as Error).message}`);
  }
}
