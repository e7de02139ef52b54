package dev.rage2e.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.engine.Torch;
import dev.rage2e.qa.QaExample;
import dev.rage2e.qa.SquadReader;
import dev.rage2e.serve.Inference;
import dev.rage2e.serve.LoadGenerator;
import dev.rage2e.serve.QaBackend;
import dev.rage2e.serve.RagServer;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code rag bench serve}: latency percentiles and throughput of the HTTP server under concurrent loopback clients. */
@Command(
        name = "serve",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Load-test rag serve (in-process on 127.0.0.1, or --url of one already running on this machine).",
            "Loads POST /api/answer with --clients concurrent closed-loop clients, at most --requests requests and "
                    + "--duration seconds.",
            "Prints JSON: p50/p95/p99 latency at the client, requests/s, status counts, mean server-side timings."
        })
public final class BenchServeCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", description = "Serve this checkpoint / run folder (full answers).")
    Path checkpoint;

    @Option(
            names = "--kb",
            description = "KB (retrieval only with --encoder; with --checkpoint overrides its config's kb).")
    Path kb;

    @Option(names = "--encoder", description = "Question encoder for retrieval-only serving.")
    Path encoder;

    @Option(names = "--url", description = "Load an already running server instead (loopback addresses only).")
    URI url;

    @Option(
            names = "--workers",
            defaultValue = "2",
            description = "In-process server: workers (default ${DEFAULT-VALUE}).")
    int workers;

    @Option(
            names = "--queue",
            defaultValue = "16",
            description = "In-process server: queue (default ${DEFAULT-VALUE}).")
    int queue;

    @Option(
            names = "--threads",
            defaultValue = "0",
            description = "In-process server: intra-op threads per request (0: default).")
    int threads;

    @Option(
            names = "--batch",
            description = "In-process server: micro-batch per worker (1: off; default as rag serve: 16 for "
                    + "retrieval only, 1 with a checkpoint).")
    Integer batch;

    @Option(names = "--beams", description = "Beam size (default: the checkpoint's).")
    Integer beams;

    @Option(names = "--clients", defaultValue = "4", description = "Concurrent clients (default ${DEFAULT-VALUE}).")
    int clients;

    @Option(
            names = "--requests",
            defaultValue = "200",
            description = "Stop after this many requests (default ${DEFAULT-VALUE}).")
    int requests;

    @Option(
            names = "--duration",
            defaultValue = "60",
            description = "Stop after this many seconds (default ${DEFAULT-VALUE}).")
    double duration;

    @Option(
            names = "--warmup",
            defaultValue = "4",
            description = "Unmeasured requests first (default ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "-k", description = "Passages per question (default: the server's).")
    Integer k;

    @Option(
            names = "--questions",
            description = "SQuAD .json (its questions) or a text file with one question per "
                    + "line "
                    + "(default: data/demo/squad-demo.json).")
    Path questionsFile;

    @picocli.CommandLine.Mixin
    PrecisionOption precisionOption = new PrecisionOption();

    @Override
    public Integer call() throws Exception {
        precisionOption.apply();
        LoadGenerator.Options opt = new LoadGenerator.Options(clients, requests, duration, warmup, k);
        List<String> questions = questions();
        if (url != null) {
            if (checkpoint != null || encoder != null)
                throw new UserException("--url loads a running server; drop --checkpoint/--encoder");
            print(LoadGenerator.run(LoadGenerator.checkLoopback(url), questions, opt, System.err), null);
            return 0;
        }
        Inference.setThreads(threads);
        try (QaBackend backend = ServeCommand.open(
                        checkpoint,
                        kb,
                        encoder,
                        "auto",
                        null,
                        Math.max(20, k == null ? 0 : k),
                        beams,
                        null,
                        null,
                        batch,
                        workers);
                RagServer server = new RagServer(backend, workers, queue).start("127.0.0.1", 0)) {
            ObjectNode r = LoadGenerator.run(
                    URI.create("http://127.0.0.1:" + server.port() + "/"), questions, opt, System.err);
            ObjectNode h = backend.health();
            ObjectNode s = Json.MAPPER.createObjectNode();
            s.put("mode", h.path("mode").asText());
            for (String f : new String[] {
                "checkpoint",
                "step",
                "model_type",
                "decoding",
                "beams",
                "encoder",
                "passages",
                "embeddings_version",
                "index",
                "default_k",
                "batch",
                "mean_batch"
            }) {
                if (h.has(f)) s.set(f, h.get(f));
            }
            s.put("workers", workers);
            s.put("queue", queue);
            s.put("threads", threads == 0 ? Torch.intraOpThreads() : threads);
            s.put("cores", Runtime.getRuntime().availableProcessors());
            print(r, s);
        }
        return 0;
    }

    private static void print(ObjectNode result, ObjectNode server) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("bench", "serve");
        if (server != null) o.set("server", server);
        o.setAll(result);
        // no FLOP count: precision, CPU flags and the machine's rate only
        dev.rage2e.engine.Roofline.report(o, Double.NaN);
        System.out.println(Json.write(o));
    }

    private List<String> questions() {
        Path f = questionsFile;
        if (f == null) {
            String home = System.getProperty("rag.home", ".");
            f = Path.of(home, "data/demo/squad-demo.json");
            if (!Files.exists(f)) throw new UserException("no --questions given and " + f + " is absent");
        }
        List<String> out = new ArrayList<>();
        if (f.toString().endsWith(".json")) {
            for (QaExample e : SquadReader.read(f)) out.add(e.question());
        } else {
            try {
                for (String line : Files.readAllLines(f)) if (!line.isBlank()) out.add(line.strip());
            } catch (java.io.IOException e) {
                throw new UserException(f + ": cannot read: " + e.getMessage());
            }
        }
        if (out.isEmpty()) throw new UserException(f + ": no questions");
        return out;
    }
}
