// A model behind an OpenAI-compatible API, opened the one way `ivr synth` and
// `ivr eval --endpoint` both use: the options that say how to talk to it, the client, and
// the reasoner (src/client/remote-reasoner.ts) with the prompt format and image size the
// endpoint asks for. Our own `ivr serve` advertises the bare question and its small image;
// other servers get the self-contained instruction prompt and the large image.
import { Option, type Command } from 'commander';
import type { SamplingParams } from '../reasoner/reasoner.js';
import { OpenAIClient, type ClientOptions, type ModelInfo } from '../client/client.js';
import { ApiError } from '../wire/errors.js';
import { describeModel, RemoteReasoner } from '../client/remote-reasoner.js';
import type { PromptFormat } from '../client/task.js';
import { UsageError } from './errors.js';
import { integer } from './options.js';

export interface RemoteModelOptions { apiKey?: string; prompt: PromptFormat | 'auto'; imageSize?: number }

/** --api-key, --prompt and --image-size. */
export function addRemoteModelOptions(cmd: Command): Command {
  return cmd
    .option('--api-key <key>', 'bearer key (default: $OPENAI_API_KEY)')
    .addOption(new Option('--prompt <format>', 'instruction (self-contained prompt for VLMs), question (the bare question, as the compact model was trained), or auto (ask the endpoint)').choices(['instruction', 'question', 'auto']).default('auto'))
    .option('--image-size <px>', 'send the task image of this width (default: what the endpoint asks for, else the large one)', integer(1));
}

/** A client on the endpoints with the key of --api-key or $OPENAI_API_KEY; a bad URL is a usage error. */
export function openClient(endpoints: string[], o: Pick<RemoteModelOptions, 'apiKey'>, extra: Omit<ClientOptions, 'endpoints' | 'apiKey'> = {}): OpenAIClient {
  const apiKey = o.apiKey ?? process.env.OPENAI_API_KEY;
  try {
    return new OpenAIClient({ endpoints, ...(apiKey ? { apiKey } : {}), ...extra });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/**
 * The reasoner on `model` at the client's endpoints, with what GET /models says the model
 * wants where --prompt / --image-size leave it open. The request also fails fast on an
 * unreachable endpoint or a wrong key, before any work. `command` prefixes the warnings.
 */
export async function remoteReasoner(client: OpenAIClient, model: string, o: RemoteModelOptions, sampling: SamplingParams, command: string): Promise<RemoteReasoner> {
  let listed: ModelInfo[] = [];
  try {
    listed = await client.models();
  } catch (e) {
    // A server without GET /models is still usable; an unreachable one is not.
    if (!(e instanceof ApiError) || e.status === 0 || e.status >= 500 || e.status === 401) throw e;
    console.error(`${command}: warning: GET /models failed (${e.message}); assuming an external VLM`);
  }
  const info = describeModel(listed, model);
  if (!info.found && info.available.length) console.error(`${command}: warning: the endpoint lists ${info.available.join(', ')}, not "${model}"; continuing (some servers accept any name)`);
  const promptFormat: PromptFormat = o.prompt === 'auto' ? info.promptFormat ?? 'instruction' : o.prompt;
  const imageSize = o.imageSize ?? info.imageSize;
  return new RemoteReasoner(client, { model, promptFormat, ...sampling, ...(imageSize !== undefined ? { imageSize } : {}) });
}
