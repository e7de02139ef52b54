package dev.rage2e.kb;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.model.EncoderModel;
import dev.rage2e.model.ParamStore;
import dev.rage2e.util.Fingerprint;
import dev.rage2e.util.Json;
import dev.rage2e.weights.HostTensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;

/**
 * Who computed an embeddings version: for a model directory its path and the sha256 of its
 * {@code model.safetensors}; for an in-memory snapshot (the training loop's context encoder) a label
 * and a fingerprint, the sha256 over its parameter names, shapes and values. Plus the pooling settings.
 */
public record EncoderIdentity(
        String label, String path, String weightsSha256, String fingerprint, ObjectNode settings) {

    public static EncoderIdentity ofDirectory(EncoderModel enc) throws IOException {
        Path dir = enc.dir().toAbsolutePath().normalize();
        Path weights = dir.resolve("model.safetensors");
        String sha = Files.exists(weights) ? Fingerprint.sha256(weights) : null;
        return new EncoderIdentity(dir.getFileName().toString(), dir.toString(), sha, null, enc.settings.toJson());
    }

    public static EncoderIdentity ofParams(String label, EncoderModel enc) {
        return new EncoderIdentity(label, null, null, fingerprint(enc), enc.settings.toJson());
    }

    /**
     * The fingerprint of an encoder's weights by their bare (HF BertModel)
     * names, as its saved model.safetensors holds them.
     */
    public static String fingerprint(EncoderModel enc) {
        Map<String, HostTensor> bare = new TreeMap<>();
        enc.params.toHost().forEach((k, v) -> bare.put(k.substring(enc.prefix.length()), v));
        return fingerprint(bare);
    }

    /** Same fingerprint from a saved encoder's weights (a checkpoint's {@code context_encoder/model.safetensors}). */
    public static String fingerprintOfFile(Path modelSafetensors) {
        Map<String, HostTensor> w = new TreeMap<>();
        dev.rage2e.weights.Safetensors.read(modelSafetensors).forEach((k, v) -> w.put(k, v.asF32()));
        return fingerprint(w);
    }

    public static String fingerprint(ParamStore params) {
        return fingerprint(params.toHost());
    }

    static String fingerprint(Map<String, HostTensor> tensors) {
        MessageDigest sha = Fingerprint.sha256();
        for (Map.Entry<String, HostTensor> e : new TreeMap<>(tensors).entrySet()) {
            sha.update(e.getKey().getBytes(java.nio.charset.StandardCharsets.UTF_8));
            sha.update(
                    java.util.Arrays.toString(e.getValue().shape()).getBytes(java.nio.charset.StandardCharsets.UTF_8));
            sha.update(e.getValue().data().duplicate());
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    /** A short stable key (used to group the shards of one encoding). */
    public String key() {
        return Fingerprint.sha256Hex(Json.write(toJson())).substring(0, 16);
    }

    /** The identity {@link #toJson()} wrote (to hand it to another process, e.g. a distributed encoder's workers). */
    public static EncoderIdentity fromJson(com.fasterxml.jackson.databind.JsonNode o) {
        return new EncoderIdentity(
                o.path("label").asText(),
                o.hasNonNull("path") ? o.get("path").asText() : null,
                o.hasNonNull("weights_sha256") ? o.get("weights_sha256").asText() : null,
                o.hasNonNull("fingerprint") ? o.get("fingerprint").asText() : null,
                (ObjectNode) o.path("settings").deepCopy());
    }

    public ObjectNode toJson() {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("label", label);
        if (path != null) o.put("path", path);
        if (weightsSha256 != null) o.put("weights_sha256", weightsSha256);
        if (fingerprint != null) o.put("fingerprint", fingerprint);
        o.set("settings", settings);
        return o;
    }
}
