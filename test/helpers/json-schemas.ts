// Twenty JSON schemas of the kinds agent frameworks send (nested objects, arrays with item bounds,
// enums, anyOf, $ref/$defs, string formats and patterns, bounded numbers), each bounded so that even a
// random-weight model must finish them within a few hundred tokens.

const name = { type: 'string', minLength: 1, maxLength: 12 };

export const JSON_SCHEMAS: Record<string, Record<string, unknown>> = {
  flat: { type: 'object', properties: { name, age: { type: 'integer', minimum: 0, maximum: 120 } }, required: ['name', 'age'], additionalProperties: false },
  booleans: { type: 'object', properties: { ok: { type: 'boolean' }, done: { type: 'boolean' } }, required: ['ok', 'done'] },
  enumOnly: { type: 'object', properties: { color: { enum: ['red', 'green', 'blue'] } }, required: ['color'] },
  constValue: { type: 'object', properties: { kind: { const: 'event' }, id: { type: 'integer', minimum: 1, maximum: 999 } }, required: ['kind', 'id'] },
  nested: {
    type: 'object',
    properties: { user: { type: 'object', properties: { name, address: { type: 'object', properties: { city: name, zip: { type: 'string', pattern: '^[0-9]{5}$' } }, required: ['city', 'zip'] } }, required: ['name', 'address'] } },
    required: ['user'],
  },
  arrayBounds: { type: 'object', properties: { tags: { type: 'array', items: { enum: ['a', 'b', 'c'] }, minItems: 1, maxItems: 3 } }, required: ['tags'] },
  arrayOfObjects: {
    type: 'object',
    properties: { items: { type: 'array', minItems: 2, maxItems: 2, items: { type: 'object', properties: { sku: { type: 'string', pattern: '^[A-Z]{3}-[0-9]{2}$' }, qty: { type: 'integer', minimum: 1, maximum: 9 } }, required: ['sku', 'qty'] } } },
    required: ['items'],
  },
  tuple: { type: 'array', prefixItems: [{ type: 'integer', minimum: 0, maximum: 9 }, { enum: ['x', 'y'] }], items: false, minItems: 2 },
  anyOf: { type: 'object', properties: { value: { anyOf: [{ type: 'integer', minimum: 0, maximum: 99 }, { type: 'boolean' }] } }, required: ['value'] },
  oneOfShapes: {
    type: 'object',
    properties: { shape: { anyOf: [
      { type: 'object', properties: { circle: { type: 'integer', minimum: 1, maximum: 9 } }, required: ['circle'], additionalProperties: false },
      { type: 'object', properties: { square: { type: 'integer', minimum: 1, maximum: 9 } }, required: ['square'], additionalProperties: false },
    ] } },
    required: ['shape'],
  },
  refDefs: {
    $defs: { point: { type: 'object', properties: { x: { type: 'integer', minimum: -9, maximum: 9 }, y: { type: 'integer', minimum: -9, maximum: 9 } }, required: ['x', 'y'] } },
    type: 'object', properties: { from: { $ref: '#/$defs/point' }, to: { $ref: '#/$defs/point' } }, required: ['from', 'to'],
  },
  dateFormat: { type: 'object', properties: { day: { type: 'string', format: 'date' } }, required: ['day'] },
  ipv4Format: { type: 'object', properties: { host: { type: 'string', format: 'ipv4' } }, required: ['host'] },
  uuidFormat: { type: 'object', properties: { id: { type: 'string', format: 'uuid' } }, required: ['id'] },
  pattern: { type: 'object', properties: { code: { type: 'string', pattern: '^[a-f0-9]{8}$' } }, required: ['code'] },
  boundedIntegers: { type: 'object', properties: { lo: { type: 'integer', minimum: 10, maximum: 20 }, hi: { type: 'integer', exclusiveMinimum: 100, exclusiveMaximum: 105 } }, required: ['lo', 'hi'] },
  nullable: { type: 'object', properties: { note: { anyOf: [{ type: 'null' }, name] } }, required: ['note'] },
  optionalFields: { type: 'object', properties: { a: { type: 'integer', minimum: 0, maximum: 5 }, b: name }, required: ['a'], additionalProperties: false },
  deepNesting: {
    type: 'object',
    properties: { l1: { type: 'object', properties: { l2: { type: 'object', properties: { l3: { type: 'array', maxItems: 2, items: { type: 'boolean' } } }, required: ['l3'] } }, required: ['l2'] } },
    required: ['l1'],
  },
  toolArguments: {
    type: 'object',
    properties: { location: name, unit: { enum: ['celsius', 'fahrenheit'] }, days: { type: 'integer', minimum: 1, maximum: 7 } },
    required: ['location', 'unit', 'days'], additionalProperties: false,
  },
};
