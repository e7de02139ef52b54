package dev.rage2e.cli;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.kb.DistributedEncoder;
import dev.rage2e.kb.EmbeddingsWriter;
import dev.rage2e.kb.EncoderIdentity;
import dev.rage2e.kb.KbVersions;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.model.EncoderModel;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code rag kb encode}: a new embeddings version from a passage encoder. */
@Command(
        name = "encode",
        mixinStandardHelpOptions = true,
        description = "Encode every passage ('{title} {text}' after the encoder's passage prefix) into a new "
                + "embeddings version "
                + "emb-NNNNN/ and publish it as current. With --shard i/n only a slice is encoded; the run that "
                + "completes the "
                + "set of n shards merges them into the version (shards of one encoder may run in parallel processes).")
public final class KbEncodeCommand implements Callable<Integer> {
    @Option(names = "--kb", required = true, description = "Knowledge base directory.")
    Path kb;

    @Option(names = "--encoder", required = true, description = "Passage encoder directory (models/NAME, HF layout).")
    Path encoder;

    @Option(
            names = "--batch",
            defaultValue = "32",
            description = "Passages per forward pass (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(
            names = "--max-len",
            defaultValue = "256",
            description = "Truncate passages to this many tokens (default ${DEFAULT-VALUE}).")
    int maxLen;

    @Option(names = "--shard", description = "Encode only shard i of n (0-based), e.g. 0/4.")
    String shard;

    @Option(names = "--no-publish", description = "Do not make the new version current.")
    boolean noPublish;

    @Option(
            names = "--spark",
            paramLabel = "MASTER",
            description = "Encode as a Spark job on MASTER (local[N], "
                    + "spark://HOST:PORT, ..., or 'submit': the master spark-submit was given): one "
                    + "task per shard, merged here into one version. The KB and encoder folders must be at the "
                    + "same path "
                    + "on every executor; "
                    + "needs the rag-e2e-scaleout jar (README, 'Scaling out').")
    String spark;

    @Option(
            names = "--spark-shards",
            defaultValue = "0",
            description = "With --spark: tasks (0: the cluster's default parallelism).")
    int sparkShards;

    @picocli.CommandLine.Mixin
    PrecisionOption precisionOption = new PrecisionOption();

    @Override
    public Integer call() throws Exception {
        precisionOption.apply();
        int si = 0;
        int sn = 1;
        if (shard != null) {
            String[] p = shard.split("/");
            try {
                if (p.length != 2) throw new NumberFormatException();
                si = Integer.parseInt(p[0].strip());
                sn = Integer.parseInt(p[1].strip());
            } catch (NumberFormatException e) {
                throw new UserException("--shard: expected i/n such as 0/4, got '" + shard + "'");
            }
        }
        if (spark != null && shard != null)
            throw new UserException("--spark and --shard: give one (Spark makes its own shards)");
        EmbeddingsWriter.Options opt = new EmbeddingsWriter.Options(batch, maxLen, si, sn, System.err);
        KnowledgeBase k = KnowledgeBase.open(kb);
        try (NDManager root = NDManager.newBaseManager();
                EncoderModel enc = EncoderModel.load(encoder, root)) {
            EmbeddingsWriter.Result r;
            if (spark != null) {
                try (DistributedEncoder d = DistributedEncoder.open("spark", spark, sparkShards)) {
                    System.err.println("rag: encoding with " + d.describe());
                    r = d.encode(k, encoder, EncoderIdentity.ofDirectory(enc), opt);
                }
            } else {
                r = EmbeddingsWriter.encode(k, enc, EncoderIdentity.ofDirectory(enc), opt);
            }
            boolean published = false;
            if (r.version() != null && !noPublish) {
                KbVersions.publish(k.dir(), r.version());
                published = true;
            }
            ObjectNode o = Json.MAPPER.createObjectNode();
            o.put("version", r.version());
            o.put("published", published);
            o.put("passages_encoded", r.passagesEncoded());
            o.put("seconds", Math.round(r.seconds() * 100) / 100.0);
            o.put("passages_per_s", Math.round(r.passagesPerSecond() * 10) / 10.0);
            if (sn > 1) {
                o.put("shard", si + "/" + sn);
                if (r.version() == null)
                    o.put("waiting_for_shards", r.shardFile().getParent().toString());
            }
            System.out.println(Json.write(o));
        }
        return 0;
    }
}
