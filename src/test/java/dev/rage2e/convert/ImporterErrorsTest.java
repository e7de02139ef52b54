package dev.rage2e.convert;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rage2e.model.BertConfig;
import dev.rage2e.testutil.MavenJars;
import dev.rage2e.util.UserException;
import dev.rage2e.weights.HostTensor;
import dev.rage2e.weights.TfBundle;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Damaged or foreign inputs to the importers fail with one clear message, never a stack trace or a half model. */
class ImporterErrorsTest {
    static byte[] onnx;
    static String tokenizer;

    @BeforeAll
    static void load() throws Exception {
        ModelCatalog.Entry e = ModelCatalog.get("all-minilm-l6-v2");
        try (ZipFile z = new ZipFile(MavenJars.locate("all-minilm-l6-v2.onnx", e.groupId(), e.artifactId(), e.version())
                .toFile())) {
            onnx = z.getInputStream(z.getEntry("all-minilm-l6-v2.onnx")).readAllBytes();
            tokenizer = new String(
                    z.getInputStream(z.getEntry("all-minilm-l6-v2-tokenizer.json"))
                            .readAllBytes(),
                    StandardCharsets.UTF_8);
        }
    }

    static String message(Runnable r) {
        return assertThrows(UserException.class, r::run).getMessage();
    }

    @Test
    void truncatedOnnxIsReportedAsSuch() {
        for (int cut : new int[] {onnx.length / 2, onnx.length - 1000, 100}) {
            String m = message(() -> OnnxImporter.convert(Arrays.copyOf(onnx, cut), "m.onnx", tokenizer, 0));
            assertTrue(m.startsWith("m.onnx: ") && (m.contains("truncated") || m.contains("not an ONNX model")), m);
        }
    }

    @Test
    void foreignFilesAreRejected() {
        String m = message(() -> OnnxImporter.convert(
                "hello, this is not protobuf".getBytes(StandardCharsets.UTF_8), "t.onnx", tokenizer, 0));
        assertTrue(m.startsWith("t.onnx: "), m);
        m = message(() -> OnnxImporter.convert(onnx, "m.onnx", "{\"no\": \"model\"}", 0));
        assertTrue(m.contains("not a Hugging Face tokenizer.json"), m);
        m = message(() -> TfBundle.readIndex(java.nio.ByteBuffer.wrap(new byte[100]), "v.index"));
        assertTrue(m.contains("v.index") && m.contains("magic"), m);
    }

    @Test
    void missingOrMisShapedTensorsAreNamed() {
        ConvertedBert ok = OnnxImporter.convert(onnx, "m.onnx", tokenizer, 0);
        BertConfig c = ok.config();
        Map<String, HostTensor> t = new LinkedHashMap<>(ok.tensors());
        t.remove("encoder.layer.3.output.dense.bias");
        String m = message(() -> BertLayout.check(t, c, true, "m.onnx"));
        assertTrue(m.contains("missing tensor 'encoder.layer.3.output.dense.bias'") && m.contains("[384]"), m);
        t.put("encoder.layer.3.output.dense.bias", HostTensor.ofFloats(new float[383], 383));
        m = message(() -> BertLayout.check(t, c, true, "m.onnx"));
        assertTrue(m.contains("'encoder.layer.3.output.dense.bias' has shape [383]"), m);
    }

    @Test
    void unknownModelNamesListTheKnownOnes() {
        String m = message(() -> ModelCatalog.get("bert-large"));
        assertTrue(
                m.contains("unknown model 'bert-large'")
                        && m.contains("e5-small-v2")
                        && m.contains("bert-base-uncased"),
                m);
    }
}
