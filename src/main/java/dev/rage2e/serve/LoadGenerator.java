package dev.rage2e.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.DoubleAdder;

/**
 * A closed-loop load of {@code clients} concurrent HTTP clients against {@code POST /api/answer} of a
 * server on this machine (loopback only), bounded by a request count and a duration. Each client sends
 * its next request when the previous one returned; latency is measured at the client.
 */
public final class LoadGenerator {
    private LoadGenerator() {}

    public record Options(int clients, int maxRequests, double maxSeconds, int warmup, Integer k) {
        public Options {
            if (clients < 1) throw new UserException("--clients must be >= 1");
            if (maxRequests < 1) throw new UserException("--requests must be >= 1");
            if (!(maxSeconds > 0)) throw new UserException("--duration must be positive");
            if (warmup < 0) throw new UserException("--warmup must be >= 0");
        }
    }

    /** Refuses anything but a loopback address: this is a benchmark, never a load on someone else's server. */
    public static URI checkLoopback(URI base) {
        if (!"http".equals(base.getScheme()) || base.getHost() == null)
            throw new UserException(base + ": expected http://127.0.0.1:PORT/");
        try {
            for (InetAddress a : InetAddress.getAllByName(base.getHost())) {
                if (!a.isLoopbackAddress())
                    throw new UserException(base + ": only loopback servers (127.0.0.1, ::1, localhost) may be loaded");
            }
        } catch (UnknownHostException e) {
            throw new UserException(base + ": unknown host");
        }
        return base;
    }

    public static ObjectNode run(URI base, List<String> questions, Options o, PrintStream progress)
            throws InterruptedException {
        checkLoopback(base);
        if (questions.isEmpty()) throw new UserException("no questions to send");
        HttpClient http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10))
                .build();
        URI answer = base.resolve("/api/answer");
        // warm-up: one client, not measured (first requests pay for lazy initialisation and JIT)
        for (int i = 0; i < o.warmup(); i++) {
            try {
                HttpResponse<String> r = send(http, answer, questions.get(i % questions.size()), o.k());
                if (r.statusCode() != 200)
                    throw new UserException(answer + ": warm-up request got HTTP " + r.statusCode() + ": " + r.body());
            } catch (java.io.IOException e) {
                throw new UserException(answer + ": cannot reach the server: " + e);
            }
        }

        AtomicInteger next = new AtomicInteger();
        double[] latencies = new double[o.maxRequests()];
        AtomicInteger done = new AtomicInteger();
        Map<Integer, AtomicInteger> statuses = new ConcurrentHashMap<>();
        Map<String, DoubleAdder> serverMs = new ConcurrentHashMap<>();
        AtomicInteger transportErrors = new AtomicInteger();
        long t0 = System.nanoTime();
        long deadline = t0 + (long) (o.maxSeconds() * 1e9);
        List<Thread> threads = new ArrayList<>();
        for (int c = 0; c < o.clients(); c++) {
            Thread t = new Thread(
                    () -> {
                        while (System.nanoTime() < deadline) {
                            int i = next.getAndIncrement();
                            if (i >= o.maxRequests()) return;
                            long s = System.nanoTime();
                            int status;
                            JsonNode body = null;
                            try {
                                HttpResponse<String> r = send(http, answer, questions.get(i % questions.size()), o.k());
                                status = r.statusCode();
                                if (status == 200) body = Json.MAPPER.readTree(r.body());
                            } catch (Exception e) {
                                status = -1;
                                transportErrors.incrementAndGet();
                            }
                            latencies[i] = (System.nanoTime() - s) / 1e6;
                            statuses.computeIfAbsent(status, x -> new AtomicInteger())
                                    .incrementAndGet();
                            if (body != null)
                                body.path("timings")
                                        .fields()
                                        .forEachRemaining(
                                                e -> serverMs.computeIfAbsent(e.getKey(), x -> new DoubleAdder())
                                                        .add(e.getValue().asDouble()));
                            done.incrementAndGet();
                        }
                    },
                    "load-client-" + c);
            threads.add(t);
            t.start();
        }
        long lastReport = System.nanoTime();
        for (Thread t : threads) {
            while (t.isAlive()) {
                t.join(500);
                if (progress != null && System.nanoTime() - lastReport > 2e9) {
                    lastReport = System.nanoTime();
                    double el = (lastReport - t0) / 1e9;
                    progress.printf(
                            "bench serve: %d/%d requests  %.1f req/s  %.0fs elapsed (limit %.0fs)%n",
                            done.get(), o.maxRequests(), done.get() / el, el, o.maxSeconds());
                }
            }
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        int n = done.get();
        int ok = statuses.getOrDefault(200, new AtomicInteger()).get();
        // latencies of finished requests only (the slots of requests never sent stay 0 and are skipped)
        double[] lat = new double[n];
        int j = 0;
        for (int i = 0; i < Math.min(next.get(), latencies.length) && j < n; i++)
            if (latencies[i] > 0) lat[j++] = latencies[i];
        lat = Arrays.copyOf(lat, j);
        Arrays.sort(lat);
        ObjectNode out = Json.MAPPER.createObjectNode();
        out.put("url", base.toString());
        out.put("clients", o.clients());
        out.put("requests", n);
        out.put("ok", ok);
        ObjectNode st = out.putObject("status_counts");
        new TreeMap<>(statuses).forEach((k, v) -> st.put(k == -1 ? "transport_error" : String.valueOf(k), v.get()));
        out.put("seconds", seconds);
        out.put("requests_per_s", n / seconds);
        out.put("answers_per_s", ok / seconds);
        ObjectNode l = out.putObject("latency_ms");
        l.put("p50", percentile(lat, 50));
        l.put("p95", percentile(lat, 95));
        l.put("p99", percentile(lat, 99));
        l.put("mean", Arrays.stream(lat).average().orElse(Double.NaN));
        l.put("max", lat.length == 0 ? Double.NaN : lat[lat.length - 1]);
        ObjectNode sm = out.putObject("server_mean_ms");
        new TreeMap<>(serverMs)
                .forEach((k, v) -> sm.put(k.replaceAll("_ms$", ""), ok == 0 ? Double.NaN : v.sum() / ok));
        return out;
    }

    static HttpResponse<String> send(HttpClient http, URI answer, String question, Integer k)
            throws java.io.IOException, InterruptedException {
        ObjectNode req = Json.MAPPER.createObjectNode();
        req.put("question", question);
        if (k != null) req.put("k", k);
        HttpRequest r = HttpRequest.newBuilder(answer)
                .timeout(Duration.ofSeconds(120))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(Json.write(req)))
                .build();
        return http.send(r, HttpResponse.BodyHandlers.ofString());
    }

    /** Nearest-rank percentile of sorted values. */
    public static double percentile(double[] sorted, double p) {
        if (sorted.length == 0) return Double.NaN;
        int rank = (int) Math.ceil(p / 100.0 * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }
}
