package dev.rage2e.weights;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.util.AtomicFiles;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The safetensors format: 8-byte little-endian header length, a JSON header mapping each tensor name
 * to {dtype, shape, data_offsets} relative to the data section, then the raw little-endian data.
 * The reader validates everything a lying header could get wrong before touching data.
 */
public final class Safetensors {
    /** Header larger than this is rejected as hostile (HF uses 100 MB). */
    private static final long MAX_HEADER = 100L << 20;

    private Safetensors() {}

    public static Map<String, HostTensor> read(Path file) {
        return readWithMetadata(file).tensors();
    }

    public record Contents(Map<String, HostTensor> tensors, Map<String, String> metadata) {}

    public static Contents readWithMetadata(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw bad(file, "file is " + size + " bytes, shorter than the 8-byte header length");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long headerLen = lenBuf.flip().getLong();
            if (headerLen <= 0 || headerLen > MAX_HEADER || 8 + headerLen > size) {
                throw bad(file, "header length " + headerLen + " does not fit a file of " + size + " bytes");
            }
            ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
            readFully(ch, hb, 8);
            JsonNode header;
            try {
                header = Json.MAPPER.readTree(new String(hb.array(), StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw bad(file, "header is not valid JSON: " + e.getMessage().split("\n")[0]);
            }
            if (header == null || !header.isObject()) {
                throw bad(file, "header is not a JSON object");
            }
            long dataStart = 8 + headerLen;
            long dataLen = size - dataStart;
            ByteBuffer data =
                    ch.map(FileChannel.MapMode.READ_ONLY, dataStart, dataLen).order(ByteOrder.LITTLE_ENDIAN);
            Map<String, HostTensor> tensors = new LinkedHashMap<>();
            Map<String, String> metadata = new LinkedHashMap<>();
            List<long[]> ranges = new ArrayList<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String name = e.getKey();
                JsonNode v = e.getValue();
                if (name.equals("__metadata__")) {
                    if (v.isObject())
                        v.fields()
                                .forEachRemaining(m ->
                                        metadata.put(m.getKey(), m.getValue().asText()));
                    continue;
                }
                String where = "tensor '" + name + "'";
                if (!v.isObject() || !v.has("dtype") || !v.has("shape") || !v.has("data_offsets")) {
                    throw bad(file, where + " lacks dtype, shape or data_offsets");
                }
                DType dtype = DType.parse(v.get("dtype").asText());
                if (dtype == null) {
                    throw bad(
                            file,
                            where + " has unknown dtype '" + v.get("dtype").asText() + "'");
                }
                JsonNode sh = v.get("shape");
                JsonNode off = v.get("data_offsets");
                if (!sh.isArray() || !off.isArray() || off.size() != 2) {
                    throw bad(file, where + " has a malformed shape or data_offsets");
                }
                long[] shape = new long[sh.size()];
                long numel = 1;
                for (int i = 0; i < shape.length; i++) {
                    if (!sh.get(i).canConvertToLong() || sh.get(i).asLong() < 0) {
                        throw bad(file, where + " has an invalid dimension " + sh.get(i));
                    }
                    shape[i] = sh.get(i).asLong();
                    numel = Math.multiplyExact(numel, shape[i]);
                }
                long begin = off.get(0).asLong(-1);
                long end = off.get(1).asLong(-1);
                if (begin < 0 || end < begin || end > dataLen) {
                    throw bad(
                            file,
                            where + " has data_offsets [" + begin + ", " + end + "] outside the " + dataLen
                                    + "-byte data section");
                }
                if (end - begin != numel * dtype.bytes) {
                    throw bad(
                            file,
                            where + " spans " + (end - begin) + " bytes but " + dtype + Arrays.toString(shape)
                                    + " needs " + numel * dtype.bytes);
                }
                ranges.add(new long[] {begin, end});
                ByteBuffer slice = data.slice((int) begin, (int) (end - begin)).order(ByteOrder.LITTLE_ENDIAN);
                tensors.put(name, new HostTensor(dtype, shape, slice));
            }
            ranges.sort((a, b) -> Long.compare(a[0], b[0]));
            for (int i = 1; i < ranges.size(); i++) {
                if (ranges.get(i)[0] < ranges.get(i - 1)[1]) {
                    throw bad(file, "tensors overlap at bytes " + ranges.get(i)[0] + ".." + ranges.get(i - 1)[1]);
                }
            }
            return new Contents(tensors, metadata);
        } catch (NoSuchFileException e) {
            throw new UserException(file + ": file not found");
        } catch (ArithmeticException e) {
            throw bad(file, "tensor size overflows");
        } catch (IOException e) {
            throw new UserException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** Writes tensors sorted by name (as HF does), 8-byte aligned header, atomically. */
    public static void write(Path file, Map<String, HostTensor> tensors, Map<String, String> metadata)
            throws IOException {
        TreeMap<String, HostTensor> sorted = new TreeMap<>(tensors);
        ObjectNode header = Json.MAPPER.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode m = header.putObject("__metadata__");
            metadata.forEach(m::put);
        }
        long offset = 0;
        for (Map.Entry<String, HostTensor> e : sorted.entrySet()) {
            HostTensor t = e.getValue();
            ObjectNode n = header.putObject(e.getKey());
            n.put("dtype", t.dtype().name());
            var shape = n.putArray("shape");
            for (long d : t.shape()) shape.add(d);
            long len = t.data().remaining();
            n.putArray("data_offsets").add(offset).add(offset + len);
            offset += len;
        }
        byte[] hdr = Json.write(header).getBytes(StandardCharsets.UTF_8);
        int padded = (hdr.length + 7) / 8 * 8;
        byte[] hdrPadded = Arrays.copyOf(hdr, padded);
        Arrays.fill(hdrPadded, hdr.length, padded, (byte) ' ');
        AtomicFiles.write(file, out -> {
            ByteBuffer len =
                    ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded);
            out.write(len.array());
            out.write(hdrPadded);
            byte[] chunk = new byte[1 << 20];
            for (HostTensor t : sorted.values()) {
                ByteBuffer d = t.data().duplicate();
                while (d.hasRemaining()) {
                    int n = Math.min(chunk.length, d.remaining());
                    d.get(chunk, 0, n);
                    out.write(chunk, 0, n);
                }
            }
        });
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos + buf.position());
            if (n < 0) throw new IOException("unexpected end of file");
        }
    }

    private static UserException bad(Path file, String problem) {
        return new UserException(file + ": corrupt safetensors: " + problem);
    }

    /** Convenience for tests and tools: does the file exist and parse. */
    public static boolean isReadable(Path file) {
        return Files.isRegularFile(file);
    }
}
