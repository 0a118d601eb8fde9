import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSandboxConfig, parseSandboxConfig, phoneNumbersForRuntime } from '../../local/sandbox/config.ts';

describe('sandbox config', () => {
  it('ships a config with two business numbers in the id formats of AWS and Meta', () => {
    // Prepare / Act
    const config = loadSandboxConfig();

    // Assess
    expect(config.phoneNumbers).toHaveLength(2);
    for (const n of config.phoneNumbers) {
      expect(n.phoneNumberId).toMatch(/^phone-number-id-[0-9a-f]{32}$/);
      expect(n.wabaId).toMatch(/^waba-[0-9a-f]{32}$/);
      expect(n.metaPhoneNumberId).toMatch(/^[0-9]+$/);
      expect(n.metaWabaId).toMatch(/^[0-9]+$/);
      expect(n.displayPhoneNumber).toMatch(/^[0-9]+$/);
    }
    expect(config.users.some((u) => !u.onWhatsApp)).toBe(true);
  });

  it('fills every default from an empty object, with the same ids each time', () => {
    // Prepare / Act
    const a = parseSandboxConfig({});
    const b = parseSandboxConfig({});

    // Assess
    expect(a).toEqual(b);
    expect(a.limits).toEqual({ messagesPerSecond: 80, pairRateBurst: 45, messagingTier: 'UNLIMITED' });
    expect(a.phoneNumbers[0]!.phoneNumberId).not.toBe(a.phoneNumbers[1]!.phoneNumberId);
  });

  it('defaults a configured user to being on WhatsApp', () => {
    const config = parseSandboxConfig({ users: [{ phone: '447700900123' }] });
    expect(config.users).toEqual([{ phone: '447700900123', onWhatsApp: true }]);
  });

  it('lists every problem of an invalid config in one error', () => {
    // Prepare
    const bad = {
      phoneNumbers: [{ phoneNumberId: 'phone-1', metaPhoneNumberId: '1', displayPhoneNumber: '15550100001', wabaId: 'waba-x', metaWabaId: '2' }],
      users: [{ phone: '+1 650' }],
    };

    // Act / Assess
    expect(() => parseSandboxConfig(bad)).toThrowError(/phoneNumbers\.0\.phoneNumberId[\s\S]*phoneNumbers\.0\.wabaId[\s\S]*users\.0\.phone/);
  });

  it('refuses two numbers with the same display number and an unknown key', () => {
    const base = parseSandboxConfig({}).phoneNumbers;
    const dup = [base[0], { ...base[1], displayPhoneNumber: base[0]!.displayPhoneNumber }];
    expect(() => parseSandboxConfig({ phoneNumbers: dup })).toThrowError(/duplicate displayPhoneNumber/);
    expect(() => parseSandboxConfig({ phonenumbers: [] })).toThrowError(/phonenumbers/);
  });

  it('reads a config file given by path and fails clearly on a missing one', () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'sandbox-config-'));
    const file = join(dir, 'sandbox.config.json');
    writeFileSync(file, JSON.stringify({ limits: { messagesPerSecond: 5 } }));

    // Act
    const config = loadSandboxConfig(file);

    // Assess
    expect(config.limits).toEqual({ messagesPerSecond: 5, pairRateBurst: 45, messagingTier: 'UNLIMITED' });
    expect(() => loadSandboxConfig(join(dir, 'missing.json'))).toThrowError(/not found/);
  });

  it('lists the phone numbers in the runtime.json shape with ARNs of the region and account', () => {
    // Prepare
    const config = parseSandboxConfig({});

    // Act
    const list = phoneNumbersForRuntime(config, 'eu-west-1', '123456789012');

    // Assess
    const first = config.phoneNumbers[0]!;
    expect(list[0]).toEqual({
      phoneNumberId: first.phoneNumberId,
      phoneNumberArn: `arn:aws:social-messaging:eu-west-1:123456789012:phone-number-id/${first.phoneNumberId.slice(16)}`,
      metaPhoneNumberId: first.metaPhoneNumberId,
      displayPhoneNumber: first.displayPhoneNumber,
      wabaId: first.wabaId,
      metaWabaId: first.metaWabaId,
    });
    expect(Object.keys(list[1]!).sort()).toEqual(
      ['displayPhoneNumber', 'metaPhoneNumberId', 'metaWabaId', 'phoneNumberArn', 'phoneNumberId', 'wabaId'],
    );
  });

  it('takes a not-on-WhatsApp pattern, the default one covering the configured non-user, and refuses an invalid one', () => {
    const defaults = parseSandboxConfig({});
    expect(new RegExp(defaults.notOnWhatsAppPattern).test('15550109999')).toBe(true);
    expect(new RegExp(defaults.notOnWhatsAppPattern).test('16505551234')).toBe(false);
    expect(parseSandboxConfig({ notOnWhatsAppPattern: '^44' }).notOnWhatsAppPattern).toBe('^44');
    expect(() => parseSandboxConfig({ notOnWhatsAppPattern: '(' })).toThrowError(/notOnWhatsAppPattern: must be a valid regular expression/);
  });
});
