/** The soak's own client of kube-apiserver: the product's request and watch code with the admin credentials. */
import type { Product, RestConfig } from './product.ts';

/** A Kubernetes object or list as the soak reads it: JSON whose shape each check asserts itself. */
export type Json = Record<string, any>;

export class Api {
  readonly product: Product;
  readonly kc: RestConfig;

  constructor(product: Product, kc: RestConfig) {
    this.product = product;
    this.kc = kc;
  }

  request<T = Json>(
    method: string,
    path: string,
    body?: unknown,
    query?: Record<string, string | number | boolean | undefined>,
    timeoutMs = 15_000,
  ): Promise<T> {
    return this.product.rest.kubeRequest<T>(this.kc, method, path, {
      ...(body !== undefined && { body }),
      ...(query && { query }),
      timeoutMs,
    });
  }

  get<T = Json>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  /** The object, or undefined when it does not exist. */
  async find<T = Json>(path: string): Promise<T | undefined> {
    try {
      return await this.get<T>(path);
    } catch (err) {
      if (this.product.rest.isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Creates the object, or replaces it (server-side apply would do; this is enough for the soak's own objects). */
  async apply(collection: string, object: Json): Promise<Json> {
    const path = `${collection}/${object.metadata.name}`;
    const existing = await this.find(path);
    if (!existing) return this.request('POST', collection, object);
    return this.request('PUT', path, {
      ...object,
      metadata: { ...object.metadata, resourceVersion: existing.metadata.resourceVersion },
    });
  }

  async list(path: string, query: Record<string, string> = {}): Promise<{ items: Json[]; resourceVersion: string }> {
    const r = await this.request<{ items?: Json[]; metadata?: { resourceVersion?: string } }>(
      'GET',
      path,
      undefined,
      query,
      30_000,
    );
    return { items: r.items ?? [], resourceVersion: r.metadata?.resourceVersion ?? '' };
  }

  patch(path: string, body: unknown): Promise<Json> {
    return this.request('PATCH', path, body);
  }

  async delete(path: string, query?: Record<string, string | number>): Promise<void> {
    try {
      await this.request('DELETE', path, undefined, query);
    } catch (err) {
      if (!this.product.rest.isNotFound(err)) throw err;
    }
  }
}
