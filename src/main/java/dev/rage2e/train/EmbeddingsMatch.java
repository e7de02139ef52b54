package dev.rage2e.train;

import com.fasterxml.jackson.databind.JsonNode;
import dev.rage2e.kb.Embeddings;
import dev.rage2e.kb.EncoderIdentity;
import dev.rage2e.kb.KnowledgeBase;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Whether a KB version's vectors come from a checkpoint's context encoder. An end-to-end checkpoint
 * trained its question encoder against its own passage encoder; serving it over embeddings of another
 * encoder (an older refresh, the initial encoding) silently lowers retrieval quality.
 */
public final class EmbeddingsMatch {
    private EmbeddingsMatch() {}

    /** Null when they match (or the checkpoint has no trained context encoder), else a one-line warning. */
    public static String mismatch(Path checkpoint, KnowledgeBase kb, String version) {
        Path ctx = checkpoint.resolve("context_encoder");
        Path weights = ctx.resolve("model.safetensors");
        if (!Files.isRegularFile(weights)) return null;
        JsonNode enc = Embeddings.open(kb, version).meta().path("encoder");
        String fp = enc.path("fingerprint").asText(null);
        if (fp != null && fp.equals(EncoderIdentity.fingerprintOfFile(weights))) return null;
        return kb.dir().resolve(version) + ": encoded by '" + enc.path("label").asText("?") + "', not by the "
                + "checkpoint's context encoder "
                + ctx + "; retrieval uses another encoder's passage vectors (re-encode: rag kb encode "
                + "--kb " + kb.dir() + " --encoder " + ctx + ")";
    }
}
