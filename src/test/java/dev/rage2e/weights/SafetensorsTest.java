package dev.rage2e.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rage2e.util.UserException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {
    @TempDir
    Path tmp;

    @Test
    void roundTripsEveryDtype() throws Exception {
        float[] f = {0f, 1f, -2.5f, 3.14159f, 1e-3f, -65504f};
        Map<String, HostTensor> t = new LinkedHashMap<>();
        t.put("b.f32", HostTensor.ofFloats(f, 2, 3));
        t.put("a.i64", HostTensor.ofLongs(new long[] {1, -2, Long.MAX_VALUE}, 3));
        t.put("c.f16", HostTensor.ofFloats(f, 6).toF16());
        t.put("d.bf16", HostTensor.ofFloats(f, 3, 2).toBf16());
        Path file = tmp.resolve("m.safetensors");
        Safetensors.write(file, t, Map.of("format", "pt"));
        Safetensors.Contents back = Safetensors.readWithMetadata(file);
        assertEquals("pt", back.metadata().get("format"));
        assertArrayEquals(f, back.tensors().get("b.f32").toFloats());
        assertArrayEquals(new long[] {2, 3}, back.tensors().get("b.f32").shape());
        assertArrayEquals(
                new long[] {1, -2, Long.MAX_VALUE}, back.tensors().get("a.i64").toLongs());
        float[] half = back.tensors().get("c.f16").toFloats();
        float[] bf = back.tensors().get("d.bf16").toFloats();
        for (int i = 0; i < f.length; i++) {
            assertEquals(f[i], half[i], Math.abs(f[i]) * 1e-3 + 1e-7, "f16 " + i);
            assertEquals(f[i], bf[i], Math.abs(f[i]) * 8e-3 + 1e-7, "bf16 " + i);
        }
        assertEquals(DType.BF16, back.tensors().get("d.bf16").dtype());
        // header is 8-byte aligned, as the format recommends
        long hlen = ByteBuffer.wrap(Files.readAllBytes(file), 0, 8)
                .order(ByteOrder.LITTLE_ENDIAN)
                .getLong();
        assertEquals(0, hlen % 8);
    }

    @Test
    void readsHuggingFaceWrittenFile() {
        Path f = dev.rage2e.testutil.Fixtures.hf("bert").resolve("model.safetensors");
        Map<String, HostTensor> t = Safetensors.read(f);
        assertEquals(39, t.size());
        assertArrayEquals(
                new long[] {1000, 64},
                t.get("embeddings.word_embeddings.weight").shape());
    }

    @Test
    void rejectsLyingHeaders() throws Exception {
        assertBad(header("{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8), "outside");
        assertBad(
                header(
                        "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                                + "\"y\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                        12),
                "overlap");
        assertBad(header("{\"x\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "unknown dtype");
        assertBad(header("{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8), "needs 12");
        assertBad(header("{not json", 0), "not valid JSON");
        Path tiny = tmp.resolve("tiny.safetensors");
        Files.write(tiny, new byte[] {1, 2, 3});
        UserException e = assertThrows(UserException.class, () -> Safetensors.read(tiny));
        assertTrue(e.getMessage().contains("tiny.safetensors"), e.getMessage());
        Path huge = tmp.resolve("huge.safetensors");
        Files.write(
                huge,
                ByteBuffer.allocate(16)
                        .order(ByteOrder.LITTLE_ENDIAN)
                        .putLong(1L << 40)
                        .array());
        assertThrows(UserException.class, () -> Safetensors.read(huge));
    }

    private Path header(String json, int dataBytes) throws Exception {
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Path p = Files.createTempFile(tmp, "bad", ".safetensors");
        Files.write(p, b.array());
        return p;
    }

    private static void assertBad(Path p, String fragment) {
        UserException e = assertThrows(UserException.class, () -> Safetensors.read(p));
        assertTrue(
                e.getMessage().contains(fragment)
                        && e.getMessage().contains(p.getFileName().toString()),
                e.getMessage());
    }
}
