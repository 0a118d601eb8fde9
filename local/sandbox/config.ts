/**
 * Configuration of the sandbox WABA: the business numbers it simulates, the WhatsApp users it
 * knows, and Meta's throughput limits. Read from `sandbox.config.json` beside this file; every
 * field has a default, so a missing file means "the defaults".
 */
import { MESSAGING_TIERS, type MessagingTier } from './limits.ts';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

const digits = (what: string, min = 1, max = 100) =>
  z.string().regex(new RegExp(`^[0-9]{${min},${max}}$`), `${what} must be ${min}–${max} digits`);

/** A deterministic 32-hex id, so the default numbers are the same on every machine. */
function hex32(seed: string): string {
  return createHash('sha256').update(seed).digest('hex').slice(0, 32);
}

/** A deterministic numeric id of `length` digits (no leading zero). */
export function numericId(seed: string, length: number): string {
  const h = createHash('sha256').update(seed).digest();
  let out = String((h[0]! % 9) + 1);
  for (let i = 1; out.length < length; i++) out += String(h[i % h.length]! % 10);
  return out;
}

const DEFAULT_WABA = { wabaId: `waba-${hex32('sandbox waba 1')}`, metaWabaId: numericId('sandbox waba 1', 15) };

export const DEFAULT_PHONE_NUMBERS = [
  {
    phoneNumberId: `phone-number-id-${hex32('sandbox phone number 1')}`,
    metaPhoneNumberId: numericId('sandbox phone number 1', 15),
    displayPhoneNumber: '15550100001',
    displayPhoneNumberName: 'Sandbox Support',
    ...DEFAULT_WABA,
    wabaName: 'Sandbox WABA',
    qualityRating: 'GREEN',
  },
  {
    phoneNumberId: `phone-number-id-${hex32('sandbox phone number 2')}`,
    metaPhoneNumberId: numericId('sandbox phone number 2', 15),
    displayPhoneNumber: '15550100002',
    displayPhoneNumberName: 'Sandbox Sales',
    ...DEFAULT_WABA,
    wabaName: 'Sandbox WABA',
    qualityRating: 'GREEN',
  },
];

/** Fictional users (555 numbers). The last one is configured as not on WhatsApp. */
export const DEFAULT_USERS = [
  { phone: '16505551234', name: 'Sheena Nelson', userId: 'US.13491208655302741918', onWhatsApp: true },
  { phone: '14155550100', name: 'Alex Rivera', onWhatsApp: true },
  { phone: '15550109999', name: 'Not On WhatsApp', onWhatsApp: false },
];

export const SandboxPhoneNumberSchema = z.strictObject({
  /** AWS phone number id. */
  phoneNumberId: z.string().regex(/^phone-number-id-[0-9a-f]{32}$/, 'phoneNumberId must be phone-number-id-<32 hex>'),
  /** Meta's phone number id (`metadata.phone_number_id` in webhooks). */
  metaPhoneNumberId: digits('metaPhoneNumberId'),
  /** The number as webhooks write it (`metadata.display_phone_number`): digits, no `+`. */
  displayPhoneNumber: digits('displayPhoneNumber', 6, 15),
  displayPhoneNumberName: z.string().min(1).default('Sandbox Business'),
  /** AWS WABA id. */
  wabaId: z.string().regex(/^waba-[0-9a-f]{32}$/, 'wabaId must be waba-<32 hex>'),
  /** Meta's WABA id (the webhook entry's `id`). */
  metaWabaId: digits('metaWabaId'),
  wabaName: z.string().min(1).default('Sandbox WABA'),
  qualityRating: z.string().max(10).default('GREEN'),
});

export const SandboxUserSchema = z.strictObject({
  /** The user's phone, digits as in `wa_id`. */
  phone: digits('phone', 6, 15),
  /** WhatsApp profile name sent in `contacts[].profile.name`. */
  name: z.string().min(1).optional(),
  /** Business-scoped user id (BSUID), e.g. `US.13491208655302741918`. */
  userId: z.string().regex(/^[A-Z]{2}\.[0-9A-Za-z]+$/, 'userId must look like CC.<alphanumerics>').optional(),
  /** A user configured `false` cannot receive messages (Meta error 131026). */
  onWhatsApp: z.boolean().default(true),
});

/** Template statuses Meta reports (facts §7.2); only APPROVED can be sent. */
export const TEMPLATE_STATUSES = [
  'APPROVED',
  'PENDING',
  'REJECTED',
  'PAUSED',
  'DISABLED',
  'FLAGGED',
  'IN_APPEAL',
  'LIMIT_EXCEEDED',
  'LOCKED',
  'REINSTATED',
  'PENDING_DELETION',
  'ARCHIVED',
  'DELETED',
] as const;

/** One component of a template, in Meta's creation format (facts §7.1): HEADER, BODY, FOOTER, BUTTONS. */
export const SandboxTemplateComponentSchema = z.looseObject({
  type: z.enum(['HEADER', 'BODY', 'FOOTER', 'BUTTONS']),
  format: z.enum(['TEXT', 'IMAGE', 'VIDEO', 'DOCUMENT', 'LOCATION']).optional(),
  text: z.string().optional(),
  buttons: z.array(z.looseObject({ type: z.string(), text: z.string().optional(), url: z.string().optional() })).optional(),
});

/** A message template of a WABA, as Meta holds it. */
export const SandboxTemplateSchema = z.strictObject({
  /** The AWS WABA id it belongs to; default the WABA of the first number. */
  wabaId: z.string().regex(/^waba-[0-9a-f]{32}$/, 'wabaId must be waba-<32 hex>').optional(),
  name: z.string().regex(/^[a-z0-9_]{1,512}$/, 'name must be lowercase letters, digits and underscores'),
  /** Language code, e.g. en_US (1–6 characters). */
  language: z.string().min(1).max(6),
  status: z.enum(TEMPLATE_STATUSES).default('APPROVED'),
  category: z.enum(['AUTHENTICATION', 'MARKETING', 'UTILITY']),
  parameterFormat: z.enum(['positional', 'named']).default('positional'),
  qualityScore: z.enum(['GREEN', 'YELLOW', 'RED', 'UNKNOWN']).default('GREEN'),
  components: z.array(SandboxTemplateComponentSchema).min(1),
});

/**
 * The default catalog of the first WABA: Meta's own `hello_world` (every new WABA has it), and
 * templates that show each case: positional and named parameters, a media header, a URL button,
 * an authentication code, and templates that cannot be sent (paused, disabled, pending).
 */
export const DEFAULT_TEMPLATES = [
  {
    name: 'hello_world',
    language: 'en_US',
    category: 'UTILITY',
    components: [
      { type: 'HEADER', format: 'TEXT', text: 'Hello World' },
      {
        type: 'BODY',
        text: 'Welcome and congratulations!! This message demonstrates your ability to send a WhatsApp message notification from the Cloud API, hosted by Meta. Thank you for taking the time to test with us.',
      },
      { type: 'FOOTER', text: 'WhatsApp Business Platform sample message' },
    ],
  },
  {
    name: 'order_update',
    language: 'en_US',
    category: 'UTILITY',
    components: [
      { type: 'HEADER', format: 'IMAGE', example: { header_handle: ['4::aW1hZ2UvanBlZw==:ARa'] } },
      { type: 'BODY', text: 'Your order {{1}} of {{2}} ships on {{3}}.', example: { body_text: [['ORD-1001', '$100.99', 'June 30']] } },
      {
        type: 'BUTTONS',
        buttons: [
          { type: 'QUICK_REPLY', text: 'Cancel order' },
          { type: 'URL', text: 'Track it', url: 'https://example.com/track/{{1}}', example: ['https://example.com/track/ORD-1001'] },
        ],
      },
    ],
  },
  {
    name: 'order_update',
    language: 'es',
    category: 'UTILITY',
    components: [
      { type: 'BODY', text: 'Hola {{1}}, tu pedido {{2}} sale el {{3}}.', example: { body_text: [['Sheena', 'ORD-1001', '30 de junio']] } },
    ],
  },
  {
    name: 'welcome_offer',
    language: 'en_US',
    category: 'MARKETING',
    parameterFormat: 'named',
    components: [
      { type: 'HEADER', format: 'IMAGE', example: { header_handle: ['4::aW1hZ2UvanBlZw==:ARb'] } },
      {
        type: 'BODY',
        text: 'Hi {{first_name}}, welcome! Use code {{code}} for 10% off your first order.',
        example: { body_text_named_params: [{ param_name: 'first_name', example: 'Sheena' }, { param_name: 'code', example: 'WELCOME10' }] },
      },
      { type: 'FOOTER', text: 'Reply STOP to opt out' },
    ],
  },
  {
    name: 'verification_code',
    language: 'en_US',
    category: 'AUTHENTICATION',
    components: [
      { type: 'BODY', text: '{{1}} is your verification code.', example: { body_text: [['123456']] } },
      { type: 'BUTTONS', buttons: [{ type: 'OTP', otp_type: 'COPY_CODE', text: 'Copy code' }] },
    ],
  },
  {
    name: 'spring_sale',
    language: 'en_US',
    status: 'PAUSED',
    qualityScore: 'RED',
    category: 'MARKETING',
    components: [{ type: 'BODY', text: 'Spring sale: everything {{1}} off this week!', example: { body_text: [['20%']] } }],
  },
  {
    name: 'old_promo',
    language: 'en_US',
    status: 'DISABLED',
    qualityScore: 'RED',
    category: 'MARKETING',
    components: [{ type: 'BODY', text: 'Our old promotion.' }],
  },
  {
    name: 'new_arrivals',
    language: 'en_US',
    status: 'PENDING',
    qualityScore: 'UNKNOWN',
    category: 'MARKETING',
    components: [{ type: 'BODY', text: 'New arrivals are in store, {{1}}!', example: { body_text: [['Sheena']] } }],
  },
] as const;

export const SandboxLimitsSchema = z.strictObject({
  /** Meta's throughput per business number (default 80 mps); more in one second → 130429. */
  messagesPerSecond: z.int().positive().default(80),
  /** The pair rate's burst: messages to one user at once before 131056; one more every 6 s. */
  pairRateBurst: z.int().positive().default(45),
  /** The business's messaging limit: unique users reached outside their window in 24 h (over it → 131048). */
  messagingTier: z.enum(Object.keys(MESSAGING_TIERS) as [MessagingTier, ...MessagingTier[]]).default('UNLIMITED'),
});

/**
 * Numbers that are not on WhatsApp unless configured otherwise: the range of the default
 * not-on-WhatsApp user (15550109999). Every other number is a WhatsApp user, as most are.
 */
export const DEFAULT_NOT_ON_WHATSAPP_PATTERN = '^15550109\\d{3}$';

const RegexSchema = z.string().refine((source) => {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}, 'must be a valid regular expression');

export const SandboxConfigSchema = z
  .strictObject({
    phoneNumbers: z.array(SandboxPhoneNumberSchema).min(1).default(DEFAULT_PHONE_NUMBERS),
    users: z.array(SandboxUserSchema).default(DEFAULT_USERS),
    /**
     * Phone numbers (digits) matching this pattern are not on WhatsApp (Meta error 131026) unless
     * listed in `users` with `onWhatsApp: true`; any other number is a WhatsApp user.
     */
    notOnWhatsAppPattern: RegexSchema.default(DEFAULT_NOT_ON_WHATSAPP_PATTERN),
    limits: SandboxLimitsSchema.prefault({}),
    /**
     * Message templates, per WABA (`wabaId`, default the first number's WABA). Meta's `hello_world`
     * and a few others by default; `[]` gives a WABA without templates.
     */
    templates: z.array(SandboxTemplateSchema).prefault(DEFAULT_TEMPLATES as unknown as z.input<typeof SandboxTemplateSchema>[]),
  })
  .superRefine((cfg, ctx) => {
    const unique = (key: 'phoneNumberId' | 'metaPhoneNumberId' | 'displayPhoneNumber') => {
      const seen = new Set<string>();
      cfg.phoneNumbers.forEach((p, i) => {
        if (seen.has(p[key])) ctx.addIssue({ code: 'custom', path: ['phoneNumbers', i, key], message: `duplicate ${key}` });
        seen.add(p[key]);
      });
    };
    unique('phoneNumberId');
    unique('metaPhoneNumberId');
    unique('displayPhoneNumber');
    const metaWaba = new Map<string, string>();
    cfg.phoneNumbers.forEach((p, i) => {
      const known = metaWaba.get(p.wabaId);
      if (known !== undefined && known !== p.metaWabaId) {
        ctx.addIssue({ code: 'custom', path: ['phoneNumbers', i, 'metaWabaId'], message: `${p.wabaId} has two metaWabaIds` });
      }
      metaWaba.set(p.wabaId, p.metaWabaId);
    });
    const templateKeys = new Set<string>();
    cfg.templates.forEach((t, i) => {
      const waba = t.wabaId ?? cfg.phoneNumbers[0]!.wabaId;
      if (!metaWaba.has(waba)) {
        ctx.addIssue({ code: 'custom', path: ['templates', i, 'wabaId'], message: `${waba} is not the WABA of any configured number` });
      }
      const key = `${waba} ${t.name} ${t.language}`;
      if (templateKeys.has(key)) ctx.addIssue({ code: 'custom', path: ['templates', i], message: `duplicate template ${t.name} (${t.language})` });
      templateKeys.add(key);
    });
    const phones = new Set<string>();
    cfg.users.forEach((u, i) => {
      if (phones.has(u.phone)) ctx.addIssue({ code: 'custom', path: ['users', i, 'phone'], message: 'duplicate user phone' });
      phones.add(u.phone);
    });
  });

export type SandboxConfig = z.output<typeof SandboxConfigSchema>;
export type SandboxPhoneNumber = SandboxConfig['phoneNumbers'][number];
export type SandboxUser = SandboxConfig['users'][number];
export type SandboxTemplateConfig = SandboxConfig['templates'][number];

/** Where the sandbox looks for its config by default. */
export const DEFAULT_CONFIG_PATH = fileURLToPath(new URL('./sandbox.config.json', import.meta.url));

/** Validates a config object (e.g. parsed JSON); throws one error that lists every problem. */
export function parseSandboxConfig(raw: unknown, source = 'sandbox config'): SandboxConfig {
  const parsed = SandboxConfigSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`Invalid ${source}:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/**
 * Loads the sandbox config. Without `path`, reads `sandbox.config.json` beside this module and
 * falls back to the defaults when it does not exist; an explicit `path` must exist.
 */
export function loadSandboxConfig(path?: string): SandboxConfig {
  const file = path ?? DEFAULT_CONFIG_PATH;
  if (!existsSync(file)) {
    if (path !== undefined) throw new Error(`Sandbox config not found: ${path}`);
    return parseSandboxConfig({});
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`Sandbox config ${file} is not valid JSON: ${(err as Error).message}`);
  }
  return parseSandboxConfig(raw, `sandbox config ${file}`);
}

/** `phone-number-id-<hex>` → `arn:aws:social-messaging:<region>:<account>:phone-number-id/<hex>`. */
export function phoneNumberArn(phoneNumberId: string, region: string, accountId: string): string {
  return `arn:aws:social-messaging:${region}:${accountId}:phone-number-id/${phoneNumberId.slice('phone-number-id-'.length)}`;
}

/** `waba-<hex>` → `arn:aws:social-messaging:<region>:<account>:waba/<hex>`. */
export function wabaArn(wabaId: string, region: string, accountId: string): string {
  return `arn:aws:social-messaging:${region}:${accountId}:waba/${wabaId.slice('waba-'.length)}`;
}

/** One business number as `runtime.json` lists it. */
export interface RuntimePhoneNumber {
  phoneNumberId: string;
  phoneNumberArn: string;
  metaPhoneNumberId: string;
  displayPhoneNumber: string;
  wabaId: string;
  metaWabaId: string;
}

/** The `phoneNumbers` list of `runtime.json` for this config. */
export function phoneNumbersForRuntime(config: SandboxConfig, region: string, accountId: string): RuntimePhoneNumber[] {
  return config.phoneNumbers.map((p) => ({
    phoneNumberId: p.phoneNumberId,
    phoneNumberArn: phoneNumberArn(p.phoneNumberId, region, accountId),
    metaPhoneNumberId: p.metaPhoneNumberId,
    displayPhoneNumber: p.displayPhoneNumber,
    wabaId: p.wabaId,
    metaWabaId: p.metaWabaId,
  }));
}
