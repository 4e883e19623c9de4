import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { LoginThrottle } from '../../src/admin/login-throttle';

describe('LoginThrottle', () => {
  it('refuses a user after its failures, whatever the case of the name', async () => {
    const throttle = new LoginThrottle({ perUser: 3, perAddress: 100 });
    for (const name of ['admin', 'Admin', 'ADMIN']) {
      assert.equal(await throttle.retryAfter('10.0.0.1', name), 0);
      await throttle.failed('10.0.0.1', name);
    }
    const wait = await throttle.retryAfter('10.0.0.9', 'admin');
    assert.ok(wait > 890 && wait <= 900, `${wait} s`);
    assert.equal(await throttle.retryAfter('10.0.0.1', 'bob'), 0);
  });

  it('refuses an address that tries many names', async () => {
    const throttle = new LoginThrottle({ perUser: 100, perAddress: 5 });
    for (let i = 0; i < 5; i++) await throttle.failed('10.0.0.2', `user${i}`);
    assert.ok((await throttle.retryAfter('10.0.0.2', 'someone-new')) > 0);
    assert.equal(await throttle.retryAfter('10.0.0.3', 'someone-new'), 0);
  });

  it('clears a user on success and forgets everything after the window', async () => {
    const throttle = new LoginThrottle({ perUser: 2, perAddress: 2, windowSeconds: 1 });
    await throttle.failed('10.0.0.4', 'carol');
    await throttle.succeeded('carol');
    await throttle.failed('10.0.0.5', 'carol');
    assert.equal(await throttle.retryAfter('10.0.0.6', 'carol'), 0, 'one failure since success');
    await throttle.failed('10.0.0.5', 'carol');
    assert.equal(await throttle.retryAfter('10.0.0.6', 'carol'), 1);
    await delay(1100);
    assert.equal(await throttle.retryAfter('10.0.0.5', 'carol'), 0);
  });
});
