package dev.rage2e.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The HTTP API and page, on Javalin (embedded Jetty). Admission control keeps latency bounded: at
 * most {@code workers} requests run model code at once and at most {@code queue} more wait for a
 * worker; beyond that a request gets 503 with {@code Retry-After} at once rather than piling up.
 *
 * <pre>
 * GET  /              the page (a question box; {@code /?q=...&k=...} asks at once)
 * GET  /api/health    what is served (checkpoint, step, KB, embeddings version, limits) + counters
 * POST /api/answer    {"question": "...", "k": 5} -> answer, passages, embeddings_version, timings
 * POST /api/reload    load a newer checkpoint / embeddings version now, swap atomically (admin)
 * </pre>
 *
 * <p>Admin endpoints cost seconds of CPU and gigabytes of memory, so beyond loopback they need
 * {@code Authorization: Bearer TOKEN} ({@link #adminToken}); without a token configured they answer 401 there.
 * On a loopback address with no token they stay open (the local user is trusted, as before).
 */
public final class RagServer implements AutoCloseable {
    public static final long MAX_REQUEST_BYTES = 16 * 1024;
    public static final int MAX_QUESTION_CHARS = 2000;
    /** How long a queued request waits for a worker before giving up with 503. */
    static final long QUEUE_TIMEOUT_SECONDS = 30;

    private final QaBackend backend;
    private final int workers, queue, running0;
    private final Semaphore admitted;
    private final Semaphore running;
    private final AtomicLong served = new AtomicLong();
    private final AtomicLong rejected = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final String page;
    private String adminToken;
    private Javalin app;

    public RagServer(QaBackend backend, int workers, int queue) {
        if (workers < 1) throw new UserException("--workers must be >= 1, got " + workers);
        if (queue < 0) throw new UserException("--queue must be >= 0, got " + queue);
        this.backend = backend;
        this.workers = workers;
        this.queue = queue;
        // a worker of a batching backend runs a micro-batch: that many requests are "running" per worker
        this.running0 = workers * Math.max(1, backend.batchCapacity());
        this.admitted = new Semaphore(running0 + queue);
        this.running = new Semaphore(running0, true);
        this.page = resource("/serve/index.html");
    }

    /** Requires {@code token} (null: none) on admin endpoints; call before {@link #start}. */
    public RagServer adminToken(String token) {
        if (token != null && token.isBlank()) throw new UserException("the admin token must not be empty");
        this.adminToken = token;
        return this;
    }

    /** Whether {@code host} binds beyond the loopback interface (0.0.0.0, a LAN address, a public name). */
    public static boolean beyondLoopback(String host) {
        try {
            return !java.net.InetAddress.getByName(host).isLoopbackAddress();
        } catch (java.net.UnknownHostException e) {
            throw new UserException("--host " + host + ": unknown host");
        }
    }

    /** Starts listening ({@code port} 0 picks a free port; see {@link #port()}). */
    public RagServer start(String host, int port) {
        boolean guarded = adminToken != null || beyondLoopback(host);
        app = Javalin.create(cfg -> {
            cfg.http.maxRequestSize = MAX_REQUEST_BYTES;
            cfg.showJavalinBanner = false;
            cfg.useVirtualThreads = false;
            cfg.startupWatcherEnabled = false;
        });
        app.get(
                "/",
                ctx -> ctx.contentType("text/html; charset=utf-8")
                        .header("Cache-Control", "no-store")
                        .result(page));
        app.get("/api/health", ctx -> {
            ObjectNode h = backend.health();
            h.put("workers", workers);
            h.put("queue", queue);
            h.put("in_flight", running0 + queue - admitted.availablePermits());
            h.put("served", served.get());
            h.put("rejected_busy", rejected.get());
            h.put("failed", failed.get());
            json(ctx, 200, h);
        });
        app.post("/api/answer", this::answer);
        app.post("/api/reload", ctx -> {
            if (guarded && !authorized(ctx)) {
                ctx.header("WWW-Authenticate", "Bearer");
                json(
                        ctx,
                        401,
                        error(
                                adminToken == null
                                        ? "admin endpoints are off on a non-loopback address without a token: "
                                                + "start rag serve with "
                                                + "--admin-token or RAG_ADMIN_TOKEN"
                                        : "admin endpoint: send Authorization: Bearer <token>"));
                return;
            }
            try {
                json(ctx, 200, backend.reload());
            } catch (UserException e) {
                json(ctx, 409, error("reload failed, still serving the previous model: " + e.getMessage()));
            }
        });
        app.exception(HttpResponseException.class, (e, ctx) -> json(ctx, e.getStatus(), error(e.getMessage())));
        app.exception(Exception.class, (e, ctx) -> {
            failed.incrementAndGet();
            System.err.println("rag serve: " + ctx.method() + " " + ctx.path() + " failed: " + e);
            json(ctx, 500, error("internal error: " + e));
        });
        app.error(404, ctx -> {
            if (!"application/json".equals(ctx.res().getContentType()))
                json(ctx, 404, error("not found: " + ctx.method() + " " + ctx.path()));
        });
        app.start(host, port);
        return this;
    }

    public int port() {
        return app.port();
    }

    private boolean authorized(Context ctx) {
        if (adminToken == null) return false;
        String h = ctx.header("Authorization");
        if (h == null || !h.startsWith("Bearer ")) return false;
        // constant-time comparison: the time taken says nothing about how much of the token was right
        return java.security.MessageDigest.isEqual(
                h.substring(7).strip().getBytes(StandardCharsets.UTF_8), adminToken.getBytes(StandardCharsets.UTF_8));
    }

    private void answer(Context ctx) throws InterruptedException {
        if (ctx.contentLength() > MAX_REQUEST_BYTES) {
            tooLarge(ctx);
            return;
        }
        // read at most one byte past the limit ourselves: a chunked body has no Content-Length to check up front
        byte[] raw;
        try {
            raw = ctx.req().getInputStream().readNBytes((int) MAX_REQUEST_BYTES + 1);
        } catch (IOException e) {
            json(ctx, 400, error("cannot read the request body: " + e.getMessage()));
            return;
        }
        if (raw.length > MAX_REQUEST_BYTES) {
            tooLarge(ctx);
            return;
        }
        JsonNode body;
        try {
            body = Json.MAPPER.readTree(raw);
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
        int k = backend.defaultK();
        if (kn != null && !kn.isNull()) {
            if (!kn.isIntegralNumber() || !kn.canConvertToInt() || kn.asInt() < 1 || kn.asInt() > backend.maxK()) {
                json(ctx, 400, error("'k' must be an integer in 1.." + backend.maxK()));
                return;
            }
            k = kn.asInt();
        }
        if (!admitted.tryAcquire()) {
            busy(ctx, "too many requests in flight (" + running0 + " running, " + queue + " queued)");
            return;
        }
        try {
            long t0 = System.nanoTime();
            if (!running.tryAcquire(QUEUE_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                busy(ctx, "timed out after " + QUEUE_TIMEOUT_SECONDS + " s waiting for a worker");
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

    private void busy(Context ctx, String why) {
        rejected.incrementAndGet();
        ctx.header("Retry-After", "1");
        json(ctx, 503, error("server busy: " + why + "; retry shortly"));
    }

    private static void tooLarge(Context ctx) {
        json(ctx, 413, error("request body larger than " + MAX_REQUEST_BYTES + " bytes"));
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
