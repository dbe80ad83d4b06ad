import { LoupeError, type ErrorCode } from '../errors.js';

/** Config keys and environment names to name in a message, so it says what to change. */
export interface ConfigHints {
  /** e.g. `uplink.` or `` (sink file): prefix of the config keys. */
  keyPrefix: string;
  /** Environment variable that holds the password. */
  passwordEnv: string;
}

export interface ConnectionFacts {
  url: string;
  username: string | null;
  clientId: string;
  protocolVersion: 5 | '3.1.1';
}

/** MQTT 5 reason codes (CONNACK, PUBACK, DISCONNECT) and their names, for messages. */
const REASONS: Record<number, string> = {
  0x10: 'no matching subscribers',
  0x80: 'unspecified error',
  0x81: 'malformed packet',
  0x82: 'protocol error',
  0x83: 'implementation specific error',
  0x84: 'unsupported protocol version',
  0x85: 'client identifier not valid',
  0x86: 'bad user name or password',
  0x87: 'not authorized',
  0x88: 'server unavailable',
  0x89: 'server busy',
  0x8a: 'banned',
  0x8b: 'server shutting down',
  0x8c: 'bad authentication method',
  0x8d: 'keep alive timeout',
  0x8e: 'session taken over',
  0x90: 'topic name invalid',
  0x93: 'receive maximum exceeded',
  0x95: 'packet too large',
  0x96: 'message rate too high',
  0x97: 'quota exceeded',
  0x98: 'administrative action',
  0x99: 'payload format invalid',
  0x9f: 'connection rate exceeded',
};

/** MQTT 3.1.1 CONNACK return codes. */
const V3_CONNACK: Record<number, string> = {
  1: 'unacceptable protocol version',
  2: 'identifier rejected',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorized',
};

export function reasonName(code: number, v3 = false): string {
  return (v3 ? V3_CONNACK[code] : REASONS[code]) ?? `reason code 0x${code.toString(16)}`;
}

const NETWORK = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EPIPE', 'ECONNABORTED']);

function isTlsCode(code: string): boolean {
  return code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || code.includes('CERT') || code === 'EPROTO' || code.startsWith('UNABLE_TO_');
}

/**
 * One connection failure as a LoupeError whose message names the broker and
 * the key or variable to change. The code decides how it is logged and shown.
 */
export function classifyConnectionError(err: Error & { code?: string | number }, facts: ConnectionFacts, hints: ConfigHints): LoupeError {
  const k = hints.keyPrefix;
  const where = `broker ${facts.url}`;
  const make = (code: ErrorCode, message: string) => new LoupeError(code, message, { cause: err, details: { broker: facts.url, clientId: facts.clientId } });
  const c = err.code;
  if (typeof c === 'number') {
    const v3 = facts.protocolVersion === '3.1.1';
    const name = reasonName(c, v3);
    if ((v3 && (c === 4 || c === 5)) || (!v3 && [0x86, 0x87, 0x8a, 0x8c].includes(c))) {
      return make(
        'LOUPE_ERR_UPLINK_AUTH',
        `${where} refused the credentials of ${facts.username === null ? 'an anonymous client' : `user "${facts.username}"`} (${name}): check ${k}username and ${hints.passwordEnv}, and the broker's password and ACL files`,
      );
    }
    if ((v3 && c === 1) || (!v3 && c === 0x84)) {
      return make('LOUPE_ERR_UPLINK_PROTOCOL', `${where} does not accept MQTT ${facts.protocolVersion} (${name}): set ${k}protocolVersion to ${facts.protocolVersion === 5 ? '3.1.1' : 5}`);
    }
    if ((v3 && c === 2) || (!v3 && (c === 0x85 || c === 0x8e))) {
      return make('LOUPE_ERR_UPLINK_CLIENT_ID', `${where} refused client id "${facts.clientId}" (${name}): give every gateway and sink its own ${k}clientId`);
    }
    return make('LOUPE_ERR_UPLINK_CONNECT', `${where} refused the connection (${name}); retrying`);
  }
  if (typeof c === 'string' && NETWORK.has(c)) return make('LOUPE_ERR_UPLINK_CONNECT', `${where} cannot be reached (${c}); retrying`);
  if ((typeof c === 'string' && isTlsCode(c)) || /TLS|SSL|certificate/i.test(err.message)) {
    return make('LOUPE_ERR_UPLINK_TLS', `TLS with ${where} failed: ${tlsAdvice(typeof c === 'string' ? c : '', err.message, k, facts.url)}`);
  }
  return make('LOUPE_ERR_UPLINK_CONNECT', `${where}: ${err.message}; retrying`);
}

/** What went wrong in a TLS handshake, in words, and the key that fixes it. */
function tlsAdvice(code: string, message: string, k: string, url: string): string {
  const host = url.replace(/^mqtts?:\/\//, '').replace(/:\d+$/, '');
  if (code.includes('CERTIFICATE_REQUIRED') || code.includes('HANDSHAKE_FAILURE')) {
    return `the broker wants a client certificate (${code}): set ${k}tls.certFile and ${k}tls.keyFile`;
  }
  if (['SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY'].includes(code)) {
    return `the broker's certificate is not signed by a CA this gateway trusts (${code}): set ${k}tls.caFile to the CA that signed it`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `the broker's certificate does not name "${host}" (${code}): connect by a name it carries, or set ${k}tls.serverName`;
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return `the broker's certificate is not valid now (${code}): renew it, or check this machine's clock`;
  }
  if (code.includes('ALERT')) return `the broker refused the handshake (${code}): check ${k}tls.certFile and ${k}tls.keyFile against the broker's CA`;
  return `${code ? `${code}: ` : ''}${message.split('\n')[0]}: check ${k}tls.caFile, ${k}tls.serverName and the client certificate`;
}

/** A DISCONNECT the broker sent (MQTT 5), as the error that explains it. */
export function classifyDisconnect(reasonCode: number, facts: ConnectionFacts, hints: ConfigHints): LoupeError {
  const err = Object.assign(new Error(`broker disconnected: ${reasonName(reasonCode)}`), { code: reasonCode });
  if (reasonCode === 0x8e) return classifyConnectionError(err, facts, hints);
  if (reasonCode === 0x87) return classifyConnectionError(err, facts, hints);
  return new LoupeError('LOUPE_ERR_UPLINK_CONNECT', `broker ${facts.url} closed the connection (${reasonName(reasonCode)}); reconnecting`, {
    cause: err,
    details: { broker: facts.url, clientId: facts.clientId },
  });
}
