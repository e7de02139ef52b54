package dev.rage2e.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import io.javalin.Javalin;
import io.javalin.http.Context;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The HTTP API and page, on Javalin (embedded Jetty). Admission control keeps latency bounded: at
 * most {@code workers} requests run model code at once and at most {@code queue} more wait; beyond
 * that a request gets 503 at once rather than piling up.
 */
public final class RagServer implements AutoCloseable {
    public static final long MAX_REQUEST_BYTES = 16 * 1024;
    public static final int MAX_QUESTION_CHARS = 2000;

    private final QaBackend backend;
    private final Semaphore admitted;
    private final Semaphore running;
    private final AtomicLong served = new AtomicLong();
    private final AtomicLong rejected = new AtomicLong();
    private final String page;
    private Javalin app;

    public RagServer(QaBackend backend, int workers, int queue) {
        this.backend = backend;
        this.admitted = new Semaphore(workers + queue);
        this.running = new Semaphore(workers, true);
        this.page = resource("/serve/index.html");
    }

    public RagServer start(String host, int port) {
        app = Javalin.create(cfg -> {
            cfg.http.maxRequestSize = MAX_REQUEST_BYTES;
            cfg.showJavalinBanner = false;
            cfg.useVirtualThreads = false;
        });
        app.get("/", ctx -> ctx.contentType("text/html; charset=utf-8").result(page));
        app.get("/api/health", ctx -> {
            ObjectNode h = backend.health();
            h.put("served", served.get());
            h.put("rejected_busy", rejected.get());
            json(ctx, 200, h);
        });
        app.post("/api/answer", this::answer);
        app.post("/api/reload", ctx -> {
            try {
                json(ctx, 200, backend.reload());
            } catch (UserException e) {
                json(ctx, 409, error(e.getMessage()));
            }
        });
        app.exception(Exception.class, (e, ctx) -> json(ctx, 500, error("internal error: " + e)));
        app.error(404, ctx -> {
            if (ctx.result() == null || ctx.result().isEmpty()) json(ctx, 404, error("not found: " + ctx.path()));
        });
        app.error(413, ctx -> json(ctx, 413, error("request body larger than " + MAX_REQUEST_BYTES + " bytes")));
        app.start(host, port);
        return this;
    }

    public int port() {
        return app.port();
    }

    private void answer(Context ctx) throws InterruptedException {
        if (ctx.contentLength() > MAX_REQUEST_BYTES) {
            json(ctx, 413, error("request body larger than " + MAX_REQUEST_BYTES + " bytes"));
            return;
        }
        JsonNode body;
        try {
            body = Json.MAPPER.readTree(ctx.body());
        } catch (IOException e) {
            json(ctx, 400, error("body is not valid JSON: " + e.getMessage().split("\n")[0]));
            return;
        }
        if (body == null || !body.isObject()) {
            json(ctx, 400, error("body must be a JSON object like {\"question\": \"...\", \"k\": 5}"));
            return;
        }
        JsonNode q = body.get("question");
        if (q == null || !q.isTextual() || q.asText().isBlank()) {
            json(ctx, 400, error("'question' must be a non-empty string"));
            return;
        }
        if (q.asText().length() > MAX_QUESTION_CHARS) {
            json(ctx, 400, error("'question' is longer than " + MAX_QUESTION_CHARS + " characters"));
            return;
        }
        JsonNode kn = body.get("k");
        int k = 5;
        if (kn != null && !kn.isNull()) {
            if (!kn.isIntegralNumber() || kn.asInt() < 1 || kn.asInt() > backend.maxK()) {
                json(ctx, 400, error("'k' must be an integer in 1.." + backend.maxK()));
                return;
            }
            k = kn.asInt();
        }
        if (!admitted.tryAcquire()) {
            rejected.incrementAndGet();
            ctx.header("Retry-After", "1");
            json(ctx, 503, error("server busy: too many requests in flight, retry shortly"));
            return;
        }
        try {
            long t0 = System.nanoTime();
            if (!running.tryAcquire(30, TimeUnit.SECONDS)) {
                json(ctx, 503, error("server busy: timed out waiting for a worker"));
                return;
            }
            long waited = System.nanoTime() - t0;
            try {
                ObjectNode out = backend.answer(q.asText().strip(), k);
                ObjectNode timings = out.has("timings") ? (ObjectNode) out.get("timings") : out.putObject("timings");
                timings.put("queue_ms", waited / 1e6);
                timings.put("total_ms", (System.nanoTime() - t0) / 1e6);
                served.incrementAndGet();
                json(ctx, 200, out);
            } catch (UserException e) {
                json(ctx, 400, error(e.getMessage()));
            } finally {
                running.release();
            }
        } finally {
            admitted.release();
        }
    }

    private static ObjectNode error(String message) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("error", message);
        return o;
    }

    private static void json(Context ctx, int status, ObjectNode body) {
        ctx.status(status).contentType("application/json").result(Json.write(body));
    }

    private static String resource(String name) {
        try (InputStream in = RagServer.class.getResourceAsStream(name)) {
            if (in == null) throw new IllegalStateException("missing resource " + name);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        if (app != null) app.stop();
    }
}
