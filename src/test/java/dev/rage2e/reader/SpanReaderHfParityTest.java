package dev.rage2e.reader;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.ndarray.NDManager;
import dev.rage2e.model.Bert2BertWarmStart;
import dev.rage2e.model.BertConfig;
import dev.rage2e.model.BertForQuestionAnswering;
import dev.rage2e.testutil.BertTokenizerJson;
import dev.rage2e.testutil.Fixtures;
import dev.rage2e.util.Json;
import dev.rage2e.weights.Safetensors;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A span reader saved by us loads in Hugging Face transformers' own {@code BertForQuestionAnswering} (strict state
 * dict: every name and shape is HF's) and gives the same start/end logits as our forward pass on real reader inputs.
 * Needs python3 with torch and ../shared/anchors (the transformers 4.40.2 source); skipped without them.
 */
class SpanReaderHfParityTest {
    @TempDir
    Path tmp;

    @Test
    void huggingFaceLoadsItAndAgreesOnLogits() throws Exception {
        Path anchors = Fixtures.shared() == null ? null : Fixtures.shared().resolve("anchors");
        assumeTrue(
                anchors != null && Files.exists(anchors.resolve("rag_step_anchor.py")),
                "../shared/anchors not present");
        String python = null;
        // Debian's python3-torch lives in the system python
        for (String candidate : new String[] {"/usr/bin/python3", "python3"}) {
            if (python == null && python(candidate, "import torch") == 0) python = candidate;
        }
        assumeTrue(python != null, "no python3 with torch (apt-get install python3-torch)");

        Path enc = tmp.resolve("bert");
        Files.createDirectories(enc);
        BertTokenizerJson.copyTo(enc);
        Json.writeFile(
                enc.resolve("config.json"),
                Map.of(
                        "model_type",
                        "bert",
                        "vocab_size",
                        30522,
                        "hidden_size",
                        64,
                        "num_hidden_layers",
                        2,
                        "num_attention_heads",
                        4,
                        "intermediate_size",
                        128,
                        "max_position_embeddings",
                        128));
        Safetensors.write(
                enc.resolve("model.safetensors"),
                Bert2BertWarmStart.randomBert(BertConfig.load(enc.resolve("config.json")), 0.05f, 3),
                Map.of("format", "pt"));
        Path reader = tmp.resolve("reader");
        BertForQuestionAnswering.initFrom(enc, reader, 9, BertForQuestionAnswering.Settings.DEFAULT);

        try (NDManager m = NDManager.newBaseManager();
                SpanReader r = new SpanReader(BertForQuestionAnswering.load(reader, m))) {
            SpanReader.Batch b = r.inputs(
                    m,
                    List.of("Who built it?", "When did it open?"),
                    List.of("Eiffel Tower", "Eiffel Tower"),
                    List.of(
                            "Gustave Eiffel's company built the tower.",
                            "It opened in 1889 for the World's Fair, to some criticism."),
                    128);
            BertForQuestionAnswering.Logits ours = r.model.forward(b.ids(), b.mask(), b.typeIds(), false);
            long[] shape = b.ids().getShape().getShape();
            Path in = tmp.resolve("inputs.json");
            Json.writeFile(
                    in,
                    Map.of(
                            "ids",
                            rows(b.ids().toLongArray(), shape),
                            "mask",
                            rows(b.mask().toLongArray(), shape),
                            "types",
                            rows(b.typeIds().toLongArray(), shape)));
            Path script = Path.of("src/test/resources/reader/hf_qa_logits.py").toAbsolutePath();
            ProcessBuilder pb =
                    new ProcessBuilder(python, script.toString(), anchors.toString(), reader.toString(), in.toString());
            pb.redirectError(ProcessBuilder.Redirect.INHERIT);
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes());
            if (!p.waitFor(300, TimeUnit.SECONDS) || p.exitValue() != 0)
                throw new AssertionError("transformers failed: " + out);
            var hf = Json.MAPPER.readTree(out);
            Fixtures.assertClose(
                    Fixtures.floats(hf.get("start")), ours.start().toFloatArray(), 1e-4, 1e-4, "start logits");
            Fixtures.assertClose(Fixtures.floats(hf.get("end")), ours.end().toFloatArray(), 1e-4, 1e-4, "end logits");
        }
    }

    private static long[][] rows(long[] flat, long[] shape) {
        long[][] out = new long[(int) shape[0]][(int) shape[1]];
        for (int i = 0; i < out.length; i++) System.arraycopy(flat, i * out[i].length, out[i], 0, out[i].length);
        return out;
    }

    private static int python(String interpreter, String code) {
        try {
            Process p = new ProcessBuilder(interpreter, "-c", code)
                    .redirectErrorStream(true)
                    .start();
            p.getInputStream().readAllBytes();
            return p.waitFor(60, TimeUnit.SECONDS) ? p.exitValue() : -1;
        } catch (Exception e) {
            return -1;
        }
    }
}
