package dev.rage2e.scaleout.spark;

import ai.djl.ndarray.NDManager;
import dev.rage2e.engine.Precision;
import dev.rage2e.kb.EmbeddingsWriter;
import dev.rage2e.kb.EncoderIdentity;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.model.EncoderModel;
import dev.rage2e.util.Json;
import java.io.Serializable;
import java.nio.file.Path;
import org.apache.spark.api.java.function.Function;

/**
 * What one Spark task does: open the KB and the saved encoder from the shared path, encode shard i of n,
 * leave the shard file for the driver to merge. Plain strings and numbers only, so it serialises as is.
 */
final class ShardTask implements Function<Integer, ShardTask.Done> {
    private static final long serialVersionUID = 1L;

    /** One finished shard (also what the driver logs). */
    record Done(int shard, int passages, double seconds, String host) implements Serializable {}

    private final String kbDir;
    private final String encoderDir;
    private final String identityJson;
    private final int shards;
    private final int batch;
    private final int maxLen;
    private final String precision;

    ShardTask(
            Path kbDir,
            Path encoderDir,
            EncoderIdentity identity,
            int shards,
            EmbeddingsWriter.Options opt,
            String precision) {
        this.kbDir = kbDir.toAbsolutePath().toString();
        this.encoderDir = encoderDir.toAbsolutePath().toString();
        this.identityJson = Json.write(identity.toJson());
        this.shards = shards;
        this.batch = opt.batch();
        this.maxLen = opt.maxLen();
        this.precision = precision;
    }

    @Override
    public Done call(Integer shard) throws Exception {
        Precision.apply(precision); // the executor's JVM has not seen the driver's choice
        KnowledgeBase kb = KnowledgeBase.open(Path.of(kbDir));
        EncoderIdentity identity = EncoderIdentity.fromJson(Json.MAPPER.readTree(identityJson));
        EmbeddingsWriter.Options opt = new EmbeddingsWriter.Options(batch, maxLen, shard, shards, null);
        try (NDManager root = NDManager.newBaseManager();
                EncoderModel enc = EncoderModel.load(Path.of(encoderDir), root)) {
            EmbeddingsWriter.Result r = EmbeddingsWriter.encodeShard(kb, enc, identity, opt);
            return new Done(
                    shard,
                    r.passagesEncoded(),
                    r.seconds(),
                    java.net.InetAddress.getLocalHost().getHostName());
        }
    }
}
