"""Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/), small valid inputs each
reader accepts, so that mutations start from deep inside the formats.

Run from the repository root: python3 fuzz/make_seeds.py (plain Python, no torch).
The YAML seeds are copies of config files of the repository plus hand-written documents for the
features the loader implements (aliases, merge keys, interpolation, `#set` overrides).
"""
import json
import os
import shutil
import struct
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def write(target, name, data):
    directory = os.path.join(CORPUS, target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ---- pickle: the opcodes torch.save (protocol 2) writes -------------------------------------------

def text(s):  # BINUNICODE
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def small_int(v):  # BININT1
    return b"K" + bytes([v])


def int_tuple(values):
    return b"(" + b"".join(small_int(v) for v in values) + b"t"


def ordered_dict():
    return b"ccollections\nOrderedDict\n)R"


def tensor(key, storage_type, numel, offset, size, stride):
    """_rebuild_tensor_v2(storage(key, numel), offset, size, stride, False, OrderedDict())."""
    storage = b"(" + text("storage") + b"ctorch\n" + storage_type + b"\n" + text(key) + text("cpu")
    storage += small_int(numel) + b"tQ"
    args = b"(" + storage + small_int(offset) + int_tuple(size) + int_tuple(stride) + b"\x89"
    return b"ctorch._utils\n_rebuild_tensor_v2\n" + args + ordered_dict() + b"tR"


def pickle_seeds():
    # The fuzz target's archives hold records data/0 .. data/7 of 64 bytes each.
    state = b"\x80\x02" + ordered_dict() + b"q\x00("
    state += text("w") + tensor("0", b"FloatStorage", 16, 0, [4, 4], [4, 1]) + b"q\x01"
    state += text("steps") + tensor("1", b"LongStorage", 8, 0, [8], [1])
    state += text("tied") + b"h\x01"  # the memoized tensor again
    state += text("view") + tensor("0", b"FloatStorage", 16, 2, [3], [5])
    state += b"u" + b"}" + text("_metadata") + ordered_dict() + b"(" + text("") + b"}"
    state += text("version") + small_int(1) + b"susb."
    write("pickle", "state_dict.pkl", state)

    # Protocol 4 spellings: FRAME, SHORT_BINUNICODE, STACK_GLOBAL, MEMOIZE, LONG1, BINFLOAT.
    frame = b"}\x94(\x8c\x01h\x94\x8c\x0ctorch._utils\x94\x8c\x12_rebuild_tensor_v2\x94\x93\x94"
    frame += b"((" + text("storage") + b"\x8c\x05torch\x94\x8c\x0bHalfStorage\x94\x93\x94"
    frame += text("2") + text("cpu") + small_int(32) + b"tQ" + small_int(0)
    frame += int_tuple([2, 16]) + int_tuple([16, 1]) + b"\x89" + b")tR"
    frame += b"\x8c\x01b" + b"h\x03((" + text("storage") + b"ctorch\nBoolStorage\n" + text("3")
    frame += text("cpu") + small_int(64) + b"tQ\x8a\x01\x00" + int_tuple([64]) + int_tuple([1])
    frame += b"\x88)tRu."
    proto4 = b"\x80\x04\x95" + struct.pack("<Q", len(frame)) + frame
    write("pickle", "protocol4.pkl", proto4)

    # A whole archive (input starting with "PK"): the .pt fixture of tests/io/pt_test.cpp.
    shutil.copy(os.path.join(ROOT, "tests", "data", "io", "tiny_state_dict.pt"),
                os.path.join(CORPUS, "pickle", "tiny_state_dict.pt"))
    with zipfile.ZipFile(os.path.join(CORPUS, "pickle", "tiny_state_dict.pt")) as archive:
        name = next(n for n in archive.namelist() if n.endswith("/data.pkl"))
        write("pickle", "tiny_state_dict.pkl", archive.read(name))


# ---- safetensors ------------------------------------------------------------------------------------

def safetensors(entries, metadata=None):
    """entries: (name, dtype, shape, bytes); the data section in order."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, payload in entries:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    text_ = json.dumps(header, separators=(",", ":"))
    text_ += " " * ((8 - len(text_) % 8) % 8)
    return struct.pack("<Q", len(text_)) + text_.encode() + data, text_


def safetensors_seeds():
    mixed, mixed_header = safetensors(
        [("a.weight", "F32", [2, 2], struct.pack("<4f", 1.5, -2, 0.25, 8)),
         ("steps", "I64", [3], struct.pack("<3q", 7, -1, 1 << 40)),
         ("mask", "BOOL", [2], b"\x01\x00")],
        {"format": "pt", "note": "caf\u00e9"})
    write("safetensors", "mixed.safetensors", mixed)
    halves, halves_header = safetensors(
        [("h", "F16", [2], b"\x00\x3c\x00\xc0"), ("b", "BF16", [1, 2], b"\x80\x3f\x00\x40"),
         ("empty", "F64", [0, 3], b""), ("u", "U8", [], b"\x05")])
    write("safetensors", "halves.safetensors", halves)
    write("safetensors", "empty.safetensors", safetensors([])[0])
    write("json", "mixed_header.json", mixed_header)
    write("json", "halves_header.json", halves_header)


def json_seeds():
    write("json", "values.json",
          '{"s": "a\\"b\\\\c\\/\\n\\t\\u00e9\\ud83d\\ude00", "n": [0, -0, 1.5e3, -2E-7, '
          '18446744073709551615], "o": {"t": true, "f": false, "z": null}, "e": [], "m": {}}')
    write("json", "manifest.json",
          '{"step": 12, "files": {"model.safetensors": {"bytes": 4096, "sha256": "00ff"}}, '
          '"complete": true}\n')


# ---- tokenizer.json: the byte-level BPE family ---------------------------------------------------

def byte_chars():  # GPT-2's alphabet: printable Latin-1 bytes as themselves, the others from U+0100
    printable = [b for b in range(256) if 33 <= b <= 126 or 0xA1 <= b <= 0xAC or 0xAE <= b <= 0xFF]
    others = [b for b in range(256) if b not in printable]
    chars = {b: chr(b) for b in printable}
    chars.update({b: chr(0x100 + i) for i, b in enumerate(others)})
    return [chars[b] for b in range(256)]


def tokenizer_seeds():
    chars = byte_chars()
    vocab = {c: i for i, c in enumerate(chars)}
    for token in ["th", "the", "\u0120t", "\u0120the", "in", "ing"]:  # ids 256..261
        vocab[token] = len(vocab)
    merges = ["t h", "th e", "\u0120 t", "\u0120 the", "i n", "in g"]
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                  "use_regex": True}
    added = [{"id": 262, "content": "<|endoftext|>", "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": False, "special": True},
             {"id": 263, "content": "    ", "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": True, "special": False}]
    neox = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
            "normalizer": {"type": "NFC"}, "pre_tokenizer": byte_level,
            "post_processor": byte_level, "decoder": byte_level,
            "model": {"type": "BPE", "dropout": None, "unk_token": None,
                      "continuing_subword_prefix": None, "end_of_word_suffix": None,
                      "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                      "vocab": vocab, "merges": merges}}
    write("tokenizer_json", "neox_style.json", json.dumps(neox, ensure_ascii=False))
    templated = json.loads(json.dumps(neox))
    templated["model"]["merges"] = [m.split(" ") for m in merges]
    templated["model"]["ignore_merges"] = True
    templated["normalizer"] = {"type": "Sequence", "normalizers": [{"type": "NFC"}]}
    templated["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        dict(byte_level, add_prefix_space=True, use_regex=False)]}
    templated["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}},
                   {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [262],
                                             "tokens": ["<|endoftext|>"]}}}
    write("tokenizer_json", "template_pairs.json", json.dumps(templated))


# ---- YAML -------------------------------------------------------------------------------------------

def yaml_seeds():
    os.makedirs(os.path.join(CORPUS, "yaml_config"), exist_ok=True)
    for name in ["lm_tied", "mlstm_stack_small", "slstm_stack_small", "readme_stack",
                 "lm_parity_xlstm11"]:
        shutil.copy(os.path.join(ROOT, "tests", "data", "reference", name, "config.yaml"),
                    os.path.join(CORPUS, "yaml_config", name + ".yaml"))
    for name in ["parity_xlstm11.yaml", "mqar_cpu.yaml", "readme_lm.yaml"]:
        shutil.copy(os.path.join(ROOT, "configs", name),
                    os.path.join(CORPUS, "yaml_config", name))
    write("yaml_config", "aliases_and_merge.yaml",
          "base: &base\n  num_heads: 2\n  backend: vanilla\n"
          "slstm_block:\n  slstm:\n    <<: *base\n    num_heads: 4\n"
          "  feedforward: &ff {proj_factor: 1.3, act_fn: gelu}\n"
          "mlstm_block:\n  mlstm: {<<: [{num_heads: 2}, {conv1d_kernel_size: 4}]}\n"
          "context_length: 16\nnum_blocks: 2\nembedding_dim: 32\nslstm_at: [1]\n")
    write("yaml_config", "interpolation.yaml",
          "mlstm_block:\n  mlstm:\n    num_heads: 2\n"
          "slstm_block:\n  slstm:\n    num_heads: ${mlstm_block.mlstm.num_heads}\n"
          "    backend: vanilla\n"
          "  feedforward: {proj_factor: 1.5, act_fn: gelu}\n"
          "embedding_dim: 16\ncontext_length: ${.embedding_dim}\nslstm_at: [1]\n"
          "num_blocks: ${slstm_at[0]}\nvocab_size: 7\n")
    # Resolves fully, then fails on the keys no config has.
    write("yaml_config", "interpolation_keys.yaml",
          "vocab_size: 11\nembedding_dim: 16\ncontext_length: ${.embedding_dim}\n"
          "num_blocks: ${slstm_at.0}\nslstm_at: [2, 0]\nnames: {k: slstm_at}\n"
          "mlstm_block:\n  mlstm:\n    num_heads: ${..x}\n  x: 2\n"
          "note: 'cost \\${x} of ${embedding_dim}'\n")
    write("yaml_config", "overrides.yaml",
          "#set training.batch_size=3\n#set model.slstm_at=[0]\n#set model.mlstm_block={mlstm: {}}\n"
          + open(os.path.join(ROOT, "configs", "parity_cpu.yaml")).read())


if __name__ == "__main__":
    pickle_seeds()
    safetensors_seeds()
    json_seeds()
    tokenizer_seeds()
    yaml_seeds()
