// Ten JSON schemas of the kind applications send (function arguments, extraction targets, API
// payloads), each with a valid instance: the grammar benchmark walks the instance's tokens through the
// matcher, timing the mask at every position.

export interface BenchSchema {
  name: string;
  schema: Record<string, unknown>;
  instance: unknown;
}

const str = { type: 'string' };
const int = { type: 'integer' };

export const BENCH_SCHEMAS: BenchSchema[] = [
  {
    name: 'weather call',
    schema: { type: 'object', properties: { location: str, unit: { enum: ['celsius', 'fahrenheit'] }, days: { type: 'integer', minimum: 1, maximum: 14 } }, required: ['location', 'unit'], additionalProperties: false },
    instance: { location: 'San Francisco, CA', unit: 'celsius', days: 3 },
  },
  {
    name: 'calendar event',
    schema: {
      type: 'object', required: ['title', 'start', 'end', 'attendees'],
      properties: { title: str, start: { type: 'string', format: 'date-time' }, end: { type: 'string', format: 'date-time' }, location: str, attendees: { type: 'array', items: { type: 'object', properties: { name: str, email: { type: 'string', format: 'email' } }, required: ['name', 'email'] }, minItems: 1 } },
    },
    instance: { title: 'Quarterly planning', start: '2026-12-07T09:30:00Z', end: '2026-12-07T11:00:00Z', location: 'Room 4', attendees: [{ name: 'Ada', email: 'ada@example.com' }, { name: 'Alan', email: 'alan@example.org' }] },
  },
  {
    name: 'product listing',
    schema: { type: 'object', required: ['sku', 'name', 'price', 'tags'], properties: { sku: { type: 'string', pattern: '^[A-Z]{3}-[0-9]{4}$' }, name: str, price: { type: 'number', minimum: 0 }, currency: { enum: ['USD', 'EUR', 'GBP'] }, tags: { type: 'array', items: str, maxItems: 5 }, inStock: { type: 'boolean' } } },
    instance: { sku: 'ABC-1234', name: 'Espresso grinder', price: 249.99, currency: 'EUR', tags: ['kitchen', 'coffee'], inStock: true },
  },
  {
    name: 'postal address',
    schema: { type: 'object', required: ['street', 'city', 'country'], properties: { street: str, city: str, region: str, postalCode: { type: 'string', pattern: '^[0-9A-Z -]{3,10}$' }, country: { type: 'string', minLength: 2, maxLength: 2 } } },
    instance: { street: '221B Baker Street', city: 'London', postalCode: 'NW1 6XE', country: 'GB' },
  },
  {
    name: 'github issue',
    schema: {
      type: 'object', required: ['title', 'body', 'labels', 'priority'],
      properties: { title: str, body: str, labels: { type: 'array', items: { enum: ['bug', 'feature', 'docs', 'question'] }, uniqueItems: true }, priority: { enum: ['low', 'medium', 'high'] }, assignees: { type: 'array', items: str } },
    },
    instance: { title: 'Crash when the prompt is empty', body: 'Steps: send an empty prompt.\nExpected: a 400.', labels: ['bug'], priority: 'high', assignees: ['octocat'] },
  },
  {
    name: 'invoice',
    schema: {
      type: 'object', required: ['number', 'date', 'lines', 'total'],
      $defs: { line: { type: 'object', properties: { description: str, quantity: { type: 'integer', minimum: 1 }, unitPrice: { type: 'number' } }, required: ['description', 'quantity', 'unitPrice'] } },
      properties: { number: str, date: { type: 'string', format: 'date' }, lines: { type: 'array', items: { $ref: '#/$defs/line' }, minItems: 1 }, total: { type: 'number' } },
    },
    instance: { number: 'INV-0042', date: '2026-11-30', lines: [{ description: 'Consulting', quantity: 10, unitPrice: 120 }, { description: 'Travel', quantity: 1, unitPrice: 85.5 }], total: 1285.5 },
  },
  {
    name: 'recipe',
    schema: {
      type: 'object', required: ['name', 'servings', 'ingredients', 'steps'],
      properties: { name: str, servings: int, ingredients: { type: 'array', items: { type: 'object', properties: { item: str, amount: str }, required: ['item', 'amount'] } }, steps: { type: 'array', items: str, minItems: 1 }, vegetarian: { type: 'boolean' } },
    },
    instance: { name: 'Pancakes', servings: 4, ingredients: [{ item: 'flour', amount: '200 g' }, { item: 'milk', amount: '300 ml' }, { item: 'eggs', amount: '2' }], steps: ['Whisk everything.', 'Fry in a hot pan.'], vegetarian: true },
  },
  {
    name: 'flight search',
    schema: {
      type: 'object', required: ['from', 'to', 'date', 'passengers'],
      properties: { from: { type: 'string', pattern: '^[A-Z]{3}$' }, to: { type: 'string', pattern: '^[A-Z]{3}$' }, date: { type: 'string', format: 'date' }, returnDate: { type: 'string', format: 'date' }, passengers: { type: 'integer', minimum: 1, maximum: 9 }, cabin: { enum: ['economy', 'premium', 'business', 'first'] } },
    },
    instance: { from: 'SFO', to: 'NRT', date: '2027-01-15', returnDate: '2027-01-29', passengers: 2, cabin: 'economy' },
  },
  {
    name: 'user profile',
    schema: {
      type: 'object', required: ['id', 'name', 'contact'],
      properties: { id: { type: 'string', format: 'uuid' }, name: { type: 'object', properties: { first: str, last: str }, required: ['first', 'last'] }, contact: { anyOf: [{ type: 'object', properties: { email: str }, required: ['email'] }, { type: 'object', properties: { phone: str }, required: ['phone'] }] }, age: { anyOf: [int, { type: 'null' }] } },
    },
    instance: { id: '3f2b8c1e-9a4d-4e5f-8b6a-1c2d3e4f5a6b', name: { first: 'Grace', last: 'Hopper' }, contact: { email: 'grace@navy.mil' }, age: null },
  },
  {
    name: 'search query',
    schema: {
      type: 'object', required: ['query', 'filters'],
      properties: { query: str, filters: { type: 'object', properties: { after: { type: 'string', format: 'date' }, language: { enum: ['en', 'de', 'fr', 'ja'] }, sites: { type: 'array', items: str, maxItems: 3 } } }, limit: { type: 'integer', minimum: 1, maximum: 50 } },
    },
    instance: { query: 'paged attention kv cache', filters: { after: '2023-06-01', language: 'en', sites: ['arxiv.org'] }, limit: 10 },
  },
];
