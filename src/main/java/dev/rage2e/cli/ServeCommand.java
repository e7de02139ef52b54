package dev.rage2e.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.rag.RagDecoder;
import dev.rage2e.serve.Inference;
import dev.rage2e.serve.QaBackend;
import dev.rage2e.serve.RagBackend;
import dev.rage2e.serve.RagServer;
import dev.rage2e.serve.ReloadWatcher;
import dev.rage2e.serve.RetrievalBackend;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code rag serve}: the HTTP API and page over a trained checkpoint, or retrieval only. */
@Command(
        name = "serve",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Serve a trained RAG checkpoint (or a run folder's latest) over HTTP, with a page at /.",
            "POST /api/answer {\"question\", \"k\"}, GET /api/health, POST /api/reload (admin: see --admin-token). "
                    + "With --kb and "
                    + "--encoder and no --checkpoint: retrieval only.",
            "Prints one JSON line with the URL once listening; Ctrl-C stops."
        })
public final class ServeCommand implements Callable<Integer> {
    @Option(
            names = "--checkpoint",
            description = "Checkpoint folder, or a run folder (serves its latest; reload follows it).")
    Path checkpoint;

    @Option(names = "--kb", description = "Knowledge base (default with --checkpoint: the kb in its config.yaml).")
    Path kb;

    @Option(names = "--encoder", description = "Question encoder for retrieval-only serving (models/NAME).")
    Path encoder;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to bind (default ${DEFAULT-VALUE}).")
    String host;

    @Option(
            names = "--port",
            defaultValue = "8080",
            description = "Port (default ${DEFAULT-VALUE}; 0 picks a free one).")
    int port;

    @Option(
            names = "--workers",
            defaultValue = "2",
            description = "Requests running model code at once (default ${DEFAULT-VALUE}).")
    int workers;

    @Option(
            names = "--queue",
            defaultValue = "16",
            description = "Requests waiting for a worker before 503 (default ${DEFAULT-VALUE}).")
    int queue;

    @Option(
            names = "--threads",
            defaultValue = "0",
            description = "libtorch intra-op threads per request (0: library default).")
    int threads;

    @Option(
            names = "--batch",
            description = "Questions of up to this many concurrent requests encoded (retrieval only) or "
                    + "answered (with --checkpoint) together per worker (1: each alone). A worker runs one such "
                    + "batch, so up to workers x batch requests run and --queue more wait. Default 16 for retrieval "
                    + "only, 1 with a checkpoint (its decoding cost grew with the batch: measured no gain on a CPU).")
    Integer batch;

    @Option(
            names = "--watch",
            description = "Poll the run folder's latest / the KB's current every SECONDS and reload.",
            paramLabel = "SECONDS")
    Double watch;

    @Option(names = "--index", defaultValue = "auto", description = "auto (hnsw when built, else flat), flat or hnsw.")
    String index;

    @Option(names = "-k", description = "Default passages per question (retrieval only; a checkpoint uses its n-docs).")
    Integer k;

    @Option(
            names = "--max-k",
            defaultValue = "20",
            description = "Largest k a request may ask for (default ${DEFAULT-VALUE}).")
    int maxK;

    @Option(names = "--beams", description = "Beam size (default: the checkpoint's num-beams).")
    Integer beams;

    @Option(names = "--max-answer-length", description = "Max answer tokens incl. start (default: the checkpoint's).")
    Integer maxAnswerLength;

    @Option(
            names = "--decoding",
            description = "token (RAG-token beam), thorough or fast (RAG-sequence); default by model type.")
    String decoding;

    @Option(
            names = "--admin-token",
            paramLabel = "TOKEN",
            description = "Token that admin endpoints (POST "
                    + "/api/reload) require as "
                    + "'Authorization: Bearer TOKEN' (default: $RAG_ADMIN_TOKEN). Without one they are open on "
                    + "loopback "
                    + "and refused (401) beyond it.")
    String adminToken;

    @picocli.CommandLine.Mixin
    PrecisionOption precisionOption = new PrecisionOption();

    @Override
    public Integer call() throws Exception {
        precisionOption.apply();
        if (threads < 0) throw new UserException("--threads must be >= 0");
        if (workers < 1 || queue < 0) throw new UserException("--workers must be >= 1 and --queue >= 0");
        Inference.setThreads(threads);
        String token = token();
        try (QaBackend backend = open(
                        checkpoint, kb, encoder, index, k, maxK, beams, maxAnswerLength, decoding, batch, workers);
                RagServer server =
                        new RagServer(backend, workers, queue).adminToken(token).start(host, port);
                ReloadWatcher watcher = watch == null ? null : new ReloadWatcher(backend, watch, System.err::println)) {
            ObjectNode o = backend.health();
            o.put("url", "http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + server.port() + "/");
            o.put("workers", workers);
            o.put("queue", queue);
            if (watch != null) o.put("watch_seconds", watch);
            o.put(
                    "admin",
                    token != null ? "token" : RagServer.beyondLoopback(host) ? "off (no token)" : "open (loopback)");
            System.out.println(Json.write(o));
            System.out.flush();
            CountDownLatch stop = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(stop::countDown));
            stop.await();
        }
        return 0;
    }

    private String token() {
        String t = adminToken != null ? adminToken : System.getenv("RAG_ADMIN_TOKEN");
        return t == null || t.isEmpty() ? null : t;
    }

    /** The backend for the flags: RAG over a checkpoint, or retrieval only over --kb with --encoder. */
    static QaBackend open(
            Path checkpoint,
            Path kb,
            Path encoder,
            String index,
            Integer k,
            int maxK,
            Integer beams,
            Integer maxAnswerLength,
            String decoding,
            Integer batch,
            int workers) {
        if (maxK < 1) throw new UserException("--max-k must be >= 1");
        int perWorker = batch != null ? batch : checkpoint != null ? 1 : 16;
        if (checkpoint != null) {
            if (encoder != null)
                throw new UserException(
                        "--encoder is for retrieval-only serving; a checkpoint has its own question encoder");
            if (k != null)
                throw new UserException(
                        "-k is for retrieval-only serving; a checkpoint reads its n-docs passages by default");
            return RagBackend.open(
                    checkpoint,
                    kb,
                    new RagBackend.Options(beams, maxAnswerLength, mode(decoding), index, maxK),
                    perWorker,
                    workers);
        }
        if (kb == null || encoder == null)
            throw new UserException("give --checkpoint DIR, or --kb KB_DIR --encoder models/NAME for retrieval only");
        if (beams != null || maxAnswerLength != null || decoding != null) {
            throw new UserException("--beams, --max-answer-length and --decoding need --checkpoint (retrieval only "
                    + "generates nothing)");
        }
        return RetrievalBackend.open(kb, encoder, index, k == null ? 5 : k, maxK, perWorker, workers);
    }

    static RagDecoder.Mode mode(String decoding) {
        if (decoding == null) return null;
        return switch (decoding) {
            case "token" -> RagDecoder.Mode.TOKEN;
            case "thorough" -> RagDecoder.Mode.THOROUGH;
            case "fast" -> RagDecoder.Mode.FAST;
            default -> throw new UserException("--decoding must be token, thorough or fast, got '" + decoding + "'");
        };
    }
}
