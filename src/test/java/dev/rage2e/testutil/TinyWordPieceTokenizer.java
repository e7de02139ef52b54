package dev.rage2e.testutil;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.util.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a real Hugging Face {@code tokenizer.json} (BERT normaliser + pre-tokeniser, WordPiece model,
 * [CLS] ... [SEP] template) whose vocabulary is small enough for the tiny fixture BERT (vocab 1000):
 * special tokens, a few whole words, and single characters with their "##" continuations, so any
 * lower-case ASCII text tokenises. Loaded by the same Rust tokenizers library as real models.
 */
public final class TinyWordPieceTokenizer {
    private TinyWordPieceTokenizer() {}

    public static Path write(Path dir, List<String> words) throws IOException {
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (String s : List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")) vocab.put(s, vocab.size());
        String chars = "abcdefghijklmnopqrstuvwxyz0123456789";
        for (char c : chars.toCharArray()) vocab.put(String.valueOf(c), vocab.size());
        for (char c : chars.toCharArray()) vocab.put("##" + c, vocab.size());
        for (char c : "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".toCharArray()) vocab.put(String.valueOf(c), vocab.size());
        for (String w : words) vocab.putIfAbsent(w.toLowerCase(), vocab.size());
        if (vocab.size() > 1000)
            throw new IllegalArgumentException("vocabulary too large for the fixture model: " + vocab.size());

        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (String s : List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")) {
            ObjectNode t = added.addObject();
            t.put("id", vocab.get(s));
            t.put("content", s);
            t.put("single_word", false);
            t.put("lstrip", false);
            t.put("rstrip", false);
            t.put("normalized", false);
            t.put("special", true);
        }
        ObjectNode norm = root.putObject("normalizer");
        norm.put("type", "BertNormalizer");
        norm.put("clean_text", true);
        norm.put("handle_chinese_chars", true);
        norm.putNull("strip_accents");
        norm.put("lowercase", true);
        root.putObject("pre_tokenizer").put("type", "BertPreTokenizer");
        ObjectNode post = root.putObject("post_processor");
        post.put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        single.addObject().putObject("SpecialToken").put("id", "[CLS]").put("type_id", 0);
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        single.addObject().putObject("SpecialToken").put("id", "[SEP]").put("type_id", 0);
        ArrayNode pair = post.putArray("pair");
        pair.addObject().putObject("SpecialToken").put("id", "[CLS]").put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        pair.addObject().putObject("SpecialToken").put("id", "[SEP]").put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
        pair.addObject().putObject("SpecialToken").put("id", "[SEP]").put("type_id", 1);
        ObjectNode special = post.putObject("special_tokens");
        for (String s : List.of("[CLS]", "[SEP]")) {
            ObjectNode t = special.putObject(s);
            t.put("id", s);
            t.putArray("ids").add(vocab.get(s));
            t.putArray("tokens").add(s);
        }
        ObjectNode dec = root.putObject("decoder");
        dec.put("type", "WordPiece");
        dec.put("prefix", "##");
        dec.put("cleanup", true);
        ObjectNode model = root.putObject("model");
        model.put("type", "WordPiece");
        model.put("unk_token", "[UNK]");
        model.put("continuing_subword_prefix", "##");
        model.put("max_input_chars_per_word", 100);
        ObjectNode v = model.putObject("vocab");
        vocab.forEach(v::put);
        Files.createDirectories(dir);
        Path f = dir.resolve("tokenizer.json");
        Files.writeString(f, Json.write(root));
        return f;
    }

    /** A copy of the tiny fixture BERT with this tokenizer and the given rag-e2e.json settings. */
    public static Path tinyEncoder(Path dir, String settingsJson) throws IOException {
        Path bert = Fixtures.hf("bert");
        Files.createDirectories(dir);
        Files.copy(bert.resolve("config.json"), dir.resolve("config.json"));
        Files.copy(bert.resolve("model.safetensors"), dir.resolve("model.safetensors"));
        Files.writeString(dir.resolve("rag-e2e.json"), settingsJson);
        write(dir, List.of("the", "river", "city", "warsaw", "tesla", "passage", "query"));
        return dir;
    }
}
