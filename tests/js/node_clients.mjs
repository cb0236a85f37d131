// Drives a running `clipembed serve` with the real npm clients the README shows: the OpenAI Node
// SDK (models.list, models.retrieve, embeddings.create with its default base64 encoding) and
// LangChain JS's OpenAIEmbeddings (embedDocuments with its default batch of 512). Prints one JSON
// object for the calling test to check; exits non-zero on any client error.
//   node node_clients.mjs BASE_URL MODEL TEXT_COUNT
import OpenAI from "openai";
import { OpenAIEmbeddings } from "@langchain/openai";

const [baseURL, model, count] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: "unused", maxRetries: 0 });

const listed = [];
for await (const m of client.models.list()) listed.push(m.id);
const retrieved = await client.models.retrieve(model);

// Texts that look like URLs, data URIs and base64 among ordinary captions: a server taking every
// input as a text (--default-modality text) must embed them as texts.
const lookalikes = ["https://example.com/cat.jpg", "http://127.0.0.1/private.png",
                    "data:image/png;base64,iVBORw0KGgo=", "iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB"];
const texts = Array.from({ length: Number(count) }, (_, i) =>
  i < lookalikes.length ? lookalikes[i] : `a photo of thing number ${i}`);

const embeddings = new OpenAIEmbeddings({ model, apiKey: "unused", configuration: { baseURL } });
const vectors = await embeddings.embedDocuments(texts);

const sdk = await client.embeddings.create({ model, input: lookalikes });
console.log(JSON.stringify({
  listed,
  retrieved,
  count: vectors.length,
  dimensions: [...new Set(vectors.map((v) => v.length))],
  lookalikes,
  langchain: vectors.slice(0, lookalikes.length),
  sdk: sdk.data.map((d) => Array.from(d.embedding)),
  prompt_tokens: sdk.usage.prompt_tokens,
}));
