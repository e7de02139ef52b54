package dev.rage2e.train;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import dev.rage2e.rag.RagLoss;
import dev.rage2e.rag.RagSettings;
import dev.rage2e.reader.SpanReader;
import dev.rage2e.util.AtomicFiles;
import dev.rage2e.util.Choice;
import dev.rage2e.util.UserException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * Every training setting, readable from a YAML file and overridable by a flag of the same name
 * ({@code lr: 3e-5} in YAML is {@code --lr 3e-5}). The resolved config is saved as the run's
 * {@code config.yaml}, so a run folder says exactly how it was trained.
 */
public final class TrainConfig {
    static final ObjectMapper YAML = new ObjectMapper(
                    new YAMLFactory().disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER))
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(com.fasterxml.jackson.databind.SerializationFeature.WRITE_ENUMS_USING_TO_STRING)
            .enable(DeserializationFeature.READ_ENUMS_USING_TO_STRING);

    /** original RAG (frozen passage encoder and index) or end-to-end RAG. */
    public enum Mode implements Choice {
        ORIGINAL,
        END2END;

        @Override
        public String toString() {
            return label();
        }
    }

    /**
     * How an end-to-end run re-encodes the KB: in a background thread, by a Spark job, or not at all (query side only).
     */
    public enum Refresh implements Choice {
        ASYNC,
        SPARK,
        NONE;

        @Override
        public String toString() {
            return label();
        }
    }

    /** Which questions periodic evaluation takes from its part. */
    public enum EvalSample implements Choice {
        HEAD,
        SPREAD,
        STRIDE;

        @Override
        public String toString() {
            return label();
        }
    }

    /** What "the gold passage" of a SQuAD question is for the reader stage: its KB passage or its whole paragraph. */
    public enum GoldContext implements Choice {
        PASSAGE,
        PARAGRAPH;

        @Override
        public String toString() {
            return label();
        }
    }

    /** Every closed choice of the config, for the CLI's converters. */
    public static final java.util.List<Class<? extends Enum<?>>> CHOICES = java.util.List.of(
            Mode.class,
            Refresh.class,
            EvalSample.class,
            GoldContext.class,
            LrSchedule.Kind.class,
            RagLoss.Kind.class,
            SpanReader.SpanScore.class,
            dev.rage2e.engine.Precision.Setting.class);

    // --- what to train
    @JsonProperty("mode")
    @Option(names = "--mode", description = "original (frozen passage encoder) or end2end.")
    public Mode mode = Mode.ORIGINAL;

    @JsonProperty("model-type")
    @Option(names = "--model-type", description = "rag-token or rag-sequence.")
    public RagLoss.Kind modelType = RagLoss.Kind.TOKEN;

    @JsonProperty("question-encoder")
    @Option(names = "--question-encoder", description = "Question encoder model dir.")
    public String questionEncoder;

    @JsonProperty("context-encoder")
    @Option(names = "--context-encoder", description = "Initial context encoder (default: the KB's encoder).")
    public String contextEncoder;

    @JsonProperty("generator")
    @Option(names = "--generator", description = "Generator model dir (BART or BERT2BERT).")
    public String generator;

    @JsonProperty("kb")
    @Option(names = "--kb", description = "Knowledge base dir (with a published embeddings version).")
    public String kb;

    @JsonProperty("index-type")
    @Option(
            names = "--index-type",
            description = "flat (exact MIPS), hnsw, or a search cluster: solr:URL (needs the rag-e2e-scaleout jar).")
    public String indexType = "flat";

    // --- data
    @JsonProperty("train")
    @Option(names = "--train", description = "Training questions, SQuAD-format JSON.")
    public String train;

    @JsonProperty("split")
    @Option(names = "--split", description = "Split file selecting articles (splits-squad-kb.json).")
    public String split;

    @JsonProperty("part")
    @Option(names = "--part", description = "Split part to train on (default train).")
    public String part = "train";

    @JsonProperty("train-source")
    @Option(names = "--train-source", description = "Reference-style line file of questions.")
    public String trainSource;

    @JsonProperty("train-target")
    @Option(
            names = "--train-target",
            description = "Reference-style line file of answers (tab-separated alternatives allowed).")
    public String trainTarget;

    @JsonProperty("eval-part")
    @Option(names = "--eval-part", description = "Split part used for periodic evaluation (default test).")
    public String evalPart = "test";

    @JsonProperty("eval-questions")
    @Option(names = "--eval-questions", description = "How many questions periodic evaluation uses.")
    public int evalQuestions = 100;

    @JsonProperty("eval-sample")
    @Option(
            names = "--eval-sample",
            description = "head (the first eval-questions of "
                    + "the part) or spread "
                    + "(evenly spaced over the part, so every article contributes) or stride (every k-th from the "
                    + "first, "
                    + "as the reader anchors).")
    public EvalSample evalSample = EvalSample.HEAD;

    // --- model shape
    @JsonProperty("n-docs")
    @Option(names = "--n-docs", description = "Passages retrieved per question.")
    public int nDocs = 5;

    @JsonProperty("max-question-length")
    @Option(names = "--max-question-length")
    public int maxQuestionLength = 48;

    @JsonProperty("max-combined-length")
    @Option(names = "--max-combined-length", description = "Generator input tokens (title / passage // question).")
    public int maxCombinedLength = 192;

    @JsonProperty("max-target-length")
    @Option(names = "--max-target-length")
    public int maxTargetLength = 24;

    @JsonProperty("label-smoothing")
    @Option(names = "--label-smoothing")
    public float labelSmoothing = 0f;

    @JsonProperty("exclude-bos-score")
    @Option(names = "--exclude-bos-score", arity = "1")
    public boolean excludeBosScore = false;

    // --- optimisation
    @JsonProperty("lr")
    @Option(names = "--lr")
    public float lr = 3e-5f;

    @JsonProperty("lr-retriever")
    @Option(names = "--lr-retriever", description = "Learning rate of question and context encoders (default: --lr).")
    public Float lrRetriever;

    @JsonProperty("retriever-warmup-steps")
    @Option(
            names = "--retriever-warmup-steps",
            description = "Train only "
                    + "the generator for the "
                    + "first N steps (question and context encoders frozen, no KB refresh): a generator that "
                    + "ignores its "
                    + "passages makes the "
                    + "doc-score gradient push every question toward the same few passages (retrieval collapse).")
    public int retrieverWarmupSteps = 0;

    @JsonProperty("weight-decay")
    @Option(names = "--weight-decay")
    public float weightDecay = 0.001f;

    @JsonProperty("warmup-steps")
    @Option(names = "--warmup-steps")
    public int warmupSteps = 0;

    @JsonProperty("scheduler")
    @Option(
            names = "--scheduler",
            description = "linear, polynomial or constant (after warmup). Decays reach 0 where training ends: at the "
                    + "last step or at the end of --max-minutes, whichever comes first.")
    public LrSchedule.Kind scheduler = LrSchedule.Kind.LINEAR;

    @JsonProperty("batch-size")
    @Option(names = "--batch-size")
    public int batchSize = 4;

    @JsonProperty("grad-accum")
    @Option(names = "--grad-accum")
    public int gradAccum = 1;

    @JsonProperty("max-steps")
    @Option(names = "--max-steps", description = "Optimizer steps (0: use --epochs).")
    public int maxSteps = 0;

    @JsonProperty("max-minutes")
    @Option(
            names = "--max-minutes",
            description = "Wall-clock training budget in minutes "
                    + "(periodic evaluation excluded; 0: none). Training stops after the step that exhausts it.")
    public double maxMinutes = 0;

    @JsonProperty("epochs")
    @Option(names = "--epochs")
    public int epochs = 1;

    @JsonProperty("max-grad-norm")
    @Option(names = "--max-grad-norm")
    public float maxGradNorm = 1.0f;

    @JsonProperty("seed")
    @Option(names = "--seed")
    public long seed = 42;

    @JsonProperty("threads")
    @Option(names = "--threads", description = "Intra-op threads for training (0: all cores).")
    public int threads = 0;

    @JsonProperty("doc-score-scale")
    @Option(
            names = "--doc-score-scale",
            description = "Multiplies q·d before "
                    + "p(z|x) = softmax "
                    + "(default: 20 when the question encoder L2-normalises, the scale of sentence-transformers' "
                    + "MultipleNegativesRankingLoss "
                    + "that all-MiniLM-L6-v2 was trained with; 1 otherwise, as HF RAG). A run saves the value it used.")
    public Float docScoreScale;

    @JsonProperty("reader-only")
    @Option(
            names = "--reader-only",
            description = "Train the reader (generator or "
                    + "span reader) alone on "
                    + "each question's gold passage: no retrieval, encoders frozen, no KB refresh (a reader stage "
                    + "before "
                    + "RAG training).")
    public boolean readerOnly = false;

    // left out of config.yaml and reader-stage keys while off, so keys recorded before the option still match
    @com.fasterxml.jackson.annotation.JsonInclude(com.fasterxml.jackson.annotation.JsonInclude.Include.NON_DEFAULT)
    @JsonProperty("group-by-length")
    @Option(
            names = "--group-by-length",
            description = "Batch questions of similar length together (as HF Trainer's group_by_length): each epoch's "
                    + "shuffle is cut into groups of 50 batches, each group sorted by length (question plus gold "
                    + "passage with --reader-only) and its batches shuffled. Less padding, same examples per epoch.")
    public boolean groupByLength = false;

    @JsonProperty("gold-context")
    @Option(
            names = "--gold-context",
            description = "What a gold passage is: passage "
                    + "(the KB's "
                    + "100-word passage of the paragraph holding the answer, default) or paragraph (the whole SQuAD "
                    + "paragraph, cut to the "
                    + "input length, as Hugging Face's SQuAD readers see it).")
    public GoldContext goldContext = GoldContext.PASSAGE;

    @JsonProperty("span-score")
    @Option(
            names = "--span-score",
            description = "Span reader decoding: an answer "
                    + "string scores "
                    + "sum_z p(z|x) * (max or sum) of the probabilities of its spans in z (default max).")
    public SpanReader.SpanScore spanScore = SpanReader.SpanScore.MAX;

    // --- bookkeeping
    @JsonProperty("log-every")
    @Option(names = "--log-every")
    public int logEvery = 10;

    @JsonProperty("eval-every")
    @Option(names = "--eval-every", description = "Evaluate every N steps (0: only at the end).")
    public int evalEvery = 0;

    @JsonProperty("eval-every-minutes")
    @Option(
            names = "--eval-every-minutes",
            description = "Also evaluate each "
                    + "time another N "
                    + "minutes of training (budget-charged time) have passed (0: off).")
    public double evalEveryMinutes = 0;

    @JsonProperty("checkpoint-every")
    @Option(names = "--checkpoint-every", description = "Checkpoint every N steps (0: only at the end).")
    public int checkpointEvery = 0;

    @JsonProperty("keep-checkpoints")
    @Option(names = "--keep-checkpoints")
    public int keepCheckpoints = 2;

    @JsonProperty("num-beams")
    @Option(names = "--num-beams")
    public int numBeams = 4;

    @JsonProperty("max-answer-length")
    @Option(names = "--max-answer-length")
    public int maxAnswerLength = 16;

    // --- end-to-end retriever training (issue: asynchronous KB refresh)
    @JsonProperty("indexing-freq")
    @Option(names = "--indexing-freq", description = "Start a KB re-encode + re-index every N steps (end2end).")
    public int indexingFreq = 500;

    @JsonProperty("refresh")
    @Option(
            names = "--refresh",
            description = "async (train the context encoder, "
                    + "re-encode the KB in the background), "
                    + "spark (the same, the KB re-encoded by a Spark job: --spark-master; needs the "
                    + "rag-e2e-scaleout jar) "
                    + "or none (query-side only: "
                    + "context encoder frozen).")
    public Refresh refresh = Refresh.ASYNC;

    @JsonProperty("spark-master")
    @Option(
            names = "--spark-master",
            description = "With --refresh spark: local[N], "
                    + "spark://HOST:PORT, yarn, ..., or 'submit' (the master spark-submit was given) "
                    + "(the KB folder must be at the same path on every executor).")
    public String sparkMaster = "local[*]";

    @JsonProperty("refresh-shards")
    @Option(
            names = "--refresh-shards",
            description = "With --refresh spark: tasks per re-encoding (0: the cluster's default parallelism).")
    public int refreshShards = 0;

    @JsonProperty("rerank")
    @Option(names = "--rerank", description = "Over-retrieve K and rescore with the current context encoder (0: off).")
    public int rerank = 0;

    @JsonProperty("refresh-threads")
    @Option(names = "--refresh-threads", description = "Threads for the refresher (0: library default).")
    public int refreshThreads = 1;

    @JsonProperty("refresh-device")
    @Option(names = "--refresh-device", description = "cpu or gpu:N for the refresher.")
    public String refreshDevice = "cpu";

    @JsonProperty("precision")
    @Option(
            names = "--precision",
            description = "Matrix-math precision auto|fp32|bf16 "
                    + "(auto: bf16 only "
                    + "where the CPU has AMX-BF16/AVX512-BF16 and it measures faster). Parameters and optimizer "
                    + "state stay "
                    + "fp32.")
    public dev.rage2e.engine.Precision.Setting precision = dev.rage2e.engine.Precision.Setting.AUTO;

    @JsonProperty("refresh-batch")
    @Option(names = "--refresh-batch")
    public int refreshBatch = 32;

    @JsonProperty("refresh-publish-lag")
    @Option(
            names = "--refresh-publish-lag",
            description = "Publish a refresh "
                    + "started at step s "
                    + "exactly after step s+L, waiting there if it is not ready (0: publish as soon as it is "
                    + "ready). With "
                    + "L > 0 an end-to-end "
                    + "run is deterministic for a seed, across --resume too.")
    public int refreshPublishLag = 0;

    @JsonProperty("no-final-refresh")
    @Option(
            names = "--no-final-refresh",
            description = "Do not re-encode the KB "
                    + "with the final "
                    + "context encoder at the end of end-to-end training (the final checkpoint then names an older "
                    + "encoder's embeddings).")
    public boolean noFinalRefresh = false;

    /**
     * The automatic doc-score scale for L2-normalised encoders
     * (sentence-transformers' MultipleNegativesRankingLoss scale).
     */
    public static final float AUTO_NORMALIZED_SCALE = 20f;

    public static TrainConfig load(Path yaml) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(yaml);
        } catch (IOException e) {
            throw new UserException(yaml + ": cannot read: " + e.getMessage());
        }
        TrainConfig c = parse(yaml, bytes, YAML.readerFor(TrainConfig.class));
        return c == null ? new TrainConfig() : c;
    }

    /** The presets shipped in the jar ({@code src/main/resources/presets/NAME.yaml}). */
    public static final java.util.List<String> SHIPPED_PRESETS =
            java.util.List.of("experiment", "span-reader-stage", "demo");

    /**
     * Sets the keys of a YAML preset on this config; keys it does not name keep their values. {@code preset} is a file,
     * or the name of a shipped preset ({@link #SHIPPED_PRESETS}). Errors name the file and line, as {@link #load}'s.
     */
    public TrainConfig overlay(String preset) {
        Path file = Path.of(preset);
        byte[] bytes;
        try {
            if (Files.isRegularFile(file)) {
                bytes = Files.readAllBytes(file);
            } else {
                try (java.io.InputStream in = TrainConfig.class.getResourceAsStream("/presets/" + preset + ".yaml")) {
                    if (in == null) {
                        throw new UserException(preset + ": no such preset file (shipped presets: "
                                + String.join(", ", SHIPPED_PRESETS) + ")");
                    }
                    bytes = in.readAllBytes();
                    file = Path.of("presets", preset + ".yaml");
                }
            }
        } catch (IOException e) {
            throw new UserException(preset + ": cannot read: " + e.getMessage());
        }
        parse(file, bytes, YAML.readerForUpdating(this));
        return this;
    }

    private static TrainConfig parse(Path yaml, byte[] bytes, com.fasterxml.jackson.databind.ObjectReader reader) {
        try {
            return reader.readValue(bytes);
        } catch (UnrecognizedPropertyException e) {
            throw UserException.at(
                    yaml,
                    e.getLocation() == null ? -1 : e.getLocation().getLineNr(),
                    "unknown config key '" + e.getPropertyName() + "'");
        } catch (InvalidFormatException e) {
            Class<?> t = e.getTargetType();
            throw UserException.at(
                    yaml,
                    e.getLocation() == null ? -1 : e.getLocation().getLineNr(),
                    "bad value " + e.getValue() + " for '" + e.getPath().get(0).getFieldName() + "'"
                            + (t != null && t.isEnum() ? ": expected " + Choice.labels(t) : ""));
        } catch (com.fasterxml.jackson.databind.exc.MismatchedInputException e) {
            int line = e.getLocation() == null ? -1 : e.getLocation().getLineNr();
            if (e.getPath().isEmpty())
                throw UserException.at(yaml, line, "expected a mapping of config keys (key: value lines)");
            String type = e.getTargetType() == null
                    ? "another type"
                    : e.getTargetType().getSimpleName();
            throw UserException.at(
                    yaml,
                    line,
                    "'" + e.getPath().get(0).getFieldName() + "' has the wrong type (expected " + type + ")");
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw UserException.at(
                    yaml, e.getLocation() == null ? -1 : e.getLocation().getLineNr(), e.getOriginalMessage());
        } catch (IOException e) {
            throw new UserException(yaml + ": cannot read: " + e.getMessage());
        }
    }

    public void save(Path file) throws IOException {
        AtomicFiles.writeString(file, YAML.writeValueAsString(this));
    }

    public boolean end2end() {
        return mode == Mode.END2END;
    }

    /**
     * Whether the context encoder trains: end-to-end mode with refresh. {@code --refresh none} is the
     * query-side-only alternative (Atlas): the context encoder stays frozen, like original RAG.
     */
    public boolean trainsContextEncoder() {
        return end2end() && refresh != Refresh.NONE && !readerOnly;
    }

    public float retrieverLr() {
        return lrRetriever != null ? lrRetriever : lr;
    }

    /** As {@link #validate()} with messages naming where the values came from (a config file, flags). */
    public void validate(String source) {
        try {
            validate();
        } catch (UserException e) {
            throw new UserException(source + ": " + e.getMessage().replaceFirst("^config: ", ""));
        }
    }

    /** Checks values before any work starts; names the offending key. */
    public void validate() {
        // closed choices (mode, model-type, scheduler, refresh, eval-sample, gold-context, span-score) are enums: a bad
        // value fails when the YAML or the flag is parsed; only null (an explicit empty value) reaches here
        check(mode != null, "mode", null, Choice.labels(Mode.class));
        check(modelType != null, "model-type", null, Choice.labels(RagLoss.Kind.class));
        check(scheduler != null, "scheduler", null, Choice.labels(LrSchedule.Kind.class));
        check(refresh != null, "refresh", null, Choice.labels(Refresh.class));
        check(evalSample != null, "eval-sample", null, Choice.labels(EvalSample.class));
        check(goldContext != null, "gold-context", null, Choice.labels(GoldContext.class));
        check(spanScore != null, "span-score", null, Choice.labels(SpanReader.SpanScore.class));
        check(
                refreshDevice.equals("cpu") || refreshDevice.matches("gpu:\\d+"),
                "refresh-device",
                refreshDevice,
                "cpu or gpu:N");
        check(precision != null, "precision", null, Choice.labels(dev.rage2e.engine.Precision.Setting.class));
        check(
                indexType.equals("flat")
                        || indexType.equals("hnsw")
                        || dev.rage2e.index.RemoteIndex.isRemote(indexType),
                "index-type",
                indexType,
                "flat, hnsw or ENGINE:TARGET (e.g. solr:http://host:8983/solr)");
        check(refreshPublishLag >= 0, "refresh-publish-lag", refreshPublishLag, ">= 0");
        check(nDocs >= 1 && nDocs <= 100, "n-docs", nDocs, "1..100");
        check(lr > 0 && lr < 1, "lr", lr, "in (0, 1)");
        check(lrRetriever == null || (lrRetriever >= 0 && lrRetriever < 1), "lr-retriever", lrRetriever, "in [0, 1)");
        check(weightDecay >= 0 && weightDecay < 1, "weight-decay", weightDecay, "in [0, 1)");
        check(retrieverWarmupSteps >= 0, "retriever-warmup-steps", retrieverWarmupSteps, ">= 0");
        check(batchSize >= 1, "batch-size", batchSize, ">= 1");
        check(gradAccum >= 1, "grad-accum", gradAccum, ">= 1");
        check(maxSteps >= 0, "max-steps", maxSteps, ">= 0");
        check(maxMinutes >= 0, "max-minutes", maxMinutes, ">= 0");
        check(epochs >= 1 || maxSteps > 0, "epochs", epochs, ">= 1");
        check(warmupSteps >= 0, "warmup-steps", warmupSteps, ">= 0");
        check(maxGradNorm >= 0, "max-grad-norm", maxGradNorm, ">= 0 (0 disables clipping)");
        check(labelSmoothing >= 0 && labelSmoothing < 1, "label-smoothing", labelSmoothing, "in [0, 1)");
        check(indexingFreq >= 1, "indexing-freq", indexingFreq, ">= 1");
        check(rerank == 0 || rerank >= nDocs, "rerank", rerank, "0 or >= n-docs");
        check(
                rerank == 0 || trainsContextEncoder(),
                "rerank",
                rerank,
                "0 unless mode is end2end with refresh async (re-ranking rescores with the trained context encoder)");
        check(
                docScoreScale == null || (docScoreScale > 0 && Float.isFinite(docScoreScale)),
                "doc-score-scale",
                docScoreScale,
                "> 0");
        check(
                !readerOnly || train != null,
                "reader-only",
                readerOnly,
                "false unless --train is SQuAD JSON (gold passages come from its paragraphs)");
        check(keepCheckpoints >= 1, "keep-checkpoints", keepCheckpoints, ">= 1");
        check(numBeams >= 1, "num-beams", numBeams, ">= 1");
        check(questionEncoder != null, "question-encoder", null, "a model directory");
        check(generator != null, "generator", null, "a model directory");
        check(kb != null, "kb", null, "a knowledge base directory");
        check(
                train != null || (trainSource != null && trainTarget != null),
                "train",
                null,
                "a SQuAD JSON file, or train-source and train-target");
    }

    private static void check(boolean ok, String key, Object value, String expected) {
        if (!ok) throw new UserException("config: " + key + " = " + value + " is invalid: expected " + expected);
    }

    /**
     * {@code normalizedQuestions}: whether the question encoder L2-normalises (decides the automatic doc-score scale).
     */
    public RagSettings ragSettings(boolean normalizedQuestions) {
        float scale = docScoreScale != null ? docScoreScale : normalizedQuestions ? AUTO_NORMALIZED_SCALE : 1f;
        return new RagSettings(
                modelType,
                nDocs,
                maxQuestionLength,
                maxCombinedLength,
                maxTargetLength,
                labelSmoothing,
                excludeBosScore,
                trainsContextEncoder(),
                rerank,
                scale);
    }
}
