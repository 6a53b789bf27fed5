#!/usr/bin/env python3
"""Reference data of the xLSTM-Large family (tests/data/large/): small random models in the Hugging
Face and the official on-disk formats, their logits, and a byte-level BPE tokenizer with encodings.

How it is run (the GPU machine: PyTorch 2.11, transformers 5.17, tokenizers 0.23, safetensors; the
official package and mlstm_kernels from the peers folder, see ../shared/tools/prepare-peers.sh):
    python3 scripts/make_reference_large.py OUT_DIR tokenizer hf
    P=$PWD/.peers; PYTHONPATH=$P/src:$P/py python3 scripts/make_reference_large.py OUT_DIR official
(transformers runs its own xLSTM code only when the official package cannot be imported, hence two
runs; the tokenizer part must run first.)
Everything is computed on the CPU in float32 (no TF32, no Triton): the kernels are the native
PyTorch ones of both libraries (chunkwise--native_autograd, native_sequence__native, native step),
in mode "inference", the mode from_pretrained uses and the one that returns states.

Written under OUT_DIR (a part that fails writes its traceback to report.txt and the rest goes on):
  tokenizer.json                a GPT-NeoX-style tokenizer trained here (NFC, byte-level BPE, added
                                tokens special and not), also copied beside the HF weights
  tokenizer_bos.json            the same with a TemplateProcessing post-processor that prepends BOS
  tokenizer_encodings.json      [{"text", "ids", "ids_bos", "decoded"}] for a test corpus
  hf_tiny/                      transformers' save_pretrained (bfloat16, sharded on purpose)
  hf_odd/                       the same with embedding 96 (int(96 * 0.5) = 48 in the layers, 64 in
                                transformers' config properties): forward logits only
  official_tiny/                config.yaml + model_0.safetensors, model_1.safetensors
  official_odd/                 config.yaml + model.safetensors, embedding 96: int(96 * 0.5) = 48
                                (official) where transformers' config rounds up to 64
  <model>/reference.safetensors input_ids [2, S]; logits_forward [2, S, V] (one forward call);
                                logits_step [2, S, V] (prefill of P tokens, then one token per call);
                                greedy_ids [2, G] (argmax continuation of input_ids[:, :P], the state
                                carried); the attributes as metadata (prefill, greedy)
  report.txt                    versions, shapes, parameter names, failures
"""
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import traceback
from pathlib import Path

import torch
from safetensors.torch import save_file

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
OUT = Path(sys.argv[1])
OUT.mkdir(parents=True, exist_ok=True)
REPORT = open(OUT / "report.txt", "a")
SEQ, PREFILL, GREEDY = 37, 21, 8  # 37 = two chunks of 16 + a remainder of 5


def say(*args):
    print(*args, file=REPORT, flush=True)
    print(*args, flush=True)


def part(fn):
    try:
        fn()
    except Exception:
        say(f"FAILED {fn.__name__}:\n{traceback.format_exc()}")


TEST_TEXTS = [
    "Hello world",
    "  two leading spaces",
    "trailing spaces   ",
    "tabs\tand\nnewlines\n\nand\r\nCRLF",
    "it's we're they've I'm you'll he'd IT'S",
    "numbers 12345 3.14159 1,000,000",
    "unicode: café naïve résumé Ærøskøbing",
    "combining e\u0301 a\u0308 o\u0302 (NFC composes them)",
    "angstrom sign \u212b and kelvin \u212a",
    "CJK 中文字符 日本語のテキスト 한국어",
    "emoji 😀 👍🏽 🇩🇪",
    "special <|endoftext|> inside text",
    "<|padding|><|endoftext|>",
    "an added token:    four spaces, and        eight",
    "",
    " ",
    "\u00a0non-breaking\u2003em space",
    "CamelCase snake_case kebab-case",
    "symbols !@#$%^&*()[]{};:'\",.<>/?\\|`~",
    "русский текст, ελληνικά, عربى, עברית",
    "          ten spaces then x",
    "The quick brown fox jumps over the lazy dog. " * 3,
]

SPECIAL = ["<|endoftext|>", "<|padding|>"]


def corpus():
    root = Path(__file__).resolve().parent.parent
    texts = []
    for p in sorted(list(root.glob("docs/*.md")) + [root / "README.md"]):
        texts.extend(p.read_text(encoding="utf-8").splitlines())
    texts.extend(TEST_TEXTS[:-1] * 3)
    return texts


def tokenizer_part():
    import tokenizers
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers import processors, trainers

    say("tokenizers", tokenizers.__version__)
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=True)
    trainer = trainers.BpeTrainer(vocab_size=500, min_frequency=2, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus(), trainer)
    # GPT-NeoX has runs of spaces as plain (non-special, normalized) added tokens.
    tok.add_tokens([AddedToken("    ", normalized=True), AddedToken("        ", normalized=True)])
    tok.add_special_tokens([AddedToken("<|im_start|>", special=True)])
    tok.save(str(OUT / "tokenizer.json"))
    bos = Tokenizer.from_file(str(OUT / "tokenizer.json"))
    bos.post_processor = processors.TemplateProcessing(
        single="<|endoftext|> $A", special_tokens=[("<|endoftext|>", tok.token_to_id("<|endoftext|>"))])
    bos.save(str(OUT / "tokenizer_bos.json"))
    rows = []
    for text in TEST_TEXTS:
        ids = tok.encode(text).ids
        rows.append({"text": text, "ids": ids, "ids_bos": bos.encode(text).ids,
                     "decoded": tok.decode(ids, skip_special_tokens=False)})
    (OUT / "tokenizer_encodings.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1),
                                                  encoding="utf-8")
    say("tokenizer vocab (with added)", tok.get_vocab_size(True))


def randomise(model, seed):
    """Every parameter random, so that no path is trivially zero (the libraries' own inits zero the
    gate weights and set the input-gate bias to -10)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 2 and "embed" not in name:
                p.copy_(torch.randn(p.shape, generator=g) / p.shape[1] ** 0.5)
            elif p.ndim == 2:
                p.copy_(torch.randn(p.shape, generator=g))
            elif "fgate" in name:
                p.copy_(2.0 + torch.randn(p.shape, generator=g))
            elif "gate" in name:
                p.copy_(torch.randn(p.shape, generator=g))
            else:  # norm weights
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))


def inputs(vocab, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, (2, SEQ), generator=g)


def write_reference(directory, ids, forward, step_logits, greedy, extra=None):
    tensors = {"input_ids": ids.contiguous(), "logits_forward": forward.float().contiguous(),
               "logits_step": step_logits.float().contiguous(), "greedy_ids": greedy.contiguous()}
    for k, v in (extra or {}).items():
        tensors[k] = v.contiguous()
    save_file(tensors, str(directory / "reference.safetensors"),
              metadata={"prefill": str(PREFILL), "greedy": str(GREEDY)})
    rel = ((forward - step_logits).abs().max() / forward.abs().max()).item()
    say(f"{directory.name}: forward vs step max rel diff {rel:.3g}; greedy {greedy.tolist()}")


def vocab_size():
    with open(OUT / "tokenizer.json", encoding="utf-8") as f:
        tok = json.load(f)
    n = max(list(tok["model"]["vocab"].values()) + [t["id"] for t in tok["added_tokens"]]) + 1
    return (n + 63) // 64 * 64  # padded beyond the tokenizer, like the 7B's 50304


def hf_part(name, hidden, blocks, seed, shard, cached=True):
    """`cached`: transformers' cache shapes come from its config's rounded qk / v dims while its
    layers use int(): only where both agree can it run prefill + step (hf_odd records forward)."""
    def run():
        import transformers
        from transformers import xLSTMConfig, xLSTMForCausalLM

        say("transformers", transformers.__version__, "torch", torch.__version__)
        cfg = xLSTMConfig(vocab_size=vocab_size(), hidden_size=hidden, num_hidden_layers=blocks,
                          num_heads=2, chunk_size=16, mode="inference", ffn_proj_factor=1.3,
                          chunkwise_kernel="chunkwise--native_autograd",
                          sequence_kernel="native_sequence__native", step_kernel="native",
                          return_last_states=True, bos_token_id=0, eos_token_id=0, pad_token_id=1,
                          max_inference_chunksize=16384)
        torch.manual_seed(seed)
        model = xLSTMForCausalLM(cfg).float().eval()
        randomise(model, seed)
        # Saved in bfloat16 like the 7B checkpoint; the reference runs on those values in float32.
        d = OUT / name
        model.to(torch.bfloat16).save_pretrained(str(d), max_shard_size=shard)
        model.float()
        shutil.copy(OUT / "tokenizer.json", d / "tokenizer.json")
        say(name, "files", sorted(p.name for p in d.iterdir()))
        say(name, "params", [(n, tuple(p.shape)) for n, p in model.state_dict().items()][:14])
        ids = inputs(cfg.vocab_size, seed)
        with torch.no_grad():
            forward = model(ids, use_cache=False).logits
            if not cached:
                save_file({"input_ids": ids, "logits_forward": forward.contiguous()},
                          str(d / "reference.safetensors"))
                say(name, "forward only")
                return
            out = model(ids[:, :PREFILL], use_cache=True)
            cache, steps = out.cache_params, [out.logits]
            for t in range(PREFILL, SEQ):
                out = model(ids[:, t:t + 1], cache_params=cache, use_cache=True)
                cache = out.cache_params
                steps.append(out.logits)
            step_logits = torch.cat(steps, dim=1)
            out = model(ids[:, :PREFILL], use_cache=True)
            cache, tok, greedy = out.cache_params, out.logits[:, -1:].argmax(-1), []
            for _ in range(GREEDY):
                greedy.append(tok)
                out = model(tok, cache_params=cache, use_cache=True)
                cache, tok = out.cache_params, out.logits[:, -1:].argmax(-1)
            greedy = torch.cat(greedy, dim=1)
            try:
                gen = model.generate(ids[:, :PREFILL], max_new_tokens=GREEDY, min_new_tokens=GREEDY,
                                     do_sample=False)
                say(name, "generate() agrees with the loop:",
                    bool(torch.equal(gen[:, PREFILL:], greedy)))
            except Exception as e:  # only a cross-check
                say(name, "generate() failed:", repr(e))
        write_reference(d, ids, forward, step_logits, greedy)
    run.__name__ = f"hf_part_{name}"
    return run


def official_config(hidden, blocks):
    from xlstm.xlstm_large.model import xLSTMLargeConfig
    return xLSTMLargeConfig(embedding_dim=hidden, num_heads=2, num_blocks=blocks,
                            vocab_size=vocab_size(), ffn_proj_factor=1.3,
                            chunkwise_kernel="chunkwise--native_autograd",
                            sequence_kernel="native_sequence__native", step_kernel="native",
                            mode="inference", chunk_size=16, return_last_states=True)


def official_part(name, hidden, blocks, seed, shards):
    def run():
        import yaml
        from xlstm.xlstm_large.model import xLSTMLarge

        cfg = official_config(hidden, blocks)
        torch.manual_seed(seed)
        model = xLSTMLarge(cfg).float().eval()
        randomise(model, seed)
        d = OUT / name
        d.mkdir(exist_ok=True)
        (d / "config.yaml").write_text(yaml.safe_dump(dataclasses.asdict(cfg), sort_keys=False))
        sd = {k: v.contiguous() for k, v in model.state_dict().items()}
        keys = list(sd)
        if shards == 1:
            save_file(sd, str(d / "model.safetensors"))
        else:
            per = (len(keys) + shards - 1) // shards
            for n in range(shards):
                save_file({k: sd[k] for k in keys[n * per:(n + 1) * per]},
                          str(d / f"model_{n}.safetensors"))
        say(name, "params", [(n, tuple(p.shape)) for n, p in sd.items()][:14])
        ids = inputs(cfg.vocab_size, seed)
        with torch.no_grad():
            forward, _ = model(ids)
            logits, state = model(ids[:, :PREFILL])
            steps = [logits]
            for t in range(PREFILL, SEQ):
                logits, state = model(ids[:, t:t + 1], state)
                steps.append(logits)
            step_logits = torch.cat(steps, dim=1)
            greedy, _ = model.generate(ids[:, :PREFILL], max_length=GREEDY)
            # The official generate feeds the whole prompt and then each sampled token: its first
            # token is the argmax after the prompt, like ours.
        write_reference(d, ids, forward, step_logits, greedy)
    run.__name__ = f"official_part_{name}"
    return run


if __name__ == "__main__":
    say("torch", torch.__version__, "python", sys.version.split()[0])
    parts = sys.argv[2:]
    if "tokenizer" in parts:
        part(tokenizer_part)
    if "hf" in parts:
        part(hf_part("hf_tiny", 128, 2, 1, "100KB"))
        part(hf_part("hf_odd", 96, 1, 4, "10GB", cached=False))
    if "official" in parts:
        part(official_part("official_tiny", 64, 2, 2, 2))
        part(official_part("official_odd", 96, 1, 3, 1))
    try:
        out = subprocess.run([sys.executable, "-m", "pip", "list"], capture_output=True, text=True)
        say("\n".join(l for l in out.stdout.splitlines()
                      if l.split()[0].lower() in {"transformers", "tokenizers", "safetensors", "torch"}))
    except Exception:
        pass
    REPORT.close()
