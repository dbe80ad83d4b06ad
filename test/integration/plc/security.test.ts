import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clientCertificateFile } from '../../../gateway/src/plc/security.js';
import { plcRigPerTest, startLoupePlc, waitUntil } from '../../helpers/plc-loupe.js';
import { startPlcLine, type PlcTestLine } from '../../helpers/plc-line.js';
import { exchangeCertificates, startTestSim } from '../../helpers/plc-sim.js';

const GATEWAY_ID = 'loupe-plc-test';

describe('PLC link security', () => {
  const rig = plcRigPerTest();

  function pkis(l: PlcTestLine) {
    return { clientPki: join(l.dir, 'pki', 'plc-client'), simPki: join(l.dir, 'pki-sim') };
  }

  /** Five seconds of retries: the same problem must be logged once, not once per attempt. */
  async function errorLinesAfterRetries(l: PlcTestLine, code: string): Promise<number> {
    await new Promise((r) => setTimeout(r, 2000));
    return l.lines.filter((x) => x.code === code && x.level >= 50).length;
  }

  it('runs the handshake over Sign and SignAndEncrypt with every current policy when both sides trust each other', async () => {
    const l = await startPlcLine();
    rig.line = l;
    const { clientPki, simPki } = pkis(l);
    await exchangeCertificates(l.log, { clientPki, simPki, gatewayId: GATEWAY_ID, trust: { plcTrustsLoupe: true, loupeTrustsPlc: true } });
    const s = await startTestSim(l.dir, l.log, { runLine: false, securityModes: ['Sign', 'SignAndEncrypt'], pkiDir: simPki });
    rig.sim = s;
    const combos = [
      ['SignAndEncrypt', 'Basic256Sha256'],
      ['SignAndEncrypt', 'Aes128_Sha256_RsaOaep'],
      ['SignAndEncrypt', 'Aes256_Sha256_RsaPss'],
      ['Sign', 'Basic256Sha256'],
    ] as const;
    for (const [securityMode, securityPolicy] of combos) {
      const rt = await startLoupePlc(l, { endpoint: s.endpointUrl, client: { securityMode, securityPolicy } });
      rig.loupe = rt;
      await waitUntil(`Ready over ${securityMode} ${securityPolicy}`, () => s.read('Ready') === true && s.loupeAlive, 15_000, () => rt.connection?.lastError?.message);
      const results = s.summary().results;
      s.triggerBurst(1);
      await waitUntil(`a result over ${securityPolicy}`, () => s.summary().results === results + 1, 5000);
      await rt.stop();
      rig.loupe = null;
      // Stopping writes Ready = 0: the next combination has to raise it again itself.
      expect(s.read('Ready')).toBe(false);
    }
    expect(s.summary()).toMatchObject({ mismatched: 0, duplicates: 0, sequenceErrors: 0, results: 4 });
  });

  it('refuses a PLC whose certificate it does not trust, with one clear error', async () => {
    const l = await startPlcLine();
    rig.line = l;
    const { clientPki, simPki } = pkis(l);
    const s = await startTestSim(l.dir, l.log, { runLine: false, securityModes: ['SignAndEncrypt'], pkiDir: simPki, acceptUnknownCertificates: true });
    rig.sim = s;
    const loupe = (rig.loupe = await startLoupePlc(l, { endpoint: s.endpointUrl, client: { securityMode: 'SignAndEncrypt' } }));
    const conn = loupe.connection;
    await waitUntil('a certificate error', () => conn?.lastError?.code === 'LOUPE_ERR_PLC_CERT_UNTRUSTED', 10_000);
    expect(conn?.lastError?.message).toMatch(/is not trusted .*move it to .*trusted/);
    expect(await errorLinesAfterRetries(l, 'LOUPE_ERR_PLC_CERT_UNTRUSTED')).toBe(1);
    // The PLC's certificate waits in rejected/ for an engineer to check and move it.
    expect(readdirSync(join(clientPki, 'rejected')).some((f) => f.endsWith('.pem') || f.endsWith('.der'))).toBe(true);
    expect(loupe.links[0]).toMatchObject({ state: 'down', detail: expect.stringContaining('not trusted') });
    expect(s.read('Ready')).toBe(false);
  });

  it('is refused by a PLC that does not trust its certificate, and says which file to import', async () => {
    const l = await startPlcLine();
    rig.line = l;
    const { clientPki, simPki } = pkis(l);
    await exchangeCertificates(l.log, { clientPki, simPki, gatewayId: GATEWAY_ID, trust: { plcTrustsLoupe: false, loupeTrustsPlc: true } });
    const s = await startTestSim(l.dir, l.log, { runLine: false, securityModes: ['SignAndEncrypt'], pkiDir: simPki });
    rig.sim = s;
    const loupe = (rig.loupe = await startLoupePlc(l, { endpoint: s.endpointUrl, client: { securityMode: 'SignAndEncrypt' } }));
    const conn = loupe.connection;
    await waitUntil('a certificate error', () => conn?.lastError?.code === 'LOUPE_ERR_PLC_CERT_UNTRUSTED', 10_000);
    expect(conn?.lastError?.message).toContain(`import ${clientCertificateFile(clientPki)}`);
    expect(await errorLinesAfterRetries(l, 'LOUPE_ERR_PLC_CERT_UNTRUSTED')).toBe(1);
    expect(existsSync(join(simPki, 'rejected'))).toBe(true);
    expect(readdirSync(join(simPki, 'rejected')).length).toBeGreaterThan(0);
  });

  it('reports wrong credentials once, clearly, and connects with the right ones', async () => {
    const l = await startPlcLine();
    rig.line = l;
    const { clientPki, simPki } = pkis(l);
    await exchangeCertificates(l.log, { clientPki, simPki, gatewayId: GATEWAY_ID, trust: { plcTrustsLoupe: true, loupeTrustsPlc: true } });
    const s = await startTestSim(l.dir, l.log, { runLine: false, securityModes: ['SignAndEncrypt'], pkiDir: simPki, username: 'plc-user', password: 'right-one' });
    rig.sim = s;
    const wrong = await startLoupePlc(l, { endpoint: s.endpointUrl, client: { securityMode: 'SignAndEncrypt', username: 'plc-user', password: 'wrong-one' } });
    rig.loupe = wrong;
    await waitUntil('an authentication error', () => wrong.connection?.lastError?.code === 'LOUPE_ERR_PLC_AUTH', 10_000);
    expect(wrong.connection?.lastError?.message).toMatch(/refused user "plc-user" \(BadUserAccessDenied\): check plc.client.username and the password in LOUPE__PLC__CLIENT__PASSWORD/);
    expect(await errorLinesAfterRetries(l, 'LOUPE_ERR_PLC_AUTH')).toBe(1);
    // The password never reaches a log line.
    expect(JSON.stringify(l.lines)).not.toContain('wrong-one');
    expect(wrong.links[0]).toMatchObject({ state: 'down', detail: expect.stringContaining('refused user "plc-user"') });
    await wrong.stop();
    rig.loupe = await startLoupePlc(l, { endpoint: s.endpointUrl, client: { securityMode: 'SignAndEncrypt', username: 'plc-user', password: 'right-one' } });
    await waitUntil('Ready with the right password', () => s.read('Ready') === true, 15_000);
  });

  it('refuses a user name on an endpoint that takes none, instead of failing inside the stack', async () => {
    const l = await startPlcLine();
    rig.line = l;
    const s = await startTestSim(l.dir, l.log, { runLine: false });
    rig.sim = s;
    const loupe = (rig.loupe = await startLoupePlc(l, { endpoint: s.endpointUrl, client: { securityMode: 'None', username: 'plc-user', password: 'x' } }));
    const conn = loupe.connection;
    await waitUntil('a security error', () => conn?.lastError?.code === 'LOUPE_ERR_PLC_SECURITY', 10_000);
    expect(conn?.lastError?.message).toMatch(/accepts no user name on its None endpoint/);
  });
});
