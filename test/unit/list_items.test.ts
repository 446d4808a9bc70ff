/**
 * The list splitter (src/kube/rest/list_items.ts): every item of a list's JSON, parsed alone,
 * equals JSON.parse of the whole list, and the envelope is the list with `"items":[]`, however
 * the response is cut into chunks (inside strings, between a backslash and what it escapes).
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { ListItemSplitter } from '../../src/kube/rest/list_items.ts';

/** Splits `text` at `cuts` (positions), as a response arrives in chunks. */
function split(text: string, cuts: number[]): { items: unknown[]; envelope: unknown } {
  const items: unknown[] = [];
  const splitter = new ListItemSplitter((t) => items.push(JSON.parse(t)));
  let at = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    splitter.push(text.slice(at, cut));
    at = cut;
  }
  splitter.push(text.slice(at));
  return { items, envelope: JSON.parse(splitter.end()) };
}

/** Every way of cutting `text` once, and into single characters. */
function everyCut(text: string): number[][] {
  const once = Array.from({ length: text.length + 1 }, (_, i) => [i]);
  return [...once, Array.from({ length: text.length }, (_, i) => i)];
}

function expectSameAsParse(text: string, cuts: number[]): void {
  const whole = JSON.parse(text) as { items?: unknown[] };
  const { items, envelope } = split(text, cuts);
  expect(items).toEqual(whole.items ?? []);
  expect(envelope).toEqual(whole.items ? { ...whole, items: [] } : whole);
}

describe('ListItemSplitter', () => {
  const cases: [string, string][] = [
    [
      'a pod list as the API server writes it',
      '{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"7","continue":"abc"},"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]}',
    ],
    ['no items', '{"kind":"PodList","metadata":{"resourceVersion":"1"},"items":[]}'],
    ['items null', '{"kind":"PodList","metadata":{},"items":null}'],
    ['items first, metadata after', '{"items":[{"a":1}],"metadata":{"continue":"x"}}'],
    ['an "items" key deeper than the list', '{"metadata":{"items":[{"no":1}]},"items":[{"yes":[{"items":[]}]}]}'],
    ['braces and brackets in strings', '{"items":[{"s":"}]{[\\"items\\":["},{"t":"\\\\"}],"metadata":{"c":"]"}}'],
    ['escaped quotes and backslashes', '{"items":[{"a":"x\\\\\\"y","b":"\\\\\\\\"},{"c":"\\u007b"}]}'],
    [
      'whitespace (a pretty-printed answer)',
      '{\n  "kind": "List",\n  "items" : [\n    { "a": [1, 2] } ,\n    {"b":{}}\n  ],\n  "metadata": {}\n}',
    ],
    ['an object that is not a list', '{"kind":"Status","code":410,"message":"too old"}'],
    ['non-ASCII text', '{"items":[{"name":"ünïcødé ✓ 𝄞"}],"metadata":{}}'],
  ];
  test.each(cases)('%s: same items and envelope at every cut', (_name, text) => {
    for (const cuts of everyCut(text)) expectSameAsParse(text, cuts);
  });

  test('elements of items that are not objects are left out', () => {
    expect(split('{"items":[1,{"a":1},"x",null],"metadata":{}}', []).items).toEqual([{ a: 1 }]);
  });

  test('a response that ends inside the JSON is an error, not a short list', () => {
    const splitter = new ListItemSplitter(() => {});
    splitter.push('{"items":[{"a":"b');
    expect(() => splitter.end()).toThrow('ended before its JSON did');
  });

  test('items are handed over as soon as they are complete, before the response ends', () => {
    const seen: unknown[] = [];
    const splitter = new ListItemSplitter((t) => seen.push(JSON.parse(t)));
    splitter.push('{"metadata":{},"items":[{"a":1},{"b"');
    expect(seen).toEqual([{ a: 1 }]);
    splitter.push(':2}]}');
    expect(seen).toEqual([{ a: 1 }, { b: 2 }]);
  });

  test('property: any list, cut anywhere, gives JSON.parse of the whole', () => {
    const item = fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 });
    const list = fc.record({
      kind: fc.constant('List'),
      metadata: fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
      items: fc.array(item, { maxLength: 6 }),
    });
    fc.assert(
      fc.property(list, fc.array(fc.nat(), { maxLength: 12 }), fc.boolean(), (value, raw, pretty) => {
        const text = JSON.stringify(value, null, pretty ? 2 : undefined);
        expectSameAsParse(
          text,
          raw.map((n) => n % (text.length + 1)),
        );
      }),
      { numRuns: 500 },
    );
  });
});
