// The official OpenAI Node SDK and the Vercel AI SDK (from npm) against a real podfleet
// coordinator: `node sdk.mjs STEP BASE_URL API_KEY [ARGS...]`. Each step checks what a developer
// switching from OpenAI relies on and exits non-zero, saying why, when it does not hold.
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { experimental_transcribe as transcribe } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';

const [step, base, key, ...args] = process.argv.slice(2);
const fail = (why) => {
  console.error(`FAIL (${step}): ${why}`);
  process.exit(1);
};
const check = (ok, why) => ok || fail(why);
const client = (options = {}) => new OpenAI({ apiKey: key, baseURL: `${base}/v1`, ...options });

const steps = {
  // Every file in DIR through the OpenAI SDK, as an upload stream with its own name.
  async formats(dir) {
    const names = fs.readdirSync(dir).sort();
    check(names.length >= 9, `only ${names.length} files in ${dir}`);
    const results = await Promise.all(names.map(async (name) => {
      const r = await client().audio.transcriptions.create({
        file: fs.createReadStream(path.join(dir, name)),
        model: 'whisper-1',
      });
      check(typeof r.text === 'string' && r.text.trim().length > 0, `${name}: no text: ${JSON.stringify(r)}`);
      return `${name}: ${r.text.trim().split(/\s+/).length} words`;
    }));
    console.log(results.join('; '));
  },

  // verbose_json through the OpenAI SDK: segments with the OpenAI fields, words at top level.
  async verbose(file) {
    const r = await client().audio.transcriptions.create({
      file: fs.createReadStream(file),
      model: 'whisper-1',
      response_format: 'verbose_json',
      timestamp_granularities: ['segment', 'word'],
    });
    check(r.language === 'english' && r.duration > 1, `header fields: ${JSON.stringify(r)}`);
    check(r.segments?.length > 0 && r.words?.length > 0, 'no segments or words');
    for (const s of r.segments) {
      for (const f of ['id', 'seek', 'start', 'end', 'text', 'tokens', 'temperature', 'avg_logprob',
                       'compression_ratio', 'no_speech_prob']) {
        check(f in s, `segment without ${f}: ${JSON.stringify(s)}`);
      }
      check(typeof s.compression_ratio === 'number' && s.compression_ratio > 0, 'compression_ratio');
      // PocketSphinx has no decoder log-probabilities: null, not an invented number.
      check(s.avg_logprob === null && s.no_speech_prob === null, `invented confidence: ${JSON.stringify(s)}`);
    }
    console.log(`${r.segments.length} segments, ${r.words.length} words`);
  },

  // The Vercel AI SDK: with a provider option it asks for verbose_json and validates the body.
  async vercel(...files) {
    const openai = createOpenAI({ apiKey: key, baseURL: `${base}/v1` });
    for (const file of files) {
      const r = await transcribe({
        model: openai.transcription('whisper-1'),
        audio: fs.readFileSync(file),
        providerOptions: { openai: { language: 'en', timestampGranularities: ['word'] } },
      });
      check(r.text.trim().length > 0, `${file}: no text`);
      check(r.language === 'en' && r.durationInSeconds > 1, `${file}: ${r.language} ${r.durationInSeconds}`);
      check(r.segments.length > 0, `${file}: no timed segments`);
      const plain = await transcribe({ model: openai.transcription('whisper-1'), audio: fs.readFileSync(file) });
      check(plain.text.trim().length > 0, `${file}: no text without options`);
    }
    console.log(`${files.length} files`);
  },

  // A client that times out: the SDK retries twice; every attempt joins the one job, and the
  // caller learns nothing went twice into the queue. The fleet's only worker (`worker`, a PID) is
  // stopped while the SDK tries, so no attempt can finish however fast the machine is; then the
  // last call gets the transcript.
  async retry(file, worker) {
    let attempts = 0;
    const counting = (url, init) => {
      attempts += 1;
      return fetch(url, init);
    };
    const bytes = fs.readFileSync(file);
    const upload = () => new File([bytes], path.basename(file), { type: 'audio/webm' });
    process.kill(Number(worker), 'SIGSTOP');
    try {
      await client({ timeout: 300, maxRetries: 2, fetch: counting }).audio.transcriptions.create({
        file: upload(), model: 'whisper-1',
      });
      fail('the call did not time out');
    } catch (e) {
      check(e instanceof OpenAI.APIConnectionTimeoutError, `expected a timeout, got ${e}`);
    } finally {
      process.kill(Number(worker), 'SIGCONT');
    }
    check(attempts >= 3, `the SDK made ${attempts} attempts; it retries a timeout twice`);
    const r = await client().audio.transcriptions.create({ file: upload(), model: 'whisper-1' });
    check(r.text.trim().length > 0, 'no text on the last call');
    console.log(`${attempts + 1} calls`);
  },

  // stream: true: deltas arrive before the end, and they add up to the final text.
  async stream(file) {
    const started = Date.now();
    const stream = await client().audio.transcriptions.create({
      file: fs.createReadStream(file), model: 'whisper-1', stream: true,
    });
    const deltas = [];
    let done = null;
    for await (const event of stream) {
      if (event.type === 'transcript.text.delta') deltas.push({ at: Date.now() - started, text: event.delta });
      if (event.type === 'transcript.text.done') done = { at: Date.now() - started, text: event.text };
    }
    check(done, 'no transcript.text.done event');
    check(deltas.length >= 2, `${deltas.length} deltas`);
    check(deltas[0].at < done.at - 500, `the first delta came at ${deltas[0].at} ms, the end at ${done.at} ms`);
    check(deltas.map((d) => d.text).join('') === done.text, 'the deltas do not add up to the text');
    console.log(`${deltas.length} deltas at ${deltas.map((d) => d.at).join(', ')} ms; done at ${done.at} ms`);
  },

  // A language and a model that only some workers serve (fleet C: PocketSphinx en-us and a
  // multilingual whisper model): both SDKs reach the whisper worker, whose verbose_json values are
  // whisper's own (random weights: the numbers are real decoder outputs, the text is nonsense).
  async routed(file, whisperModel) {
    const r = await client().audio.transcriptions.create({
      file: fs.createReadStream(file), model: whisperModel, language: 'fr',
      response_format: 'verbose_json', timestamp_granularities: ['segment'],
    });
    check(r.language === 'french', `language ${r.language}: not transcribed as French`);
    check(r.segments?.length > 0, `no segments: ${JSON.stringify(r)}`);
    for (const s of r.segments) {
      check(typeof s.avg_logprob === 'number' && s.avg_logprob <= 0, `avg_logprob ${s.avg_logprob}`);
      check(typeof s.no_speech_prob === 'number' && s.no_speech_prob >= 0 && s.no_speech_prob <= 1,
        `no_speech_prob ${s.no_speech_prob}`);
      check(typeof s.compression_ratio === 'number' && s.compression_ratio > 0, 'compression_ratio');
    }
    const openai = createOpenAI({ apiKey: key, baseURL: `${base}/v1` });
    const v = await transcribe({
      model: openai.transcription(whisperModel),
      audio: fs.readFileSync(file),
      providerOptions: { openai: { language: 'de', timestampGranularities: ['segment'] } },
    });
    check(v.language === 'de' && v.segments.length > 0, `Vercel: ${v.language}, ${v.segments.length} segments`);
    const c = client({ maxRetries: 0 });
    try {
      await c.audio.transcriptions.create({
        file: fs.createReadStream(file), model: 'pocketsphinx/en-us', language: 'fr' });
      fail('French on PocketSphinx en-us was accepted');
    } catch (e) {
      check(e instanceof OpenAI.BadRequestError && e.param === 'language', `got ${e}`);
    }
    const s = r.segments[0];
    console.log(`${r.segments.length} segments in French; first: avg_logprob ${s.avg_logprob.toFixed(3)}, ` +
      `no_speech_prob ${s.no_speech_prob.toFixed(3)}, compression_ratio ${s.compression_ratio.toFixed(2)}; ` +
      `Vercel SDK in German: ${v.segments.length} segments`);
  },

  // Models, and refusals in OpenAI's error shape that the SDK turns into typed errors.
  async refusals(file, engineModel) {
    const c = client({ maxRetries: 0 });
    const m = await c.models.retrieve(engineModel);
    check(m.id === engineModel && m.object === 'model', JSON.stringify(m));
    const expectError = async (type, param, call) => {
      try {
        await call();
      } catch (e) {
        check(e instanceof type, `expected ${type.name}, got ${e}`);
        check(e.param === param, `param ${e.param}, expected ${param}`);
        check(!String(e.message).includes('/api/media'), `internal path in: ${e.message}`);
        return;
      }
      fail(`no ${type.name}`);
    };
    await expectError(OpenAI.NotFoundError, 'model', () => c.models.retrieve('whisper/large-v3'));
    await expectError(OpenAI.NotFoundError, 'model', () => c.audio.transcriptions.create({
      file: fs.createReadStream(file), model: 'whisper/large-v3' }));
    await expectError(OpenAI.BadRequestError, 'language', () => c.audio.transcriptions.create({
      file: fs.createReadStream(file), model: 'whisper-1', language: 'fr' }));
    await expectError(OpenAI.BadRequestError, 'file', () => c.audio.transcriptions.create({
      file: new File([Buffer.from('\x1aE\xdf\xa3 junk that no demuxer reads'.repeat(50))], 'clip.webm'),
      model: 'whisper-1' }));
    console.log('typed errors with param model, language and file');
  },
};

check(steps[step], `no step ${step}`);
await steps[step](...args);
