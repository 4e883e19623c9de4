import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { LoginThrottle } from '../../src/admin/login-throttle';

describe('LoginThrottle', () => {
  it('refuses a user after its attempts, whatever the case of the name', async () => {
    const throttle = new LoginThrottle({ perUser: 3, perAddress: 100 });
    for (const name of ['admin', 'Admin', 'ADMIN']) {
      assert.equal(await throttle.attempt('10.0.0.1', name), 0);
    }
    const wait = await throttle.attempt('10.0.0.9', 'admin');
    assert.ok(wait > 890 && wait <= 900, `${wait} s`);
    assert.equal(await throttle.attempt('10.0.0.1', 'bob'), 0);
  });

  it('counts parallel attempts before any of them is answered', async () => {
    const throttle = new LoginThrottle({ perUser: 10, perAddress: 100 });
    const waits = await Promise.all(
      Array.from({ length: 25 }, () => throttle.attempt('10.0.0.8', 'admin')),
    );
    assert.equal(waits.filter((w) => w === 0).length, 10);
  });

  it('refuses an address that tries many names', async () => {
    const throttle = new LoginThrottle({ perUser: 100, perAddress: 5 });
    for (let i = 0; i < 5; i++) assert.equal(await throttle.attempt('10.0.0.2', `user${i}`), 0);
    assert.ok((await throttle.attempt('10.0.0.2', 'someone-new')) > 0);
    assert.equal(await throttle.attempt('10.0.0.3', 'someone-new'), 0);
  });

  it('clears a user on success and forgets everything after the window', async () => {
    const throttle = new LoginThrottle({ perUser: 2, perAddress: 10, windowSeconds: 1 });
    await throttle.attempt('10.0.0.4', 'carol');
    await throttle.attempt('10.0.0.4', 'carol');
    await throttle.succeeded('10.0.0.4', 'carol');
    assert.equal(await throttle.attempt('10.0.0.5', 'carol'), 0, 'cleared by the success');
    assert.equal(await throttle.attempt('10.0.0.5', 'carol'), 0);
    assert.equal(await throttle.attempt('10.0.0.6', 'carol'), 1);
    await delay(1100);
    assert.equal(await throttle.attempt('10.0.0.5', 'carol'), 0);
  });
});
