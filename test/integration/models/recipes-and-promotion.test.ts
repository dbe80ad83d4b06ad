import { afterAll, describe, expect, it } from 'vitest';
import { isLoupeError } from '../../../gateway/src/errors.js';
import type { PlcSimulator } from '../../../gateway/src/plc/simulator.js';
import { startTestGateway, waitFor, type TestGateway } from '../../helpers/gateway-harness.js';
import { expectNoOpenSockets } from '../../helpers/plc-leaks.js';
import { startTestSim } from '../../helpers/plc-sim.js';
import { tempDir } from '../../helpers/test-config.js';
import { demoVersion, incoming, removeVariants, silentLogger, station } from './model-fixtures.js';

/**
 * PLC recipes and model promotion act on the same station: recipe 0 must
 * mean the model the station was last promoted to, and a recipe that only
 * sets thresholds keeps them across a promotion.
 */
describe('PLC recipes on a station with promoted models', () => {
  let gw: TestGateway | null = null;
  let sim: PlcSimulator | null = null;
  const simDir = tempDir('loupe-recipe-sim-');

  afterAll(async () => {
    await gw?.cleanup();
    await sim?.stop();
    simDir.cleanup();
    removeVariants();
    await expectNoOpenSockets();
  });

  it('returns to the promoted model on recipe 0, keeps a threshold recipe across a promotion, and refuses to promote under a model recipe', async () => {
    const recipeModel = demoVersion('8.0.0');
    sim = await startTestSim(simDir.dir, silentLogger, { runLine: false });
    gw = await startTestGateway({
      config: {
        // Thresholds from each model's manifest, so a switch back is visible in them.
        stations: [station({ trigger: { type: 'plc' }, policy: { auditRate: 0 } })],
        plc: {
          client: {
            enabled: true,
            endpoint: sim.endpointUrl,
            securityMode: 'None',
            heartbeatMs: 100,
            plcHeartbeatTimeoutMs: 2000,
            blocks: [{ recipes: { '7': { passBelow: 0.05, failAtOrAbove: 0.06 }, '8': { modelPath: recipeModel, passBelow: 0.4, failAtOrAbove: 0.45 } } }],
          },
        },
      },
    });
    const g = gw;
    const s = sim;
    const st = g.gateway.stations.get('station-1');
    if (!st) throw new Error('no station');
    const models = g.gateway.models;
    await waitFor(() => s.read('Ready') === true, 15_000, 'Ready');

    await models.register(incoming(demoVersion('1.5.0', { passBelow: 0.15, failAtOrAbove: 0.85 })));
    await models.register(incoming(demoVersion('1.6.0', { passBelow: 0.16, failAtOrAbove: 0.86 })));
    await models.promote('station-1', 'demo-part', '1.5.0', { actor: 'eng1', reason: 'new lighting', force: true });
    expect([st.detector.manifest.version, st.thresholds.passBelow]).toEqual(['1.5.0', 0.15]);

    s.setRecipe(7);
    await waitFor(() => st.thresholds.passBelow === 0.05, 5000, 'recipe 7 thresholds');
    expect(st.detector.manifest.version).toBe('1.5.0');
    // A promotion under a threshold recipe changes the model and keeps the recipe's thresholds.
    await models.promote('station-1', 'demo-part', '1.6.0', { actor: 'eng1', reason: 'retrained', force: true });
    expect([st.detector.manifest.version, st.thresholds.passBelow, st.thresholds.failAtOrAbove]).toEqual(['1.6.0', 0.05, 0.06]);

    s.setRecipe(8);
    await waitFor(() => st.detector.manifest.version === '8.0.0', 10_000, 'recipe 8 model');
    expect(st.thresholds.passBelow).toBe(0.4);
    const refused = await models.rollback('station-1', { actor: 'eng1', reason: 'undo' }).catch((e: unknown) => e);
    expect(isLoupeError(refused, 'LOUPE_ERR_MODEL_SWITCH_CONFLICT')).toBe(true);
    expect(models.state('station-1').inControl).toBe(false);

    s.setRecipe(0);
    await waitFor(() => st.detector.manifest.version === '1.6.0', 5000, 'the promoted model on recipe 0');
    expect([st.thresholds.passBelow, st.thresholds.failAtOrAbove]).toEqual([0.16, 0.86]);
    expect(models.state('station-1').inControl).toBe(true);
    await models.rollback('station-1', { actor: 'eng1', reason: 'undo' });
    expect([st.detector.manifest.version, st.thresholds.passBelow]).toEqual(['1.5.0', 0.15]);
  });
});
