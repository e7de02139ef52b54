package dev.rage2e.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.rage2e.testutil.TinyRag;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The page in a real browser: headless Chromium opens {@code /?q=QUESTION&k=3}, the page's script asks
 * the API, and the rendered DOM must show the server's answer and its passages. Skipped (with a message)
 * only where no Chromium is installed; {@code .ci/run} installs Debian's {@code chromium}.
 * {@code -Drag.serve.screenshot=FILE.png} also saves a screenshot of the page.
 */
class ServePageBrowserTest {
    @TempDir
    Path tmp;

    static Path chromium() {
        String env = System.getenv("CHROMIUM");
        List<String> candidates = new ArrayList<>();
        if (env != null) candidates.add(env);
        candidates.addAll(List.of(
                "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome", "/snap/bin/chromium"));
        for (String c : candidates) if (Files.isExecutable(Path.of(c))) return Path.of(c);
        Assumptions.abort("no Chromium found (looked at $CHROMIUM and " + candidates + "); install Debian's "
                + "chromium to run the browser test");
        return null;
    }

    static String run(Path chromium, Path profile, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(
                chromium.toString(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--user-data-dir=" + profile));
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile(profile.getParent(), "chromium", ".out");
        Process p = new ProcessBuilder(cmd)
                .redirectOutput(out.toFile())
                .redirectError(ProcessBuilder.Redirect.DISCARD)
                .start();
        if (!p.waitFor(90, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("chromium did not finish in 90 s: " + cmd);
        }
        return Files.readString(out);
    }

    @Test
    void pageShowsAnswerAndPassages() throws Exception {
        Path chromium = chromium();
        TinyRag.Trained fx = TinyRag.trained();
        String question = fx.questions().get(1);
        try (RagBackend rag = RagBackend.open(fx.run(), null, RagBackend.Options.defaults());
                RagServer server = new RagServer(rag, 2, 8).start("127.0.0.1", 0)) {
            JsonNode api = new Http(server.port()).ask(question, 3).json();
            String url = "http://127.0.0.1:" + server.port() + "/?q="
                    + URLEncoder.encode(question, StandardCharsets.UTF_8) + "&k=3";
            long t0 = System.nanoTime();
            String dom = run(chromium, tmp.resolve("profile"), "--virtual-time-budget=20000", "--dump-dom", url);
            System.err.printf("chromium --dump-dom: %.1f s, %d chars%n", (System.nanoTime() - t0) / 1e9, dom.length());
            assertTrue(dom.contains("data-status=\"done\""), "the page did not finish asking:\n" + dom);
            Matcher answer = Pattern.compile("<div id=\"answer\">(.*?)</div>", Pattern.DOTALL)
                    .matcher(dom);
            assertTrue(answer.find(), dom);
            String shown = unescape(answer.group(1));
            String expected = api.get("answer").asText().isEmpty()
                    ? "(empty answer)"
                    : api.get("answer").asText();
            assertEquals(expected, shown, "answer on the page");
            List<Integer> ids = new ArrayList<>();
            Matcher m = Pattern.compile("class=\"passage\" data-id=\"(\\d+)\"").matcher(dom);
            while (m.find()) ids.add(Integer.parseInt(m.group(1)));
            List<Integer> apiIds = new ArrayList<>();
            for (JsonNode p : api.get("passages")) apiIds.add(p.get("id").asInt());
            assertEquals(apiIds, ids, "passages on the page");
            assertTrue(dom.contains("p(z|x)"), "posterior weights shown");
            assertTrue(dom.contains(
                    unescapeSafe(api.get("passages").get(0).get("text").asText())
                            .substring(0, 20)));
            assertTrue(dom.contains("step 4"), "health line shows the served checkpoint");

            String shot = System.getProperty("rag.serve.screenshot");
            if (shot != null) {
                run(
                        chromium,
                        tmp.resolve("profile2"),
                        "--virtual-time-budget=20000",
                        "--window-size=1000,1100",
                        "--hide-scrollbars",
                        "--screenshot=" + Path.of(shot).toAbsolutePath(),
                        url);
                assertTrue(Files.size(Path.of(shot)) > 10_000, "screenshot written");
            }
        }
    }

    private static String unescape(String html) {
        return html.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&nbsp;", "\u00a0")
                .replace("&amp;", "&");
    }

    /** The first characters of a text as they appear in serialised HTML (only &, < and > are escaped in text nodes). */
    private static String unescapeSafe(String text) {
        return text.replace("&", "&amp;")
                .replace("<", "&lt;")
                .replace(">", "&gt;")
                .replace("\u00a0", "&nbsp;");
    }
}
