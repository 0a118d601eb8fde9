/**
 * The template operations of AWS End User Messaging Social (`TemplateSource`): every page of
 * ListWhatsAppMessageTemplates, GetWhatsAppMessageTemplate, Create… and Delete…. Failed calls are
 * thrown as `WhatsAppServiceError` (translated in socialmessaging-errors.ts).
 */
import {
  CreateWhatsAppMessageTemplateCommand,
  CreateWhatsAppMessageTemplateFromLibraryCommand,
  DeleteWhatsAppMessageTemplateCommand,
  GetWhatsAppMessageTemplateCommand,
  paginateListWhatsAppMessageTemplates,
  type SocialMessagingClient,
} from '@aws-sdk/client-socialmessaging';
import type { LibraryTemplateInput, TemplateSummary } from '../domain/templates.ts';
import type { TemplateSource } from '../ports/templates.ts';
import { WhatsAppServiceError } from './socialmessaging-errors.ts';

async function call<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw new WhatsAppServiceError(err);
  }
}

export class SocialMessagingTemplates implements TemplateSource {
  private readonly client: SocialMessagingClient;
  private readonly pageSize: number;

  /** `pageSize`: `maxResults` of each ListWhatsAppMessageTemplates page (1–100). @default 100 */
  constructor(client: SocialMessagingClient, options: { pageSize?: number } = {}) {
    this.client = client;
    this.pageSize = options.pageSize ?? 100;
  }

  list(wabaId: string): Promise<TemplateSummary[]> {
    return call(async () => {
      const out: TemplateSummary[] = [];
      for await (const page of paginateListWhatsAppMessageTemplates({ client: this.client, pageSize: this.pageSize }, { id: wabaId })) {
        for (const t of page.templates ?? []) {
          if (!t.templateName || !t.templateLanguage || !t.metaTemplateId) continue;
          out.push({
            name: t.templateName,
            language: t.templateLanguage,
            metaTemplateId: t.metaTemplateId,
            status: t.templateStatus ?? 'UNKNOWN',
            ...(t.templateCategory && { category: t.templateCategory }),
            ...(t.templateQualityScore && { qualityScore: t.templateQualityScore }),
          });
        }
      }
      return out;
    });
  }

  get(wabaId: string, metaTemplateId: string): Promise<Record<string, unknown>> {
    return call(async () => {
      const out = await this.client.send(new GetWhatsAppMessageTemplateCommand({ id: wabaId, metaTemplateId }));
      const parsed: unknown = JSON.parse(out.template ?? '{}');
      return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
    });
  }

  create(wabaId: string, definition: Record<string, unknown>): Promise<{ metaTemplateId?: string; status?: string; category?: string }> {
    return call(async () => {
      // Raw JSON bytes: the SDK base64-encodes blobs itself.
      const out = await this.client.send(
        new CreateWhatsAppMessageTemplateCommand({ id: wabaId, templateDefinition: new TextEncoder().encode(JSON.stringify(definition)) }),
      );
      return {
        ...(out.metaTemplateId && { metaTemplateId: out.metaTemplateId }),
        ...(out.templateStatus && { status: out.templateStatus }),
        ...(out.category && { category: out.category }),
      };
    });
  }

  createFromLibrary(wabaId: string, input: LibraryTemplateInput): Promise<{ metaTemplateId?: string; status?: string; category?: string }> {
    return call(async () => {
      const out = await this.client.send(
        new CreateWhatsAppMessageTemplateFromLibraryCommand({
          id: wabaId,
          metaLibraryTemplate: {
            templateName: input.name,
            libraryTemplateName: input.libraryTemplateName,
            templateCategory: input.category,
            templateLanguage: input.language,
            ...(input.bodyInputs && { libraryTemplateBodyInputs: input.bodyInputs }),
            ...(input.buttonInputs && { libraryTemplateButtonInputs: input.buttonInputs }),
          },
        }),
      );
      return {
        ...(out.metaTemplateId && { metaTemplateId: out.metaTemplateId }),
        ...(out.templateStatus && { status: out.templateStatus }),
        ...(out.category && { category: out.category }),
      };
    });
  }

  delete(wabaId: string, name: string, metaTemplateId?: string): Promise<void> {
    return call(async () => {
      await this.client.send(
        new DeleteWhatsAppMessageTemplateCommand({
          id: wabaId,
          templateName: name,
          ...(metaTemplateId !== undefined ? { metaTemplateId } : { deleteAllLanguages: true }),
        }),
      );
    });
  }
}
