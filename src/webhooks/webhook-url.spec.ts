import { webhookUrlProblem } from './webhook-url.js';

describe('webhookUrlProblem', () => {
  it('takes https anywhere', () => {
    expect(webhookUrlProblem('https://shop.example/webhooks', false)).toBeUndefined();
    expect(webhookUrlProblem('https://127.0.0.1:8443/hooks?x=1', false)).toBeUndefined();
  });

  it('takes http only to loopback, and only when allowed', () => {
    for (const url of ['http://127.0.0.1:4000/webhooks', 'http://localhost/webhooks', 'http://[::1]:80/', 'http://127.5.6.7/']) {
      expect(webhookUrlProblem(url, true)).toBeUndefined();
      expect(webhookUrlProblem(url, false)?.kind).toBe('not_allowed');
    }
    for (const url of [
      'http://shop.example/webhooks',
      'http://10.0.0.1/',
      'http://[::2]/',
      'http://128.0.0.1/',
      'http://localhost.shop.example/',
    ]) {
      expect(webhookUrlProblem(url, true)?.kind).toBe('not_allowed');
    }
  });

  it('refuses what is not a plain web URL', () => {
    for (const url of [
      'shop.example/webhooks',
      'ftp://shop.example/',
      'https://user:pass@shop.example/',
      'https://shop.example/#top',
      'javascript:alert(1)',
    ]) {
      expect(webhookUrlProblem(url, true)?.kind).toBe('malformed');
    }
  });
});
