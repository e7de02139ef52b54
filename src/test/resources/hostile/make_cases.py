#!/usr/bin/env python3
"""Writes the hostile input corpus (files + manifest.json). Re-run after editing; the output is committed.
Placeholders in args: {case} = this folder, {tmp} = a scratch folder, {kb} = an existing good KB,
{run} = an existing run folder name that must not be created/changed. 'expect' is a fragment of the
one-line error; 'names' (default: the input file's name) must appear in it too."""
import json, os, struct, shutil

HERE = os.path.dirname(os.path.abspath(__file__))
cases = []

def w(name, data):
    p = os.path.join(HERE, name)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, 'wb') as f:
        f.write(data.encode('utf-8') if isinstance(data, str) else data)

def case(cid, what, args, expect, names=None):
    cases.append({"id": cid, "what": what, "args": args, "expect": expect, **({"names": names} if names else {})})

def kb(cid, fname, data, expect, what):
    w("kb/" + fname, data)
    case(cid, what, ["kb", "build", "--input", "{case}/kb/" + fname, "--out", "{tmp}/new-kb"], expect, fname)

GARBAGE = bytes((i * 97 + 13) % 256 for i in range(600))

# --- KB inputs: TSV / CSV
kb("tsv-too-few-columns", "few.tsv", "title\ttext\nA\tgood text\nB\n", "expected 2 fields", "row with one field")
kb("tsv-too-many-columns", "many.tsv", "title\ttext\nA\tgood\textra\n", "expected 2 fields", "row with three fields")
kb("tsv-no-header-columns", "nohdr.tsv", "foo\tbar\nA\tB\n", "header must name", "header without title/text")
kb("tsv-empty-file", "empty.tsv", "", "empty file", "zero bytes")
kb("tsv-empty-text", "emptytext.tsv", "title\ttext\nA\t   \n", "empty text", "whitespace-only text")
kb("tsv-invalid-utf8", "badutf8.tsv", b"title\ttext\nA\tok\nB\tbad \xff\xfe bytes\n", "invalid UTF-8", "0xFF byte on line 3")
kb("tsv-binary-garbage", "garbage.tsv", GARBAGE, "", "binary noise")
kb("tsv-header-only", "headeronly.tsv", "title\ttext\n", "no passages", "header and nothing else")
# a 3 MB line is made by the test (manifest "generate") rather than committed
cases.append({"id": "tsv-huge-line", "what": "a 3 MB line", "generate": {"file": "huge.tsv", "head": "title\ttext\nA\tok\nB\t",
              "repeat": "x", "times": 3000000, "tail": "\n"},
              "args": ["kb", "build", "--input", "{tmp}/huge.tsv", "--out", "{tmp}/new-kb"], "expect": "longer than", "names": "huge.tsv"})
kb("tsv-nul-bytes", "nul.tsv", "title\ttext\nA\tnul\x00inside\n", "NUL", "NUL byte in a field")
kb("csv-unterminated-quote", "unterminated.csv", 'title,text\nA,"never closed\nB,x\n', "unterminated quoted field", "quote never closed")
kb("csv-char-after-quote", "afterquote.csv", 'title,text\nA,"quoted"junk\n', "unexpected character", "text after a closing quote")
kb("csv-too-few-columns", "few.csv", "title,text\nonly-one\n", "expected 2 fields", "row with one field")
kb("csv-too-many-columns", "many.csv", "title,text\nA,b,c\n", "expected 2 fields", "row with three fields")
kb("csv-invalid-utf8", "badutf8.csv", b"title,text\nA,\xc3\x28\n", "invalid UTF-8", "truncated 2-byte sequence")
kb("csv-empty-text", "emptytext.csv", 'title,text\nA,""\n', "empty text", "empty quoted text")
# --- KB inputs: JSON lines
kb("jsonl-truncated", "truncated.jsonl", '{"title": "A", "text": "ok"}\n{"title": "B", "te', "truncated.jsonl:2: invalid JSON", "object cut off")
kb("jsonl-not-object", "array.jsonl", '["A", "text"]\n', "object", "an array per line")
kb("jsonl-missing-text", "notext.jsonl", '{"title": "A"}\n', "text", "no text field")
kb("jsonl-text-number", "textnum.jsonl", '{"title": "A", "text": 42}\n', "text", "text is a number")
kb("jsonl-title-object", "titleobj.jsonl", '{"title": {"x": 1}, "text": "ok"}\n', "title", "title is an object")
kb("jsonl-empty-text", "emptytext.jsonl", '{"title": "A", "text": ""}\n', "empty text", "empty text")
kb("jsonl-invalid-utf8", "badutf8.jsonl", b'{"title": "A", "text": "\xed\xa0\x80"}\n', "invalid UTF-8", "encoded surrogate")
kb("jsonl-binary-garbage", "garbage.jsonl", GARBAGE, "", "binary noise")
# --- KB inputs: SQuAD JSON
kb("squad-truncated", "truncated.json", '{"version": "1.1", "data": [{"title": "A", "paragraphs": [{"context": "ok', "", "JSON cut off")
kb("squad-empty", "empty.json", "", "", "zero bytes")
kb("squad-no-data", "nodata.json", '{"version": "1.1"}', "data", "no data array")
kb("squad-data-object", "dataobj.json", '{"data": {"title": "A"}}', "data", "data is an object")
kb("squad-missing-context", "noctx.json", '{"data": [{"title": "A", "paragraphs": [{"qas": []}]}]}', "context", "paragraph without context")
kb("squad-context-number", "ctxnum.json", '{"data": [{"title": "A", "paragraphs": [{"context": 7, "qas": []}]}]}', "context", "context is a number")
kb("squad-title-number", "titlenum.json", '{"data": [{"title": 7, "paragraphs": [{"context": "text", "qas": []}]}]}', "title", "title is a number (an article without a title is accepted)")
kb("squad-binary-garbage", "garbage.json", GARBAGE, "", "binary noise")
kb("squad-invalid-utf8", "badutf8.json", b'{"data": [{"title": "A\xff", "paragraphs": []}]}', "UTF-8", "0xFF in a title")
kb("unknown-extension", "notes.txt", "hello\n", "txt", "unsupported file type")

# --- training questions (SQuAD) through rag train: data are read before any model is loaded
def train_data(cid, fname, data, expect, what):
    w("train/" + fname, data)
    case(cid, what, ["train", "--question-encoder", "{tmp}/none", "--generator", "{tmp}/none", "--kb", "{kb}", "--train",
                     "{case}/train/" + fname, "--out", "{tmp}/new-run"], expect, fname)

CTX = "The Eiffel Tower is in Paris."
def sq(qa):
    return json.dumps({"data": [{"title": "T", "paragraphs": [{"context": CTX, "qas": [qa]}]}]})

train_data("train-question-missing", "noq.json", sq({"id": "1", "answers": [{"text": "Paris", "answer_start": 23}]}), "question", "qa without question")
train_data("train-question-number", "qnum.json", sq({"id": "1", "question": 5, "answers": [{"text": "Paris", "answer_start": 23}]}), "question", "question is a number")
train_data("train-question-empty", "qempty.json", sq({"id": "1", "question": "  ", "answers": [{"text": "Paris", "answer_start": 23}]}), "question", "blank question")
train_data("train-answers-not-array", "ansobj.json", sq({"id": "1", "question": "Where?", "answers": {"text": "Paris"}}), "'answers' must be an array", "answers is an object")
train_data("train-answer-text-number", "ansnum.json", sq({"id": "1", "question": "Where?", "answers": [{"text": 3}]}), "text", "answer text is a number")
train_data("train-answer-not-in-context", "notinctx.json", sq({"id": "1", "question": "Where?", "answers": [{"text": "Berlin", "answer_start": 23}]}), "not in the context", "answer absent from context")
train_data("train-qas-not-array", "qasobj.json", json.dumps({"data": [{"title": "T", "paragraphs": [{"context": CTX, "qas": {"q": 1}}]}]}), "qas", "qas is an object")
train_data("train-truncated", "truncated.json", sq({"id": "1", "question": "Where?", "answers": [{"text": "Paris"}]})[:-7], "", "JSON cut off")
train_data("train-no-questions", "noquestions.json", json.dumps({"data": [{"title": "T", "paragraphs": [{"context": CTX, "qas": []}]}]}), "no training questions", "no questions")
w("train/src.txt", "Where is it?\nWhat is it?\n")
w("train/tgt-short.txt", "Paris\n")
case("train-lines-count-mismatch", "source/target line counts differ",
     ["train", "--question-encoder", "{tmp}/none", "--generator", "{tmp}/none", "--kb", "{kb}", "--train-source", "{case}/train/src.txt",
      "--train-target", "{case}/train/tgt-short.txt", "--out", "{tmp}/new-run"], "lines", "tgt-short.txt")

# --- rag train --config YAML
def cfg(cid, fname, data, expect, what, out="{tmp}/new-run"):
    w("config/" + fname, data)
    case(cid, what, ["train", "--config", "{case}/config/" + fname, "--out", out], expect, fname)

BASE = "question-encoder: /nonexistent/q\ngenerator: /nonexistent/g\nkb: /nonexistent/kb\ntrain: /nonexistent/t.json\n"
cfg("config-unknown-key", "unknown.yaml", BASE + "learning-rate: 0.1\n", "unknown config key 'learning-rate'", "misspelt key")
cfg("config-lr-too-big", "lr.yaml", BASE + "lr: 5\n", "lr", "lr out of range")
cfg("config-n-docs-zero", "ndocs.yaml", BASE + "n-docs: 0\n", "n-docs", "n-docs 0")
cfg("config-batch-negative", "batch.yaml", BASE + "batch-size: -3\n", "batch-size", "negative batch")
cfg("config-mode-bogus", "mode.yaml", BASE + "mode: sideways\n", "mode.yaml:5: bad value sideways for 'mode': expected original or end2end", "unknown mode")
cfg("config-type-mismatch", "type.yaml", BASE + "batch-size: many\n", "batch-size", "string for an int")
cfg("config-yaml-syntax", "syntax.yaml", BASE + "lr: [0.1\n", "syntax.yaml:5", "unclosed flow sequence")
cfg("config-list-not-map", "list.yaml", "- lr\n- 0.1\n", "", "a list instead of a mapping")
cfg("config-binary-garbage", "garbage.yaml", GARBAGE, "", "binary noise")
cfg("config-keep-zero", "keep.yaml", BASE + "keep-checkpoints: 0\n", "keep-checkpoints", "keep 0 checkpoints")
cfg("config-rerank-small", "rerank.yaml", BASE + "n-docs: 5\nrerank: 2\n", "rerank", "rerank < n-docs")
cfg("config-invalid-utf8", "badutf8.yaml", BASE.encode() + b"mode: \xff\xfe\n", "", "bad bytes in a value")
cfg("config-precision-bogus", "precision.yaml", BASE + "precision: fp16\n", "precision.yaml:5: bad value fp16 for 'precision': expected auto, fp32 or bf16", "unknown precision")
cfg("config-scheduler-bogus", "sched.yaml", BASE + "scheduler: cosine-ish\n", "sched.yaml:5: bad value cosine-ish for 'scheduler': expected linear, polynomial or constant", "unknown scheduler")
cfg("config-index-bogus", "index.yaml", BASE + "index-type: ivf\n", "index-type", "unknown index type")
cfg("config-existing-run", "good.yaml", BASE, "already holds a training run", "--out names an existing run", out="{run}")
cases[-1]["names"] = "existing-run"

# --- model directories: config.json, rag-e2e.json, model.safetensors
GOOD_CFG = {"model_type": "bert", "vocab_size": 16, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
            "intermediate_size": 16, "max_position_embeddings": 16, "type_vocab_size": 2}

def tensors_for(c):
    h, v, i, p = c["hidden_size"], c["vocab_size"], c["intermediate_size"], c["max_position_embeddings"]
    t = {"embeddings.word_embeddings.weight": [v, h], "embeddings.position_embeddings.weight": [p, h],
         "embeddings.token_type_embeddings.weight": [2, h], "embeddings.LayerNorm.weight": [h], "embeddings.LayerNorm.bias": [h]}
    for l in range(c["num_hidden_layers"]):
        pre = "encoder.layer.%d." % l
        for n in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"]:
            t[pre + n + ".weight"] = [h, h]; t[pre + n + ".bias"] = [h]
        t[pre + "attention.output.LayerNorm.weight"] = [h]; t[pre + "attention.output.LayerNorm.bias"] = [h]
        t[pre + "intermediate.dense.weight"] = [i, h]; t[pre + "intermediate.dense.bias"] = [i]
        t[pre + "output.dense.weight"] = [h, i]; t[pre + "output.dense.bias"] = [h]
        t[pre + "output.LayerNorm.weight"] = [h]; t[pre + "output.LayerNorm.bias"] = [h]
    t["pooler.dense.weight"] = [h, h]; t["pooler.dense.bias"] = [h]
    return t

def safetensors(shapes, mutate=None):
    header, off = {}, 0
    for name in sorted(shapes):
        n = 1
        for d in shapes[name]: n *= d
        header[name] = {"dtype": "F32", "shape": shapes[name], "data_offsets": [off, off + 4 * n]}
        off += 4 * n
    data = bytearray(off)
    if mutate: mutate(header)
    hb = json.dumps(header).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    return struct.pack("<Q", len(hb)) + hb + bytes(data)

def model(cid, what, expect, config=GOOD_CFG, config_text=None, settings=None, st=None, missing=None):
    d = "models/" + cid
    w(d + "/config.json", config_text if config_text is not None else json.dumps(config))
    if settings is not None: w(d + "/rag-e2e.json", settings)
    shapes = tensors_for(GOOD_CFG)
    if missing: shapes.pop(missing)
    w(d + "/model.safetensors", st if st is not None else safetensors(shapes))
    bad = "rag-e2e.json" if settings is not None else ("model.safetensors" if (st is not None or missing) else "config.json")
    case(cid, what, ["embed", "--model", "{case}/" + d, "--input-ids", "[[1,2,3]]"], expect, bad)

def first(h): return sorted(h)[0]
def lie_past_end(h): h[first(h)]["data_offsets"][1] += 10_000
def lie_overlap(h):
    names = sorted(h); h[names[1]]["data_offsets"] = list(h[names[0]]["data_offsets"])
def lie_dtype(h): h[first(h)]["dtype"] = "F7"
def lie_shape(h): h[first(h)]["shape"] = [3, 3]
def lie_negative(h): h[first(h)]["data_offsets"] = [-8, 0]

model("model-config-truncated", "config.json cut off", "", config_text='{"model_type": "bert", "hidden_si')
model("model-config-heads", "hidden not divisible by heads", "num_attention_heads", config={**GOOD_CFG, "num_attention_heads": 3})
model("model-config-layers-negative", "negative layer count", "num_hidden_layers", config={**GOOD_CFG, "num_hidden_layers": -1})
model("model-config-vocab-zero", "vocab size 0", "vocab_size", config={**GOOD_CFG, "vocab_size": 0})
model("model-config-act-unknown", "unknown activation", "hidden_act", config={**GOOD_CFG, "hidden_act": "swishy"})
model("model-config-type-wrong", "hidden_size is a string", "hidden_size", config={**GOOD_CFG, "hidden_size": "eight"})
model("model-config-garbage", "binary config.json", "", config_text=GARBAGE)
model("model-settings-unknown-key", "rag-e2e.json with a misspelt key", "unknown key 'pooling_mode'", settings='{"pooling_mode": "mean"}')
model("model-settings-pooling", "unknown pooling", "pooling", settings='{"pooling": "median"}')
model("model-settings-max-length", "negative max_length", "max_length", settings='{"max_length": -5}')
model("model-settings-truncated", "rag-e2e.json cut off", "", settings='{"pooling": "me')
model("st-offsets-past-end", "tensor offsets past the end of the file", "", st=safetensors(tensors_for(GOOD_CFG), lie_past_end))
model("st-overlapping", "two tensors share bytes", "", st=safetensors(tensors_for(GOOD_CFG), lie_overlap))
model("st-unknown-dtype", "dtype F7", "F7", st=safetensors(tensors_for(GOOD_CFG), lie_dtype))
model("st-shape-bytes-mismatch", "shape does not match byte count", "", st=safetensors(tensors_for(GOOD_CFG), lie_shape))
model("st-negative-offset", "negative offset", "", st=safetensors(tensors_for(GOOD_CFG), lie_negative))
model("st-header-length-huge", "header length beyond the file", "header", st=struct.pack("<Q", 1 << 40) + b"{}")
model("st-header-not-json", "header is not JSON", "", st=struct.pack("<Q", 16) + b"this is not json")
model("st-empty", "zero-byte safetensors", "", st=b"")
model("st-missing-tensor", "a weight the config needs is absent", "embeddings.word_embeddings.weight", missing="embeddings.word_embeddings.weight")

with open(os.path.join(HERE, "manifest.json"), "w") as f:
    json.dump({"about": __doc__, "cases": cases}, f, indent=1)
print(len(cases), "cases")
