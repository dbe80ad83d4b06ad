import { existsSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { MessageSecurityMode, OPCUACertificateManager, SecurityPolicy } from 'node-opcua';
import type { SecurityModeName, SecurityPolicyName } from '../config/sections/plc.js';
import { errorMessage, LoupeError } from '../errors.js';

/**
 * Security shared by the three OPC UA roles (client, server, simulator):
 * config names to stack enums, PKI folders, and connection failures turned
 * into one clear error an engineer can act on.
 */

export function securityModeOf(name: SecurityModeName): MessageSecurityMode {
  return { None: MessageSecurityMode.None, Sign: MessageSecurityMode.Sign, SignAndEncrypt: MessageSecurityMode.SignAndEncrypt }[name];
}

export function securityPolicyOf(mode: SecurityModeName, name: SecurityPolicyName): SecurityPolicy {
  if (mode === 'None') return SecurityPolicy.None;
  return { Basic256Sha256: SecurityPolicy.Basic256Sha256, Aes128_Sha256_RsaOaep: SecurityPolicy.Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss: SecurityPolicy.Aes256_Sha256_RsaPss }[name];
}

/**
 * A PKI folder (own/, trusted/, rejected/, issuers/). Unknown peers land in
 * rejected/certs; an engineer trusts one by moving its file to trusted/certs.
 */
export async function openPki(rootFolder: string, acceptUnknown: boolean): Promise<OPCUACertificateManager> {
  mkdirSync(rootFolder, { recursive: true });
  const cm = new OPCUACertificateManager({ rootFolder, automaticallyAcceptUnknownCertificate: acceptUnknown, keySize: 2048 });
  await cm.initialize();
  return cm;
}

/** The application URI in Loupe's certificates; a PLC shows it in its trust list. */
export function applicationUri(role: 'client' | 'server' | 'simulator', id: string): string {
  return `urn:${hostname()}:loupe:${id}:${role}`;
}

/** Path of the client's own certificate: the file a PLC programmer imports into the PLC's trust list. */
export function clientCertificateFile(pkiDir: string): string {
  return join(pkiDir, 'own', 'certs', 'client_certificate.pem');
}

/**
 * Create the client's self-signed certificate now rather than at the first
 * connect, so it can be handed to the PLC before the PLC is reachable.
 */
export async function ensureClientCertificate(cm: OPCUACertificateManager, pkiDir: string, appName: string, appUri: string): Promise<string> {
  const file = clientCertificateFile(pkiDir);
  if (!existsSync(file)) {
    await cm.createSelfSignedCertificate({
      applicationUri: appUri,
      dns: [hostname()],
      outputFile: file,
      subject: `/CN=${appName}/O=Loupe`,
      startDate: new Date(),
      validity: 365 * 5,
    });
  }
  return file;
}

/** Turn what the OPC UA stack threw while connecting into one LoupeError with the fix. */
export function classifyConnectError(err: unknown, ctx: { endpoint: string; pkiDir: string; username: string; mode: string; policy: string }): LoupeError {
  const msg = errorMessage(err);
  const cause = { cause: err };
  if (/BadUserAccessDenied|BadIdentityTokenRejected|BadIdentityTokenInvalid/.test(msg)) {
    const who = ctx.username ? `user "${ctx.username}"` : 'anonymous access';
    return new LoupeError(
      'LOUPE_ERR_PLC_AUTH',
      `${ctx.endpoint} refused ${who} (${statusName(msg)}): check plc.client.username and the password in LOUPE__PLC__CLIENT__PASSWORD, and the user's rights on the PLC`,
      cause,
    );
  }
  if (/server Certificate verification failed/i.test(msg)) {
    return new LoupeError(
      'LOUPE_ERR_PLC_CERT_UNTRUSTED',
      `the certificate of ${ctx.endpoint} is not trusted (${statusName(msg)}): it was saved to ${join(ctx.pkiDir, 'rejected')}; check its thumbprint with the PLC and move it to ${join(ctx.pkiDir, 'trusted', 'certs')}`,
      cause,
    );
  }
  if (/BadSecurityChecksFailed|BadCertificateUntrusted|BadCertificate\w*Invalid|BadCertificateRevoked/.test(msg)) {
    return new LoupeError(
      'LOUPE_ERR_PLC_CERT_UNTRUSTED',
      `${ctx.endpoint} does not trust Loupe's certificate (${statusName(msg)}): import ${clientCertificateFile(ctx.pkiDir)} into the PLC's trusted certificates`,
      cause,
    );
  }
  if (/cannot find endpoint|BadSecurityPolicyRejected|BadSecurityModeRejected/i.test(msg)) {
    return new LoupeError(
      'LOUPE_ERR_PLC_SECURITY',
      `${ctx.endpoint} offers no endpoint with ${ctx.mode} / ${ctx.policy}: enable it on the PLC, or change plc.client.securityMode / securityPolicy`,
      cause,
    );
  }
  return new LoupeError('LOUPE_ERR_PLC_CONNECT', `cannot reach ${ctx.endpoint}: ${firstLine(msg)}`, cause);
}

function statusName(msg: string): string {
  return /Bad[A-Za-z]+/.exec(msg)?.[0] ?? firstLine(msg);
}

function firstLine(msg: string): string {
  return (msg.split('\n')[0] ?? msg).slice(0, 200);
}
