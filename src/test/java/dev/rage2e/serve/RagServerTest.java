package dev.rage2e.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import dev.rage2e.cli.Main;
import dev.rage2e.index.KbRetriever;
import dev.rage2e.kb.KbVersions;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.kb.Passage;
import dev.rage2e.rag.RagDecoder;
import dev.rage2e.rag.Retriever;
import dev.rage2e.testutil.TinyRag;
import dev.rage2e.train.RagCheckpoint;
import dev.rage2e.util.Json;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The HTTP API over a real trained (tiny) RAG checkpoint and over retrieval only, on a loopback port. */
class RagServerTest {
    static TinyRag.Trained fx;
    static RagBackend rag;
    static RagServer ragServer;
    static Http ragHttp;
    static RetrievalBackend retrieval;
    static RagServer retrievalServer;
    static Http retrievalHttp;

    @BeforeAll
    static void start() throws Exception {
        fx = TinyRag.trained();
        rag = RagBackend.open(fx.run(), null, RagBackend.Options.defaults());
        ragServer = new RagServer(rag, 2, 8).start("127.0.0.1", 0);
        ragHttp = new Http(ragServer.port());
        retrieval = RetrievalBackend.open(fx.kb(), fx.encoder(), "auto", 4, 10);
        retrievalServer = new RagServer(retrieval, 2, 8).start("127.0.0.1", 0);
        retrievalHttp = new Http(retrievalServer.port());
    }

    @AfterAll
    static void stop() {
        if (ragServer != null) ragServer.close();
        if (rag != null) rag.close();
        if (retrievalServer != null) retrievalServer.close();
        if (retrieval != null) retrieval.close();
    }

    @Test
    void healthSaysWhatIsServed() throws Exception {
        Http.Response r = ragHttp.get("api/health");
        assertEquals(200, r.status());
        assertTrue(r.raw().headers().firstValue("content-type").orElse("").startsWith("application/json"));
        JsonNode h = r.json();
        assertEquals("rag", h.get("mode").asText());
        assertEquals(4, h.get("step").asInt(), "a run folder serves its latest checkpoint");
        assertEquals(fx.checkpoint(4).toString(), h.get("checkpoint").asText());
        assertEquals(KnowledgeBase.open(fx.kb()).size(), h.get("passages").asInt());
        assertEquals(
                KbVersions.requireCurrent(fx.kb()), h.get("embeddings_version").asText());
        assertEquals(TinyRag.SERVED_N_DOCS, h.get("default_k").asInt());
        assertEquals(1, h.get("models_open").asInt());
        JsonNode rh = retrievalHttp.get("api/health").json();
        assertEquals("retrieval", rh.get("mode").asText());
        assertFalse(rh.get("generator").asBoolean());
        assertEquals(4, rh.get("default_k").asInt());
        assertEquals(10, rh.get("max_k").asInt());
    }

    @Test
    void answerHasAnswerPassagesPosteriorsVersionAndTimings() throws Exception {
        String q = fx.questions().get(0);
        Http.Response r = ragHttp.ask(q, 2);
        assertEquals(200, r.status(), r.body());
        JsonNode a = r.json();
        assertEquals(q, a.get("question").asText());
        assertTrue(a.get("answer").isTextual());
        assertEquals(2, a.get("passages").size());
        double sum = 0, prev = Double.POSITIVE_INFINITY;
        for (JsonNode p : a.get("passages")) {
            for (String f : List.of("id", "title", "text", "score", "posterior"))
                assertTrue(p.has(f), "passage lacks " + f + ": " + p);
            Passage kbP = KnowledgeBase.open(fx.kb()).passage(p.get("id").asInt());
            assertEquals(kbP.text(), p.get("text").asText());
            assertEquals(kbP.title(), p.get("title").asText());
            assertTrue(p.get("score").asDouble() <= prev + 1e-6, "passages ordered by score");
            prev = p.get("score").asDouble();
            sum += p.get("posterior").asDouble();
        }
        assertEquals(1.0, sum, 1e-4, "p(z|x) over the retrieved passages sums to 1");
        assertEquals(
                KbVersions.requireCurrent(fx.kb()), a.get("embeddings_version").asText());
        assertEquals(4, a.get("step").asInt());
        for (String t : List.of("question_ms", "retrieval_ms", "generator_ms", "model_ms", "queue_ms", "total_ms")) {
            assertTrue(a.get("timings").get(t).asDouble() >= 0, "timing " + t);
        }
        // k omitted: the checkpoint's n-docs
        assertEquals(
                TinyRag.SERVED_N_DOCS,
                ragHttp.ask(q, null).json().get("passages").size());
    }

    /** The server's answer equals decoding the same checkpoint directly, without any serving code. */
    @Test
    void answerEqualsDirectDecoding() throws Exception {
        List<String> qs = fx.questions().subList(0, 3);
        try (NDManager m = NDManager.newBaseManager();
                KbRetriever kr = KbRetriever.open(KnowledgeBase.open(fx.kb()), "auto")) {
            RagCheckpoint.Loaded l = RagCheckpoint.load(fx.run(), m);
            RagDecoder dec = new RagDecoder(
                    l.model(),
                    new RagDecoder.Options(2, 8),
                    RagDecoder.defaultMode(l.model().settings.kind()));
            List<RagDecoder.Answer> direct;
            try (Retriever.Snapshot s = kr.acquire()) {
                direct = dec.answer(m, qs, s);
            }
            l.model().close();
            for (int i = 0; i < qs.size(); i++) {
                JsonNode a = ragHttp.ask(qs.get(i), TinyRag.SERVED_N_DOCS).json();
                assertEquals(direct.get(i).answer(), a.get("answer").asText(), "answer to " + qs.get(i));
                for (int j = 0; j < TinyRag.SERVED_N_DOCS; j++) {
                    JsonNode p = a.get("passages").get(j);
                    assertEquals(
                            direct.get(i).passages().get(j).id(), p.get("id").asInt());
                    assertEquals(
                            direct.get(i).docPosterior()[j], p.get("posterior").asDouble(), 1e-5);
                }
            }
        }
    }

    /** RAG-sequence decoding (thorough and fast) through the backend equals the decoder run directly. */
    @Test
    void sequenceDecodingModesMatchDirectDecoding() throws Exception {
        String q = fx.questions().get(5);
        for (RagDecoder.Mode mode : List.of(RagDecoder.Mode.THOROUGH, RagDecoder.Mode.FAST)) {
            try (NDManager m = NDManager.newBaseManager();
                    KbRetriever kr = KbRetriever.open(KnowledgeBase.open(fx.kb()), "auto");
                    RagBackend b = RagBackend.open(fx.run(), null, new RagBackend.Options(2, 8, mode, "auto", 20))) {
                RagCheckpoint.Loaded l = RagCheckpoint.load(fx.run(), m);
                RagDecoder.Answer direct;
                try (Retriever.Snapshot s = kr.acquire()) {
                    direct = new RagDecoder(l.model(), new RagDecoder.Options(2, 8), mode)
                            .answer(m, List.of(q), s)
                            .get(0);
                }
                l.model().close();
                JsonNode a = b.answer(q, TinyRag.SERVED_N_DOCS);
                assertEquals(mode.name().toLowerCase(), a.get("decoding").asText());
                assertEquals(direct.answer(), a.get("answer").asText(), mode + " answer");
                assertEquals(
                        direct.passages().get(0).id(),
                        a.get("passages").get(0).get("id").asInt());
            }
        }
    }

    /** Retrieval only: a passage's own text (as the KB encoded it) finds that passage first, with cosine 1. */
    @Test
    void retrievalOnlyFindsAPassageByItsText() throws Exception {
        Passage p = KnowledgeBase.open(fx.kb()).passage(7);
        Http.Response r = retrievalHttp.ask(p.encoderInput(), 3);
        assertEquals(200, r.status(), r.body());
        JsonNode a = r.json();
        assertFalse(a.has("answer"));
        assertEquals(3, a.get("passages").size());
        assertEquals(7, a.get("passages").get(0).get("id").asInt());
        assertEquals(1.0, a.get("passages").get(0).get("score").asDouble(), 1e-4);
        assertFalse(a.get("passages").get(0).has("posterior"));
        assertEquals(
                KbVersions.requireCurrent(fx.kb()), a.get("embeddings_version").asText());
        assertEquals(
                4,
                retrievalHttp.ask("warsaw river", null).json().get("passages").size(),
                "default k");
    }

    @Test
    void badRequestsGet400WithAMessage() throws Exception {
        String longQ = "a".repeat(RagServer.MAX_QUESTION_CHARS + 1);
        for (String body : List.of(
                "{",
                "not json",
                "[]",
                "\"q\"",
                "{}",
                "{\"question\": \"\"}",
                "{\"question\": \"   \"}",
                "{\"question\": 5}",
                "{\"question\": null}",
                "{\"question\": \"x\", \"k\": 0}",
                "{\"question\": \"x\", \"k\": -1}",
                "{\"question\": \"x\", \"k\": \"3\"}",
                "{\"question\": \"x\", \"k\": 2.5}",
                "{\"question\": \"x\", \"k\": 21}",
                "{\"question\": \"x\", \"k\": 1099511627776}",
                "{\"question\": \"" + longQ + "\"}")) {
            Http.Response r = ragHttp.post("api/answer", body);
            assertEquals(400, r.status(), "body " + body.substring(0, Math.min(40, body.length())) + ": " + r.body());
            assertTrue(r.json().get("error").asText().length() > 5);
        }
        assertEquals(
                400,
                retrievalHttp
                        .post("api/answer", "{\"question\": \"x\", \"k\": 11}")
                        .status(),
                "k above max_k");
        assertEquals(0, ragHttp.get("api/health").json().get("failed").asInt(), "no 500s");
    }

    @Test
    void oversizedBodiesGet413() throws Exception {
        String big = "{\"question\": \"" + "a".repeat(20_000) + "\"}";
        Http.Response r = ragHttp.post("api/answer", big);
        assertEquals(413, r.status(), r.body());
        assertTrue(r.json().get("error").asText().contains("larger than"));
        Http.Response chunked = ragHttp.postChunked("api/answer", big.getBytes(StandardCharsets.UTF_8));
        assertEquals(413, chunked.status(), "chunked upload without Content-Length: " + chunked.body());
        // the server still works afterwards
        assertEquals(200, ragHttp.ask("where is the river", 1).status());
    }

    @Test
    void pageAndUnknownPaths() throws Exception {
        Http.Response page = ragHttp.get("");
        assertEquals(200, page.status());
        assertTrue(page.body().contains("<form id=\"ask\""));
        assertTrue(page.raw().headers().firstValue("content-type").orElse("").startsWith("text/html"));
        Http.Response nf = ragHttp.get("api/nope");
        assertEquals(404, nf.status());
        assertTrue(nf.json().get("error").asText().contains("/api/nope"));
    }

    @Test
    void reloadWithNothingNewKeepsTheModel() throws Exception {
        Http.Response r = ragHttp.post("api/reload", "");
        assertEquals(200, r.status(), r.body());
        assertFalse(r.json().get("checkpoint_changed").asBoolean());
        assertFalse(r.json().get("embeddings_changed").asBoolean());
        assertEquals(1, r.json().get("models_open").asInt());
    }

    /**
     * Beyond loopback, reload needs the admin token (401 without it, or always when none is set); asking stays open.
     */
    @Test
    void adminEndpointsNeedATokenBeyondLoopback() throws Exception {
        try (RagServer open = new RagServer(retrieval, 1, 2).start("0.0.0.0", 0)) {
            Http h = new Http(open.port());
            Http.Response r = h.post("api/reload", "");
            assertEquals(401, r.status(), r.body());
            assertTrue(r.json().get("error").asText().contains("--admin-token"), r.body());
            assertEquals(
                    401,
                    h.post("api/reload", "", "Authorization", "Bearer guess").status());
            assertEquals(200, h.ask("what is built", 2).status(), "asking needs no token");
        }
        try (RagServer guarded =
                new RagServer(retrieval, 1, 2).adminToken("s3cret").start("0.0.0.0", 0)) {
            Http h = new Http(guarded.port());
            assertEquals(401, h.post("api/reload", "").status());
            assertEquals(
                    401,
                    h.post("api/reload", "", "Authorization", "Bearer s3cre").status());
            assertEquals(
                    401, h.post("api/reload", "", "Authorization", "s3cret").status());
            Http.Response ok = h.post("api/reload", "", "Authorization", "Bearer s3cret");
            assertEquals(200, ok.status(), ok.body());
        }
        // a token set on loopback is required there too; without one loopback
        // stays open (reloadWithNothingNewKeepsTheModel)
        try (RagServer local = new RagServer(retrieval, 1, 2).adminToken("t").start("127.0.0.1", 0)) {
            assertEquals(401, new Http(local.port()).post("api/reload", "").status());
        }
        assertFalse(RagServer.beyondLoopback("localhost"));
        assertTrue(RagServer.beyondLoopback("0.0.0.0"));
    }

    /** {@code rag answer} prints what the server answers (same backend code), one JSON line per question. */
    @Test
    void answerCommandPrintsTheServersAnswer() throws Exception {
        List<String> qs = fx.questions().subList(3, 5);
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int rc;
        try {
            System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
            rc = Main.run("answer", "--checkpoint", fx.run().toString(), qs.get(0), qs.get(1));
        } finally {
            System.setOut(old);
        }
        assertEquals(0, rc);
        String[] lines = buf.toString(StandardCharsets.UTF_8).strip().split("\n");
        assertEquals(2, lines.length);
        for (int i = 0; i < 2; i++) {
            JsonNode cli = Json.MAPPER.readTree(lines[i]);
            JsonNode http = ragHttp.ask(qs.get(i), null).json();
            assertEquals(http.get("answer"), cli.get("answer"));
            assertEquals(http.get("passages"), cli.get("passages"));
        }
    }
}
