// The agent frameworks Node developers use, unmodified, against tsllm serve: the Vercel AI SDK (`ai`
// with @ai-sdk/openai-compatible) and LangChain.js (@langchain/openai). The chat model is the tiny
// random Llama with Qwen3's real tokenizer and template, so what the tests assert is what the grammar
// guarantees even to random weights: required tool calls valid against their zod schemas, structured
// output that parses as the schema says. Text is checked against the official openai client's.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { tool as lcTool } from '@langchain/core/tools';
import { ChatOpenAI, OpenAIEmbeddings } from '@langchain/openai';
import { embedMany, generateObject, generateText, stepCountIs, streamText, tool } from 'ai';
import { z } from 'zod';
import { maxAbsDiff } from '../helpers/fixtures.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { tinyChatModel } from '../helpers/tiny-chat-model.js';

// No maxLength on strings here: JSON Schema counts code points, zod UTF-16 units, so a random model's
// emoji could pass one and fail the other.
const weatherInput = z.object({ city: z.enum(['Paris', 'Berlin', 'Tokyo']), unit: z.enum(['celsius', 'fahrenheit']) });
const person = z.object({ name: z.enum(['Ada', 'Linus', 'Grace']), age: z.number().int().min(0).max(120), tags: z.array(z.enum(['a', 'b', 'c'])).max(3) });
const TEXTS = ['Hello there', 'The weather in Paris is mild today.'];

describe('agent frameworks against tsllm serve', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ model: tinyChatModel('qwen3'), kvCacheMemory: 32 << 20 }, { servedModelName: 'q' });
  });
  after(() => s.close());

  const reference = async (prompt: string, maxTokens: number) => {
    const r = await s.client.chat.completions.create({ model: 'q', messages: [{ role: 'user', content: prompt }], temperature: 0, max_completion_tokens: maxTokens });
    return r.choices[0]!.message.content!;
  };
  const referenceEmbeddings = async () => (await s.client.embeddings.create({ model: 'q', input: TEXTS })).data.map((d) => d.embedding);

  describe('Vercel AI SDK', () => {
    const provider = () => createOpenAICompatible({ name: 'tsllm', baseURL: `${s.url}/v1`, apiKey: 'unused', supportsStructuredOutputs: true, includeUsage: true });

    // The SDK has no parallel-calls setting; providerOptions passes vLLM-style extras into the body.
    it('generateText runs a tool loop: a required call, its result sent back, then text', async () => {
      const seen: z.infer<typeof weatherInput>[] = [];
      const r = await generateText({
        model: provider().chatModel('q'),
        prompt: 'What is the weather in Paris?',
        tools: {
          get_weather: tool({
            description: 'Weather in a city', inputSchema: weatherInput,
            execute: async (input) => {
              seen.push(input);
              return { temperature: 21, unit: input.unit };
            },
          }),
        },
        toolChoice: 'required',
        prepareStep: ({ stepNumber }) => (stepNumber > 0 ? { toolChoice: 'none' } : undefined),
        stopWhen: stepCountIs(3),
        providerOptions: { tsllm: { parallel_tool_calls: false } },
        temperature: 0,
        maxOutputTokens: 100,
      });
      assert.equal(r.steps.length, 2);
      assert.equal(r.steps[0]!.finishReason, 'tool-calls');
      assert.equal(r.steps[0]!.toolCalls.length, 1);
      assert.equal(r.steps[0]!.toolCalls[0]!.toolName, 'get_weather');
      assert.equal(seen.length, 1);
      assert.ok(weatherInput.safeParse(seen[0]).success);
      assert.deepEqual(r.steps[0]!.toolResults[0]!.output, { temperature: 21, unit: seen[0]!.unit });
      assert.equal(r.steps[1]!.toolCalls.length, 0);
      assert.ok(['stop', 'length'].includes(r.steps[1]!.finishReason));
      assert.equal(r.text, r.steps[1]!.text);
    });

    it('streamText streams the text the openai client gets whole', async () => {
      const r = streamText({ model: provider().chatModel('q'), prompt: TEXTS[0]!, temperature: 0, maxOutputTokens: 16 });
      let text = '';
      let parts = 0;
      for await (const delta of r.textStream) {
        text += delta;
        parts++;
      }
      assert.ok(parts > 1, 'more than one delta');
      assert.equal(text, await reference(TEXTS[0]!, 16));
      assert.equal((await r.usage).outputTokens, 16);
    });

    it('generateObject with a zod schema returns an object the schema accepts', async () => {
      for (const temperature of [0, 1]) {
        const r = await generateObject({ model: provider().chatModel('q'), schema: person, prompt: 'Invent a person.', temperature, seed: 7, maxOutputTokens: 200 });
        assert.ok(person.safeParse(r.object).success, JSON.stringify(r.object));
        assert.equal(r.finishReason, 'stop');
      }
    });

    it('embedMany gives the /v1/embeddings vectors', async () => {
      const r = await embedMany({ model: provider().embeddingModel('q'), values: TEXTS });
      const expected = await referenceEmbeddings();
      assert.equal(r.embeddings.length, 2);
      r.embeddings.forEach((e, i) => assert.ok(maxAbsDiff(e, expected[i]!) < 1e-6));
      assert.ok((r.usage.tokens ?? 0) > 0);
    });
  });

  describe('LangChain.js', () => {
    const chat = (extra: Record<string, unknown> = {}) =>
      new ChatOpenAI({ model: 'q', apiKey: 'unused', configuration: { baseURL: `${s.url}/v1` }, temperature: 0, maxTokens: 80, maxRetries: 0, ...extra });

    it('invoke gives the openai client\'s text', async () => {
      const m = await chat({ maxTokens: 16 }).invoke(TEXTS[0]!);
      assert.equal(m.content, await reference(TEXTS[0]!, 16));
    });

    it('bindTools with a required choice and no parallel calls gives one tool call whose args match the schema', async () => {
      const weather = lcTool(async (input: z.infer<typeof weatherInput>) => `21 degrees ${input.unit}`, { name: 'get_weather', description: 'Weather in a city', schema: weatherInput });
      const m = await chat().bindTools([weather], { tool_choice: 'required', parallel_tool_calls: false }).invoke('What is the weather in Paris?');
      assert.equal(m.tool_calls?.length, 1);
      const call = m.tool_calls![0]!;
      assert.equal(call.name, 'get_weather');
      assert.ok(weatherInput.safeParse(call.args).success, JSON.stringify(call.args));
      assert.ok(call.id);
      // The result goes back as a ToolMessage and the model answers (tool_choice none).
      const result = await weather.invoke(call);
      const answer = await chat().bindTools([weather], { tool_choice: 'none' }).invoke([{ role: 'user', content: 'What is the weather in Paris?' }, m, result]);
      assert.equal(answer.tool_calls?.length ?? 0, 0);
      assert.equal(typeof answer.content, 'string');
    });

    for (const method of ['jsonSchema', 'functionCalling'] as const) {
      it(`withStructuredOutput(zod) by ${method} parses as the schema says`, async () => {
        const r = await chat({ maxTokens: 200 }).withStructuredOutput(person, { method }).invoke('Invent a person.');
        assert.ok(person.safeParse(r).success, JSON.stringify(r));
      });
    }

    it('OpenAIEmbeddings gives the /v1/embeddings vectors', async () => {
      const e = new OpenAIEmbeddings({ model: 'q', apiKey: 'unused', configuration: { baseURL: `${s.url}/v1` }, maxRetries: 0 });
      const docs = await e.embedDocuments(TEXTS);
      const expected = await referenceEmbeddings();
      docs.forEach((d, i) => assert.ok(maxAbsDiff(d, expected[i]!) < 1e-6));
      assert.ok(maxAbsDiff(await e.embedQuery(TEXTS[0]!), expected[0]!) < 1e-6);
    });
  });
});
