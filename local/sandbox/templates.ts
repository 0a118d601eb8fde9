/**
 * Message templates in the sandbox: each WABA's catalog (from the config), the template operations
 * of the socialmessaging API, the status webhooks Meta sends when a template changes, and Meta's
 * verdict on a template send.
 *
 * Choices where AWS and Meta document nothing precise (all local to this file):
 * - A refused template send is accepted by AWS and then fails at Meta: a `failed` status with
 *   132001 (no such template in that language, or not approved: PENDING, REJECTED, …), 132015
 *   (PAUSED), 132016 (DISABLED), 132000 (parameter count of a component differs), 132012 (a named
 *   template given positional parameters, or names it does not have). Like every refusal of Meta's,
 *   it comes as a status, not as an API error.
 * - A created template is PENDING, then APPROVED after `TEMPLATE_REVIEW_MS` of real time, with a
 *   `message_template_status_update` webhook; a deleted one sends `DELETED`.
 * - Template ids are 16 digits starting with 1 (below 2^53, as Meta's webhooks write them as numbers).
 * - The template webhooks' envelope names the WABA and no phone number.
 */
import type { SandboxPhoneNumber, SandboxTemplateConfig } from './config.ts';
import { numericId, TEMPLATE_STATUSES, wabaArn } from './config.ts';
import { AwsApiError, missingMember, validationError } from './aws-errors.ts';
import { ControlError } from './http.ts';
import { metaError, type MetaErrorObject } from './meta-errors.ts';
import type { SandboxCore } from './types.ts';
import { isoNanos, type EumEnvelope, type WebhookEntry } from './webhooks.ts';

/** How long Meta "reviews" a template created through the API before approving it. */
export const TEMPLATE_REVIEW_MS = 200;

export type TemplateStatus = (typeof TEMPLATE_STATUSES)[number];

/** A template as the sandbox's Meta holds it. */
export interface SandboxTemplate {
  wabaId: string;
  metaTemplateId: string;
  name: string;
  language: string;
  status: TemplateStatus;
  category: 'AUTHENTICATION' | 'MARKETING' | 'UTILITY';
  parameterFormat: 'positional' | 'named';
  qualityScore: string;
  components: Record<string, unknown>[];
}

function templateId(wabaId: string, name: string, language: string): string {
  return `1${numericId(`template ${wabaId} ${name} ${language}`, 15)}`;
}

/** The catalog of the config, every template under its WABA. */
export function initialTemplates(config: { phoneNumbers: SandboxPhoneNumber[]; templates: SandboxTemplateConfig[] }): SandboxTemplate[] {
  return config.templates.map((t) => {
    const wabaId = t.wabaId ?? config.phoneNumbers[0]!.wabaId;
    return {
      wabaId,
      metaTemplateId: templateId(wabaId, t.name, t.language),
      name: t.name,
      language: t.language,
      status: t.status,
      category: t.category,
      parameterFormat: t.parameterFormat,
      qualityScore: t.qualityScore,
      components: structuredClone(t.components) as Record<string, unknown>[],
    };
  });
}

/** A template as Meta's GET answers it (the JSON string of GetWhatsAppMessageTemplate). */
export function metaTemplateJson(t: SandboxTemplate): Record<string, unknown> {
  return {
    name: t.name,
    language: t.language,
    status: t.status,
    category: t.category,
    id: t.metaTemplateId,
    parameter_format: t.parameterFormat.toUpperCase(),
    components: t.components,
    quality_score: { score: t.qualityScore },
  };
}

// ---------------------------------------------------------------------------------------------
// What a send must give: the sandbox's own reading of a template, kept apart from the backend's
// check so that each can catch the other.

/** One slot of parameters a send must fill. */
interface Slot {
  /** How Meta names it in its error details: `header`, `body`, `button 0`. */
  label: string;
  /** `header`, `body` or `button` (the send's component type). */
  type: string;
  index?: number;
  /** Placeholder names in order (`1`, `2`… or `first_name`…). */
  names: string[];
  /** A quick-reply button may carry a payload or not. */
  optional?: boolean;
}

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;
const placeholders = (text: unknown): string[] =>
  typeof text === 'string' ? [...text.matchAll(PLACEHOLDER)].map((m) => m[1]!) : [];

function slotsOf(t: SandboxTemplate): Slot[] {
  const slots: Slot[] = [];
  for (const c of t.components) {
    const type = String(c.type).toUpperCase();
    if (type === 'HEADER') {
      const format = String(c.format ?? 'TEXT').toUpperCase();
      const names = format === 'TEXT' ? placeholders(c.text) : [format.toLowerCase()];
      if (names.length) slots.push({ label: 'header', type: 'header', names });
    } else if (type === 'BODY') {
      const names = placeholders(c.text);
      if (names.length) slots.push({ label: 'body', type: 'body', names });
    } else if (type === 'BUTTONS') {
      const buttons = Array.isArray(c.buttons) ? (c.buttons as Record<string, unknown>[]) : [];
      buttons.forEach((b, index) => {
        const kind = String(b.type).toUpperCase();
        const label = `button ${index}`;
        if (kind === 'URL' && placeholders(b.url).length) slots.push({ label, type: 'button', index, names: ['1'] });
        else if (kind === 'COPY_CODE' || kind === 'OTP') slots.push({ label, type: 'button', index, names: ['1'] });
        else if (kind === 'QUICK_REPLY') slots.push({ label, type: 'button', index, names: ['payload'], optional: true });
      });
    }
  }
  return slots;
}

/** Meta's verdict on a template send: the error it fails with, or undefined when it goes out. */
export function templateRefusal(templates: readonly SandboxTemplate[], number: SandboxPhoneNumber, message: Record<string, unknown>): MetaErrorObject | undefined {
  const tpl = (message.template ?? {}) as Record<string, unknown>;
  const name = String(tpl.name ?? '');
  const language = String((tpl.language as Record<string, unknown> | undefined)?.code ?? '');
  const t = templates.find((x) => x.wabaId === number.wabaId && x.name === name && x.language === language && x.status !== 'DELETED');
  if (!t) return metaError(132001, `template name (${name}) does not exist in ${language}`);
  if (t.status === 'PAUSED') return metaError(132015, `Template ${name} is paused due to low quality.`);
  if (t.status === 'DISABLED') return metaError(132016, `Template ${name} has been disabled due to low quality.`);
  if (t.status !== 'APPROVED') return metaError(132001, `template name (${name}) in ${language} is ${t.status}, not approved`);

  const given = Array.isArray(tpl.components) ? (tpl.components as Record<string, unknown>[]) : [];
  const paramsOf = (slot: Slot): Record<string, unknown>[] | undefined => {
    const c = given.find((g) => String(g.type) === slot.type && (slot.index === undefined || Number(g.index) === slot.index));
    return c ? ((Array.isArray(c.parameters) ? c.parameters : []) as Record<string, unknown>[]) : undefined;
  };
  for (const slot of slotsOf(t)) {
    const params = paramsOf(slot) ?? [];
    if (slot.optional ? params.length > 1 : params.length !== slot.names.length) {
      return metaError(132000, `${slot.label}: number of localizable_params (${params.length}) does not match the expected number of params (${slot.names.length})`);
    }
    if (t.parameterFormat === 'named' && (slot.type === 'body' || (slot.type === 'header' && slot.names[0] !== 'image'))) {
      const names = params.map((p) => p.parameter_name);
      const expected = new Set(slot.names);
      if (names.some((n) => typeof n !== 'string' || !expected.has(n)) || new Set(names).size !== names.length) {
        return metaError(132012, `${slot.label}: parameter names must be ${slot.names.join(', ')}`);
      }
    }
  }
  // A component the template has no room for.
  for (const g of given) {
    const type = String(g.type);
    const count = Array.isArray(g.parameters) ? g.parameters.length : 0;
    const known = slotsOf(t).some((s) => s.type === type && (s.index === undefined || Number(g.index) === s.index));
    if (!known && count > 0) {
      const label = type === 'button' ? `button ${String(g.index)}` : type;
      return metaError(132000, `${label}: number of localizable_params (${count}) does not match the expected number of params (0)`);
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Template status webhooks

/** Publishes `message_template_status_update` for `t` (its current status, or `event`). */
export async function publishTemplateStatus(core: SandboxCore, t: SandboxTemplate, event: string = t.status, reason = 'NONE'): Promise<void> {
  const number = core.state.config.phoneNumbers.find((n) => n.wabaId === t.wabaId)!;
  const entry: WebhookEntry = {
    id: number.metaWabaId,
    changes: [
      {
        field: 'message_template_status_update',
        value: {
          event,
          message_template_id: Number(t.metaTemplateId),
          message_template_name: t.name,
          message_template_language: t.language,
          reason,
          message_template_category: t.category,
        },
      },
    ],
  };
  const envelope: EumEnvelope = {
    context: { MetaWabaIds: [{ wabaId: number.metaWabaId, arn: wabaArn(t.wabaId, core.opts.region, core.opts.accountId) }], MetaPhoneNumberIds: [] },
    whatsAppWebhookEntry: JSON.stringify(entry),
    aws_account_id: core.opts.accountId,
    message_timestamp: isoNanos(core.state.now()),
  };
  await core.publish(envelope, false);
}

// ---------------------------------------------------------------------------------------------
// socialmessaging template operations

interface AwsRequest {
  query: URLSearchParams;
  body: Record<string, unknown>;
}

const WABA_ID_PATTERN = /(^waba-.*$)|(^arn:.*:waba\/[0-9a-zA-Z]+$)/;

/** The AWS WABA id of `id` (an id or its ARN), if the sandbox has that WABA. */
function wabaOf(core: SandboxCore, id: string | null | undefined): string {
  if (!id) throw missingMember('id');
  if (id.length > 115 || !WABA_ID_PATTERN.test(id)) {
    throw validationError('id', 'Member must satisfy regular expression pattern: (^waba-.*$)|(^arn:.*:waba/[0-9a-zA-Z]+$)');
  }
  const number = core.state.config.phoneNumbers.find((n) => n.wabaId === id || wabaArn(n.wabaId, core.opts.region, core.opts.accountId) === id);
  if (!number) throw new AwsApiError('ResourceNotFoundException', `WhatsApp Business Account ${id} was not found.`);
  return number.wabaId;
}

const live = (core: SandboxCore, wabaId: string) => core.state.templates.filter((t) => t.wabaId === wabaId && t.status !== 'DELETED');

async function listTemplates(core: SandboxCore, { query }: AwsRequest): Promise<unknown> {
  const wabaId = wabaOf(core, query.get('id'));
  const maxRaw = query.get('maxResults');
  const max = maxRaw === null ? 100 : Number(maxRaw);
  if (!Number.isInteger(max) || max < 1 || max > 100) throw validationError('maxResults', 'Member must have value between 1 and 100');
  const token = query.get('nextToken');
  let start = 0;
  if (token !== null) {
    start = Number(Buffer.from(token, 'base64url').toString('utf8'));
    if (!Number.isInteger(start) || start < 0) throw new AwsApiError('ValidationException', 'The nextToken is not valid.');
  }
  const all = live(core, wabaId);
  const page = all.slice(start, start + max).map((t) => ({
    templateName: t.name,
    metaTemplateId: t.metaTemplateId,
    templateStatus: t.status,
    templateQualityScore: t.qualityScore,
    templateLanguage: t.language,
    templateCategory: t.category,
  }));
  const next = start + max < all.length ? Buffer.from(String(start + max)).toString('base64url') : undefined;
  return { templates: page, ...(next ? { nextToken: next } : {}) };
}

async function getTemplate(core: SandboxCore, { query }: AwsRequest): Promise<unknown> {
  const wabaId = wabaOf(core, query.get('id'));
  const metaTemplateId = query.get('metaTemplateId');
  const name = query.get('templateName');
  const language = query.get('templateLanguageCode');
  if (!metaTemplateId && !(name && language)) {
    throw new AwsApiError('InvalidParametersException', 'Provide metaTemplateId, or templateName and templateLanguageCode.');
  }
  const t = live(core, wabaId).find((x) => (metaTemplateId ? x.metaTemplateId === metaTemplateId : x.name === name && x.language === language));
  if (!t) throw new AwsApiError('ResourceNotFoundException', 'The template was not found.');
  return { template: JSON.stringify(metaTemplateJson(t)) };
}

async function createTemplate(core: SandboxCore, { body }: AwsRequest): Promise<unknown> {
  const wabaId = wabaOf(core, typeof body.id === 'string' ? body.id : undefined);
  if (typeof body.templateDefinition !== 'string') throw missingMember('templateDefinition');
  const bytes = Buffer.from(body.templateDefinition, 'base64');
  if (bytes.length < 1 || bytes.length > 6000) throw validationError('templateDefinition', 'Member must have length between 1 and 6000');
  let def: Record<string, unknown>;
  try {
    def = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new AwsApiError('InvalidParametersException', 'The template definition is not valid JSON.');
  }
  const refuse = (why: string) => new AwsApiError('InvalidParametersException', `Meta refused the template: (#100) Invalid parameter: ${why}.`);
  if (typeof def !== 'object' || def === null) throw refuse('the definition must be an object');
  const name = def.name;
  const language = def.language;
  const category = String(def.category ?? '').toUpperCase();
  if (typeof name !== 'string' || !/^[a-z0-9_]{1,512}$/.test(name)) throw refuse('name must be lowercase letters, digits and underscores');
  if (typeof language !== 'string' || language.length < 1 || language.length > 6) throw refuse('language must be a language code such as en_US');
  if (!['AUTHENTICATION', 'MARKETING', 'UTILITY'].includes(category)) throw refuse('category must be AUTHENTICATION, MARKETING or UTILITY');
  const components = def.components;
  if (!Array.isArray(components) || !components.some((c) => String((c as Record<string, unknown>)?.type).toUpperCase() === 'BODY')) {
    throw refuse('components must include a BODY');
  }
  if (live(core, wabaId).some((t) => t.name === name && t.language === language)) {
    throw new AwsApiError('InvalidParametersException', `Meta refused the template: (#2388024) Content in this language already exists for ${name}.`);
  }
  const format = String(def.parameter_format ?? 'positional').toLowerCase();
  const t: SandboxTemplate = {
    wabaId,
    metaTemplateId: templateId(`${wabaId} ${core.state.now()}`, name, language),
    name,
    language,
    status: 'PENDING',
    category: category as SandboxTemplate['category'],
    parameterFormat: format === 'named' ? 'named' : 'positional',
    qualityScore: 'UNKNOWN',
    components: components as Record<string, unknown>[],
  };
  core.state.templates.push(t);
  core.later(TEMPLATE_REVIEW_MS, async () => {
    if (t.status !== 'PENDING') return;
    t.status = 'APPROVED';
    t.qualityScore = 'GREEN';
    await publishTemplateStatus(core, t);
  });
  return { metaTemplateId: t.metaTemplateId, templateStatus: t.status, category: t.category };
}

/**
 * Meta's template library, as far as the sandbox knows it: pre-written templates a WABA can copy
 * under its own name. A copy is APPROVED at once (library templates are pre-approved).
 */
export const TEMPLATE_LIBRARY: Readonly<Record<string, { category: SandboxTemplate['category']; components: Record<string, unknown>[] }>> = {
  delivery_update_1: {
    category: 'UTILITY',
    components: [
      { type: 'BODY', text: 'Good news! Your order #{{1}} is on its way. Track it here: {{2}}.', example: { body_text: [['12345', 'https://example.com/t/12345']] } },
    ],
  },
  appointment_reminder_1: {
    category: 'UTILITY',
    components: [{ type: 'BODY', text: 'Reminder: your appointment with {{1}} is on {{2}} at {{3}}.', example: { body_text: [['Dr. Lee', 'June 30', '10:00']] } }],
  },
};

async function createFromLibrary(core: SandboxCore, { body }: AwsRequest): Promise<unknown> {
  const wabaId = wabaOf(core, typeof body.id === 'string' ? body.id : undefined);
  const lib = body.metaLibraryTemplate as Record<string, unknown> | undefined;
  if (typeof lib !== 'object' || lib === null) throw missingMember('metaLibraryTemplate');
  for (const member of ['templateName', 'libraryTemplateName', 'templateCategory', 'templateLanguage']) {
    if (typeof lib[member] !== 'string') throw missingMember(`metaLibraryTemplate.${member}`);
  }
  const name = lib.templateName as string;
  const language = lib.templateLanguage as string;
  const entry = TEMPLATE_LIBRARY[lib.libraryTemplateName as string];
  if (!entry) throw new AwsApiError('InvalidParametersException', `Meta refused the template: (#100) No library template named ${String(lib.libraryTemplateName)}.`);
  if (!/^[a-z0-9_]{1,512}$/.test(name)) throw new AwsApiError('InvalidParametersException', 'Meta refused the template: (#100) Invalid parameter: name must be lowercase letters, digits and underscores.');
  if (live(core, wabaId).some((t) => t.name === name && t.language === language)) {
    throw new AwsApiError('InvalidParametersException', `Meta refused the template: (#2388024) Content in this language already exists for ${name}.`);
  }
  const t: SandboxTemplate = {
    wabaId,
    metaTemplateId: templateId(`${wabaId} ${core.state.now()}`, name, language),
    name,
    language,
    status: 'APPROVED',
    category: entry.category,
    parameterFormat: 'positional',
    qualityScore: 'UNKNOWN',
    components: structuredClone(entry.components),
  };
  core.state.templates.push(t);
  core.later(0, () => publishTemplateStatus(core, t));
  return { metaTemplateId: t.metaTemplateId, templateStatus: t.status, category: t.category };
}

async function deleteTemplate(core: SandboxCore, { query }: AwsRequest): Promise<unknown> {
  const wabaId = wabaOf(core, query.get('id'));
  const name = query.get('templateName');
  if (!name) throw missingMember('templateName');
  const metaTemplateId = query.get('metaTemplateId');
  const doomed = live(core, wabaId).filter((t) => t.name === name && (!metaTemplateId || t.metaTemplateId === metaTemplateId));
  if (doomed.length === 0) throw new AwsApiError('ResourceNotFoundException', `Template ${name} was not found.`);
  for (const t of doomed) {
    t.status = 'DELETED';
    await publishTemplateStatus(core, t, 'DELETED');
  }
  return {};
}

/** `METHOD path` → template operation. */
export const TEMPLATE_AWS_ROUTES = {
  'GET /v1/whatsapp/template/list': listTemplates,
  'GET /v1/whatsapp/template': getTemplate,
  'POST /v1/whatsapp/template/put': createTemplate,
  'POST /v1/whatsapp/template/create': createFromLibrary,
  'DELETE /v1/whatsapp/template': deleteTemplate,
} as const;

// ---------------------------------------------------------------------------------------------
// Control routes

/** `GET /sandbox/templates?wabaId=`: the catalog, as Meta's GET shows each template. */
async function listControl(core: SandboxCore, query: URLSearchParams) {
  const wabaId = query.get('wabaId');
  const items = core.state.templates.filter((t) => !wabaId || t.wabaId === wabaId).map((t) => ({ wabaId: t.wabaId, ...metaTemplateJson(t) }));
  return { status: 200, body: items };
}

/**
 * `POST /sandbox/templates/status {name, language, status, wabaId?, reason?}`: Meta changes a
 * template's status (pauses it, disables it, approves it…) and sends the status webhook.
 */
async function setStatusControl(core: SandboxCore, _query: URLSearchParams, body: unknown) {
  const b = (body ?? {}) as Record<string, unknown>;
  const wabaId = typeof b.wabaId === 'string' ? b.wabaId : core.state.config.phoneNumbers[0]!.wabaId;
  const status = b.status;
  if (typeof status !== 'string' || !(TEMPLATE_STATUSES as readonly string[]).includes(status)) {
    throw new ControlError(400, 'invalid_request', `status must be one of ${TEMPLATE_STATUSES.join(', ')}.`);
  }
  const t = core.state.templates.find((x) => x.wabaId === wabaId && x.name === b.name && x.language === b.language && x.status !== 'DELETED');
  if (!t) throw new ControlError(404, 'not_found', 'No such template: give its name, language and (for another WABA) wabaId.');
  t.status = status as TemplateStatus;
  if (status === 'PAUSED' || status === 'DISABLED') t.qualityScore = 'RED';
  try {
    await publishTemplateStatus(core, t, status, typeof b.reason === 'string' ? b.reason : 'NONE');
  } catch (err) {
    throw new ControlError(502, 'publish_failed', `Publishing the template webhook failed: ${(err as Error).name}.`);
  }
  return { status: 200, body: { wabaId: t.wabaId, ...metaTemplateJson(t) } };
}

export const TEMPLATE_CONTROL_ROUTES = {
  '/sandbox/templates': { GET: listControl },
  '/sandbox/templates/status': { POST: setStatusControl },
} as const;
