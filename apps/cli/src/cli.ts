import { LATENT_CACHE_FORMATS } from '@dsa/runtime';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { cliSetting } from './cli-settings.js';
import { benchCommand } from './commands/bench.js';
import { chatCommand } from './commands/chat.js';
import { convertCommand } from './commands/convert.js';
import { evalCommand } from './commands/eval.js';
import { forwardCommand } from './commands/forward.js';
import { generateCommand } from './commands/generate.js';
import { inspectCommand } from './commands/inspect.js';
import { makeModelCommand } from './commands/make-model.js';
import { pullCommand } from './commands/pull.js';
import { serveCommand } from './commands/serve.js';
import { resolveModelArgument } from './hub/resolve-model.js';
import { parseBytes, parseChoice, parseList, parseNumber, UsageError } from './usage-error.js';

const asInt = (flag: string, min: number, max: number) => (v: string) =>
  wrap(() => parseNumber(v, flag, min, max, true));
const asNumber = (flag: string, min: number, max: number) => (v: string) =>
  wrap(() => parseNumber(v, flag, min, max));
const asIntList = (flag: string, min: number) => (v: string) =>
  wrap(() => parseList(v, flag, (p) => parseNumber(p, flag, min, 2 ** 24, true)));
const asChoiceList =
  <T extends string>(flag: string, choices: readonly T[]) =>
  (v: string) =>
    wrap(() => parseList(v, flag, (p) => parseChoice(p, flag, choices)));
function wrap<T>(f: () => T): T {
  try {
    return f();
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function modelOptions(command: Command): Command {
  return command
    .requiredOption('--model <path>', 'model folder (config.json + safetensors) or a .gguf file')
    .option('--backend <name>', 'auto, reference, cpu, cuda[:N], ascend[:N] (DSA_BACKEND overrides)')
    .addOption(
      new Option('--indexer <precision>', 'indexer score precision').choices(['fp32', 'fp8']).default('fp32'),
    )
    .addOption(
      new Option('--attention <mode>', 'sparse (DSA top-k) or dense (every cached position)')
        .choices(['sparse', 'dense'])
        .default('sparse'),
    )
    .option(
      '--index-topk <k>',
      "positions the indexer selects per query (default: the model's index_topk)",
      asInt('--index-topk', 1, 1 << 24),
    )
    .option(
      '--topk-policy <policy>',
      'adaptive top-k: fixed, mass:P (smallest set holding P of the index-score softmax) or entropy:C',
    )
    .option('--cache-tokens <n>', 'KV cache capacity in tokens', asInt('--cache-tokens', 1, 2 ** 31))
    .option('--kv-cache-memory <bytes>', 'KV cache pool size in bytes (accepts 512MB, 8GiB)', (v: string) =>
      wrap(() => parseBytes(v, '--kv-cache-memory')),
    )
    .addOption(latentCacheOption())
    .addOption(stepMemoryOption())
    .option('-q, --quiet', 'print only the result');
}

/** `--step-memory`: the workspace bytes of one step (DeepseekModel's `stepMemory`). */
function stepMemoryOption(): Option {
  return new Option(
    '--step-memory <bytes>',
    'workspace (activation) bytes one step may use; long prompts prefill in chunks that fit (accepts 256MB, 1GiB; default: no limit)',
  ).argParser((v: string) => wrap(() => parseBytes(v, '--step-memory')));
}

/** `--latent-cache`: how the MLA latent cache stores rows (DeepseekModel's `latentCache`). */
function latentCacheOption(): Option {
  return new Option(
    '--latent-cache <format>',
    "MLA latent cache rows: f32, bf16 or fp8 (DeepSeek's 656-byte layout: e4m3 + power-of-two scales, bf16 RoPE; default f32, or bf16 where the backend's attention rounds rows to bf16 anyway: the cpu backend's bf16 precision)",
  ).choices(LATENT_CACHE_FORMATS);
}

/** The `dsa` program. */
export function buildProgram(): Command {
  const program = new Command('dsa')
    .description('dsa: run DeepSeek Sparse Attention (DeepSeek-V3.2) models from Node.js')
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) })
    .showHelpAfterError('(run with --help for usage)')
    // `--model ORG/NAME[@REV]` anywhere: a local path wins, else the snapshot pulled into the hub cache.
    .hook('preAction', (_program, command) => {
      const model = command.getOptionValue('model');
      if (typeof model !== 'string') return;
      const resolved = resolveModelArgument(model);
      command.setOptionValue('model', resolved.path);
      if (resolved.repo && command.options.some((o) => o.attributeName() === 'servedModelName'))
        command.setOptionValue('servedModelName', command.getOptionValue('servedModelName') ?? resolved.repo);
    });

  modelOptions(program.command('forward'))
    .description(
      'run one forward pass; write logits [S, vocab] (and topk_indices [layers, S, K]) to a safetensors file',
    )
    .requiredOption('--ids <ids>', 'comma-separated token ids, e.g. 1,2,3')
    .requiredOption('--out <file>', 'output .safetensors file')
    .addHelpText(
      'after',
      '\nExample:\n  dsa forward --model fixtures/tiny --ids 1,2,3 --out /tmp/logits.safetensors',
    )
    .action((options) => forwardCommand(options));

  modelOptions(program.command('generate'))
    .description('prefill the prompt, then decode token by token with the KV cache')
    .option('--ids <ids>', 'prompt as comma-separated token ids')
    .option('--prompt <text>', 'prompt text (needs tokenizer.json in the model folder)')
    .requiredOption('--max-tokens <n>', 'tokens to generate', asInt('--max-tokens', 1, 1 << 20))
    .option('--temperature <t>', 'sampling temperature; 0 = greedy', asNumber('--temperature', 0, 100), 0)
    .option('--top-k <k>', 'keep the k most likely tokens', asInt('--top-k', 0, 1 << 24))
    .option('--top-p <p>', 'nucleus sampling threshold', asNumber('--top-p', 0, 1))
    .option('--min-p <p>', 'drop tokens below min-p x the top probability', asNumber('--min-p', 0, 1))
    .option('--seed <n>', 'sampling seed', asInt('--seed', 0, 2 ** 32 - 1))
    .option('--chat', "wrap --prompt as a user message in the model's chat format")
    .option('--json', 'print {"tokens": [...]} instead of streaming')
    .addHelpText(
      'after',
      '\nExamples:\n  dsa generate --model fixtures/tiny --ids 1,2,3 --max-tokens 8\n  dsa generate --model fixtures/tiny --ids 1,2,3 --max-tokens 8 --temperature 0.8 --seed 7 --json',
    )
    .action((options) => generateCommand(options));

  modelOptions(program.command('serve'))
    .description(
      'OpenAI-compatible HTTP server: /v1/chat/completions, /v1/completions, /v1/models, /health, /metrics',
    )
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'port', asInt('--port', 0, 65535), 8000)
    .option('--api-key <key>', 'require Authorization: Bearer <key> (or set DSA_API_KEY)')
    .option('--served-model-name <name>', 'the model id clients send (default: the folder name)')
    .option('--max-batch-tokens <n>', 'tokens per engine step', asInt('--max-batch-tokens', 1, 1 << 20))
    .option(
      '--max-queue <n>',
      'requests that may wait before the server answers 429',
      asInt('--max-queue', 1, 1 << 20),
    )
    .option(
      '--shutdown-timeout <s>',
      'seconds running streams get to finish on SIGTERM',
      asNumber('--shutdown-timeout', 0, 3600),
      30,
    )
    .option('--cors <origin>', 'allow cross-origin requests from this origin (`*` for any; default: none)')
    .option(
      '--body-limit <bytes>',
      'largest request body; larger ones get 413',
      asInt('--body-limit', 1024, 1 << 30),
      8 * 1024 * 1024,
    )
    .addHelpText(
      'after',
      '\nExample:\n  dsa serve --model fixtures/tiny-chat --port 8000\n  curl -s localhost:8000/v1/chat/completions -H "content-type: application/json" -d \'{"messages":[{"role":"user","content":"hi"}],"max_tokens":8}\'',
    )
    .action((options) => serveCommand(options));

  modelOptions(program.command('chat'))
    .description(
      'interactive chat in the terminal: streamed answers, thinking dimmed, /reset, /system, Ctrl-C stops an answer',
    )
    .option('--system <text>', 'system prompt')
    .option('--think', 'start with thinking mode on')
    .option('--max-tokens <n>', 'tokens per answer at most', asInt('--max-tokens', 1, 1 << 20), 512)
    .option('--temperature <t>', 'sampling temperature', asNumber('--temperature', 0, 100), 0.6)
    .option('--top-p <p>', 'nucleus sampling threshold', asNumber('--top-p', 0, 1), 0.95)
    .option('--seed <n>', 'sampling seed', asInt('--seed', 0, 2 ** 32 - 1))
    .addHelpText('after', '\nExample:\n  dsa chat --model fixtures/tiny-chat --system "Be brief."')
    .action((options) => chatCommand(options));

  program
    .command('make-model')
    .description('write a random checkpoint of a preset (tiny, small, v32-dims) in the hub layout')
    .requiredOption('--preset <name>', 'tiny, small or v32-dims')
    .requiredOption('--out <dir>', 'output folder')
    .addOption(new Option('--dtype <dtype>', 'linear weights').choices(['bf16', 'fp8']).default('bf16'))
    .option('--layers <n>', "number of layers (default: the preset's)", asInt('--layers', 1, 256))
    .option('--seed <n>', 'weight seed', asInt('--seed', 0, 2 ** 32 - 1))
    .option('-q, --quiet', 'no progress')
    .addHelpText('after', '\nExample:\n  dsa make-model --preset small --dtype fp8 --out /tmp/small-fp8')
    .action((options) => makeModelCommand(options));

  program
    .command('convert')
    .description(
      'write a GGUF file llama.cpp loads (deepseek32 with the DSA indexer, deepseek2 without), tokenizer included',
    )
    .requiredOption('--model <dir>', 'model folder (config.json + safetensors)')
    .requiredOption('--to <file>', 'output .gguf file')
    .addOption(
      new Option('--type <type>', 'weight matrices (norms, router and 1-D tensors stay f32)')
        .choices(['f32', 'bf16', 'f16', 'q8_0'])
        .default('bf16'),
    )
    .option('--tokenizer <dir>', 'folder with tokenizer.json + tokenizer_config.json (default: --model)')
    .option('--name <name>', 'general.name (default: the folder name)')
    .option('-q, --quiet', 'no progress')
    .addHelpText(
      'after',
      '\nExamples:\n  dsa convert --model fixtures/tiny-chat --to /tmp/tiny.gguf\n  dsa make-model --preset small --out /tmp/small && dsa convert --model /tmp/small --tokenizer fixtures/tiny-chat --type f32 --to /tmp/small-f32.gguf',
    )
    .action((options) => convertCommand(options));

  program
    .command('inspect')
    .description(
      'architecture, parameter counts, dtypes, KV-cache bytes per token and memory needed (reads headers only)',
    )
    .option('--model <path>', 'model folder or .gguf file')
    .option('--backends', 'list the backends auto would consider and their probe results')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  dsa inspect --model fixtures/tiny\n  dsa inspect --backends')
    .action(async (options) => {
      if (!options.model && !options.backends) throw new UsageError('give --model DIR and/or --backends');
      await inspectCommand(options);
    });
  program
    .command('bench')
    .description(
      'llama-bench style speed test: prompt processing (pp) and decode (tg) tokens/s at given cache depths and batch sizes, with bytes per token and the fraction of the measured memory bandwidth',
    )
    .option('--model <path>', 'model folder (config.json + safetensors) or a .gguf file')
    .addOption(
      new Option(
        '--preset <name>',
        'random checkpoint of a preset, generated once into the temp folder',
      ).choices(['tiny', 'small', 'v32-dims']),
    )
    .addOption(
      new Option('--dtype <dtype>', 'linear weights of --preset').choices(['bf16', 'fp8']).default('bf16'),
    )
    .option('--backend <name>', 'auto, reference, cpu, cuda[:N], ascend[:N]')
    .option(
      '--depth <list>',
      'cached tokens per sequence before decoding, comma-separated',
      asIntList('--depth', 0),
      [1024],
    )
    .option('--batch <list>', 'sequences decoded together, comma-separated', asIntList('--batch', 1), [1])
    .option(
      '--attention <list>',
      'sparse and/or dense, comma-separated',
      asChoiceList('--attention', ['sparse', 'dense'] as const),
      ['sparse'],
    )
    .option(
      '--indexer <list>',
      'indexer key cache and scores: fp32 and/or fp8 (e4m3 keys + per-token scale), comma-separated',
      asChoiceList('--indexer', ['fp32', 'fp8'] as const),
      ['fp32'],
    )
    .option(
      '--graphs <list>',
      "decode through captured graphs (on) and/or eagerly (off), comma-separated; with both, one model each, timed steps interleaved (default: the runtime's choice)",
      asChoiceList('--graphs', ['on', 'off'] as const),
    )
    .addOption(
      new Option('--cache <mode>', 'fill the cache with random rows (synthetic) or by running the prefill')
        .choices(['synthetic', 'prefill'])
        .default('synthetic'),
    )
    .option(
      '--layers <n>',
      "layers of the --preset checkpoint (default: the preset's)",
      asInt('--layers', 1, 256),
    )
    .addOption(latentCacheOption())
    .addOption(stepMemoryOption())
    .option(
      '--llc <bytes>',
      "the last-level cache of the cores the bench runs on, where sysfs hides it (some VMs; CPUID's figure there is often the whole socket's)",
      (v: string) => wrap(() => parseBytes(v, '--llc')),
    )
    .option('--prompt <n>', 'prefill length of the pp measurement', asInt('--prompt', 1, 1 << 20), 512)
    .option('--repeat <n>', 'timed decode steps per measurement', asInt('--repeat', 1, 1 << 16), 5)
    .option(
      '--interleave',
      "time every depth and batch together in turns of 4 timed steps, each after one untimed step, so that a shared machine's slow phases fall on all of them alike (the ratios between batches and between depths hold); the cache holds all their sequences at once",
    )
    .addOption(
      new Option(
        '--probe <when>',
        "when the bandwidth probe runs: end (once, 1 GiB, after every measurement) or turns (max(4 × LLC, 256 MiB) before every turn of 4 timed steps and after the last, as --interleave's turns, also without it; each turn's steps against the probes either side: steps and probe in the same phase of a machine whose bandwidth swings)",
      )
        .choices(['end', 'turns'])
        .default('end'),
    )
    .option('--json', 'one JSON line per measurement')
    .option('--plot <file.svg>', 'also draw decode ms/step and prefill tok/s against depth into an SVG file')
    .addHelpText(
      'after',
      '\nRoofline: roofline_fraction = bytes_per_token · tg_tok_s / bandwidth_gbs (with --probe turns, the median over the turns of each turn\'s against its own probes; bandwidth_gbs_min/max give the range of the probes). llc_bytes is the last-level cache of the cores the process runs on (Linux sysfs, or --llc; null elsewhere and on GPUs); roofline_basis is dram when a step reads bytes_per_token · batch ≥ 4 × llc_bytes, else cache (the caches hold much of a step: not a memory figure; the table marks it "(cache)").\nhost_fraction = 1 − tg_gpu_ms / the mean step time, the share of a decode step outside kernel bodies: cpu always (tg_gpu_ms is then the executor\'s time inside kernels), cuda with DSA_CUDA_PROFILE=1, else null. DSA_BENCH_KERNELS=1 prints the cpu per-kernel table to stderr.\n' +
        '\nExamples:\n  dsa bench --preset small --dtype bf16 --backend cpu --depth 1024,32768 --batch 1,8\n  dsa bench --preset small --depth 1024,4096,16384 --attention sparse,dense --plot bench.svg\n  dsa bench --model fixtures/tiny --backend reference --depth 64 --attention sparse,dense --json\n  dsa bench --preset small --backend cpu --graphs on,off --repeat 50 --json\n  dsa bench --preset small --dtype bf16 --backend cpu --batch 1,8,32 --interleave --repeat 20 --json',
    )
    .action(async (options) => {
      await benchCommand(options);
    });
  program
    .command('eval')
    .description(
      'DSA quality on a checkpoint: recall accuracy or perplexity for dense attention, the indexer and control selectors, per index top-k and top-k policy, with the selection recall of the dense attention mass',
    )
    .option('--model <dir>', 'model folder (config.json + safetensors)')
    .option('--backend <name>', 'auto, reference, cpu, cuda[:N], ascend[:N]')
    .addOption(
      new Option('--indexer <precision>', 'indexer score precision').choices(['fp32', 'fp8']).default('fp32'),
    )
    .addOption(latentCacheOption())
    .addOption(
      new Option('--task <task>', 'what to measure').choices(['recall', 'perplexity']).default('recall'),
    )
    .option(
      '--data <files>',
      'recall: JSONL of {"ids", "answers"}; perplexity: a UTF-8 text file (comma-separate several to compare contexts)',
    )
    .option(
      '--generate <L,P,Q,N,SEED>',
      'recall: write N sequences of context L with P pairs and Q queries to --data, and evaluate nothing',
    )
    .option(
      '--attention <list>',
      'sparse and/or dense, comma-separated',
      asChoiceList('--attention', ['sparse', 'dense'] as const),
      ['sparse', 'dense'],
    )
    .option(
      '--index-topk <list>',
      "index top-k values (default: the model's index_topk)",
      asIntList('--index-topk', 1),
    )
    .option(
      '--selector <list>',
      'indexer (trained), window (last k) and/or random (k random past positions)',
      asChoiceList('--selector', ['indexer', 'window', 'random'] as const),
      ['indexer'],
    )
    .option('--topk-policy <list>', 'fixed, mass:P and/or entropy:C, comma-separated', 'fixed')
    .option('--context <n>', 'perplexity window in tokens', asInt('--context', 2, 1 << 24), 1024)
    .option('--seed <n>', 'seed of the random selector', asInt('--seed', 0, 2 ** 32 - 1), 0)
    .option(
      '--plot <file.svg>',
      'also draw the metric and attended tokens against index top-k into an SVG file',
    )
    .option('--json', 'one JSON line per setting')
    .option('-q, --quiet', 'print only the result')
    .addHelpText(
      'after',
      '\nExamples:\n  dsa eval --model fixtures/recall --data fixtures/recall/eval-L512.jsonl --selector indexer,window,random\n  dsa eval --task recall --generate 512,12,4,100,1 --data /tmp/recall.jsonl\n  dsa eval --model fixtures/recall --data fixtures/recall/eval-L512.jsonl --topk-policy fixed,mass:0.9,entropy:2 --json',
    )
    .action((options) => evalCommand(options));
  program
    .command('pull')
    .description(
      'download a model from the Hugging Face hub into its cache (HF_HOME, HF_TOKEN, HF_ENDPOINT), with resume and checksum checks; then use --model ORG/NAME',
    )
    .argument('<ORG/NAME[@REVISION]>', 'hub repository, optionally at a branch, tag or commit')
    .option(
      '--include <glob>',
      'only repository paths matching this glob (repeatable)',
      (v: string, previous: string[] = []) => [...previous, v],
    )
    .option('--json', 'print {"snapshot", "commit", "files"} instead of the snapshot folder')
    .option('-q, --quiet', 'print only the snapshot folder')
    .addHelpText(
      'after',
      "\nExamples:\n  dsa pull deepseek-ai/DeepSeek-V3.2-Exp --include '*.json' --include '*.safetensors'\n  dsa generate --model deepseek-ai/DeepSeek-V3.2-Exp --prompt 'Hello'",
    )
    .action(async (name: string, options) => {
      await pullCommand(name, options);
    });
  return program;
}

/** Runs the CLI; resolves to the exit code (0 ok, 1 runtime error, 2 usage error). */
export async function run(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.exitCode === 0
        ? 0
        : 2;
    }
    if (error instanceof UsageError) {
      process.stderr.write(`error: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`error: ${(error as Error).message}\n`);
    if (cliSetting('debug')) process.stderr.write(`${(error as Error).stack}\n`);
    return 1;
  }
}
