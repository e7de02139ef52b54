package dev.rage2e.weights;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Hugging Face {@code tokenizer.json} as imported with a model: fixed truncation/padding removed
 * (rag-e2e truncates and pads per call) and the padding id found. Also builds the tokenizer.json of
 * an original BERT WordPiece vocabulary ({@code vocab.txt}), as HF's BertTokenizerFast defines it.
 */
public record TokenizerJson(ObjectNode json, int padId) {

    public static TokenizerJson parse(String text, String origin) {
        JsonNode n;
        try {
            n = Json.MAPPER.readTree(text);
        } catch (Exception e) {
            throw new UserException(origin + ": invalid JSON: " + e.getMessage().split("\n")[0]);
        }
        if (n == null || !n.isObject() || !n.path("model").isObject()) {
            throw new UserException(origin + ": not a Hugging Face tokenizer.json (no \"model\" object)");
        }
        ObjectNode o = (ObjectNode) n;
        int pad = -1;
        if (o.path("padding").has("pad_id"))
            pad = o.path("padding").path("pad_id").asInt();
        JsonNode vocab = o.path("model").path("vocab");
        if (pad < 0 && vocab.isObject() && vocab.has("[PAD]"))
            pad = vocab.get("[PAD]").asInt();
        if (pad < 0) {
            for (JsonNode t : o.path("added_tokens")) {
                if (t.path("content").asText().equals("[PAD]")
                        || t.path("content").asText().equals("<pad>"))
                    pad = t.path("id").asInt();
            }
        }
        return new TokenizerJson(o, Math.max(pad, 0));
    }

    /** The JSON with fixed-length truncation and padding switched off. */
    public String cleaned() {
        ObjectNode c = json.deepCopy();
        c.putNull("truncation");
        c.putNull("padding");
        return Json.write(c);
    }

    /**
     * tokenizer.json for an uncased/cased BERT from its vocab.txt (one token per line, id = line
     * number): BertNormalizer, BertPreTokenizer, WordPiece with "##" continuation,
     * "[CLS] A [SEP]" / "[CLS] A [SEP] B [SEP]" post-processing and the WordPiece decoder.
     */
    public static String fromBertVocab(List<String> vocabLines, boolean lowercase, String origin) {
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (int i = 0; i < vocabLines.size(); i++) {
            String tok = vocabLines.get(i);
            if (vocab.putIfAbsent(tok, i) != null) {
                throw UserException.at(
                        origin, i + 1, "duplicate token '" + tok + "' (first on line " + (vocab.get(tok) + 1) + ")");
            }
        }
        for (String special : new String[] {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}) {
            if (!vocab.containsKey(special))
                throw new UserException(origin + ": no " + special + " token in the vocabulary");
        }
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (String special : new String[] {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}) {
            ObjectNode t = added.addObject();
            t.put("id", vocab.get(special));
            t.put("content", special);
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
        norm.putNull("strip_accents"); // null: strip accents exactly when lowercasing, as BERT does
        norm.put("lowercase", lowercase);
        root.putObject("pre_tokenizer").put("type", "BertPreTokenizer");

        ObjectNode post = root.putObject("post_processor");
        post.put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        special(single, "[CLS]", 0);
        sequence(single, "A", 0);
        special(single, "[SEP]", 0);
        ArrayNode pair = post.putArray("pair");
        special(pair, "[CLS]", 0);
        sequence(pair, "A", 0);
        special(pair, "[SEP]", 0);
        sequence(pair, "B", 1);
        special(pair, "[SEP]", 1);
        ObjectNode specials = post.putObject("special_tokens");
        for (String s : new String[] {"[CLS]", "[SEP]"}) {
            ObjectNode st = specials.putObject(s);
            st.put("id", s);
            st.putArray("ids").add(vocab.get(s));
            st.putArray("tokens").add(s);
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
        return Json.write(root);
    }

    private static void special(ArrayNode seq, String id, int typeId) {
        ObjectNode s = seq.addObject().putObject("SpecialToken");
        s.put("id", id);
        s.put("type_id", typeId);
    }

    private static void sequence(ArrayNode seq, String id, int typeId) {
        ObjectNode s = seq.addObject().putObject("Sequence");
        s.put("id", id);
        s.put("type_id", typeId);
    }
}
